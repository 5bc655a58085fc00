#!/usr/bin/env bash
# Prints where the local cluster lives, as KEY=VALUE lines, for the test harness and the demo.
set -euo pipefail
# shellcheck source=versions.sh
. "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
printf 'MODELSHIP_BIN_DIR=%s\nMODELSHIP_RUN_DIR=%s\nMODELSHIP_KUBECONFIG=%s\nMODELSHIP_KUBECTL=%s\n' \
  "$BIN_DIR" "$RUN_DIR" "$KUBECONFIG_PATH" "$BIN_DIR/kubectl"
