//! Self-tests for the OpenAPI request validator (tests/support/openapi.rs) and the
//! vendored GitHub test data (tests/data/openapi, tests/data/webhooks).

#[path = "support/openapi.rs"]
mod openapi;

use openapi::OpenApi;
use serde_json::{json, Value};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn ok(method: &str, path: &str, body: Option<Value>) -> &'static str {
    OpenApi::load()
        .validate_request(method, path, body.as_ref())
        .unwrap_or_else(|e| panic!("{method} {path} should be valid, got: {e}"))
}

fn err(method: &str, path: &str, body: Option<Value>) -> String {
    match OpenApi::load().validate_request(method, path, body.as_ref()) {
        Ok(id) => panic!("{method} {path} should be rejected, but matched {id}"),
        Err(e) => e,
    }
}

#[test]
fn every_listed_operation_is_vendored() {
    let api = OpenApi::load();
    let ops = api.operations();
    assert!(ops.len() >= 44, "only {} operations vendored", ops.len());
    for (method, template, id) in ops {
        assert!(!id.is_empty(), "{method} {template} has no operationId");
    }
}

#[test]
fn valid_requests_pass() {
    assert_eq!(ok("POST", "/repos/o/r/git/refs", Some(json!({"ref": "refs/heads/x", "sha": SHA}))), "git/create-ref");
    assert_eq!(ok("GET", "/repos/o/r/contents/a/b/c.yaml?ref=main", None), "repos/get-content");
    assert_eq!(
        ok(
            "POST",
            "/repos/o/r/pulls",
            Some(json!({"head": "baton/prod/app", "base": "main", "title": "t", "body": "b"}))
        ),
        "pulls/create"
    );
    assert_eq!(
        ok("PUT", "/repos/o/r/pulls/3/merge", Some(json!({"sha": SHA, "merge_method": "squash"}))),
        "pulls/merge"
    );
    assert_eq!(
        ok(
            "POST",
            "/repos/o/r/check-runs",
            Some(json!({
                "name": "baton/verify",
                "head_sha": SHA,
                "status": "completed",
                "conclusion": "success",
                "completed_at": "2024-01-02T03:04:05Z",
                "output": {"title": "Verified", "summary": "all good"}
            }))
        ),
        "checks/create"
    );
    // Optional body may be omitted.
    assert_eq!(ok("PUT", "/repos/o/r/pulls/3/merge", None), "pulls/merge");
    assert_eq!(ok("GET", "/repos/o/r/pulls?state=open&head=o:baton/prod&per_page=100&page=2", None), "pulls/list");
    assert_eq!(ok("POST", "/repos/o/r/issues/7/labels", Some(json!({"labels": ["baton"]}))), "issues/add-labels");
    assert_eq!(
        ok("POST", "/repos/o/r/issues/comments/42/reactions", Some(json!({"content": "+1"}))),
        "reactions/create-for-issue-comment"
    );
    assert_eq!(
        ok(
            "POST",
            &format!("/repos/o/r/statuses/{SHA}"),
            Some(json!({"state": "success", "context": "baton", "target_url": null}))
        ),
        "repos/create-commit-status"
    );
    assert_eq!(
        ok(
            "POST",
            "/app/installations/12/access_tokens",
            Some(json!({"repositories": ["deploy"], "permissions": {"contents": "write"}}))
        ),
        "apps/create-installation-access-token"
    );
    assert_eq!(
        ok("GET", "https://api.github.com/installation/repositories?per_page=100", None),
        "apps/list-repos-accessible-to-installation"
    );
}

#[test]
fn multi_segment_parameters_take_the_rest_of_the_path() {
    let api = OpenApi::load();
    let m = api.match_request("GET", "/repos/o/r/contents/clusters/prod/app.yaml?ref=main", None).unwrap();
    assert_eq!(m.operation_id, "repos/get-content");
    assert_eq!(m.param("path"), "clusters/prod/app.yaml");
    assert_eq!(m.query_param("ref"), Some("main"));

    // Percent-encoded slashes decode to the same value.
    let m = api.match_request("GET", "/repos/o/r/contents/clusters%2Fprod%2Fapp.yaml", None).unwrap();
    assert_eq!(m.param("path"), "clusters/prod/app.yaml");

    let m = api.match_request("GET", "/repos/o/r/git/ref/heads/baton/prod/app", None).unwrap();
    assert_eq!(m.operation_id, "git/get-ref");
    assert_eq!(m.param("ref"), "heads/baton/prod/app");

    let m = api
        .match_request("PATCH", "/repos/o/r/git/refs/heads/feature/x", Some(&json!({"sha": SHA, "force": true})))
        .unwrap();
    assert_eq!(m.operation_id, "git/update-ref");
    assert_eq!(m.param("ref"), "heads/feature/x");

    assert_eq!(ok("DELETE", "/repos/o/r/git/refs/heads/feature/x", None), "git/delete-ref");

    // The literal suffix wins over a greedy {ref}.
    assert_eq!(ok("GET", "/repos/o/r/commits/main/status", None), "repos/get-combined-status-for-ref");
    assert_eq!(ok("GET", "/repos/o/r/commits/heads/main/check-runs?check_name=baton", None), "checks/list-for-ref");
    assert_eq!(ok("GET", "/repos/o/r/commits/main", None), "repos/get-commit");
    assert_eq!(
        ok("GET", &format!("/repos/o/r/commits/{SHA}/pulls"), None),
        "repos/list-pull-requests-associated-with-commit"
    );
    let m = api.match_request("GET", "/repos/o/r/compare/main...baton/prod/app", None).unwrap();
    assert_eq!(m.param("basehead"), "main...baton/prod/app");

    // Percent-decoding of a single-segment parameter.
    let m = api.match_request("DELETE", "/repos/o/r/issues/5/labels/baton%3A%20blocked", None).unwrap();
    assert_eq!(m.operation_id, "issues/remove-label");
    assert_eq!(m.param("name"), "baton: blocked");
}

#[test]
fn invalid_requests_are_rejected() {
    // Missing required property.
    let e = err("POST", "/repos/o/r/git/refs", Some(json!({"ref": "refs/heads/x"})));
    assert!(e.contains("git/create-ref") && e.contains("sha"), "{e}");

    // Wrong enum value.
    let e = err("PUT", "/repos/o/r/pulls/3/merge", Some(json!({"sha": SHA, "merge_method": "fast"})));
    assert!(e.contains("pulls/merge") && e.contains("fast"), "{e}");

    // Wrong type.
    let e = err("POST", "/repos/o/r/git/refs", Some(json!({"ref": 1, "sha": SHA})));
    assert!(e.contains("/ref"), "{e}");

    // Unknown path.
    let e = err("GET", "/repos/o/r/frobnicate", None);
    assert!(e.contains("no operation"), "{e}");

    // Wrong method on a known path.
    let e = err("POST", "/repos/o/r/pulls/3", Some(json!({})));
    assert!(e.contains("GitHub has") && e.contains("PATCH"), "{e}");

    // Bad query parameter type, unknown query parameter, bad enum in query.
    let e = err("GET", "/repos/o/r/pulls?per_page=abc", None);
    assert!(e.contains("per_page"), "{e}");
    let e = err("GET", "/repos/o/r/pulls?colour=blue", None);
    assert!(e.contains("unknown query parameter `colour`"), "{e}");
    let e = err("GET", "/repos/o/r/pulls?state=merged", None);
    assert!(e.contains("state"), "{e}");

    // Missing required body.
    let e = err("POST", "/repos/o/r/pulls", None);
    assert!(e.contains("pulls/create") && e.contains("body is required"), "{e}");

    // Body sent to an operation without one.
    let e = err("GET", "/repos/o/r", Some(json!({"x": 1})));
    assert!(e.contains("takes no request body"), "{e}");

    // Non-integer path parameter.
    let e = err("GET", "/repos/o/r/pulls/abc", None);
    assert!(e.contains("pull_number"), "{e}");

    // Check run with a bad status and a malformed timestamp.
    let e = err("POST", "/repos/o/r/check-runs", Some(json!({"name": "n", "head_sha": SHA, "status": "done"})));
    assert!(e.contains("status"), "{e}");
    let e =
        err("PATCH", "/repos/o/r/check-runs/9", Some(json!({"completed_at": "yesterday", "conclusion": "success"})));
    assert!(e.contains("completed_at"), "{e}");

    // A completed check run needs a conclusion (GitHub answers 422 otherwise).
    let e = err("PATCH", "/repos/o/r/check-runs/9", Some(json!({"status": "completed"})));
    assert!(e.contains("checks/update"), "{e}");
    assert_eq!(
        ok("PATCH", "/repos/o/r/check-runs/9", Some(json!({"status": "completed", "conclusion": "failure"}))),
        "checks/update"
    );

    // Labels must be wrapped in {"labels": [...]} (the bare-array form GitHub's docs
    // mention is not in the description).
    let e = err("POST", "/repos/o/r/issues/3/labels", Some(json!(["a"])));
    assert!(e.contains("issues/add-labels"), "{e}");

    // Missing required content fields (message, content).
    let e = err("PUT", "/repos/o/r/contents/a.yaml", Some(json!({"content": "eA=="})));
    assert!(e.contains("message"), "{e}");
}

#[test]
fn responses_can_be_checked() {
    let api = OpenApi::load();
    api.validate_response(
        "git/get-ref",
        200,
        Some(&json!({
            "ref": "refs/heads/main",
            "node_id": "x",
            "url": "https://api.github.com/repos/o/r/git/refs/heads/main",
            "object": {"type": "commit", "sha": SHA, "url": "https://api.github.com/x"}
        })),
    )
    .unwrap();
    let e = api.validate_response("git/get-ref", 200, Some(&json!({"ref": "refs/heads/main"}))).unwrap_err();
    assert!(e.contains("object"), "{e}");
    api.validate_response("git/delete-ref", 204, None).unwrap();
    assert!(api.validate_response("git/delete-ref", 418, None).is_err());
}

fn webhook_examples() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/webhooks/examples.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn webhook_examples_are_vendored() {
    let examples = webhook_examples();
    assert!(examples.len() > 100, "only {} payloads", examples.len());
    let events: std::collections::BTreeSet<&str> = examples.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for want in [
        "pull_request",
        "issue_comment",
        "check_run",
        "check_suite",
        "status",
        "package",
        "registry_package",
        "push",
        "installation",
        "installation_repositories",
        "ping",
    ] {
        assert!(events.contains(want), "no {want} example in {events:?}");
    }
    for e in &examples {
        assert!(e["payload"].is_object(), "{e}");
        assert_eq!(e["action"], e["payload"].get("action").cloned().unwrap_or(Value::Null));
    }
}

/// GitHub's real example payloads against GitHub's own webhook schemas, for the events
/// whose schemas are vendored. Many examples predate fields the schemas now mark
/// required (`has_discussions`, `auto_merge`, `app_slug`, `verified_at`, ...), and old
/// `installation` examples carry integer timestamps, so mismatches are only reported
/// (run with `--nocapture`): they show which fields baton's webhook types must NOT
/// require. The test asserts that the schemas compile and apply to the examples.
#[test]
fn webhook_examples_match_vendored_schemas() {
    let api = OpenApi::load();
    let mut checked = 0;
    let mut failures = Vec::new();
    for e in webhook_examples() {
        let event = e["event"].as_str().unwrap();
        match api.validate_webhook(event, &e["payload"]) {
            Ok(_) => checked += 1,
            Err(msg) if msg.starts_with("no webhook schema") => {}
            Err(msg) => {
                checked += 1;
                failures.push(format!("{event}#{}: {msg}", e["index"]));
            }
        }
    }
    assert!(checked > 50, "only {checked} examples had a schema");
    for f in &failures {
        eprintln!("{}", &f[..f.len().min(400)]);
    }
    eprintln!("{} of {checked} examples failed their schema", failures.len());
}
