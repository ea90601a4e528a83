//! `POST /graphql`: the shapes baton sends, answered as GitHub does.
//!
//! - The index query: aliased `repository(owner:, name:)` fields with `defaultBranchRef { name }`
//!   and `object(expression: "HEAD:<path>") { ... on Blob {…} }`: `data.rN` per alias, `null`
//!   plus a `NOT_FOUND` error for a repository the installation cannot see, `object: null` for a
//!   missing file.
//! - The mutation `enqueuePullRequest(input: {pullRequestId:, expectedHeadOid:})` with a
//!   `mergeQueueEntry { … }` selection: the PR's merge group is built and `merge_group`
//!   checks_requested sent ([`State::enqueue_merge_group`]); refused (`errors`, type
//!   `UNPROCESSABLE`, `data.enqueuePullRequest: null`) when the base requires no merge queue, the
//!   head is not `expectedHeadOid`, the PR is closed or already queued.
//! - `node(id:) { ... on PullRequest { isInMergeQueue merged mergeQueueEntry { … } } }`.
//!
//! Anything else is a GraphQL error (and a violation: baton sent a query the fake does not
//! model).

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::state::State;
use super::FakeGitHub;

/// What GitHub's GraphQL endpoint requires of the request body: `{"query": "<text>",
/// "variables"?: {…}}` (https://docs.github.com/graphql/guides/forming-calls-with-graphql).
pub fn validate_request(method: &str, body: Option<&Value>) -> Result<(), String> {
    if method != "POST" {
        return Err(format!("{method} /graphql: GitHub's GraphQL endpoint takes POST only"));
    }
    let body = body.ok_or("POST /graphql without a body")?;
    let obj = body.as_object().ok_or("POST /graphql: the body must be a JSON object")?;
    if !obj.get("query").is_some_and(Value::is_string) {
        return Err("POST /graphql: `query` must be a string".into());
    }
    if let Some(k) = obj.keys().find(|k| !["query", "variables", "operationName"].contains(&k.as_str())) {
        return Err(format!("POST /graphql: unknown member `{k}`"));
    }
    Ok(())
}

fn graphql_error(message: &str) -> Value {
    json!({"errors": [{"message": message, "locations": [{"line": 1, "column": 1}]}]})
}

/// The answer to `query` (with `variables`) for an installation of `owner`.
pub fn answer(s: &mut State, query: &str, variables: &Value, owner: &str) -> Value {
    let text = query.trim();
    if text.starts_with("mutation") {
        return mutation(s, text, variables, owner);
    }
    if text.contains("node(id:") {
        return node_query(s, text, variables, owner);
    }
    let Some(inner) = text.strip_prefix("query").map(str::trim_start).and_then(|t| t.strip_prefix('{')) else {
        s.violations.push(format!("POST /graphql: a query the fake does not model: {text:.80}"));
        return graphql_error("Parse error: the fake models only `query { rN: repository(...) {...} }`");
    };
    let inner = inner.trim_end().strip_suffix('}').unwrap_or(inner);
    let field = Regex::new(
        r#"^\s*(r\d+): repository\(owner: "([^"]+)", name: "([^"]+)"\) \{ defaultBranchRef \{ name \} object\(expression: "HEAD:([^"]+)"\) \{ \.\.\. on Blob \{ ([a-zA-Z ]+) \} \} \}\s*$"#,
    )
    .expect("regex");
    let mut data = Map::new();
    let mut errors = vec![];
    let mut aliases = BTreeSet::new();
    for (n, line) in inner.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let Some(c) = field.captures(line) else {
            s.violations.push(format!("POST /graphql: line {} not in the modelled shape: {line}", n + 2));
            return graphql_error(&format!("Parse error on line {}", n + 2));
        };
        let (alias, o, r, path, fields) = (&c[1], &c[2], &c[3], &c[4], &c[5]);
        if !aliases.insert(alias.to_string()) {
            return graphql_error(&format!("Field '{alias}' has an argument conflict"));
        }
        let full = format!("{o}/{r}");
        let visible = o == owner && s.repos.contains_key(&full);
        if !visible {
            data.insert(alias.into(), Value::Null);
            errors.push(json!({
                "type": "NOT_FOUND", "path": [alias], "locations": [{"line": n + 2, "column": 3}],
                "message": format!("Could not resolve to a Repository with the name '{full}'.")
            }));
            continue;
        }
        let repo = &s.repos[&full];
        let head = repo.refs.get(&format!("refs/heads/{}", repo.default_branch)).cloned();
        let tree = head.as_deref().map(|h| State::tree_of(repo, h)).unwrap_or_default();
        let object = match tree.get(path) {
            Some(oid) => {
                let content = repo.blobs.get(oid).cloned().unwrap_or_default();
                let mut blob = Map::new();
                for f in fields.split_whitespace() {
                    let v = match f {
                        "oid" => json!(oid),
                        "text" => json!(content),
                        "isTruncated" => json!(false),
                        "byteSize" => json!(content.len()),
                        other => {
                            s.violations.push(format!("POST /graphql: Blob field `{other}` not modelled"));
                            return graphql_error(&format!("Field '{other}' doesn't exist on type 'Blob'"));
                        }
                    };
                    blob.insert(f.into(), v);
                }
                Value::Object(blob)
            }
            None => Value::Null,
        };
        let default_ref = head.map(|_| json!({"name": repo.default_branch})).unwrap_or(Value::Null);
        data.insert(alias.into(), json!({"defaultBranchRef": default_ref, "object": object}));
    }
    let mut out = json!({"data": data});
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    out
}

/// The pull request (repository, number) whose node ID is `id`, among the repositories the
/// installation on `owner` sees.
fn pull_by_node(s: &State, id: &str, owner: &str) -> Option<(String, u64)> {
    s.repos.values().filter(|r| r.owner == owner).find_map(|r| {
        r.issues
            .values()
            .find(|i| i.pr.is_some() && super::payloads::node_id("PullRequest", i.id) == id)
            .map(|i| (r.full_name(), i.number))
    })
}

fn variable<'a>(s: &mut State, variables: &'a Value, name: &str) -> Option<&'a str> {
    let v = variables.get(name).and_then(Value::as_str);
    if v.is_none() {
        s.violations.push(format!("POST /graphql: variable ${name} missing or not a string"));
    }
    v
}

/// The fields of a `mergeQueueEntry { … }` selection, answered for `entry`.
fn entry_json(s: &mut State, fields: &str, full: &str, number: u64) -> Result<Value, Value> {
    let Some(e) = s.queue_entries.get(&(full.to_string(), number)).cloned() else { return Ok(Value::Null) };
    let position = s.queue_entries.keys().filter(|(r, n)| r == full && *n <= number).count();
    let mut out = Map::new();
    for f in fields.split_whitespace() {
        let v = match f {
            "id" => json!(super::payloads::node_id("MergeQueueEntry", e.id)),
            "state" => json!("AWAITING_CHECKS"),
            "position" => json!(position),
            other => {
                s.violations.push(format!("POST /graphql: MergeQueueEntry field `{other}` not modelled"));
                return Err(graphql_error(&format!("Field '{other}' doesn't exist on type 'MergeQueueEntry'")));
            }
        };
        out.insert(f.into(), v);
    }
    Ok(Value::Object(out))
}

fn refused(kind: &str, message: &str) -> Value {
    json!({"data": {"enqueuePullRequest": null}, "errors": [{"type": kind, "path": ["enqueuePullRequest"],
        "locations": [{"line": 1, "column": 1}], "message": message}]})
}

fn mutation(s: &mut State, text: &str, variables: &Value, owner: &str) -> Value {
    let shape = Regex::new(
        r#"^mutation\s*\(\$(\w+): ID!, \$(\w+): GitObjectID!\)\s*\{\s*enqueuePullRequest\(input: \{pullRequestId: \$(\w+), expectedHeadOid: \$(\w+)\}\)\s*\{\s*mergeQueueEntry\s*\{\s*([a-zA-Z ]+?)\s*\}\s*\}\s*\}$"#,
    )
    .expect("regex");
    let Some(c) = shape.captures(text) else {
        s.violations.push(format!("POST /graphql: a mutation the fake does not model: {text:.120}"));
        return graphql_error("Parse error: the fake models only `enqueuePullRequest`");
    };
    if c[1] != c[3] || c[2] != c[4] {
        return graphql_error("Variable is declared but not used");
    }
    let (Some(id), Some(head)) = (variable(s, variables, &c[1]), variable(s, variables, &c[2])) else {
        return graphql_error("Variable is missing");
    };
    let Some((full, number)) = pull_by_node(s, id, owner) else {
        return json!({"data": {"enqueuePullRequest": null}, "errors": [{"type": "NOT_FOUND", "path": ["enqueuePullRequest"],
            "message": format!("Could not resolve to a node with the global id of '{id}'")}]});
    };
    let (issue, pr) = s.pr(&full, number).expect("pr");
    let (open, head_sha, base) = (issue.state == "open", pr.head_sha.clone(), pr.base_ref.clone());
    if !open {
        return refused("UNPROCESSABLE", "Pull request is closed");
    }
    if !s.merge_queue_branches.contains(&(full.clone(), base.clone())) {
        return refused("UNPROCESSABLE", &format!("The base branch {base} does not require a merge queue"));
    }
    if head != head_sha {
        return refused("UNPROCESSABLE", "The expected head OID does not match the pull request's head");
    }
    if s.queue_entries.contains_key(&(full.clone(), number)) {
        return refused("UNPROCESSABLE", "Pull request is already in the merge queue");
    }
    if s.enqueue_merge_group(&full, number).is_err() {
        return refused("UNPROCESSABLE", "Pull request is not mergeable");
    }
    match entry_json(s, &c[5], &full, number) {
        Ok(entry) => json!({"data": {"enqueuePullRequest": {"mergeQueueEntry": entry}}}),
        Err(e) => e,
    }
}

fn node_query(s: &mut State, text: &str, variables: &Value, owner: &str) -> Value {
    let shape = Regex::new(
        r#"^query\s*\(\$(\w+): ID!\)\s*\{\s*node\(id: \$(\w+)\)\s*\{\s*\.\.\. on PullRequest\s*\{\s*(.+?)\s*\}\s*\}\s*\}$"#,
    )
    .expect("regex");
    let Some(c) = shape.captures(text) else {
        s.violations.push(format!("POST /graphql: a node query the fake does not model: {text:.120}"));
        return graphql_error("Parse error: the fake models only `node(id:) { ... on PullRequest {…} }`");
    };
    if c[1] != c[2] {
        return graphql_error("Variable is declared but not used");
    }
    let Some(id) = variable(s, variables, &c[1]) else { return graphql_error("Variable is missing") };
    let Some((full, number)) = pull_by_node(s, id, owner) else {
        return json!({"data": {"node": null}, "errors": [{"type": "NOT_FOUND", "path": ["node"],
            "message": format!("Could not resolve to a node with the global id of '{id}'")}]});
    };
    let sub = Regex::new(r"mergeQueueEntry\s*\{\s*([a-zA-Z ]+?)\s*\}").expect("regex");
    let mut out = Map::new();
    let mut rest = c[3].to_string();
    if let Some(m) = sub.captures(&c[3]) {
        match entry_json(s, &m[1], &full, number) {
            Ok(e) => out.insert("mergeQueueEntry".into(), e),
            Err(e) => return e,
        };
        rest = rest.replace(&m[0], " ");
    }
    let queued = s.queue_entries.contains_key(&(full.clone(), number));
    let merged = s.pr(&full, number).expect("pr").1.merged;
    for f in rest.split_whitespace() {
        let v = match f {
            "isInMergeQueue" => json!(queued),
            "merged" => json!(merged),
            "number" => json!(number),
            other => {
                s.violations.push(format!("POST /graphql: PullRequest field `{other}` not modelled"));
                return graphql_error(&format!("Field '{other}' doesn't exist on type 'PullRequest'"));
            }
        };
        out.insert(f.into(), v);
    }
    json!({"data": {"node": Value::Object(out)}})
}

impl FakeGitHub {
    /// Adds a repository to the owner's installation (as a repository is created or selected
    /// in the App's settings) and sends `installation_repositories` (added).
    pub async fn install_repo(&self, full_name: &str, default_branch: &str, files: &[(&str, &str)]) -> String {
        let sha = self.add_repo(full_name, default_branch, files);
        self.installation_repositories(full_name, "added");
        sha
    }

    /// Removes a repository from the owner's installation: the App no longer sees it (the fake
    /// forgets it) and `installation_repositories` (removed) is sent.
    pub async fn uninstall_repo(&self, full_name: &str) {
        self.installation_repositories(full_name, "removed");
        self.inner.shared.with(|s| {
            s.repos.remove(full_name);
        });
    }

    fn installation_repositories(&self, full_name: &str, action: &str) {
        let owner = full_name.split('/').next().unwrap_or_default().to_string();
        self.inner.shared.with(|s| {
            let id = s.installation_for_owner(&owner);
            let r = &s.repos[full_name];
            let entry = json!({"id": r.id, "node_id": super::payloads::node_id("Repository", r.id),
                "name": r.name, "full_name": full_name, "private": true});
            let (added, removed) = if action == "added" { (vec![entry], vec![]) } else { (vec![], vec![entry]) };
            let account = s.user_json(&owner);
            let sender = s.user_json(&owner);
            let payload = json!({
                "action": action,
                "installation": {"id": id, "node_id": super::payloads::node_id("Installation", id), "account": account,
                    "repository_selection": "selected", "app_id": s.app_id, "app_slug": s.app_slug},
                "repository_selection": "selected",
                "repositories_added": added,
                "repositories_removed": removed,
                "requester": null,
                "sender": sender,
            });
            s.outbox.push(super::state::OutEvent {
                repo: full_name.to_string(),
                event: "installation_repositories".into(),
                action: Some(action.into()),
                payload,
            });
        });
    }
}
