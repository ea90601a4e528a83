//! A whole world for end-to-end tests: the fake GitHub (every request checked against GitHub's
//! OpenAPI description), a real Docker Distribution registry whose notifications go to baton,
//! and baton itself, running in-process on a loopback port.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use baton::engine::Engine;
use baton::server::{self, Running};
use baton::settings::Settings;
use baton::verify::{Verified, Verifier, VerifyContext, VerifyError};

use super::fake_github::FakeGitHub;
use super::openapi::OpenApi;
use super::registry::TestRegistry;

pub const SECRET: &str = "it's a secret to everybody";
pub const REGISTRY_TOKEN: &str = "registry-token-0123456789abcdef";
pub const REPO: &str = "org/deploy";
/// The HMAC key of the Flux `generic-hmac` Provider posting to /webhooks/flux.
pub const FLUX_SECRET: &str = "flux-provider-token-0123456789";
pub const APP_ID: u64 = 4242;

/// Stands in for cosign verification in tests that are about something else.
pub struct TrustAll;

#[async_trait]
impl Verifier for TrustAll {
    async fn verify(&self, _ctx: &VerifyContext<'_>) -> Result<Verified, VerifyError> {
        Ok(Verified { by: "test verifier".into() })
    }
}

pub fn key_path() -> String {
    format!("{}/tests/data/test-app-key.pem", env!("CARGO_MANIFEST_DIR"))
}

/// baton's settings pointing at the fake GitHub and the test registry.
pub fn settings(api_url: &str, registry_host: Option<&str>) -> Settings {
    let env = settings_env(api_url, registry_host);
    Settings::load_with_env(None, env.into_iter().map(|(k, v)| (k.to_string(), v))).expect("test settings")
}

/// [`settings`] as the environment variables that give them (for baton run as a process).
pub fn settings_env(api_url: &str, registry_host: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("BATON_GITHUB__API_URL", api_url.to_string()),
        ("BATON_GITHUB__APP_ID", APP_ID.to_string()),
        ("BATON_GITHUB__PRIVATE_KEY_FILE", key_path()),
        ("BATON_GITHUB__REPOSITORIES", REPO.to_string()),
        ("BATON_GITHUB__CONFIG_CACHE_SECS", "0".to_string()),
        ("BATON_GITHUB__MAX_RETRIES", "3".to_string()),
        ("BATON_WEBHOOKS__GITHUB_SECRETS", format!("{SECRET},previous-secret")),
        ("BATON_WEBHOOKS__REGISTRY_TOKENS", REGISTRY_TOKEN.to_string()),
        ("BATON_WEBHOOKS__FLUX_SECRETS", format!("{FLUX_SECRET},previous-flux-token")),
        ("BATON_SERVER__QUEUE_CAPACITY", "64".to_string()),
        ("BATON_SERVER__SHUTDOWN_GRACE_SECS", "10".to_string()),
        ("BATON_VERIFY__SIGNATURE_WAIT_SECS", "5".to_string()),
    ];
    if let Some(h) = registry_host {
        env.push(("BATON_REGISTRY__HOSTS", h.to_string()));
        env.push(("BATON_REGISTRY__INSECURE_HOSTS", h.to_string()));
    }
    env
}

/// Every request baton makes: REST against GitHub's OpenAPI description, GraphQL against the
/// endpoint's request shape (the REST description does not cover `/graphql`).
pub fn validate_request(method: &str, path: &str, body: Option<&serde_json::Value>) -> Result<(), String> {
    if path == "/graphql" {
        return super::fake_github::graphql::validate_request(method, body);
    }
    OpenApi::load().validate_request(method, path, body).map(|_| ())
}

/// One running baton.
pub struct Baton {
    pub url: String,
    pub running: Option<Running>,
    pub engine: Arc<Engine>,
    /// baton's index of pipelines (built at start; `start` returns once it is).
    pub index: Arc<baton::index::Index>,
    /// Seconds added to baton's clock (soak tests move time instead of sleeping).
    pub clock_offset: Arc<std::sync::atomic::AtomicI64>,
}

impl Baton {
    pub async fn start_on(listener: tokio::net::TcpListener, settings: Settings) -> Baton {
        Baton::start_verifying(listener, settings, false).await
    }

    /// `real_signatures`: cosign verification as in production, instead of [`TrustAll`].
    pub async fn start_verifying(
        listener: tokio::net::TcpListener,
        settings: Settings,
        real_signatures: bool,
    ) -> Baton {
        Baton::spawn(listener, settings, real_signatures, true).await
    }

    async fn spawn(
        listener: tokio::net::TcpListener,
        settings: Settings,
        real_signatures: bool,
        wait_for_index: bool,
    ) -> Baton {
        let mut engine = baton::cli::serve::build_engine(&settings).expect("engine");
        if !real_signatures {
            engine.verifier = Arc::new(TrustAll);
        }
        let clock_offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let offset = clock_offset.clone();
        engine.clock = Arc::new(move || {
            chrono::Utc::now() + chrono::Duration::seconds(offset.load(std::sync::atomic::Ordering::SeqCst))
        });
        let engine = Arc::new(engine);
        let running = server::spawn(Arc::new(settings), engine.clone(), listener).expect("server");
        let index = running.index.clone();
        let baton =
            Baton { url: format!("http://{}", running.addr), running: Some(running), engine, index, clock_offset };
        if wait_for_index {
            baton.wait_index("built", |i| i.is_built()).await;
        }
        baton
    }

    /// A baton with no GitHub behind it (tests of HTTP answers only): its index is never built.
    pub async fn start_without_github(settings: Settings) -> Baton {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Baton::spawn(listener, settings, false, false).await
    }

    /// Waits until baton's index satisfies `cond` (it follows webhooks beside the queue).
    pub async fn wait_index(&self, what: &str, cond: impl Fn(&baton::index::Index) -> bool) {
        for _ in 0..500 {
            if cond(&self.index) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("baton's index not {what} within 10s");
    }

    pub async fn start(settings: Settings) -> Baton {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Baton::start_on(listener, settings).await
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Jobs this baton accepted and has not finished.
    pub fn queue_depth(&self) -> usize {
        self.running.as_ref().map_or(0, |r| r.queue_depth())
    }

    /// Waits until this baton has finished every job it accepted. Only meaningful once the
    /// deliveries that matter were answered (use [`World::settle`] in scenarios).
    pub async fn wait_idle(&self) {
        for _ in 0..1500 {
            if self.queue_depth() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("baton did not become idle within 30s");
    }

    pub async fn post_registry(&self, body: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/webhooks/registry", self.url))
            .bearer_auth(REGISTRY_TOKEN)
            .header("content-type", "application/vnd.docker.distribution.events.v1+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// A Flux notification-controller event, as its `generic-hmac` provider posts it: the JSON
    /// body signed with `X-Signature: sha256=<hex>` (none when `secret` is None).
    pub async fn post_flux(&self, body: &str, secret: Option<&str>) -> reqwest::Response {
        let mut req = reqwest::Client::new()
            .post(format!("{}/webhooks/flux", self.url))
            .header("content-type", "application/json")
            .header("gotk-component", "kustomize-controller")
            .body(body.to_string());
        if let Some(s) = secret {
            req = req.header("x-signature", baton::webhook::signature::sign(s, body.as_bytes()));
        }
        req.send().await.unwrap()
    }

    pub async fn post_github(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
        secret: Option<&str>,
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new()
            .post(format!("{}/webhooks/github", self.url))
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = secret {
            req = req.header("x-hub-signature-256", baton::webhook::signature::sign(s, body));
        }
        req.send().await.unwrap()
    }
}

/// A Docker Distribution notification envelope for a tag push, as the registry sends it.
pub fn push_envelope(host: &str, repository: &str, tag: &str, digest: &str) -> String {
    serde_json::json!({"events": [{
        "id": format!("{repository}-{tag}-{digest}"),
        "timestamp": "2026-11-21T08:00:00Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": 500, "length": 500,
            "repository": repository,
            "url": format!("http://{host}/v2/{repository}/manifests/{digest}"),
            "tag": tag
        },
        "request": {"id": "r1", "addr": "127.0.0.1:1", "host": host, "method": "PUT", "useragent": "test"},
        "actor": {}, "source": {"addr": "127.0.0.1:5000", "instanceID": "x"}
    }]})
    .to_string()
}

/// The standard test pipeline: one artifact, dev (first, flux-oci) → staging (helm-values).
pub fn pipeline_yaml(registry_host: &str, dev_write: &str, dev_promotion: &str) -> String {
    format!(
        r#"# test pipeline
artifacts:
  myapp:
    image: {registry_host}/deployments/myapp
    tags: '^\d+\.\d+\.\d+$'
    verify:
      - key: .baton/keys/deploy.pub
stages:
  - name: dev
    pointers:
      - file: clusters/dev/myapp.yaml
        format: flux-oci
        artifact: myapp
    promotion: {dev_promotion}
    write: {dev_write}
    verification:
      checks: ["kustomization/myapp-dev"]
  - name: staging
    from: dev
    promotion: auto
    pointers: [{{ file: clusters/staging/values.yaml, format: helm-values, artifact: myapp }}]
    verification: {{ checks: ["e2e / staging"] }}
    freeze: {{ file: clusters/staging/FREEZE }}
"#
    )
}

pub const DEV_POINTER: &str = r#"---
# myapp in dev: managed by baton
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: myapp
  namespace: flux-system
spec:
  interval: 1m
  url: oci://registry.internal/deployments/myapp
  ref:
    tag: "0.5.0" # release
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
  verify:
    provider: cosign
"#;

pub const STAGING_VALUES: &str = r#"replicaCount: 2
image:
  repository: registry.internal/deployments/myapp
  tag: 0.4.9
  pullPolicy: IfNotPresent
"#;

/// Everything wired together.
pub struct World {
    pub gh: FakeGitHub,
    pub registry: TestRegistry,
    pub baton: Baton,
    settings: Settings,
    real_signatures: bool,
}

impl World {
    /// dev (auto, pull requests) → staging (auto).
    pub async fn start() -> World {
        World::start_with("pull-request", "auto").await
    }

    /// dev's PRs are opened but wait for an approval: they stay open, for tests about PRs.
    pub async fn start_manual() -> World {
        World::start_with("pull-request", "manual").await
    }

    pub async fn start_with(dev_write: &str, dev_promotion: &str) -> World {
        let (write, promotion) = (dev_write.to_string(), dev_promotion.to_string());
        World::start_custom(move |host| pipeline_yaml(host, &write, &promotion), true).await
    }

    /// A world with any pipeline; `webhooks: false` means baton hears nothing (no GitHub
    /// webhooks, no registry notifications): only `reconcile` can find out what happened.
    pub async fn start_custom(pipeline: impl Fn(&str) -> String, webhooks: bool) -> World {
        World::build(pipeline, webhooks, None, |_| {}).await
    }

    /// A world whose baton verifies cosign signatures for real, with `public_key_pem` as the
    /// repository's `.baton/keys/deploy.pub`.
    pub async fn start_signed(public_key_pem: &str) -> World {
        World::start_signed_with(public_key_pem, "manual", |_| {}).await
    }

    /// [`World::start_signed`] with baton's settings changed by `tweak` and dev's promotion `dev_promotion` (e.g. a
    /// longer wait for late signatures, `auto`).
    pub async fn start_signed_with(
        public_key_pem: &str,
        dev_promotion: &str,
        tweak: impl FnOnce(&mut Settings),
    ) -> World {
        let build = |host: &str| pipeline_yaml(host, "pull-request", dev_promotion);
        World::build(build, true, Some(public_key_pem), tweak).await
    }

    async fn build(
        pipeline: impl Fn(&str) -> String,
        webhooks: bool,
        key: Option<&str>,
        tweak: impl FnOnce(&mut Settings),
    ) -> World {
        World::build_with_files(pipeline, webhooks, key, tweak, |_| vec![]).await
    }

    /// A world whose baton verifies signatures for real with `public_key_pem`, with any pipeline
    /// and the repository's files replaced or added by `files` (given the registry's host);
    /// `webhooks: false`: baton hears nothing, only `reconcile` finds out.
    pub async fn start_signed_files(
        public_key_pem: &str,
        pipeline: impl Fn(&str) -> String,
        files: impl Fn(&str) -> Vec<(String, String)>,
        webhooks: bool,
    ) -> World {
        World::build_with_files(pipeline, webhooks, Some(public_key_pem), |_| {}, files).await
    }

    async fn build_with_files(
        pipeline: impl Fn(&str) -> String,
        webhooks: bool,
        key: Option<&str>,
        tweak: impl FnOnce(&mut Settings),
        files: impl Fn(&str) -> Vec<(String, String)>,
    ) -> World {
        // `RUST_LOG=baton=debug cargo test …` shows what baton did.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let gh = FakeGitHub::start().await;
        gh.set_app(APP_ID, "baton");
        gh.set_request_validator(validate_request);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let baton_url = format!("http://{}", listener.local_addr().unwrap());
        let notify = webhooks.then(|| (format!("{baton_url}/webhooks/registry"), REGISTRY_TOKEN.to_string()));
        let registry = TestRegistry::start(notify).await;
        let host = registry.host();
        let pipeline = pipeline(&host);
        let mut repo_files: Vec<(&str, &str)> = vec![
            (".baton.yaml", &pipeline),
            (".baton/keys/deploy.pub", key.unwrap_or("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")),
            ("clusters/dev/myapp.yaml", DEV_POINTER),
            ("clusters/staging/values.yaml", STAGING_VALUES),
        ];
        let extra = files(&host);
        for (path, text) in &extra {
            repo_files.retain(|(p, _)| p != path);
            repo_files.push((path, text));
        }
        gh.add_repo(REPO, "main", &repo_files);
        if webhooks {
            gh.set_webhook_target(&format!("{baton_url}/webhooks/github"), SECRET);
        }
        let mut settings = settings(&gh.url(), Some(&host));
        tweak(&mut settings);
        World::from_parts(gh, registry, listener, settings, key.is_some()).await
    }

    /// A world around a fake GitHub and registry set up by the caller; baton starts on
    /// `listener` with `settings`.
    pub async fn from_parts(
        gh: FakeGitHub,
        registry: TestRegistry,
        listener: tokio::net::TcpListener,
        settings: Settings,
        real_signatures: bool,
    ) -> World {
        let baton = Baton::start_verifying(listener, settings.clone(), real_signatures).await;
        World { gh, registry, baton, settings, real_signatures }
    }

    /// Stops baton (gracefully: it drains its queue, its timers are lost) and starts a new one
    /// on the same address with the same settings, as a restart does.
    pub async fn restart_baton(&mut self) {
        let addr = self.baton.running.as_ref().expect("running").addr;
        self.baton.stop().await;
        let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        self.baton = Baton::start_verifying(listener, self.settings.clone(), self.real_signatures).await;
    }

    pub async fn push(&self, tag: &str) -> String {
        self.registry
            .push_artifact(
                "deployments/myapp",
                tag,
                format!("manifests of {tag}").as_bytes(),
                &[
                    ("org.opencontainers.image.revision", "0123456789abcdef0123456789abcdef01234567"),
                    ("org.opencontainers.image.source", "https://github.com/org/myapp"),
                ],
            )
            .await
    }

    /// Waits until everything sent has been handled: the registry delivered every notification,
    /// the fake GitHub has every webhook answered, and every baton (this world's and `others`)
    /// finished every job it accepted — checked in that order, then the registry's and the
    /// fake's counts are checked unchanged, so nothing is in flight between them. No quiet
    /// period: it returns as soon as that state is reached (30 s at most).
    pub async fn settle_with(&self, others: &[&Baton]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (events, pending) = self.registry.notifications().await;
            let sent = self.gh.deliveries().len();
            if pending == 0 && self.gh.wait_deliveries_idle(Duration::ZERO).await {
                // A wait for a late signature or tag is in flight too (soaks are not: they end
                // when a test moves the clock).
                let idle = [&self.baton]
                    .into_iter()
                    .chain(others.iter().copied())
                    .all(|b| b.queue_depth() == 0 && b.engine.scheduler.pending_pushes() == 0);
                if idle
                    && self.gh.wait_deliveries_idle(Duration::ZERO).await
                    && self.gh.deliveries().len() == sent
                    && self.registry.notifications().await == (events, 0)
                {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "the world did not settle within 30s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// [`World::settle_with`] this world's baton alone.
    pub async fn settle(&self) {
        self.settle_with(&[]).await
    }

    /// Waits for `cond` on the fake GitHub (30 s).
    pub async fn until(&self, what: &str, cond: impl Fn(&FakeGitHub) -> bool) {
        assert!(self.gh.wait_until(Duration::from_secs(30), cond).await, "timed out waiting for: {what}");
    }

    /// Moves baton's clock forward.
    pub fn advance(&self, by: Duration) {
        self.baton.clock_offset.fetch_add(by.as_secs() as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// The pointer a stage's file names on main, as `tag@digest`.
    pub fn running(&self, file: &str, format: baton::pointer::Format) -> String {
        let text = self.gh.file(REPO, "main", file).expect("pointer file");
        baton::pointer::get(&text, format, &baton::pointer::Selector::default()).unwrap().to_string()
    }

    /// The open PR on baton's branch for `stage`.
    pub fn open_pr(&self, stage: &str) -> Option<super::fake_github::Pull> {
        let branch = format!("baton/{stage}/myapp");
        self.gh.pulls(REPO).into_iter().find(|p| p.state == "open" && p.head_ref == branch)
    }

    /// All PRs ever opened on baton's branch for `stage`.
    pub fn prs(&self, stage: &str) -> Vec<super::fake_github::Pull> {
        let branch = format!("baton/{stage}/myapp");
        self.gh.pulls(REPO).into_iter().filter(|p| p.head_ref == branch).collect()
    }

    /// A human's pull request changing `files` on a new branch; returns (number, head sha).
    pub async fn human_pr(&self, branch: &str, files: &[(&str, Option<&str>)]) -> (u64, String) {
        let sha = self.gh.push_commit(REPO, branch, "alice", "change a pointer by hand", files).await;
        let n = self.gh.open_pr(REPO, "alice", branch, "main", "by hand", "").await;
        (n, sha)
    }

    /// Waits for the completed `baton/policy` check on `sha`.
    pub async fn policy(&self, sha: &str) -> super::fake_github::CheckRun {
        self.until("a completed baton/policy", |gh| {
            gh.check_run(REPO, sha, "baton/policy").is_some_and(|c| c.status == "completed")
        })
        .await;
        self.gh.check_run(REPO, sha, "baton/policy").unwrap()
    }

    /// The staging values file set to `tag`/`digest` (through baton's own pointer editor).
    pub fn staging_values(tag: &str, digest: &str) -> String {
        let sel = baton::pointer::Selector::default();
        baton::pointer::set(
            STAGING_VALUES,
            baton::pointer::Format::HelmValues,
            &sel,
            &tag.parse().unwrap(),
            &digest.parse().unwrap(),
        )
        .unwrap()
    }

    /// Asserts that baton made no request GitHub's OpenAPI description would reject.
    pub fn assert_no_violations(&self) {
        let v = self.gh.violations();
        assert!(v.is_empty(), "requests GitHub would reject:\n{}", v.join("\n"));
    }
}

/// An organisation for scale tests: the App installed on `REPO` (with the standard pipeline) and
/// on `others` repositories without one, in discovery mode (`github.repositories` empty, as
/// "install on all repositories" gives). Returns the parts; the caller starts baton on the
/// listener with the settings (adjusted as it needs).
pub async fn org_parts(
    others: impl IntoIterator<Item = String>,
) -> (FakeGitHub, TestRegistry, tokio::net::TcpListener, Settings) {
    let gh = FakeGitHub::start().await;
    gh.set_app(APP_ID, "baton");
    gh.set_request_validator(validate_request);
    let registry = TestRegistry::start(None).await;
    let host = registry.host();
    gh.add_repo(
        REPO,
        "main",
        &[
            (".baton.yaml", &pipeline_yaml(&host, "pull-request", "manual")),
            ("clusters/dev/myapp.yaml", DEV_POINTER),
            ("clusters/staging/values.yaml", STAGING_VALUES),
        ],
    );
    for name in others {
        gh.add_repo(&name, "main", &[("README.md", "an application\n")]);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    gh.set_webhook_target(&format!("http://{}/webhooks/github", listener.local_addr().unwrap()), SECRET);
    let mut s = settings(&gh.url(), Some(&host));
    s.github.repositories = vec![]; // "install on all repositories"
    (gh, registry, listener, s)
}
