#!/usr/bin/env python3
"""The whole `crocbot backtest` command against `pandas.read_csv` of the same file, same machine, same run.

The command is what a user runs: process start, loading and validating the CSV, the engine, the
statistics, trades.csv, equity.csv (every bar) and report.html. The peer figure is pandas reading
the same file with its dates parsed, nothing else. Both best of 5; the ratio is crocbot / pandas.

    swift build -c release
    .build/release/crocbench csv                    # writes /tmp/crocbench_1m.csv (1,000,000 minute bars, 72 MB)
    python3 scripts/bench_backtest_command.py [/tmp/crocbench_1m.csv] [.build/release/crocbot]
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pandas as pd

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crocbench_1m.csv"
crocbot = sys.argv[2] if len(sys.argv) > 2 else ".build/release/crocbot"
out = tempfile.mkdtemp(prefix="crocbot-bench-")
atexit.register(shutil.rmtree, out, ignore_errors=True)
command = [
    crocbot, "backtest", "--data", path, "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=20",
    "--commission", "0", "--output", out,
]


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def run_crocbot():
    r = subprocess.run(command, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"crocbot backtest failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    run_crocbot.lines = len((r.stdout + r.stderr).splitlines())


rows = [0]


def run_pandas():
    df = pd.read_csv(path, index_col=0, parse_dates=True)
    rows[0] = len(df)


pandas_s = best_of(5, run_pandas)
crocbot_s = best_of(5, run_crocbot)
report = os.path.getsize(os.path.join(out, "report.html"))
equity_rows = sum(1 for _ in open(os.path.join(out, "equity.csv"))) - 1
print(f"file: {path}, {rows[0]} rows")
print(f"pandas {pd.__version__} read_csv(index_col=0, parse_dates=True): best of 5 {pandas_s:.3f} s")
print(f"crocbot backtest (whole command): best of 5 {crocbot_s:.3f} s; equity.csv {equity_rows} rows, "
      f"report.html {report / 1e6:.2f} MB, output {run_crocbot.lines} lines")
print(f"ratio crocbot / pandas: {crocbot_s / pandas_s:.2f}")
