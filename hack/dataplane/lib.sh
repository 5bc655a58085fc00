# Names and helpers shared by hack/dataplane/up.sh and down.sh. Sourced after hack/cluster/lib.sh
# (RUN_DIR, MODELSHIP_CACHE). Everything the data plane makes is named after its cluster's run
# directory, so clusters side by side (tests start second clusters) never touch each other's.
DP_DIR="$RUN_DIR/dataplane"
DP_CONFIG="$DP_DIR/config.json"
DP_NODE="${MODELSHIP_DATAPLANE_NODE:-dataplane-0}"
# Label and NoSchedule taint of the node; the tests' pods select and tolerate it.
DP_NODE_LABEL="modelship.test/dataplane"
DP_STORE_PORT=8443
DP_S3_PORT=7070
_dp_id="$(printf '%s' "$RUN_DIR" | sha1sum | cut -c1-4)"
# Interface names have at most 15 characters: msbrXXXX, msvXXXX<n>, msvXXXXp<n>.
DP_BRIDGE="msbr$_dp_id"
DP_NETNS_PREFIX="msdp-$_dp_id-"
DP_VETH_PREFIX="msv$_dp_id"

dp_say() { printf '[dataplane] %s\n' "$*" >&2; }
dp_die() { printf '[dataplane] error: %s\n' "$*" >&2; exit 1; }
dp_pid() { cat "$DP_DIR/pids/$1.pid" 2>/dev/null || true; }
dp_alive() { local p; p="$(dp_pid "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# The run directory written in the bridge's alias by up.sh.
dp_bridge_owner() { ip -o link show "$DP_BRIDGE" 2>/dev/null | sed -n 's#.* alias modelship-dataplane:\(.*\)$#\1#p'; }
# hack/cluster/lib.sh's wait_for reports through say: under the data plane's name here.
say() { dp_say "$@"; }
