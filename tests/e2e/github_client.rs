//! baton's GitHub client against the fake GitHub with injected faults: what it retries, what it
//! re-reads instead of repeating, conditional requests and rate budgets. Every request is checked
//! against GitHub's OpenAPI description, as in the other scenarios.

use std::time::Duration;

use baton::github::app::AppClient;
use baton::github::{CheckRunWrite, CheckStatus, Conclusion, GitHub, NewPullRequest};
use baton::types::RepoName;

use crate::support::fake_github::{FakeGitHub, Fault, FaultMode};
use crate::support::openapi::OpenApi;
use crate::support::world::{settings, APP_ID, REPO};

const LOST: [FaultMode; 2] = [FaultMode::ApplyThenStatus(502), FaultMode::ApplyThenReset];

async fn setup() -> (FakeGitHub, AppClient, RepoName) {
    let gh = FakeGitHub::start().await;
    gh.set_app(APP_ID, "baton");
    gh.set_request_validator(|method, path, body| OpenApi::load().validate_request(method, path, body).map(|_| ()));
    gh.add_repo(REPO, "main", &[("clusters/dev/app.yaml", "image: x\n")]);
    let client = AppClient::new(&settings(&gh.url(), None).github).expect("client");
    (gh, client, REPO.parse().unwrap())
}

fn check(name: &str, sha: &str) -> CheckRunWrite {
    CheckRunWrite {
        name: name.into(),
        head_sha: sha.into(),
        status: CheckStatus::Completed,
        conclusion: Some(Conclusion::Success),
        title: "ok".into(),
        summary: "verified".into(),
        text: None,
        actions: vec![],
    }
}

fn head(gh: &FakeGitHub) -> String {
    gh.branch_sha(REPO, "main").expect("main")
}

/// A POST that creates, whose answer is lost after GitHub applied it, is found by a re-read and
/// not sent again: one object, one POST, and the caller gets the object's id.
#[tokio::test]
async fn creates_are_reread_not_repeated_after_a_lost_answer() {
    for mode in LOST {
        let (gh, c, repo) = setup().await;
        let sha = head(&gh);

        // check run: by name + head sha + external id
        gh.inject(Fault::on("POST", "/repos/*/*/check-runs").mode(mode));
        let id = c.create_check_run(&repo, &check("baton/verified/dev", &sha)).await.expect("check run");
        let runs = gh.check_runs(REPO, &sha);
        assert_eq!(runs.len(), 1, "{mode:?}: {runs:?}");
        assert_eq!(runs[0].id, id);
        assert_eq!(runs[0].external_id.as_deref(), Some(format!("baton:baton/verified/dev@{sha}").as_str()));
        assert_eq!(gh.count_requests("POST", "/repos/org/deploy/check-runs"), 1, "{mode:?}: not repeated");

        // comment: by its hidden key, and (without one) as the issue's last comment
        let issue = c.create_issue(&repo, "a", "b", &[]).await.unwrap();
        for body in ["Promoted.\n\n<!-- baton:reply:123 -->", "No key here."] {
            let before = gh.count_requests("POST", &format!("/repos/org/deploy/issues/{issue}/comments"));
            gh.inject(Fault::on("POST", "/repos/*/*/issues/*/comments").mode(mode));
            let id = c.create_comment(&repo, issue, body).await.expect("comment");
            let comments = gh.comments(REPO, issue);
            assert_eq!(comments.iter().filter(|x| x.body == body).count(), 1, "{mode:?} {body:?}");
            assert!(comments.iter().any(|x| x.id == id && x.body == body));
            assert_eq!(gh.count_requests("POST", &format!("/repos/org/deploy/issues/{issue}/comments")) - before, 1);
        }

        // issue: by the marker in its body
        gh.inject(Fault::on("POST", "/repos/*/*/issues").mode(mode));
        let body = "Rejected.\n\n<!-- baton-rejected:app@sha256:ab -->";
        let n = c.create_issue(&repo, "app rejected", body, &["baton:rejected".to_string()]).await.expect("issue");
        assert_eq!(gh.issues(REPO).iter().filter(|i| i.body.as_deref() == Some(body)).count(), 1, "{mode:?}");
        assert!(gh.issues(REPO).iter().any(|i| i.number == n && i.body.as_deref() == Some(body)));

        // branch: by reading the ref
        gh.inject(Fault::on("POST", "/repos/*/*/git/refs").mode(mode));
        c.create_branch(&repo, "baton/dev/app", &sha).await.expect("branch");
        assert_eq!(gh.branch_sha(REPO, "baton/dev/app").as_deref(), Some(sha.as_str()));
        assert_eq!(gh.count_requests("POST", "/repos/org/deploy/git/refs"), 1, "{mode:?}");

        // pull request: by head branch
        gh.push_commit(REPO, "baton/dev/app", "alice", "bump", &[("clusters/dev/app.yaml", Some("image: y\n"))]).await;
        gh.inject(Fault::on("POST", "/repos/*/*/pulls").mode(mode));
        let pr =
            NewPullRequest { head: "baton/dev/app".into(), base: "main".into(), title: "t".into(), body: "b".into() };
        let got = c.create_pull(&repo, &pr).await.expect("pull");
        assert_eq!(gh.pulls(REPO).len(), 1, "{mode:?}");
        assert_eq!(gh.pulls(REPO)[0].number, got.number);
        assert_eq!(gh.count_requests("POST", "/repos/org/deploy/pulls"), 1, "{mode:?}");
        assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    }
}

/// A create that was *not* applied (a 502 before the write, a reset before GitHub saw it) is
/// re-read, not found, and repeated: exactly one object.
#[tokio::test]
async fn creates_not_applied_are_repeated_once_found_missing() {
    for mode in [FaultMode::Reject(502), FaultMode::ResetBefore] {
        let (gh, c, repo) = setup().await;
        let sha = head(&gh);
        gh.inject(Fault::on("POST", "/repos/*/*/check-runs").mode(mode));
        c.create_check_run(&repo, &check("baton/verified/dev", &sha)).await.expect("check run");
        assert_eq!(gh.check_runs(REPO, &sha).len(), 1, "{mode:?}");
        assert_eq!(gh.count_requests("POST", "/repos/org/deploy/check-runs"), 2, "{mode:?}: re-read, then repeated");
        let issue = c.create_issue(&repo, "a", "b", &[]).await.unwrap();
        gh.inject(Fault::on("POST", "/repos/*/*/issues/*/comments").mode(mode));
        c.create_comment(&repo, issue, "hi <!-- baton:reply:1 -->").await.unwrap();
        assert_eq!(gh.comments(REPO, issue).len(), 1, "{mode:?}");
    }
}

/// Writes whose repeat is harmless are repeated; when the repeat is refused because the first
/// attempt did it (a merged PR, a moved file, a removed label), the client confirms by reading.
#[tokio::test]
async fn repeatable_writes_after_a_lost_answer() {
    for mode in LOST {
        let (gh, c, repo) = setup().await;
        gh.push_commit(REPO, "feature", "alice", "change", &[("clusters/dev/app.yaml", Some("image: y\n"))]).await;
        let n = gh.open_pr(REPO, "alice", "feature", "main", "t", "b").await;
        let head_sha = gh.pull(REPO, n).unwrap().head_sha;

        // labels: naturally idempotent
        gh.inject(Fault::on("POST", "/repos/*/*/issues/*/labels").mode(mode));
        c.add_labels(&repo, n, &["baton:dev".to_string()]).await.expect("labels");
        assert_eq!(gh.pull(REPO, n).unwrap().labels, vec!["baton:dev".to_string()]);

        // merge with the head sha: the repeat is refused (already merged), the read confirms
        gh.inject(Fault::on("PUT", "/repos/*/*/pulls/*/merge").mode(mode));
        let sha = c.merge_pull(&repo, n, &head_sha, "Bump\n\nbody").await.expect("merge");
        let merged = gh.pull(REPO, n).unwrap();
        assert!(merged.merged, "{mode:?}");
        assert_eq!(merged.merge_commit_sha.as_deref(), Some(sha.as_str()));
        assert_eq!(head(&gh), sha, "one squash commit on main");

        // contents API: a repeat with the old blob sha conflicts; the read confirms the content
        let f = c.file(&repo, "clusters/dev/app.yaml", "main").await.unwrap();
        gh.inject(Fault::on("PUT", "/repos/*/*/contents/**").mode(mode));
        let commit =
            c.put_file(&repo, "main", "clusters/dev/app.yaml", "image: z\n", Some(&f.sha), "z").await.expect("put");
        assert_eq!(head(&gh), commit, "{mode:?}: exactly one commit");
        assert_eq!(gh.file(REPO, "main", "clusters/dev/app.yaml").as_deref(), Some("image: z\n"));

        // reactions: GitHub answers 200 to the repeat; after a lost answer that is ours (new)
        let issue = c.create_issue(&repo, "a", "b", &[]).await.unwrap();
        let comment = gh.comment(REPO, issue, "alice", "/status").await;
        gh.inject(Fault::on("POST", "/repos/*/*/issues/comments/*/reactions").mode(mode));
        assert!(
            c.react(&repo, comment, "eyes").await.unwrap(),
            "{mode:?}: a lost first answer is not 'already reacted'"
        );
        assert!(!c.react(&repo, comment, "eyes").await.unwrap(), "a real repeat is");
        assert_eq!(gh.reactions(REPO, comment), vec!["eyes".to_string()]);
        assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    }
}

/// Two replicas (two clients, no shared state) create the same check run at once: both end up
/// with the oldest one's id, the other is neutralised, and readers see one.
#[tokio::test]
async fn two_replicas_create_one_check_run_record() {
    let (gh, a, repo) = setup().await;
    let b = AppClient::new(&settings(&gh.url(), None).github).unwrap();
    let sha = head(&gh);
    // Warm both clients (token, slug) so the two creates really race.
    a.app_slug().await;
    b.app_slug().await;
    a.repo_info(&repo).await.unwrap();
    b.repo_info(&repo).await.unwrap();
    // Both POSTs land before either lists: the listings are delayed.
    gh.inject(
        Fault::on("GET", "/repos/*/*/commits/*/check-runs").mode(FaultMode::Delay(Duration::from_millis(300))).times(2),
    );
    let ck = check("baton/verified/staging", &sha);
    let (ia, ib) = tokio::join!(a.create_check_run(&repo, &ck), b.create_check_run(&repo, &ck));
    let (ia, ib) = (ia.unwrap(), ib.unwrap());
    assert_eq!(ia, ib, "both replicas agree on the record");
    let runs = gh.check_runs(REPO, &sha);
    assert_eq!(runs.len(), 2, "both were created: {runs:?}");
    let oldest = runs.iter().map(|r| r.id).min().unwrap();
    assert_eq!(ia, oldest, "the oldest is the record");
    let dup = runs.iter().find(|r| r.id != oldest).unwrap();
    assert_eq!((dup.status.as_str(), dup.conclusion.as_deref()), ("completed", Some("neutral")));
    assert!(dup.external_id.as_deref().unwrap().ends_with("#duplicate"));
    assert_eq!(
        dup.summary.as_deref(),
        Some(format!("Two baton replicas recorded this at the same time; check run {oldest} is the record and this one is ignored.").as_str())
    );
    let seen = a.check_runs(&repo, &sha, Some("baton/verified/staging")).await.unwrap();
    assert_eq!(seen.iter().map(|r| r.id).collect::<Vec<_>>(), vec![oldest], "readers skip the duplicate");
    assert!(seen[0].succeeded(), "{:?}", seen[0]);
}

/// Repeated GETs are conditional: the second read of an unchanged resource is a 304 served from
/// the cache, which does not count against the rate limit; a change is seen at once.
#[tokio::test]
async fn conditional_requests_and_rate_budget() {
    let (gh, c, repo) = setup().await;
    assert_eq!(c.rate_budget("org"), None, "unknown before the first request");
    let f1 = c.file(&repo, "clusters/dev/app.yaml", "main").await.unwrap();
    let info1 = c.repo_info(&repo).await.unwrap();
    let before = gh.request_counts();
    let f2 = c.file(&repo, "clusters/dev/app.yaml", "main").await.unwrap();
    let info2 = c.repo_info(&repo).await.unwrap();
    let after = gh.request_counts();
    assert_eq!((f1, info1), (f2, info2), "the cached answers");
    assert_eq!(
        (after.all - before.all, after.counted - before.counted, after.not_modified - before.not_modified),
        (2, 0, 2)
    );
    let budget = c.rate_budget("org").expect("known after a request");
    assert_eq!(budget.limit, 5000);
    assert_eq!(budget.remaining, 5000 - gh.request_counts().counted, "what the last answer said");
    assert_eq!(c.rate_budget("other-org"), None, "per installation");

    // A change: the same read gets the new content (200, new ETag).
    gh.push_commit(REPO, "main", "alice", "edit", &[("clusters/dev/app.yaml", Some("image: w\n"))]).await;
    assert_eq!(c.file(&repo, "clusters/dev/app.yaml", "main").await.unwrap().text, "image: w\n");
    let last = gh.requests().into_iter().last().unwrap();
    assert_eq!(last.status, 200);

    // Budget follows the headers down.
    gh.set_rate_limit(100);
    c.repo_info(&repo).await.unwrap();
    let b = c.rate_budget("org").unwrap();
    assert_eq!((b.limit, b.remaining), (100, 100 - gh.request_counts().counted));
}

/// One repository-wide listing finds recent comments on every issue and PR (what `reconcile`
/// needs to find unanswered commands); unchanged, it is a 304.
#[tokio::test]
async fn recent_comments_across_issues() {
    let (gh, c, repo) = setup().await;
    let a = gh.create_issue(REPO, "alice", "a", "").await;
    let old = gh.comment(REPO, a, "alice", "old").await;
    gh.advance_clock(Duration::from_secs(7200));
    let since =
        (chrono::Utc::now() + chrono::Duration::seconds(3600)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let b = gh.create_issue(REPO, "alice", "b", "").await;
    let x = gh.comment(REPO, b, "carol", "/promote prod").await;
    let y = gh.comment(REPO, a, "bob", "/status").await;
    let got = c.recent_comments(&repo, &since).await.unwrap();
    assert_eq!(
        got.iter().map(|r| (r.id, r.issue_number, r.author.as_str(), r.body.as_str())).collect::<Vec<_>>(),
        vec![(x, b, "carol", "/promote prod"), (y, a, "bob", "/status")],
        "oldest first, the old one ({old}) left out"
    );
    let before = gh.request_counts();
    assert_eq!(c.recent_comments(&repo, &since).await.unwrap(), got);
    assert_eq!(gh.request_counts().counted, before.counted, "unchanged: a 304");
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}
