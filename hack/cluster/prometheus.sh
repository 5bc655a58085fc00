#!/usr/bin/env bash
# Runs a real Prometheus beside the local cluster, once per cluster: the first call starts it, later
# calls find it running and reuse it; `down.sh` (npm run cluster:down) stops it. It scrapes the
# metrics port of every modelship model-server pod it discovers through kubernetes_sd (role pod)
# against the local apiserver: the real Triton servers of the real data plane (hack/dataplane/),
# whose pods sit on a bridge this machine reaches. Every pod label becomes a target label
# (modelship.io/revision -> modelship_io_revision), plus namespace and pod: what metric analysis
# selects a revision's series by (docs/rollouts.md, "Metric analysis").
# Prints KEY=VALUE lines on stdout for the tests, the demo and the bench:
#   MODELSHIP_PROMETHEUS_URL              the HTTP API (loopback)
#   MODELSHIP_PROMETHEUS_SCRAPE_INTERVAL  the scrape interval
# `prometheus.sh stop` stops Prometheus alone (its data stays, a later start keeps it).
#
# Prometheus reads the pods as the ServiceAccount modelship-prometheus/prometheus, allowed only to
# list and watch pods, through a kubeconfig holding a TokenRequest token for it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

PROMETHEUS_PORT="${MODELSHIP_PROMETHEUS_PORT:-$((APISERVER_PORT + 7))}"
# Short, so that a regression shows in the analysis within seconds (docs/benchmarks.md).
SCRAPE_INTERVAL="${MODELSHIP_PROMETHEUS_SCRAPE_INTERVAL:-2s}"
NAMESPACE=modelship-prometheus
dir="$RUN_DIR/prometheus"
kc="$dir/kubeconfig"
url="http://127.0.0.1:$PROMETHEUS_PORT"

stop() {
  local p
  p="$(pid_of prometheus)"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/pids/prometheus.pid"
}

print_env() {
  printf 'MODELSHIP_PROMETHEUS_URL=%s\nMODELSHIP_PROMETHEUS_SCRAPE_INTERVAL=%s\n' "$url" "$SCRAPE_INTERVAL"
}

case "${1:-up}" in
  stop) stop; say "prometheus stopped"; exit 0 ;;
  up) ;;
  *) die "usage: prometheus.sh [up|stop]" ;;
esac

apiserver_ready || die "the local cluster is not running: start it with npm run cluster:up"
# A token lives 24 h: a Prometheus started more than 12 h ago is restarted with a fresh one.
if alive prometheus && [ -f "$kc" ] && [ -z "$(find "$kc" -mmin +720)" ]; then
  print_env
  exit 0
fi
stop

prometheus="$(bash "$here/../tools/prometheus.sh")"
mkdir -p "$dir/data" "$RUN_DIR/logs" "$RUN_DIR/pids"
kubectl_ apply --server-side --field-manager=modelship-local-prometheus -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $NAMESPACE}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: prometheus, namespace: $NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: modelship-local-prometheus}
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: modelship-local-prometheus}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: modelship-local-prometheus}
subjects:
  - {kind: ServiceAccount, name: prometheus, namespace: $NAMESPACE}
YAML
token="$(kubectl_ create token prometheus -n "$NAMESPACE" --duration=24h)"
write_kubeconfig "$kc" prometheus "token: $token"

# Only pods modelship made (they carry modelship.io/deployment), only their port named metrics
# (Triton 8002, TorchServe 8082), only running pods with an address: pods of kwok's simulated nodes
# have addresses nothing answers at, so they are left to the data plane's node, whose pods are real.
cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: $SCRAPE_INTERVAL
  scrape_timeout: $SCRAPE_INTERVAL
  evaluation_interval: $SCRAPE_INTERVAL
scrape_configs:
  - job_name: modelship-model-servers
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: $kc
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_label_modelship_io_deployment]
        regex: .+
        action: keep
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: metrics
        action: keep
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
      - source_labels: [__meta_kubernetes_pod_node_name]
        regex: ${MODELSHIP_PROMETHEUS_NODE_REGEX:-dataplane-.*}
        action: keep
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
YML

setsid "$prometheus" \
  --config.file="$dir/prometheus.yml" \
  --storage.tsdb.path="$dir/data" \
  --storage.tsdb.retention.time=1d \
  --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
  --log.level=info \
  >>"$RUN_DIR/logs/prometheus.log" 2>&1 </dev/null &
echo $! >"$RUN_DIR/pids/prometheus.pid"

ready() { alive prometheus || return 0; curl -fsS -o /dev/null "$url/-/ready" 2>/dev/null; }
if ! wait_for "prometheus ($url, scrape every $SCRAPE_INTERVAL)" 60 ready || ! alive prometheus; then
  say "prometheus did not become ready; last lines of $RUN_DIR/logs/prometheus.log:"
  tail -n 20 "$RUN_DIR/logs/prometheus.log" >&2 || true
  stop
  exit 1
fi
print_env
