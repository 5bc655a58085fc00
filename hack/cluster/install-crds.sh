#!/usr/bin/env bash
# Installs modelship's CRDs (crds/, the one source of the schemas) into the local cluster and waits
# until they are served; with --routers, the Gateway API and Istio CRDs too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
kubectl_ apply --server-side --force-conflicts -f "$here/../../crds/" >/dev/null
crds_established modelversions.modelship.io modeldeployments.modelship.io
say "modelship CRDs installed"
if [ "${1:-}" = "--routers" ]; then bash "$here/install-router-crds.sh"; fi
