#!/usr/bin/env bash
# Installs the Gateway API (standard channel) and Istio networking CRDs into the local cluster.
# Both come from the Go module cache: the modules sigs.k8s.io/gateway-api and istio.io/api carry
# their CRD YAML, so `go mod download` through the module proxy is all it takes (no URLs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
command -v go >/dev/null 2>&1 || die "Go is needed to fetch the router CRDs from the Go module proxy."
moddir() { (cd / && GOFLAGS= GOTOOLCHAIN=local go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'); }
gw="$(moddir "sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION")"
istio="$(moddir "istio.io/api@v$ISTIO_API_VERSION")"
[ -d "$gw/config/crd/standard" ] || die "no Gateway API CRDs in $gw"
[ -f "$istio/kubernetes/customresourcedefinitions.gen.yaml" ] || die "no Istio CRDs in $istio"
kubectl_ apply --server-side --force-conflicts -f "$gw/config/crd/standard/" >/dev/null
kubectl_ apply --server-side --force-conflicts -f "$istio/kubernetes/customresourcedefinitions.gen.yaml" >/dev/null
crds_established httproutes.gateway.networking.k8s.io virtualservices.networking.istio.io
say "Gateway API v$GATEWAY_API_VERSION and Istio v$ISTIO_API_VERSION CRDs installed"
