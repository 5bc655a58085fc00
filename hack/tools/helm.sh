#!/usr/bin/env bash
# Prints the path of a helm binary, building it once from source through the Go module proxy into
# $MODELSHIP_CACHE/bin/helm-v$HELM_VERSION/ (beside the local cluster's binaries). No downloads
# from URLs: helm.sh/helm/v3 is an ordinary Go module, with no replace lines in its go.mod, so
# `go install <pkg>@<version>` builds it as released. Logs go to stderr; stdout is only the path.
#
# The ldflags are the ones helm's Makefile sets for a release: the version `helm version` reports,
# and the Kubernetes version `helm template`/`helm lint` assume without a cluster (taken from the
# k8s.io/client-go that release requires), so a chart renders the same here as with the official
# binary.
#
# Why v3.19.x: its go.mod declares `go 1.24.0`, the Go floor of this repository (README, 0002), and
# it is built on the Kubernetes 1.34 libraries (k8s.io/client-go v0.34), the version of the local
# control plane. Newer v3 minors need Go 1.25 (v3.20) and 1.26 (v3.21).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_VERSION="${HELM_VERSION:-3.19.5}"
dir="$MODELSHIP_CACHE/bin/helm-v$HELM_VERSION"
bin="$dir/helm"

tool_begin helm "$dir" "$bin"
gomod="$(gomod_of "helm.sh/helm/v3@v$HELM_VERSION")"
go_for "$gomod"
if [ -n "$(replace_lines_of "$gomod")" ]; then
  die "$gomod has replace lines: go install cannot build it as is; build it through a helper module (build_in_helper_module in hack/tools/lib.sh)"
fi
client_go="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod")"
[ -n "$client_go" ] || die "found no k8s.io/client-go requirement in $gomod"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags="$ldflags -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$client_go"
done

say "building helm v$HELM_VERSION into $dir (once; a few minutes)"
start=$SECONDS
tmp="$(mktemp -d "$dir/.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" \
  || die "go install of helm v$HELM_VERSION failed (see above)"
mv "$tmp/helm" "$bin"
say "built $("$bin" version --short) in $((SECONDS - start)) s"
echo "$bin"
