#!/usr/bin/env bash
# Prints the path of a Python virtual environment holding PyPI's `mlflow` (the tracking server and
# model registry, and the Python client the tests use to register a model version), installing it
# once into $MODELSHIP_CACHE/mlflow-<versions>/. test/e2e/import.test.ts starts `mlflow server`
# from it with a sqlite backend. Logs go to stderr; stdout is the path (bin/mlflow, bin/python).
#
# The full `mlflow` package, not `mlflow-skinny`: the skinny one has no tracking server. It pulls
# pandas, scikit-learn, pyarrow and the rest: a few hundred MB, installed once and kept.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/versions.sh
. "$here/../cluster/versions.sh"

# 3.17.2: mlflow 3.18.0 needs mlflow-tracing==3.18.0, which the package index here does not serve.
MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
# onnx builds the test's tiny model, logged with mlflow.onnx (an ONNX file is what Triton serves);
# mlflow.onnx's save_model imports onnxruntime.
ONNX_VERSION="${ONNX_VERSION:-1.23.2}"
ONNXRUNTIME_VERSION="${ONNXRUNTIME_VERSION:-1.32.0}"
SYSTEM_PYTHON="${MODELSHIP_SYSTEM_PYTHON:-/usr/bin/python3}"
dir="$MODELSHIP_CACHE/mlflow-$MLFLOW_VERSION-onnx-$ONNX_VERSION-ort-$ONNXRUNTIME_VERSION"

say() { printf '[tools:mlflow] %s\n' "$*" >&2; }
die() { printf '[tools:mlflow] error: %s\n' "$*" >&2; exit 1; }

if [ -f "$dir/.complete" ]; then echo "$dir/venv"; exit 0; fi
[ -x "$SYSTEM_PYTHON" ] || die "$SYSTEM_PYTHON is missing (apt-get install python3)"
"$SYSTEM_PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  die "venv for $SYSTEM_PYTHON is missing (as root: apt-get install python3-venv)"

mkdir -p "$dir"
exec 9>"$dir/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -f "$dir/.complete" ]; then echo "$dir/venv"; exit 0; fi

start=$SECONDS
rm -rf "$dir/venv"
say "installing mlflow $MLFLOW_VERSION from PyPI into a venv of $SYSTEM_PYTHON (once)"
"$SYSTEM_PYTHON" -m venv "$dir/venv" >&2 || die "python3 -m venv failed (see above)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/venv/bin/python" -m pip install --quiet --no-compile \
  "mlflow==$MLFLOW_VERSION" "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" >&2 ||
  die "pip install mlflow==$MLFLOW_VERSION onnx==$ONNX_VERSION onnxruntime==$ONNXRUNTIME_VERSION failed (see above)"
"$dir/venv/bin/mlflow" --version >&2 || die "the installed mlflow does not run (see above)"
touch "$dir/.complete"
say "installed in $((SECONDS - start)) s"
echo "$dir/venv"
