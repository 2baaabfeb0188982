"""The benchmark grid of `crocbench sweep` in vectorbt: 100 x 100 sma_cross on GOOGL.

fast windows 1-100 x slow windows 101-200 = 10,000 parameter pairs, broadcast as
vectorbt does it (one column per pair): moving averages, crossover signals, a
portfolio from the signals with 0.2 % fees, and each column's Sharpe ratio.
Timed after a warm-up run (numba compiles on first use), best of 3.

Differences from CrocBot's run, all in vectorbt's favour: it fills at the signal
bar's close (CrocBot: the next bar's open, like backtesting.py), it computes no
trade list or drawdown statistics, and it keeps everything in memory.

    pip install vectorbt && python3 scripts/bench_vectorbt_grid.py
"""
import os
import time

import numpy as np
import pandas as pd
import vectorbt as vbt

here = os.path.dirname(os.path.abspath(__file__))
df = pd.read_csv(os.path.join(here, "..", "Examples", "data", "GOOGL.csv"), index_col=0, parse_dates=True)
close = df["Close"]
fast = np.arange(1, 101)
slow = np.arange(101, 201)


def run():
    # One column per (fast, slow) pair; vectorbt computes each distinct window once.
    fast_ma = vbt.MA.run(close, np.repeat(fast, len(slow)), short_name="fast")
    slow_ma = vbt.MA.run(close, np.tile(slow, len(fast)), short_name="slow")
    entries = fast_ma.ma_crossed_above(slow_ma)
    exits = fast_ma.ma_crossed_below(slow_ma)
    pf = vbt.Portfolio.from_signals(close, entries, exits, fees=0.002, init_cash=10_000, freq="1D")
    return pf.sharpe_ratio()


sharpe = run()  # warm-up: numba compiles here
assert sharpe.shape == (10_000,), sharpe.shape
times = []
for _ in range(3):
    t = time.perf_counter()
    sharpe = run()
    times.append(time.perf_counter() - t)
best = sharpe.idxmax()
print(f"vectorbt {vbt.__version__}: 100x100 sma_cross grid on GOOGL ({len(close)} bars): "
      f"best of 3 {min(times):.3f} s ({10_000 / min(times):.0f} backtests/s); best pair {best} Sharpe {sharpe.max():.3f}")
