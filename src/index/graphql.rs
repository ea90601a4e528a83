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
            o => Some(blob(o).map_err(|e| format!("{alias}: {e}"))?),
        };
        out.push((repo.clone(), RepoPipeline::Found { default_branch, file }));
    }
    Ok(out)
}

/// The query that lists an installation's repositories with their pipeline file, 100 per page
/// (for an installation on all of the owner's repositories: the listing and the files in one
/// paginated query instead of a REST listing plus a query per 100 repositories). Variables:
/// `owner` (the account's login) and `after` (the previous page's `endCursor`, or null).
///
/// GitHub's schema: `Query.repositoryOwner(login:)` → `RepositoryOwner.repositories(first:,
/// after:, ownerAffiliations:)` → `RepositoryConnection { nodes, pageInfo { hasNextPage
/// endCursor } }`; `Repository.nameWithOwner`, `isArchived`. An installation token sees only the
/// repositories the installation can access; `ownerAffiliations: [OWNER]` leaves out a user
/// account's repositories of other owners it collaborates on.
pub fn listing_query(path: &str) -> String {
    let expression = quoted(&format!("HEAD:{path}"));
    format!(
        "query($owner: String!, $after: String) {{\n  repositoryOwner(login: $owner) {{\n    repositories(first: {REPOS_PER_QUERY}, after: $after, ownerAffiliations: [OWNER]) {{\n      nodes {{ nameWithOwner isArchived defaultBranchRef {{ name }} object(expression: {expression}) {{ ... on Blob {{ oid text isTruncated }} }} }}\n      pageInfo {{ hasNextPage endCursor }}\n    }}\n  }}\n}}"
    )
}

/// The variables of [`listing_query`] for one page.
pub fn listing_variables(owner: &str, after: Option<&str>) -> Value {
    serde_json::json!({ "owner": owner, "after": after })
}

/// One page of [`listing_query`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPage {
    /// Every repository of the page with its pipeline file (an archived repository, which
    /// cannot be written to, counts as having none).
    pub repos: Vec<(RepoName, RepoPipeline)>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Parses one page of the answer to [`listing_query`]. Any GraphQL error (the owner unknown to
/// the installation, a rate limit, a bad query) fails the listing: a partial listing would make
/// the index forget repositories.
pub fn parse_listing(answer: &Value) -> Result<ListingPage, String> {
    if let Some(e) = answer["errors"].as_array().and_then(|errs| errs.first()) {
        return Err(format!("GraphQL error: {}", e["message"].as_str().unwrap_or("(no message)")));
    }
    let owner = answer.pointer("/data/repositoryOwner").ok_or("GraphQL answer without data.repositoryOwner")?;
    if owner.is_null() {
        return Err("GraphQL answer: the repository owner could not be resolved".into());
    }
    let conn = &owner["repositories"];
    let nodes = conn["nodes"].as_array().ok_or("GraphQL answer without repositories.nodes")?;
    let mut repos = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let name = node["nameWithOwner"].as_str().ok_or_else(|| format!("node {i} without nameWithOwner"))?;
        let repo: RepoName = name.parse().map_err(|e| format!("node {i}: nameWithOwner {name:?}: {e}"))?;
        let default_branch = node.pointer("/defaultBranchRef/name").and_then(Value::as_str).map(str::to_string);
        let file = match (&node["object"], node["isArchived"].as_bool().unwrap_or(false)) {
            (_, true) | (Value::Null, _) => None,
            (o, false) => Some(blob(o).map_err(|e| format!("{repo}: {e}"))?),
        };
        repos.push((repo, RepoPipeline::Found { default_branch, file }));
    }
    let info = &conn["pageInfo"];
    let has_next = info["hasNextPage"].as_bool().ok_or("GraphQL answer without pageInfo.hasNextPage")?;
    let next = match (has_next, info["endCursor"].as_str()) {
        (false, _) => None,
        (true, Some(c)) => Some(c.to_string()),
        (true, None) => return Err("GraphQL answer: hasNextPage without an endCursor".into()),
    };
    Ok(ListingPage { repos, next })
}

fn blob(o: &Value) -> Result<PipelineBlob, String> {
    let oid = o["oid"].as_str().ok_or("object without oid (not a file?)")?;
    let truncated = o["isTruncated"].as_bool().unwrap_or(false);
    let text = o["text"].as_str().filter(|_| !truncated).map(str::to_string);
    Ok(PipelineBlob { oid: oid.to_string(), text })
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

    #[test]
    fn listing_query_text() {
        insta::assert_snapshot!(listing_query(".baton.yaml"));
        assert_eq!(listing_variables("org", None), json!({"owner": "org", "after": null}));
        assert_eq!(listing_variables("org", Some("Y3Vy")), json!({"owner": "org", "after": "Y3Vy"}));
    }

    #[test]
    fn listing_pages() {
        let node = |name: &str, archived: bool, object: Value| json!({"nameWithOwner": name, "isArchived": archived, "defaultBranchRef": {"name": "main"}, "object": object});
        let file = json!({"oid": "abc", "text": "version: 1\n", "isTruncated": false});
        let page = |nodes: Vec<Value>, next: Option<&str>| {
            json!({"data": {"repositoryOwner": {"repositories": {
                "nodes": nodes, "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next}}}}})
        };
        let with = |oid: &str| RepoPipeline::Found {
            default_branch: Some("main".into()),
            file: Some(PipelineBlob { oid: oid.into(), text: Some("version: 1\n".into()) }),
        };
        let none = RepoPipeline::Found { default_branch: Some("main".into()), file: None };
        let rows = [
            (
                "a page with a next one",
                page(vec![node("org/a", false, file.clone()), node("org/b", false, Value::Null)], Some("Y3Vy")),
                ListingPage {
                    repos: vec![(r("org/a"), with("abc")), (r("org/b"), none.clone())],
                    next: Some("Y3Vy".into()),
                },
            ),
            (
                "the last page; an archived repository has no pipeline",
                page(vec![node("org/old", true, file.clone())], None),
                ListingPage { repos: vec![(r("org/old"), none.clone())], next: None },
            ),
            (
                "an empty repository (no default branch)",
                page(
                    vec![
                        json!({"nameWithOwner": "org/empty", "isArchived": false, "defaultBranchRef": null, "object": null}),
                    ],
                    None,
                ),
                ListingPage {
                    repos: vec![(r("org/empty"), RepoPipeline::Found { default_branch: None, file: None })],
                    next: None,
                },
            ),
            ("no repositories", page(vec![], None), ListingPage { repos: vec![], next: None }),
        ];
        for (what, answer, want) in rows {
            assert_eq!(parse_listing(&answer).unwrap(), want, "{what}");
        }
    }

    #[test]
    fn listing_failures() {
        let rows = [
            (
                json!({"data": {"repositoryOwner": null}, "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a RepositoryOwner with the login of 'gone'."}]}),
                "GraphQL error: Could not resolve to a RepositoryOwner with the login of 'gone'.",
            ),
            (json!({"data": {"repositoryOwner": null}}), "GraphQL answer: the repository owner could not be resolved"),
            (json!({"data": {}}), "GraphQL answer without data.repositoryOwner"),
            (
                json!({"data": {"repositoryOwner": {"repositories": {"nodes": [], "pageInfo": {"hasNextPage": true, "endCursor": null}}}}}),
                "GraphQL answer: hasNextPage without an endCursor",
            ),
            (
                json!({"data": {"repositoryOwner": {"repositories": {"nodes": [{"isArchived": false}], "pageInfo": {"hasNextPage": false}}}}}),
                "node 0 without nameWithOwner",
            ),
        ];
        for (answer, want) in rows {
            assert_eq!(parse_listing(&answer).unwrap_err(), want, "{answer}");
        }
    }
}
