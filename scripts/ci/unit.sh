#!/usr/bin/env bash
# CI stage `unit`: the debug build of every target and the README's test command, `swift test`
# (unit, property, fuzz and integration tests against local venues; no network).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/env.sh
: "${CROCBOT_ONNXRUNTIME:?run .ci/run provision first (onnxruntime)}"
: "${CROCBOT_TEST_POSTGRES:?run .ci/run provision first (postgresql)}"

echo "== layering: every target imports only targets below it"
python3 scripts/check_layers.py

echo "== build (debug, all targets)"
swift build --build-tests

echo "== tests: swift test"
swift test

echo "== the blueprint's sample wiring runs"
swift run blueprint-wiring
