#!/usr/bin/env python3
"""LightGBM on the panel `crocbench cross-section` writes to /tmp/crocbench_panel.bin (the same
1.26 M rows x 20 features and labels), with the parameters CrocBot's GBDT uses there: 100 rounds,
max depth 6, 63 leaves, learning rate 0.1, at least 20 rows per leaf, 255 bins, 2 threads.
Best of 3 fits.

    pip install lightgbm numpy
    swift run -c release crocbench cross-section && python3 scripts/bench_lightgbm_panel.py
"""
import sys
import time

import lightgbm as lgb
import numpy as np

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crocbench_panel.bin"
raw = np.fromfile(path, dtype="<f8")
header = raw[:2].view("<i8")
rows, width = int(header[0]), int(header[1])
x = raw[2 : 2 + rows * width].reshape(rows, width)
y = raw[2 + rows * width : 2 + rows * width + rows]
params = dict(
    objective="regression", num_leaves=63, max_depth=6, learning_rate=0.1, min_data_in_leaf=20,
    max_bin=255, num_threads=2, verbose=-1, deterministic=True, force_col_wise=True,
)
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    data = lgb.Dataset(x, label=y, params={"max_bin": 255, "verbose": -1})
    booster = lgb.train(params, data, num_boost_round=100)
    best = min(best, time.perf_counter() - start)
mse = float(np.mean((booster.predict(x) - y) ** 2))
print(f"lightgbm {lgb.__version__} on the panel: {rows} rows x {width} features, 100 rounds, depth 6, 63 leaves, 2 threads: best {best:.3f} s (training mse {mse:.6f})")
