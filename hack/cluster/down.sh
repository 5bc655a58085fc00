#!/usr/bin/env bash
# Stops every process of the local cluster (TERM, then KILL after 10 s), Traefik and Prometheus
# included (hack/cluster/gateway.sh, prometheus.sh) and the real data plane if one runs (hack/dataplane/down.sh), and
# removes its etcd data and Traefik's token. Logs stay in $RUN_DIR/logs for a post-mortem. Safe to
# run when nothing is running.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

# The real data plane first (hack/dataplane/): its pods' processes, namespaces and bridge.
bash "$here/../dataplane/down.sh" || true

pids=()
for c in prometheus traefik kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  p="$(pid_of "$c")"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; pids+=("$p"); fi
done
# Also catch strays from a run whose pid files were lost: anything started from our bin dir
# with a path inside our run dir on its command line. The trailing slash matters: the default run
# dir ~/.cache/modelship/run is a prefix of every other one (run-<name>), whose clusters must live on.
while read -r p; do
  [ -n "$p" ] || continue
  case " ${pids[*]} " in *" $p "*) continue ;; esac
  kill -TERM "$p" 2>/dev/null || true; pids+=("$p")
done < <(pgrep -f -- "$BIN_DIR/.*$RUN_DIR/" || true; pgrep -f -- "/traefik .*--entrypoints.web.address=127.0.0.1:$GATEWAY_PORT( |$)" || true
  pgrep -f -- "/prometheus .*--storage.tsdb.path=$RUN_DIR/prometheus/data( |$)" || true)
deadline=$((SECONDS + 10))
for p in "${pids[@]}"; do
  while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
done
rm -rf "$RUN_DIR/pids" "$RUN_DIR/etcd-data" "$RUN_DIR/gateway" "$RUN_DIR/prometheus"
say "stopped (${#pids[@]} processes)"
