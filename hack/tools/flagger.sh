#!/usr/bin/env bash
# Prints the directory of a Flagger build, making it once from source through the Go module proxy
# into $MODELSHIP_CACHE/bin/flagger-v$FLAGGER_VERSION/:
#   flagger   the controller binary (cmd/flagger)
#   crds/     the release's CRDs (the module's artifacts/flagger/crd.yaml)
# No downloads from URLs; nothing of Flagger is committed to this repository. Logs go to stderr;
# stdout is only the directory.
#
# Why: `npm run bench -- --only peers` (bench/peers.ts) runs Flagger (its `kubernetes` provider,
# blue/green) beside the operator on the benchmark's own cluster. Only the benchmark builds it.
#
# Why v1.36.1: the newest version the Go module proxy serves for github.com/fluxcd/flagger (2024-03;
# later releases are not published as module versions there). Its go.mod has no replace lines; the
# helper module is kept so both peer scripts build the same way.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLAGGER_VERSION="${FLAGGER_VERSION:-1.36.1}"
dir="$MODELSHIP_CACHE/bin/flagger-v$FLAGGER_VERSION"
bin="$dir/flagger"

# Two benchmark runs may ask at once: one builds, the other waits for it.
tool_begin flagger "$dir" "$bin" "$dir"
mod="github.com/fluxcd/flagger@v$FLAGGER_VERSION"
gomod="$(gomod_of "$mod")"
src="$(moddir_of "$mod")"
go_for "$gomod"
# The CRDs first: the binary, moved into place last, says the whole build is there.
rm -rf "$dir/crds"
mkdir -p "$dir/crds"
cp "$src"/artifacts/flagger/crd.yaml "$dir/crds/"
chmod u+w "$dir"/crds/*.yaml
say "building flagger v$FLAGGER_VERSION into $dir (once; several minutes on 2 cores)"
build_in_helper_module "$dir" "$bin" github.com/fluxcd/flagger "$FLAGGER_VERSION" \
  github.com/fluxcd/flagger/cmd/flagger "$GO_FOR" "" "" "$(replace_lines_of "$gomod")"
echo "$dir"
