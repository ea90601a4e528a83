//! Merge queues (issue #10 item 6): when the default branch's rules require a merge queue,
//! baton adds its own PRs to the queue (GraphQL `enqueuePullRequest`) instead of merging them
//! with `PUT …/merge` (which GitHub refuses there); the queue asks for `baton/policy` on the
//! merge group's head, merges the group, and verification goes on as after any merge.

use crate::support::fake_github::{Fault, FaultMode, RecordedRequest};
use crate::support::world::*;

fn is_enqueue(r: &RecordedRequest) -> bool {
    r.path == "/graphql" && graphql_text(r).starts_with("mutation") && graphql_text(r).contains("enqueuePullRequest")
}

fn is_enqueue_ref(r: &&RecordedRequest) -> bool {
    is_enqueue(r)
}

fn graphql_text(r: &RecordedRequest) -> String {
    r.body.as_ref().and_then(|b| b["query"].as_str()).unwrap_or_default().trim().to_string()
}

fn merge_groups(w: &World, action: &str) -> usize {
    w.gh.deliveries().iter().filter(|d| d.event == "merge_group" && d.action.as_deref() == Some(action)).count()
}

/// The queue takes dev's PR: `baton/policy` on the group's head, the queue merges it, Flux
/// reports on main's new tip, dev verifies and staging's PR is queued in turn.
async fn through_the_queue(w: &World, tries_merge: bool) {
    w.until("dev's PR in the merge queue", |gh| !gh.queued(REPO).is_empty()).await;
    let pr = w.open_pr("dev").expect("dev's PR stays open while queued");
    let (number, group_head) = w.gh.queued(REPO).remove(0);
    assert_eq!(number, pr.number);
    // GitHub's queue requires baton/policy on the merge group's head too.
    let check = w.policy(&group_head).await;
    assert_eq!(
        (check.conclusion.as_deref(), check.title.as_deref()),
        (Some("success"), Some("The pointer change passes every rule"))
    );
    assert_eq!(w.gh.land_merge_queue(REPO, &["baton/policy"]).await, vec![pr.number]);
    assert_eq!(w.gh.branch_sha(REPO, "main").as_deref(), Some(group_head.as_str()));
    let merged = w.prs("dev").into_iter().find(|p| p.number == pr.number).unwrap();
    assert!(merged.merged);
    assert_eq!(merged.merge_commit_sha.as_deref(), Some(group_head.as_str()));

    // The queue merged with a merge commit: the pointer's history (as GitHub simplifies it)
    // names the PR's own commit as dev's bump; Flux reports on main's tip, which still holds it.
    let bump = pr.head_sha.clone();
    w.until("baton/verified/dev waiting", |gh| {
        gh.check_run(REPO, &bump, "baton/verified/dev").is_some_and(|c| c.status == "in_progress")
    })
    .await;
    w.gh.post_status(REPO, &group_head, "kustomization/myapp-dev", "success").await;
    w.until("baton/verified/dev success", |gh| {
        gh.check_run(REPO, &bump, "baton/verified/dev").is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    w.until("staging's PR in the merge queue", |gh| {
        let staging = w.open_pr("staging");
        staging.is_some_and(|s| gh.queued(REPO).iter().any(|(n, _)| *n == s.number))
    })
    .await;
    w.settle().await;
    let puts: Vec<u16> =
        w.gh.requests().iter().filter(|r| r.method == "PUT" && r.path.ends_with("/merge")).map(|r| r.status).collect();
    if tries_merge {
        // Each try is refused (one per PR at least; a second check event tries again).
        assert!(puts.len() >= 2 && puts.iter().all(|s| *s == 405), "{puts:?}");
    } else {
        assert_eq!(puts, [0u16; 0], "no PUT …/merge into a branch whose rules require a merge queue");
    }
    assert_eq!(merge_groups(w, "checks_requested"), 2, "one merge group per PR");
    assert_eq!(w.gh.queued(REPO).len(), 1, "staging's PR, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batons_prs_go_through_a_required_merge_queue() {
    let w = World::start().await;
    w.gh.require_merge_queue(REPO, "main");
    w.push("0.5.1").await;
    through_the_queue(&w, false).await;
    // The rules were read with conditional requests: asking again answered 304, which GitHub
    // does not count.
    let rules: Vec<u16> =
        w.gh.requests().iter().filter(|r| r.path.contains("/rules/branches/")).map(|r| r.status).collect();
    assert!(rules.len() >= 2 && rules[1..].iter().all(|s| *s == 304), "{rules:?}");
    // One mutation per PR: a later check event on a queued head does not send it again.
    let enqueues = w.gh.requests().iter().filter(is_enqueue_ref).count();
    assert_eq!(enqueues, 2, "dev's PR and staging's PR, each enqueued once");
    w.assert_no_violations();
}

/// GitHub queues the PR but its answer is lost (a 502 after applying): baton reads whether the
/// PR is in the queue before it would repeat the mutation, finds it there, and the path goes on
/// with one queue entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_enqueue_queues_once() {
    let w = World::start().await;
    w.gh.require_merge_queue(REPO, "main");
    w.gh.inject(
        Fault::on("POST", "/graphql").body_contains("enqueuePullRequest").mode(FaultMode::ApplyThenStatus(502)),
    );
    w.push("0.5.1").await;
    w.until("dev's PR in the merge queue", |gh| !gh.queued(REPO).is_empty()).await;
    w.settle().await;
    assert_eq!(merge_groups(&w, "checks_requested"), 1);
    let graphql: Vec<RecordedRequest> = w.gh.requests().into_iter().filter(|r| r.path == "/graphql").collect();
    let lost = graphql.iter().position(|r| r.fault.is_some()).expect("the faulted mutation");
    assert!(is_enqueue(&graphql[lost]) && graphql[lost].status == 502);
    let next = graphql.get(lost + 1).expect("a request after the lost answer");
    assert!(graphql_text(next).contains("isInMergeQueue"), "re-read before repeating: {}", graphql_text(next));
    through_the_queue(&w, false).await;
    w.assert_no_violations();
}

/// Classic branch protection's "Require merge queue" is not among the branch's rules: baton
/// tries the merge, GitHub refuses it with 405 "Changes must be made through the merge queue",
/// and baton enqueues the PR instead (no rebuild).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_required_by_branch_protection_is_found_from_the_refused_merge() {
    let w = World::start().await;
    w.gh.require_merge_queue_by_protection(REPO, "main");
    w.push("0.5.1").await;
    through_the_queue(&w, true).await;
    assert_eq!(w.prs("dev").len(), 1, "the refused merge rebuilt nothing");
    w.assert_no_violations();
}
