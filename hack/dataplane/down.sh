#!/usr/bin/env bash
# Stops the real data plane of this cluster's run directory and removes everything it made: the
# agent (which stops its pods' processes first), the model stores, every process still in one of
# its network namespaces, the namespaces, the bridge, the pods' volumes. Logs stay in
# $RUN_DIR/logs. Safe to run when nothing is running, and without root when nothing was made.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/lib.sh
. "$here/../cluster/lib.sh"
# shellcheck source=lib.sh
. "$here/lib.sh"

[ -d "$DP_DIR" ] || exit 0
stopped=0
# The agent first: on SIGTERM it stops every pod's processes (3 s grace) and removes their sandboxes.
stop_pid() {
  local p="$1" secs="$2"
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  local deadline=$((SECONDS + secs))
  while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  stopped=$((stopped + 1))
}
stop_pid "$(dp_pid agent)" 15
stop_pid "$(dp_pid store)" 5
stop_pid "$(dp_pid s3)" 5
# Strays whose pid files were lost: only processes started with this data plane's own files.
while read -r p; do stop_pid "$p" 5; done < <(pgrep -f -- "agent.js $DP_CONFIG" || true)
while read -r p; do stop_pid "$p" 5; done < <(pgrep -f -- "model-store.py .* $DP_DIR/store " || true)
while read -r p; do stop_pid "$p" 5; done < <(pgrep -f -- "versitygw .*posix $DP_DIR/s3\$" || true)

if command -v ip >/dev/null 2>&1; then
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$DP_NETNS_PREFIX" || true); do
    for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null && stopped=$((stopped + 1)) || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  # Host ends of veth pairs whose namespace is already gone.
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$DP_VETH_PREFIX" || true); do
    ip link del "$l" 2>/dev/null || true
  done
  if [ "$(dp_bridge_owner)" = "$RUN_DIR" ]; then ip link del "$DP_BRIDGE" 2>/dev/null || true; fi
fi
rm -rf "$DP_DIR/pods" "$DP_DIR/pids"
dp_say "stopped ($stopped processes)"
