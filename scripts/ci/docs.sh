#!/usr/bin/env bash
# CI stage `docs`: the API documentation (DocC catalogs of every library target) builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift package --disable-sandbox generate-documentation \
    --target CrocSupport --target CrocCore --target CrocData --target CrocModels --target CrocStrategies \
    --target CrocEngine --target CrocExecution --target CrocRuntime --target CrocPipelines --target CrocAgent --target CrocSweepPostgres
