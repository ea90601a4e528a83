//! A real Docker Distribution registry (`/usr/bin/docker-registry`) per test, on a free
//! 127.0.0.1 port with its own temporary storage, plus plain-HTTP helpers to push content.
//!
//! The registry can require a login ([`Login`]): htpasswd Basic auth (bcrypt hashes, as
//! Distribution's `auth.htpasswd` wants), or Distribution's `auth.token` mode backed by a small
//! token server ([`TokenServer`]) started here: it issues ES256 JWTs whose `x5c` header carries a
//! self-signed certificate that the registry trusts through `rootcertbundle`, granting `pull` on
//! public repositories to anyone and on every repository to the configured user (Basic) or
//! refresh token (OAuth2 `POST`). The harness's own pushes authenticate as an admin.
//!
//! Include it with `#[path = "support/registry.rs"] mod registry;`. Tests that use it FAIL (not
//! skip) when docker-registry is missing.
#![allow(dead_code)]

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest as _;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// Media types used by [`TestRegistry::push_artifact`] (those of a Flux OCI artifact).
pub const ARTIFACT_CONFIG_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
pub const ARTIFACT_LAYER_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
pub const OCI_MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// A running registry; the process is killed when this is dropped.
pub struct TestRegistry {
    child: Child,
    port: u16,
    /// Docker Distribution's debug listener (expvar counters of its notification endpoint).
    debug_port: u16,
    /// Whether a notification endpoint is configured.
    notifying: bool,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    login: Login,
}

/// How the registry wants clients to log in.
#[derive(Clone, Default)]
pub enum Login {
    #[default]
    None,
    /// `auth.htpasswd` with one user.
    Htpasswd { username: String, password: String },
    /// `auth.token` with the given token server.
    Token(Arc<TokenServer>),
}

/// The user the harness creates for [`Login::Htpasswd`] and [`TokenServer`].
pub const USERNAME: &str = "ci-reader";
pub const PASSWORD: &str = "pw-Xq83-unique-secret";
/// The refresh token the token server accepts (an `identitytoken`).
pub const REFRESH_TOKEN: &str = "refresh-7Hh2-unique-secret";

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sha256 digest of some bytes, `sha256:<hex>`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn config_yaml(root: &Path, port: u16, debug_port: u16, notify: Option<&(String, String)>, auth: &str) -> String {
    let mut yaml = format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: baton-test-registry-secret
  debug:
    addr: 127.0.0.1:{debug_port}
{auth}",
        root = yaml_str(&root.display().to_string()),
    );
    if let Some((url, token)) = notify {
        yaml.push_str(&format!(
            "notifications:
  endpoints:
    - name: baton
      url: {url}
      headers:
        Authorization: [{auth}]
      timeout: 1s
      threshold: 3
      backoff: 1s
",
            url = yaml_str(url),
            auth = yaml_str(&format!("Bearer {token}")),
        ));
    }
    yaml
}

impl TestRegistry {
    /// Starts /usr/bin/docker-registry on a free 127.0.0.1 port with a temp storage dir and a
    /// generated config.yml. `notify`: optional (url, bearer token) for the registry's
    /// notification endpoint. Panics when docker-registry is not installed.
    pub async fn start(notify: Option<(String, String)>) -> TestRegistry {
        TestRegistry::start_with(notify, Login::None).await
    }

    /// Like [`TestRegistry::start`], with a login the registry requires.
    pub async fn start_with(notify: Option<(String, String)>, login: Login) -> TestRegistry {
        if !Path::new(REGISTRY_BIN).exists() {
            panic!("docker-registry is not installed: apt-get install -y docker-registry");
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let mut last_log = String::new();
        // The free port may be taken between probing and binding: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let debug_port = free_port();
            let storage = dir.path().join("storage");
            std::fs::create_dir_all(&storage).unwrap();
            let config = dir.path().join("config.yml");
            let auth = auth_yaml(&login, dir.path());
            std::fs::write(&config, config_yaml(&storage, port, debug_port, notify.as_ref(), &auth)).unwrap();
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {REGISTRY_BIN}: {e}"));
            let notifying = notify.is_some();
            let mut reg =
                TestRegistry { child, port, debug_port, notifying, dir, http: http.clone(), login: login.clone() };
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Ok(Some(_status)) = reg.child.try_wait() {
                    last_log = read_log(&log_path);
                    break; // exited: probably the port; retry with another one
                }
                if let Ok(resp) = http.get(format!("{}/v2/", reg.base())).send().await {
                    // With a login, an anonymous GET /v2/ is answered 401 once the registry runs.
                    let up =
                        resp.status().is_success() || (!matches!(login, Login::None) && resp.status().as_u16() == 401);
                    if up {
                        return reg;
                    }
                }
                if Instant::now() > deadline {
                    panic!("docker-registry did not answer GET /v2/ within 15s; log:\n{}", read_log(&log_path));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("docker-registry did not start; last log:\n{last_log}");
    }

    /// The registry's own counters for its notification endpoint (Docker Distribution's
    /// expvar `registry.notifications.endpoints[].Metrics` on the debug address): events queued
    /// so far, and events still pending delivery. `(0, 0)` without a notification endpoint.
    pub async fn notifications(&self) -> (u64, u64) {
        let url = format!("http://127.0.0.1:{}/debug/vars", self.debug_port);
        let vars: serde_json::Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        let Some(endpoints) = vars.pointer("/registry/notifications/endpoints").and_then(|e| e.as_array()) else {
            return (0, 0);
        };
        let sum = |k: &str| endpoints.iter().filter_map(|e| e["Metrics"][k].as_u64()).sum::<u64>();
        (sum("Events"), sum("Pending"))
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The harness's own credentials on a request (pull and push on `repo`).
    fn authorize(&self, r: reqwest::RequestBuilder, repo: &str) -> reqwest::RequestBuilder {
        match &self.login {
            Login::None => r,
            Login::Htpasswd { username, password } => r.basic_auth(username, Some(password)),
            Login::Token(server) => r.bearer_auth(server.mint("harness-admin", repo, &["pull", "push", "delete"])),
        }
    }

    /// The requests the registry has answered so far, from its access log: `METHOD PATH STATUS`
    /// (query strings cut off).
    pub fn requests(&self) -> Vec<String> {
        let re = regex::Regex::new(r#""([A-Z]+) ([^ ?"]+)[^"]*" (\d{3})"#).unwrap();
        self.log().lines().filter_map(|l| re.captures(l)).map(|c| format!("{} {} {}", &c[1], &c[2], &c[3])).collect()
    }

    /// The registry's own log so far (warnings and errors).
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("registry.log"))
    }

    /// Uploads a blob (POST then PUT ?digest=) and returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let resp = self
            .authorize(self.http.post(format!("{}/v2/{repo}/blobs/uploads/", self.base())), repo)
            .send()
            .await
            .expect("POST blob upload");
        assert_eq!(resp.status().as_u16(), 202, "start blob upload: {}", resp.text().await.unwrap_or_default());
        let location = resp.headers().get("location").expect("upload Location header").to_str().unwrap().to_string();
        let mut url = if location.starts_with("http") { location } else { format!("{}{location}", self.base()) };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("digest=");
        url.push_str(&digest);
        let resp = self
            .authorize(self.http.put(url), repo)
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .expect("PUT blob");
        assert_eq!(resp.status().as_u16(), 201, "finish blob upload: {}", resp.text().await.unwrap_or_default());
        digest
    }

    /// Puts manifest bytes under a tag or digest reference; returns their sha256 digest.
    pub async fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, manifest: &[u8]) -> String {
        let digest = sha256(manifest);
        let resp = self
            .authorize(self.http.put(format!("{}/v2/{repo}/manifests/{reference}", self.base())), repo)
            .header("content-type", media_type)
            .body(manifest.to_vec())
            .send()
            .await
            .expect("PUT manifest");
        let status = resp.status().as_u16();
        let header = resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(status, 201, "push manifest {repo}:{reference}: {}", resp.text().await.unwrap_or_default());
        if let Some(header) = header {
            assert_eq!(header, digest, "registry digest of the pushed manifest");
        }
        digest
    }

    /// The manifest bytes `push_artifact` would push for this content and annotations.
    pub fn artifact_manifest(&self, content: &[u8], annotations: &[(&str, &str)]) -> (Vec<u8>, &'static [u8]) {
        let config: &'static [u8] = b"{}";
        let ann: serde_json::Map<String, serde_json::Value> =
            annotations.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
        let mut manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST_TYPE,
            "config": {"mediaType": ARTIFACT_CONFIG_TYPE, "digest": sha256(config), "size": config.len()},
            "layers": [{"mediaType": ARTIFACT_LAYER_TYPE, "digest": sha256(content), "size": content.len()}],
        });
        if !ann.is_empty() {
            manifest["annotations"] = serde_json::Value::Object(ann);
        }
        (serde_json::to_vec(&manifest).unwrap(), config)
    }

    /// Pushes a small OCI artifact (config blob `{}`, one layer of `content`, a manifest with
    /// the given annotations) as repo:tag; returns the manifest digest `sha256:…`.
    pub async fn push_artifact(&self, repo: &str, tag: &str, content: &[u8], annotations: &[(&str, &str)]) -> String {
        let (manifest, config) = self.artifact_manifest(content, annotations);
        self.push_blob(repo, config).await;
        self.push_blob(repo, content).await;
        let (before, _) = self.notifications().await;
        let digest = self.push_manifest(repo, tag, OCI_MANIFEST_TYPE, &manifest).await;
        self.wait_notification_queued(before).await;
        digest
    }

    /// With a notification endpoint: waits until the registry has queued the event of the push
    /// just made (its event counter passed `before`), so that a settle sees it as pending.
    async fn wait_notification_queued(&self, before: u64) {
        if !self.notifying {
            return;
        }
        for _ in 0..1000 {
            if self.notifications().await.0 > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the registry queued no notification for a push within 5s");
    }

    /// Deletes a manifest by digest (storage.delete is enabled).
    pub async fn delete_manifest(&self, repo: &str, digest: &str) {
        let resp = self
            .authorize(self.http.delete(format!("{}/v2/{repo}/manifests/{digest}", self.base())), repo)
            .send()
            .await
            .expect("DELETE manifest");
        assert_eq!(resp.status().as_u16(), 202, "delete manifest");
    }
}

/// The `auth:` section of the registry's config for a login (files written into `dir`).
fn auth_yaml(login: &Login, dir: &Path) -> String {
    match login {
        Login::None => String::new(),
        Login::Htpasswd { username, password } => {
            // Distribution accepts bcrypt entries only; cost 4 keeps the test fast.
            let hash = bcrypt::hash_with_result(password, 4).unwrap().format_for_version(bcrypt::Version::TwoY);
            let path = dir.join("htpasswd");
            std::fs::write(&path, format!("{username}:{hash}\n")).unwrap();
            format!("auth:\n  htpasswd:\n    realm: baton-test\n    path: {}\n", yaml_str(&path.display().to_string()))
        }
        Login::Token(server) => {
            let bundle = dir.join("token-root.pem");
            std::fs::write(&bundle, &server.cert_pem).unwrap();
            format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {bundle}\n",
                realm = yaml_str(&server.realm()),
                service = yaml_str(TOKEN_SERVICE),
                issuer = yaml_str(TOKEN_ISSUER),
                bundle = yaml_str(&bundle.display().to_string()),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Token server (Docker Distribution's token authentication, https://distribution.github.io/distribution/spec/auth/token/)

pub const TOKEN_SERVICE: &str = "baton-test-registry";
pub const TOKEN_ISSUER: &str = "baton-test-token-server";

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: String,
    /// "basic", "refresh_token", "anonymous" or "refused".
    pub login: String,
    pub scope: String,
    pub status: u16,
}

/// A token server on its own thread and runtime (so that tests may block on a child process
/// while it answers).
pub struct TokenServer {
    port: u16,
    cert_pem: String,
    cert_der_b64: String,
    key: jsonwebtoken::EncodingKey,
    public_repos: Vec<String>,
    /// Every token issued (to check that none reaches a log).
    pub issued: Mutex<Vec<String>>,
    pub requests: Mutex<Vec<TokenRequest>>,
}

impl TokenServer {
    /// Starts the token server; `public_repos` may be pulled anonymously.
    pub fn start(public_repos: &[&str]) -> Arc<TokenServer> {
        use base64::Engine as _;
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["baton-test-token-server".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let cert = params.self_signed(&key_pair).unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_pem(key_pair.serialize_pem().as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Arc::new(TokenServer {
            port,
            cert_pem: cert.pem(),
            cert_der_b64: base64::engine::general_purpose::STANDARD.encode(cert.der()),
            key,
            public_repos: public_repos.iter().map(|s| s.to_string()).collect(),
            issued: Mutex::default(),
            requests: Mutex::default(),
        });
        let state = server.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new()
                    .route("/token", axum::routing::get(token_get).post(token_post))
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        server
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.host())
    }

    /// A signed token granting `actions` on `repo` to `subject`.
    pub fn mint(&self, subject: &str, repo: &str, actions: &[&str]) -> String {
        let access = if actions.is_empty() {
            serde_json::json!([])
        } else {
            serde_json::json!([{"type": "repository", "name": repo, "actions": actions}])
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER, "sub": subject, "aud": TOKEN_SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": format!("{subject}-{now}-{}", self.issued.lock().unwrap().len()),
            "access": access,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.x5c = Some(vec![self.cert_der_b64.clone()]);
        let token = jsonwebtoken::encode(&header, &claims, &self.key).unwrap();
        self.issued.lock().unwrap().push(token.clone());
        token
    }

    /// The answer to one token request: (status, JSON body).
    fn answer(&self, method: &str, login: Result<Option<&str>, ()>, scope: &str) -> (u16, serde_json::Value) {
        let (who, status) = match login {
            Err(()) => ("", 401),
            Ok(who) => (who.unwrap_or(""), 200),
        };
        self.requests.lock().unwrap().push(TokenRequest {
            method: method.to_string(),
            login: match (status, who) {
                (401, _) => "refused".to_string(),
                (_, "") => "anonymous".to_string(),
                (_, w) => w.to_string(),
            },
            scope: scope.to_string(),
            status,
        });
        if status == 401 {
            return (401, serde_json::json!({"details": "incorrect username or password"}));
        }
        // scope = repository:NAME:pull
        let name = scope.strip_prefix("repository:").and_then(|s| s.rsplit_once(':')).map(|(n, _)| n).unwrap_or("");
        let granted = !who.is_empty() || self.public_repos.iter().any(|r| r == name);
        let actions: &[&str] = if granted && scope.ends_with(":pull") { &["pull"] } else { &[] };
        let token = self.mint(if who.is_empty() { "anonymous" } else { who }, name, actions);
        (200, serde_json::json!({"token": token, "access_token": token, "expires_in": 300}))
    }
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    #[serde(default)]
    scope: String,
}

async fn token_get(
    axum::extract::State(s): axum::extract::State<Arc<TokenServer>>,
    axum::extract::Query(q): axum::extract::Query<TokenQuery>,
    headers: axum::http::HeaderMap,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    use base64::Engine as _;
    let login = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => Ok(None),
        Some(h) => {
            let decoded = h
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            if decoded == format!("{USERNAME}:{PASSWORD}") {
                Ok(Some("basic"))
            } else {
                Err(())
            }
        }
    };
    let (status, body) = s.answer("GET", login, &q.scope);
    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(body))
}

async fn token_post(
    axum::extract::State(s): axum::extract::State<Arc<TokenServer>>,
    body: String,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let scope = form.get("scope").cloned().unwrap_or_default();
    let login = match (form.get("grant_type").map(String::as_str), form.get("refresh_token")) {
        (Some("refresh_token"), Some(t)) if t == REFRESH_TOKEN => Ok(Some("refresh_token")),
        _ => Err(()),
    };
    let (status, body) = s.answer("POST", login, &scope);
    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(body))
}

/// A TCP port that accepts connections and never answers (the kernel completes the handshake;
/// nothing ever reads or writes). Held open until the returned listener is dropped.
pub fn black_hole() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    (l, host)
}

fn read_log(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

pub const DOCKER_MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST_TYPE: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

impl TestRegistry {
    /// A Docker schema2 image manifest (config + one layer) as `repo:tag`; returns its digest.
    pub async fn push_docker_image(&self, repo: &str, tag: &str, content: &[u8]) -> String {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            sha256(content)
        );
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let layer = self.push_blob(repo, content).await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": content.len()}],
        });
        self.push_manifest(repo, tag, DOCKER_MANIFEST_TYPE, &serde_json::to_vec(&manifest).unwrap()).await
    }

    /// A multi-platform index (`OCI_INDEX_TYPE` or `DOCKER_LIST_TYPE`) over two child images of
    /// the matching kind (linux/amd64, linux/arm64), as `repo:tag`; returns (index, children).
    pub async fn push_multi_arch(&self, repo: &str, tag: &str, index_type: &str) -> (String, Vec<String>) {
        let mut children = Vec::new();
        let mut entries = Vec::new();
        for arch in ["amd64", "arm64"] {
            let content = format!("{repo}:{tag} for {arch}");
            let child_tag = format!("{tag}-{arch}");
            let (digest, media_type) = if index_type == DOCKER_LIST_TYPE {
                (self.push_docker_image(repo, &child_tag, content.as_bytes()).await, DOCKER_MANIFEST_TYPE)
            } else {
                (self.push_artifact(repo, &child_tag, content.as_bytes(), &[]).await, OCI_MANIFEST_TYPE)
            };
            let size = self.manifest_size(repo, &digest).await;
            entries.push(serde_json::json!({
                "mediaType": media_type, "digest": digest, "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            }));
            children.push(digest);
        }
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": index_type, "manifests": entries});
        let digest = self.push_manifest(repo, tag, index_type, &serde_json::to_vec(&index).unwrap()).await;
        (digest, children)
    }

    /// The size of a stored manifest, read back by digest.
    async fn manifest_size(&self, repo: &str, digest: &str) -> usize {
        self.get_manifest(repo, digest).await.1.len()
    }

    /// `GET /v2/<repo>/manifests/<reference>` accepting every manifest type: (Docker-Content-Digest, body).
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> (String, Vec<u8>) {
        let resp = self
            .authorize(self.http.get(format!("{}/v2/{repo}/manifests/{reference}", self.base())), repo)
            .header("accept", [OCI_MANIFEST_TYPE, OCI_INDEX_TYPE, DOCKER_MANIFEST_TYPE, DOCKER_LIST_TYPE].join(", "))
            .send()
            .await
            .expect("GET manifest");
        assert_eq!(resp.status().as_u16(), 200, "GET manifest {repo}:{reference}");
        let header =
            resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (header, resp.bytes().await.unwrap().to_vec())
    }
}
