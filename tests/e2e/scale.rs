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
