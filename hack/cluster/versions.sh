# Pinned versions of the local control plane. Sourced by the other hack/cluster scripts.
# Kubernetes 1.34 declares `go 1.24.0`, so any Go >= 1.24 builds it without fetching a toolchain.
K8S_VERSION="${K8S_VERSION:-1.34.4}"
# kwok 0.7.0 declares `go 1.24.0` and has no replace lines: `go install` works as is.
KWOK_VERSION="${KWOK_VERSION:-0.7.0}"
# Gateway API standard channel and Istio networking CRDs come from the Go module cache.
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-1.3.0}"
ISTIO_API_VERSION="${ISTIO_API_VERSION:-1.27.0}"

MODELSHIP_CACHE="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"
BIN_DIR="$MODELSHIP_CACHE/bin/k8s-v$K8S_VERSION-kwok-v$KWOK_VERSION"
