#!/usr/bin/env python3
"""Generate the evidence of the agent's seeded-bug benchmark by running each bug.

For every bug in Benchmarks/AgentBugs/bugs.json: apply it to a git worktree of HEAD,
build crocbot (debug), run its scenario (a paper replay of the shipped EURUSD data),
and keep what the run produced: the JSON log lines (crocbot.jsonl) and the final
Prometheus snapshot (metrics.prom; for `paper3`, also metrics-1.prom and metrics-2.prom
from runs over the first third and two thirds of the data, so a failure counter is seen
rising). A clean run (no bug) goes to evidence/clean, for the latency baselines.

Nothing here is written by hand: rerun it after changing a bug or the code it touches.

    python3 scripts/agent_bugs_evidence.py                 # all bugs
    python3 scripts/agent_bugs_evidence.py --only engine-process-alloc,risk-notional-sign
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "Benchmarks", "AgentBugs")
PAPER = ["live", "--paper", "--port", "0", "--exit-at-end", "--speed", "1000000000", "--log-format", "json"]
# The shipped replay's thirds (Examples/data/EURUSD_1H_ASK.csv, 2017).
CUTS = ["2017-05-01", "2017-09-01", None]


def sh(cmd, cwd, check=True, **kw):
    r = subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str), text=True, capture_output=True, **kw)
    if check and r.returncode != 0:
        sys.exit(f"failed: {cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def worktree(work):
    head = sh(["git", "rev-parse", "HEAD"], ROOT).stdout.strip()
    if os.path.isdir(os.path.join(work, ".git")) or os.path.isfile(os.path.join(work, ".git")):
        sh(["git", "checkout", "-q", "--detach", "-f", head], work)
        sh(["git", "clean", "-qfd", "-e", ".build", "-e", "Package.resolved"], work)
    else:
        shutil.rmtree(work, ignore_errors=True)
        sh(["git", "worktree", "prune"], ROOT)
        sh(["git", "worktree", "add", "-q", "--detach", work, head], ROOT)
    resolved = os.path.join(ROOT, "Package.resolved")
    if os.path.exists(resolved):
        shutil.copy(resolved, os.path.join(work, "Package.resolved"))
    return head


def run_scenario(work, bug, out):
    os.makedirs(out, exist_ok=True)
    binary = os.path.join(work, ".build", "debug", "crocbot")
    cuts = CUTS if bug.get("scenario") == "paper3" else [None]
    args = list(bug.get("args", []))
    config_text = ""
    if "--config" in args:
        i = args.index("--config")
        with open(os.path.join(work, args[i + 1])) as f:
            config_text = f.read()
        del args[i : i + 2]
    logs = ""
    for k, cut in enumerate(cuts):
        cfg = os.path.join(out, ".scenario.yaml")
        with open(cfg, "w") as f:
            f.write(config_text + ("\ndata:\n  end: \"%s\"\n" % cut if cut else "\n"))
        store = os.path.join(out, ".store.sqlite")
        metrics = os.path.join(out, "metrics.prom" if cut is None else f"metrics-{k + 1}.prom")
        started = time.time()
        r = subprocess.run(
            [binary] + PAPER + ["--config", cfg, "--store", store, "--metrics-out", metrics] + args,
            cwd=work, text=True, capture_output=True, timeout=900,
        )
        for p in [cfg] + [store + s for s in ["", "-wal", "-shm"]]:
            if os.path.exists(p):
                os.remove(p)
        if cut is None:
            logs = "".join(l + "\n" for l in (r.stdout + "\n" + r.stderr).splitlines() if l.startswith("{"))
            print(f"    run {time.time() - started:.1f} s, exit {r.returncode}, {logs.count(chr(10))} log lines")
    with open(os.path.join(out, "crocbot.jsonl"), "w") as f:
        f.write(logs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="comma-separated bug ids")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "crocbot-agent-bugs"))
    ap.add_argument("--no-clean", action="store_true", help="skip the clean baseline run")
    a = ap.parse_args()
    with open(os.path.join(BENCH, "bugs.json")) as f:
        bugs = json.load(f)["bugs"]
    if a.only:
        keep = a.only.split(",")
        bugs = [b for b in bugs if b["id"] in keep]
    head = worktree(a.work)
    print(f"worktree {a.work} at {head[:10]}")
    if not a.no_clean:
        sh(["swift", "build", "--product", "crocbot"], a.work)
        print("clean")
        run_scenario(a.work, {"id": "clean", "scenario": "paper"}, os.path.join(BENCH, "evidence", "clean"))
    for bug in bugs:
        path = os.path.join(a.work, bug["file"])
        with open(path) as f:
            text = f.read()
        if text.count(bug["find"]) != 1:
            sys.exit(f"{bug['id']}: the find text occurs {text.count(bug['find'])} times in {bug['file']}")
        with open(path, "w") as f:
            f.write(text.replace(bug["find"], bug["replace"]))
        started = time.time()
        b = sh(["swift", "build", "--product", "crocbot"], a.work, check=False)
        print(f"{bug['id']}: build {time.time() - started:.0f} s")
        try:
            if b.returncode != 0:
                sys.exit(f"{bug['id']}: the bug does not build:\n{b.stdout[-3000:]}")
            run_scenario(a.work, bug, os.path.join(BENCH, "evidence", bug["id"]))
        finally:
            with open(path, "w") as f:
                f.write(text)
    meta = {"commit": head, "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build": "debug"}
    with open(os.path.join(BENCH, "evidence", "generated.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
