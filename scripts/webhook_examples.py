#!/usr/bin/env python3
"""Flatten @octokit/webhooks-examples into one JSON array for Rust tests.

Usage: webhook_examples.py <api.github.com/index.json> <out.json>

Output: [{"event": "<X-GitHub-Event>", "action": "<payload.action or null>",
          "index": <n-th example of that event>, "payload": {...}}, ...]
one entry per line, ordered as in the package.

The package has no `registry_package` examples (GitHub sends that event alongside
`package` for GitHub Packages, with the same body under the key `registry_package`).
For each `package` example we therefore append a DERIVED `registry_package` entry,
marked `"derived_from": "package"`, whose payload is the package payload with the
`package` key renamed. Tests that must only see GitHub-authored payloads should skip
entries that have `derived_from`.
"""

import json
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        events = json.load(f)
    entries = []
    for ev in events:
        for i, payload in enumerate(ev["examples"]):
            action = payload.get("action") if isinstance(payload, dict) else None
            entries.append(
                {"event": ev["name"], "action": action, "index": i, "payload": payload}
            )
    derived = []
    for e in entries:
        if e["event"] == "package" and isinstance(e["payload"].get("package"), dict):
            payload = {
                ("registry_package" if k == "package" else k): v
                for k, v in e["payload"].items()
            }
            derived.append(
                {
                    "event": "registry_package",
                    "action": e["action"],
                    "index": len(derived),
                    "derived_from": "package",
                    "payload": payload,
                }
            )
    entries.extend(derived)
    with open(dst, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(
            ",\n".join(
                json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entries
            )
        )
        f.write("\n]\n")
    print(f"wrote {dst}: {len(entries)} payloads across {len(events)} events "
          f"({len(derived)} derived registry_package)")


if __name__ == "__main__":
    main()
