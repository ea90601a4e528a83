//! The real GitHub client: octocrab authenticated as a GitHub App (JWT → installation token per
//! repository owner; octocrab caches each installation's token and renews it shortly before it
//! expires), or anonymous in dry-run mode.
//!
//! Requests go through one loop, [`AppClient::send`], that implements GitHub's documented rules:
//! 5xx and network errors are retried with exponential backoff; a 403/429 with `retry-after`
//! waits that long; with `x-ratelimit-remaining: 0` it waits until `x-ratelimit-reset`; waits
//! longer than `max_rate_limit_wait` give up with an error instead of stalling a worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use serde_json::{json, Value};

use super::*;
use crate::settings::GitHubSettings;

pub struct AppClient {
    /// JWT-authenticated App client, or anonymous (dry-run) client.
    root: Arc<Octocrab>,
    is_app: bool,
    /// One client per installation owner, shared (not cloned: octocrab keeps the installation
    /// token cache inside the client, and a clone would start with an empty one).
    installations: Mutex<HashMap<String, Arc<Octocrab>>>,
    max_retries: u32,
    max_wait: Duration,
    slug: tokio::sync::OnceCell<Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the GitHub App private key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("cannot build the GitHub client: {0}")]
    Build(String),
}

/// Percent-encodes one path segment (keeps `/` when `keep_slash`).
pub fn encode_path(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

type Builder = octocrab::OctocrabBuilder<
    octocrab::NoSvc,
    octocrab::DefaultOctocrabBuilderConfig,
    octocrab::NoAuth,
    octocrab::NotLayerReady,
>;

fn builder(settings: &GitHubSettings) -> std::result::Result<Builder, ClientError> {
    Octocrab::builder().base_uri(settings.api_url.as_str()).map_err(|e| ClientError::Build(e.to_string())).map(|b| {
        b.add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
    })
}

impl AppClient {
    /// An App client when `app_id` and a key are configured, else an anonymous one (dry-run).
    pub fn new(settings: &GitHubSettings) -> std::result::Result<AppClient, ClientError> {
        // jsonwebtoken 10 is built with two crypto back-ends in this dependency graph (sigstore
        // enables aws-lc), so it cannot choose one itself: baton picks RustCrypto.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let is_app = settings.app_id != 0 && !settings.private_key_file.is_empty();
        let root = if is_app {
            let pem = std::fs::read(&settings.private_key_file)
                .map_err(|e| ClientError::Key { path: settings.private_key_file.clone(), reason: e.to_string() })?;
            let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|e| ClientError::Key {
                path: settings.private_key_file.clone(),
                reason: format!("not an RSA private key in PEM format ({e})"),
            })?;
            builder(settings)?
                .app(settings.app_id.into(), key)
                .build()
                .map_err(|e| ClientError::Build(e.to_string()))?
        } else {
            builder(settings)?.build().map_err(|e| ClientError::Build(e.to_string()))?
        };
        Ok(AppClient {
            root: Arc::new(root),
            is_app,
            installations: Mutex::new(HashMap::new()),
            max_retries: settings.max_retries,
            max_wait: Duration::from_secs(settings.max_rate_limit_wait_secs),
            slug: tokio::sync::OnceCell::new(),
        })
    }

    /// The client acting for `repo`'s installation (cached per owner).
    async fn client(&self, repo: &RepoName) -> Result<Arc<Octocrab>> {
        if !self.is_app {
            return Ok(self.root.clone());
        }
        if let Some(c) = self.installations.lock().unwrap_or_else(|e| e.into_inner()).get(repo.owner()) {
            return Ok(c.clone());
        }
        let path = format!("/repos/{}/{}/installation", repo.owner(), repo.name());
        let (_, v) = self.send(&self.root, Method::GET, &path, None).await?;
        let id =
            v["id"].as_u64().ok_or_else(|| GitHubError::Other(format!("{path}: answer without an installation id")))?;
        let crab = Arc::new(self.root.installation(id.into()).map_err(|e| GitHubError::Other(e.to_string()))?);
        self.installations.lock().unwrap_or_else(|e| e.into_inner()).insert(repo.owner().to_string(), crab.clone());
        Ok(crab)
    }

    async fn call(&self, repo: &RepoName, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let crab = self.client(repo).await?;
        self.send(&crab, method, path, body.as_ref()).await.map(|(_, v)| v)
    }

    async fn call_status(
        &self,
        repo: &RepoName,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let crab = self.client(repo).await?;
        self.send(&crab, method, path, body.as_ref()).await
    }

    /// One request with GitHub's retry and rate-limit rules. Returns the status and the JSON
    /// body (Null for 204).
    pub async fn send(
        &self,
        crab: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let resp = match method.clone() {
                Method::GET => crab._get(path).await,
                Method::POST => crab._post(path, body).await,
                Method::PATCH => crab._patch(path, body).await,
                Method::PUT => crab._put(path, body).await,
                Method::DELETE => crab._delete(path, body).await,
                m => return Err(GitHubError::Other(format!("unsupported method {m}"))),
            };
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    let msg = e.to_string();
                    tracing::warn!(%method, path, attempt, error = %msg, "GitHub request failed");
                    crate::metrics::github_request(&method, path, "error");
                    if attempt > self.max_retries {
                        return Err(GitHubError::Other(format!("{method} {path}: {msg}")));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let text = crab.body_to_string(resp).await.unwrap_or_default();
            crate::metrics::github_request(&method, path, status.as_str());
            crate::metrics::github_rate_limit(&headers);
            tracing::debug!(%method, path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "GitHub request");
            if status.is_success() {
                if text.trim().is_empty() {
                    return Ok((status, Value::Null));
                }
                return serde_json::from_str(&text)
                    .map(|v| (status, v))
                    .map_err(|e| GitHubError::Other(format!("{method} {path}: answer is not JSON: {e}")));
            }
            if let Some(wait) = rate_limit_wait(status, &headers) {
                if wait > self.max_wait || attempt > self.max_retries {
                    return Err(GitHubError::Other(format!(
                        "{method} {path}: rate limited for {}s more; giving up",
                        wait.as_secs()
                    )));
                }
                tracing::warn!(%method, path, wait_secs = wait.as_secs(), "GitHub rate limit: waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() && attempt <= self.max_retries {
                tracing::warn!(%method, path, status = status.as_u16(), attempt, "GitHub server error: retrying");
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    let m = v["message"].as_str()?.to_string();
                    let errs = v["errors"].to_string();
                    Some(if v["errors"].is_null() { m } else { format!("{m} {errs}") })
                })
                .unwrap_or_else(|| text.chars().take(200).collect());
            let msg = format!("{method} {path}: {} {message}", status.as_u16());
            return Err(match status {
                StatusCode::NOT_FOUND => GitHubError::NotFound(msg),
                StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::METHOD_NOT_ALLOWED => {
                    GitHubError::Conflict(msg)
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => GitHubError::Forbidden(msg),
                _ => GitHubError::Other(msg),
            });
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    // 100ms, 200ms, 400ms, … capped at 5s.
    Duration::from_millis((100u64 << attempt.saturating_sub(1).min(6)).min(5000))
}

/// GitHub's documented rate-limit rules: `retry-after` first, then an exhausted primary limit
/// (`x-ratelimit-remaining: 0` → until `x-ratelimit-reset`). Other 403s are not rate limits.
pub fn rate_limit_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let num = |h: &str| headers.get(h)?.to_str().ok()?.trim().parse::<u64>().ok();
    if let Some(secs) = num("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if num("x-ratelimit-remaining") == Some(0) {
        let reset = num("x-ratelimit-reset")?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Secondary limit without headers: GitHub says wait at least a minute.
        return Some(Duration::from_secs(60));
    }
    None
}

fn repo_path(repo: &RepoName) -> String {
    format!("/repos/{}/{}", encode_path(repo.owner(), false), encode_path(repo.name(), false))
}

fn str_field(v: &Value, ptr: &str) -> Result<String> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| GitHubError::Other(format!("GitHub answer without {ptr}")))
}

pub(crate) fn pull_from_json(v: &Value) -> Result<PullRequest> {
    Ok(PullRequest {
        number: v["number"].as_u64().ok_or_else(|| GitHubError::Other("pull request without number".into()))?,
        title: v["title"].as_str().unwrap_or_default().to_string(),
        body: v["body"].as_str().unwrap_or_default().to_string(),
        head_ref: str_field(v, "/head/ref")?,
        head_sha: str_field(v, "/head/sha")?,
        base_ref: str_field(v, "/base/ref")?,
        state: PrState::from_api(v["state"].as_str().unwrap_or_default()),
        labels: v["labels"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        html_url: v["html_url"].as_str().unwrap_or_default().to_string(),
        author: v.pointer("/user/login").and_then(Value::as_str).unwrap_or_default().to_string(),
    })
}

#[async_trait]
impl GitHub for AppClient {
    async fn app_slug(&self) -> Option<String> {
        if !self.is_app {
            return None;
        }
        self.slug
            .get_or_init(|| async {
                match self.send(&self.root, Method::GET, "/app", None).await {
                    Ok((_, v)) => v["slug"].as_str().map(str::to_string),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the App's slug");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    async fn installed_repositories(&self) -> Result<Vec<RepoName>> {
        if !self.is_app {
            return Ok(vec![]);
        }
        let mut installations = Vec::new();
        for page in 1..=10 {
            let (_, v) = self
                .send(&self.root, Method::GET, &format!("/app/installations?per_page=100&page={page}"), None)
                .await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let n = list.len();
            for i in &list {
                if let (Some(id), Some(owner)) = (i["id"].as_u64(), i.pointer("/account/login").and_then(Value::as_str))
                {
                    installations.push((id, owner.to_string()));
                }
            }
            if n < 100 {
                break;
            }
        }
        let mut out = Vec::new();
        for (id, owner) in installations {
            let crab = {
                let mut map = self.installations.lock().unwrap_or_else(|e| e.into_inner());
                match map.get(&owner) {
                    Some(c) => c.clone(),
                    None => {
                        let c =
                            Arc::new(self.root.installation(id.into()).map_err(|e| GitHubError::Other(e.to_string()))?);
                        map.insert(owner.clone(), c.clone());
                        c
                    }
                }
            };
            for page in 1..=50 {
                let path = format!("/installation/repositories?per_page=100&page={page}");
                let (_, v) = self.send(&crab, Method::GET, &path, None).await?;
                let list = v["repositories"].as_array().cloned().unwrap_or_default();
                let n = list.len();
                out.extend(list.iter().filter_map(|r| r["full_name"].as_str()?.parse::<RepoName>().ok()));
                if n < 100 {
                    break;
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn repo_info(&self, repo: &RepoName) -> Result<RepoInfo> {
        let v = self.call(repo, Method::GET, &repo_path(repo), None).await?;
        Ok(RepoInfo { default_branch: str_field(&v, "/default_branch")? })
    }

    async fn branch_head(&self, repo: &RepoName, branch: &str) -> Result<String> {
        let path = format!("{}/git/ref/heads/{}", repo_path(repo), encode_path(branch, true));
        let v = self.call(repo, Method::GET, &path, None).await?;
        str_field(&v, "/object/sha")
    }

    async fn file(&self, repo: &RepoName, path: &str, at: &str) -> Result<FileContent> {
        let url = format!("{}/contents/{}?ref={}", repo_path(repo), encode_path(path, true), encode_path(at, false));
        let v = self.call(repo, Method::GET, &url, None).await?;
        if v["type"].as_str() != Some("file") {
            return Err(GitHubError::NotFound(format!("{path} at {at} is not a file")));
        }
        let content = v["content"].as_str().unwrap_or_default().replace(['\n', '\r'], "");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| GitHubError::Other(format!("{path}: content is not base64: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| GitHubError::Other(format!("{path} is not UTF-8 text")))?;
        Ok(FileContent { path: path.to_string(), sha: str_field(&v, "/sha")?, text })
    }

    async fn create_commit(&self, repo: &RepoName, commit: &NewCommit) -> Result<String> {
        let base = self
            .call(
                repo,
                Method::GET,
                &format!("{}/git/commits/{}", repo_path(repo), encode_path(&commit.parent, false)),
                None,
            )
            .await?;
        let base_tree = str_field(&base, "/tree/sha")?;
        let entries: Vec<Value> = commit
            .files
            .iter()
            .map(|f| json!({"path": f.path, "mode": "100644", "type": "blob", "content": f.content}))
            .collect();
        let tree = self
            .call(
                repo,
                Method::POST,
                &format!("{}/git/trees", repo_path(repo)),
                Some(json!({"base_tree": base_tree, "tree": entries})),
            )
            .await?;
        let tree_sha = str_field(&tree, "/sha")?;
        let c = self
            .call(
                repo,
                Method::POST,
                &format!("{}/git/commits", repo_path(repo)),
                Some(json!({"message": commit.message, "tree": tree_sha, "parents": [commit.parent]})),
            )
            .await?;
        str_field(&c, "/sha")
    }

    async fn create_branch(&self, repo: &RepoName, branch: &str, sha: &str) -> Result<()> {
        self.call(
            repo,
            Method::POST,
            &format!("{}/git/refs", repo_path(repo)),
            Some(json!({"ref": format!("refs/heads/{branch}"), "sha": sha})),
        )
        .await
        .map(|_| ())
    }

    async fn update_branch(&self, repo: &RepoName, branch: &str, sha: &str, force: bool) -> Result<()> {
        self.call(
            repo,
            Method::PATCH,
            &format!("{}/git/refs/heads/{}", repo_path(repo), encode_path(branch, true)),
            Some(json!({"sha": sha, "force": force})),
        )
        .await
        .map(|_| ())
    }

    async fn find_open_pull(&self, repo: &RepoName, branch: &str) -> Result<Option<PullRequest>> {
        let head = format!("{}:{}", repo.owner(), branch);
        let path = format!("{}/pulls?state=open&head={}&per_page=10", repo_path(repo), encode_path(&head, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        let list = v.as_array().ok_or_else(|| GitHubError::Other("pull request list is not an array".into()))?;
        list.iter().map(pull_from_json).find(|p| p.as_ref().map(|p| p.head_ref == branch).unwrap_or(true)).transpose()
    }

    async fn create_pull(&self, repo: &RepoName, pr: &NewPullRequest) -> Result<PullRequest> {
        let v = self
            .call(
                repo,
                Method::POST,
                &format!("{}/pulls", repo_path(repo)),
                Some(json!({"head": pr.head, "base": pr.base, "title": pr.title, "body": pr.body, "maintainer_can_modify": false})),
            )
            .await?;
        pull_from_json(&v)
    }

    async fn update_pull(&self, repo: &RepoName, number: u64, title: &str, body: &str) -> Result<()> {
        self.call(
            repo,
            Method::PATCH,
            &format!("{}/pulls/{number}", repo_path(repo)),
            Some(json!({"title": title, "body": body})),
        )
        .await
        .map(|_| ())
    }

    async fn add_labels(&self, repo: &RepoName, number: u64, labels: &[String]) -> Result<()> {
        self.call(
            repo,
            Method::POST,
            &format!("{}/issues/{number}/labels", repo_path(repo)),
            Some(json!({"labels": labels})),
        )
        .await
        .map(|_| ())
    }

    async fn pull_files(&self, repo: &RepoName, number: u64) -> Result<Vec<ChangedFile>> {
        let mut out = Vec::new();
        // GitHub lists at most 3000 files; 30 pages of 100.
        for page in 1..=30 {
            let path = format!("{}/pulls/{number}/files?per_page=100&page={page}", repo_path(repo));
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let n = list.len();
            out.extend(list.iter().filter_map(changed_file));
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    async fn merge_pull(&self, repo: &RepoName, number: u64, head_sha: &str, message: &str) -> Result<String> {
        let (title, body) = message.split_once('\n').unwrap_or((message, ""));
        let v = self
            .call(
                repo,
                Method::PUT,
                &format!("{}/pulls/{number}/merge", repo_path(repo)),
                Some(json!({
                    "sha": head_sha,
                    "merge_method": "squash",
                    "commit_title": title,
                    "commit_message": body.trim_start_matches('\n'),
                })),
            )
            .await?;
        str_field(&v, "/sha")
    }

    async fn commit_pulls(&self, repo: &RepoName, sha: &str) -> Result<Vec<PullRequest>> {
        let path = format!("{}/commits/{}/pulls", repo_path(repo), encode_path(sha, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        v.as_array().map(|a| a.iter().map(pull_from_json).collect()).unwrap_or_else(|| Ok(vec![]))
    }

    async fn path_history(&self, repo: &RepoName, branch: &str, path: &str, limit: u32) -> Result<Vec<CommitInfo>> {
        let url = format!(
            "{}/commits?sha={}&path={}&per_page={}",
            repo_path(repo),
            encode_path(branch, false),
            encode_path(path, false),
            limit.clamp(1, 100)
        );
        let v = self.call(repo, Method::GET, &url, None).await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        Some(CommitInfo {
                            sha: c["sha"].as_str()?.to_string(),
                            message: c
                                .pointer("/commit/message")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            date: c.pointer("/commit/committer/date").and_then(Value::as_str).map(str::to_string),
                            parents: c["parents"]
                                .as_array()
                                .map(|p| p.iter().filter_map(|x| x["sha"].as_str().map(str::to_string)).collect())
                                .unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn create_check_run(&self, repo: &RepoName, check: &CheckRunWrite) -> Result<u64> {
        let mut body = check_body(check);
        body["name"] = json!(check.name);
        body["head_sha"] = json!(check.head_sha);
        let v = self.call(repo, Method::POST, &format!("{}/check-runs", repo_path(repo)), Some(body)).await?;
        v["id"].as_u64().ok_or_else(|| GitHubError::Other("check run without id".into()))
    }

    async fn update_check_run(&self, repo: &RepoName, id: u64, check: &CheckRunWrite) -> Result<()> {
        let body = check_body(check);
        self.call(repo, Method::PATCH, &format!("{}/check-runs/{id}", repo_path(repo)), Some(body)).await.map(|_| ())
    }

    async fn check_runs(&self, repo: &RepoName, sha: &str, name: Option<&str>) -> Result<Vec<CheckRunInfo>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let mut path =
                format!("{}/commits/{}/check-runs?per_page=100&page={page}", repo_path(repo), encode_path(sha, false));
            if let Some(n) = name {
                path.push_str(&format!("&check_name={}", encode_path(n, false)));
            }
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v["check_runs"].as_array().cloned().unwrap_or_default();
            let n = list.len();
            out.extend(list.iter().filter_map(|c| {
                Some(CheckRunInfo {
                    id: c["id"].as_u64()?,
                    name: c["name"].as_str()?.to_string(),
                    head_sha: c["head_sha"].as_str().unwrap_or_default().to_string(),
                    status: CheckStatus::from_api(c["status"].as_str().unwrap_or_default()),
                    conclusion: c["conclusion"].as_str().and_then(Conclusion::from_api),
                    app_slug: c.pointer("/app/slug").and_then(Value::as_str).map(str::to_string),
                    completed_at: c["completed_at"].as_str().map(str::to_string),
                    started_at: c["started_at"].as_str().map(str::to_string),
                    summary: c.pointer("/output/summary").and_then(Value::as_str).map(str::to_string),
                })
            }));
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    async fn statuses(&self, repo: &RepoName, sha: &str) -> Result<Vec<StatusInfo>> {
        let path = format!("{}/commits/{}/status?per_page=100", repo_path(repo), encode_path(sha, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        Ok(v["statuses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        Some(StatusInfo {
                            context: s["context"].as_str()?.to_string(),
                            state: StatusState::from_api(s["state"].as_str()?)?,
                            updated_at: s["updated_at"].as_str().map(str::to_string),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn create_comment(&self, repo: &RepoName, number: u64, body: &str) -> Result<u64> {
        let v = self
            .call(
                repo,
                Method::POST,
                &format!("{}/issues/{number}/comments", repo_path(repo)),
                Some(json!({"body": body})),
            )
            .await?;
        v["id"].as_u64().ok_or_else(|| GitHubError::Other("comment without id".into()))
    }

    async fn comments(&self, repo: &RepoName, number: u64) -> Result<Vec<CommentInfo>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let path = format!("{}/issues/{number}/comments?per_page=100&page={page}", repo_path(repo));
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let n = list.len();
            out.extend(list.iter().filter_map(|c| {
                Some(CommentInfo {
                    id: c["id"].as_u64()?,
                    body: c["body"].as_str().unwrap_or_default().to_string(),
                    author: c.pointer("/user/login").and_then(Value::as_str).unwrap_or_default().to_string(),
                })
            }));
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    async fn react(&self, repo: &RepoName, comment_id: u64, content: &str) -> Result<bool> {
        // GitHub answers 201 for a new reaction and 200 when this App had already reacted so.
        let (status, _) = self
            .call_status(
                repo,
                Method::POST,
                &format!("{}/issues/comments/{comment_id}/reactions", repo_path(repo)),
                Some(json!({"content": content})),
            )
            .await?;
        Ok(status == StatusCode::CREATED)
    }

    async fn open_pulls(&self, repo: &RepoName) -> Result<Vec<PullRequest>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let path = format!("{}/pulls?state=open&per_page=100&page={page}", repo_path(repo));
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let n = list.len();
            for p in &list {
                out.push(pull_from_json(p)?);
            }
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    async fn permission(&self, repo: &RepoName, user: &str) -> Result<String> {
        let path = format!("{}/collaborators/{}/permission", repo_path(repo), encode_path(user, false));
        match self.call(repo, Method::GET, &path, None).await {
            Ok(v) => Ok(v["permission"].as_str().unwrap_or("none").to_string()),
            Err(GitHubError::NotFound(_)) => Ok("none".to_string()),
            Err(e) => Err(e),
        }
    }

    async fn team_member(&self, org: &str, team: &str, user: &str) -> Result<bool> {
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            encode_path(org, false),
            encode_path(team, false),
            encode_path(user, false)
        );
        // Team membership is read with the installation of the organization.
        let owner: RepoName = format!("{org}/x").parse().map_err(|e| GitHubError::Other(format!("{e}")))?;
        match self.call(&owner, Method::GET, &path, None).await {
            Ok(v) => Ok(v["state"].as_str() == Some("active")),
            Err(GitHubError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn create_issue(&self, repo: &RepoName, title: &str, body: &str, labels: &[String]) -> Result<u64> {
        let v = self
            .call(
                repo,
                Method::POST,
                &format!("{}/issues", repo_path(repo)),
                Some(json!({"title": title, "body": body, "labels": labels})),
            )
            .await?;
        v["number"].as_u64().ok_or_else(|| GitHubError::Other("issue without number".into()))
    }

    async fn issues_with_label(&self, repo: &RepoName, label: &str) -> Result<Vec<IssueInfo>> {
        let path = format!("{}/issues?state=open&labels={}&per_page=100", repo_path(repo), encode_path(label, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| {
                        Some(IssueInfo {
                            number: i["number"].as_u64()?,
                            title: i["title"].as_str().unwrap_or_default().to_string(),
                            body: i["body"].as_str().unwrap_or_default().to_string(),
                            state: i["state"].as_str().unwrap_or_default().to_string(),
                            labels: i["labels"]
                                .as_array()
                                .map(|l| l.iter().filter_map(|x| x["name"].as_str().map(str::to_string)).collect())
                                .unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn update_issue(&self, repo: &RepoName, number: u64, title: &str, body: &str) -> Result<()> {
        self.call(
            repo,
            Method::PATCH,
            &format!("{}/issues/{number}", repo_path(repo)),
            Some(json!({"title": title, "body": body})),
        )
        .await
        .map(|_| ())
    }

    async fn put_file(
        &self,
        repo: &RepoName,
        branch: &str,
        path: &str,
        content: &str,
        sha: Option<&str>,
        message: &str,
    ) -> Result<String> {
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(content),
            "branch": branch,
        });
        if let Some(s) = sha {
            body["sha"] = json!(s);
        }
        let v = self
            .call(repo, Method::PUT, &format!("{}/contents/{}", repo_path(repo), encode_path(path, true)), Some(body))
            .await?;
        str_field(&v, "/commit/sha")
    }

    async fn delete_file(&self, repo: &RepoName, branch: &str, path: &str, sha: &str, message: &str) -> Result<String> {
        let v = self
            .call(
                repo,
                Method::DELETE,
                &format!("{}/contents/{}", repo_path(repo), encode_path(path, true)),
                Some(json!({"message": message, "sha": sha, "branch": branch})),
            )
            .await?;
        str_field(&v, "/commit/sha")
    }
}

fn changed_file(f: &Value) -> Option<ChangedFile> {
    Some(ChangedFile {
        filename: f["filename"].as_str()?.to_string(),
        status: f["status"].as_str().unwrap_or_default().to_string(),
        previous_filename: f["previous_filename"].as_str().map(str::to_string),
    })
}

/// GitHub caps check run output fields at 65535 characters.
fn cap(s: &str) -> String {
    const MAX: usize = 65_000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n\n… (truncated)", &s[..end])
}

fn check_body(c: &CheckRunWrite) -> Value {
    let mut body = json!({
        "status": c.status,
        "output": {"title": cap(&c.title), "summary": cap(&c.summary)},
    });
    if let Some(t) = &c.text {
        body["output"]["text"] = json!(cap(t));
    }
    if let Some(conc) = c.conclusion {
        body["conclusion"] = json!(conc);
    }
    if !c.actions.is_empty() {
        body["actions"] = json!(c.actions);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(StatusCode::BAD_GATEWAY, &h), None);
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h), None, "a plain 403 is a permission problem");
        assert_eq!(rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h), Some(Duration::from_secs(60)));
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", (now + 10).to_string().parse().unwrap());
        let w = rate_limit_wait(StatusCode::FORBIDDEN, &h).unwrap();
        assert!(w >= Duration::from_secs(9) && w <= Duration::from_secs(12), "{w:?}");
    }

    #[test]
    fn path_encoding() {
        assert_eq!(encode_path("clusters/prod/my app.yaml", true), "clusters/prod/my%20app.yaml");
        assert_eq!(encode_path("o:baton/dev/x", false), "o%3Abaton%2Fdev%2Fx");
    }
}
