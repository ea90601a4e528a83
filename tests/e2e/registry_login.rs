//! `serve` against a registry that wants a login (Docker Distribution's `auth.token` mode with
//! the harness's token server): credentials from `registry.auth_file`, a real signature
//! verified through the same login, and a bump PR.

use crate::support::fake_github::FakeGitHub;
use crate::support::registry::{self, Login, TestRegistry, TokenServer};
use crate::support::signing::{payload, push_signatures, Key, SigLayer};
use crate::support::world::*;

const IMAGE_REPO: &str = "deployments/myapp";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_repository_behind_token_auth_gets_its_bump_pr() {
    use base64::Engine as _;
    // No repository is public: every read needs the credentials.
    let tokens = TokenServer::start(&[]);
    let gh = FakeGitHub::start().await;
    gh.set_app(APP_ID, "baton");
    gh.set_request_validator(validate_request);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let baton_url = format!("http://{}", listener.local_addr().unwrap());
    let notify = Some((format!("{baton_url}/webhooks/registry"), REGISTRY_TOKEN.to_string()));
    let reg = TestRegistry::start_with(notify, Login::Token(tokens.clone())).await;
    let host = reg.host();
    let key = Key::generate();
    gh.add_repo(
        REPO,
        "main",
        &[
            (".baton.yaml", &pipeline_yaml(&host, "pull-request", "manual")),
            (".baton/keys/deploy.pub", &key.public_pem()),
            ("clusters/dev/myapp.yaml", DEV_POINTER),
            ("clusters/staging/values.yaml", STAGING_VALUES),
        ],
    );
    gh.set_webhook_target(&format!("{baton_url}/webhooks/github"), SECRET);

    let dir = tempfile::tempdir().unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", registry::USERNAME, registry::PASSWORD));
    let auth_file = dir.path().join("config.json");
    std::fs::write(&auth_file, format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)).unwrap();
    let mut settings = settings(&gh.url(), Some(&host));
    // The token service runs on its own port: listed so that credentials may be sent to it.
    settings.registry.hosts.push(tokens.host());
    settings.registry.insecure_hosts.push(tokens.host());
    settings.registry.auth_file = Some(auth_file);
    let w = World::from_parts(gh, reg, listener, settings, true).await;

    let digest = w.push("0.5.1").await;
    let image = format!("{host}/{IMAGE_REPO}");
    push_signatures(&w.registry, IMAGE_REPO, &digest, &[SigLayer::signed(&key, payload(&image, &digest))]).await;
    w.until("a PR for the signed version", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.5.1 to dev"))
        .await;
    let pr = w.prs("dev").pop().unwrap();
    let body = pr.body.clone().unwrap_or_default();
    assert!(body.contains(&digest), "{body}");
    assert!(body.contains("| Signature | verified (key .baton/keys/deploy.pub) |"), "{body}");

    // Baton logged in with the auth file's user; nothing was refused, nothing went anonymous.
    let requests = tokens.requests.lock().unwrap().clone();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.login == "basic" && r.status == 200), "{requests:#?}");
    w.assert_no_violations();
}
