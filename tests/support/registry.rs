//! A real Docker Distribution registry (`/usr/bin/docker-registry`) per test, on a free
//! 127.0.0.1 port with its own temporary storage, plus plain-HTTP helpers to push content.
//!
//! Include it with `#[path = "support/registry.rs"] mod registry;`. Tests that use it FAIL (not
//! skip) when docker-registry is missing.
#![allow(dead_code)]

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
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
}

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

fn config_yaml(root: &Path, port: u16, debug_port: u16, notify: Option<&(String, String)>) -> String {
    let mut yaml = format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
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
",
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
            std::fs::write(&config, config_yaml(&storage, port, debug_port, notify.as_ref())).unwrap();
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
            let mut reg = TestRegistry { child, port, debug_port, notifying, dir, http: http.clone() };
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Ok(Some(_status)) = reg.child.try_wait() {
                    last_log = read_log(&log_path);
                    break; // exited: probably the port; retry with another one
                }
                if let Ok(resp) = http.get(format!("{}/v2/", reg.base())).send().await {
                    if resp.status().is_success() {
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

    /// The registry's own log so far (warnings and errors).
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("registry.log"))
    }

    /// Uploads a blob (POST then PUT ?digest=) and returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let resp =
            self.http.post(format!("{}/v2/{repo}/blobs/uploads/", self.base())).send().await.expect("POST blob upload");
        assert_eq!(resp.status().as_u16(), 202, "start blob upload: {}", resp.text().await.unwrap_or_default());
        let location = resp.headers().get("location").expect("upload Location header").to_str().unwrap().to_string();
        let mut url = if location.starts_with("http") { location } else { format!("{}{location}", self.base()) };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("digest=");
        url.push_str(&digest);
        let resp = self
            .http
            .put(url)
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
            .http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base()))
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
            .http
            .delete(format!("{}/v2/{repo}/manifests/{digest}", self.base()))
            .send()
            .await
            .expect("DELETE manifest");
        assert_eq!(resp.status().as_u16(), 202, "delete manifest");
    }
}

fn read_log(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}
