//! Organisation scale: the App installed on dozens of repositories, one or two of which have a
//! pipeline. Registry pushes for images no pipeline names and events of repositories without a
//! pipeline cost no GitHub request; the index follows `.baton.yaml` added or removed by a push
//! and repositories added to or removed from the installation.

use std::time::Duration;

use crate::support::fake_github::FakeGitHub;
use crate::support::registry::TestRegistry;
use crate::support::world::*;

const OTHERS: usize = 40;

struct Org {
    gh: FakeGitHub,
    registry: TestRegistry,
    baton: Baton,
}

/// The pipeline of `org/app-<n>`: one artifact `myapp` from `deployments/app-<n>`, one stage.
fn app_pipeline(host: &str, image: &str) -> String {
    pipeline_yaml(host, "pull-request", "manual").replace("deployments/myapp", image)
}

impl Org {
    async fn start() -> Org {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (gh, registry, listener, s) = org_parts((0..OTHERS).map(|i| format!("org/app-{i}"))).await;
        let baton = Baton::start_on(listener, s).await;
        assert_eq!(baton.index.installed().len(), OTHERS + 1);
        assert_eq!(baton.index.configured(), vec![REPO.parse().unwrap()]);
        Org { gh, registry, baton }
    }

    /// Pushes an image and tells baton as the registry would; returns baton's answer.
    async fn push(&self, image: &str, tag: &str) -> (u16, String) {
        let digest = self.registry.push_artifact(image, tag, tag.as_bytes(), &[]).await;
        let r = self.baton.post_registry(&push_envelope(&self.registry.host(), image, tag, &digest)).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Runs `f`, waits for GitHub's deliveries and baton's queue, and returns the requests made.
    async fn requests_during<F: std::future::Future<Output = ()>>(&self, f: F) -> Vec<String> {
        self.baton.wait_idle().await;
        self.gh.clear_requests();
        f.await;
        assert!(self.gh.wait_deliveries_idle(Duration::from_secs(10)).await);
        self.baton.wait_idle().await;
        self.gh.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrelated_pushes_and_unconfigured_repositories_cost_no_request() {
    let org = Org::start().await;
    let answers = std::sync::Mutex::new(vec![]);
    let made = org
        .requests_during(async {
            for tag in ["1.0.0", "1.0.1", "1.1.0"] {
                let answer = org.push("library/webshop", tag).await;
                answers.lock().unwrap().push(answer);
            }
        })
        .await;
    assert!(made.is_empty(), "{made:#?}");
    let want = (200, "ignored: no pipeline names this image\n".to_string());
    assert_eq!(answers.into_inner().unwrap(), vec![want.clone(), want.clone(), want]);

    // A comment, a status, a check run and a push in repositories without a pipeline.
    let before = org.gh.deliveries().len();
    let made = org
        .requests_during(async {
            for i in [3, 17, 29] {
                let repo = format!("org/app-{i}");
                let issue = org.gh.create_issue(&repo, "alice", "a bug", "it breaks").await;
                org.gh.comment(&repo, issue, "alice", "/promote prod").await;
                let sha =
                    org.gh.push_commit(&repo, "main", "alice", "fix", &[("src/lib.rs", Some("fn main() {}"))]).await;
                org.gh.post_status(&repo, &sha, "ci/build", "success").await;
                org.gh.post_check_run(&repo, &sha, "build", "success", "ci").await;
            }
        })
        .await;
    assert!(made.is_empty(), "{made:#?}");
    let deliveries = org.gh.deliveries();
    let answered: Vec<(String, Option<u16>)> =
        deliveries[before..].iter().map(|d| (format!("{} {}", d.event, d.repo), d.status)).collect();
    assert!(answered.len() >= 12, "{answered:#?}");
    assert!(answered.iter().all(|(_, s)| *s == Some(200)), "all ignored at intake: {answered:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_pipeline_files_and_the_installation() {
    let org = Org::start().await;
    let host = org.registry.host();
    let app: baton::types::RepoName = "org/app-5".parse().unwrap();

    // `.baton.yaml` added by a push: the next push of its image opens the PR.
    org.gh
        .push_commit(
            "org/app-5",
            "main",
            "alice",
            "deploy with baton",
            &[
                (".baton.yaml", Some(&app_pipeline(&host, "deployments/app-5"))),
                ("clusters/dev/myapp.yaml", Some(DEV_POINTER)),
                ("clusters/staging/values.yaml", Some(STAGING_VALUES)),
            ],
        )
        .await;
    org.baton.wait_index("to know org/app-5's pipeline", |i| i.has_pipeline(&app)).await;
    assert_eq!(org.push("deployments/app-5", "2.0.0").await, (202, "accepted (1 jobs)\n".into()));
    assert!(
        org.gh
            .wait_until(Duration::from_secs(30), |gh| gh
                .pulls("org/app-5")
                .iter()
                .any(|p| p.title == "promote myapp 2.0.0 to dev"))
            .await,
        "{:#?}",
        org.gh.pulls("org/app-5")
    );
    org.baton.wait_idle().await;
    assert!(org.gh.pulls(REPO).is_empty(), "org/deploy does not name deployments/app-5");

    // Removed: pushes of its image cost nothing again.
    org.gh.push_commit("org/app-5", "main", "alice", "stop", &[(".baton.yaml", None)]).await;
    org.baton.wait_index("to forget org/app-5's pipeline", |i| !i.has_pipeline(&app)).await;
    let made = org
        .requests_during(async {
            assert_eq!(org.push("deployments/app-5", "2.0.1").await.1, "ignored: no pipeline names this image\n");
        })
        .await;
    assert!(made.is_empty(), "{made:#?}");

    // A repository added to the installation, with a pipeline: served at once.
    let new: baton::types::RepoName = "org/new-service".parse().unwrap();
    org.gh
        .install_repo(
            "org/new-service",
            "main",
            &[
                (".baton.yaml", &app_pipeline(&host, "deployments/new-service")),
                ("clusters/dev/myapp.yaml", DEV_POINTER),
                ("clusters/staging/values.yaml", STAGING_VALUES),
            ],
        )
        .await;
    org.baton.wait_index("to know the added repository", |i| i.has_pipeline(&new)).await;
    assert_eq!(org.push("deployments/new-service", "1.0.0").await.0, 202);
    assert!(org.gh.wait_until(Duration::from_secs(30), |gh| gh.pulls("org/new-service").len() == 1).await);
    org.baton.wait_idle().await;

    // Removed from the installation: forgotten, its image costs nothing.
    org.gh.uninstall_repo("org/new-service").await;
    org.baton.wait_index("to forget the removed repository", |i| !i.installed().contains(&new)).await;
    let made = org
        .requests_during(async {
            assert_eq!(org.push("deployments/new-service", "1.0.1").await.1, "ignored: no pipeline names this image\n");
        })
        .await;
    assert!(made.is_empty(), "{made:#?}");
    let violations = org.gh.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// `baton serve` reconciles by itself every `reconcile.interval_secs`: a push it never heard
/// of is promoted by its next pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reconciles_on_its_own() {
    // The world's own baton hears nothing and never reconciles (default interval: 5 minutes).
    let w = World::start_custom(|host| pipeline_yaml(host, "pull-request", "manual"), false).await;
    let mut s = settings(&w.gh.url(), Some(&w.registry.host()));
    s.reconcile.interval_secs = 1;
    let mut reconciling = Baton::start(s).await;
    w.push("3.1.4").await;
    w.until("a PR from serve's reconcile pass", |gh| {
        gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 3.1.4 to dev")
    })
    .await;
    reconciling.stop().await;
    assert_eq!(w.gh.pulls(REPO).len(), 1, "{:#?}", w.gh.pulls(REPO));
    w.assert_no_violations();
}

/// Installs `name` in the org with a one-stage pipeline for `deployments/<name>` and waits until
/// the index knows it.
async fn install_app(org: &Org, name: &str) -> baton::types::RepoName {
    let host = org.registry.host();
    let full = format!("org/{name}");
    org.gh
        .install_repo(
            &full,
            "main",
            &[
                (".baton.yaml", &app_pipeline(&host, &format!("deployments/{name}"))),
                ("clusters/dev/myapp.yaml", DEV_POINTER),
                ("clusters/staging/values.yaml", STAGING_VALUES),
            ],
        )
        .await;
    let repo: baton::types::RepoName = full.parse().unwrap();
    org.baton.wait_index(&format!("to know {full}'s pipeline"), |i| i.has_pipeline(&repo)).await;
    repo
}

/// serve's reconcile pass skips an installation whose remaining rate budget is under the floor
/// (no request at all for its repositories), while commands and webhooks are still handled;
/// with the budget back, the next pass reconciles every repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconcile_pass_stops_under_the_budget_floor_while_events_are_handled() {
    use baton::server::{reconcile_pass, PassOptions, PassReport};
    let org = Org::start().await;
    install_app(&org, "second").await;
    let opts = PassOptions { interval: Duration::ZERO, budget_floor: 500 };

    // 100 requests left this hour; baton learns it from GitHub's next answer (to a command).
    let counted = org.gh.request_counts().counted;
    org.gh.set_rate_limit(counted + 100);
    let issue = org.gh.create_issue(REPO, "alice", "releases", "").await;
    org.gh.comment(REPO, issue, "alice", "/status").await;
    assert!(
        org.gh
            .wait_until(Duration::from_secs(30), |gh| gh.comments(REPO, issue).iter().any(|c| c.author == "baton[bot]"))
            .await,
        "/status is answered under the floor"
    );
    org.baton.wait_idle().await;
    let budget = org.baton.engine.github.rate_budget("org").expect("budget seen");
    assert!(budget.remaining < 100, "{budget:?}");

    let report = std::sync::Mutex::new(None);
    let made = org
        .requests_during(async {
            *report.lock().unwrap() = reconcile_pass(&org.baton.engine, &org.baton.index, &opts).await;
        })
        .await;
    assert_eq!(
        report.into_inner().unwrap(),
        Some(PassReport { repositories: 2, failed: 0, stopped: vec!["org".to_string()] })
    );
    assert!(made.is_empty(), "a stopped pass makes no request: {made:#?}");

    // A registry push is still handled: its PR opens (and the budget is back: a new hour).
    org.gh.set_rate_limit(1_000_000);
    assert_eq!(org.push("deployments/second", "1.2.0").await, (202, "accepted (1 jobs)\n".into()));
    assert!(
        org.gh
            .wait_until(Duration::from_secs(30), |gh| gh
                .pulls("org/second")
                .iter()
                .any(|p| p.title == "promote myapp 1.2.0 to dev"))
            .await,
        "{:#?}",
        org.gh.pulls("org/second")
    );
    org.baton.wait_idle().await;
    let budget = org.baton.engine.github.rate_budget("org").expect("budget seen");
    assert!(budget.remaining > 500, "{budget:?}");
    let report = reconcile_pass(&org.baton.engine, &org.baton.index, &opts).await;
    assert_eq!(report, Some(PassReport { repositories: 2, failed: 0, stopped: vec![] }));
    let violations = org.gh.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// Per GET path: how many answers were 200 and how many 304.
fn answers_per_path(gh: &FakeGitHub) -> std::collections::BTreeMap<String, (usize, usize)> {
    let mut out: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for r in gh.requests().iter().filter(|r| r.method == "GET") {
        let path = match &r.query {
            Some(q) => format!("{}?{q}", r.path),
            None => r.path.clone(),
        };
        let e = out.entry(path).or_default();
        match r.status {
            304 => e.1 += 1,
            _ => e.0 += 1,
        }
    }
    out
}

/// A second promotion in the same minute reads nothing twice: every GET it repeats is answered
/// 304 (GitHub does not count those against the rate limit) from baton's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_promotion_reads_nothing_twice() {
    let org = Org::start().await;
    org.requests_during(async {
        assert_eq!(org.push("deployments/myapp", "0.8.0").await.0, 202);
        assert!(org.gh.wait_until(Duration::from_secs(30), |gh| gh.pulls(REPO).len() == 1).await);
    })
    .await;
    let first_reads: std::collections::BTreeSet<String> = answers_per_path(&org.gh).keys().cloned().collect();
    org.gh.clear_requests();
    assert_eq!(org.push("deployments/other", "0.1.0").await.1, "ignored: no pipeline names this image\n");
    assert_eq!(org.push("deployments/myapp", "0.8.1").await.0, 202);
    assert!(
        org.gh
            .wait_until(Duration::from_secs(30), |gh| gh
                .pulls(REPO)
                .first()
                .is_some_and(|p| p.title == "promote myapp 0.8.1 to dev"))
            .await,
        "{:#?}",
        org.gh.pulls(REPO)
    );
    assert!(org.gh.wait_deliveries_idle(Duration::from_secs(10)).await);
    org.baton.wait_idle().await;
    let second = answers_per_path(&org.gh);
    let read_again: Vec<(&String, &(usize, usize))> =
        second.iter().filter(|(path, _)| first_reads.contains(*path)).collect();
    assert!(!read_again.is_empty(), "the second promotion repeats reads of the first: {second:#?}");
    // Answered 200 again only where the second promotion itself changed the resource: the PR's
    // files (its branch got the new version's commit).
    let twice: Vec<&str> = read_again.iter().filter(|(_, (ok, _))| *ok > 0).map(|(p, _)| p.as_str()).collect();
    assert_eq!(twice, ["/repos/org/deploy/pulls/1/files?per_page=100&page=1"], "all: {second:#?}");
    let not_modified = read_again.iter().filter(|(_, (_, nm))| *nm > 0).count();
    assert!(not_modified >= 3, "the default branch, the pointer file, its history: {second:#?}");
    assert_eq!(org.gh.pulls(REPO).len(), 1, "the same PR, updated");
    let violations = org.gh.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// A repository renamed, then transferred to another owner (where the App is installed too):
/// the index follows, the next registry push for its image opens the PR under the new name, and
/// the old name costs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_or_transferred_repository_is_followed_by_the_index() {
    let org = Org::start().await;
    let old: baton::types::RepoName = REPO.parse().unwrap();
    let renamed: baton::types::RepoName = "org/deployments".parse().unwrap();
    org.gh.rename_repo(REPO, "deployments").await;
    org.baton.wait_index("to follow the rename", |i| i.has_pipeline(&renamed) && !i.has_pipeline(&old)).await;
    assert!(!org.baton.index.installed().contains(&old));
    let made = org
        .requests_during(async {
            assert_eq!(org.push("deployments/myapp", "0.8.0").await, (202, "accepted (1 jobs)\n".into()));
            assert!(org.gh.wait_until(Duration::from_secs(30), |gh| gh.pulls("org/deployments").len() == 1).await);
        })
        .await;
    assert!(made.iter().all(|r| !r.contains("/repos/org/deploy/")), "nothing for the old name: {made:#?}");
    assert_eq!(org.gh.pulls("org/deployments")[0].title, "promote myapp 0.8.0 to dev");

    let moved: baton::types::RepoName = "platform/deployments".parse().unwrap();
    org.gh.transfer_repo("org/deployments", "platform").await;
    org.baton
        .wait_index("to follow the transfer", |i| i.has_pipeline(&moved) && !i.installed().contains(&renamed))
        .await;
    let made = org
        .requests_during(async {
            assert_eq!(org.push("deployments/myapp", "0.9.0").await, (202, "accepted (1 jobs)\n".into()));
            assert!(
                org.gh
                    .wait_until(Duration::from_secs(30), |gh| gh
                        .pulls("platform/deployments")
                        .iter()
                        .any(|p| p.title == "promote myapp 0.9.0 to dev"))
                    .await
            );
        })
        .await;
    assert!(
        made.iter().all(|r| !r.contains("/repos/org/deploy/") && !r.contains("/repos/org/deployments/")),
        "nothing for the old names: {made:#?}"
    );
    let violations = org.gh.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// What building the index costs at start: for an installation on all repositories, the App's
/// installations, a token and one GraphQL listing per 100 repositories (repositories and their
/// `.baton.yaml` together); for one on selected repositories, the REST listing and then one
/// query per 100 files. Either way the index knows the same repositories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_built_from_one_query_per_hundred_repositories() {
    for selected in [false, true] {
        let (gh, _registry, listener, s) = org_parts((0..149).map(|i| format!("org/app-{i:03}"))).await;
        if selected {
            // The App on 120 of the 150 repositories (org/deploy among them).
            let chosen: Vec<String> = (0..119).map(|i| format!("org/app-{i:03}")).chain([REPO.to_string()]).collect();
            let chosen: Vec<&str> = chosen.iter().map(String::as_str).collect();
            gh.set_repository_selection("org", Some(&chosen));
        }
        let baton = Baton::start_on(listener, s).await;
        assert_eq!(baton.index.installed().len(), if selected { 120 } else { 150 }, "selected: {selected}");
        assert_eq!(baton.index.configured(), vec![REPO.parse().unwrap()]);
        let unselected: baton::types::RepoName = "org/app-140".parse().unwrap();
        assert_eq!(baton.index.installed().contains(&unselected), !selected);
        let made: Vec<String> = gh.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
        let token = format!("POST /app/installations/{}/access_tokens", gh.installation_id("org"));
        let want: Vec<String> = if selected {
            ["GET /app/installations", &token, "GET /installation/repositories", "GET /installation/repositories"]
                .into_iter()
                .chain(["POST /graphql", "POST /graphql"])
                .map(str::to_string)
                .collect()
        } else {
            ["GET /app/installations", &token, "POST /graphql", "POST /graphql"]
                .into_iter()
                .map(str::to_string)
                .collect()
        };
        assert_eq!(made, want, "selected: {selected}");
        let violations = gh.violations();
        assert!(violations.is_empty(), "{violations:#?}");
    }
}
