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
        self.inner.shared.with(|s| {
            let owner = full_name.split('/').next().unwrap_or_default();
            if let Some(set) = s.selected.get_mut(owner) {
                set.insert(full_name.to_string());
            }
        });
        self.installation_repositories(full_name, "added");
        sha
    }

    /// Removes a repository from the owner's installation: the App no longer sees it (the fake
    /// forgets it) and `installation_repositories` (removed) is sent.
    pub async fn uninstall_repo(&self, full_name: &str) {
        self.installation_repositories(full_name, "removed");
        self.inner.shared.with(|s| {
            s.repos.remove(full_name);
            for set in s.selected.values_mut() {
                set.remove(full_name);
            }
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

// ------------------------------------------------------------------ the repository listing

/// The listing query's shape (whitespace-insensitive): `repositoryOwner(login: $owner) {
/// repositories(first: N, after: $after, ownerAffiliations: [OWNER]) { nodes { nameWithOwner
/// isArchived defaultBranchRef { name } object(expression: "HEAD:<path>") { ... on Blob { … } } }
/// pageInfo { hasNextPage endCursor } } }`.
fn listing_shape() -> Regex {
    Regex::new(
        r#"^query\s*\(\s*\$owner:\s*String!\s*,\s*\$after:\s*String\s*\)\s*\{\s*repositoryOwner\(login:\s*\$owner\)\s*\{\s*repositories\(first:\s*(\d+)\s*,\s*after:\s*\$after\s*,\s*ownerAffiliations:\s*\[OWNER\]\s*\)\s*\{\s*nodes\s*\{\s*nameWithOwner\s+isArchived\s+defaultBranchRef\s*\{\s*name\s*\}\s*object\(expression:\s*"HEAD:([^"]+)"\)\s*\{\s*\.\.\.\s*on\s+Blob\s*\{\s*([a-zA-Z ]+?)\s*\}\s*\}\s*\}\s*pageInfo\s*\{\s*hasNextPage\s+endCursor\s*\}\s*\}\s*\}\s*\}\s*$"#,
    )
    .expect("regex")
}

/// Whether `query` is the repository listing (see [`answer_listing`]).
pub fn is_listing(query: &str) -> bool {
    query.contains("repositoryOwner(")
}

/// An opaque cursor, as GitHub's are (base64 of where the page ended).
fn cursor(index: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("cursor:v2:{index}"))
}

fn cursor_index(c: &str) -> Option<usize> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("cursor:v2:")?.parse().ok()
}

/// The answer to the listing query for an installation of `inst_owner`, as GitHub gives it: the
/// repositories the installation can see (all of the owner's, or the selected ones), `first`
/// at a time (at most 100), in a stable order, with `pageInfo` and opaque cursors; an unknown
/// login is `repositoryOwner: null` with a `NOT_FOUND` error; another owner's repositories are
/// not visible to this installation.
pub fn answer_listing(s: &mut State, query: &str, variables: &Value, inst_owner: &str) -> Value {
    let Some(c) = listing_shape().captures(query.trim()) else {
        s.violations.push(format!("POST /graphql: a listing query not in the modelled shape: {query}"));
        return graphql_error("Parse error: the fake models only the repository listing it documents");
    };
    let (first, path, fields) = (c[1].parse::<usize>().unwrap_or(0), c[2].to_string(), c[3].to_string());
    if first == 0 || first > 100 {
        return graphql_error(&format!(
            "Requesting {first} records on the `repositories` connection exceeds the `first` limit of 100 records."
        ));
    }
    let Some(login) = variables["owner"].as_str() else {
        s.violations.push("POST /graphql: the listing without the `owner` variable".into());
        return graphql_error("Variable $owner of type String! was provided invalid value");
    };
    let start = match &variables["after"] {
        Value::Null => 0,
        Value::String(c) => match cursor_index(c) {
            Some(i) => i + 1,
            None => return graphql_error(&format!("`{c}` does not appear to be a valid cursor.")),
        },
        other => return graphql_error(&format!("Variable $after of type String was provided invalid value {other}")),
    };
    if !s.installations.contains_key(login) && !s.users.contains_key(login) {
        return json!({"data": {"repositoryOwner": null}, "errors": [{
            "type": "NOT_FOUND", "path": ["repositoryOwner"], "locations": [{"line": 2, "column": 3}],
            "message": format!("Could not resolve to a RepositoryOwner with the login of '{login}'.")}]});
    }
    let visible: Vec<String> = s
        .repos
        .values()
        .map(|r| r.full_name())
        .filter(|n| login == inst_owner && s.installation_sees(inst_owner, n))
        .collect();
    let mut nodes = vec![];
    for full in visible.iter().skip(start).take(first) {
        let repo = &s.repos[full];
        let head = repo.refs.get(&format!("refs/heads/{}", repo.default_branch)).cloned();
        let tree = head.as_deref().map(|h| State::tree_of(repo, h)).unwrap_or_default();
        let object = match tree.get(&path) {
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
        nodes.push(
            json!({"nameWithOwner": full, "isArchived": false, "defaultBranchRef": default_ref, "object": object}),
        );
    }
    let end = start + nodes.len();
    let end_cursor = if nodes.is_empty() { Value::Null } else { json!(cursor(end - 1)) };
    json!({"data": {"repositoryOwner": {"repositories": {
        "nodes": nodes,
        "pageInfo": {"hasNextPage": end < visible.len(), "endCursor": end_cursor},
    }}}})
}
