#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and checks it: a PNG screenshot (kept as an
# artifact), every chart present in the rendered DOM, and no console errors.
# Usage: scripts/check_report.sh REPORT.html OUT.png [chart-id ...]
set -uo pipefail
report=$(realpath "$1"); png=$2; shift 2
charts=("$@")
[ ${#charts[@]} -gt 0 ] || charts=(price equity drawdown monthly trades rolling-sharpe)
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "FAIL: no chromium (apt-get install chromium)"; exit 1; }
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
log=$(mktemp); dom=$(mktemp)
"$browser" "${flags[@]}" --window-size=1280,4000 --screenshot="$png" "file://$report" 2>"$log" >/dev/null
"$browser" "${flags[@]}" --dump-dom "file://$report" 2>>"$log" >"$dom"
fail=0
[ -s "$png" ] || { echo "FAIL: no screenshot written"; fail=1; }
for c in "${charts[@]}"; do
    grep -q "data-chart=\"$c\"" "$dom" || { echo "FAIL: chart '$c' missing from the rendered page"; fail=1; }
done
svgs=$(grep -o "<svg" "$dom" | wc -l)
[ "$svgs" -ge "${#charts[@]}" ] || { echo "FAIL: only $svgs SVG elements rendered"; fail=1; }
if grep -E "CONSOLE\(|Uncaught|console\.error" "$log" | grep -v "^$" ; then echo "FAIL: console errors above"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: $report rendered to $png ($(stat -c %s "$png") bytes), ${#charts[@]} charts, $svgs SVGs, no console errors"
rm -f "$log" "$dom"
exit $fail
