//! The GraphQL query that reads `.baton.yaml` of up to 100 repositories at once, and the parser
//! of its answer. Pure: the client sends the text, these functions know nothing of HTTP.
//!
//! Shape (GitHub's GraphQL schema: `Query.repository`, `Repository.object(expression:)`,
//! `Repository.defaultBranchRef`, `Blob.text`/`oid`/`isTruncated`):
//!
//! ```graphql
//! query {
//!   r0: repository(owner: "org", name: "deploy") {
//!     defaultBranchRef { name }
//!     object(expression: "HEAD:.baton.yaml") { ... on Blob { oid text isTruncated } }
//!   }
//! }
//! ```
//!
//! A repository GitHub cannot resolve answers `rN: null` with an error of type `NOT_FOUND`; a
//! missing file answers `object: null`.

use serde_json::Value;

use crate::types::RepoName;

/// At most this many repositories per query (GitHub's node limit leaves room for far more;
/// 100 keeps each answer small and is what the issue asks).
pub const REPOS_PER_QUERY: usize = 100;

/// What the query tells of one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoPipeline {
    /// GitHub could not resolve the repository (deleted, renamed, no longer installed).
    Missing,
    /// The repository exists; `file` is its pipeline file on the default branch, if any.
    Found { default_branch: Option<String>, file: Option<PipelineBlob> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineBlob {
    /// The blob's git object id: equal ids mean equal content.
    pub oid: String,
    /// None when GitHub gives no text (binary or over its size limit).
    pub text: Option<String>,
}

fn quoted(s: &str) -> String {
    // JSON string escaping is valid GraphQL string escaping.
    serde_json::to_string(s).unwrap_or_default()
}

/// The query for `repos` (at most [`REPOS_PER_QUERY`]); alias `rN` is `repos[N]`.
pub fn query(repos: &[RepoName], path: &str) -> String {
    let expression = quoted(&format!("HEAD:{path}"));
    let mut q = String::from("query {\n");
    for (i, r) in repos.iter().enumerate() {
        q.push_str(&format!(
            "  r{i}: repository(owner: {}, name: {}) {{ defaultBranchRef {{ name }} object(expression: {expression}) {{ ... on Blob {{ oid text isTruncated }} }} }}\n",
            quoted(r.owner()),
            quoted(r.name())
        ));
    }
    q.push('}');
    q
}

/// Parses the answer to [`query`]`(repos)`. Errors other than unresolved repositories (a
/// malformed answer, a rate limit, a bad query) fail the whole batch.
pub fn parse(repos: &[RepoName], answer: &Value) -> Result<Vec<(RepoName, RepoPipeline)>, String> {
    let not_found: Vec<&str> = answer["errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .filter(|e| e["type"] == "NOT_FOUND")
                .filter_map(|e| e["path"].get(0).and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if let Some(errs) = answer["errors"].as_array() {
        if let Some(other) = errs.iter().find(|e| e["type"] != "NOT_FOUND") {
            return Err(format!("GraphQL error: {}", other["message"].as_str().unwrap_or("(no message)")));
        }
    }
    let data = answer.get("data").filter(|d| d.is_object()).ok_or("GraphQL answer without data")?;
    let mut out = Vec::with_capacity(repos.len());
    for (i, repo) in repos.iter().enumerate() {
        let alias = format!("r{i}");
        let node = &data[&alias];
        if node.is_null() {
            if !not_found.contains(&alias.as_str()) && data.get(&alias).is_none() {
                return Err(format!("GraphQL answer lacks {alias} ({repo})"));
            }
            out.push((repo.clone(), RepoPipeline::Missing));
            continue;
        }
        let default_branch = node.pointer("/defaultBranchRef/name").and_then(Value::as_str).map(str::to_string);
        let file = match &node["object"] {
            Value::Null => None,
            o => {
                let oid = o["oid"].as_str().ok_or_else(|| format!("{alias}: object without oid (not a file?)"))?;
                let truncated = o["isTruncated"].as_bool().unwrap_or(false);
                let text = o["text"].as_str().filter(|_| !truncated).map(str::to_string);
                Some(PipelineBlob { oid: oid.to_string(), text })
            }
        };
        out.push((repo.clone(), RepoPipeline::Found { default_branch, file }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(s: &str) -> RepoName {
        s.parse().unwrap()
    }

    #[test]
    fn query_text() {
        insta::assert_snapshot!(query(&[r("org/deploy"), r("org/web-app")], ".baton.yaml"));
    }

    #[test]
    fn answers() {
        let repos = [r("org/a"), r("org/b"), r("org/c"), r("org/empty"), r("org/big")];
        // As GitHub answers: an unresolvable repository is null plus a NOT_FOUND error.
        let answer = json!({
            "data": {
                "r0": {"defaultBranchRef": {"name": "main"}, "object": {"oid": "abc", "text": "version: 1\n", "isTruncated": false}},
                "r1": {"defaultBranchRef": {"name": "trunk"}, "object": null},
                "r2": null,
                "r3": {"defaultBranchRef": null, "object": null},
                "r4": {"defaultBranchRef": {"name": "main"}, "object": {"oid": "def", "text": null, "isTruncated": true}}
            },
            "errors": [{"type": "NOT_FOUND", "path": ["r2"], "locations": [{"line": 4, "column": 3}],
                        "message": "Could not resolve to a Repository with the name 'org/c'."}]
        });
        let got = parse(&repos, &answer).unwrap();
        let want = vec![
            (
                r("org/a"),
                RepoPipeline::Found {
                    default_branch: Some("main".into()),
                    file: Some(PipelineBlob { oid: "abc".into(), text: Some("version: 1\n".into()) }),
                },
            ),
            (r("org/b"), RepoPipeline::Found { default_branch: Some("trunk".into()), file: None }),
            (r("org/c"), RepoPipeline::Missing),
            (r("org/empty"), RepoPipeline::Found { default_branch: None, file: None }),
            (
                r("org/big"),
                RepoPipeline::Found {
                    default_branch: Some("main".into()),
                    file: Some(PipelineBlob { oid: "def".into(), text: None }),
                },
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn failures() {
        let repos = [r("org/a")];
        let rows = [
            (
                json!({"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}),
                "GraphQL error: API rate limit exceeded",
            ),
            (
                json!({"data": null, "errors": [{"message": "Parse error on \"}\""}]}),
                "GraphQL error: Parse error on \"}\"",
            ),
            (json!({"data": {}}), "GraphQL answer lacks r0 (org/a)"),
            (json!({}), "GraphQL answer without data"),
        ];
        for (answer, want) in rows {
            assert_eq!(parse(&repos, &answer).unwrap_err(), want, "{answer}");
        }
    }
}
