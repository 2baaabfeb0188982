#!/usr/bin/env bash
# CI stage `unit`: the README's test command, `swift test -c release --disable-testable-imports`: the
# release build of every target (the one the main job then runs) and the tests on it (unit,
# property, fuzz and integration tests against local venues; no network).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/env.sh
: "${CROCBOT_ONNXRUNTIME:?run .ci/run provision first (onnxruntime)}"
: "${CROCBOT_TEST_POSTGRES:?run .ci/run provision first (postgresql)}"

echo "== layering: every target imports only targets below it"
python3 scripts/check_layers.py

echo "== format: swift format lint --strict with the repository's .swift-format"
swift format lint --strict --parallel -r Sources Tests Benchmarks Examples/BlueprintWiring Package.swift

echo "== tests: ${CROCBOT_TEST_COMMAND:-swift test -c release --disable-testable-imports} (it builds every target first); a warning in our own code fails the stage"
# One command: a separate `swift build --build-tests` first made `swift test` plan the whole
# ~1,000-step build again (about 20 s) only to find nothing to do.
# .ci/run sets CROCBOT_TEST_COMMAND to the README's test command; run alone, the same default.
${CROCBOT_TEST_COMMAND:-swift test -c release --disable-testable-imports} 2>&1 | tee /tmp/crocbot-build.log
if grep -E "^$PWD/(Sources|Tests|Benchmarks|Examples)/[^:]+:[0-9]+:[0-9]+: warning:" /tmp/crocbot-build.log; then
    echo "FAIL: the build has warnings in CrocBot's own code (above); dependencies' warnings are not ours" >&2
    exit 1
fi

echo "== the blueprint's sample wiring runs"
# The built binary: `swift run` would re-plan the whole build first (about 15 s) to find it built.
"$(swift build -c release --show-bin-path)/blueprint-wiring"
