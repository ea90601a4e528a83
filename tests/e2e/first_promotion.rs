//! The first complete path: a pushed artifact → a digest-pinned bump PR for the first stage.

use std::time::Duration;

use crate::support::world::*;

fn changed_lines(old: &str, new: &str) -> Vec<(String, String)> {
    let (a, b): (Vec<_>, Vec<_>) = (old.lines().collect(), new.lines().collect());
    assert_eq!(a.len(), b.len(), "line count changed:\n{new}");
    a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, y)| (x.to_string(), y.to_string())).collect()
}

fn open_pulls(w: &World) -> Vec<crate::support::fake_github::Pull> {
    w.gh.pulls(REPO).into_iter().filter(|p| p.state == "open").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_opens_one_digest_pinned_pr_and_updates_it_in_place() {
    let w = World::start_manual().await;
    let digest = w.push("0.5.1").await;

    // The registry notifies baton; baton resolves, plans and opens the PR.
    w.until("a labelled PR for dev", |gh| gh.pulls(REPO).first().is_some_and(|p| p.labels.len() >= 2)).await;
    let pr = &w.gh.pulls(REPO)[0];
    assert_eq!(pr.title, "promote myapp 0.5.1 to dev");
    assert_eq!(pr.head_ref, "baton/dev/myapp");
    assert_eq!(pr.base_ref, "main");
    assert!(pr.labels.iter().any(|l| l == "baton") && pr.labels.iter().any(|l| l == "baton:dev"), "{:?}", pr.labels);
    assert!(pr.body.as_deref().unwrap_or_default().contains(&digest), "{:?}", pr.body);
    assert!(pr.body.as_deref().unwrap_or_default().contains("<!-- baton:"), "{:?}", pr.body);

    // The diff is exactly the pointer's tag and digest lines.
    let new = w.gh.file(REPO, "baton/dev/myapp", "clusters/dev/myapp.yaml").expect("pointer on the branch");
    assert_eq!(
        changed_lines(DEV_POINTER, &new),
        vec![
            ("    tag: \"0.5.0\" # release".to_string(), "    tag: \"0.5.1\" # release".to_string()),
            (
                "    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000".to_string(),
                format!("    digest: {digest}")
            ),
        ]
    );
    let head = w.gh.branch_sha(REPO, "baton/dev/myapp").unwrap();
    let commit = w.gh.commit(REPO, &head).unwrap();
    assert!(commit.message.starts_with("promote(dev): myapp 0.5.1\n"), "{}", commit.message);
    assert!(commit.message.contains(&format!("Baton-Digest: {digest}")), "{}", commit.message);
    // Only the pointer file differs from main.
    assert_eq!(w.gh.file(REPO, "main", ".baton.yaml"), w.gh.file(REPO, "baton/dev/myapp", ".baton.yaml"));

    // The same notification again (as a registry redelivers): still one PR, same commit.
    let envelope = push_envelope(&w.registry.host(), "deployments/myapp", "0.5.1", &digest);
    assert_eq!(w.baton.post_registry(&envelope).await.status(), 202);
    let again = push_envelope(&w.registry.host(), "deployments/myapp", "0.5.1", &digest).replace("r1", "r2");
    assert!(w.baton.post_registry(&again).await.status().is_success());
    w.settle().await;
    assert_eq!(w.gh.pulls(REPO).len(), 1);
    assert_eq!(w.gh.branch_sha(REPO, "baton/dev/myapp").unwrap(), head, "a duplicate must not rewrite the branch");

    // A newer version updates the same PR in place.
    let digest2 = w.push("0.5.2").await;
    w.until("the PR to move to 0.5.2", |gh| gh.pulls(REPO)[0].title == "promote myapp 0.5.2 to dev").await;
    assert_eq!(w.gh.pulls(REPO).len(), 1);
    let new = w.gh.file(REPO, "baton/dev/myapp", "clusters/dev/myapp.yaml").unwrap();
    assert!(new.contains(&format!("digest: {digest2}")) && new.contains("tag: \"0.5.2\" # release"), "{new}");
    assert!(w.gh.pulls(REPO)[0].body.as_deref().unwrap_or_default().contains(&digest2));

    // An older version is a no-op.
    let before = w.gh.branch_sha(REPO, "baton/dev/myapp");
    w.push("0.4.0").await;
    w.settle().await;
    assert_eq!(w.gh.branch_sha(REPO, "baton/dev/myapp"), before);
    assert_eq!(w.gh.pulls(REPO)[0].title, "promote myapp 0.5.2 to dev");

    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_handling_the_same_push_open_one_pr() {
    let w = World::start_manual().await;
    let second = Baton::start(settings(&w.gh.url(), Some(&w.registry.host()))).await;
    // Push without the registry's own notification racing us: use a tag the regex ignores
    // for the notification, then notify both instances of the real tag at once.
    let digest = w.push("1.0.0").await;
    let env = push_envelope(&w.registry.host(), "deployments/myapp", "1.0.0", &digest);
    let (a, b) = tokio::join!(w.baton.post_registry(&env), second.post_registry(&env));
    assert!(a.status().is_success() && b.status().is_success());
    w.until("a PR", |gh| !gh.pulls(REPO).is_empty()).await;
    w.settle_with(&[&second]).await;
    assert_eq!(open_pulls(&w).len(), 1, "{:#?}", w.gh.pulls(REPO));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_502s_are_retried_and_the_pr_appears_once() {
    let w = World::start_manual().await;
    w.gh.fail_next("POST", "/repos/org/deploy/pulls", 502, 2);
    w.push("0.6.0").await;
    w.until("a PR despite two 502s", |gh| !gh.pulls(REPO).is_empty()).await;
    w.settle().await;
    assert_eq!(w.gh.pulls(REPO).len(), 1);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_nobody_configured_change_nothing() {
    let w = World::start().await;
    w.registry.push_artifact("deployments/other", "1.0.0", b"x", &[]).await;
    // A tag that does not match the artifact's release pattern.
    w.registry.push_artifact("deployments/myapp", "latest", b"y", &[]).await;
    w.settle().await;
    assert!(w.gh.pulls(REPO).is_empty());
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_commit_stages_commit_to_the_default_branch() {
    let w = World::start_with("commit", "auto").await;
    let main_before = w.gh.branch_sha(REPO, "main").unwrap();
    let digest = w.push("0.7.0").await;
    w.until("a commit on main", |gh| gh.branch_sha(REPO, "main").as_deref() != Some(main_before.as_str())).await;
    let pointer = w.gh.file(REPO, "main", "clusters/dev/myapp.yaml").unwrap();
    assert!(pointer.contains(&digest));
    let commit = w.gh.commit(REPO, &w.gh.branch_sha(REPO, "main").unwrap()).unwrap();
    assert_eq!(commit.parents, vec![main_before]);
    assert!(w.gh.pulls(REPO).is_empty());
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_per_promotion() {
    let w = World::start_manual().await;
    w.settle().await;
    w.gh.clear_requests();
    w.push("0.8.0").await;
    w.until("a labelled PR", |gh| gh.pulls(REPO).first().is_some_and(|p| p.labels.len() >= 2)).await;
    w.settle().await;
    // The promotion proper: from the first request to the labels on the new PR (the policy
    // check and the rest that follow are other events' work).
    let sha = regex::Regex::new("[0-9a-f]{40}").unwrap();
    let mut calls = Vec::new();
    for r in w.gh.requests() {
        let line = sha.replace_all(&format!("{} {}", r.method, r.path), "<sha>").to_string();
        let done = line.ends_with("/labels");
        calls.push(line);
        if done {
            break;
        }
    }
    // A constant number of calls whatever the repository's size or the installation's: the
    // pipeline comes from the index, the commit from the contents API (7 requests, 4 writes).
    insta::assert_snapshot!(calls.join("\n"));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_as_github_documents() {
    use crate::support::fake_github::RateLimit;
    let w = World::start_manual().await;
    // A secondary limit (429 + retry-after) on the PR, a primary one (403, remaining 0, reset)
    // on the branch: both are waited out, and the PR still appears once.
    w.gh.rate_limit_next("POST", "/repos/org/deploy/pulls", RateLimit::RetryAfter(1), 1);
    w.gh.rate_limit_next("POST", "/repos/org/deploy/git/refs", RateLimit::PrimaryExhausted { reset_in_secs: 1 }, 1);
    let started = std::time::Instant::now();
    w.push("0.6.1").await;
    w.until("a PR despite the rate limits", |gh| !gh.pulls(REPO).is_empty()).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "baton waited for the limits to reset");
    w.settle().await;
    assert_eq!(w.gh.pulls(REPO).len(), 1);
    assert_eq!(w.gh.count_requests("POST", "/repos/org/deploy/pulls"), 2);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_accepted_events() {
    let mut w = World::start_manual().await;
    // Pushed with the registry's notification going nowhere useful yet: baton is told directly.
    let digest = w.registry.push_artifact("deployments/myapp", "2.0.0", b"two", &[]).await;
    let env = push_envelope(&w.registry.host(), "deployments/myapp", "2.0.0", &digest);
    assert_eq!(w.baton.post_registry(&env).await.status(), 202);
    // Stop right away: the accepted event is still handled before baton exits.
    w.baton.stop().await;
    assert!(w.gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 2.0.0 to dev"), "{:#?}", w.gh.pulls(REPO));
}

/// With no `github.repositories` configured, baton serves the repositories the App is installed
/// on (re-read every few minutes), skipping quietly those without a `.baton.yaml`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_come_from_the_apps_installations_when_none_are_configured() {
    let w = World::start_manual().await;
    w.gh.add_repo("org/unrelated", "main", &[("README.md", "no pipeline here\n")]);
    let mut s = settings(&w.gh.url(), Some(&w.registry.host()));
    s.github.repositories = vec![];
    let discovering = Baton::start(s).await;
    // `start` returns once the index is built.
    let repos: Vec<String> = discovering.index.installed().iter().map(|r| r.to_string()).collect();
    assert_eq!(repos, ["org/deploy", "org/unrelated"]);
    let configured: Vec<String> = discovering.index.configured().iter().map(|r| r.to_string()).collect();
    assert_eq!(configured, ["org/deploy"]);

    let digest = w.registry.push_artifact("deployments/myapp", "3.0.0", b"three", &[]).await;
    let env = push_envelope(&w.registry.host(), "deployments/myapp", "3.0.0", &digest);
    assert_eq!(discovering.post_registry(&env).await.status(), 202);
    w.until("a PR from the discovering baton", |gh| {
        gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 3.0.0 to dev")
    })
    .await;
    w.settle_with(&[&discovering]).await;
    assert_eq!(w.gh.pulls(REPO).iter().filter(|p| p.title == "promote myapp 3.0.0 to dev").count(), 1);
    w.assert_no_violations();
}

/// Dry-run: every read happens, no write reaches GitHub (they are logged instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reads_but_never_writes() {
    // The world's own baton hears nothing; only the dry-run baton below is told of the push.
    let w = World::start_custom(|host| pipeline_yaml(host, "pull-request", "auto"), false).await;
    let s = settings(&w.gh.url(), Some(&w.registry.host()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut engine = baton::cli::serve::build_engine(&s).unwrap();
    let client = baton::github::app::AppClient::new(&s.github).unwrap();
    engine.github = std::sync::Arc::new(baton::github::dryrun::DryRun::new(client));
    engine.verifier = std::sync::Arc::new(TrustAll);
    let running = baton::server::spawn(std::sync::Arc::new(s), std::sync::Arc::new(engine), listener).unwrap();
    let url = format!("http://{}", running.addr);
    w.gh.clear_requests();

    let digest = w.registry.push_artifact("deployments/myapp", "4.0.0", b"four", &[]).await;
    let env = push_envelope(&w.registry.host(), "deployments/myapp", "4.0.0", &digest);
    let r = reqwest::Client::new()
        .post(format!("{url}/webhooks/registry"))
        .bearer_auth(REGISTRY_TOKEN)
        .body(env)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    running.stop().await; // drains: the event has been handled when this returns
    let reads: Vec<String> = w.gh.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert!(reads.iter().any(|r| r == "GET /repos/org/deploy/contents/clusters/dev/myapp.yaml"), "{reads:#?}");
    assert!(w.gh.write_requests().is_empty(), "{:#?}", w.gh.write_requests());
    assert!(w.gh.pulls(REPO).is_empty());
    w.assert_no_violations();
}
