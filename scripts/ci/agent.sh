#!/usr/bin/env bash
# CI stage `agent`: the refactor agent's seeded-bug benchmark on CrocBot itself
# (Benchmarks/AgentBugs; crocbot agent bench). After `unit` (the overlay validation starts from
# its debug build) and `end-to-end` (the release crocbot).
#   1. localisation of all 13 seeded bugs from the evidence their runs produced: fails below 90 %;
#   2. end to end, reduced to one bug: the agent against a scripted LLM server on 127.0.0.1
#      rejects a wrong fix (its validation fails) and validates, from the unit stage's build, and
#      applies the right one (the bugs are seeded into this clone in place; HEAD is restored
#      after). `--validate`, which times the known fix's validation on its own first, is left
#      out: the end-to-end run validates the same fix (about 60 s saved).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/env.sh
test -f .build/build.db || { echo "no build state: run the unit stage first" >&2; exit 1; }
BIN="$(swift build -c release --show-bin-path)/crocbot"
test -x "$BIN" || { echo "no release crocbot: run the end-to-end stage first" >&2; exit 1; }

echo "== localisation of every seeded bug"
"$BIN" agent bench --report "$OUT/agent-bench.json"

echo "== end to end (reduced): a wrong fix rejected by validation, the known fix validated and applied"
# Validation in release (the bench's default): the README's test configuration, whose build the
# earlier stages left warm.
"$BIN" agent bench --in-place --end-to-end --only simclient-submit-spin --build-configuration release \
    --report "$OUT/agent-bench-e2e.json"
git diff --quiet HEAD || { echo "the in-place benchmark left changes behind" >&2; exit 1; }
