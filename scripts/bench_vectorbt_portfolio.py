#!/usr/bin/env python3
"""The peer side of the portfolio benchmark (issue: portfolios): vectorbt 1.2.0's warm
`Portfolio.from_orders` of a momentum top-50 portfolio over 500 symbols x 2,520 daily bars,
rebalanced every 21 bars at 0.1 % commission, and bt 1.4.1 on the same weights.

It writes the universe it times (a wide CSV of closes, seeded geometric random walks, some
symbols listed late or delisted early: empty cells) so that CrocBot's whole command can be
timed on the same file in the same session:

    python3 scripts/bench_vectorbt_portfolio.py [--out /tmp/crocbench_universe_500.csv] [--no-bt]

Prints the best of 3 warm runs of each peer (the first, which compiles numba, is not counted)
and the final equity, so the two sides can be checked against each other.
"""
import argparse
import time

import numpy as np
import pandas as pd

SYMBOLS, BARS, TOP, LOOKBACK, EVERY, FEES = 500, 2520, 50, 126, 21, 0.001


def universe(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0003, 0.02, size=(BARS, SYMBOLS))
    closes = 50.0 * np.exp(np.cumsum(returns, axis=0))
    closes = np.round(closes, 4)
    # One symbol in ten is listed late or delisted early: no bars outside its range.
    for s in range(0, SYMBOLS, 10):
        start = int(rng.integers(0, BARS // 3))
        end = int(rng.integers(2 * BARS // 3, BARS))
        closes[:start, s] = np.nan
        closes[end:, s] = np.nan
    index = pd.bdate_range("2010-01-04", periods=BARS)
    return pd.DataFrame(closes, index=index, columns=[f"S{i:03d}" for i in range(SYMBOLS)])


def momentum_weights(close: pd.DataFrame) -> pd.DataFrame:
    values = close.to_numpy()
    w = np.full(values.shape, np.nan)
    for t in range(LOOKBACK, len(close), EVERY):
        ret = values[t] / values[t - LOOKBACK] - 1.0
        ranked = [s for s in np.argsort(-np.nan_to_num(ret, nan=-np.inf), kind="stable") if not np.isnan(ret[s])]
        row = np.zeros(values.shape[1])
        row[ranked[:TOP]] = 1.0 / TOP
        row[np.isnan(values[t])] = np.nan  # no order for a symbol without a bar
        w[t] = row
    return pd.DataFrame(w, index=close.index, columns=close.columns)


def best_of(n, f):
    best, result = float("inf"), None
    for _ in range(n):
        start = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/crocbench_universe_500.csv")
    ap.add_argument("--no-bt", action="store_true")
    args = ap.parse_args()
    close = universe()
    close.to_csv(args.out, index_label="Date", date_format="%Y-%m-%d", float_format="%.4f")
    weights = momentum_weights(close)
    print(f"universe: {SYMBOLS} symbols x {BARS} bars written to {args.out}")

    import vectorbt as vbt

    def run_vbt():
        pf = vbt.Portfolio.from_orders(
            close, size=weights, size_type="targetpercent", group_by=True, cash_sharing=True,
            call_seq="auto", update_value=True, fees=FEES, init_cash=100_000.0, freq="1D",
        )
        return pf.value().iloc[-1]

    run_vbt()  # warm: numba compiles on the first call
    t, final = best_of(3, run_vbt)
    print(f"vectorbt {vbt.__version__} from_orders (warm), best of 3: {t:.3f} s; final equity {final:.6f}")

    if not args.no_bt:
        import bt

        class Targets(bt.Algo):
            def __call__(self, target):
                row = weights.loc[target.now]
                if row.isna().all():
                    return False
                target.temp["weights"] = row.dropna().to_dict()
                return True

        def run_bt():
            s = bt.Strategy("m", [Targets(), bt.algos.Rebalance()])
            test = bt.Backtest(s, close.ffill(), initial_capital=100_000.0, commissions=lambda q, p: abs(q) * p * FEES,
                               integer_positions=False, progress_bar=False)
            return bt.run(test).prices["m"].iloc[-1] / 100.0 * 100_000.0

        t, final = best_of(1, run_bt)
        print(f"bt {bt.__version__} (one run): {t:.3f} s; final equity {final:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
