#!/usr/bin/env python3
"""Fixtures for CrocBot's cross-sectional factor evaluation (`FactorEvaluation`) and transforms
(`CrossSection`), computed with SciPy and pandas, the way alphalens-reloaded and Qlib define them:

- IC per date: scipy.stats.pearsonr over the symbols where score and forward return are finite;
  rank IC: scipy.stats.spearmanr (alphalens' factor_information_coefficient);
- mean, std (ddof=1), IR = mean/std; mean rank IC per calendar year;
- quantiles: pandas.qcut(scores, 5, labels=False) per date; forward returns demeaned per date;
  pooled mean per quantile (alphalens' mean_return_by_quantile(by_date=False, demeaned=True));
  long-short spread per date (top minus bottom quantile), compounded;
- top-k hit rate and turnover (see FactorEvaluation's documentation);
- cross-sectional transforms of one row: rank to [0, 1], z-score (ddof=1), demean, winsorise
  at the 5 % / 95 % numpy quantiles.

    python3 scripts/factor_evaluation_reference.py   # writes Tests/CrocPipelinesTests/Fixtures/factor/reference.json
"""
import json
import pathlib

import numpy as np
import pandas as pd
from scipy import stats

DATES, SYMBOLS, Q, TOPK = 60, 30, 5, 6
rng = np.random.default_rng(20)
times = pd.date_range("2019-01-31", periods=DATES, freq="ME")
returns = rng.normal(0, 0.05, size=(DATES, SYMBOLS))
scores = 0.3 * returns / 0.05 + rng.normal(0, 1, size=(DATES, SYMBOLS))
# Missing values: a symbol listed late, random holes in both panels.
scores[:7, 3] = np.nan
returns[rng.random((DATES, SYMBOLS)) < 0.03] = np.nan
scores[rng.random((DATES, SYMBOLS)) < 0.03] = np.nan

ic, ric, spread = [], [], []
q_sum, q_count = np.zeros(Q), np.zeros(Q)
hits, turnovers, previous = [], [], None
for t in range(DATES):
    ok = np.isfinite(scores[t]) & np.isfinite(returns[t])
    x, y, idx = scores[t][ok], returns[t][ok], np.flatnonzero(ok)
    ic.append(stats.pearsonr(x, y)[0])
    ric.append(stats.spearmanr(x, y)[0])
    labels = pd.qcut(x, Q, labels=False)
    yd = y - y.mean()
    for q in range(Q):
        q_sum[q] += yd[labels == q].sum()
        q_count[q] += (labels == q).sum()
    spread.append(yd[labels == Q - 1].mean() - yd[labels == 0].mean())
    top = set(idx[np.lexsort((idx, -x))][:TOPK])
    best = set(idx[np.lexsort((idx, -y))][:TOPK])
    hits.append(len(top & best) / TOPK)
    if previous is not None:
        turnovers.append(len(top - previous) / TOPK)
    previous = top

ic, ric = np.array(ic), np.array(ric)
by_year = pd.Series(ric, index=times).groupby(times.year).mean()
row = scores[10].copy()
finite = np.isfinite(row)
ranked = np.full_like(row, np.nan)
ranked[finite] = (stats.rankdata(row[finite]) - 1) / (finite.sum() - 1)
z = np.full_like(row, np.nan)
z[finite] = (row[finite] - row[finite].mean()) / row[finite].std(ddof=1)
lo, hi = np.quantile(row[finite], [0.05, 0.95])
win = np.where(finite, np.clip(row, lo, hi), np.nan)


def clean(a):
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]


out = {
    "times": [int(pd.Timestamp(d).value) for d in times],
    "scores": [clean(r) for r in scores],
    "returns": [clean(r) for r in returns],
    "quantiles": Q,
    "topK": TOPK,
    "ic": clean(ic),
    "rankIC": clean(ric),
    "icSummary": [float(ic.mean()), float(ic.std(ddof=1)), float(ic.mean() / ic.std(ddof=1))],
    "rankICSummary": [float(ric.mean()), float(ric.std(ddof=1)), float(ric.mean() / ric.std(ddof=1))],
    "rankICByYear": [[int(y), float(v)] for y, v in by_year.items()],
    "quantileMeanReturns": clean(q_sum / q_count),
    "spread": clean(spread),
    "cumulativeSpread": clean(np.cumprod(1 + np.array(spread)) - 1),
    "topKHitRate": float(np.mean(hits)),
    "topKTurnover": float(np.mean(turnovers)),
    "row": clean(row),
    "rowRank": clean(ranked),
    "rowZScore": clean(z),
    "rowDemeaned": clean(np.where(finite, row - row[finite].mean(), np.nan)),
    "rowWinsorized": clean(win),
}
path = pathlib.Path(__file__).resolve().parent.parent / "Tests/CrocPipelinesTests/Fixtures/factor/reference.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}: rank IC mean {ric.mean():.4f}, IR {ric.mean() / ric.std(ddof=1):.3f}")
