//! `baton/policy` on pull requests, whoever opened them.

use crate::support::world::*;

fn summary(c: &crate::support::fake_github::CheckRun, digests: &[&str]) -> String {
    let mut s = format!("{}\n\n{}", c.title.clone().unwrap_or_default(), c.summary.clone().unwrap_or_default());
    for (i, d) in digests.iter().enumerate() {
        s = s.replace(d, &format!("<digest{i}>")).replace(&d[..19], &format!("<digest{i}-short>"));
    }
    regex::Regex::new("at [0-9a-f]{7}").unwrap().replace_all(&s, "at <sha>").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutable_tag_without_digest_fails() {
    let w = World::start_manual().await;
    let text = DEV_POINTER
        .replace("tag: \"0.5.0\" # release", "tag: latest # release")
        .replace("    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\n", "");
    let (_, sha) = w.human_pr("human/latest", &[("clusters/dev/myapp.yaml", Some(&text))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    insta::assert_snapshot!(summary(&check, &[]));
    w.assert_no_violations();
}

/// Branch protection can require `baton/policy`: a PR touching no pointer (and not
/// `.baton.yaml`) gets a success at once instead of nothing, once per head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_touching_no_pointer_passes_at_once() {
    let w = World::start_manual().await;
    let (_, sha) = w.human_pr("human/docs", &[("README.md", Some("hello\n"))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    assert_eq!(check.title.as_deref(), Some("No pointer changed"));
    assert_eq!(
        check.summary.as_deref(),
        Some("This pull request changes no pointer file and not `.baton.yaml`: there is nothing for baton to check.\n")
    );
    // Every delivery replayed: still one check.
    for d in w.gh.deliveries() {
        w.gh.redeliver(&d.id);
    }
    w.settle().await;
    assert_eq!(w.gh.check_runs(REPO, &sha).iter().filter(|c| c.name == "baton/policy").count(), 1);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_pushed_tag_fails_on_rerequest_and_upstream_is_enforced() {
    let w = World::start_manual().await;
    let d1 = w.registry.push_artifact("deployments/myapp", "0.9.0", b"first", &[]).await;
    let (_, sha) = w
        .human_pr("human/staging", &[("clusters/staging/values.yaml", Some(&World::staging_values("0.9.0", &d1)))])
        .await;
    let check = w.policy(&sha).await;
    // Digest-pinned, resolves, signed — but dev never verified it.
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    insta::assert_snapshot!("not_verified_upstream", summary(&check, &[&d1]));

    // The tag is re-pushed with other content; a re-run sees it.
    let d2 = w.registry.push_artifact("deployments/myapp", "0.9.0", b"second", &[]).await;
    assert_ne!(d1, d2);
    w.gh.rerequest_check_run(REPO, check.id, "alice").await;
    w.until("the re-run to report the re-pushed tag", |gh| {
        gh.check_run(REPO, &sha, "baton/policy")
            .is_some_and(|c| c.status == "completed" && c.summary.unwrap_or_default().contains("re-pushed"))
    })
    .await;
    let check = w.gh.check_run(REPO, &sha, "baton/policy").unwrap();
    insta::assert_snapshot!("re_pushed", summary(&check, &[&d1, &d2]));
    assert_eq!(w.gh.check_runs(REPO, &sha).iter().filter(|c| c.name == "baton/policy").count(), 1, "re-run in place");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_stage_fails_except_for_rollbacks() {
    let w = World::start_manual().await;
    // staging ran 0.3.0, then 0.4.0; then it was frozen.
    let d3 = w.registry.push_artifact("deployments/myapp", "0.3.0", b"three", &[]).await;
    let d4 = w.registry.push_artifact("deployments/myapp", "0.4.0", b"four", &[]).await;
    let values = "clusters/staging/values.yaml";
    w.gh.push_commit(REPO, "main", "sre", "staging 0.3.0", &[(values, Some(&World::staging_values("0.3.0", &d3)))])
        .await;
    w.gh.push_commit(REPO, "main", "sre", "staging 0.4.0", &[(values, Some(&World::staging_values("0.4.0", &d4)))])
        .await;
    w.gh.push_commit(REPO, "main", "sre", "freeze staging", &[("clusters/staging/FREEZE", Some("incident 42\n"))])
        .await;

    // Going back to 0.3.0 by hand: frozen (and not verified upstream).
    let (n, sha) = w.human_pr("human/frozen", &[(values, Some(&World::staging_values("0.3.0", &d3)))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    insta::assert_snapshot!("frozen", summary(&check, &[&d3]));

    // Labelled as a rollback: the freeze and the upstream rule give way, because staging ran
    // 0.3.0 before. Signature and digest rules still apply.
    w.gh.add_labels(REPO, n, "alice", &["baton:rollback"]).await;
    w.until("the check to re-run for the rollback label", |gh| {
        gh.check_run(REPO, &sha, "baton/policy")
            .is_some_and(|c| c.status == "completed" && c.summary.unwrap_or_default().contains("rollbacks are exempt"))
    })
    .await;
    let check = w.gh.check_run(REPO, &sha, "baton/policy").unwrap();
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    insta::assert_snapshot!("frozen_rollback", summary(&check, &[&d3]));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_changing_the_pipeline_file_gets_it_checked() {
    let w = World::start_manual().await;
    let current = w.gh.file(REPO, "main", ".baton.yaml").unwrap();
    let broken = current
        .replace("    promotion: auto\n", "    promotion: sometimes\n")
        .replace("  - name: staging\n", "  - name: Staging\n");
    let (_, sha) = w.human_pr("human/pipeline", &[(".baton.yaml", Some(&broken))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    insta::assert_snapshot!("invalid_pipeline", summary(&check, &[]));

    let fine = current + "# a comment\n";
    let (_, sha) = w.human_pr("human/pipeline-ok", &[(".baton.yaml", Some(&fine))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    assert!(check.summary.unwrap_or_default().contains(".baton.yaml in this pull request is valid"));
    w.assert_no_violations();
}
