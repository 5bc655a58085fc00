#!/usr/bin/env bash
# The default images of model pods (src/runtimes/images.ts) against their registries; run before a
# release, on a machine that reaches them. Needs Go (crane is built once from the Go module proxy into
# $MODELSHIP_CACHE/bin/, like the local cluster's binaries).
#
#   hack/release/pin-images.sh --check   every pinned default (name:tag@sha256:...) must exist in its
#                                        registry as a multi-platform index; says when the tag has
#                                        moved since (the pin stays valid: a digest never changes)
#   hack/release/pin-images.sh           pins every default still given by tag only: name:tag becomes
#                                        name:tag@<the tag's index digest now>
#
# After pinning: `npm run golden:update` (the revision hashes change), remove the pinned names from
# NOT_YET_PINNED in src/runtimes/images.test.ts and the "not yet pinned" note in images.ts, and update
# the table in docs/runtimes.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../cluster/versions.sh
. "$here/../cluster/versions.sh"

# v0.20.6 declares `go 1.24`, the Go floor of this repository.
CRANE_VERSION="${CRANE_VERSION:-0.20.6}"
crane="$MODELSHIP_CACHE/bin/crane-v$CRANE_VERSION/crane"
file="$root/src/runtimes/images.ts"

say() { printf '[pin-images] %s\n' "$*" >&2; }
die() { printf '[pin-images] error: %s\n' "$*" >&2; exit 1; }

mode=pin
case "${1:-}" in
  --check) mode=check ;;
  '') ;;
  *) die "usage: $0 [--check]" ;;
esac

if [ ! -x "$crane" ]; then
  say "building crane v$CRANE_VERSION from the Go module proxy"
  GOBIN="$(dirname "$crane")" GOFLAGS=-mod=mod go install \
    "github.com/google/go-containerregistry/cmd/crane@v$CRANE_VERSION"
fi

# The values of DEFAULT_IMAGES: one `  key: 'reference',` per line.
mapfile -t refs < <(sed -n "s/^  [a-zA-Z0-9]*: '\([^' ]*\)',\$/\1/p" "$file" | sort -u)
[ "${#refs[@]}" -gt 0 ] || die "no image references found in $file"

# An index (manifest list) covers every platform; a single manifest would pin one architecture.
is_index() {
  "$crane" manifest "$1" | grep -Eq '"mediaType": *"application/vnd\.(oci\.image\.index\.v1|docker\.distribution\.manifest\.list\.v2)\+json"'
}

failed=0
for ref in "${refs[@]}"; do
  case "$ref" in
    *@sha256:*)
      name="${ref%@*}" digest="${ref#*@}" repo="${name%:*}"
      if [ "$mode" = pin ]; then continue; fi
      if ! is_index "$repo@$digest"; then
        say "FAIL $ref: not found, or not a multi-platform index"
        failed=1
        continue
      fi
      now="$("$crane" digest "$name")"
      if [ "$now" = "$digest" ]; then say "ok   $ref"; else say "ok   $ref (the tag now points to $now)"; fi
      ;;
    *)
      if [ "$mode" = check ]; then
        say "tag  $ref is not pinned"
        continue
      fi
      digest="$("$crane" digest "$ref")"
      is_index "${ref%:*}@$digest" || die "$ref@$digest is not a multi-platform index; pin it by hand"
      sed -i "s|'$ref',|'$ref@$digest',|" "$file"
      say "pinned $ref@$digest"
      ;;
  esac
done
exit "$failed"
