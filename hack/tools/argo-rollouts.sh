#!/usr/bin/env bash
# Prints the directory of an Argo Rollouts controller build, making it once from source through the Go
# module proxy into $MODELSHIP_CACHE/bin/argo-rollouts-v$ARGO_ROLLOUTS_VERSION/:
#   rollouts-controller   the controller binary (cmd/rollouts-controller)
#   crds/                 the release's CRDs (the module's manifests/crds/*-crd.yaml)
# No downloads from URLs; nothing of Argo Rollouts is committed to this repository. Logs go to stderr;
# stdout is only the directory.
#
# Why: `npm run bench -- --only peers` (bench/peers.ts) runs Argo Rollouts beside the operator on the
# benchmark's own cluster, so that time to safe is measured for both on the same pods and failures.
# Only the benchmark builds it (on demand); CI and the tests never do.
#
# Why a helper module: the release's go.mod has replace lines (the Kubernetes staging modules pinned
# to one published version, and two forks), and `go install pkg@version` refuses a module with
# replace lines; so a generated module requires the pinned release and copies those lines as is.
#
# Why v1.10.0: the release measured by hand in issue 17 (the proxy also serves v1.10.1 and v1.10.2;
# ARGO_ROLLOUTS_VERSION=1.10.2 builds another into a directory of its own).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARGO_ROLLOUTS_VERSION="${ARGO_ROLLOUTS_VERSION:-1.10.0}"
dir="$MODELSHIP_CACHE/bin/argo-rollouts-v$ARGO_ROLLOUTS_VERSION"
bin="$dir/rollouts-controller"

# Two benchmark runs may ask at once: one builds, the other waits for it.
tool_begin argo-rollouts "$dir" "$bin" "$dir"
mod="github.com/argoproj/argo-rollouts@v$ARGO_ROLLOUTS_VERSION"
gomod="$(gomod_of "$mod")"
src="$(moddir_of "$mod")"
go_for "$gomod"
# The CRDs first: the binary, moved into place last, says the whole build is there.
rm -rf "$dir/crds"
mkdir -p "$dir/crds"
cp "$src"/manifests/crds/*-crd.yaml "$dir/crds/"
chmod u+w "$dir"/crds/*.yaml
say "building rollouts-controller v$ARGO_ROLLOUTS_VERSION into $dir (once; several minutes on 2 cores)"
build_in_helper_module "$dir" "$bin" github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION" \
  github.com/argoproj/argo-rollouts/cmd/rollouts-controller "$GO_FOR" \
  "-X github.com/argoproj/argo-rollouts/utils/version.version=$ARGO_ROLLOUTS_VERSION" "" "$(replace_lines_of "$gomod")"
echo "$dir"
