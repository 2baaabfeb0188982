#!/usr/bin/env bash
# Runs the README's Tutorial exactly as written: every line of the shell block between
# <!-- tutorial:start --> and <!-- tutorial:end --> is executed in order; any failure fails.
set -euo pipefail
cd "$(dirname "$0")/.."
commands=$(awk '/<!-- tutorial:start -->/{on=1; next} /<!-- tutorial:end -->/{on=0} on' README.md | grep -v '^```')
[ -n "$commands" ] || { echo "FAIL: no tutorial block in README.md"; exit 1; }
echo "$commands" | sed 's/^/tutorial> /'
bash -euo pipefail -c "$commands" > /tmp/crocbot-tutorial.log 2>&1 || { tail -40 /tmp/crocbot-tutorial.log; echo "FAIL: tutorial command failed"; exit 1; }
for f in output/report.html output/fast/report.html output/features.csv models/googl-gbdt/bundle.json models/googl-gbdt/report.html models/googl-gbdt/evaluation.html output/model/report.html output/sweep-gbdt.html output/tutorial-live.sqlite output/tutorial-live-universe.sqlite; do
    test -s "$f" || { echo "FAIL: tutorial did not produce $f"; exit 1; }
done
echo "ok: tutorial ran as written ($(echo "$commands" | wc -l) commands)"
