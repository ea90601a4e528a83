//! Verification signals as deployers really report them (issue #10): Flux's commit statuses on
//! the artifact's source commit or a later tip, check patterns with `min`, stale statuses,
//! Flux events posted to `/webhooks/flux`, timeouts, verification workflows, `baton/policy` on
//! every PR and merge groups.

use std::time::Duration;

use crate::support::world::*;

const FLUX_OK: &str = include_str!("../data/flux/kustomization-succeeded.json");

/// Flux's generic-hmac intake: 401 without a valid X-Signature (checked before parsing), 400 for
/// a body that is no Flux event, 200 "ignored" for events that say nothing about health, 202
/// for the rest; the previous key still works while it is rotated out.
#[tokio::test]
async fn flux_events_need_a_valid_signature() {
    let b = Baton::start_without_github(settings("http://127.0.0.1:9/", None)).await;
    assert_eq!(b.post_flux(FLUX_OK, None).await.status(), 401);
    assert_eq!(b.post_flux(FLUX_OK, Some("wrong")).await.status(), 401);
    assert_eq!(b.post_flux("{not json", Some("wrong")).await.status(), 401);
    let r = b.post_flux("{\"severity\":\"info\"}", Some(FLUX_SECRET)).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().starts_with("malformed Flux event: missing field `involvedObject`"));
    let progressing = FLUX_OK.replace("ReconciliationSucceeded", "Progressing");
    let r = b.post_flux(&progressing, Some(FLUX_SECRET)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "ignored: Flux Info event with reason \"Progressing\" says nothing about health\n"
    );
    let r = b.post_flux(FLUX_OK, Some("previous-flux-token")).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.unwrap(), "accepted (1 jobs)\n");
    // notification-controller retries with the same body: a duplicate.
    let r = b.post_flux(FLUX_OK, Some(FLUX_SECRET)).await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (200, "duplicate delivery\n"));
}

const DEV_CHECKS: &str = "      checks: [\"kustomization/myapp-dev\"]";

/// The standard world with dev's verification replaced by `verification` (YAML lines under
/// `verification:`).
async fn world(verification: &str) -> World {
    let v = verification.to_string();
    World::start_custom(move |host| pipeline_yaml(host, "pull-request", "auto").replace(DEV_CHECKS, &v), true).await
}

/// An apps/ commit on main, the commit the artifact is built from.
async fn source_commit(w: &World) -> String {
    w.gh.push_commit(
        REPO,
        "main",
        "alice",
        "apps: myapp 0.5.1",
        &[("apps/myapp/deployment.yaml", Some("kind: Deployment\n"))],
    )
    .await
}

/// Pushes `tag` built from `source` (its revision annotation in Flux's format).
async fn push_built_from(w: &World, tag: &str, source: &str) -> String {
    let revision = format!("main@sha1:{source}");
    w.registry
        .push_artifact(
            "deployments/myapp",
            tag,
            format!("manifests of {tag}").as_bytes(),
            &[
                ("org.opencontainers.image.revision", revision.as_str()),
                ("org.opencontainers.image.source", "https://github.com/org/deploy"),
            ],
        )
        .await
}

async fn dev_bump(w: &World, tag: &str) -> String {
    let title = format!("promote myapp {tag} to dev");
    w.until(&format!("{title} merged"), |gh| gh.pulls(REPO).iter().any(|p| p.merged && p.title == title)).await;
    let pr = w.prs("dev").into_iter().find(|p| p.merged).unwrap();
    pr.merge_commit_sha.unwrap()
}

fn record(w: &World, sha: &str, stage: &str) -> Option<(String, String)> {
    w.gh.check_run(REPO, sha, &format!("baton/verified/{stage}")).map(|c| {
        let state = if c.status == "completed" { c.conclusion.unwrap_or_default() } else { c.status };
        (state, c.summary.unwrap_or_default())
    })
}

async fn until_record(w: &World, sha: &str, stage: &str, state: &str) -> String {
    w.until(&format!("baton/verified/{stage} {state}"), |_| record(w, sha, stage).is_some_and(|(s, _)| s == state))
        .await;
    record(w, sha, stage).unwrap().1
}

/// Flux with an OCIRepository source reports on the artifact's source commit, not on the bump:
/// that status verifies dev, and staging's PR follows with no human.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_on_the_artifacts_source_commit_verifies() {
    let w = world("      checks: [\"kustomization/myapp-dev/*\"]").await;
    let source = source_commit(&w).await;
    push_built_from(&w, "0.5.1", &source).await;
    let bump = dev_bump(&w, "0.5.1").await;
    let waiting = until_record(&w, &bump, "dev", "in_progress").await;
    assert!(
        waiting.contains("| `kustomization/myapp-dev/*` | ⏳ waiting for kustomization/myapp-dev/* |"),
        "{waiting}"
    );
    // The bootstrap Kustomization's status on the bump commit is not dev's.
    w.gh.post_status(REPO, &bump, "kustomization/flux-system/0c9c2e41", "success").await;
    w.settle().await;
    w.gh.clear_requests();
    w.gh.post_status(REPO, &source, "kustomization/myapp-dev/0c9c2e41", "success").await;
    let summary = until_record(&w, &bump, "dev", "success").await;
    // The status on S found its stage without scanning history: the pipeline, the pointer's
    // bump, the branch's newest commits, signals on B and S, the record (13 requests measured;
    // the artifact's annotations came from the cache, not the registry).
    // Counted up to the record's write: staging's promotion follows at once and is not part of it.
    let mut requests = w.gh.requests();
    let record_write = requests.iter().position(|r| r.method != "GET" && r.path.contains("/check-runs"));
    requests.truncate(record_write.map_or(requests.len(), |i| i + 1));
    assert!(requests.len() <= 14, "{} requests: {:#?}", requests.len(), requests);
    assert_eq!(requests.iter().filter(|r| r.path.ends_with("/status")).count(), 2, "signals on B and S");
    insta::assert_snapshot!(summary.replace(&source[..7], "<source>"));
    w.until("staging's PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

/// A GitRepository source (or Argo CD) reports on whatever tip it synced: a later commit of the
/// default branch that still holds the version counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_on_a_later_tip_that_still_holds_the_version_verifies() {
    let w = world("      checks: [\"kustomization/myapp-dev/*\"]").await;
    w.push("0.5.1").await;
    let bump = dev_bump(&w, "0.5.1").await;
    until_record(&w, &bump, "dev", "in_progress").await;
    let tip = w.gh.push_commit(REPO, "main", "bob", "docs", &[("README.md", Some("docs\n"))]).await;
    w.gh.post_status(REPO, &tip, "kustomization/myapp-dev/0c9c2e41", "success").await;
    let summary = until_record(&w, &bump, "dev", "success").await;
    assert!(
        summary.contains(&format!("`kustomization/myapp-dev/0c9c2e41`: status success on `{}`", &tip[..7])),
        "{summary}"
    );
    w.until("staging's PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

/// Two clusters serve dev (`min: 2`): one green and one silent is pending; both green verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_must_both_report() {
    let w = world("      checks: [{ name: \"kustomization/myapp-dev/*\", min: 2 }]").await;
    w.push("0.5.1").await;
    let bump = dev_bump(&w, "0.5.1").await;
    w.gh.post_status(REPO, &bump, "kustomization/myapp-dev/0c9c2e41", "success").await;
    w.until("one of two reported", |_| {
        record(&w, &bump, "dev").is_some_and(|(s, t)| s == "in_progress" && t.contains("waiting for 1 more"))
    })
    .await;
    assert!(w.prs("staging").is_empty());
    w.gh.post_status(REPO, &bump, "kustomization/myapp-dev/9d1e7f00", "success").await;
    let summary = until_record(&w, &bump, "dev", "success").await;
    insta::assert_snapshot!(summary);
    w.until("staging's PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

/// A green status left on the source commit by an earlier deploy is no verification of this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_green_status_from_before_the_bump_does_not_verify() {
    let w = world("      checks: [\"kustomization/myapp-dev/*\"]").await;
    let source = source_commit(&w).await;
    w.gh.post_status(REPO, &source, "kustomization/myapp-dev/0c9c2e41", "success").await;
    w.gh.advance_clock(Duration::from_secs(60));
    push_built_from(&w, "0.5.1", &source).await;
    let bump = dev_bump(&w, "0.5.1").await;
    // Something else reports on the bump: baton evaluates again, and still waits.
    w.gh.post_status(REPO, &bump, "kustomization/flux-system/0c9c2e41", "success").await;
    w.settle().await;
    let (state, summary) = record(&w, &bump, "dev").expect("a record");
    assert_eq!(state, "in_progress", "{summary}");
    assert!(summary.contains("waiting for kustomization/myapp-dev/*"), "{summary}");
    // (That status was fresh for the version dev ran before, which it verified; 0.5.1 waits.)
    assert!(w.prs("staging").iter().all(|p| !p.title.contains("0.5.1")));
    w.assert_no_violations();
}

/// No result within `timeout`: the record fails saying so, with one comment on the bump PR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_past_the_timeout_fails_the_record_once() {
    let w = world("      checks: [\"kustomization/myapp-dev/*\"]\n      timeout: 30m").await;
    w.push("0.5.1").await;
    let bump = dev_bump(&w, "0.5.1").await;
    until_record(&w, &bump, "dev", "in_progress").await;
    // The timeout is armed as a timer: no event and no reconcile, only the clock moves.
    w.advance(Duration::from_secs(31 * 60));
    let summary = until_record(&w, &bump, "dev", "failure").await;
    assert!(summary.ends_with("\nNo result from kustomization/myapp-dev/* within 30m.\n"), "{summary}");
    let pr = w.prs("dev").pop().unwrap();
    w.until("a comment on the dev PR", |gh| !gh.comments(REPO, pr.number).is_empty()).await;
    w.gh.post_status(REPO, &bump, "kustomization/flux-system/0c9c2e41", "success").await;
    w.settle().await;
    assert_eq!(w.gh.comments(REPO, pr.number).len(), 1);
    assert!(w.prs("staging").is_empty());
    w.assert_no_violations();
}

/// The timeout's timer is a cache: a restart loses it, `reconcile` re-arms it from the bump
/// commit's date, and it still fails the record at the same time with one comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_timeout_is_restored_by_reconcile() {
    let mut w = world("      checks: [\"kustomization/myapp-dev/*\"]\n      timeout: 30m").await;
    w.push("0.5.1").await;
    let bump = dev_bump(&w, "0.5.1").await;
    until_record(&w, &bump, "dev", "in_progress").await;
    let armed = |w: &World| w.baton.engine.scheduler.wakes().contains(&baton::event::Wake::Bump { sha: bump.clone() });
    w.settle().await;
    assert!(armed(&w), "the timeout is armed");
    w.restart_baton().await;
    assert!(!armed(&w), "timers are a cache: the restart lost it");
    w.baton.engine.reconcile(&REPO.parse().unwrap()).await.unwrap();
    assert!(armed(&w), "reconcile re-armed it");
    w.advance(Duration::from_secs(31 * 60));
    let summary = until_record(&w, &bump, "dev", "failure").await;
    assert!(summary.ends_with("\nNo result from kustomization/myapp-dev/* within 30m.\n"), "{summary}");
    let pr = w.prs("dev").pop().unwrap();
    w.until("a comment on the dev PR", |gh| !gh.comments(REPO, pr.number).is_empty()).await;
    w.settle().await;
    assert_eq!(w.gh.comments(REPO, pr.number).len(), 1);
    w.assert_no_violations();
}

/// A Flux HelmRelease event (generic-hmac) naming the digest dev runs becomes the status
/// `flux/helmrelease/apps/myapp` on dev's bump commit; that verifies dev and staging's PR
/// follows. An event for another digest, or one older than the bump, records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flux_event_becomes_a_status_on_the_bump_commit() {
    let w = world("      checks: [\"flux/helmrelease/apps/*\"]").await;
    let digest = w.push("0.5.1").await;
    let bump = dev_bump(&w, "0.5.1").await;
    until_record(&w, &bump, "dev", "in_progress").await;
    let event = |digest: &str, at: chrono::DateTime<chrono::Utc>| {
        include_str!("../data/flux/helmrelease-upgrade-succeeded.json")
            .replace(
                "0.5.120@sha256:3f1a9c0e5b7d2486a0c4e6f8b1d3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f2a4b6",
                &format!("0.5.1@{digest}"),
            )
            .replace("2026-12-02T04:12:03Z", &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let now = chrono::Utc::now() + chrono::Duration::seconds(2);
    assert_eq!(w.baton.post_flux(&event(&digest, now), Some("wrong")).await.status(), 401);
    let other = format!("sha256:{}", "e".repeat(64));
    assert_eq!(w.baton.post_flux(&event(&other, now), Some(FLUX_SECRET)).await.status(), 202);
    let old = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(w.baton.post_flux(&event(&digest, old), Some(FLUX_SECRET)).await.status(), 202);
    w.baton.wait_idle().await;
    assert!(w.gh.statuses(REPO, &bump).iter().all(|s| !s.context.starts_with("flux/")));

    assert_eq!(w.baton.post_flux(&event(&digest, now), Some(FLUX_SECRET)).await.status(), 202);
    w.until("flux/helmrelease/apps/myapp on the bump", |gh| {
        gh.statuses(REPO, &bump).iter().any(|s| s.context == "flux/helmrelease/apps/myapp" && s.state == "success")
    })
    .await;
    let status = w.gh.statuses(REPO, &bump).into_iter().find(|s| s.context == "flux/helmrelease/apps/myapp").unwrap();
    assert_eq!(status.description.as_deref(), Some("upgrade succeeded"));
    until_record(&w, &bump, "dev", "success").await;
    w.until("staging's PR", |_| !w.prs("staging").is_empty()).await;
    w.assert_no_violations();
}

/// A merge queue asks for `baton/policy` on the merge group's head (`merge_group`
/// checks_requested): a pointer change is checked there as on the PR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_group_gets_baton_policy_on_its_head() {
    let w = World::start_manual().await;
    w.gh.require_merge_queue(REPO, "main");
    let (n, pr_head) = w.human_pr("human/docs", &[("README.md", Some("hello\n"))]).await;
    assert_eq!(w.policy(&pr_head).await.conclusion.as_deref(), Some("success"));
    let group_head = w.gh.enqueue_merge_group(REPO, n).await;
    let check = w.policy(&group_head).await;
    assert_eq!((check.conclusion.as_deref(), check.title.as_deref()), (Some("success"), Some("No pointer changed")));

    // A pointer change by hand to a version nobody verified fails in the queue too.
    let text = w.gh.file(REPO, "main", "clusters/staging/values.yaml").unwrap().replace("tag: 0.4.9", "tag: 0.4.10");
    let (n, pr_head) = w.human_pr("human/staging", &[("clusters/staging/values.yaml", Some(&text))]).await;
    let on_pr = w.policy(&pr_head).await;
    let group_head = w.gh.enqueue_merge_group(REPO, n).await;
    let on_group = w.policy(&group_head).await;
    assert_eq!(on_group.conclusion, on_pr.conclusion);
    assert_eq!(on_group.conclusion.as_deref(), Some("failure"));
    w.assert_no_violations();
}

/// A verification workflow: dispatched once per bump (replayed events dispatch nothing more),
/// with stage, version, digest and the configured inputs; its `workflow_run` success verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_gate_is_dispatched_once_and_its_run_verifies() {
    let w = world("      workflows: [{ file: e2e.yml, inputs: { suite: smoke } }]").await;
    let wf = "name: e2e\nrun-name: \"verify ${{ inputs.stage }} ${{ inputs.version }} ${{ inputs.digest }}\"\non:\n  workflow_dispatch:\n    inputs:\n      stage: {}\n      version: {}\n      digest: {}\n      suite: {}\n";
    w.gh.push_commit(REPO, "main", "alice", "ci: e2e", &[(".github/workflows/e2e.yml", Some(wf))]).await;
    let digest = w.push("0.5.1").await;
    let bump = dev_bump(&w, "0.5.1").await;
    // (dev's previous version, 0.5.0, got its own run when the workflow file landed.)
    let runs_of = |gh: &crate::support::fake_github::FakeGitHub| -> Vec<_> {
        gh.workflow_runs(REPO).into_iter().filter(|r| r.display_title.contains("0.5.1")).collect()
    };
    w.until("one dispatched run for 0.5.1", |gh| runs_of(gh).len() == 1).await;
    let run = runs_of(&w.gh).remove(0);
    assert_eq!(run.display_title, format!("verify dev 0.5.1 {digest}"));
    let inputs: Vec<(&str, &str)> = run.inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(inputs, [("digest", digest.as_str()), ("stage", "dev"), ("suite", "smoke"), ("version", "0.5.1")]);
    let waiting = until_record(&w, &bump, "dev", "in_progress").await;
    assert!(waiting.contains("| `workflow e2e.yml` | ⏳ workflow run queued |"), "{waiting}");
    for d in w.gh.deliveries() {
        w.gh.redeliver(&d.id);
    }
    w.settle().await;
    assert_eq!(runs_of(&w.gh).len(), 1, "dispatched once");
    w.gh.complete_workflow_run(run.id, "success").await;
    let summary = until_record(&w, &bump, "dev", "success").await;
    assert!(summary.contains("| `workflow e2e.yml` | ✅ workflow run success |"), "{summary}");
    w.until("staging's PR", |_| !w.prs("staging").is_empty()).await;
    assert_eq!(runs_of(&w.gh).len(), 1);
    w.assert_no_violations();
}

/// Flux events in discovery mode (`github.repositories` empty, the App installed on the whole
/// organisation): the index decides which repositories' stages an event may concern. Two
/// repositories follow the same artifact, each with its own Flux; a third has no pipeline. A
/// HelmRelease event for the stage of `org/deploy` fans out to the two with a pipeline and
/// lands as a status on `org/deploy`'s bump commit only, which verifies there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_discovery_mode_a_flux_event_reaches_only_the_stage_it_concerns() {
    const OTHER: &str = "org/platform";
    let gh = crate::support::fake_github::FakeGitHub::start().await;
    gh.set_app(APP_ID, "baton");
    gh.set_request_validator(validate_request);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let baton_url = format!("http://{}", listener.local_addr().unwrap());
    let notify = (format!("{baton_url}/webhooks/registry"), REGISTRY_TOKEN.to_string());
    let registry = crate::support::registry::TestRegistry::start(Some(notify)).await;
    let host = registry.host();
    let pipeline = |checks: &str| pipeline_yaml(&host, "pull-request", "auto").replace(DEV_CHECKS, checks);
    let key = "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n";
    for (repo, checks) in [
        (REPO, "      checks: [\"flux/helmrelease/apps/*\"]"),
        (OTHER, "      checks: [\"flux/kustomization/flux-system/*\"]"),
    ] {
        gh.add_repo(
            repo,
            "main",
            &[
                (".baton.yaml", &pipeline(checks)),
                (".baton/keys/deploy.pub", key),
                ("clusters/dev/myapp.yaml", DEV_POINTER),
                ("clusters/staging/values.yaml", STAGING_VALUES),
            ],
        );
    }
    gh.add_repo("org/website", "main", &[("README.md", "no pipeline here\n")]);
    gh.set_webhook_target(&format!("{baton_url}/webhooks/github"), SECRET);
    let mut s = settings(&gh.url(), Some(&host));
    s.github.repositories = vec![]; // "install on all repositories"
    let w = World::from_parts(gh, registry, listener, s, false).await;
    w.baton.wait_index("both pipelines", |i| i.configured().len() == 2).await;

    let digest = w.push("0.5.1").await;
    let bump_of = |repo: &'static str| {
        let w = &w;
        async move {
            let title = "promote myapp 0.5.1 to dev";
            w.until(&format!("{repo}: {title} merged"), |gh| {
                gh.pulls(repo).iter().any(|p| p.merged && p.title == title)
            })
            .await;
            let pr = w.gh.pulls(repo).into_iter().find(|p| p.merged && p.title == title).unwrap();
            pr.merge_commit_sha.unwrap()
        }
    };
    let (bump, other_bump) = (bump_of(REPO).await, bump_of(OTHER).await);
    until_record(&w, &bump, "dev", "in_progress").await;

    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = include_str!("../data/flux/helmrelease-upgrade-succeeded.json")
        .replace(
            "0.5.120@sha256:3f1a9c0e5b7d2486a0c4e6f8b1d3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f2a4b6",
            &format!("0.5.1@{digest}"),
        )
        .replace("2026-12-02T04:12:03Z", &at);
    let r = w.baton.post_flux(&event, Some(FLUX_SECRET)).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.unwrap(), "accepted (2 jobs)\n", "one job per repository with a pipeline");
    w.until("flux/helmrelease/apps/myapp on org/deploy's bump", |gh| {
        gh.statuses(REPO, &bump).iter().any(|s| s.context == "flux/helmrelease/apps/myapp" && s.state == "success")
    })
    .await;
    until_record(&w, &bump, "dev", "success").await;
    w.until("staging's PR", |_| !w.prs("staging").is_empty()).await;
    w.settle().await;
    assert!(w.gh.statuses(OTHER, &other_bump).iter().all(|s| !s.context.starts_with("flux/")));
    let other_record = w.gh.check_run(OTHER, &other_bump, "baton/verified/dev").expect("org/platform's record");
    assert_eq!(other_record.status, "in_progress", "org/platform's dev still waits for its own Flux");
    let flux_writes: Vec<String> =
        w.gh.write_requests().into_iter().filter(|r| r.path.contains("/statuses/")).map(|r| r.path).collect();
    assert_eq!(flux_writes, [format!("/repos/{REPO}/statuses/{bump}")]);
    assert_eq!(w.gh.count_requests("GET", "/repos/org/website"), 0, "a repository without a pipeline is not read");
    w.assert_no_violations();
}
