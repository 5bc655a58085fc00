# Helpers shared by up.sh and down.sh.
# shellcheck source=versions.sh
. "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

say() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

pid_of() { cat "$RUN_DIR/pids/$1.pid" 2>/dev/null || true; }
alive() { local p; p="$(pid_of "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

kubectl_() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
# Waits until each named CRD is Established (60 s). Not `kubectl wait`: right after an apply a CRD
# can have no status.conditions yet, and `kubectl wait --for=condition=...` then fails at once
# ("accessor error: ... .status.conditions") instead of waiting (seen on a fresh apiserver).
crds_established() {
  local crd deadline=$((SECONDS + 60))
  for crd in "$@"; do
    until [ "$(kubectl_ get crd "$crd" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ]; do
      [ $SECONDS -lt $deadline ] || die "CRD $crd is not Established after 60 s"
      sleep 0.2
    done
  done
}

apiserver_ready() { kubectl_ get --raw /readyz >/dev/null 2>&1; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then return 1; fi
    sleep 0.2
  done
  say "$what ready (${SECONDS}s)"
}

# write_kubeconfig FILE USER CREDENTIAL...: a kubeconfig (mode 600) for the local apiserver as USER,
# whose credentials are the CREDENTIAL lines of its `user:` entry: `token: …`, or
# `client-certificate: …` and `client-key: …`.
write_kubeconfig() {
  local file="$1" user="$2"
  shift 2
  (
    umask 077
    {
      printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: modelship-local\n  cluster:\n'
      printf '    server: https://127.0.0.1:%s\n    certificate-authority: %s\n' "$APISERVER_PORT" "$RUN_DIR/pki/ca.crt"
      printf 'users:\n- name: "%s"\n  user:\n' "$user"
      printf '    %s\n' "$@"
      printf 'contexts:\n- name: modelship-local\n  context: {cluster: modelship-local, user: "%s"}\n' "$user"
      printf 'current-context: modelship-local\n'
    } >"$file"
  )
  chmod 600 "$file"
}
