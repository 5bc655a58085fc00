#!/usr/bin/env bash
# Prints the path of a Triton Inference Server tree laid out as the Triton image has it under
# /opt/tritonserver (bin/tritonserver, lib/, backends/python/), installing it once into
# $MODELSHIP_CACHE/triton/pytriton-v$PYTRITON_VERSION/ from PyPI's nvidia-pytriton wheel. The
# real data plane (hack/dataplane/) binds this tree at /opt/tritonserver for the pods that run the
# Triton image. Logs go to stderr; stdout is only the path.
#
# The wheel (manylinux_2_35 x86-64, about 55 MB) carries a real tritonserver binary, its shared
# libraries (nvidia_pytriton.libs/) and the Python backend with one backend stub per Python
# version. The binary's RPATH includes $ORIGIN/../lib, so the libraries go to lib/ as in the image.
# The stub links the system's libpython3.X.so.1.0 (Debian's), so a model's imports come from
# Debian's Python: numpy from the python3-numpy package (pip's numpy is not seen). Only the Python
# backend is in the wheel: no ONNX Runtime, TensorRT or PyTorch backends.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/versions.sh
. "$here/../cluster/versions.sh"

PYTRITON_VERSION="${PYTRITON_VERSION:-0.7.0}"
dir="$MODELSHIP_CACHE/triton/pytriton-v$PYTRITON_VERSION"
tree="$dir/tritonserver"
# The Debian Python the backend stub links against (not pyenv's or a venv's).
SYSTEM_PYTHON="${MODELSHIP_SYSTEM_PYTHON:-/usr/bin/python3}"

say() { printf '[tools:triton] %s\n' "$*" >&2; }
die() { printf '[tools:triton] error: %s\n' "$*" >&2; exit 1; }

# What every run checks, installed or not: the stub needs the system Python and numpy.
check_python() {
  [ -x "$SYSTEM_PYTHON" ] || die "$SYSTEM_PYTHON is missing: Triton's Python backend stub links the system's libpython (apt-get install python3)"
  "$SYSTEM_PYTHON" -c 'import numpy' 2>/dev/null \
    || die "numpy is missing for $SYSTEM_PYTHON: Triton's Python backend imports it (as root: apt-get install python3-numpy)"
}

if [ -x "$tree/bin/tritonserver" ] && [ -f "$dir/.complete" ]; then check_python; echo "$tree"; exit 0; fi

[ "$(uname -m)" = x86_64 ] || die "nvidia-pytriton ships tritonserver for x86-64 only (this machine: $(uname -m))"
check_python
pyver="$("$SYSTEM_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ -e "/usr/lib/$(uname -m)-linux-gnu/libpython$pyver.so.1.0" ] \
  || die "libpython$pyver.so.1.0 is missing: the backend stub links it (as root: apt-get install libpython$pyver)"

mkdir -p "$dir"
# Two callers may ask at once (the CI step and a test run): one installs, the other waits for it.
exec 9>"$dir/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -x "$tree/bin/tritonserver" ] && [ -f "$dir/.complete" ]; then echo "$tree"; exit 0; fi

pip=""
for p in pip3 pip "$SYSTEM_PYTHON -m pip"; do
  if $p --version >/dev/null 2>&1; then pip="$p"; break; fi
done
[ -n "$pip" ] || die "pip is needed to download nvidia-pytriton from PyPI (apt-get install python3-pip)"

start=$SECONDS
tmp="$(mktemp -d "$dir/.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "downloading nvidia-pytriton $PYTRITON_VERSION from PyPI (once; about 55 MB)"
# Only the wheel, for this platform, whatever Python pip itself runs on: nothing is installed.
$pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_35_x86_64 \
  --python-version "$pyver" -d "$tmp/wheel" "nvidia-pytriton==$PYTRITON_VERSION" >&2 \
  || die "pip download nvidia-pytriton==$PYTRITON_VERSION failed (see above)"
wheel="$(ls "$tmp"/wheel/nvidia_pytriton-*.whl)"
"$SYSTEM_PYTHON" -m zipfile -e "$wheel" "$tmp/x"
src="$tmp/x/pytriton/tritonserver"
stub="$src/python_backend_stubs/$pyver/triton_python_backend_stub"
[ -f "$stub" ] || die "the wheel has no Python backend stub for Python $pyver (it has: $(ls "$src/python_backend_stubs" | tr '\n' ' '))"

mkdir -p "$tmp/tritonserver"
cp -r "$src/bin" "$src/backends" "$src/caches" "$tmp/tritonserver/"
cp -r "$tmp/x/nvidia_pytriton.libs" "$tmp/tritonserver/lib"
cp "$stub" "$tmp/tritonserver/backends/python/"
chmod 755 "$tmp/tritonserver/bin/tritonserver" "$tmp/tritonserver/backends/python/triton_python_backend_stub"
# Readable by the unprivileged user the pods run as (the wheel's files keep the umask's modes).
chmod -R a+rX "$tmp/tritonserver"
missing="$(LD_LIBRARY_PATH="$tmp/tritonserver/lib" ldd "$tmp/tritonserver/backends/python/triton_python_backend_stub" 2>&1 | grep 'not found' || true)"
[ -z "$missing" ] || die "the backend stub misses libraries: $missing"
missing="$(ldd "$tmp/tritonserver/bin/tritonserver" 2>&1 | grep 'not found' || true)"
[ -z "$missing" ] || die "tritonserver misses libraries: $missing"

rm -rf "$tree"
mv "$tmp/tritonserver" "$tree"
echo "nvidia-pytriton $PYTRITON_VERSION, Python $pyver stub" > "$dir/.complete"
say "installed Triton from nvidia-pytriton $PYTRITON_VERSION in $((SECONDS - start)) s: $tree ($(du -sh "$tree" | cut -f1))"
echo "$tree"
