#!/usr/bin/env bash
# Installs Traefik's CRDs (group traefik.io: TraefikService, IngressRoute, Middleware, ...) of the
# release hack/tools/traefik.sh builds, into the local cluster, once: from the traefik module in the
# Go module cache, which carries them (docs/content/reference/dynamic-configuration/), so no URL is
# fetched. Traefik's kubernetescrd provider lists every one of these kinds and does not start without
# them; modelship writes TraefikServices for traffic.gatewayApi.mirrorWith: TraefikService.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
apiserver_ready || die "the local cluster is not running: start it with npm run cluster:up"
if kubectl_ get crd traefikservices.traefik.io >/dev/null 2>&1; then exit 0; fi
command -v go >/dev/null 2>&1 || die "Go is needed to fetch the Traefik CRDs from the Go module proxy."
# The release hack/tools/traefik.sh pins (read from it: the CRDs need the module, not the binary).
version="v${TRAEFIK_VERSION:-$(sed -n 's/^TRAEFIK_VERSION="${TRAEFIK_VERSION:-\(.*\)}"$/\1/p' "$here/../tools/traefik.sh")}"
[ "$version" != v ] || die "no TRAEFIK_VERSION in hack/tools/traefik.sh"
mod="$(cd / && GOFLAGS= GOTOOLCHAIN=local go mod download -json "github.com/traefik/traefik/v3@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
crds="$mod/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
[ -f "$crds" ] || die "no Traefik CRDs in the traefik $version module ($crds)"
kubectl_ apply --server-side --force-conflicts -f "$crds" >/dev/null
crds_established traefikservices.traefik.io ingressroutes.traefik.io middlewares.traefik.io
say "Traefik $version CRDs (traefik.io) installed"
