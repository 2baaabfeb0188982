#!/usr/bin/env python3
"""The whole `crocbot sweep` of six `model_topk` trials (top x dropout) on 500 symbols.

The trials share their rebalances' scores (ScoreCache); give two binaries to time a build
without that against one with it, alternately. Each run writes a fresh SQLite store; the best
wall time of each binary is printed with the sweep's results table (the same for every build).

    swift build -c release
    python3 scripts/bench_vectorbt_portfolio.py --no-bt     # writes /tmp/crocbench_universe_500.csv
    .build/release/crocbench cross-section                  # saves /tmp/crocbench_topk_bundle
    python3 scripts/bench_topk_sweep.py [runs] [.build/release/crocbot [OTHER_CROCBOT]]
"""
import shutil
import subprocess
import sys
import tempfile
import time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
binaries = sys.argv[2:] or [".build/release/crocbot"]
spec = """name: model-topk-500
strategy: model_topk
universe: {path: /tmp/crocbench_universe_500.csv}
sampler: grid
parameters:
  model: /tmp/crocbench_topk_bundle
  top: [20, 50, 80]
  dropout: [0, 5]
  rebalance: 21
objective: sharpe
backtest: {cash: 100000, commission: 0.001}
"""
work = tempfile.mkdtemp(prefix="crocbot-topk-sweep-")
try:
    config = f"{work}/sweep.yaml"
    with open(config, "w") as f:
        f.write(spec)
    best = {b: float("inf") for b in binaries}
    tables = {}
    for i in range(runs):
        for b in binaries:
            store = f"{work}/store-{i}-{binaries.index(b)}.sqlite"
            t = time.perf_counter()
            r = subprocess.run([b, "sweep", "--config", config, "--store", store, "--report", f"{work}/report.html"],
                               capture_output=True, text=True)
            elapsed = time.perf_counter() - t
            if r.returncode != 0:
                sys.exit(f"{b} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
            best[b] = min(best[b], elapsed)
            tables[b] = [line for line in r.stdout.splitlines() if line[:1].isdigit()]
    for b in binaries:
        print(f"{b}: crocbot sweep, 6 model_topk trials on 500 symbols, best of {runs}: {best[b]:.3f} s")
    if len(binaries) > 1:
        print("results tables " + ("identical" if all(t == tables[binaries[0]] for t in tables.values()) else "DIFFER"))
finally:
    shutil.rmtree(work, ignore_errors=True)
