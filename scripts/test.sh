#!/usr/bin/env bash
# The whole test suite: unit and end-to-end tests (real docker-registry, fake GitHub), then the
# real-world pointer corpus in ../shared/testdata/pointers. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

need_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "installing Debian's docker-registry (the real OCI registry the tests run against)"
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
fi
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
  python3 -m pip install --quiet pyyaml
fi

cargo test --all-targets --locked

corpus=../shared/testdata/pointers
if [ -f "$corpus/check_pointers.py" ]; then
  # `cargo test` built the binary already (for its CLI tests); building it again with
  # `cargo build` would recompile dependencies with other features.
  python3 "$corpus/check_pointers.py" "${CARGO_TARGET_DIR:-target}/debug/baton"
elif [ "${CI:-}" = true ]; then
  echo "FAIL: $corpus/check_pointers.py not found (the pointer corpus must sit beside the checkout)" >&2
  exit 1
else
  echo "note: $corpus not found; skipping the pointer corpus (CI fails instead)" >&2
fi
