# Pinned versions of the local control plane. Sourced by the other hack/cluster scripts.
# Kubernetes 1.34 declares `go 1.24.0`, so any Go >= 1.24 builds it without fetching a toolchain.
K8S_VERSION="${K8S_VERSION:-1.34.4}"
# kwok 0.7.0 declares `go 1.24.0` and has no replace lines: `go install` works as is.
KWOK_VERSION="${KWOK_VERSION:-0.7.0}"
# Gateway API standard channel and Istio networking CRDs come from the Go module cache. Gateway API
# v1.4.x: the version Traefik v3.6 implements (hack/tools/traefik.sh; it watches BackendTLSPolicy v1,
# standard from v1.4); v1.4.1 is the newest v1.4 patch the Go module proxy serves.
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-1.4.1}"
ISTIO_API_VERSION="${ISTIO_API_VERSION:-1.31.4}"

MODELSHIP_CACHE="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"
BIN_DIR="$MODELSHIP_CACHE/bin/k8s-v$K8S_VERSION-kwok-v$KWOK_VERSION"

# Where a running local cluster keeps its state (certificates, etcd data, logs, pid files,
# kubeconfigs). One cluster per run directory.
RUN_DIR="${MODELSHIP_RUN_DIR:-$MODELSHIP_CACHE/run}"
KUBECONFIG_PATH="$RUN_DIR/kubeconfig"
# Loopback ports; change them to run a second cluster beside the first.
APISERVER_PORT="${MODELSHIP_APISERVER_PORT:-16443}"
ETCD_PORT="${MODELSHIP_ETCD_PORT:-12379}"
ETCD_PEER_PORT="$((ETCD_PORT + 1))"
KCM_PORT="${MODELSHIP_KCM_PORT:-16444}"
SCHEDULER_PORT="${MODELSHIP_SCHEDULER_PORT:-16445}"
KWOK_PORT="${MODELSHIP_KWOK_PORT:-16446}"
# Traefik's HTTP entry point, the local Gateway's listener (hack/cluster/gateway.sh).
GATEWAY_PORT="${MODELSHIP_GATEWAY_PORT:-$((APISERVER_PORT + 5))}"
# Fake nodes kwok manages (every second one advertises nvidia.com/gpu).
NODE_COUNT="${MODELSHIP_NODES:-4}"
