//! Promotion windows (#13): a closed window holds a stage's automatic merge, with a pending
//! `baton/policy` row saying until when; the merge happens once the window opens, by a timer
//! armed at the opening (no event and no reconcile: only the clock moves), at the right UTC
//! instant across daylight-saving changes.

use baton::engine::scheduler::TimerKey;
use baton::pointer::Format;

use crate::support::world::*;

const STAGING: &str = "clusters/staging/values.yaml";

/// The standard pipeline, with staging closed from Friday 15:00 to Monday 08:00, Berlin time.
fn pipeline(host: &str) -> String {
    let base = pipeline_yaml(host, "pull-request", "auto");
    let windows = "    windows:\n      timezone: Europe/Berlin\n      deny: [\"Fri 15:00 - Mon 08:00\"]\n";
    let anchor = "    freeze: { file: clusters/staging/FREEZE }\n";
    assert!(base.contains(anchor));
    base.replace(anchor, &format!("{anchor}{windows}"))
}

fn utc(at: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc()
}

/// When the timer of PR `number` is due, if armed.
fn pull_timer(w: &World, number: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    w.baton.engine.scheduler.due(&TimerKey::Pull { repo: REPO.parse().unwrap(), number })
}

/// Sets baton's clock to `at` (RFC 3339), through the World's offset.
fn set_clock(w: &World, at: &str) {
    let target = chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc();
    let offset = (target - chrono::Utc::now()).num_seconds();
    w.baton.clock_offset.store(offset, std::sync::atomic::Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_promotion_in_a_deny_window_waits_and_merges_when_it_ends() {
    let mut w = World::start_custom(pipeline, true).await;
    // Friday 4 December 2026, 16:00 in Berlin (UTC+1): inside the deny window.
    set_clock(&w, "2026-12-04T15:00:00Z");
    let digest = w.push("0.5.1").await;
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    let dev_bump = w.prs("dev").into_iter().find(|p| p.merged).and_then(|p| p.merge_commit_sha).unwrap();
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;

    // staging's PR is opened, and its policy check waits with the window's words.
    w.until("a staging PR", |_| w.open_pr("staging").is_some()).await;
    let pr = w.open_pr("staging").unwrap();
    w.until("baton/policy waiting", |gh| {
        gh.check_run(REPO, &pr.head_sha, "baton/policy").and_then(|c| c.title).is_some_and(|t| t.starts_with("Waiting"))
    })
    .await;
    let check = w.gh.check_run(REPO, &pr.head_sha, "baton/policy").unwrap();
    assert_eq!(check.status, "in_progress", "pending while the window is closed");
    assert_eq!(check.title.as_deref(), Some("Waiting for the promotion window (closed until Mon 08:00 Europe/Berlin)"));
    let summary = check.summary.clone().unwrap_or_default();
    insta::assert_snapshot!(summary.replace(&digest[..19], "sha256:<digest>").replace(&dev_bump[..7], "<sha>"));

    // The PR's timer is armed at the window's end.
    w.settle().await;
    assert_eq!(pull_timer(&w, pr.number), Some(utc("2026-12-07T07:00:00Z")));

    // A restart loses it; a reconcile inside the window changes nothing but re-arms it.
    w.restart_baton().await;
    set_clock(&w, "2026-12-04T15:30:00Z");
    assert_eq!(pull_timer(&w, pr.number), None, "timers are a cache");
    let repo = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert!(w.open_pr("staging").is_some_and(|p| !p.merged), "still open inside the window");
    assert_eq!(pull_timer(&w, pr.number), Some(utc("2026-12-07T07:00:00Z")), "restored by reconcile");

    // Monday 7 December, 08:01 in Berlin: the window has ended; with no event and no
    // reconcile, the timer re-runs the policy check and merges.
    set_clock(&w, "2026-12-07T07:01:00Z");
    w.until("staging merged", |gh| {
        gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to staging")
    })
    .await;
    let check = w.gh.check_run(REPO, &pr.head_sha, "baton/policy").unwrap();
    assert_eq!((check.status.as_str(), check.conclusion.as_deref()), ("completed", Some("success")));
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{digest}"));
    w.settle().await;
    w.assert_no_violations();
}

const PROD: &str = "clusters/prod/myapp.yaml";

/// dev → staging (auto) → prod (manual, approver @erin; open Mon–Thu 09:00–17:00 Berlin time,
/// closed over the holidays).
async fn world_with_prod_window() -> World {
    let w = World::start_custom(
        |host| {
            pipeline_yaml(host, "pull-request", "auto")
                + "  - name: prod\n    from: staging\n    approvers: [\"@erin\"]\n"
                + "    windows:\n      timezone: Europe/Berlin\n      allow: [\"Mon-Thu 09:00-17:00\"]\n"
                + "      deny: [\"2026-12-20 - 2027-01-06\"]\n"
                + "    pointers: [{ file: clusters/prod/myapp.yaml, format: flux-oci, artifact: myapp }]\n"
        },
        true,
    )
    .await;
    w.gh.push_commit(REPO, "main", "sre", "prod pointer", &[(PROD, Some(DEV_POINTER))]).await;
    w.gh.add_user("erin");
    w.gh.set_permission(REPO, "erin", "write");
    w
}

fn merged_title(w: &World, title: &str) -> Option<String> {
    w.gh.pulls(REPO).into_iter().rev().find(|p| p.merged && p.title == title).and_then(|p| p.merge_commit_sha)
}

/// Takes `tag` through dev and staging (both verify it).
async fn verified_in_staging(w: &World, tag: &str) -> String {
    let digest = w.push(tag).await;
    let title = |stage: &str| format!("promote myapp {tag} to {stage}");
    w.until("dev merged", |_| merged_title(w, &title("dev")).is_some()).await;
    let dev = merged_title(w, &title("dev")).unwrap();
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("staging merged", |_| merged_title(w, &title("staging")).is_some()).await;
    let staging = merged_title(w, &title("staging")).unwrap();
    w.gh.post_check_run(REPO, &staging, "e2e / staging", "success", "github-actions").await;
    w.until("staging verified", |gh| {
        gh.check_run(REPO, &staging, "baton/verified/staging")
            .is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    digest
}

/// Posts a comment and waits for baton's answer.
async fn say(w: &World, issue: u64, who: &str, body: &str) -> String {
    let before = w.gh.comments(REPO, issue).len();
    let id = w.gh.comment(REPO, issue, who, body).await;
    w.until(&format!("an answer to {body:?}"), |gh| {
        gh.reactions(REPO, id).iter().any(|x| x == "rocket" || x == "confused")
            && gh.comments(REPO, issue).len() > before + 1
    })
    .await;
    w.gh.comments(REPO, issue).into_iter().rev().find(|c| c.author == "baton[bot]").unwrap().body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_outside_the_allow_window_merges_when_it_opens() {
    let w = world_with_prod_window().await;
    // Wednesday 2 December 2026, 19:00 in Berlin: after hours.
    set_clock(&w, "2026-12-02T18:00:00Z");
    let digest = verified_in_staging(&w, "0.5.1").await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    let reply = say(&w, issue, "erin", "/promote prod").await;
    assert!(reply.contains("moves prod to `0.5.1`"), "{reply}");

    w.until("a prod PR", |_| w.open_pr("prod").is_some()).await;
    let pr = w.open_pr("prod").unwrap();
    w.until("baton/policy waiting", |gh| {
        gh.check_run(REPO, &pr.head_sha, "baton/policy").and_then(|c| c.title).is_some_and(|t| t.starts_with("Waiting"))
    })
    .await;
    let check = w.gh.check_run(REPO, &pr.head_sha, "baton/policy").unwrap();
    assert_eq!(check.title.as_deref(), Some("Waiting for the promotion window (closed until Thu 09:00 Europe/Berlin)"));
    assert!(w.open_pr("prod").is_some_and(|p| !p.merged));
    let status = say(&w, issue, "erin", "/status").await;
    assert!(status.contains("| `prod` 🚧 closed until Thu 09:00 Europe/Berlin |"), "{status}");

    assert_eq!(pull_timer(&w, pr.number), Some(utc("2026-12-03T08:00:00Z")), "armed at Thu 09:00 Berlin");

    // Thursday 09:01 in Berlin: the window is open; the timer merges the approved PR (no
    // event, no reconcile).
    set_clock(&w, "2026-12-03T08:01:00Z");
    w.until("prod merged", |_| merged_title(&w, "promote myapp 0.5.1 to prod").is_some()).await;
    assert_eq!(w.running(PROD, Format::FluxOci), format!("0.5.1@{digest}"));
    let commit = w.gh.commit(REPO, &merged_title(&w, "promote myapp 0.5.1 to prod").unwrap()).unwrap();
    assert!(commit.message.contains("Baton-Approved-By: erin"), "{}", commit.message);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_during_a_freeze_window_goes_through() {
    let w = world_with_prod_window().await;
    // Inside the allow window: two versions reach prod.
    set_clock(&w, "2026-12-02T10:00:00Z");
    let d1 = verified_in_staging(&w, "0.5.1").await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    say(&w, issue, "erin", "/promote prod").await;
    w.until("0.5.1 in prod", |_| merged_title(&w, "promote myapp 0.5.1 to prod").is_some()).await;
    verified_in_staging(&w, "0.5.2").await;
    say(&w, issue, "erin", "/promote prod").await;
    w.until("0.5.2 in prod", |_| merged_title(&w, "promote myapp 0.5.2 to prod").is_some()).await;

    // Monday 21 December, 10:00 in Berlin: the holiday freeze. A rollback is exempt.
    set_clock(&w, "2026-12-21T09:00:00Z");
    let reply = say(&w, issue, "erin", "/rollback prod").await;
    assert!(reply.contains("moves prod to `0.5.1`"), "{reply}");
    w.until("the rollback merged", |gh| {
        gh.pulls(REPO).iter().any(|p| p.merged && p.labels.iter().any(|l| l == "baton:rollback"))
    })
    .await;
    assert_eq!(w.running(PROD, Format::FluxOci), format!("0.5.1@{d1}"));
    let pr = w.prs("prod").into_iter().rev().find(|p| p.labels.iter().any(|l| l == "baton:rollback")).unwrap();
    let check = w.gh.check_run(REPO, &pr.head_sha, "baton/policy").unwrap();
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    assert!(
        check
            .summary
            .unwrap_or_default()
            .contains("➖ prod closed until Thu 2027-01-07 09:00 Europe/Berlin; rollbacks are exempt"),
        "the row says why the window does not hold it"
    );
    w.assert_no_violations();
}

/// A night window on the Sunday the clocks go back (Europe/Berlin, 31 October 2027: 03:00 CEST
/// becomes 02:00 CET at 01:00Z): "Sun 02:00-04:00" opens at the first 02:00, 00:00Z — not at
/// 01:00Z, which a fixed UTC+1 would say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_opens_at_the_right_instant_when_the_clocks_go_back() {
    let w = World::start_custom(
        |host| {
            let base = pipeline_yaml(host, "pull-request", "auto");
            let anchor = "    freeze: { file: clusters/staging/FREEZE }\n";
            let windows = "    windows:\n      timezone: Europe/Berlin\n      allow: [\"Sun 02:00-04:00\"]\n";
            base.replace(anchor, &format!("{anchor}{windows}"))
        },
        true,
    )
    .await;
    // Saturday 30 October 2027, 14:00 in Berlin (CEST).
    set_clock(&w, "2027-10-30T12:00:00Z");
    let digest = w.push("0.5.1").await;
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    let dev_bump = w.prs("dev").into_iter().find(|p| p.merged).and_then(|p| p.merge_commit_sha).unwrap();
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;
    w.until("a staging PR", |_| w.open_pr("staging").is_some()).await;
    let pr = w.open_pr("staging").unwrap();
    w.until("baton/policy waiting", |gh| {
        gh.check_run(REPO, &pr.head_sha, "baton/policy").and_then(|c| c.title).is_some_and(|t| t.starts_with("Waiting"))
    })
    .await;
    w.settle().await;
    assert_eq!(pull_timer(&w, pr.number), Some(utc("2027-10-31T00:00:00Z")), "02:00 CEST");
    assert!(w.open_pr("staging").is_some_and(|p| !p.merged));

    set_clock(&w, "2027-10-31T00:00:30Z");
    w.until("staging merged", |gh| {
        gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to staging")
    })
    .await;
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{digest}"));
    w.settle().await;
    w.assert_no_violations();
}
