#!/usr/bin/env python3
"""The whole `crocbot backtest` of `model_topk` against the same command with `momentum_topk`.

Issue 21's target: a `model_topk` backtest of 500 symbols within 2x the time of `momentum_topk`
on the same universe. Both are the command a user runs (process start, loading and validating
the universe, the engine, statistics, per-symbol figures, the CSVs, report.html): top 50, every
21 bars, 0.1 % commission, fills at the close. The model is the GBDT (100 trees, depth 6, 20
features) that `crocbench cross-section` trains on the same universe and saves. The two commands
alternate, best of N each; the ratio is model_topk / momentum_topk.

    swift build -c release
    python3 scripts/bench_vectorbt_portfolio.py --no-bt     # writes /tmp/crocbench_universe_500.csv
    .build/release/crocbench cross-section                  # saves /tmp/crocbench_topk_bundle
    python3 scripts/bench_topk_command.py [runs] [.build/release/crocbot]
"""
import shutil
import subprocess
import sys
import tempfile
import time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
crocbot = sys.argv[2] if len(sys.argv) > 2 else ".build/release/crocbot"
universe = "/tmp/crocbench_universe_500.csv"
common = ["--universe", universe, "--param", "top=50", "--param", "rebalance=21", "--commission", "0.001",
          "--fill-at", "close", "--cash", "100000"]
commands = {
    "momentum_topk": [crocbot, "backtest", *common, "--strategy", "momentum_topk", "--param", "lookback=126"],
    "model_topk": [crocbot, "backtest", *common, "--strategy", "model_topk", "--param", "model=/tmp/crocbench_topk_bundle",
                   "--param", "dropout=5"],
}
best = {name: float("inf") for name in commands}
for _ in range(runs):
    for name, command in commands.items():
        out = tempfile.mkdtemp(prefix=f"crocbot-{name}-")
        t = time.perf_counter()
        r = subprocess.run(command + ["--output", out], capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        shutil.rmtree(out, ignore_errors=True)
        if r.returncode != 0:
            sys.exit(f"{name} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        best[name] = min(best[name], elapsed)
for name, seconds in best.items():
    print(f"{name}: whole command, best of {runs}: {seconds:.3f} s")
print(f"ratio model_topk / momentum_topk: {best['model_topk'] / best['momentum_topk']:.2f} (target <= 2)")
