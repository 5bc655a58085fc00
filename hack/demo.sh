#!/usr/bin/env bash
# `npm run demo`: brings up the local control plane (building it the first time), installs the
# modelship CRDs and applies the examples, then shows what kubectl shows. With --keep the cluster
# stays up; otherwise it is stopped at the end (Ctrl-C too).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cluster/lib.sh
. "$here/cluster/lib.sh"
keep=false
[ "${1:-}" = "--keep" ] && keep=true
cleanup() { if ! $keep; then bash "$here/cluster/down.sh"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$here/cluster/up.sh" >/dev/null
bash "$here/cluster/install-crds.sh"
ns=modelship-demo
kubectl_ create namespace "$ns" --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "Applying examples/triton and examples/torchserve into namespace $ns"
kubectl_ apply -n "$ns" -f "$here/../examples/triton/" -f "$here/../examples/torchserve/"
step "kubectl get modelship -n $ns   (ModelVersions and ModelDeployments, with their printer columns)"
kubectl_ get modelship -n "$ns"
step "An invalid manifest is rejected by the apiserver before it is stored:"
f="$(ls "$here/../examples/invalid/"*.yaml | head -n 1)"
echo "\$ kubectl apply -f examples/invalid/$(basename "$f")"
kubectl_ apply -n "$ns" -f "$f" 2>&1 || true
step "kubectl explain modeldeployment.spec.strategy"
kubectl_ explain modeldeployment.spec.strategy | head -n 30
if $keep; then
  step "The cluster stays up. Try:"
  echo "  export KUBECONFIG=$KUBECONFIG_PATH"
  echo "  alias kubectl=$BIN_DIR/kubectl"
  echo "  kubectl get md,mv -A"
  echo "  npm run cluster:down    # when done"
fi
