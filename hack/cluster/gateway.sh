#!/usr/bin/env bash
# Runs Traefik as the local cluster's Gateway API data plane, once per cluster: the first call
# starts it, later calls find it running and reuse it; `down.sh` (npm run cluster:down) stops it.
# The cluster must be up. Prints KEY=VALUE lines on stdout for the tests, the demo and the bench:
#   MODELSHIP_GATEWAY_URL        where the Gateway's HTTP listener answers (loopback)
#   MODELSHIP_GATEWAY_NAMESPACE  the Gateway's namespace, for a ModelDeployment's parentRefs
#   MODELSHIP_GATEWAY_NAME       the Gateway's name
#   MODELSHIP_GATEWAY_LISTENER   the listener's name (parentRefs sectionName)
# `gateway.sh stop` stops Traefik alone.
#
# Traefik runs its Gateway API provider and its kubernetescrd provider: the second loads the
# TraefikServices that traffic.gatewayApi.mirrorWith: TraefikService writes (Traefik's own mirroring;
# its Gateway provider does not implement RequestMirror), and lets the Gateway provider route a
# backendRef of group traefik.io, kind TraefikService to one (docs/decisions/0012-traefik-mirroring.md).
# The traefik.io CRDs come from the traefik module in the Go module cache (no URLs).
#
# Traefik runs as the ServiceAccount modelship-gateway/traefik with a ClusterRole of exactly what
# its Gateway API and CRD providers read and write (docs/decisions/0006-traefik-local-gateway.md), through a
# kubeconfig holding a TokenRequest token for it: the audit log names its writes, and it cannot touch
# an HTTPRoute's spec, only its status.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

GATEWAY_NAMESPACE=modelship-gateway
GATEWAY_NAME=traefik
GATEWAY_CLASS=traefik
LISTENER=web
# Traefik's Gateway provider reports itself under this controller name; a GatewayClass naming
# another controller is ignored by it.
CONTROLLER_NAME=traefik.io/gateway-controller
dir="$RUN_DIR/gateway"
kc="$dir/kubeconfig"
# The providers and their settings. allowEmptyServices: a Service without a serving endpoint (a
# mirror target whose pod is not Ready) must not fail the whole TraefikService, which would fail the
# stable revision's backend with it (measured: 28,070 of 31,874 requests answered 404 while the mirror
# target's pod restarted, without it). A Traefik started with other flags (an older version of this
# script: the Gateway provider only) is restarted.
PROVIDER_FLAGS=(
  --providers.kubernetesgateway=true
  --providers.kubernetesgateway.statusaddress.ip=127.0.0.1
  --providers.kubernetescrd=true
  --providers.kubernetescrd.allowEmptyServices=true
  --providers.kubernetescrd.disableClusterScopeResources=true
)

stop() {
  local p
  p="$(pid_of traefik)"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/pids/traefik.pid"
}

print_env() {
  printf 'MODELSHIP_GATEWAY_URL=http://127.0.0.1:%s\nMODELSHIP_GATEWAY_NAMESPACE=%s\nMODELSHIP_GATEWAY_NAME=%s\nMODELSHIP_GATEWAY_LISTENER=%s\n' \
    "$GATEWAY_PORT" "$GATEWAY_NAMESPACE" "$GATEWAY_NAME" "$LISTENER"
}

case "${1:-up}" in
  stop) stop; say "traefik stopped"; exit 0 ;;
  up) ;;
  *) die "usage: gateway.sh [up|stop]" ;;
esac

apiserver_ready || die "the local cluster is not running: start it with npm run cluster:up"

# A token lives 24 h; a Traefik started more than 12 h ago is restarted with a fresh one, so a
# long-lived local cluster never ends up with a gateway that the apiserver no longer answers.
# Also restarted: a Traefik older than a Gateway API CRD (a test deletes and re-installs the
# HTTPRoute CRD). Its watches would come back by themselves, but only after client-go's back-off
# (up to 30 s), longer than a test waits for a route to be accepted.
crds_newer_than_traefik() {
  local started newest
  started="$(date -u -r "$RUN_DIR/pids/traefik.pid" +%Y-%m-%dT%H:%M:%SZ)"
  newest="$(kubectl_ get crd -o jsonpath='{range .items[*]}{.spec.group} {.metadata.creationTimestamp}{"\n"}{end}' |
    awk '$1 == "gateway.networking.k8s.io" || $1 == "traefik.io" {print $2}' | sort | tail -n 1)"
  [[ "$newest" > "$started" ]]
}
if alive traefik && [ -f "$kc" ] && [ -z "$(find "$kc" -mmin +720)" ] && ! crds_newer_than_traefik &&
  [ "$(cat "$dir/providers" 2>/dev/null)" = "${PROVIDER_FLAGS[*]}" ] &&
  kubectl_ get crd traefikservices.traefik.io >/dev/null 2>&1; then
  print_env
  exit 0
fi
stop

traefik="$(bash "$here/../tools/traefik.sh")"

# Traefik v3.6 lists BackendTLSPolicy v1, which the Gateway API standard channel has from v1.4: on a
# cluster whose router CRDs are older than versions.sh says, install them first.
has_v14() { kubectl_ get crd backendtlspolicies.gateway.networking.k8s.io >/dev/null 2>&1; }
if ! has_v14; then bash "$here/install-router-crds.sh"; fi
# Without it Traefik starts, retries the list forever and never programs the Gateway.
has_v14 || die "Traefik needs the Gateway API v1.4 CRDs (BackendTLSPolicy v1); GATEWAY_API_VERSION is $GATEWAY_API_VERSION"

# The kubernetescrd provider lists every traefik.io kind and does not start without them.
bash "$here/install-traefik-crds.sh"

mkdir -p "$dir" "$RUN_DIR/logs" "$RUN_DIR/pids"
# A Gateway left from a Traefik stopped earlier still says Programmed: start from a fresh one, so
# that the wait below sees this Traefik's status.
kubectl_ delete gateway "$GATEWAY_NAME" -n "$GATEWAY_NAMESPACE" --ignore-not-found --wait=true >/dev/null 2>&1 || true
kubectl_ apply --server-side --field-manager=modelship-local-gateway -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $GATEWAY_NAMESPACE}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: $GATEWAY_NAMESPACE}
---
# What Traefik's Gateway API provider (standard channel, no OpenTelemetry) lists and watches in
# every namespace, and the statuses it writes. Secrets: it watches them for listener TLS
# certificates and does not start until that watch has synced, so it needs list/watch even with
# only an HTTP listener.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: modelship-local-traefik}
rules:
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [list, watch]
  - apiGroups: [""]
    resources: [services, configmaps, secrets]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
  - apiGroups: [gateway.networking.k8s.io]
    resources: [gatewayclasses, gateways, httproutes, grpcroutes, referencegrants, backendtlspolicies]
    verbs: [get, list, watch]
  - apiGroups: [gateway.networking.k8s.io]
    resources: [gatewayclasses/status, gateways/status, httproutes/status, grpcroutes/status, backendtlspolicies/status]
    verbs: [update]
  # The kubernetescrd provider: every traefik.io kind (it lists them all); nodes are not read
  # (disableClusterScopeResources).
  - apiGroups: [traefik.io]
    resources: [ingressroutes, ingressroutetcps, ingressrouteudps, middlewares, middlewaretcps, serverstransports, serverstransporttcps, tlsoptions, tlsstores, traefikservices]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: modelship-local-traefik}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: modelship-local-traefik}
subjects:
  - {kind: ServiceAccount, name: traefik, namespace: $GATEWAY_NAMESPACE}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: $GATEWAY_CLASS}
spec:
  controllerName: $CONTROLLER_NAME
---
# Traefik serves a listener on the entry point whose address has the listener's port, so the port
# is the one Traefik listens on. Routes from every namespace may attach (tests use temporary ones).
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: $GATEWAY_NAME, namespace: $GATEWAY_NAMESPACE}
spec:
  gatewayClassName: $GATEWAY_CLASS
  listeners:
    - name: $LISTENER
      protocol: HTTP
      port: $GATEWAY_PORT
      allowedRoutes:
        namespaces: {from: All}
YAML

token="$(kubectl_ create token traefik -n "$GATEWAY_NAMESPACE" --duration=24h)"
write_kubeconfig "$kc" traefik "token: $token"

# Loopback only: clients on this machine reach the Gateway; Traefik itself reaches the backends at
# whatever addresses their EndpointSlices hold (it does not go through Service IPs). No calls home.
KUBECONFIG="$kc" setsid "$traefik" \
  "${PROVIDER_FLAGS[@]}" \
  --entrypoints.web.address="127.0.0.1:$GATEWAY_PORT" \
  --global.checknewversion=false --global.sendanonymoususage=false \
  --log.level=INFO --log.nocolor=true \
  >"$RUN_DIR/logs/traefik.log" 2>&1 </dev/null &
echo $! >"$RUN_DIR/pids/traefik.pid"
echo "${PROVIDER_FLAGS[*]}" >"$dir/providers"

# Ready: Traefik has synced its caches and written the Gateway's status (it finds the entry point
# for the listener's port, else Programmed stays False with the reason in the message).
programmed() {
  alive traefik || return 0
  [ "$(kubectl_ get gateway "$GATEWAY_NAME" -n "$GATEWAY_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}' 2>/dev/null)" = True ]
}
if ! wait_for "traefik (Gateway $GATEWAY_NAMESPACE/$GATEWAY_NAME on 127.0.0.1:$GATEWAY_PORT)" 60 programmed || ! alive traefik; then
  say "traefik did not program the Gateway; last lines of $RUN_DIR/logs/traefik.log:"
  tail -n 20 "$RUN_DIR/logs/traefik.log" >&2 || true
  kubectl_ get gateway "$GATEWAY_NAME" -n "$GATEWAY_NAMESPACE" -o jsonpath='{.status}' >&2 2>/dev/null || true
  stop
  exit 1
fi
print_env
