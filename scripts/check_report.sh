#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and checks it: a PNG screenshot (kept as an
# artifact), every chart present in the rendered DOM, every line chart's zoom, hover and reset
# working in the browser, and no console errors.
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
# Interactive charts: the inline script drives each line chart (zoom, hover, reset) with real
# events when the page is opened with #check-interaction, and marks every figure with the outcome.
"$browser" "${flags[@]}" --dump-dom "file://$report#check-interaction" 2>>"$log" >"$dom"
interactive=$(grep -oE '<figure class="ix[^"]*"' "$dom" | wc -l)
checked=$(grep -o 'data-check="ok"' "$dom" | wc -l)
if grep -q 'data-check="failed"' "$dom" || [ "$checked" -ne "$interactive" ]; then
    echo "FAIL: $checked of $interactive interactive charts zoomed, showed values and reset"; fail=1
fi
if grep -E "CONSOLE\(|Uncaught|console\.error" "$log" | grep -v "^$" ; then echo "FAIL: console errors above"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: $report rendered to $png ($(stat -c %s "$png") bytes), ${#charts[@]} charts, $svgs SVGs, $checked interactive (zoom, pan, hover checked), no console errors"
rm -f "$log" "$dom"
exit $fail
