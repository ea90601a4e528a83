//! Waiting is scheduling, not sleeping: a wait for a late signature holds no repository slot,
//! a soak ends by itself, a newer push supersedes an older one's wait, a restart mid-wait
//! converges through `reconcile`, a rate-limited job runs again at the reset (others run
//! meanwhile), and a merge whose check event was lost happens by the fallback look.

use std::time::{Duration, Instant};

use baton::event::Wake;

use crate::support::fake_github::RateLimit;
use crate::support::signing::{payload, push_signatures, Key, SigLayer};
use crate::support::world::*;

const IMAGE_REPO: &str = "deployments/myapp";

async fn sign(w: &World, key: &Key, digest: &str) {
    let image = format!("{}/{IMAGE_REPO}", w.registry.host());
    push_signatures(&w.registry, IMAGE_REPO, digest, &[SigLayer::signed(key, payload(&image, digest))]).await;
}

/// A world verifying signatures for real, waiting up to 120 s for late ones (the default).
async fn waiting_world(key: &Key) -> World {
    World::start_signed_with(&key.public_pem(), "auto", |s| s.verify.signature_wait_secs = 120).await
}

/// Waits (polling, 30 s at most) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The tags whose signature baton is waiting for.
fn waiting_for(w: &World) -> Vec<String> {
    let mut tags: Vec<String> = w
        .baton
        .engine
        .scheduler
        .wakes()
        .into_iter()
        .filter_map(|wake| match wake {
            Wake::Push { push, .. } => Some(push.tag.to_string()),
            _ => None,
        })
        .collect();
    tags.sort();
    tags
}

fn titles(w: &World) -> Vec<String> {
    w.gh.pulls(REPO).into_iter().map(|p| p.title).collect()
}

fn merge_sha(w: &World, title: &str) -> String {
    w.gh.pulls(REPO).into_iter().rev().find(|p| p.merged && p.title == title).and_then(|p| p.merge_commit_sha).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_wait_holds_no_slot_status_answers_and_staging_opens() {
    let key = Key::generate();
    let w = waiting_world(&key).await;
    w.gh.add_user("carol");
    w.gh.set_permission(REPO, "carol", "write");
    let digest = w.push("0.5.1").await;
    sign(&w, &key, &digest).await;
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    let dev = merge_sha(&w, "promote myapp 0.5.1 to dev");
    w.settle().await;

    // 0.5.2 is pushed without its signature: baton waits up to 120 s for it.
    let unsigned = w.push("0.5.2").await;
    until("a wait for 0.5.2's signature", || waiting_for(&w) == ["0.5.2"]).await;
    let wait_began = Instant::now();

    // Meanwhile the same repository's events run: /status is answered, dev's verification
    // opens staging's PR.
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    let asked = Instant::now();
    let id = w.gh.comment(REPO, issue, "carol", "/status").await;
    w.until("a reply to /status", |gh| gh.comments(REPO, issue).iter().any(|c| c.author == "baton[bot]")).await;
    let status_latency = asked.elapsed();
    // The 🚀 follows the reply (a separate write).
    w.until("🚀 on /status", |gh| gh.reactions(REPO, id).contains(&"rocket".to_string())).await;
    let reply = w.gh.comments(REPO, issue).into_iter().find(|c| c.author == "baton[bot]").unwrap().body;
    assert!(reply.contains("0.5.1"), "{reply}");

    let verified_at = Instant::now();
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("a staging PR for 0.5.1", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.5.1 to staging"))
        .await;
    let staging_latency = verified_at.elapsed();
    eprintln!(
        "while a signature wait runs: /status replied in {} ms, staging PR opened {} ms after dev verified",
        status_latency.as_millis(),
        staging_latency.as_millis()
    );
    assert!(wait_began.elapsed() < Duration::from_secs(20), "both happened long before the wait ends");
    // Still waiting (between two looks, the wait is briefly a queued job, not a timer).
    until("the wait still in progress", || waiting_for(&w) == ["0.5.2"]).await;
    assert!(w.gh.issues(REPO).iter().all(|i| !i.labels.iter().any(|l| l == "baton:rejected")), "not rejected yet");
    assert!(!titles(&w).iter().any(|t| t.contains("0.5.2")), "{:?}", titles(&w));

    // The signature arrives: the wait, looking again, finds it.
    sign(&w, &key, &unsigned).await;
    w.until("a dev PR for 0.5.2", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.5.2 to dev")).await;
    until("no wait left", || waiting_for(&w).is_empty()).await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_push_supersedes_the_older_ones_wait() {
    let key = Key::generate();
    let w = waiting_world(&key).await;
    let older = w.push("0.5.2").await;
    until("a wait for 0.5.2", || waiting_for(&w) == ["0.5.2"]).await;
    let newer = w.push("0.5.3").await;
    until("the wait is 0.5.3's alone", || waiting_for(&w) == ["0.5.3"]).await;
    // Both signatures arrive; only the newer push was still waited for.
    sign(&w, &key, &older).await;
    sign(&w, &key, &newer).await;
    w.until("a dev PR for 0.5.3", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.5.3 to dev")).await;
    until("no wait left", || waiting_for(&w).is_empty()).await;
    w.settle().await;
    assert!(!titles(&w).iter().any(|t| t.contains("0.5.2")), "{:?}", titles(&w));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_wait_converges_through_reconcile() {
    let key = Key::generate();
    let mut w = waiting_world(&key).await;
    let digest = w.push("0.5.2").await;
    until("a wait for 0.5.2", || waiting_for(&w) == ["0.5.2"]).await;
    w.restart_baton().await;
    assert!(waiting_for(&w).is_empty(), "timers are a cache: the restart lost the wait");
    // reconcile finds the newest tag and waits for its signature again.
    let repo: baton::types::RepoName = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    until("reconcile restored the wait", || waiting_for(&w) == ["0.5.2"]).await;
    sign(&w, &key, &digest).await;
    w.until("a dev PR for 0.5.2", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.5.2 to dev")).await;
    w.settle().await;
    assert_eq!(titles(&w).iter().filter(|t| t.contains("0.5.2 to dev")).count(), 1, "{:?}", titles(&w));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_completes_by_itself_with_no_event_and_no_reconcile() {
    let w = World::start_custom(
        |host| {
            pipeline_yaml(host, "pull-request", "auto").replace(
                "      checks: [\"kustomization/myapp-dev\"]",
                "      checks: [\"kustomization/myapp-dev\"]\n      soak: 30m",
            )
        },
        true,
    )
    .await;
    w.push("0.5.1").await;
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    let dev = merge_sha(&w, "promote myapp 0.5.1 to dev");
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.settle().await;
    let check = w.gh.check_run(REPO, &dev, "baton/verified/dev").unwrap();
    assert_eq!(check.status, "in_progress", "soaking");
    assert!(w.prs("staging").is_empty(), "not promoted before the soak");
    assert!(w.baton.engine.scheduler.wakes().contains(&Wake::Bump { sha: dev.clone() }), "the soak's end is armed");

    // No event and no reconcile from here on: only the clock moves.
    w.advance(Duration::from_secs(31 * 60));
    w.until("dev verified", |gh| {
        gh.check_run(REPO, &dev, "baton/verified/dev").is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    w.until("a staging PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

/// Jobs given back to the scheduler by a rate limit, waiting for its reset.
fn rate_limited(w: &World) -> usize {
    w.baton.engine.scheduler.wakes().iter().filter(|wake| matches!(wake, Wake::Retry { .. })).count()
}

/// A rate limit longer than baton waits in place gives the repository's slot back at once:
/// `/status` is answered meanwhile, and at the reset (only the clock moves: no event, no
/// reconcile) the push runs again and opens dev's PR, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_job_runs_again_at_the_reset_while_others_run() {
    let w = World::start().await;
    w.gh.add_user("carol");
    w.gh.set_permission(REPO, "carol", "write");
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    // The installation's budget runs out as baton opens dev's PR; it resets in 10 minutes.
    w.gh.rate_limit_next("POST", "/repos/org/deploy/pulls", RateLimit::PrimaryExhausted { reset_in_secs: 600 }, 1);
    let began = Instant::now();
    w.push("0.5.1").await;
    until("the push's job given back until the reset", || rate_limited(&w) == 1).await;
    w.settle().await;
    assert!(began.elapsed() < Duration::from_secs(20), "not waited out in the slot");
    assert_eq!(w.gh.pending_faults(), 0, "the limit was hit");
    assert!(w.prs("dev").is_empty(), "{:?}", titles(&w));

    let asked = Instant::now();
    let id = w.gh.comment(REPO, issue, "carol", "/status").await;
    w.until("a reply to /status", |gh| gh.comments(REPO, issue).iter().any(|c| c.author == "baton[bot]")).await;
    eprintln!("while a rate-limited job waits for its reset: /status replied in {} ms", asked.elapsed().as_millis());
    w.until("🚀 on /status", |gh| gh.reactions(REPO, id).contains(&"rocket".to_string())).await;
    assert!(w.prs("dev").is_empty(), "nothing before the reset");
    assert_eq!(rate_limited(&w), 1);

    w.advance(Duration::from_secs(11 * 60));
    w.until("dev's PR merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    w.settle().await;
    assert_eq!(w.prs("dev").len(), 1, "{:?}", titles(&w));
    assert_eq!(w.gh.count_requests("POST", "/repos/org/deploy/pulls"), 2, "the limited one, then the PR");
    assert_eq!(rate_limited(&w), 0);
    w.assert_no_violations();
}

/// A command stopped by a rate limit (here: its reply) is not answered with an error: it runs
/// again at the reset, finds the PR it opened, and replies once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_command_replies_once_after_the_reset() {
    let w = World::start_manual().await;
    w.gh.add_user("carol");
    w.gh.set_permission(REPO, "carol", "write");
    w.push("0.5.1").await;
    w.until("dev's PR", |_| w.open_pr("dev").is_some()).await;
    w.settle().await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    let path = format!("/repos/org/deploy/issues/{issue}/comments");
    w.gh.rate_limit_next("POST", &path, RateLimit::RetryAfter(300), 1);
    let id = w.gh.comment(REPO, issue, "carol", "/promote dev").await;
    until("the command given back until the reset", || rate_limited(&w) == 1).await;
    w.settle().await;
    assert_eq!(w.gh.pending_faults(), 0, "the limit was hit");
    assert!(w.gh.comments(REPO, issue).iter().all(|c| c.author != "baton[bot]"), "no reply yet");

    w.advance(Duration::from_secs(6 * 60));
    w.until("a reply", |gh| gh.comments(REPO, issue).iter().any(|c| c.author == "baton[bot]")).await;
    w.until("🚀", |gh| gh.reactions(REPO, id).contains(&"rocket".to_string())).await;
    w.settle().await;
    let replies: Vec<String> =
        w.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]").map(|c| c.body).collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(!w.gh.reactions(REPO, id).contains(&"confused".to_string()), "{}", replies[0]);
    // The approval the first run recorded merged dev's one PR.
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    assert_eq!(w.prs("dev").len(), 1, "{:?}", titles(&w));
    let commit = w.gh.commit(REPO, &merge_sha(&w, "promote myapp 0.5.1 to dev")).unwrap();
    assert!(commit.message.contains("Baton-Approved-By: carol"), "{}", commit.message);
    w.assert_no_violations();
}

/// baton's PR merges on the check event that says its checks passed; when that event is lost,
/// the fallback look (30 s after `baton/policy` passed) merges it with no event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_whose_check_event_was_lost_happens_by_the_fallback_look() {
    let w = World::start().await;
    w.gh.lose_webhooks(&["check_run", "check_suite"]);
    w.push("0.5.1").await;
    w.until("dev's PR", |_| w.open_pr("dev").is_some()).await;
    let pr = w.open_pr("dev").unwrap();
    let policy = w.policy(&pr.head_sha).await;
    assert_eq!(policy.conclusion.as_deref(), Some("success"));
    w.settle().await;
    assert!(w.open_pr("dev").is_some_and(|p| !p.merged), "no check event: nothing merged it");
    let looks: Vec<Wake> = w
        .baton
        .engine
        .scheduler
        .wakes()
        .into_iter()
        .filter(|wake| matches!(wake, Wake::Pull { number, .. } if *number == pr.number))
        .collect();
    assert_eq!(looks, [Wake::Pull { number: pr.number, head_sha: pr.head_sha.clone(), attempt: 1 }]);

    w.advance(Duration::from_secs(31));
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to dev"))
        .await;
    w.settle().await;
    assert!(
        w.baton
            .engine
            .scheduler
            .wakes()
            .iter()
            .all(|wake| !matches!(wake, Wake::Pull { number, .. } if *number == pr.number)),
        "merged: no more looks"
    );
    w.assert_no_violations();
}
