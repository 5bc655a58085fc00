#!/usr/bin/env bash
# Prints the path of a directory holding PyPI's awscli (v1) and its dependencies for the system
# Python (pip install --target), installing it once into $MODELSHIP_CACHE/awscli-v$AWSCLI_VERSION/.
# The real data plane (hack/dataplane/) puts it where the amazon/aws-cli image has the AWS CLI, so
# that the rendered s3:// fetch (`aws s3 cp`) runs for real. Logs go to stderr; stdout is the path.
#
# The image has AWS CLI v2, which is not on PyPI; v1's `aws s3 cp` takes the same arguments and
# environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...). The system Python runs it (not pyenv's,
# whose files an unprivileged container user cannot reach), so pip installs for that Python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/versions.sh
. "$here/../cluster/versions.sh"

AWSCLI_VERSION="${AWSCLI_VERSION:-1.46.3}"
SYSTEM_PYTHON="${MODELSHIP_SYSTEM_PYTHON:-/usr/bin/python3}"
dir="$MODELSHIP_CACHE/awscli-v$AWSCLI_VERSION"

say() { printf '[tools:awscli] %s\n' "$*" >&2; }
die() { printf '[tools:awscli] error: %s\n' "$*" >&2; exit 1; }

if [ -f "$dir/.complete" ]; then echo "$dir/lib"; exit 0; fi
[ -x "$SYSTEM_PYTHON" ] || die "$SYSTEM_PYTHON is missing (apt-get install python3)"
"$SYSTEM_PYTHON" -m pip --version >/dev/null 2>&1 || die "pip for $SYSTEM_PYTHON is missing (as root: apt-get install python3-pip)"

mkdir -p "$dir"
exec 9>"$dir/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -f "$dir/.complete" ]; then echo "$dir/lib"; exit 0; fi

start=$SECONDS
rm -rf "$dir/lib"
say "installing awscli $AWSCLI_VERSION from PyPI for $SYSTEM_PYTHON (once)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$SYSTEM_PYTHON" -m pip install --quiet --no-compile --target "$dir/lib" \
  "awscli==$AWSCLI_VERSION" >&2 || die "pip install awscli==$AWSCLI_VERSION failed (see above)"
chmod -R a+rX "$dir/lib"
touch "$dir/.complete"
say "installed in $((SECONDS - start)) s"
echo "$dir/lib"
