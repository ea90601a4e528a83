#!/usr/bin/env bash
# Checks deploy/: the Kustomize base (deploy/kubernetes) and the example overlay
# (deploy/overlay-example) render; the rendered manifests and secret.example.yaml validate
# against the Kubernetes OpenAPI schemas, strictly and OFFLINE (kubernetes-validate bundles
# them), for the oldest and newest Kubernetes versions below; deploy/lint.py then checks what a
# schema cannot (pod hardening, Secret/ConfigMap references, known settings, no secrets in the
# ConfigMap, selectors, NetworkPolicy ports) and that deploy/github-app.yml asks for exactly
# baton's permissions and events.
#
# Installs what it needs, idempotently:
#   - kustomize >= v4: `kubectl kustomize` (kubectl >= 1.21) or `kustomize build`; else Debian's
#     kubernetes-client if its version is new enough (bookworm's 1.20 embeds kustomize v2,
#     which cannot render overlays that list a directory under `resources:`); else
#     `go install sigs.k8s.io/kustomize/kustomize/v5` when a Go toolchain is present.
#   - kubernetes-validate (PyPI, pinned) in a virtualenv under $BATON_TOOLS_DIR
#     (default ~/.cache/baton-tools).
# Exit status: 0 all good; 1 a problem — or, with CI=true, a tool that could not be installed
# (without CI, missing tools are reported and their checks skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

KV_VERSION=1.37.0                                 # kubernetes-validate, bundles schemas 1.25…1.37
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"     # oldest supported (preStop sleep) and newest
KUSTOMIZE_GO_VERSION=v5.5.0
TOOLS="${BATON_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/baton-tools}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

need_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
skipped=0
missing() { # a tool could not be installed
  if [ "${CI:-}" = true ]; then
    echo "FAIL: $*" >&2
    exit 1
  fi
  echo "note: $* — skipping what needs it (CI fails instead)" >&2
  skipped=1
}

# --- kustomize ------------------------------------------------------------------------------
RENDER=()
kubectl_ok() { # kubectl >= 1.21 embeds kustomize >= v4
  command -v kubectl >/dev/null 2>&1 || return 1
  local minor
  minor="$(kubectl version --client -o json 2>/dev/null |
    python3 -c 'import json,sys; print(int(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+")))' 2>/dev/null)" ||
    return 1
  [ "$minor" -ge 21 ]
}
kustomize_ok() { # a standalone kustomize >= v4
  local v
  v="$("$1" version 2>/dev/null | grep -o 'v[0-9][0-9]*\.' | head -1 | tr -dc 0-9)" || return 1
  [ -n "$v" ] && [ "$v" -ge 4 ]
}
find_kustomize() {
  if kubectl_ok; then
    RENDER=(kubectl kustomize)
  elif command -v kustomize >/dev/null 2>&1 && kustomize_ok kustomize; then
    RENDER=(kustomize build)
  elif [ -x "$TOOLS/bin/kustomize" ] && kustomize_ok "$TOOLS/bin/kustomize"; then
    RENDER=("$TOOLS/bin/kustomize" build)
  else
    return 1
  fi
}
apt_candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
if ! find_kustomize; then
  if command -v apt-cache >/dev/null 2>&1; then
    cand="$(apt_candidate kubernetes-client)"
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
      need_root apt-get update -qq || true
      cand="$(apt_candidate kubernetes-client)"
    fi
    # Debian versions look like 1.20.5+really1.20.2-1.1+deb12u1: take the minor after "really"
    # when present (that is what is packaged), else the first one.
    minor="$(echo "$cand" | sed -E 's/.*really//' | cut -d. -f2 | tr -dc 0-9)"
    if [ -n "$minor" ] && [ "$minor" -ge 21 ] && ! command -v kubectl >/dev/null 2>&1; then
      echo "installing Debian's kubernetes-client $cand (kubectl kustomize)"
      need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
    elif [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
      echo "note: Debian's kubernetes-client $cand embeds kustomize older than v4; not using it" >&2
    fi
  fi
  if ! find_kustomize && command -v go >/dev/null 2>&1; then
    echo "installing kustomize $KUSTOMIZE_GO_VERSION with go install"
    GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_GO_VERSION" || true
  fi
  find_kustomize || missing "no kustomize >= v4 (install kubectl >= 1.21 or kustomize v5)"
fi

# --- kubernetes-validate --------------------------------------------------------------------
VENV="$TOOLS/kubernetes-validate-$KV_VERSION"
KV="$VENV/bin/kubernetes-validate"
PY=python3
install_kv() {
  python3 -m venv "$VENV" >/dev/null &&
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KV_VERSION" || return 1
  # lint.py reads TOML: tomllib from Python 3.11 on, tomli before.
  "$VENV/bin/python" -c 'import tomllib' 2>/dev/null ||
    "$VENV/bin/pip" install --quiet --disable-pip-version-check tomli
}
if [ ! -x "$KV" ]; then
  echo "installing kubernetes-validate $KV_VERSION (PyPI) into $VENV"
  rm -rf "$VENV"
  install_kv || rm -rf "$VENV"
fi
if [ -x "$KV" ]; then
  PY="$VENV/bin/python" # has PyYAML (a dependency of kubernetes-validate)
else
  missing "kubernetes-validate $KV_VERSION could not be installed from PyPI"
  python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml ||
    missing "PyYAML could not be installed"
fi

# --- render ---------------------------------------------------------------------------------
rendered=()
if [ ${#RENDER[@]} -gt 0 ]; then
  echo "rendering with: ${RENDER[*]} ($("${RENDER[0]}" version --client 2>/dev/null | tr '\n' ' ' ||
    "${RENDER[0]}" version 2>/dev/null | head -1))"
  for dir in deploy/kubernetes deploy/overlay-example; do
    out="$OUT/$(basename "$dir").yaml"
    if ! "${RENDER[@]}" "$dir" >"$out"; then
      echo "FAIL: $dir does not render" >&2
      exit 1
    fi
    if ! grep -q '^kind:' "$out"; then
      echo "FAIL: $dir rendered nothing" >&2
      exit 1
    fi
    rendered+=("$out")
    echo "ok: $dir renders ($(grep -c '^kind:' "$out") objects)"
  done
fi

# --- schemas (offline) ----------------------------------------------------------------------
if [ -x "$KV" ]; then
  for v in $K8S_VERSIONS; do
    # --strict: unknown fields are errors. --quiet: only warnings and failures are printed.
    if ! "$KV" --strict --quiet -k "$v" "${rendered[@]}" deploy/kubernetes/secret.example.yaml; then
      echo "FAIL: the manifests do not validate against Kubernetes $v" >&2
      exit 1
    fi
    echo "ok: ${#rendered[@]} rendered file(s) + secret.example.yaml validate strictly against Kubernetes $v"
  done
fi

# --- rules beyond schemas, and the GitHub App manifest --------------------------------------
if ! "$PY" deploy/lint.py . "${rendered[@]}"; then
  echo "FAIL: deploy/lint.py found problems (above)" >&2
  exit 1
fi

if [ "$skipped" = 1 ]; then
  echo "check-deploy: passed what could be checked (some checks skipped, see notes)"
else
  echo "check-deploy: ok"
fi
