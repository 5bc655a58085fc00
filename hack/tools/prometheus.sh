#!/usr/bin/env bash
# Prints the path of a prometheus binary, building it once from source through the Go module proxy
# into $MODELSHIP_CACHE/bin/prometheus-v$PROMETHEUS_VERSION/ (beside the local cluster's binaries).
# No downloads from URLs. Logs go to stderr; stdout is only the path.
#
# Why: metric analysis (docs/rollouts.md, "Analysis") reads a real Prometheus that scrapes the real
# Triton servers of the data plane; the tests and benchmarks start this binary beside the cluster
# (hack/cluster/prometheus.sh).
#
# The Go module github.com/prometheus/prometheus numbers Prometheus 3.x releases v0.3xx.y. The build
# keeps only the Kubernetes service discovery (tags remove_all_sd,enable_kubernetes_sd: the file and
# HTTP discoveries are always in) and does not embed the web UI's assets (no builtinassets tag): the
# HTTP API, which is all modelship reads, is complete without them.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-0.316.0}"
dir="$MODELSHIP_CACHE/bin/prometheus-v$PROMETHEUS_VERSION"
bin="$dir/prometheus"

tool_begin prometheus "$dir" "$bin"
gomod="$(gomod_of "github.com/prometheus/prometheus@v$PROMETHEUS_VERSION")"
go_for "$gomod"
say "building prometheus v$PROMETHEUS_VERSION into $dir (once; about 4 minutes on 2 cores)"
build_in_helper_module "$dir" "$bin" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" \
  github.com/prometheus/prometheus/cmd/prometheus "$GO_FOR" \
  "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" remove_all_sd,enable_kubernetes_sd
echo "$bin"
