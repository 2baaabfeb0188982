#!/usr/bin/env python3
"""Times scikit-learn's lbfgs logistic regression and LightGBM on the data crocbench uses.

    swift run -c release crocbench models   # writes /tmp/crocbench_models_1m.bin
    python3 scripts/bench_models.py
"""
import time

import numpy as np

path = "/tmp/crocbench_models_1m.bin"
n, d = 1_000_000, 32
raw = np.fromfile(path, dtype="<f8")
X = raw[: n * d].reshape(n, d)
y = raw[n * d:]

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

for tol in (1e-4, 1e-6):
    t = time.perf_counter()
    m = LogisticRegression(C=1.0, solver="lbfgs", tol=tol, max_iter=1000).fit(X, y)
    el = time.perf_counter() - t
    print(f"sklearn lbfgs 1M x 32 (C=1, tol {tol:g}): {el:.2f} s, {m.n_iter_[0]} iterations, "
          f"log loss {log_loss(y, m.predict_proba(X)[:, 1]):.9f}")

import lightgbm as lgb  # noqa: E402

params = {"objective": "binary", "num_leaves": 63, "max_depth": 6, "learning_rate": 0.1, "max_bin": 255,
          "min_data_in_leaf": 20, "num_threads": 2, "verbose": -1}
t = time.perf_counter()
booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=100)
el = time.perf_counter() - t
p = booster.predict(X[:100_000])
print(f"lightgbm {lgb.__version__} 1M x 32, 100 rounds, depth 6, 63 leaves, 2 threads: {el:.2f} s; "
      f"train AUC (first 100k) {roc_auc_score(y[:100_000], p):.4f}")
