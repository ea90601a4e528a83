#!/usr/bin/env python3
"""Extract the subset of GitHub's REST OpenAPI description that baton talks to.

Also keeps, under `x-webhooks`, the payload schemas of the webhook events in
WEBHOOK_EVENTS.

Usage: openapi_subset.py <api.github.com.json> <out.json>

Input is the *non-dereferenced* description from @octokit/openapi
(generated/api.github.com.json, OpenAPI 3.0.3). The output keeps the selected
operations verbatim plus the transitive closure of the `#/components/...`
entries they `$ref`, so the file is a valid, self-contained OpenAPI document.
Nothing is rewritten: `nullable: true` etc. are converted to JSON Schema by the
Rust validator (tests/support/openapi.rs) at load time.

To cover another endpoint, add it to OPERATIONS below and re-run
scripts/refresh-test-data.sh.
"""

import json
import sys

# (METHOD, GitHub REST path template) — keep in sync with what baton calls.
OPERATIONS = [
    # apps / installations
    ("GET", "/app"),
    ("GET", "/app/installations"),
    ("GET", "/repos/{owner}/{repo}/installation"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/installation/repositories"),
    # repository
    ("GET", "/repos/{owner}/{repo}"),
    # git refs
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}"),
    # contents
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("PUT", "/repos/{owner}/{repo}/contents/{path}"),
    ("DELETE", "/repos/{owner}/{repo}/contents/{path}"),
    # git data
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    # commits
    ("GET", "/repos/{owner}/{repo}/commits"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    # pulls
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch"),
    # issues, labels, comments, reactions
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("GET", "/repos/{owner}/{repo}/issues/comments"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("GET", "/repos/{owner}/{repo}/labels/{name}"),
    ("POST", "/repos/{owner}/{repo}/labels"),
    # checks and statuses
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/status"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses"),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}"),
    # permissions
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}"),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("GET", "/repos/{owner}/{repo}/rules/branches/{branch}"),
    # actions: verification workflows
    ("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"),
    ("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"),
]

# Webhook events (X-GitHub-Event values) whose payload schemas are kept under
# `x-webhooks` (all actions of each event).
WEBHOOK_EVENTS = [
    "check_run",
    "check_suite",
    "installation",
    "installation_repositories",
    "issue_comment",
    "merge_group",
    "package",
    "ping",
    "pull_request",
    "push",
    "registry_package",
    "status",
    "workflow_run",
]

# Path-item level keys that are not operations but should be kept.
PATH_ITEM_KEYS = ("parameters", "summary", "description", "servers")


def collect_refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref)
        for v in node.values():
            collect_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            collect_refs(v, out)


def resolve_pointer(doc, ref):
    if not ref.startswith("#/"):
        raise SystemExit(f"external $ref not supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = json.load(f)

    paths = {}
    missing = []
    for method, path in OPERATIONS:
        item = doc["paths"].get(path)
        op = item.get(method.lower()) if item else None
        if op is None:
            missing.append(f"{method} {path}")
            continue
        out_item = paths.setdefault(path, {})
        for k in PATH_ITEM_KEYS:
            if k in item:
                out_item[k] = item[k]
        out_item[method.lower()] = op
    if missing:
        raise SystemExit("operations not found in description:\n  " + "\n  ".join(missing))

    webhooks = {}
    for name, item in doc.get("x-webhooks", {}).items():
        params = item.get("post", {}).get("parameters", [])
        event = next(
            (p.get("example") for p in params if p.get("name", "").lower() == "x-github-event"),
            None,
        )
        if event in WEBHOOK_EVENTS:
            webhooks[name] = item
    found = {
        next(p.get("example") for p in item["post"]["parameters"]
             if p.get("name", "").lower() == "x-github-event")
        for item in webhooks.values()
    }
    if set(WEBHOOK_EVENTS) - found:
        raise SystemExit(f"webhook events not found: {sorted(set(WEBHOOK_EVENTS) - found)}")

    # Transitive closure of component references.
    components = {}
    pending = set()
    collect_refs(paths, pending)
    collect_refs(webhooks, pending)
    seen = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts = ref[2:].split("/")
        if len(parts) != 3 or parts[0] != "components":
            raise SystemExit(f"unexpected $ref shape: {ref}")
        _, kind, name = parts
        target = resolve_pointer(doc, ref)
        components.setdefault(kind, {})[name] = target
        collect_refs(target, pending)

    for kind in components:
        components[kind] = dict(sorted(components[kind].items()))

    info = dict(doc["info"])
    info["x-baton-subset"] = (
        f"{len(OPERATIONS)} operations and the webhooks of {len(WEBHOOK_EVENTS)} events "
        "extracted by scripts/openapi_subset.py; components limited to those referenced"
    )
    out = {
        "openapi": doc["openapi"],
        "info": info,
        "servers": doc.get("servers", []),
        "paths": dict(sorted(paths.items())),
        "x-webhooks": dict(sorted(webhooks.items())),
        "components": dict(sorted(components.items())),
    }
    with open(dst, "w", encoding="utf-8") as f:
        # Compact: the file is generated, and indentation would double its size.
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    n_comp = sum(len(v) for v in components.values())
    print(
        f"wrote {dst}: {len(OPERATIONS)} operations, {len(webhooks)} webhooks, "
        f"{n_comp} components"
    )


if __name__ == "__main__":
    main()
