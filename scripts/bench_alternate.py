#!/usr/bin/env python3
"""Whole commands timed against each other on a machine whose speed swings: the commands run in
turn, RUNS rounds, and each one's median and best wall time and median CPU time (user + system,
from wait4) are printed. Alternating puts every command in the same minutes, so a slow stretch
slows them alike; compare the commands of one call, not figures of different calls.

    python3 scripts/bench_alternate.py RUNS "COMMAND A" ["COMMAND B" ...]

Each command is a bash command line (prefix `exec` to time the program rather than the shell;
redirect its output). A command that exits non-zero stops the script with its output.

    python3 scripts/bench_alternate.py 21 \\
        "CROCBOT_DATA__CACHE=off exec .build/release/crocbot backtest --universe U ... >/dev/null 2>&1" \\
        "exec .build/release/crocbot backtest --universe U ... >/dev/null 2>&1"
"""
import os
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    runs, commands = int(sys.argv[1]), sys.argv[2:]
    wall = {c: [] for c in commands}
    cpu = {c: [] for c in commands}
    for _ in range(runs):
        for command in commands:
            start = time.perf_counter()
            process = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                sys.exit(f"exit {process.returncode}: {command}\n{output.decode(errors='replace')[-2000:]}")
            wall[command].append(elapsed)
            cpu[command].append(usage.ru_utime + usage.ru_stime)
    for command in commands:
        w = sorted(wall[command])
        print(
            f"wall median {statistics.median(w) * 1000:.1f} ms, best {w[0] * 1000:.1f} ms; "
            f"CPU median {statistics.median(cpu[command]) * 1000:.1f} ms  ({runs} runs) :: {command}"
        )


if __name__ == "__main__":
    main()
