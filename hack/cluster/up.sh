#!/usr/bin/env bash
# Starts a local Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC, client-cert
# auth, service-account token signing), kube-controller-manager, kube-scheduler, and kwok standing
# in for kubelets on $NODE_COUNT fake nodes. Prints the admin kubeconfig path on stdout.
# Idempotent: on a running cluster it only prints the kubeconfig path. MODELSHIP_DATAPLANE=1 also
# starts the real data plane (hack/dataplane/up.sh).
# MODELSHIP_APISERVER_PROFILING=true serves the apiserver's /debug/pprof (for profiling a benchmark).
# MODELSHIP_KCM_EXTRA_ARGS adds flags to kube-controller-manager, e.g.
# --endpointslice-updates-batch-period=3s (a control plane slow to publish endpoints, as large
# clusters configure it; docs/benchmarks.md "Serving").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

all_alive() { for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done; }
# MODELSHIP_DATAPLANE=1 also starts the real data plane (hack/dataplane/up.sh, docs/data-plane.md).
dataplane() { if [ "${MODELSHIP_DATAPLANE:-}" = 1 ]; then bash "$here/../dataplane/up.sh" >/dev/null; fi; }
if all_alive && apiserver_ready; then
  say "already running; kubeconfig: $KUBECONFIG_PATH"
  dataplane
  echo "$KUBECONFIG_PATH"
  exit 0
fi
# A half-running cluster (one component died) is stopped first, then started afresh.
if [ -d "$RUN_DIR/pids" ]; then bash "$here/down.sh" >/dev/null 2>&1 || true; fi

bash "$here/build.sh"
command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the cluster's certificates (apt-get install openssl)."

for p in "$APISERVER_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port 127.0.0.1:$p is in use by another program. Stop it, or set MODELSHIP_APISERVER_PORT / MODELSHIP_ETCD_PORT / MODELSHIP_KCM_PORT / MODELSHIP_SCHEDULER_PORT / MODELSHIP_KWOK_PORT."
  fi
done

SECONDS=0
rm -rf "$RUN_DIR/etcd-data" "$RUN_DIR/pids"
mkdir -p "$RUN_DIR/pki" "$RUN_DIR/logs" "$RUN_DIR/pids" "$RUN_DIR/etcd-data"
chmod 700 "$RUN_DIR" "$RUN_DIR/pki"
pki="$RUN_DIR/pki"

# ---- certificates (EC P-256: fast to make; the service-account key is RSA for broad support)
if [ ! -f "$pki/ca.crt" ] || [ ! -f "$pki/.complete" ]; then
  say "making certificates in $pki"
  ossl() { openssl "$@" 2>/dev/null; }
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=modelship-local-ca" -keyout "$pki/ca.key" -out "$pki/ca.crt"
  # client_cert NAME CN [O]
  client_cert() {
    local subj="/CN=$2"; [ -n "${3:-}" ] && subj="/O=$3$subj"
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subj" \
      -keyout "$pki/$1.key" -out "$pki/$1.csr"
    ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
      -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') -out "$pki/$1.crt"
  }
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr"
  ossl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
    -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\n') \
    -out "$pki/apiserver.crt"
  client_cert admin modelship-admin system:masters
  client_cert kube-controller-manager system:kube-controller-manager
  client_cert kube-scheduler system:kube-scheduler
  client_cert kwok kwok-controller system:masters
  ossl genrsa -out "$pki/sa.key" 2048
  ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
  rm -f "$pki"/*.csr
  touch "$pki/.complete"
fi

write_kubeconfig "$KUBECONFIG_PATH" admin "client-certificate: $pki/admin.crt" "client-key: $pki/admin.key"
for c in kube-controller-manager kube-scheduler kwok; do
  write_kubeconfig "$RUN_DIR/$c.kubeconfig" "$c" "client-certificate: $pki/$c.crt" "client-key: $pki/$c.key"
done

# start NAME ARGS...: runs the binary in its own session so it outlives this script.
start() {
  local name="$1"; shift
  setsid "$BIN_DIR/$name" "$@" >"$RUN_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN_DIR/pids/$name.pid"
}
fail_start() {
  say "$1 did not become ready; last lines of $RUN_DIR/logs/$1.log:"
  tail -n 20 "$RUN_DIR/logs/$1.log" >&2 || true
  bash "$here/down.sh" >/dev/null 2>&1 || true
  exit 1
}

start etcd --name=modelship-local --data-dir="$RUN_DIR/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="modelship-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=4294967296 --log-level=warn
etcd_ready() { curl -fsS "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
wait_for etcd 30 etcd_ready || fail_start etcd

# The apiserver advertises 127.0.0.1, which the endpoints reconciler refuses for the `kubernetes`
# Service (loopback is not a valid endpoint), so that reconciler is off: nothing here routes to it.
start kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --authorization-mode=Node,RBAC \
  --endpoint-reconciler-type=none \
  --allow-privileged=false \
  --profiling="${MODELSHIP_APISERVER_PROFILING:-false}" \
  --audit-policy-file="$here/audit-policy.yaml" --audit-log-path="$RUN_DIR/logs/audit.log" \
  --audit-log-maxsize=200 --audit-log-maxbackup=1 --audit-log-format=json \
  --max-requests-inflight=800 --max-mutating-requests-inflight=400
wait_for kube-apiserver 60 apiserver_ready || fail_start kube-apiserver

start kube-controller-manager \
  --kubeconfig="$RUN_DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$RUN_DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$RUN_DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --use-service-account-credentials=true \
  --cluster-name=modelship-local --leader-elect=false \
  --kube-api-qps=200 --kube-api-burst=400 \
  --concurrent-deployment-syncs=20 --concurrent-replicaset-syncs=20 --concurrent-gc-syncs=40 \
  --node-monitor-grace-period=60s ${MODELSHIP_KCM_EXTRA_ARGS:-}
start kube-scheduler \
  --kubeconfig="$RUN_DIR/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$RUN_DIR/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$RUN_DIR/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false
start kwok --kubeconfig="$RUN_DIR/kwok.kubeconfig" --config="$here/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 --cidr=10.244.0.1/16 --node-ip=10.240.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT"

# Fake nodes: no taint, so ordinary pods land on them without tolerations.
nodes=""
for i in $(seq 0 $((NODE_COUNT - 1))); do
  gpu_res="" gpu_label=""
  if [ $((i % 2)) -eq 1 ]; then gpu_res='"nvidia.com/gpu": "4", '; gpu_label=', nvidia.com/gpu.present: "true"'; fi
  nodes="$nodes
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: \"0\"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64$gpu_label}
status:
  allocatable: {${gpu_res}cpu: \"64\", memory: 512Gi, pods: \"1000\"}
  capacity: {${gpu_res}cpu: \"64\", memory: 512Gi, pods: \"1000\"}"
done
echo "$nodes" | kubectl_ apply -f - >/dev/null

nodes_ready() { [ "$(kubectl_ get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True)" -ge "$NODE_COUNT" ]; }
wait_for "$NODE_COUNT kwok nodes" 60 nodes_ready || fail_start kwok
default_sa() { kubectl_ get serviceaccount default -n default >/dev/null 2>&1; }
wait_for "kube-controller-manager (default ServiceAccount)" 60 default_sa || fail_start kube-controller-manager
say "up in ${SECONDS}s; kubeconfig: $KUBECONFIG_PATH  (kubectl: $BIN_DIR/kubectl)"
dataplane
echo "$KUBECONFIG_PATH"
