#!/usr/bin/env python3
"""Reference portfolio runs from vectorbt 1.2.0 (cross-checked with bt 1.4.1) on the shipped
SP500_10_CLOSE.csv, for CrocBot's portfolio tests (issue: portfolios).

Each case trades target weights at the close of the decision bar, one account for all symbols:

    vbt.Portfolio.from_orders(close, size=weights, size_type='targetpercent', group_by=True,
                              cash_sharing=True, call_seq='auto', update_value=True,
                              fees=FEES, init_cash=100_000)

CrocBot's rebalance semantics: weights are fractions of the equity at the decision; the orders
run sells first (vectorbt's 'auto' call sequence: ascending approximate order value); each order
is sized from the account's value at the moment it executes, after the earlier orders of the same
rebalance paid their fees (`update_value=True`; vectorbt's default, False, sizes every order of a
row from the value before any of them); a buy that needs more cash than is left is reduced to what
the cash affords, fee included (vectorbt's `allow_partial`).

`weights` holds the target weight of every symbol on a rebalance bar and NaN elsewhere (no order).
Cases:
  equal_weight_21        every symbol at 1/10, every 21 bars from bar 0, fees 0.1 %
  momentum_top3_126_21   from bar 126, every 21 bars, the 3 symbols with the highest
                         close[t] / close[t-126] - 1 (ties by symbol order) at 1/3, the rest 0; fees 0.1 %
  momentum_top3_126_21_nofee   the same at zero fees (bt 1.4.1 must agree to 1e-9 relative)

Writes, per case, into Tests/CrocPipelinesTests/Fixtures/portfolio/:
  <case>.weights.csv   Date, one column per symbol: the target weights of each rebalance row (the input)
  <case>.equity.csv    Date, Equity (vectorbt's portfolio value at each close)
  <case>.orders.csv    Date, Symbol, Side, Size, Price, Fees (vectorbt's order records, in execution order)
  and a line per case in summary.csv (final equity, orders, bt's final equity where run).

Usage: python3 scripts/vectorbt_portfolio_reference.py   (needs vectorbt==1.2.0, bt==1.4.1, pandas)
"""
import os
import sys

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "Examples", "data", "SP500_10_CLOSE.csv")
OUT = os.path.join(ROOT, "Tests", "CrocPipelinesTests", "Fixtures", "portfolio")
INIT_CASH = 100_000.0


def equal_weight(close: pd.DataFrame, every: int) -> pd.DataFrame:
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    w.iloc[::every] = 1.0 / close.shape[1]
    return w


def momentum_topk(close: pd.DataFrame, lookback: int, top: int, every: int) -> pd.DataFrame:
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    values = close.to_numpy()
    for t in range(lookback, len(close), every):
        ret = values[t] / values[t - lookback] - 1.0
        # Highest return first; ties by symbol order (a stable sort on the negated returns).
        order = np.argsort(-ret, kind="stable")
        row = np.zeros(close.shape[1])
        row[order[:top]] = 1.0 / top
        w.iloc[t] = row
    return w


def run_vectorbt(close, weights, fees):
    import vectorbt as vbt

    pf = vbt.Portfolio.from_orders(
        close,
        size=weights,
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        update_value=True,
        fees=fees,
        init_cash=INIT_CASH,
        freq="1D",
    )
    return pf


def run_bt(close, weights):
    import bt

    class Targets(bt.Algo):
        def __init__(self, w):
            super().__init__()
            self.w = w

        def __call__(self, target):
            row = self.w.loc[target.now]
            if row.isna().all():
                return False
            target.temp["weights"] = row.fillna(0.0).to_dict()
            return True

    strategy = bt.Strategy("targets", [Targets(weights), bt.algos.Rebalance()])
    test = bt.Backtest(strategy, close, initial_capital=INIT_CASH, integer_positions=False, progress_bar=False)
    res = bt.run(test)
    return res.prices["targets"] / 100.0 * INIT_CASH


def main() -> int:
    import vectorbt as vbt

    assert vbt.__version__ == "1.2.0", f"vectorbt 1.2.0 expected, found {vbt.__version__}"
    close = pd.read_csv(DATA, index_col=0, parse_dates=True)
    os.makedirs(OUT, exist_ok=True)
    cases = [
        ("equal_weight_21", equal_weight(close, 21), 0.001),
        ("momentum_top3_126_21", momentum_topk(close, 126, 3, 21), 0.001),
        ("momentum_top3_126_21_nofee", momentum_topk(close, 126, 3, 21), 0.0),
    ]
    summary = ["Case,Fees,FinalEquity,Orders,BtFinalEquity"]
    for name, weights, fees in cases:
        pf = run_vectorbt(close, weights, fees)
        value = pf.value()
        dates = close.index.strftime("%Y-%m-%d")
        # Only the rebalance rows (every other row has no order).
        weights.dropna(how="all").to_csv(
            os.path.join(OUT, f"{name}.weights.csv"), index_label="Date", float_format="%.17g", date_format="%Y-%m-%d"
        )
        with open(os.path.join(OUT, f"{name}.equity.csv"), "w") as f:
            f.write("Date,Equity\n")
            for d, v in zip(dates, value.to_numpy()):
                f.write(f"{d},{v:.17g}\n")
        rec = pf.orders.records_arr
        # Records are in execution order (per row, the call sequence); name symbols and sides.
        with open(os.path.join(OUT, f"{name}.orders.csv"), "w") as f:
            f.write("Date,Symbol,Side,Size,Price,Fees\n")
            for r in rec:
                f.write(
                    f"{dates[r['idx']]},{close.columns[r['col']]},{'Buy' if r['side'] == 0 else 'Sell'},"
                    f"{r['size']:.17g},{r['price']:.17g},{r['fees']:.17g}\n"
                )
        bt_final = ""
        if fees == 0.0:
            bt_equity = run_bt(close, weights)
            bt_final = f"{bt_equity.iloc[-1]:.17g}"
            rel = abs(bt_equity.iloc[-1] / value.iloc[-1] - 1)
            print(f"{name}: bt final {bt_equity.iloc[-1]:.6f} vs vectorbt {value.iloc[-1]:.6f} (relative {rel:.2e})")
        summary.append(f"{name},{fees},{value.iloc[-1]:.17g},{len(rec)},{bt_final}")
        print(f"{name}: final equity {value.iloc[-1]:.6f}, {len(rec)} orders")
    with open(os.path.join(OUT, "summary.csv"), "w") as f:
        f.write("\n".join(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
