#!/usr/bin/env bash
# Re-vendor GitHub's published API description and webhook examples into tests/data/.
#
#   scripts/refresh-test-data.sh            # run from the repository root
#
# Idempotent: with unchanged pins it rewrites byte-identical files. To bump, change the
# versions below, run once with the integrity checks failing, copy the new integrity
# strings from the error (or `npm view <pkg>@<ver> dist.integrity`), update VENDORED_ON,
# re-run, and commit. The list of vendored REST operations is OPERATIONS in
# scripts/openapi_subset.py.
set -euo pipefail

OPENAPI_PKG="@octokit/openapi"
OPENAPI_VERSION="23.0.2"
OPENAPI_INTEGRITY="sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg=="

WEBHOOKS_PKG="@octokit/webhooks-examples"
WEBHOOKS_VERSION="7.6.1"
WEBHOOKS_INTEGRITY="sha512-De6U3XB6O3DtCa7bKgCMzTHdeopqqZ6SNivMYJnK65ierKL1AnNIA0tkRYCRS7lwGT792d+Ps1WbfHlso6MynQ=="

# Date these pins were vendored (kept constant so re-runs are byte-identical).
VENDORED_ON="2026-11-21"

if [[ ! -f Cargo.toml || ! -d tests ]]; then
  echo "run from the repository root" >&2
  exit 1
fi
for tool in npm python3 tar; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# pack <spec> <expected-integrity> -> prints the path of the unpacked package dir
pack() {
  local spec="$1" want="$2" json got file dir
  json="$(cd "$tmp" && npm pack --json --loglevel=error "$spec")"
  got="$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["integrity"])')"
  file="$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["filename"])')"
  if [[ "$got" != "$want" ]]; then
    echo "integrity mismatch for $spec:" >&2
    echo "  expected $want" >&2
    echo "  got      $got" >&2
    exit 1
  fi
  dir="$tmp/${file%.tgz}"
  mkdir -p "$dir"
  tar -xzf "$tmp/$file" -C "$dir"
  printf '%s/package\n' "$dir"
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

openapi_dir="$(pack "$OPENAPI_PKG@$OPENAPI_VERSION" "$OPENAPI_INTEGRITY")"
webhooks_dir="$(pack "$WEBHOOKS_PKG@$WEBHOOKS_VERSION" "$WEBHOOKS_INTEGRITY")"

# --- OpenAPI subset ---------------------------------------------------------------
mkdir -p tests/data/openapi
python3 "$here/openapi_subset.py" \
  "$openapi_dir/generated/api.github.com.json" \
  tests/data/openapi/api.github.com.subset.json
cp "$openapi_dir/LICENSE" tests/data/openapi/LICENSE
cat > tests/data/openapi/SOURCE <<SRC
api.github.com.subset.json is a subset of GitHub's REST API description
(github/rest-api-description, with Octokit's x-octokit extensions) as published in:

  package:   $OPENAPI_PKG@$OPENAPI_VERSION (npm)
  file:      generated/api.github.com.json (OpenAPI 3.0.3, non-dereferenced)
  integrity: $OPENAPI_INTEGRITY
  licence:   MIT (see LICENSE in this directory)
  vendored:  $VENDORED_ON by scripts/refresh-test-data.sh

Only the operations listed in scripts/openapi_subset.py (OPERATIONS) and the x-webhooks
entries of the events in WEBHOOK_EVENTS are kept, with the
transitive closure of the #/components/* entries they reference; everything else is
verbatim. Do not edit by hand: change the list or the pin and re-run the script.
SRC

# --- Webhook examples ---------------------------------------------------------------
mkdir -p tests/data/webhooks
python3 "$here/webhook_examples.py" \
  "$webhooks_dir/api.github.com/index.json" \
  tests/data/webhooks/examples.json
cat > tests/data/webhooks/SOURCE <<SRC
examples.json holds every api.github.com example payload from:

  package:   $WEBHOOKS_PKG@$WEBHOOKS_VERSION (npm; source github.com/octokit/webhooks)
  file:      api.github.com/index.json
  integrity: $WEBHOOKS_INTEGRITY
  licence:   MIT (per package.json; the package ships no LICENSE file)
  vendored:  $VENDORED_ON by scripts/refresh-test-data.sh

The package has no registry_package examples; for each "package" example the script
appends a derived registry_package entry (key renamed, marked "derived_from": "package").

Format: a JSON array, one entry per line:
  {"event": "<X-GitHub-Event header value>", "action": "<payload.action or null>",
   "index": <n-th example for that event>, ["derived_from": "package",] "payload": {...}}
Do not edit by hand: re-run the script.
SRC

ls -l tests/data/openapi tests/data/webhooks
