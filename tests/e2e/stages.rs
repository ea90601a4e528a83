//! Stage-to-stage promotion: verification gates, `baton/verified/<stage>` records,
//! auto-promotion, auto-merge, soak, fan-out and `reconcile`.

use std::time::Duration;

use baton::pointer::Format;

use crate::support::world::*;

const DEV: &str = "clusters/dev/myapp.yaml";
const STAGING: &str = "clusters/staging/values.yaml";

/// The merge commit of the (only) merged PR on baton's branch for `stage`.
fn bump(w: &World, stage: &str) -> String {
    let prs: Vec<_> = w.prs(stage).into_iter().filter(|p| p.merged).collect();
    prs.last().and_then(|p| p.merge_commit_sha.clone()).unwrap_or_else(|| panic!("no merged {stage} PR"))
}

async fn merged(w: &World, stage: &str, tag: &str) {
    let title = format!("promote myapp {tag} to {stage}");
    w.until(&format!("{title} merged"), |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == title)).await;
}

fn verified(w: &World, sha: &str, stage: &str) -> Option<String> {
    w.gh.check_run(REPO, sha, &format!("baton/verified/{stage}")).and_then(|c| {
        if c.status == "completed" {
            c.conclusion
        } else {
            Some(c.status)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routine_path_dev_to_staging_with_the_same_digest() {
    let w = World::start().await;
    let digest = w.push("0.5.1").await;

    // dev's PR passes baton/policy and merges by itself.
    merged(&w, "dev", "0.5.1").await;
    let dev_bump = bump(&w, "dev");
    assert_eq!(w.running(DEV, Format::FluxOci), format!("0.5.1@{digest}"));
    // Until Flux reports, dev has not verified it.
    w.until("baton/verified/dev in progress", |_| verified(&w, &dev_bump, "dev").as_deref() == Some("in_progress"))
        .await;
    assert!(w.prs("staging").is_empty());

    // Flux reports the kustomization ready on the bump commit.
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;
    w.until("baton/verified/dev", |_| verified(&w, &dev_bump, "dev").as_deref() == Some("success")).await;

    // staging gets exactly dev's digest, verified there.
    merged(&w, "staging", "0.5.1").await;
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{digest}"));
    let staging_pr = w.prs("staging").pop().unwrap();
    assert!(staging_pr.body.unwrap_or_default().contains("| Verified in | `dev` |"));
    let staging_bump = bump(&w, "staging");
    w.gh.post_check_run(REPO, &staging_bump, "e2e / staging", "success", "github-actions").await;
    w.until("baton/verified/staging", |_| verified(&w, &staging_bump, "staging").as_deref() == Some("success")).await;
    let check = w.gh.check_run(REPO, &staging_bump, "baton/verified/staging").unwrap();
    insta::assert_snapshot!(check.summary.unwrap_or_default());
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_verification_stops_the_line_and_comments() {
    let w = World::start().await;
    w.push("0.5.1").await;
    merged(&w, "dev", "0.5.1").await;
    let dev_bump = bump(&w, "dev");
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "failure").await;
    w.until("baton/verified/dev failure", |_| verified(&w, &dev_bump, "dev").as_deref() == Some("failure")).await;
    let pr = w.prs("dev").pop().unwrap();
    w.until("a comment on the dev PR", |gh| !gh.comments(REPO, pr.number).is_empty()).await;
    // The same failure again (redelivered, or re-reported): still one comment, no promotion.
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "failure").await;
    w.settle().await;
    let comments = w.gh.comments(REPO, pr.number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    insta::assert_snapshot!(comments[0].body.replace(&dev_bump, "<sha>"));
    assert!(w.prs("staging").is_empty());
    assert_eq!(
        w.gh.check_runs(REPO, &dev_bump).iter().filter(|c| c.name == "baton/verified/dev").count(),
        1,
        "one record"
    );

    // The check is re-run and passes: the record turns green and the line moves on.
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;
    w.until("baton/verified/dev success after the re-run", |_| {
        verified(&w, &dev_bump, "dev").as_deref() == Some("success")
    })
    .await;
    w.until("a staging PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_out_of_order_events_and_non_bump_commits() {
    let w = World::start().await;
    w.push("0.5.1").await;
    merged(&w, "dev", "0.5.1").await;
    let dev_bump = bump(&w, "dev");
    // A commit that is not a bump: a check on it changes nothing.
    let other = w.gh.push_commit(REPO, "main", "bob", "docs", &[("README.md", Some("docs\n"))]).await;
    w.gh.post_status(REPO, &other, "kustomization/myapp-dev", "success").await;
    // The status on the bump, three times.
    for _ in 0..3 {
        w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;
    }
    merged(&w, "staging", "0.5.1").await;
    w.settle().await;
    assert!(w.gh.check_runs(REPO, &other).iter().all(|c| !c.name.starts_with("baton/verified")));
    let records: Vec<_> =
        w.gh.check_runs(REPO, &dev_bump).into_iter().filter(|c| c.name == "baton/verified/dev").collect();
    assert_eq!(records.len(), 1, "one record per bump: {records:#?}");
    assert_eq!(w.prs("staging").len(), 1);
    // Replaying every webhook GitHub sent so far changes nothing either.
    for d in w.gh.deliveries() {
        w.gh.redeliver(&d.id);
    }
    w.settle().await;
    assert_eq!(w.prs("staging").len(), 1);
    assert_eq!(w.prs("dev").len(), 1);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_time_is_completed_by_reconcile() {
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
    merged(&w, "dev", "0.5.1").await;
    let dev_bump = bump(&w, "dev");
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;
    w.settle().await;
    assert_eq!(verified(&w, &dev_bump, "dev").as_deref(), Some("in_progress"), "soaking");
    assert!(w.prs("staging").is_empty(), "not promoted before the soak");
    let summary = w.gh.check_run(REPO, &dev_bump, "baton/verified/dev").unwrap().summary.unwrap();
    assert!(summary.contains("Soaking until"), "{summary}");

    let repo: baton::types::RepoName = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert!(w.prs("staging").is_empty(), "still soaking");
    w.advance(Duration::from_secs(31 * 60));
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(verified(&w, &dev_bump, "dev").as_deref(), Some("success"));
    w.until("a staging PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_version_supersedes_the_older_ones_pr() {
    let w = World::start().await;
    w.push("0.5.1").await;
    merged(&w, "dev", "0.5.1").await;
    let bump1 = bump(&w, "dev");
    w.gh.post_status(REPO, &bump1, "kustomization/myapp-dev", "success").await;
    w.until("a staging PR", |_| w.open_pr("staging").is_some() || !w.prs("staging").is_empty()).await;
    // Hold the staging PR open with a pending required status on its head.
    let pr = w.prs("staging").pop().unwrap();
    if pr.state == "open" {
        w.gh.post_status(REPO, &pr.head_sha, "ci/lint", "pending").await;
    }
    // Meanwhile dev verifies 0.5.2.
    w.push("0.5.2").await;
    merged(&w, "dev", "0.5.2").await;
    let bump2 = bump(&w, "dev");
    w.gh.post_status(REPO, &bump2, "kustomization/myapp-dev", "success").await;
    merged(&w, "staging", "0.5.2").await;
    let staging = w.prs("staging");
    assert!(staging.len() <= 2, "{staging:#?}");
    assert_eq!(staging.iter().filter(|p| p.state == "open").count(), 0, "no PR left open beside a newer one");
    assert!(w.running(STAGING, Format::HelmValues).starts_with("0.5.2@"));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_to_two_stages() {
    let w = World::start_custom(
        |host| {
            pipeline_yaml(host, "pull-request", "auto")
                + "  - name: prod-eu\n    from: staging\n    promotion: auto\n    pointers: [{ file: clusters/prod-eu/myapp.yaml, format: flux-oci, artifact: myapp }]\n"
                + "  - name: prod-us\n    from: staging\n    promotion: auto\n    pointers: [{ file: clusters/prod-us/myapp.yaml, format: flux-oci, artifact: myapp }]\n"
        },
        true,
    )
    .await;
    for f in ["clusters/prod-eu/myapp.yaml", "clusters/prod-us/myapp.yaml"] {
        w.gh.push_commit(REPO, "main", "sre", "prod pointers", &[(f, Some(DEV_POINTER))]).await;
    }
    let digest = w.push("0.5.1").await;
    merged(&w, "dev", "0.5.1").await;
    w.gh.post_status(REPO, &bump(&w, "dev"), "kustomization/myapp-dev", "success").await;
    merged(&w, "staging", "0.5.1").await;
    w.gh.post_check_run(REPO, &bump(&w, "staging"), "e2e / staging", "success", "github-actions").await;
    merged(&w, "prod-eu", "0.5.1").await;
    merged(&w, "prod-us", "0.5.1").await;
    for f in ["clusters/prod-eu/myapp.yaml", "clusters/prod-us/myapp.yaml"] {
        assert_eq!(w.running(f, Format::FluxOci), format!("0.5.1@{digest}"));
    }
    w.assert_no_violations();
}

/// Baton hears nothing; `reconcile` alone converges to what the event path reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_after_missing_every_webhook_converges() {
    let w = World::start_custom(|host| pipeline_yaml(host, "pull-request", "auto"), false).await;
    let repo: baton::types::RepoName = REPO.parse().unwrap();
    let digest = w.push("0.5.1").await;
    w.push("0.4.0").await;
    // Pass 1: the newest release is found and proposed, checked and merged.
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(w.running(DEV, Format::FluxOci), format!("0.5.1@{digest}"));
    let dev_bump = bump(&w, "dev");
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;
    // Pass 2: dev verified → staging proposed, checked, merged.
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(verified(&w, &dev_bump, "dev").as_deref(), Some("success"));
    assert_eq!(w.running(STAGING, Format::HelmValues), format!("0.5.1@{digest}"));
    let staging_bump = bump(&w, "staging");
    w.gh.post_check_run(REPO, &staging_bump, "e2e / staging", "success", "github-actions").await;
    // Pass 3: staging verified; pass 4 changes nothing.
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(verified(&w, &staging_bump, "staging").as_deref(), Some("success"));
    w.gh.clear_requests();
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert!(w.gh.write_requests().is_empty(), "a converged reconcile writes nothing: {:#?}", w.gh.write_requests());
    // What one converged pass costs for this two-stage repository (recorded in the issue note).
    let reads = w.gh.requests().len();
    eprintln!("reconcile of a converged two-stage repository: {reads} GitHub requests");
    assert!(reads <= 30, "{reads} requests");
    w.assert_no_violations();
}

/// A PR that merely looks like baton's (its branch name, a copied marker) does not merge itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_batons_own_prs_merge_themselves() {
    let w = World::start_custom(|host| pipeline_yaml(host, "pull-request", "auto"), false).await;
    let digest = w.registry.push_artifact("deployments/myapp", "0.9.9", b"nine", &[]).await;
    let text = baton::pointer::set(
        DEV_POINTER,
        Format::FluxOci,
        &Default::default(),
        &"0.9.9".parse().unwrap(),
        &digest.parse().unwrap(),
    )
    .unwrap();
    w.gh.push_commit(REPO, "baton/dev/myapp", "mallory", "looks like baton", &[(DEV, Some(&text))]).await;
    let marker = format!(r#"<!-- baton:{{"stage":"dev","artifact":"myapp","tag":"0.9.9","digest":"{digest}"}} -->"#);
    w.gh.open_pr(REPO, "mallory", "baton/dev/myapp", "main", "promote myapp 0.9.9 to dev", &marker).await;
    let repo: baton::types::RepoName = REPO.parse().unwrap();
    w.baton.engine.reconcile(&repo).await.unwrap();
    let pr = w.gh.pulls(REPO).pop().unwrap();
    assert_eq!(
        w.gh.check_run(REPO, &pr.head_sha, "baton/policy").and_then(|c| c.conclusion).as_deref(),
        Some("success")
    );
    assert!(!pr.merged, "a look-alike PR was merged");
    w.assert_no_violations();
}
