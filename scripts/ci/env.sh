# Sourced by every CI stage: the environment the tests and checks read. Cheap and idempotent, so
# `.ci/run STAGE` works on its own once `.ci/run provision` has run on the machine.
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

# ONNX Runtime for the ONNX adapter's tests (the onnxruntime wheel ships libonnxruntime.so).
if CROCBOT_ONNXRUNTIME=$(python3 -c "import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so*'))[0])" 2>/dev/null); then
    export CROCBOT_ONNXRUNTIME
fi

# PostgreSQL for the sharded-sweep tests: a local cluster on 127.0.0.1, started if it is not running.
if command -v pg_ctlcluster >/dev/null 2>&1; then
    PGVERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
    $SUDO pg_ctlcluster "$PGVERSION" main start 2>/dev/null || $SUDO pg_ctlcluster "$PGVERSION" main status >/dev/null
    export CROCBOT_TEST_POSTGRES=postgres://crocbot:crocbot@127.0.0.1:5432/crocbot_ci
fi

OUT="${TMPDIR:-/tmp}/crocbot-ci-output"
mkdir -p "$OUT" ci-artifacts
