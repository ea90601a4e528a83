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
use baton::registry::{OciRegistry, Registry, RegistryError, RegistrySettings};
use baton::types::{Digest, ImageName, Tag};
use registry::TestRegistry;

const REVISION: &str = "org.opencontainers.image.revision";
const SOURCE: &str = "org.opencontainers.image.source";

fn settings(hosts: &[&str], insecure: &[&str]) -> RegistrySettings {
    RegistrySettings {
        hosts: hosts.iter().map(|s| s.to_string()).collect(),
        insecure_hosts: insecure.iter().map(|s| s.to_string()).collect(),
        auth_file: None,
        timeout_secs: 5,
    }
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
