#!/usr/bin/env python3
"""Times TA-Lib's C implementations (best of 7) on the closes of the CSV crocbench uses.

    swift run -c release crocbench indicators   # writes /tmp/crocbench_1m.csv if missing
    python3 scripts/bench_talib.py /tmp/crocbench_1m.csv
"""
import sys
import time

import numpy as np
import pandas as pd
import talib

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crocbench_1m.csv"
df = pd.read_csv(path)
c = np.ascontiguousarray(df["Close"].to_numpy(float))
h = np.ascontiguousarray(df["High"].to_numpy(float))
l = np.ascontiguousarray(df["Low"].to_numpy(float))


def best(f, runs=7):
    b = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t)
    return b


for name, f in [
    ("RSI(14)", lambda: talib.RSI(c, 14)),
    ("EMA(20)", lambda: talib.EMA(c, 20)),
    ("SMA(20)", lambda: talib.SMA(c, 20)),
    ("MACD(12,26,9)", lambda: talib.MACD(c, 12, 26, 9)),
    ("BBANDS(20,2)", lambda: talib.BBANDS(c, 20, 2, 2, 0)),
    ("ATR(14)", lambda: talib.ATR(h, l, c, 14)),
    ("ADX(14)", lambda: talib.ADX(h, l, c, 14)),
]:
    t = best(f)
    print(f"talib {talib.__version__}: {name:<14} {t * 1000:7.2f} ms  ({len(c) / t / 1e6:.0f} M values/s)")
