#!/usr/bin/env python3
"""Checks of baton's deployment files that a schema cannot express.

Usage: lint.py REPO_ROOT RENDERED_YAML [RENDERED_YAML ...]

Run by scripts/check-deploy.sh after rendering (kubectl kustomize) and schema validation
(kubernetes-validate). Checks:
  - every pod (Deployment, CronJob) is locked down: non-root 65532, read-only root filesystem,
    no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, no service
    account token, requests and limits set, only configMap/projected/secret/emptyDir volumes;
  - every ConfigMap a pod uses is rendered; every Secret and key a pod uses is one that
    deploy/kubernetes/secret.example.yaml documents; secret.example.yaml is not a resource;
  - the settings file in each ConfigMap holds only known keys of config/default.toml and no
    secrets; every BATON_* variable names a known setting; secrets never come as plain values;
  - Service, PodDisruptionBudget and NetworkPolicy select the pods they are meant for;
  - deploy/Dockerfile copies only files that exist and that Dockerfile.dockerignore lets in;
  - deploy/github-app.yml parses, grants exactly the known permissions at no more than their
    level, and each event's permission is granted (and, where the vendored GitHub OpenAPI
    description lists the event, the event is one GitHub delivers to Apps).
Exit 1 with one line per problem.
"""

import json
import os
import re
import sys

import yaml

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

problems = []


def fail(where, msg):
    problems.append(f"{where}: {msg}")


# ---------------------------------------------------------------------------------------------
# Settings

# Optional keys that config/default.toml documents only in a comment.
OPTIONAL_KEYS = {("registry", "auth_file")}
# Keys whose values are secrets: never in a ConfigMap, never a plain `value:`.
SECRET_KEYS = {("webhooks", "github_secrets"), ("webhooks", "registry_tokens")}


def known_settings(root):
    with open(os.path.join(root, "config", "default.toml"), "rb") as f:
        defaults = tomllib.load(f)
    keys = {(s, k) for s, table in defaults.items() for k in table}
    return keys | OPTIONAL_KEYS


def check_settings_file(where, text, known):
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        fail(where, f"config.toml is not valid TOML: {e}")
        return
    if re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text):
        fail(where, "config.toml contains a private key; mount it from a Secret")
    for section, table in data.items():
        if not isinstance(table, dict):
            fail(where, f"config.toml: `{section}` is not a [section]")
            continue
        for key in table:
            if (section, key) not in known:
                fail(where, f"config.toml: unknown setting {section}.{key} (see config/default.toml)")
            if (section, key) in SECRET_KEYS:
                fail(where, f"config.toml: {section}.{key} is a secret; take it from the Secret via the environment")


# ---------------------------------------------------------------------------------------------
# Pods

ALLOWED_VOLUMES = {"configMap", "projected", "secret", "emptyDir"}


def pod_spec(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return spec.get("template") or {}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return None


def check_pod(where, template, secrets_documented, configmaps, known):
    labels = (template.get("metadata") or {}).get("labels") or {}
    spec = template.get("spec") or {}
    psc = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken must be false (baton never calls the Kubernetes API)")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        fail(where, "host namespaces are not allowed")
    if labels.get("app.kubernetes.io/name") != "baton":
        fail(where, "pod template lacks the label app.kubernetes.io/name: baton (NetworkPolicy selects on it)")
    volumes = {}
    for v in spec.get("volumes") or []:
        types = set(v) - {"name"}
        if not types <= ALLOWED_VOLUMES:
            fail(where, f"volume {v.get('name')}: type {sorted(types)} not allowed (restricted pods)")
        volumes[v.get("name")] = v
        if "configMap" in v and v["configMap"].get("name") not in configmaps:
            fail(where, f"volume {v['name']}: ConfigMap {v['configMap'].get('name')} is not rendered")
        sources = [s.get("secret") for s in (v.get("projected") or {}).get("sources") or [] if s.get("secret")]
        if "secret" in v:
            sources.append({"name": v["secret"].get("secretName"), "items": v["secret"].get("items")})
        for s in sources:
            name = s.get("name")
            if name not in secrets_documented:
                fail(where, f"volume {v['name']}: Secret {name} is not documented in secret.example.yaml")
                continue
            if not s.get("items"):
                fail(where, f"volume {v['name']}: Secret {name} must list its items (mount only what is needed)")
            for item in s.get("items") or []:
                if item.get("key") not in secrets_documented[name]:
                    fail(where, f"volume {v['name']}: Secret {name} has no key {item.get('key')} in secret.example.yaml")
    for c in spec.get("containers") or []:
        cw = f"{where} container {c.get('name')}"
        csc = c.get("securityContext") or {}

        def eff(key):
            return csc.get(key, psc.get(key))

        if eff("runAsNonRoot") is not True:
            fail(cw, "runAsNonRoot must be true")
        if eff("runAsUser") != 65532:
            fail(cw, "runAsUser must be 65532 (distroless nonroot)")
        if csc.get("readOnlyRootFilesystem") is not True:
            fail(cw, "readOnlyRootFilesystem must be true")
        if csc.get("allowPrivilegeEscalation") is not False:
            fail(cw, "allowPrivilegeEscalation must be false")
        if csc.get("privileged"):
            fail(cw, "privileged is not allowed")
        if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
            fail(cw, "capabilities must drop ALL")
        if (csc.get("capabilities") or {}).get("add"):
            fail(cw, "no capabilities may be added")
        if ((eff("seccompProfile") or {}).get("type")) != "RuntimeDefault":
            fail(cw, "seccompProfile must be RuntimeDefault")
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(part) or {}):
                    fail(cw, f"resources.{part}.{r} is not set")
        args = c.get("args") or []
        if "--config" not in args:
            fail(cw, "must be started with --config (the ConfigMap's settings file)")
        mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
        for m in mounts.values():
            if m.get("name") not in volumes:
                fail(cw, f"volumeMount {m.get('name')} has no volume")
        if "/tmp" not in mounts:
            fail(cw, "/tmp must be a writable emptyDir (the root filesystem is read-only)")
        for e in c.get("env") or []:
            name = e.get("name", "")
            m = re.fullmatch(r"BATON_([A-Z0-9_]+?)__([A-Z0-9_]+)", name)
            if name.startswith("BATON_"):
                if not m or (m.group(1).lower(), m.group(2).lower()) not in known:
                    fail(cw, f"env {name} names no known setting (BATON_<SECTION>__<KEY>)")
                    continue
                key = (m.group(1).lower(), m.group(2).lower())
                if key in SECRET_KEYS and "value" in e:
                    fail(cw, f"env {name} is a secret: take it from a Secret (valueFrom.secretKeyRef)")
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                if ref.get("key") not in secrets_documented.get(ref.get("name"), set()):
                    fail(cw, f"env {name}: Secret {ref.get('name')} key {ref.get('key')} is not in secret.example.yaml")
            if name.endswith("_FILE") and "value" in e:
                path = e["value"]
                if not any(path == mp or path.startswith(mp.rstrip("/") + "/") for mp in mounts):
                    fail(cw, f"env {name}={path} is not under any volume mount")
        if args and args[0] == "serve":
            port_names = {p.get("name") for p in c.get("ports") or []}
            if "http" not in port_names:
                fail(cw, "the server must expose a port named http")
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != path:
                    fail(cw, f"{probe} must GET {path} (has {got})")
            env = {e.get("name") for e in c.get("env") or []}
            for need in ("BATON_SERVER__LISTEN", "BATON_WEBHOOKS__GITHUB_SECRETS", "BATON_WEBHOOKS__REGISTRY_TOKENS",
                         "BATON_GITHUB__PRIVATE_KEY_FILE"):
                if need not in env:
                    fail(cw, f"the server needs {need}")


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_rendered(path, root, known, secrets_documented):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    where = os.path.basename(path)
    configmaps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
    kinds = [d.get("kind") for d in docs]
    for need in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "CronJob",
                 "ConfigMap"):
        if need not in kinds:
            fail(where, f"no {need} rendered")
    if "Secret" in kinds:
        fail(where, "a Secret is rendered: secrets must never be part of the kustomization")
    for name, cm in configmaps.items():
        data = cm.get("data") or {}
        if "config.toml" not in data:
            fail(f"{where} ConfigMap {name}", "has no config.toml")
        else:
            check_settings_file(f"{where} ConfigMap {name}", data["config.toml"], known)
    server_labels = None
    for d in docs:
        tmpl = pod_spec(d)
        if tmpl is None:
            continue
        dw = f"{where} {d['kind']}/{d['metadata']['name']}"
        check_pod(dw, tmpl, secrets_documented, configmaps, known)
        if d["kind"] == "Deployment":
            server_labels = (tmpl.get("metadata") or {}).get("labels") or {}
            if (d["spec"].get("replicas") or 1) < 2:
                fail(dw, "needs at least 2 replicas (with the PDB, one always takes webhooks)")
            if not selects(d["spec"]["selector"].get("matchLabels"), server_labels):
                fail(dw, "selector does not match its pod template")
        if d["kind"] == "CronJob":
            if d["spec"].get("concurrencyPolicy") != "Forbid":
                fail(dw, "concurrencyPolicy must be Forbid")
            args = (tmpl["spec"]["containers"][0].get("args") or [])
            if args[:1] != ["reconcile"]:
                fail(dw, "must run `baton reconcile`")
    for d in docs:
        dw = f"{where} {d.get('kind')}/{d['metadata']['name']}"
        if d.get("kind") == "Service" and server_labels is not None:
            if not selects(d["spec"].get("selector"), server_labels):
                fail(dw, "does not select the server pods")
        if d.get("kind") == "PodDisruptionBudget" and server_labels is not None:
            if not selects(d["spec"]["selector"].get("matchLabels"), server_labels):
                fail(dw, "does not select the server pods")
        if d.get("kind") == "NetworkPolicy":
            sel = d["spec"]["podSelector"].get("matchLabels")
            if server_labels is not None and not selects(sel, server_labels):
                fail(dw, "does not select the server pods")
            if set(d["spec"].get("policyTypes") or []) != {"Ingress", "Egress"}:
                fail(dw, "must restrict both Ingress and Egress")
            for rule in d["spec"].get("ingress") or []:
                ports = {p.get("port") for p in rule.get("ports") or []}
                if ports != {8080}:
                    fail(dw, f"ingress must be to port 8080 only (has {sorted(map(str, ports))})")
            for rule in d["spec"].get("egress") or []:
                ports = {p.get("port") for p in rule.get("ports") or []}
                if not ports or not ports <= {53, 443}:
                    fail(dw, f"egress must be limited to ports 53 and 443 (has {sorted(map(str, ports)) or 'all'})")


def documented_secrets(root):
    path = os.path.join(root, "deploy", "kubernetes", "secret.example.yaml")
    out = {}
    with open(path) as f:
        for d in yaml.safe_load_all(f):
            if not d:
                continue
            if d.get("kind") != "Secret":
                fail("secret.example.yaml", f"unexpected {d.get('kind')}")
                continue
            out[d["metadata"]["name"]] = set(d.get("stringData") or {}) | set(d.get("data") or {})
    with open(os.path.join(root, "deploy", "kubernetes", "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    if "secret.example.yaml" in (k.get("resources") or []):
        fail("kustomization.yaml", "secret.example.yaml must not be a resource")
    if k.get("namespace"):
        fail("kustomization.yaml", "the base must not set a namespace (overlays do)")
    return out


# ---------------------------------------------------------------------------------------------
# GitHub App manifest

LEVELS = {"read": 1, "write": 2}
# Every permission baton may ask for, at the highest level it needs.
PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "checks": "write",
    "statuses": "write",
    "actions": "write",
    "merge_queues": "write",
    "issues": "write",
    "metadata": "read",
    "members": "read",
    "packages": "read",
}
REQUIRED_PERMISSIONS = set(PERMISSIONS) - {"packages", "actions", "merge_queues"}
# Every event baton handles, and the permission GitHub requires to subscribe an App to it.
EVENTS = {
    "pull_request": "pull_requests",
    "issue_comment": "issues",
    "check_run": "checks",
    "check_suite": "checks",
    "status": "statuses",
    "push": "contents",
    "registry_package": "packages",
    "merge_group": "merge_queues",
    "workflow_run": "actions",
}
REQUIRED_EVENTS = set(EVENTS) - {"registry_package", "merge_group", "workflow_run"}


def check_app_manifest(root):
    where = "deploy/github-app.yml"
    try:
        with open(os.path.join(root, where)) as f:
            m = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(where, f"does not parse: {e}")
        return
    if not isinstance(m, dict):
        fail(where, "is not a mapping")
        return
    allowed = {"name", "url", "description", "hook_attributes", "redirect_url", "callback_urls", "setup_url",
               "public", "default_permissions", "default_events", "request_oauth_on_install", "setup_on_update"}
    for k in set(m) - allowed:
        fail(where, f"unknown manifest key {k}")
    for k in ("name", "url", "hook_attributes", "redirect_url", "default_permissions", "default_events"):
        if k not in m:
            fail(where, f"missing {k}")
    if m.get("public") is not False:
        fail(where, "public must be false")
    hook = (m.get("hook_attributes") or {}).get("url", "")
    if not str(hook).startswith("https://") or not str(hook).endswith("/webhooks/github"):
        fail(where, "hook_attributes.url must be https://…/webhooks/github")
    perms = m.get("default_permissions") or {}
    if not isinstance(perms, dict):
        fail(where, "default_permissions must be a mapping")
        perms = {}
    for p, level in perms.items():
        if p not in PERMISSIONS:
            fail(where, f"permission {p} is not one baton uses (least privilege)")
        elif LEVELS.get(level, 99) > LEVELS[PERMISSIONS[p]]:
            fail(where, f"permission {p}: {level} is more than baton needs ({PERMISSIONS[p]})")
    for p in REQUIRED_PERMISSIONS - set(perms):
        fail(where, f"permission {p} is missing")
    events = m.get("default_events") or []
    if len(set(events)) != len(events):
        fail(where, "duplicate events")
    for e in events:
        if e not in EVENTS:
            fail(where, f"event {e} is not one baton handles (or not one GitHub delivers to Apps)")
        elif EVENTS[e] not in perms:
            fail(where, f"event {e} needs the {EVENTS[e]} permission")
    for e in REQUIRED_EVENTS - set(events):
        fail(where, f"event {e} is missing")
    if "packages" in perms and "registry_package" not in events:
        fail(where, "packages permission without the registry_package event")
    # Cross-check against GitHub's own description, where vendored: events GitHub documents
    # for repository/organization webhooks only (e.g. `package`) cannot be App events.
    spec = os.path.join(root, "tests", "data", "openapi", "api.github.com.subset.json")
    if os.path.exists(spec):
        with open(spec) as f:
            hooks = json.load(f).get("x-webhooks") or {}
        for e in events:
            prefix = e.replace("_", "-")
            found = [v for k, v in hooks.items() if k == prefix or k.startswith(prefix + "-")]
            for v in found:
                types = ((v.get("post") or {}).get("x-github") or {}).get("supported-webhook-types") or []
                if "app" not in types:
                    fail(where, f"event {e}: GitHub does not deliver it to Apps (supported: {types})")
                    break


# ---------------------------------------------------------------------------------------------
# Dockerfile and its dockerignore (no Docker engine needed)


def check_dockerfile(root):
    where = "deploy/Dockerfile"
    with open(os.path.join(root, where)) as f:
        text = f.read().replace("\\\n", " ")
    with open(os.path.join(root, "deploy", "Dockerfile.dockerignore")) as f:
        ignore = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    if ignore[:1] != ["*"]:
        fail("deploy/Dockerfile.dockerignore", "must start with `*` (allow-list the build inputs)")
    included = {l[1:].rstrip("/") for l in ignore if l.startswith("!")}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        for src in [w for w in words[1:] if not w.startswith("--")][:-1]:
            if src.rstrip("/") not in included:
                fail(where, f"COPY {src}: excluded from the build context by Dockerfile.dockerignore")
            elif not os.path.exists(os.path.join(root, src)):
                fail(where, f"COPY {src}: no such file in the repository")
    for need, why in (("cargo build --release --locked --bin baton", "the release build"),
                      ("USER 65532", "a non-root user"), ('ENTRYPOINT ["/baton"]', "the entrypoint"),
                      ("EXPOSE 8080", "the port"), ("distroless/cc-debian12:nonroot", "the runtime image")):
        if need not in text:
            fail(where, f"lacks {why} ({need})")


def main():
    root = sys.argv[1]
    known = known_settings(root)
    secrets = documented_secrets(root)
    for p in sys.argv[2:]:
        check_rendered(p, root, known, secrets)
    for overlay_cfg in (os.path.join(root, "deploy", "kubernetes", "config.toml"),):
        with open(overlay_cfg) as f:
            check_settings_file(os.path.relpath(overlay_cfg, root), f.read(), known)
    check_app_manifest(root)
    check_dockerfile(root)
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"lint: {len(sys.argv) - 2} rendered file(s), secret.example.yaml, github-app.yml and the Dockerfile are fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
