#!/usr/bin/env bash
# Prints the path of glua, gopher-lua's command-line interpreter, building it once from source
# through the Go module proxy into $MODELSHIP_CACHE/bin/glua-v$GOPHER_LUA_VERSION/ (beside the
# local cluster's binaries). Logs go to stderr; stdout is only the path.
#
# Why gopher-lua: Argo CD runs resource health checks (argocd/health/*.lua) in gopher-lua, a Lua 5.1
# implementation in Go, so test/unit/argocd-health.test.ts runs them in that interpreter rather
# than in PUC Lua 5.4, which accepts constructs that Argo CD would refuse (integer division, bit
# operators, goto, <const>). Built from a helper module that requires the pinned release, so the
# build needs only Go, already a prerequisite.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# v1.1.2 is the newest release; its go.mod declares `go 1.23`, below the repository's Go floor.
GOPHER_LUA_VERSION="${GOPHER_LUA_VERSION:-1.1.2}"
dir="$MODELSHIP_CACHE/bin/glua-v$GOPHER_LUA_VERSION"
bin="$dir/glua"

tool_begin glua "$dir" "$bin"
gomod="$(gomod_of "github.com/yuin/gopher-lua@v$GOPHER_LUA_VERSION")"
go_for "$gomod"
say "building glua (github.com/yuin/gopher-lua v$GOPHER_LUA_VERSION) into $dir (once)"
build_in_helper_module "$dir" "$bin" github.com/yuin/gopher-lua "$GOPHER_LUA_VERSION" \
  github.com/yuin/gopher-lua/cmd/glua "$GO_FOR" ""
echo "$bin"
