#!/usr/bin/env python3
"""Reference fits from scikit-learn for CrocBot's learners.

Writes Tests/CrocModelsTests/Fixtures/:
  linear.csv     x0..x5, y_reg, y_cls   (seeded synthetic data, 1500 rows)
  nonlinear.csv  x0..x7, y              (seeded nonlinear classification, 6000 rows; first 4000 train)
  sklearn.json   ridge coefficients (alpha 1 and 0), logistic fit (C=0.5), and the test
                 accuracy / ROC AUC of HistGradientBoostingClassifier and MLPClassifier.

    pip install scikit-learn numpy
    python3 scripts/sklearn_reference.py
"""
import json
import os

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.neural_network import MLPClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "CrocModelsTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261125)

# Linear tasks.
n, d = 1500, 6
X = rng.normal(size=(n, d)) * np.array([1, 2, 0.5, 3, 1, 0.1]) + np.array([0, 1, -2, 0.5, 10, 0])
w_true = np.array([0.5, -1.0, 2.0, 0.0, 0.3, -4.0])
y_reg = X @ w_true + 0.7 + rng.normal(scale=0.5, size=n)
z = X @ np.array([0.8, -0.4, 1.2, 0.1, 0.05, -2.0]) - 0.2
y_cls = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(float)
np.savetxt(os.path.join(OUT, "linear.csv"), np.column_stack([X, y_reg, y_cls]), delimiter=",", fmt="%.17g",
           header=",".join([f"x{j}" for j in range(d)] + ["y_reg", "y_cls"]), comments="")

ref = {"generator": "scripts/sklearn_reference.py", "sklearn": __import__("sklearn").__version__}
for alpha in (1.0, 0.0):
    r = Ridge(alpha=alpha, solver="cholesky").fit(X, y_reg)
    ref[f"ridge_alpha_{alpha:g}"] = {"coef": r.coef_.tolist(), "intercept": float(r.intercept_)}
lr = LogisticRegression(C=0.5, solver="lbfgs", tol=1e-12, max_iter=100000).fit(X, y_cls)
ref["logistic_C_0.5"] = {
    "coef": lr.coef_[0].tolist(),
    "intercept": float(lr.intercept_[0]),
    "log_loss": float(log_loss(y_cls, lr.predict_proba(X)[:, 1])),
}

# Nonlinear classification for trees and networks.
n2, d2 = 6000, 8
X2 = rng.uniform(-2, 2, size=(n2, d2))
logit = (np.sin(2 * X2[:, 0]) + X2[:, 1] * X2[:, 2] - np.abs(X2[:, 3]) + 0.5 * (X2[:, 4] > 0.5)
         + 0.3 * X2[:, 5] ** 2 - 0.2)
y2 = (rng.uniform(size=n2) < 1 / (1 + np.exp(-3 * logit))).astype(float)
np.savetxt(os.path.join(OUT, "nonlinear.csv"), np.column_stack([X2, y2]), delimiter=",", fmt="%.17g",
           header=",".join([f"x{j}" for j in range(d2)] + ["y"]), comments="")
tr, te = slice(0, 4000), slice(4000, n2)
hgb = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=31, max_depth=None,
                                     min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                                     early_stopping=False, random_state=0).fit(X2[tr], y2[tr])
p = hgb.predict_proba(X2[te])[:, 1]
ref["hgb"] = {"accuracy": float(accuracy_score(y2[te], p > 0.5)), "auc": float(roc_auc_score(y2[te], p)),
              "params": {"rounds": 100, "learning_rate": 0.1, "max_leaves": 31, "min_samples_leaf": 20}}
# An MLP's score moves by several points with the seed, so compare means over five seeds.
accs, aucs = [], []
for seed in range(5):
    mlp = MLPClassifier(hidden_layer_sizes=(64, 64), activation="relu", solver="adam", learning_rate_init=1e-3,
                        batch_size=64, max_iter=200, early_stopping=True, validation_fraction=0.1,
                        n_iter_no_change=10, random_state=seed).fit(X2[tr], y2[tr])
    pm = mlp.predict_proba(X2[te])[:, 1]
    accs.append(float(accuracy_score(y2[te], pm > 0.5)))
    aucs.append(float(roc_auc_score(y2[te], pm)))
ref["mlp"] = {"accuracy": float(np.mean(accs)), "auc": float(np.mean(aucs)), "accuracy_by_seed": accs, "auc_by_seed": aucs}
with open(os.path.join(OUT, "sklearn.json"), "w") as f:
    json.dump(ref, f, indent=1)
print(json.dumps({k: v for k, v in ref.items() if k in ("hgb", "mlp", "logistic_C_0.5")}, indent=1))
