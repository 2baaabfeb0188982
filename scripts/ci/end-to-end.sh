#!/usr/bin/env bash
# CI stage `end-to-end`: the release build (crocbot and crocbench, one build) and every command a
# user runs: the README's main job, reports in headless Chromium, training, paper trading,
# sweeps across shard processes, the command-line smoke test and the README tutorial.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/env.sh
: "${CROCBOT_TEST_POSTGRES:?run .ci/run provision first (postgresql)}"
command -v chromium >/dev/null 2>&1 || { echo "chromium missing: run .ci/run provision first" >&2; exit 1; }

echo "== build (release: crocbot and crocbench; the unit stage's test command built them)"
swift build -c release

echo "== main job: swift run -c release crocbot backtest"
swift run -c release crocbot backtest --output "$OUT"
# The rest call the built binary: each `swift run` re-plans the ~1,000-step build (about 17 s here).
BIN=.build/release/crocbot
test -s "$OUT/trades.csv"
test -s "$OUT/equity.csv"
"$BIN" backtest --config Examples/backtest.yaml --output "$OUT/eurusd"

echo "== HTML reports render in headless Chromium (screenshots kept in ci-artifacts/)"
bash scripts/check_report.sh "$OUT/report.html" ci-artifacts/backtest-report.png
"$BIN" backtest --config Examples/portfolio-backtest.yaml --output "$OUT/portfolio"
bash scripts/check_report.sh "$OUT/portfolio/report.html" ci-artifacts/portfolio-report.png weights contribution correlation
"$BIN" train --config Examples/train-gbdt-googl.yaml --output "${TMPDIR:-/tmp}/crocbot-ci-model"
bash scripts/check_report.sh "${TMPDIR:-/tmp}/crocbot-ci-model/report.html" ci-artifacts/training-report.png learning-curve confusion roc feature-importance
sed -e 's/^steps: .*/steps: 4096/' Examples/train-ppo-eurusd.yaml >"${TMPDIR:-/tmp}/crocbot-ci-rl.yaml"
"$BIN" train --config "${TMPDIR:-/tmp}/crocbot-ci-rl.yaml" --output "${TMPDIR:-/tmp}/crocbot-ci-rl"
bash scripts/check_report.sh "${TMPDIR:-/tmp}/crocbot-ci-rl/report.html" ci-artifacts/rl-training-report.png episode-returns rl-loss

echo "== crocbot live --paper: moving equity curve in headless Chromium, /metrics, bearer auth, SIGTERM (screenshot in ci-artifacts/)"
bash scripts/live_smoke.sh "$BIN" ci-artifacts/live-status.png

echo "== sweeps: report in headless Chromium; three shard processes, a killed shard, SQLite = PostgreSQL"
"$BIN" sweep --config Examples/sweep-sma.yaml --store "${TMPDIR:-/tmp}/crocbot-ci-sweeps.sqlite" --report ci-artifacts/sweep-report.html
bash scripts/check_report.sh ci-artifacts/sweep-report.html ci-artifacts/sweep-report.png objective-heatmap objective-histogram pbo-logits
"$BIN" sweep --config Examples/sweep-walkforward.yaml --store "${TMPDIR:-/tmp}/crocbot-ci-sweeps.sqlite" --report ci-artifacts/walkforward-report.html
bash scripts/check_report.sh ci-artifacts/walkforward-report.html ci-artifacts/walkforward-report.png objective-heatmap oos-equity
bash scripts/sweep_shards.sh "$BIN" "$CROCBOT_TEST_POSTGRES"

echo "== command-line smoke test (bad input exits non-zero with a typed message)"
bash scripts/cli_smoke.sh "$BIN"

echo "== the README tutorial runs as written"
bash scripts/tutorial.sh
bash scripts/check_report.sh models/googl-gbdt/evaluation.html ci-artifacts/evaluation-report.png confusion roc feature-importance equity
