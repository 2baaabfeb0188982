#!/usr/bin/env bash
# CI stage `provision`: what the other stages need from the machine. ONNX Runtime and pytest
# (PyPI), PostgreSQL and Chromium (Debian). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

echo "== toolchain"
swift --version

echo "== ONNX Runtime (onnxruntime wheel) for the ONNX adapter's tests; pytest for the agent's pytest validation test"
python3 -m pip install --quiet onnxruntime pytest

echo "== PostgreSQL for the sharded-sweep tests; Chromium for the HTML report checks"
missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

source scripts/ci/env.sh
echo "CROCBOT_ONNXRUNTIME=${CROCBOT_ONNXRUNTIME:?onnxruntime did not install}"
pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "psql -qAtc \"$1\""; else sudo -u postgres psql -qAtc "$1"; fi; }
for _ in $(seq 1 30); do pg "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
[ "$(pg "SELECT 1 FROM pg_roles WHERE rolname = 'crocbot'")" = 1 ] || pg "CREATE USER crocbot WITH PASSWORD 'crocbot'"
[ "$(pg "SELECT 1 FROM pg_database WHERE datname = 'crocbot_ci'")" = 1 ] || pg "CREATE DATABASE crocbot_ci OWNER crocbot"
psql "$CROCBOT_TEST_POSTGRES" -qAtc "SELECT 'postgres ok: ' || version()"
