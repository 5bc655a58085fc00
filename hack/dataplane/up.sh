#!/usr/bin/env bash
# Starts the real data plane beside a running local cluster (hack/cluster/up.sh): a Node whose pods
# run as real processes, in network namespaces on a bridge of their own, and two model stores on
# that bridge (HTTPS, and S3 by versitygw). Needs root (network and mount namespaces) and Linux
# x86-64; installs Triton and the AWS CLI from PyPI and builds versitygw on first use (hack/tools/). Prints the path of the data plane's config (JSON) on
# stdout. Idempotent: on a running data plane it only prints the path. Stop it with
# hack/dataplane/down.sh (hack/cluster/down.sh does too). How it works: docs/data-plane.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../cluster/lib.sh
. "$here/../cluster/lib.sh"
# shellcheck source=lib.sh
. "$here/lib.sh"

# ---- what the platform must offer. `up.sh --check` only checks: exit 2 and the reason on stdout
# when this machine cannot run the data plane at all (the tests then skip, naming the reason).
blocker() {
  local missing=() c
  for c in ip nsenter unshare setpriv chroot mount openssl curl python3; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  if [ ${#missing[@]} -gt 0 ]; then echo "missing commands: ${missing[*]} (Debian: apt-get install iproute2 util-linux coreutils openssl curl python3)"; return; fi
  if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then echo "needs Linux x86-64 (Triton's wheel), this is $(uname -s) $(uname -m)"; return; fi
  if [ "$(id -u)" -ne 0 ]; then echo "needs root: it makes network namespaces, a bridge and mount namespaces"; return; fi
  if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then echo "the kernel offers no overlay filesystem"; return; fi
  if ! ip netns add "${DP_NETNS_PREFIX}check" 2>/dev/null; then echo "cannot make network namespaces (ip netns add failed)"; return; fi
  ip netns del "${DP_NETNS_PREFIX}check" 2>/dev/null || true
}
why="$(blocker)"
if [ "${1:-}" = --check ]; then
  if [ -n "$why" ]; then echo "$why"; exit 2; fi
  exit 0
fi
[ -z "$why" ] || dp_die "this machine cannot run the real data plane: $why"
apiserver_ready || dp_die "the local cluster is not running: start it first (npm run cluster:up)"

if dp_alive agent && dp_alive store && dp_alive s3 && [ -f "$DP_CONFIG" ]; then
  dp_say "already running; config: $DP_CONFIG"
  echo "$DP_CONFIG"
  exit 0
fi
# A half-running data plane is stopped first, then started afresh.
bash "$here/down.sh" >/dev/null 2>&1 || true
SECONDS=0
mkdir -p "$DP_DIR/pids" "$DP_DIR/pki" "$DP_DIR/store" "$RUN_DIR/logs"
chmod 700 "$DP_DIR/pki"

# ---- Triton (cached in ~/.cache/modelship) and the agent (compiled when its sources changed)
triton="$(bash "$root/hack/tools/triton.sh")" || dp_die "Triton could not be installed (see above)"
awscli="$(bash "$root/hack/tools/awscli.sh")" || dp_die "the AWS CLI could not be installed (see above)"
versitygw="$(bash "$root/hack/tools/versitygw.sh")" || dp_die "versitygw could not be built (see above)"
agent_js="$root/dist-dataplane/test/harness/dataplane/agent.js"
if [ ! -f "$agent_js" ] || [ -n "$(find "$root/test/harness/dataplane" "$root/src/k8s" -name '*.ts' -newer "$agent_js" 2>/dev/null | head -n 1)" ]; then
  dp_say "compiling the agent (tsconfig.dataplane.json)"
  (cd "$root" && bash hack/node.sh node node_modules/typescript/bin/tsc -p tsconfig.dataplane.json) \
    || dp_die "the agent does not compile (see above)"
  touch "$agent_js"
fi
node_bin="$(bash "$root/hack/node.sh")"

# ---- the bridge and its /24: the first 10.250.X.0/24 that no interface of this machine uses
# (several clusters may run side by side, each with its own bridge). One at a time picks.
exec 8>"$MODELSHIP_CACHE/dataplane-net.lock"
command -v flock >/dev/null 2>&1 && flock 8
if ! ip link show "$DP_BRIDGE" >/dev/null 2>&1; then
  subnet=""
  for x in $(seq 0 255); do
    if ! ip -4 addr show | grep -q "inet 10\.250\.$x\." && [ -z "$(ip -4 route show "10.250.$x.0/24" 2>/dev/null)" ]; then
      subnet="10.250.$x"
      break
    fi
  done
  [ -n "$subnet" ] || dp_die "no free 10.250.X.0/24 on this machine"
  ip link add "$DP_BRIDGE" type bridge
  # The alias names the owner, so down.sh never removes another cluster's bridge.
  ip link set dev "$DP_BRIDGE" alias "modelship-dataplane:$RUN_DIR"
  ip addr add "$subnet.1/24" dev "$DP_BRIDGE"
  ip link set "$DP_BRIDGE" up
fi
flock -u 8 2>/dev/null || true
[ "$(dp_bridge_owner)" = "$RUN_DIR" ] || dp_die "bridge $DP_BRIDGE belongs to another cluster ($(dp_bridge_owner))"
gateway="$(ip -4 -o addr show dev "$DP_BRIDGE" | sed -n 's#.* inet \([0-9.]*\)/24 .*#\1#p' | head -n 1)"
[ -n "$gateway" ] || dp_die "bridge $DP_BRIDGE has no /24 address"
cidr="${gateway%.1}.0/24"

# ---- certificates: the data plane's CA and the model store's certificate; the node's client
# certificate from the cluster's CA (user system:node:NAME in group system:nodes, which the
# apiserver's Node authorizer confines to what a kubelet may do).
pki="$DP_DIR/pki"
ossl() { openssl "$@" 2>/dev/null; }
if [ ! -f "$pki/.complete" ] || [ "$(cat "$pki/.complete")" != "$gateway" ]; then
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=modelship-dataplane-ca" -keyout "$pki/ca.key" -out "$pki/ca.crt"
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=model-store" \
    -keyout "$pki/store.key" -out "$pki/store.csr"
  ossl x509 -req -in "$pki/store.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
    -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:%s\n' "$gateway") \
    -out "$pki/store.crt"
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/O=system:nodes/CN=system:node:$DP_NODE" -keyout "$pki/node.key" -out "$pki/node.csr"
  ossl x509 -req -in "$pki/node.csr" -CA "$RUN_DIR/pki/ca.crt" -CAkey "$RUN_DIR/pki/ca.key" -CAcreateserial -days 3650 \
    -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') -out "$pki/node.crt"
  rm -f "$pki"/*.csr
  echo "$gateway" > "$pki/.complete"
fi
chmod 644 "$pki/store.key"
# What the curl image trusts: the system's CAs and the data plane's (images.ts).
cat /etc/ssl/certs/ca-certificates.crt "$pki/ca.crt" > "$DP_DIR/ca-bundle.pem" 2>/dev/null \
  || cp "$pki/ca.crt" "$DP_DIR/ca-bundle.pem"
chmod 644 "$DP_DIR/ca-bundle.pem"
write_kubeconfig "$DP_DIR/node.kubeconfig" "system:node:$DP_NODE" "client-certificate: $pki/node.crt" "client-key: $pki/node.key"

# ---- the model store
store_url="https://$gateway:$DP_STORE_PORT"
setsid python3 "$here/model-store.py" "$gateway" "$DP_STORE_PORT" "$DP_DIR/store" "$pki/store.crt" "$pki/store.key" \
  >"$RUN_DIR/logs/dataplane-store.log" 2>&1 </dev/null &
echo $! > "$DP_DIR/pids/store.pid"
store_ready() { curl -fsS --cacert "$pki/ca.crt" -o /dev/null "$store_url/" 2>/dev/null; }
wait_for "model store $store_url" 20 store_ready || { tail -n 20 "$RUN_DIR/logs/dataplane-store.log" >&2; bash "$here/down.sh" >/dev/null 2>&1; dp_die "the model store did not start"; }

# ---- the S3 store: versitygw serving $DP_DIR/s3 (a bucket is a folder), plain HTTP on the bridge
mkdir -p "$DP_DIR/s3"
if [ ! -f "$DP_DIR/s3.env" ]; then
  printf 'ROOT_ACCESS_KEY=modelship\nROOT_SECRET_KEY=%s\n' "$(openssl rand -hex 16)" > "$DP_DIR/s3.env"
  chmod 600 "$DP_DIR/s3.env"
fi
# shellcheck disable=SC1091
. "$DP_DIR/s3.env"
s3_endpoint="http://$gateway:$DP_S3_PORT"
ROOT_ACCESS_KEY="$ROOT_ACCESS_KEY" ROOT_SECRET_KEY="$ROOT_SECRET_KEY" setsid "$versitygw" --port "$gateway:$DP_S3_PORT" \
  posix "$DP_DIR/s3" >"$RUN_DIR/logs/dataplane-s3.log" 2>&1 </dev/null &
echo $! > "$DP_DIR/pids/s3.pid"
# An unsigned request gets 403 from a live S3 endpoint.
s3_ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$s3_endpoint/" 2>/dev/null)" = 403 ]; }
wait_for "S3 store $s3_endpoint" 20 s3_ready || { tail -n 20 "$RUN_DIR/logs/dataplane-s3.log" >&2; bash "$here/down.sh" >/dev/null 2>&1; dp_die "the S3 store did not start"; }

# ---- the agent
# A node's podCIDR cannot change (the apiserver answers 422 to the agent's update), and the node's
# own identity may not delete it: a node left by an earlier run on another subnet is removed here,
# and the pod garbage collector removes the pods it held.
old_cidr="$(kubectl_ get node "$DP_NODE" -o jsonpath='{.spec.podCIDR}' 2>/dev/null || true)"
if [ -n "$old_cidr" ] && [ "$old_cidr" != "$cidr" ]; then
  dp_say "node $DP_NODE is registered with pod subnet $old_cidr, not $cidr: replacing it"
  kubectl_ delete node "$DP_NODE" --wait=true >/dev/null
fi
cat > "$DP_CONFIG" <<JSON
{
  "nodeName": "$DP_NODE",
  "nodeLabel": "$DP_NODE_LABEL",
  "kubeconfig": "$DP_DIR/node.kubeconfig",
  "stateDir": "$DP_DIR",
  "bridge": "$DP_BRIDGE",
  "gateway": "$gateway",
  "cidr": "$cidr",
  "prefixLength": 24,
  "netnsPrefix": "$DP_NETNS_PREFIX",
  "vethPrefix": "$DP_VETH_PREFIX",
  "images": { "tritonDir": "$triton", "caBundle": "$DP_DIR/ca-bundle.pem", "awscliDir": "$awscli", "filesDir": "$here/image-files" },
  "store": { "url": "$store_url", "dir": "$DP_DIR/store", "caFile": "$pki/ca.crt" },
  "s3": { "endpoint": "$s3_endpoint", "dir": "$DP_DIR/s3", "accessKey": "$ROOT_ACCESS_KEY", "secretKey": "$ROOT_SECRET_KEY" }
}
JSON
setsid "$node_bin" --enable-source-maps "$agent_js" "$DP_CONFIG" >"$RUN_DIR/logs/dataplane-agent.log" 2>&1 </dev/null &
echo $! > "$DP_DIR/pids/agent.pid"
node_ready() { [ "$(kubectl_ get node "$DP_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
wait_for "node $DP_NODE" 30 node_ready || { tail -n 20 "$RUN_DIR/logs/dataplane-agent.log" >&2; bash "$here/down.sh" >/dev/null 2>&1; dp_die "the agent did not register its node"; }
dp_say "up in ${SECONDS}s: node $DP_NODE, pods on $DP_BRIDGE $cidr, model stores $store_url and $s3_endpoint (S3); config: $DP_CONFIG"
echo "$DP_CONFIG"
