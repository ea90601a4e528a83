//! Promotion windows (#13): a closed window holds a stage's automatic merge, with a pending
//! `baton/policy` row saying until when; the merge happens once the window opens.

use std::time::Duration;

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

/// Sets baton's clock to `at` (RFC 3339), through the World's offset.
fn set_clock(w: &World, at: &str) {
    let target = chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc();
    let offset = (target - chrono::Utc::now()).num_seconds();
    w.baton.clock_offset.store(offset, std::sync::atomic::Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_promotion_in_a_deny_window_waits_and_merges_when_it_ends() {
    let w = World::start_custom(pipeline, true).await;
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

    // A reconcile inside the window changes nothing.
    let repo = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert!(w.open_pr("staging").is_some_and(|p| !p.merged), "still open inside the window");

    // Monday 7 December, 08:01 in Berlin: the window has ended; the next reconcile merges.
    set_clock(&w, "2026-12-07T07:01:00Z");
    w.baton.engine.reconcile(&repo).await.unwrap();
    w.until("staging merged", |gh| {
        gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to staging")
    })
    .await;
    let check = w.gh.check_run(REPO, &pr.head_sha, "baton/policy").unwrap();
    assert_eq!((check.status.as_str(), check.conclusion.as_deref()), ("completed", Some("success")));
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{digest}"));
    w.gh.settle(Duration::from_millis(200), Duration::from_secs(5)).await;
    w.assert_no_violations();
}
