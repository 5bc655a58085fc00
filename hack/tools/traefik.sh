#!/usr/bin/env bash
# Prints the path of a traefik binary, building it once from source through the Go module proxy
# into $MODELSHIP_CACHE/bin/traefik-v$TRAEFIK_VERSION/ (beside the local cluster's binaries). No
# downloads from URLs. Logs go to stderr; stdout is only the path.
#
# Why Traefik: it is the Gateway API implementation that builds here without a container image or
# an Envoy binary (docs/decisions/0006-traefik-local-gateway.md). The tests run it against the
# local apiserver so that requests really follow the HTTPRoutes modelship writes.
#
# Why a helper module: traefik's go.mod has replace lines (go-http-auth, mux and minheap point to
# the containous forks) and `go install pkg@version` refuses a module with replace lines, so a
# generated module requires traefik at the pinned release and copies those replace lines from the
# release's own go.mod; everything else resolves to the versions that go.mod requires.
#
# Why v3.6.x: v3.7 needs github.com/traefik/traefik/dynamic/ext, a nested module the Go module
# proxy does not serve, and DNS providers whose modules the proxy refuses. v3.6 implements the
# Gateway API v1.4 (it requires sigs.k8s.io/gateway-api v1.4.0; hack/cluster/versions.sh).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRAEFIK_VERSION="${TRAEFIK_VERSION:-3.6.12}"
# Used only when the installed Go is older than the release's go directive (CI bootstraps Go
# 1.24): the go command fetches this toolchain from the Go module proxy (golang.org/toolchain).
TRAEFIK_GO_TOOLCHAIN="${TRAEFIK_GO_TOOLCHAIN:-go1.25.14}"
dir="$MODELSHIP_CACHE/bin/traefik-v$TRAEFIK_VERSION"
bin="$dir/traefik"

tool_begin traefik "$dir" "$bin"
gomod="$(gomod_of "github.com/traefik/traefik/v3@v$TRAEFIK_VERSION")"
go_for "$gomod" "$TRAEFIK_GO_TOOLCHAIN"
say "building traefik v$TRAEFIK_VERSION into $dir (once; about 4 minutes on 2 cores)"
# The version string is the one traefik's release build stamps, so `traefik version` reports it.
build_in_helper_module "$dir" "$bin" github.com/traefik/traefik/v3 "$TRAEFIK_VERSION" \
  github.com/traefik/traefik/v3/cmd/traefik "$GO_FOR" \
  "-X github.com/traefik/traefik/v3/pkg/version.Version=v$TRAEFIK_VERSION" "" "$(replace_lines_of "$gomod")"
say "$("$bin" version | sed -n 's/^Version:[[:space:]]*/version /p')"
echo "$bin"
