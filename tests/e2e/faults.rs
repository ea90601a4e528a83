//! The fault matrix (issue #12): the routine path — push → dev PR → merge → verified → staging
//! PR → merge → verified → `/promote prod` → prod PR → merge — once per write endpoint baton uses,
//! with the first three such writes (a repeat included) applied by GitHub but their answers lost
//! (a 502, or the connection reset). Afterwards: exactly one PR per stage branch, one `baton/verified/<stage>` per bump
//! commit, one reply per command, and the path completed.

use baton::pointer::Format;

use crate::support::fake_github::{Fault, FaultMode};
use crate::support::world::*;

const PROD: &str = "clusters/prod/myapp.yaml";

/// Every write endpoint of the routine path (method, path pattern), checked against what a clean
/// run really writes by `the_matrix_covers_every_write_of_the_routine_path`.
pub(crate) const WRITES: &[(&str, &str)] = &[
    // A promotion's commit is made by the contents API (one PUT per pointer file).
    ("POST", "/repos/*/*/git/refs"),
    ("PUT", "/repos/*/*/contents/**"),
    ("POST", "/repos/*/*/pulls"),
    ("POST", "/repos/*/*/issues/*/labels"),
    ("POST", "/repos/*/*/check-runs"),
    ("PATCH", "/repos/*/*/check-runs/*"),
    ("PUT", "/repos/*/*/pulls/*/merge"),
    ("POST", "/repos/*/*/issues/comments/*/reactions"),
    ("POST", "/repos/*/*/issues/*/comments"),
];

/// dev → staging (auto) → prod (manual, approver @carol).
async fn world() -> World {
    let w = World::start_custom(
        |host| {
            pipeline_yaml(host, "pull-request", "auto")
                + "  - name: prod\n    from: staging\n    approvers: [\"@carol\"]\n"
                + "    pointers: [{ file: clusters/prod/myapp.yaml, format: flux-oci, artifact: myapp }]\n"
        },
        true,
    )
    .await;
    w.gh.push_commit(REPO, "main", "sre", "prod pointer", &[(PROD, Some(DEV_POINTER))]).await;
    w.gh.add_user("carol");
    w.gh.set_permission(REPO, "carol", "write");
    w
}

fn merged_pr(w: &World, stage: &str) -> Option<String> {
    w.prs(stage).into_iter().find(|p| p.merged).and_then(|p| p.merge_commit_sha)
}

/// Runs the routine path; returns the digest pushed and the issue the command was posted on.
async fn routine(w: &World) -> (String, u64) {
    let digest = w.push("0.5.1").await;
    w.until("dev merged", |_| merged_pr(w, "dev").is_some()).await;
    let dev = merged_pr(w, "dev").unwrap();
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("staging merged", |_| merged_pr(w, "staging").is_some()).await;
    let staging = merged_pr(w, "staging").unwrap();
    w.gh.post_check_run(REPO, &staging, "e2e / staging", "success", "github-actions").await;
    w.until("staging verified", |gh| {
        gh.check_run(REPO, &staging, "baton/verified/staging")
            .is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    w.gh.comment(REPO, issue, "carol", "/promote prod").await;
    w.until("prod merged", |_| merged_pr(w, "prod").is_some()).await;
    w.settle().await;
    (digest, issue)
}

/// What the matrix asserts after each run: a one-line outcome ("ok") or what went wrong.
fn outcome(w: &World, digest: &str, issue: u64) -> String {
    let mut wrong = vec![];
    for stage in ["dev", "staging", "prod"] {
        let n = w.prs(stage).len();
        if n != 1 {
            wrong.push(format!("{n} {stage} PRs"));
        }
    }
    for stage in ["dev", "staging"] {
        let Some(bump) = merged_pr(w, stage) else {
            wrong.push(format!("no {stage} bump"));
            continue;
        };
        let name = format!("baton/verified/{stage}");
        let runs: Vec<_> = w.gh.check_runs(REPO, &bump).into_iter().filter(|c| c.name == name).collect();
        if runs.len() != 1 {
            wrong.push(format!("{} {name} on its bump", runs.len()));
        }
    }
    let replies = w.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]").count();
    if replies != 1 {
        wrong.push(format!("{replies} replies to /promote prod"));
    }
    let prod = w.running(PROD, Format::FluxOci);
    if prod != format!("0.5.1@{digest}") {
        wrong.push(format!("prod runs {prod}"));
    }
    if !w.gh.violations().is_empty() {
        wrong.push(format!("violations: {:?}", w.gh.violations()));
    }
    if wrong.is_empty() {
        "ok".into()
    } else {
        wrong.join(", ")
    }
}

pub(crate) fn endpoint_of(method: &str, path: &str) -> Option<(&'static str, &'static str)> {
    use crate::support::fake_github::PathMatch;
    WRITES.iter().copied().find(|(m, p)| *m == method && PathMatch::parse(p).matches(path))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_covers_every_write_of_the_routine_path() {
    let w = world().await;
    let (digest, issue) = routine(&w).await;
    assert_eq!(outcome(&w, &digest, issue), "ok");
    let counts = w.gh.request_counts();
    eprintln!(
        "routine path: {} requests, {} counted against the rate limit, {} answered 304",
        counts.all, counts.counted, counts.not_modified
    );
    assert!(counts.not_modified > 0, "repeated reads are conditional");
    let writes = w.gh.write_requests();
    let uncovered: Vec<String> = writes
        .iter()
        .filter(|r| endpoint_of(&r.method, &r.path).is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(uncovered.is_empty(), "writes the matrix does not cover: {uncovered:?}");
    let unused: Vec<_> = WRITES
        .iter()
        .filter(|(m, p)| !writes.iter().any(|r| endpoint_of(&r.method, &r.path) == Some((m, p))))
        .collect();
    assert!(unused.is_empty(), "endpoints the routine path no longer writes: {unused:?}");
}

/// How many matching writes lose their answer per run (a create is never repeated, so these are
/// three different creates; a repeatable write may spend several on its own retries).
const FAULTS: usize = 3;

async fn matrix(mode: FaultMode) -> Vec<String> {
    let mut rows = vec![];
    for (method, path) in WRITES {
        let w = world().await;
        w.gh.inject(Fault::on(method, path).mode(mode).times(FAULTS));
        let (digest, issue) = routine(&w).await;
        let faulted = w.gh.requests().iter().filter(|r| r.fault.is_some()).count();
        assert!(faulted > 0, "{method} {path}: no fault fired");
        rows.push(format!("{method} {path} × {mode:?} ({faulted} answers lost) → {}", outcome(&w, &digest, issue)));
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_applied_then_502() {
    let rows = matrix(FaultMode::ApplyThenStatus(502)).await;
    insta::assert_snapshot!(rows.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_applied_then_reset() {
    let rows = matrix(FaultMode::ApplyThenReset).await;
    insta::assert_snapshot!(rows.join("\n"));
}

/// Two baton replicas on one event stream: every webhook goes to both at once, and the registry
/// push too. They race on every decision; afterwards there is one PR per stage branch and one
/// live `baton/verified/<stage>` per bump commit (a concurrent twin is neutralised).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_event_stream_make_no_duplicate_records() {
    let w = World::start().await;
    let second = Baton::start(settings(&w.gh.url(), Some(&w.registry.host()))).await;
    w.gh.add_webhook_mirror(&format!("{}/webhooks/github", second.url));
    let digest = w.push("0.5.1").await;
    let envelope = push_envelope(&w.registry.host(), "deployments/myapp", "0.5.1", &digest);
    assert!(second.post_registry(&envelope).await.status().is_success());
    w.until("dev merged", |_| merged_pr(&w, "dev").is_some()).await;
    let dev = merged_pr(&w, "dev").unwrap();
    // Widen the window between "read the check runs" and "create the record" so that both
    // replicas decide to create.
    let slow_reads = || {
        Fault::on("GET", "/repos/*/*/commits/*/check-runs")
            .mode(FaultMode::Delay(std::time::Duration::from_millis(200)))
            .times(6)
    };
    w.settle_with(&[&second]).await;
    w.gh.inject(slow_reads());
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("staging merged", |_| merged_pr(&w, "staging").is_some()).await;
    let staging = merged_pr(&w, "staging").unwrap();
    w.settle_with(&[&second]).await;
    w.gh.clear_faults();
    w.gh.inject(slow_reads());
    w.gh.post_check_run(REPO, &staging, "e2e / staging", "success", "github-actions").await;
    w.until("staging verified", |gh| {
        gh.check_runs(REPO, &staging)
            .iter()
            .any(|c| c.name == "baton/verified/staging" && c.conclusion.as_deref() == Some("success"))
    })
    .await;
    w.settle_with(&[&second]).await;

    for stage in ["dev", "staging"] {
        assert_eq!(w.prs(stage).len(), 1, "{stage}: {:#?}", w.prs(stage));
    }
    for (stage, bump) in [("dev", &dev), ("staging", &staging)] {
        let name = format!("baton/verified/{stage}");
        let runs: Vec<_> = w.gh.check_runs(REPO, bump).into_iter().filter(|c| c.name == name).collect();
        let live: Vec<_> =
            runs.iter().filter(|c| !c.external_id.as_deref().unwrap_or_default().ends_with("#duplicate")).collect();
        eprintln!("{name}: {} check runs on its bump, {} live", runs.len(), live.len());
        assert_eq!(live.len(), 1, "{name}: {runs:#?}");
        assert_eq!(live[0].conclusion.as_deref(), Some("success"));
        assert_eq!(live[0].id, runs.iter().map(|c| c.id).min().unwrap(), "the record is the oldest");
        assert!(runs.iter().filter(|c| c.id != live[0].id).all(|c| c.conclusion.as_deref() == Some("neutral")));
    }
    assert_eq!(w.running("clusters/staging/values.yaml", Format::HelmValues), format!("0.5.1@{digest}"));
    w.assert_no_violations();
}

/// Two replicas answering one command at once (issue #12, item 4): both see `/promote prod`
/// unanswered (their reads of the issue's comments are slowed so they decide together), both
/// promote — one PR, the other finds it — and both reply. After posting, each lists the issue's
/// comments; the oldest reply with the command's key stays and the other is deleted, by
/// whichever replica looks first (both decide the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_answering_one_command_leave_one_reply() {
    let w = world().await;
    let digest = w.push("0.5.1").await;
    w.until("dev merged", |_| merged_pr(&w, "dev").is_some()).await;
    let dev = merged_pr(&w, "dev").unwrap();
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("staging merged", |_| merged_pr(&w, "staging").is_some()).await;
    let staging = merged_pr(&w, "staging").unwrap();
    w.gh.post_check_run(REPO, &staging, "e2e / staging", "success", "github-actions").await;
    w.until("staging verified", |gh| {
        gh.check_run(REPO, &staging, "baton/verified/staging")
            .is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    w.settle().await;

    let second = Baton::start(settings(&w.gh.url(), Some(&w.registry.host()))).await;
    w.gh.add_webhook_mirror(&format!("{}/webhooks/github", second.url));
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    w.gh.clear_requests();
    // Both replicas' "is it answered?" reads take a while: both decide to run the command.
    w.gh.inject(
        Fault::on("GET", &format!("/repos/{REPO}/issues/{issue}/comments"))
            .mode(FaultMode::Delay(std::time::Duration::from_millis(300)))
            .times(2),
    );
    w.gh.comment(REPO, issue, "carol", "/promote prod").await;
    w.until("prod merged", |_| merged_pr(&w, "prod").is_some()).await;
    w.settle_with(&[&second]).await;

    let posted =
        w.gh.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == format!("/repos/{REPO}/issues/{issue}/comments"))
            .count();
    assert_eq!(posted, 2, "both replicas replied (the race this test is about happened)");
    let deleted =
        w.gh.requests().iter().filter(|r| r.method == "DELETE" && r.path.contains("/issues/comments/")).count();
    assert!(deleted >= 1, "the twin reply was deleted");
    let replies: Vec<_> = w.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]").collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert!(replies[0].body.contains("<!-- baton:reply:"), "{}", replies[0].body);
    let created: Vec<u64> =
        w.gh.deliveries()
            .iter()
            .filter(|d| d.event == "issue_comment" && d.action.as_deref() == Some("created"))
            .filter(|d| d.payload.pointer("/comment/user/login").and_then(|v| v.as_str()) == Some("baton[bot]"))
            .filter(|d| d.payload.pointer("/issue/number").and_then(|v| v.as_u64()) == Some(issue))
            .filter_map(|d| d.payload.pointer("/comment/id")?.as_u64())
            .collect();
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(Some(replies[0].id), created.iter().copied().min(), "the oldest reply is the one kept");
    assert_eq!(w.prs("prod").len(), 1, "{:#?}", w.prs("prod"));
    assert_eq!(w.running(PROD, Format::FluxOci), format!("0.5.1@{digest}"));
    w.assert_no_violations();
}
