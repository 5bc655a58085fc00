#!/usr/bin/env bash
# Prints the path of versitygw, an S3-compatible object store that serves a directory (buckets are
# its folders), building it once from source through the Go module proxy into
# $MODELSHIP_CACHE/bin/versitygw-v$VERSITYGW_VERSION/. The real data plane (hack/dataplane/) runs it
# on its bridge as the S3 endpoint of the s3:// model fetch. Logs go to stderr; stdout is only the
# path.
#
# Built from a helper module that requires the pinned release (its go.mod has no replace lines).
# Its go.mod declares `go 1.25.0`: with an older local Go, the go command fetches that toolchain
# from the Go module proxy (golang.org/toolchain), as .ci/run does for Go itself.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSITYGW_VERSION="${VERSITYGW_VERSION:-1.8.0}"
dir="$MODELSHIP_CACHE/bin/versitygw-v$VERSITYGW_VERSION"
bin="$dir/versitygw"

tool_begin versitygw "$dir" "$bin"
gomod="$(gomod_of "github.com/versity/versitygw@v$VERSITYGW_VERSION")"
go_for "$gomod"
say "building versitygw v$VERSITYGW_VERSION into $dir (once; about a minute)"
build_in_helper_module "$dir" "$bin" github.com/versity/versitygw "$VERSITYGW_VERSION" \
  github.com/versity/versitygw/cmd/versitygw "$GO_FOR" ""
echo "$bin"
