//! The real registry client against a real Docker Distribution registry (and, for the failure
//! modes a real registry will not produce, a small fake one).

#[path = "support/registry.rs"]
mod registry;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use baton::registry::{Caller, ClientOptions, CredentialChain, OciRegistry, Registry, RegistryError, RegistrySettings};
use baton::types::{Digest, ImageName, Tag};
use registry::{Login, TestRegistry, TokenServer};

const REVISION: &str = "org.opencontainers.image.revision";
const SOURCE: &str = "org.opencontainers.image.source";

fn settings(hosts: &[&str], insecure: &[&str]) -> RegistrySettings {
    RegistrySettings {
        hosts: hosts.iter().map(|s| s.to_string()).collect(),
        insecure_hosts: insecure.iter().map(|s| s.to_string()).collect(),
        auth_file: None,
        timeout_secs: 5,
        deadline_secs: 30,
    }
}

/// The client `serve` builds, with `registry.auth_file` = a Docker config holding `auths_json`
/// (no Docker config of the machine's user is read).
fn serve_client(settings: &RegistrySettings, dir: &std::path::Path, auths_json: Option<&str>) -> OciRegistry {
    let auth_file = auths_json.map(|json| {
        let path = dir.join(format!("auth-{}.json", Digest::of(json.as_bytes()).hex()));
        std::fs::write(&path, json).unwrap();
        path
    });
    let settings = RegistrySettings { auth_file: auth_file.clone(), ..settings.clone() };
    let chain = CredentialChain::load(None, auth_file.as_deref(), None).unwrap();
    OciRegistry::with_chain(&settings, chain, ClientOptions { caller: Caller::Serve, overall: None }).unwrap()
}

fn basic_auths(host: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)
}

/// Ports and durations vary from run to run.
fn redact(msg: &str) -> String {
    redact_hosts(msg, &[])
}

/// Like [`redact`], naming the given hosts.
fn redact_hosts(msg: &str, named: &[(&str, &str)]) -> String {
    let mut msg = msg.to_string();
    for (host, name) in named {
        msg = msg.replace(host, name);
    }
    let msg = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap().replace_all(&msg, "[host]");
    let msg =
        regex::Regex::new(r"/tmp/\.tmp[A-Za-z0-9]+/auth-[0-9a-f]+\.json").unwrap().replace_all(&msg, "[auth-file]");
    let msg = regex::Regex::new(r"after \d+\.\ds").unwrap().replace_all(&msg, "after [time]");
    msg.into_owned()
}

/// Everything `tracing` emits while `f` runs, at every level and from every crate.
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything `tracing` emits in this test binary from the first call on, at every level and
/// from every crate. (One global subscriber: thread-local ones miss events when tests run in
/// parallel, because tracing caches per call site whether anyone listens.)
fn capture_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    static BUF: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Captured(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        buf
    })
    .clone()
}

fn image(host: &str, path: &str) -> ImageName {
    format!("{host}/{path}").parse().unwrap()
}

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

/// Fails the test instead of hanging.
async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut).await.unwrap_or_else(|_| panic!("{what} took more than 60s"))
}

#[tokio::test]
async fn resolves_pushed_tag_to_its_manifest_digest() {
    let reg = TestRegistry::start(None).await;
    let host = reg.host();
    let digest = reg
        .push_artifact(
            "deployments/myapp",
            "0.5.123",
            b"rendered manifests",
            &[(REVISION, "0123456789abcdef"), (SOURCE, "https://github.com/org/app")],
        )
        .await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let img = image(&host, "deployments/myapp");

    let resolved = bounded("resolve", client.resolve(&img, &tag("0.5.123"))).await.unwrap();
    assert_eq!(resolved.digest.as_str(), digest);
    assert_eq!(resolved.media_type.as_deref(), Some(registry::OCI_MANIFEST_TYPE));
    assert_eq!(resolved.annotations.get(REVISION).map(String::as_str), Some("0123456789abcdef"));
    assert_eq!(resolved.annotations.get(SOURCE).map(String::as_str), Some("https://github.com/org/app"));
    assert_eq!(resolved.annotations.len(), 2);

    // The same manifest by digest, and its layer as a blob.
    let m = client.fetch_manifest(&img, &digest).await.unwrap();
    assert_eq!(m.digest.as_str(), digest);
    assert_eq!(Digest::of(&m.bytes).as_str(), digest);
    let layer: Digest = registry::sha256(b"rendered manifests").parse().unwrap();
    assert_eq!(client.fetch_blob(&img, &layer).await.unwrap(), b"rendered manifests");

    // A blob that does not exist, a manifest digest that does not exist.
    let missing = Digest::of(b"nothing");
    assert!(matches!(client.fetch_blob(&img, &missing).await, Err(RegistryError::Invalid { .. })));
    assert!(matches!(client.fetch_manifest(&img, missing.as_str()).await, Err(RegistryError::TagNotFound { .. })));
}

#[tokio::test]
async fn missing_tag_and_missing_repository() {
    let reg = TestRegistry::start(None).await;
    let host = reg.host();
    reg.push_artifact("app", "1.0.0", b"x", &[]).await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();

    let err = client.resolve(&image(&host, "app"), &tag("9.9.9")).await.unwrap_err();
    assert!(matches!(&err, RegistryError::TagNotFound { tag, .. } if tag == "9.9.9"), "{err:?}");
    let err = client.resolve(&image(&host, "nope"), &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::TagNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn list_tags_returns_pushed_tags() {
    let reg = TestRegistry::start(None).await;
    let host = reg.host();
    for t in ["0.1.0", "0.2.0", "latest", "v1.0.0-rc.1"] {
        reg.push_artifact("org/app", t, t.as_bytes(), &[]).await;
    }
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let mut tags: Vec<String> =
        client.list_tags(&image(&host, "org/app")).await.unwrap().into_iter().map(|t| t.to_string()).collect();
    tags.sort();
    assert_eq!(tags, ["0.1.0", "0.2.0", "latest", "v1.0.0-rc.1"]);
}

#[tokio::test]
async fn host_not_in_settings_is_never_contacted() {
    let reg = TestRegistry::start(None).await;
    let host = reg.host();
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();

    // A listener on a port baton was not told about: it must see no connection at all.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_host = trap.local_addr().unwrap().to_string();
    let img = image(&trap_host, "app");
    let started = Instant::now();
    let err = client.resolve(&img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(&err, RegistryError::NotAllowed(h) if *h == trap_host), "{err:?}");
    assert!(matches!(client.list_tags(&img).await, Err(RegistryError::NotAllowed(_))));
    let d = Digest::of(b"x");
    assert!(matches!(client.fetch_blob(&img, &d).await, Err(RegistryError::NotAllowed(_))));
    assert!(matches!(client.referrers(&img, &d, None).await, Err(RegistryError::NotAllowed(_))));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), trap.accept()).await.is_err(),
        "baton connected to a host that is not in registry.hosts"
    );
    // An unroutable address is refused just as fast.
    let err = client.resolve(&image("10.255.255.1:5000", "app"), &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotAllowed(_)));
    assert!(started.elapsed() < Duration::from_secs(1));
    // The error message tells the user what to do.
    assert!(err.to_string().contains("registry.hosts"), "{err}");
}

#[tokio::test]
async fn https_to_a_plain_http_registry_fails_clearly() {
    let reg = TestRegistry::start(None).await;
    let host = reg.host();
    reg.push_artifact("app", "1.0.0", b"x", &[]).await;
    let client = OciRegistry::new(&settings(&[&host], &[])).unwrap();
    let started = Instant::now();
    let err = bounded("resolve over https", client.resolve(&image(&host, "app"), &tag("1.0.0"))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    match &err {
        RegistryError::Unreachable { host: h, reason } => {
            assert_eq!(h, &host);
            assert!(reason.contains("insecure_hosts"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    println!("https to http: {err}");
    let tls_detail = regex::Regex::new(r"could not be reached: .*\(the TLS").unwrap();
    let text = tls_detail.replace(&redact(&err.to_string()), "could not be reached: [tls error] (the TLS").into_owned();
    insta::assert_snapshot!("serve_plain_http", text);
}

#[tokio::test]
async fn unreachable_registry() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = format!("127.0.0.1:{port}");
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let err = bounded("resolve", client.resolve(&image(&host, "app"), &tag("1.0.0"))).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn referrers_on_a_registry_without_the_api() {
    let reg = TestRegistry::start(None).await;
    let host = reg.host();
    let subject = reg.push_artifact("app", "1.0.0", b"x", &[]).await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let img = image(&host, "app");
    let subject: Digest = subject.parse().unwrap();

    // Distribution 2.8 has no referrers API and no tag-schema index yet: empty.
    assert!(client.referrers(&img, &subject, None).await.unwrap().is_empty());

    // The referrers tag schema (`sha256-<hex>`, an OCI index), as cosign/oras write it.
    let sig_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let sig = reg.push_artifact("app", "sig-holder", b"signature bundle", &[]).await;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": registry::OCI_INDEX_TYPE,
        "manifests": [
            {"mediaType": registry::OCI_MANIFEST_TYPE, "digest": sig, "size": 300,
             "artifactType": sig_type, "annotations": {"dev.sigstore.bundle.predicateType": "x"}},
            {"mediaType": registry::OCI_MANIFEST_TYPE, "digest": subject.as_str(), "size": 300,
             "artifactType": "application/spdx+json"}
        ]
    });
    let tag_schema = format!("sha256-{}", subject.hex());
    reg.push_manifest("app", &tag_schema, registry::OCI_INDEX_TYPE, &serde_json::to_vec(&index).unwrap()).await;
    let all = client.referrers(&img, &subject, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let sigs = client.referrers(&img, &subject, Some(sig_type)).await.unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].digest.as_str(), sig);
    assert_eq!(sigs[0].artifact_type.as_deref(), Some(sig_type));
    assert_eq!(sigs[0].annotations["dev.sigstore.bundle.predicateType"], "x");
}

// ---------------------------------------------------------------------------------------------
// Registry notifications

#[derive(Clone)]
struct Received {
    tx: tokio::sync::mpsc::UnboundedSender<(HeaderMap, Bytes)>,
}

async fn receive(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = r.tx.send((headers, body));
    StatusCode::OK
}

#[tokio::test]
async fn push_notification_reaches_the_endpoint() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let app = Router::new().route("/webhooks/registry", post(receive)).with_state(Received { tx });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/registry", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let token = "test-token-0123456789";
    let reg = TestRegistry::start(Some((url, token.to_string()))).await;
    let digest = reg.push_artifact("deployments/myapp", "0.5.123", b"rendered", &[(REVISION, "abc")]).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut all = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some((headers, body))) = tokio::time::timeout(left, rx.recv()).await else {
            panic!("no push notification for the tag within 30s; received: {:#?}\nregistry log:\n{}", all, reg.log());
        };
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(auth, format!("Bearer {token}"));
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let envelope: serde_json::Value = serde_json::from_slice(&body).expect("envelope is JSON");
        all.push((content_type.clone(), envelope.clone()));
        let events = envelope["events"].as_array().expect("events[]");
        let hit = events.iter().any(|e| {
            e["action"] == "push"
                && e["target"]["tag"] == "0.5.123"
                && e["target"]["repository"] == "deployments/myapp"
                && e["target"]["digest"] == digest.as_str()
        });
        if hit {
            break (content_type, envelope, body);
        }
    };
    let (content_type, envelope, body) = found;
    assert_eq!(content_type, "application/vnd.docker.distribution.events.v1+json");
    println!("envelopes before the tag push: {}", all.len() - 1);
    for (ct, e) in &all {
        println!("{ct}: {}", serde_json::to_string(e).unwrap());
    }
    if std::env::var_os("BATON_WRITE_FIXTURES").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/registry/distribution-push.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let pretty: serde_json::Value = serde_json::from_slice(&body).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&pretty).unwrap() + "\n").unwrap();
        println!("wrote {}", path.display());
    }
    assert_eq!(envelope["events"].as_array().map(Vec::len), Some(1));

    // Baton's own reads show up as `pull` events, which intake must ignore.
    let host = reg.host();
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    client.resolve(&image(&host, "deployments/myapp"), &tag("0.5.123")).await.unwrap();
    let pull = loop {
        let Ok(Some((_, body))) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await else {
            panic!("no pull notification within 30s");
        };
        let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if let Some(e) = envelope["events"].as_array().and_then(|es| es.iter().find(|e| e["action"] == "pull")) {
            break e.clone();
        }
    };
    println!("pull event: {pull}");
    assert_eq!(pull["target"]["repository"], "deployments/myapp");
    assert_eq!(pull["target"]["digest"], digest.as_str());
}

// ---------------------------------------------------------------------------------------------
// A fake registry for what a real one will not do

#[derive(Clone)]
struct Fake {
    manifest_calls: Arc<AtomicUsize>,
    /// How many manifest requests answer 503 first.
    fail_first: usize,
    body: &'static [u8],
    /// Docker-Content-Digest to send (None: the right one).
    header_digest: Option<String>,
}

async fn fake_v2() -> impl IntoResponse {
    (StatusCode::OK, "{}")
}

async fn fake_manifest(State(f): State<Fake>) -> axum::response::Response {
    let n = f.manifest_calls.fetch_add(1, Ordering::SeqCst);
    if n < f.fail_first {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    let digest = f.header_digest.clone().unwrap_or_else(|| registry::sha256(f.body));
    (
        StatusCode::OK,
        [("content-type", registry::OCI_MANIFEST_TYPE.to_string()), ("docker-content-digest", digest)],
        f.body,
    )
        .into_response()
}

async fn start_fake(f: Fake) -> String {
    let app = Router::new()
        .route("/v2/", get(fake_v2))
        .route("/v2/app/manifests/{reference}", get(fake_manifest))
        .with_state(f);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    host
}

const GOOD_MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"a":"b"}}"#;

#[tokio::test]
async fn retries_5xx_then_succeeds() {
    let calls = Arc::new(AtomicUsize::new(0));
    let host =
        start_fake(Fake { manifest_calls: calls.clone(), fail_first: 2, body: GOOD_MANIFEST, header_digest: None })
            .await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let r = bounded("resolve", client.resolve(&image(&host, "app"), &tag("1.0.0"))).await.unwrap();
    assert_eq!(r.digest, Digest::of(GOOD_MANIFEST));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn gives_up_after_three_attempts() {
    let calls = Arc::new(AtomicUsize::new(0));
    let host = start_fake(Fake {
        manifest_calls: calls.clone(),
        fail_first: usize::MAX,
        body: GOOD_MANIFEST,
        header_digest: None,
    })
    .await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let err = bounded("resolve", client.resolve(&image(&host, "app"), &tag("1.0.0"))).await.unwrap_err();
    assert!(matches!(&err, RegistryError::Unreachable { reason, .. } if reason.contains("503")), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_lying_digest_header_is_an_error() {
    let host = start_fake(Fake {
        manifest_calls: Arc::default(),
        fail_first: 0,
        body: GOOD_MANIFEST,
        header_digest: Some(format!("sha256:{}", "0".repeat(64))),
    })
    .await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let err = client.resolve(&image(&host, "app"), &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn garbage_is_invalid() {
    let host = start_fake(Fake {
        manifest_calls: Arc::default(),
        fail_first: 0,
        body: b"<html>hello</html>",
        header_digest: None,
    })
    .await;
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let err = client.resolve(&image(&host, "app"), &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::Invalid { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Logins: htpasswd Basic auth and Docker Distribution's token auth, as `serve` meets them

#[tokio::test]
async fn htpasswd_basic_auth() {
    let logs = capture_logs();
    let login = Login::Htpasswd { username: registry::USERNAME.into(), password: registry::PASSWORD.into() };
    let reg = TestRegistry::start_with(None, login).await;
    let host = reg.host();
    let digest = reg.push_artifact("org/app", "1.0.0", b"private manifests", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&[&host], &[&host]);
    let img = image(&host, "org/app");

    let client = serve_client(&s, dir.path(), Some(&basic_auths(&host, registry::USERNAME, registry::PASSWORD)));
    let r = bounded("resolve", client.resolve(&img, &tag("1.0.0"))).await.unwrap();
    assert_eq!(r.digest.as_str(), digest);
    let layer: Digest = registry::sha256(b"private manifests").parse().unwrap();
    assert_eq!(client.fetch_blob(&img, &layer).await.unwrap(), b"private manifests");
    assert_eq!(client.list_tags(&img).await.unwrap().len(), 1);

    let mut messages = Vec::new();
    let anonymous = serve_client(&s, dir.path(), None);
    let err = anonymous.resolve(&img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::CredentialsWanted { .. }), "{err:?}");
    messages.push(format!("anonymous: {}", redact(&err.to_string())));
    let wrong = serve_client(&s, dir.path(), Some(&basic_auths(&host, registry::USERNAME, "wrong-password")));
    let err = wrong.resolve(&img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::CredentialsRefused { .. }), "{err:?}");
    messages.push(format!("wrong password: {}", redact(&err.to_string())));
    insta::assert_snapshot!("serve_htpasswd_messages", messages.join("\n"));

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("registry credentials"), "the capture saw baton's debug lines:\n{logs}");
    assert!(!logs.contains(registry::PASSWORD), "the password reached a log line:\n{logs}");
}

#[tokio::test]
async fn token_auth_public_and_private_repositories() {
    let logs = capture_logs();
    let tokens = TokenServer::start(&["public/app"]);
    let reg = TestRegistry::start_with(None, Login::Token(tokens.clone())).await;
    let host = reg.host();
    let public = reg.push_artifact("public/app", "1.0.0", b"public", &[]).await;
    let private = reg.push_artifact("private/app", "1.0.0", b"private", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let th = tokens.host();
    // The token service is on another port: listed in registry.hosts so credentials may go there.
    let s = settings(&[&host, &th], &[&host, &th]);
    let (public_img, private_img) = (image(&host, "public/app"), image(&host, "private/app"));

    // Anonymous: the public repository through an anonymous token, the private one refused.
    let anonymous = serve_client(&s, dir.path(), None);
    assert_eq!(
        bounded("resolve", anonymous.resolve(&public_img, &tag("1.0.0"))).await.unwrap().digest.as_str(),
        public
    );
    let layer: Digest = registry::sha256(b"public").parse().unwrap();
    assert_eq!(anonymous.fetch_blob(&public_img, &layer).await.unwrap(), b"public");
    let err = anonymous.resolve(&private_img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::CredentialsWanted { .. }), "{err:?}");
    let names = [(host.as_str(), "[registry]"), (th.as_str(), "[token-service]")];
    let redact = |m: &str| redact_hosts(m, &names);
    let mut messages = vec![format!("anonymous, private repository: {}", redact(&err.to_string()))];

    // User and password from registry.auth_file: both repositories; the token is reused.
    let client = serve_client(&s, dir.path(), Some(&basic_auths(&host, registry::USERNAME, registry::PASSWORD)));
    assert_eq!(client.resolve(&private_img, &tag("1.0.0")).await.unwrap().digest.as_str(), private);
    assert_eq!(client.resolve(&public_img, &tag("1.0.0")).await.unwrap().digest.as_str(), public);
    let before = tokens.requests.lock().unwrap().len();
    let layer: Digest = registry::sha256(b"private").parse().unwrap();
    assert_eq!(client.fetch_blob(&private_img, &layer).await.unwrap(), b"private");
    assert_eq!(client.list_tags(&private_img).await.unwrap().len(), 1);
    assert_eq!(tokens.requests.lock().unwrap().len(), before, "a cached token is reused");

    // An identity token (OAuth2 refresh token) from the auth file.
    let identity = format!(r#"{{"auths": {{"{host}": {{"identitytoken": "{}"}}}}}}"#, registry::REFRESH_TOKEN);
    let client = serve_client(&s, dir.path(), Some(&identity));
    assert_eq!(client.resolve(&private_img, &tag("1.0.0")).await.unwrap().digest.as_str(), private);

    // A wrong password: the token service refuses it.
    let wrong = serve_client(&s, dir.path(), Some(&basic_auths(&host, registry::USERNAME, "wrong-password")));
    let err = wrong.resolve(&private_img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::CredentialsRefused { .. }), "{err:?}");
    messages.push(format!("wrong password: {}", redact(&err.to_string())));

    // The token service is not in registry.hosts: the credentials are not sent there.
    let sent_before = tokens.requests.lock().unwrap().iter().filter(|r| r.login != "anonymous").count();
    let narrow = settings(&[&host], &[&host]);
    let client = serve_client(&narrow, dir.path(), Some(&basic_auths(&host, registry::USERNAME, registry::PASSWORD)));
    let err = client.resolve(&private_img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::CredentialsWithheld { .. }), "{err:?}");
    messages.push(format!("token service not in registry.hosts: {}", redact(&err.to_string())));
    // The token service is listed but not as plain HTTP: not sent either.
    let no_http = settings(&[&host, &th], &[&host]);
    let client = serve_client(&no_http, dir.path(), Some(&basic_auths(&host, registry::USERNAME, registry::PASSWORD)));
    let err = client.resolve(&private_img, &tag("1.0.0")).await.unwrap_err();
    assert!(matches!(err, RegistryError::CredentialsWithheld { plain_http: true, .. }), "{err:?}");
    messages.push(format!("token service over plain HTTP: {}", redact(&err.to_string())));
    let sent_after = tokens.requests.lock().unwrap().iter().filter(|r| r.login != "anonymous").count();
    assert_eq!(sent_before, sent_after, "credentials reached a token service outside registry.hosts");
    // …while anonymous pulls of public repositories still work there.
    let anonymous = serve_client(&narrow, dir.path(), None);
    assert_eq!(anonymous.resolve(&public_img, &tag("1.0.0")).await.unwrap().digest.as_str(), public);
    insta::assert_snapshot!("serve_token_messages", messages.join("\n"));

    let logins: Vec<String> = tokens
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{} {} {} {}", r.method, r.login, r.scope, r.status))
        .collect();
    insta::assert_snapshot!("token_service_requests", logins.join("\n"));

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("registry credentials"), "the capture saw baton's debug lines:\n{logs}");
    let mut secrets = vec![registry::PASSWORD.to_string(), registry::REFRESH_TOKEN.to_string()];
    secrets.extend(tokens.issued.lock().unwrap().iter().cloned());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached a log line: {secret}\n{logs}");
    }
}

// ---------------------------------------------------------------------------------------------
// Deadlines

#[tokio::test]
async fn a_black_hole_is_bounded_by_the_deadline() {
    let (_hole, host) = registry::black_hole();
    let mut s = settings(&[&host], &[&host]);
    // Per request 1s, whole operation 2s: the third attempt never starts.
    s.timeout_secs = 1;
    s.deadline_secs = 2;
    let client = OciRegistry::new(&s).unwrap();
    let started = Instant::now();
    let err = bounded("resolve", client.resolve(&image(&host, "app"), &tag("1.0.0"))).await.unwrap_err();
    let spent = started.elapsed();
    println!("black hole, timeout 1s, deadline 2s: {err} (measured {spent:?})");
    assert!(spent >= Duration::from_secs(2) && spent < Duration::from_millis(2600), "{spent:?}");
    match &err {
        RegistryError::TimedOut { spent: said, .. } => {
            assert!(
                said.abs_diff(spent) < Duration::from_millis(200),
                "the message states the time spent: {said:?} vs {spent:?}"
            )
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    insta::assert_snapshot!("black_hole_deadline", redact(&err.to_string()));

    // Every attempt runs into the per-request timeout (the deadline is far): three attempts.
    s.deadline_secs = 60;
    let client = OciRegistry::new(&s).unwrap();
    let started = Instant::now();
    let err = bounded("resolve", client.resolve(&image(&host, "app"), &tag("1.0.0"))).await.unwrap_err();
    let spent = started.elapsed();
    println!("black hole, timeout 1s, deadline 60s: {err} (measured {spent:?})");
    assert!(spent >= Duration::from_secs(3) && spent < Duration::from_secs(6), "{spent:?}");
    insta::assert_snapshot!("black_hole_per_request", redact(&err.to_string()));
}

// ---------------------------------------------------------------------------------------------
// Media types, behind the token login

#[tokio::test]
async fn every_common_media_type_resolves_to_the_digest_the_registry_serves() {
    let tokens = TokenServer::start(&["public/app"]);
    let reg = TestRegistry::start_with(None, Login::Token(tokens.clone())).await;
    let host = reg.host();
    let repo = "public/app";
    let oci = reg.push_artifact(repo, "oci", b"oci image", &[]).await;
    let docker = reg.push_docker_image(repo, "docker", b"docker image").await;
    let (oci_index, _) = reg.push_multi_arch(repo, "oci-index", registry::OCI_INDEX_TYPE).await;
    let (docker_list, _) = reg.push_multi_arch(repo, "docker-list", registry::DOCKER_LIST_TYPE).await;
    // Anonymous pulls through the registry's Bearer token flow.
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let img = image(&host, repo);
    for (t, pushed, media_type) in [
        ("oci", &oci, registry::OCI_MANIFEST_TYPE),
        ("docker", &docker, registry::DOCKER_MANIFEST_TYPE),
        ("oci-index", &oci_index, registry::OCI_INDEX_TYPE),
        ("docker-list", &docker_list, registry::DOCKER_LIST_TYPE),
    ] {
        let resolved = bounded("resolve", client.resolve(&img, &tag(t))).await.unwrap();
        let (served, bytes) = reg.get_manifest(repo, t).await;
        assert_eq!(resolved.digest.as_str(), pushed.as_str(), "{t}");
        assert_eq!(resolved.digest.as_str(), served, "{t}: the registry's Docker-Content-Digest");
        assert_eq!(Digest::of(&bytes), resolved.digest, "{t}: the bytes the registry serves");
        assert_eq!(resolved.media_type.as_deref(), Some(media_type), "{t}");
    }
    assert!(tokens.requests.lock().unwrap().iter().all(|r| r.login == "anonymous" && r.status == 200));
}

/// The registry's access-log lines after the first `from`, once one of them contains `last`
/// (the registry writes a line after answering, so the newest may lag the answer a little).
async fn requests_since(reg: &TestRegistry, from: usize, last: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = reg.requests();
        if seen[from..].iter().any(|l| l.contains(last)) {
            return seen[from..].to_vec();
        }
        assert!(Instant::now() < deadline, "no access-log line with {last:?} within 10s: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Registry requests (and token service requests) per operation, measured on the real registry.
#[tokio::test]
async fn requests_per_operation() {
    let tokens = TokenServer::start(&["public/app"]);
    let reg = TestRegistry::start_with(None, Login::Token(tokens.clone())).await;
    let host = reg.host();
    reg.push_artifact("public/app", "1.0.0", b"one", &[]).await;
    reg.push_artifact("public/app", "2.0.0", b"two", &[]).await;
    let open = TestRegistry::start(None).await;
    open.push_artifact("app", "1.0.0", b"one", &[]).await;
    open.push_artifact("app", "2.0.0", b"two", &[]).await;
    // Wait for the pushes' own lines.
    requests_since(&reg, 0, "PUT /v2/public/app/manifests/2.0.0").await;
    requests_since(&open, 0, "PUT /v2/app/manifests/2.0.0").await;

    let token_count = || tokens.requests.lock().unwrap().len();
    let mut rows = Vec::new();
    let client = OciRegistry::new(&settings(&[&host], &[&host])).unwrap();
    let img = image(&host, "public/app");
    let open_host = open.host();
    let open_client = OciRegistry::new(&settings(&[&open_host], &[&open_host])).unwrap();
    let open_img = image(&open_host, "app");
    for (name, r, last) in [
        ("token auth, first resolution", &reg, "manifests/1.0.0"),
        ("token auth, next resolution (token reused)", &reg, "manifests/2.0.0"),
        ("token auth, tag listing", &reg, "tags/list"),
        ("no login, first resolution", &open, "manifests/1.0.0"),
        ("no login, next resolution", &open, "manifests/2.0.0"),
    ] {
        let (from, tokens_before) = (r.requests().len(), token_count());
        match last {
            "tags/list" => drop(client.list_tags(&img).await.unwrap()),
            _ if name.starts_with("token") => drop(client.resolve(&img, &tag(&last[10..])).await.unwrap()),
            _ => drop(open_client.resolve(&open_img, &tag(&last[10..])).await.unwrap()),
        }
        let new = requests_since(r, from, last).await;
        let token = token_count() - tokens_before;
        rows.push(format!("{name}: {} registry request(s) {new:?}, {token} token request(s)", new.len()));
    }
    println!("{}", rows.join("\n"));
    insta::assert_snapshot!("requests_per_operation", rows.join("\n"));
}
