//! Comment commands end to end: authorization, receipts, replies, and the
//! emergency procedures — roll back without re-promotion, freeze, unfreeze.

use baton::pointer::Format;

use crate::support::world::*;

const PROD: &str = "clusters/prod/myapp.yaml";
const STAGING: &str = "clusters/staging/values.yaml";

/// dev → staging (auto) → prod (manual, approvers: codeowners, @org/sre, @carol; freezable).
async fn world() -> World {
    let w = World::start_custom(
        |host| {
            pipeline_yaml(host, "pull-request", "auto")
                + "  - name: prod\n    from: staging\n    approvers: [codeowners, \"@org/sre\", \"@carol\"]\n"
                + "    freeze: { file: clusters/prod/FREEZE }\n"
                + "    pointers: [{ file: clusters/prod/myapp.yaml, format: flux-oci, artifact: myapp }]\n"
        },
        true,
    )
    .await;
    w.gh.push_commit(
        REPO,
        "main",
        "sre",
        "prod pointer and owners",
        &[(PROD, Some(DEV_POINTER)), (".github/CODEOWNERS", Some("* @org/platform\n/clusters/prod/ @dave\n"))],
    )
    .await;
    for (user, perm) in [("reader", "read"), ("bob", "write"), ("erin", "write"), ("dave", "write"), ("carol", "write")]
    {
        w.gh.add_user(user);
        w.gh.set_permission(REPO, user, perm);
    }
    w.gh.add_team("org", "sre", &["erin"]);
    w
}

/// Takes `tag` through dev and staging (both verify it).
async fn verified_in_staging(w: &World, tag: &str) -> String {
    let digest = w.push(tag).await;
    let title = |stage: &str| format!("promote myapp {tag} to {stage}");
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == title("dev"))).await;
    let dev = merge_sha(w, &title("dev"));
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("staging merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == title("staging"))).await;
    let staging = merge_sha(w, &title("staging"));
    w.gh.post_check_run(REPO, &staging, "e2e / staging", "success", "github-actions").await;
    w.until("staging verified", |gh| {
        gh.check_run(REPO, &staging, "baton/verified/staging")
            .is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    digest
}

fn merge_sha(w: &World, title: &str) -> String {
    w.gh.pulls(REPO).into_iter().rev().find(|p| p.merged && p.title == title).and_then(|p| p.merge_commit_sha).unwrap()
}

/// Posts a comment and waits for baton's answer (its last reaction: rocket or confused).
async fn say(w: &World, issue: u64, who: &str, body: &str) -> (String, Vec<String>) {
    let before = w.gh.comments(REPO, issue).len();
    let id = w.gh.comment(REPO, issue, who, body).await;
    w.until(&format!("an answer to {body:?} by {who}"), |gh| {
        let r = gh.reactions(REPO, id);
        r.iter().any(|x| x == "rocket" || x == "confused") && gh.comments(REPO, issue).len() > before + 1
    })
    .await;
    let reply = w.gh.comments(REPO, issue).into_iter().rev().find(|c| c.author == "baton[bot]").unwrap().body;
    (reply, w.gh.reactions(REPO, id))
}

/// A reply with its receipt key's comment id redacted (ids depend on creation order).
fn keyless(reply: &str) -> String {
    regex::Regex::new(r"<!-- baton:reply:\d+ -->")
        .unwrap()
        .replace_all(reply, "<!-- baton:reply:<comment id> -->")
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_prod_needs_write_permission_and_an_approver() {
    let w = world().await;
    let digest = verified_in_staging(&w, "0.5.1").await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;

    let (reply, reactions) = say(&w, issue, "reader", "/promote prod").await;
    assert!(reply.contains("only people with write permission on org/deploy"), "{reply}");
    assert_eq!(reactions, ["eyes", "confused"]);
    let (reply, _) = say(&w, issue, "bob", "/promote prod").await;
    insta::assert_snapshot!("not_an_approver", keyless(&reply));

    // A member of @org/sre may: the PR opens with the approval recorded, and merges when green.
    let (reply, reactions) = say(&w, issue, "erin", "/promote prod").await;
    assert!(reply.contains("moves prod to `0.5.1`"), "{reply}");
    assert_eq!(reactions, ["eyes", "rocket"]);
    w.until("prod merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to prod"))
        .await;
    assert_eq!(w.running(PROD, Format::FluxOci), format!("0.5.1@{digest}"));
    let merged = w.gh.commit(REPO, &merge_sha(&w, "promote myapp 0.5.1 to prod")).unwrap();
    assert!(merged.message.contains("Baton-Approved-By: erin"), "{}", merged.message);

    // A CODEOWNERS owner of the prod pointer may too (nothing left to do here).
    let (reply, reactions) = say(&w, issue, "dave", "/promote prod").await;
    assert!(reply.contains("nothing to do"), "{reply}");
    assert_eq!(reactions, ["eyes", "rocket"]);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_comments_and_receipts() {
    let w = world().await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    // In a code block, in a quote: not commands.
    w.gh.comment(REPO, issue, "carol", "Try this:\n```\n/status\n```").await;
    w.gh.comment(REPO, issue, "carol", "> /status\nno thanks").await;
    // A bot's command.
    w.gh.comment(REPO, issue, "renovate[bot]", "/status").await;
    // An edited comment that now holds a command.
    let id = w.gh.comment(REPO, issue, "carol", "hello").await;
    w.gh.edit_comment(id, "carol", "/status").await;
    w.settle().await;
    assert_eq!(w.gh.comments(REPO, issue).len(), 4, "baton said nothing");

    // A command, then its delivery replayed: one answer.
    let (reply, _) = say(&w, issue, "carol", "/status").await;
    insta::assert_snapshot!(
        "status",
        regex::Regex::new(r"sha256:[0-9a-f]{12}|\d{4}-\d\d-\d\d \d\d:\d\d UTC|#\d+")
            .unwrap()
            .replace_all(&keyless(&reply), "<x>")
    );
    let delivery =
        w.gh.deliveries()
            .into_iter()
            .find(|d| {
                d.event == "issue_comment"
                    && d.payload["action"] == "created"
                    && d.payload["comment"]["body"] == "/status"
                    && d.payload["comment"]["user"]["login"] == "carol"
            })
            .unwrap();
    // GitHub's "Redeliver" (same delivery ID), and the same event under another delivery ID (as a
    // second replica, or a restarted baton that forgot its delivery IDs, would see it).
    w.gh.redeliver(&delivery.id);
    let body = serde_json::to_vec(&delivery.payload).unwrap();
    assert_eq!(w.baton.post_github("issue_comment", "another-delivery-id", &body, Some(SECRET)).await.status(), 202);
    w.settle().await;
    let answers: Vec<_> = w.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]").collect();
    assert_eq!(answers.len(), 1, "{answers:#?}");

    // Unknown commands get usage and a suggestion.
    let (reply, reactions) = say(&w, issue, "carol", "/promot prod").await;
    assert!(reply.contains("/promote"), "{reply}");
    assert_eq!(reactions, ["eyes", "confused"]);
    let (reply, _) = say(&w, issue, "carol", "/frobnicate").await;
    insta::assert_snapshot!("unknown_command", keyless(&reply));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoting_an_unverified_version_is_refused_with_where_it_is_verified() {
    let w = world().await;
    verified_in_staging(&w, "0.5.1").await;
    // 0.6.0 reaches dev and is verified there, but not in staging.
    w.gh.set_permission(REPO, "carol", "write");
    let digest = w.push("0.6.0").await;
    w.until("dev merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.6.0 to dev"))
        .await;
    // Hold staging back: staging's PR cannot merge while a status is pending.
    let dev = merge_sha(&w, "promote myapp 0.6.0 to dev");
    w.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
    w.until("a staging PR for 0.6.0", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.6.0 to staging"))
        .await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    let (reply, reactions) = say(&w, issue, "carol", &format!("/promote prod 0.6.0@{digest}")).await;
    // Staging's check never ran, so the version is verified in dev only.
    assert_eq!(
        keyless(&reply),
        format!(
            "@carol 😕 prod can only receive what staging verified, and 0.6.0@{digest} is not verified there \
             (it is verified in `dev`)\n\n<!-- baton:reply:<comment id> -->"
        )
    );
    assert_eq!(reactions, ["eyes", "confused"]);
    // A tag the registry does not have is refused with the registry's answer, not promoted.
    let (reply, reactions) = say(&w, issue, "carol", "/promote prod 9.9.9").await;
    assert_eq!(
        keyless(&reply),
        format!(
            "@carol 😕 {}/deployments/myapp:9.9.9 was not found in the registry\n\n<!-- baton:reply:<comment id> -->",
            w.registry.host()
        )
    );
    assert_eq!(reactions, ["eyes", "confused"]);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_is_not_undone_by_auto_promotion_and_newer_versions_flow() {
    let w = world().await;
    let d1 = verified_in_staging(&w, "0.5.1").await;
    verified_in_staging(&w, "0.5.2").await;
    assert!(w.running(STAGING, Format::HelmValues).starts_with("0.5.2@"));
    let issue = w.gh.create_issue(REPO, "alice", "incident", "").await;

    let (reply, _) = say(&w, issue, "carol", "/rollback staging").await;
    assert!(reply.contains("moves staging to `0.5.1`"), "{reply}");
    w.until("the rollback merged", |gh| {
        gh.pulls(REPO).iter().any(|p| p.merged && p.labels.iter().any(|l| l == "baton:rollback"))
    })
    .await;
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{d1}"));
    // dev still runs the verified 0.5.2: re-evaluations must not bring it back to staging.
    let repo: baton::types::RepoName = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    w.settle().await;
    assert!(w.running(STAGING, Format::HelmValues).starts_with("0.5.1@"));
    assert!(w.open_pr("staging").is_none(), "no PR re-proposing 0.5.2");

    // A newer version is promoted normally.
    let d3 = verified_in_staging(&w, "0.5.3").await;
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.3@{d3}"));

    // An explicit rollback target must be a version the stage ran…
    let (reply, _) = say(&w, issue, "carol", "/rollback staging 0.4.0").await;
    assert!(reply.contains("never ran"), "{reply}");
    // …and goes back to exactly the digest it ran.
    let (reply, _) = say(&w, issue, "carol", "/rollback staging 0.5.1").await;
    assert!(reply.contains("moves staging to `0.5.1`"), "{reply}");
    w.until("the second rollback merged", |gh| {
        gh.pulls(REPO).iter().filter(|p| p.merged && p.labels.iter().any(|l| l == "baton:rollback")).count() == 2
    })
    .await;
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{d1}"));
    let rollback = w.gh.commit(REPO, &w.gh.branch_sha(REPO, "main").unwrap()).unwrap();
    assert!(rollback.message.contains(&format!("Baton-Rejected: 0.5.3@{d3}")), "{}", rollback.message);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_blocks_prod_prs_and_unfreeze_clears_them() {
    let w = world().await;
    let digest = verified_in_staging(&w, "0.5.1").await;
    let issue = w.gh.create_issue(REPO, "alice", "change freeze", "").await;
    let (reply, _) = say(&w, issue, "dave", "/freeze prod black friday").await;
    assert!(reply.contains("prod is frozen"), "{reply}");
    let freeze = w.gh.file(REPO, "main", "clusters/prod/FREEZE").unwrap();
    assert!(freeze.contains("frozen by @dave") && freeze.contains("black friday"), "{freeze}");

    // A prod PR (by hand) fails baton/policy while frozen…
    let text = baton::pointer::set(
        DEV_POINTER,
        Format::FluxOci,
        &Default::default(),
        &"0.5.1".parse().unwrap(),
        &digest.parse().unwrap(),
    )
    .unwrap();
    let (_, sha) = w.human_pr("human/prod", &[(PROD, Some(&text))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    assert!(check.summary.unwrap().contains("prod is frozen"));

    // …and passes once unfrozen (baton re-runs the check on the stage's open PRs).
    let (reply, _) = say(&w, issue, "dave", "/unfreeze prod").await;
    assert!(reply.contains("prod is unfrozen"), "{reply}");
    w.until("baton/policy green after /unfreeze", |gh| {
        gh.check_run(REPO, &sha, "baton/policy").is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promote_button_acts_as_promote_by_the_clicker() {
    let w = world().await;
    let digest = verified_in_staging(&w, "0.5.1").await;
    let staging = merge_sha(&w, "promote myapp 0.5.1 to staging");
    let check = w.gh.check_run(REPO, &staging, "baton/verified/staging").unwrap();
    assert_eq!(check.actions.iter().map(|a| a.label.as_str()).collect::<Vec<_>>(), ["Promote to prod"]);
    // Clicked by someone who is not an approver: refused.
    w.gh.request_action(REPO, check.id, &check.actions[0].identifier, "bob").await;
    w.settle().await;
    assert!(w.open_pr("prod").is_none() && !w.gh.pulls(REPO).iter().any(|p| p.title.contains("to prod")));
    // By an approver: the prod PR opens and merges.
    w.gh.request_action(REPO, check.id, &check.actions[0].identifier, "carol").await;
    w.until("prod merged", |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == "promote myapp 0.5.1 to prod"))
        .await;
    assert_eq!(w.running(PROD, Format::FluxOci), format!("0.5.1@{digest}"));
    w.assert_no_violations();
}

/// Where branch protection refuses baton's direct commit, /freeze goes through a PR it merges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_through_a_pr_when_direct_commits_are_refused() {
    let w = world().await;
    let issue = w.gh.create_issue(REPO, "alice", "change freeze", "").await;
    // The first write to the freeze file (the direct commit to main) is refused, as a ruleset would.
    w.gh.fail_next("PUT", "/repos/org/deploy/contents/clusters/prod/FREEZE", 403, 1);
    let (reply, reactions) = say(&w, issue, "dave", "/freeze prod incident 7").await;
    assert!(reply.contains("prod is frozen"), "{reply}");
    assert_eq!(reactions, ["eyes", "rocket"]);
    assert!(w.gh.file(REPO, "main", "clusters/prod/FREEZE").unwrap().contains("incident 7"));
    let pr = w.gh.pulls(REPO).into_iter().find(|p| p.head_ref == "baton/freeze/prod").expect("the freeze PR");
    assert!(pr.merged && pr.title == "freeze(prod): incident 7", "{pr:#?}");
    w.assert_no_violations();
}

/// A command whose reply could not be written (GitHub refused every attempt: as good as a crash
/// between the comment and the reply) is answered by `reconcile`, once; the 👀 reaction that did
/// land is not mistaken for "handled".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_whose_reply_was_lost_is_answered_by_reconcile() {
    use crate::support::fake_github::{Fault, FaultMode};
    let w = world().await;
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    // Every attempt to write the reply fails (the client gives up after its retries).
    w.gh.inject(Fault::on("POST", "/repos/*/*/issues/*/comments").mode(FaultMode::Reject(502)).times(100));
    let id = w.gh.comment(REPO, issue, "carol", "/status").await;
    w.until("the reply attempts", |gh| {
        gh.count_requests("POST", &format!("/repos/org/deploy/issues/{issue}/comments")) >= 4
    })
    .await;
    w.settle().await;
    assert_eq!(w.gh.reactions(REPO, id), ["eyes"], "seen, not answered");
    assert!(w.gh.comments(REPO, issue).iter().all(|c| c.author != "baton[bot]"));
    // GitHub recovers; reconcile finds the command without a reply and answers it.
    w.gh.clear_faults();
    let repo: baton::types::RepoName = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    let answers: Vec<_> = w.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]").collect();
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(answers[0].body.contains(&format!("<!-- baton:reply:{id} -->")), "{}", answers[0].body);
    assert!(answers[0].body.contains("| Stage |") || answers[0].body.contains("dev"), "{}", answers[0].body);
    assert_eq!(w.gh.reactions(REPO, id), ["eyes", "rocket"]);
    // Converged: a second pass answers nothing more.
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(w.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]").count(), 1);
    w.assert_no_violations();
}
