#!/usr/bin/env bash
# CI stage `docs`: DocC for every library target. One `swift package dump-symbol-graph` extracts
# every module's public symbols from one build plan (the swift-docc-plugin's
# `generate-documentation` re-plans the whole build per target: about 70 s of its 110 here), then
# `docc convert` builds each target's catalog with its own symbol graphs, as the plugin does
# (public symbols, extension blocks). `swift package generate-documentation --target X` still works
# for one target (the plugin stays a dependency).
set -euo pipefail
cd "$(dirname "$0")/../.."
targets=(CrocSupport CrocCore CrocData CrocModels CrocStrategies CrocEngine CrocExecution CrocRuntime CrocPipelines CrocAgent CrocSweepPostgres)

echo "== symbol graphs of every module"
# From the release build the earlier stages made (a debug one would be a cold build of everything).
# Run alone (`.ci/run provision docs`), the stage builds it first: the symbol graphs are dumped for
# every module of the plan, the test modules included, which only the unit stage's build makes.
if [ -z "${CROCBOT_CI_RELEASE_BUILT:-}" ]; then
    swift build -c release --build-tests 2>&1 | tail -1
fi
swift package -c release dump-symbol-graph --minimum-access-level public --emit-extension-block-symbols | tail -1
graphs="$(dirname "$(swift build -c release --show-bin-path)")/symbolgraph"  # the same folder for either configuration
out=.build/ci-docs
rm -rf "$out"
mkdir -p "$out"
for t in "${targets[@]}"; do
    echo "== $t.docc"
    test -d "Sources/$t/$t.docc" || { echo "FAIL: Sources/$t/$t.docc is missing" >&2; exit 1; }
    test -s "$graphs/$t.symbols.json" || { echo "FAIL: no symbol graph for $t in $graphs" >&2; exit 1; }
    mkdir -p "$out/graphs-$t"
    # The module's graph and its extensions of other modules' types (`CrocX@Swift.symbols.json`).
    cp "$graphs/$t.symbols.json" $(compgen -G "$graphs/$t@*.symbols.json" || true) "$out/graphs-$t/"
    docc convert "Sources/$t/$t.docc" --additional-symbol-graph-dir "$out/graphs-$t" --output-path "$out/$t.doccarchive" \
        --fallback-display-name "$t" --fallback-bundle-identifier "$t" --fallback-default-module-kind "Framework"
    test -d "$out/$t.doccarchive/data/documentation" || { echo "FAIL: no documentation pages for $t" >&2; exit 1; }
done
echo "ok: documentation for ${#targets[@]} targets in $out"
