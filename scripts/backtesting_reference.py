#!/usr/bin/env python3
"""Reference run of backtesting.py 0.6.x for CrocBot's default backtest.

Produces Tests/CrocPipelinesTests/Fixtures/backtesting_py_sma_cross_googl.json:
the trades and statistics of `sma_cross` 10/20 on the shipped GOOGL data with
cash 10,000, commission 0.2%, exclusive orders, next-open fills and
finalize_trades=True. CrocBot's tests compare against this file.

    pip install backtesting==0.6.6 pandas
    python3 scripts/backtesting_reference.py
"""
import json
import math
import os
import sys

import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "Examples", "data", "GOOGL.csv")
OUT = os.path.join(ROOT, "Tests", "CrocPipelinesTests", "Fixtures", "backtesting_py_sma_cross_googl.json")


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = 10
    slow = 20

    def init(self):
        self.sma1 = self.I(sma, self.data.Close, self.fast)
        self.sma2 = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()


def clean(v):
    if isinstance(v, pd.Timedelta):
        return v.total_seconds()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def main():
    df = pd.read_csv(DATA, index_col=0, parse_dates=True)
    bt = Backtest(df, SmaCross, cash=10_000, commission=0.002, exclusive_orders=True,
                  trade_on_close=False, finalize_trades=True)
    stats = bt.run()
    trades = stats["_trades"]
    out = {
        "generator": "scripts/backtesting_reference.py",
        "backtesting_version": __import__("backtesting").__version__,
        "trades": [
            {
                "size": int(t.Size),
                "entryBar": int(t.EntryBar),
                "exitBar": int(t.ExitBar),
                "entryPrice": float(t.EntryPrice),
                "exitPrice": float(t.ExitPrice),
                "pnl": float(t.PnL),
                "returnPct": float(t.ReturnPct),
                "commission": float(t.Commission),
                "entryTime": t.EntryTime.isoformat(),
                "exitTime": t.ExitTime.isoformat(),
            }
            for t in trades.itertuples()
        ],
        "stats": {k: clean(v) for k, v in stats.items() if not k.startswith("_")},
        "equityFinal": float(stats["Equity Final [$]"]),
        "equity": [float(x) for x in stats["_equity_curve"]["Equity"].values],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(stats.drop(["_strategy", "_equity_curve", "_trades"]).to_string(), file=sys.stderr)


if __name__ == "__main__":
    main()
