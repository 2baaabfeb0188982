#!/usr/bin/env bash
# Sharded sweeps against a real PostgreSQL server, with separate crocbot processes:
#  1. three shards in parallel record every trial exactly once, each by its owner;
#  2. a shard killed with SIGKILL mid-run and started again duplicates nothing and
#     completes the sweep (it skips what it had recorded);
#  3. the same sweep in SQLite gives identical results.
# Usage: scripts/sweep_shards.sh path/to/crocbot postgres://user:password@127.0.0.1:5432/db
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1
PG=$2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
RUN=$(date +%s)-$$
psql_() { psql "$PG" -v ON_ERROR_STOP=1 -At -F'|' -c "$1"; }

echo "-- 1. three shards in parallel"
sed -e "s/^name: .*/name: shards-$RUN/" Examples/sweep-sma.yaml >"$OUT/grid.yaml"
pids=()
for i in 0 1 2; do
    "$BIN" sweep --config "$OUT/grid.yaml" --store "$PG" --shard "$i/3" --workers 1 --chunk 50 --report "$OUT/r$i.html" >"$OUT/shard$i.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { echo "FAIL: a shard exited non-zero"; cat "$OUT"/shard*.log; exit 1; }; done
read -r total distinct <<<"$(psql_ "SELECT count(*), count(DISTINCT trial) FROM crocbot_trials WHERE sweep = 'shards-$RUN'" | tr '|' ' ')"
wrong=$(psql_ "SELECT count(*) FROM crocbot_trials WHERE sweep = 'shards-$RUN' AND shard <> trial % 3")
echo "trials: $total recorded, $distinct distinct, $wrong run by the wrong shard"
[ "$total" = 690 ] && [ "$distinct" = 690 ] && [ "$wrong" = 0 ] || { echo "FAIL: expected 690 trials once each"; exit 1; }
"$BIN" sweep status --store "$PG" --name "shards-$RUN" --top 3 | tee "$OUT/status.txt"
grep -q "690/690 trials recorded" "$OUT/status.txt" && grep -q "by shard: 0: 230, 1: 230, 2: 230" "$OUT/status.txt" || { echo "FAIL: status"; exit 1; }
"$BIN" sweep report --store "$PG" --name "shards-$RUN" --output "$OUT/merged.html" >/dev/null
grep -q 'data-chart="objective-heatmap"' "$OUT/merged.html" || { echo "FAIL: merged report"; exit 1; }

echo "-- 2. a shard killed mid-run, restarted"
sed -e "s/^name: .*/name: kill-$RUN/" -e 's#Examples/data/GOOGL.csv#Examples/data/EURUSD_1H_ASK.csv#' Examples/sweep-grid-100x100.yaml >"$OUT/big.yaml"
"$BIN" sweep --config "$OUT/big.yaml" --store "$PG" --shard 0/2 --workers 1 --chunk 20 >"$OUT/kill.log" 2>&1 &
victim=$!
for _ in $(seq 1 600); do
    n=$(psql_ "SELECT count(*) FROM crocbot_trials WHERE sweep = 'kill-$RUN'" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 200 ] && break
    sleep 0.05
done
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
partial=$(psql_ "SELECT count(*) FROM crocbot_trials WHERE sweep = 'kill-$RUN'")
echo "killed shard 0/2 with $partial of its 5000 trials recorded"
[ "$partial" -ge 200 ] && [ "$partial" -lt 5000 ] || { echo "FAIL: the shard was not interrupted mid-run ($partial)"; exit 1; }
"$BIN" sweep --config "$OUT/big.yaml" --store "$PG" --shard 0/2 --workers 2 --report "$OUT/k0.html" | tee "$OUT/restart.log" | head -1
grep -q "^shard 0/2: $((5000 - partial)) trials evaluated, $partial already in the store" "$OUT/restart.log" || { echo "FAIL: restart did not skip recorded trials"; cat "$OUT/restart.log"; exit 1; }
"$BIN" sweep --config "$OUT/big.yaml" --store "$PG" --shard 1/2 --workers 2 --report "$OUT/k.html" | head -1
read -r total distinct <<<"$(psql_ "SELECT count(*), count(DISTINCT trial) FROM crocbot_trials WHERE sweep = 'kill-$RUN'" | tr '|' ' ')"
echo "after restart: $total recorded, $distinct distinct"
[ "$total" = 10000 ] && [ "$distinct" = 10000 ] || { echo "FAIL: expected 10000 trials once each"; exit 1; }
test -s "$OUT/k.html" || { echo "FAIL: the last shard did not write the report"; exit 1; }

echo "-- 3. SQLite and PostgreSQL give identical results"
"$BIN" sweep --config "$OUT/grid.yaml" --store "$OUT/lite.sqlite" --report "$OUT/lite.html" >/dev/null
psql_ "SELECT trial, parameters, objective, violations, metrics, blocks FROM crocbot_trials WHERE sweep = 'shards-$RUN' ORDER BY trial" >"$OUT/pg.txt"
python3 - "$OUT/lite.sqlite" "$OUT/pg.txt" "shards-$RUN" <<'PY'
import sqlite3, sys
lite = sqlite3.connect(sys.argv[1]).execute(
    "SELECT trial, parameters, objective, violations, metrics, blocks FROM crocbot_trials WHERE sweep = ? ORDER BY trial", (sys.argv[3],)).fetchall()
pg = []
for line in open(sys.argv[2]):
    t, p, o, v, m, b = line.rstrip("\n").split("|")
    pg.append((int(t), p, float(o) if o else None, v, m, b))
assert len(lite) == len(pg) == 690, (len(lite), len(pg))
diff = [a[0] for a, b in zip(lite, pg) if a != b]
assert not diff, f"trials differ: {diff[:5]}"
print("690 trials identical in SQLite and PostgreSQL")
PY
echo "sweep shards: ok"
