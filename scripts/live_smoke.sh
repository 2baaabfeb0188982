#!/usr/bin/env bash
# `crocbot live --paper` end to end: the status page shows a moving equity
# curve in headless Chromium, /metrics counters move, bearer auth guards
# everything but /health, and SIGTERM during trading exits 0 with a
# consistent order store.
# Usage: scripts/live_smoke.sh [path/to/crocbot] [screenshot.png]
set -euo pipefail
bin=${1:-.build/release/crocbot}
shot=${2:-ci-artifacts/live-status.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "FAIL: no chromium (apt-get install chromium)"; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- crocbot log (tail)"; tail -20 "$work/log" || true; exit 1; }
mkdir -p "$(dirname "$shot")"

start() {  # start crocbot live --paper with extra env/args; sets pid and port
    "$@" >"$work/log" 2>&1 &
    pid=$!
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's#.*status page at http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$work/log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "crocbot exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'status page at' line in the log"
}

dom_points() {  # the equity polyline's points after the page has refreshed
    "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=2500 --dump-dom "http://127.0.0.1:$port/$1" 2>/dev/null |
        sed -n 's/.*id="equity-line"[^>]*points="\([^"]*\)".*/\1/p' | head -1
}

echo "-- paper replay at 20 bars/s, status page on an ephemeral port"
start env CROCBOT_LIVE__SPEED=72000 "$bin" live --paper --port 0 --store "$work/orders.sqlite" --log-format json
curl -fsS "http://127.0.0.1:$port/health" | grep -q '"live":true' || fail "/health"
sleep 3
status1=$(curl -fsS "http://127.0.0.1:$port/api/status")
bars1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bars"])' "$status1")
[ "$bars1" -gt 0 ] || fail "no bars after 3 s: $status1"
p1=$(dom_points "")
sleep 2
p2=$(dom_points "")
n1=$(echo "$p1" | wc -w); n2=$(echo "$p2" | wc -w)
echo "equity curve: $n1 points, then $n2 points two seconds later"
[ "$n1" -ge 2 ] || fail "the page drew no equity curve"
[ "$p1" != "$p2" ] || fail "the equity curve did not move"
"$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=2500 --window-size=1280,900 \
    --screenshot="$shot" "http://127.0.0.1:$port/" >/dev/null 2>&1
[ -s "$shot" ] || fail "no screenshot"
echo "screenshot: $shot"

metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
for m in 'crocbot_bars_total{kind="received"}' 'crocbot_signals_total' 'crocbot_orders_total{event="filled"}' \
    'crocbot_tick_to_order_seconds_count' 'crocbot_equity' 'crocbot_executor_queue_depth'; do
    line=$(echo "$metrics" | grep -F "$m" | grep -v '^#' | head -1)
    [ -n "$line" ] || fail "/metrics lacks $m"
    value=${line##* }
    python3 -c "import sys; sys.exit(0 if float('$value') > 0 or '$m' in ('crocbot_executor_queue_depth',) else 1)" || fail "$m did not move: $line"
done
echo "/metrics: bars, signals, fills and tick-to-order latency counted"

echo "-- SIGTERM while trading"
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=""
[ "$rc" -eq 0 ] || fail "exit code $rc after SIGTERM"
grep -q 'stopped cleanly' "$work/log" || fail "no clean-stop line"
grep -q 'order store flushed' "$work/log" || fail "store not flushed"
python3 - "$work/orders.sqlite" <<'PY' || fail "order store inconsistent"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
orders = db.execute("select count(*) from orders").fetchone()[0]
open_ = db.execute("select count(*) from orders where state in ('pending_new','submitted','acked','partially_filled')").fetchone()[0]
bad = db.execute("""select count(*) from orders o where o.filled_quantity !=
                    coalesce((select sum(f.quantity) from fills f where f.client_order_id = o.client_order_id), 0)""").fetchone()[0]
print(f"store: {orders} orders, {open_} still open, {bad} with fills not matching")
sys.exit(0 if orders > 0 and open_ == 0 and bad == 0 else 1)
PY
echo "SIGTERM: exit 0, store flushed and consistent"

echo "-- bearer token"
start env CROCBOT_LIVE__TOKEN=s3cret-token "$bin" live --paper --port 0 --store "$work/orders2.sqlite"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$port/health")" = 200 ] || fail "/health must not need the token"
[ "$(code "http://127.0.0.1:$port/api/status")" = 401 ] || fail "/api/status without the token must be 401"
[ "$(code "http://127.0.0.1:$port/metrics")" = 401 ] || fail "/metrics without the token must be 401"
[ "$(code -H 'Authorization: Bearer wrong' "http://127.0.0.1:$port/")" = 401 ] || fail "a wrong token must be 401"
[ "$(code -H 'Authorization: Bearer s3cret-token' "http://127.0.0.1:$port/api/status")" = 200 ] || fail "the token must open /api/status"
sleep 2
p3=$(dom_points "?token=s3cret-token")
[ "$(echo "$p3" | wc -w)" -ge 2 ] || fail "the page with ?token= drew no curve"
grep -q 's3cret-token' "$work/log" && fail "the token appeared in the log"
kill -INT "$pid"; wait "$pid" || fail "SIGINT exit code"; pid=""
echo "auth: 401 without the token, /health open, the page works with ?token="
echo "live smoke test passed"
