#!/usr/bin/env python3
"""Times pandas.read_csv on the file crocbench writes (best of 5), for the CSV ratio.

    swift run -c release crocbench csv     # writes /tmp/crocbench_1m.csv
    python3 scripts/bench_pandas_csv.py /tmp/crocbench_1m.csv
"""
import sys
import time

import pandas as pd

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crocbench_1m.csv"
for label, kwargs in [("read_csv", {}), ("read_csv + parse_dates", {"index_col": 0, "parse_dates": True})]:
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        df = pd.read_csv(path, **kwargs)
        best = min(best, time.perf_counter() - t)
    print(f"pandas {pd.__version__} {label}: {len(df)} rows, best {best * 1000:.1f} ms")
