//! The real GitHub client: octocrab authenticated as a GitHub App (JWT → installation token per
//! repository owner; octocrab caches each installation's token and renews it shortly before it
//! expires), or anonymous in dry-run mode.
//!
//! Every request goes through one loop, [`AppClient::run`], that implements GitHub's documented
//! rules and knows what it retries (the decisions are in [`super::retry`]):
//! - 5xx and network errors: reads and repeatable writes are retried with exponential backoff; a
//!   POST that creates something is re-read (see [`Reread`]) before it is repeated, so a write
//!   GitHub applied but whose answer was lost is not made twice;
//! - a 403/429 with `retry-after` waits that long; with `x-ratelimit-remaining: 0` it waits until
//!   `x-ratelimit-reset`; a wait longer than `max_rate_limit_wait` (a few seconds) is not spent in
//!   the repository's slot: the request gives up at once with [`GitHubError::RateLimited`]
//!   (carrying the reset), noted in the job's scope, and the job runs again at the reset by a
//!   timer (`engine::scheduler`);
//! - GETs carry `If-None-Match` with the ETag of the last answer, and a 304 (which GitHub does not
//!   count against the rate limit) is served from a per-installation cache bounded by bytes;
//! - each answer's `x-ratelimit-*` headers update the installation's [`RateBudget`] (and the
//!   `baton_github_rate_limit_remaining{installation}` gauge).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use serde_json::{json, Value};

use super::cache::{Cached, ConditionalCache};
use super::*;
use crate::settings::GitHubSettings;

pub struct AppClient {
    /// JWT-authenticated App client, or anonymous (dry-run) client.
    root: Arc<Octocrab>,
    is_app: bool,
    /// One client per installation owner, shared (not cloned: octocrab keeps the installation
    /// token cache inside the client, and a clone would start with an empty one).
    installations: Mutex<HashMap<String, Arc<Octocrab>>>,
    limits: retry::Limits,
    slug: tokio::sync::OnceCell<Option<String>>,
    cache: ConditionalCache,
    budgets: Mutex<HashMap<String, RateBudget>>,
}

/// Who a request is made as: the App itself (its JWT; label `app`) or the installation on an
/// owner (label = the owner's login). Caches and rate budgets are kept per target.
#[derive(Clone)]
struct Target {
    crab: Arc<Octocrab>,
    who: String,
}

const APP_TARGET: &str = "app";

/// The answer to a request, and whether an earlier attempt of it lost its answer.
struct Answer {
    status: StatusCode,
    value: Value,
    lost_before: bool,
}

/// How to find out whether a write whose answer was lost took effect. Each variant returns, when
/// the write did happen, a JSON value shaped like the answer the write would have given.
enum Reread<'a> {
    /// A check run by name + head sha + the external id baton sets.
    CheckRun { name: &'a str, head_sha: &'a str, external_id: &'a str },
    /// A comment by the hidden key in its body (`<!-- baton… -->`), else by its exact body as
    /// the issue's last comment.
    Comment { issue: u64, body: &'a str },
    /// The open PR whose head is `head`.
    Pull { head: &'a str },
    /// An open issue by the hidden marker in its body (else its title), among those with `label`.
    Issue { label: Option<&'a str>, title: &'a str, body: &'a str },
    /// The ref exists (at `sha`; elsewhere is a real conflict).
    Ref { name: &'a str, sha: &'a str },
    /// The PR is merged.
    Merged { number: u64 },
    /// `path` on `branch` has `content` (or is gone, for `None`): the commit that made it so.
    File { branch: &'a str, path: &'a str, content: Option<&'a str> },
    /// The pull request (node ID) is in its merge queue, or the queue merged it already.
    Enqueued { pull_id: &'a str },
}

/// The hidden key of a comment or issue body: its last `<!-- baton… -->` HTML comment.
pub fn hidden_key(body: &str) -> Option<&str> {
    let start = body.rfind("<!-- baton")?;
    let end = body[start..].find("-->")? + start + 3;
    Some(&body[start..end])
}

/// The external id baton gives a check run: one per (name, head sha), so a re-read after a lost
/// answer and two replicas creating the same record find each other.
pub fn check_external_id(name: &str, head_sha: &str) -> String {
    format!("baton:{name}@{head_sha}")
}

/// What a neutralised duplicate's external id ends with (readers skip these).
const DUPLICATE_SUFFIX: &str = "#duplicate";

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
            limits: retry::Limits {
                max_retries: settings.max_retries,
                max_wait: Duration::from_secs(settings.max_rate_limit_wait_secs),
            },
            slug: tokio::sync::OnceCell::new(),
            cache: ConditionalCache::new(settings.conditional_cache_bytes),
            budgets: Mutex::new(HashMap::new()),
        })
    }

    fn app_target(&self) -> Target {
        Target { crab: self.root.clone(), who: APP_TARGET.to_string() }
    }

    /// The client acting for `repo`'s installation (cached per owner).
    async fn target(&self, repo: &RepoName) -> Result<Target> {
        if !self.is_app {
            return Ok(Target { crab: self.root.clone(), who: repo.owner().to_string() });
        }
        if let Some(c) = self.installations.lock().unwrap_or_else(|e| e.into_inner()).get(repo.owner()) {
            return Ok(Target { crab: c.clone(), who: repo.owner().to_string() });
        }
        let path = format!("/repos/{}/{}/installation", repo.owner(), repo.name());
        let v = self.run(&self.app_target(), Method::GET, &path, None, None).await?.value;
        let id =
            v["id"].as_u64().ok_or_else(|| GitHubError::Other(format!("{path}: answer without an installation id")))?;
        let crab = Arc::new(self.root.installation(id.into()).map_err(|e| GitHubError::Other(e.to_string()))?);
        self.installations.lock().unwrap_or_else(|e| e.into_inner()).insert(repo.owner().to_string(), crab.clone());
        Ok(Target { crab, who: repo.owner().to_string() })
    }

    /// A read, or a write whose repeat is harmless (see [`retry`]).
    async fn call(&self, repo: &RepoName, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let t = self.target(repo).await?;
        self.run(&t, method, path, body.as_ref(), None).await.map(|a| a.value)
    }

    /// A write that, after a lost answer, is confirmed or re-read with `reread` before it is
    /// repeated.
    async fn write(
        &self,
        repo: &RepoName,
        method: Method,
        path: &str,
        body: Value,
        reread: Reread<'_>,
    ) -> Result<Answer> {
        let t = self.target(repo).await?;
        self.run(&t, method, path, Some(&body), Some((repo, &reread))).await
    }

    /// One request with GitHub's retry, rate-limit and conditional-request rules.
    async fn run(
        &self,
        t: &Target,
        method: Method,
        path: &str,
        body: Option<&Value>,
        reread: Option<(&RepoName, &Reread<'_>)>,
    ) -> Result<Answer> {
        let kind = match (&method, reread) {
            (&Method::GET, _) => retry::Kind::Read,
            (&Method::POST, Some((_, r))) if r.is_create() => retry::Kind::Create,
            _ => retry::Kind::Repeatable,
        };
        let mut lost_before = false;
        let mut attempt_no = 0u32;
        loop {
            attempt_no += 1;
            let (outcome, result) = self.once(t, &method, path, body).await;
            let next = retry::next(kind, attempt_no, outcome, lost_before, self.limits);
            let was_lost = outcome == retry::Attempt::Lost;
            match next {
                retry::Next::Done => {
                    return result.map(|(status, value)| Answer { status, value, lost_before });
                }
                retry::Next::GiveUp => {
                    return Err(match (outcome, result) {
                        (retry::Attempt::RateLimited(reset_in), _) => {
                            tracing::warn!(%method, path, reset_secs = reset_in.as_secs(), "GitHub rate limit longer than baton waits in place: giving the job back until the reset");
                            note_rate_limit(reset_in);
                            GitHubError::RateLimited { what: format!("{method} {path}"), reset_in }
                        }
                        (_, Err(e)) => e,
                        (_, Ok(_)) => GitHubError::Other(format!("{method} {path}: giving up")),
                    });
                }
                retry::Next::Retry(wait) => {
                    lost_before |= was_lost;
                    tracing::warn!(%method, path, attempt = attempt_no, wait_ms = wait.as_millis() as u64, outcome = ?outcome, "GitHub request: retrying");
                    tokio::time::sleep(wait).await;
                }
                retry::Next::Reread => {
                    lost_before |= was_lost;
                    let Some((repo, r)) = reread else {
                        return result.map(|(status, value)| Answer { status, value, lost_before });
                    };
                    tracing::warn!(%method, path, attempt = attempt_no, outcome = ?outcome, "GitHub write: answer lost or refused after a lost answer; reading whether it took effect");
                    match Box::pin(self.reread(repo, r)).await? {
                        Some(value) => {
                            tracing::info!(%method, path, "GitHub write had taken effect; not repeating it");
                            return Ok(Answer { status: StatusCode::OK, value, lost_before: true });
                        }
                        // A refusal stands when the write is not there either.
                        None if !was_lost => {
                            return result.map(|(status, value)| Answer { status, value, lost_before });
                        }
                        None if attempt_no > self.limits.max_retries => {
                            return Err(result
                                .err()
                                .unwrap_or_else(|| GitHubError::Other(format!("{method} {path}: giving up"))));
                        }
                        None => tokio::time::sleep(retry::backoff(attempt_no)).await,
                    }
                }
            }
        }
    }

    /// One attempt: sends the request (with `If-None-Match` for a cached GET), records metrics
    /// and the rate budget, and classifies the outcome.
    async fn once(
        &self,
        t: &Target,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> (retry::Attempt, Result<(StatusCode, Value)>) {
        use retry::Attempt;
        let started = std::time::Instant::now();
        let cached = if *method == Method::GET { self.cache.get(&t.who, path) } else { None };
        let crab = &t.crab;
        let resp = match method.clone() {
            Method::GET => {
                let headers = cached.as_ref().and_then(|c| {
                    let mut h = HeaderMap::new();
                    h.insert(http::header::IF_NONE_MATCH, c.etag.parse().ok()?);
                    Some(h)
                });
                crab._get_with_headers(path, headers).await
            }
            Method::POST => crab._post(path, body).await,
            Method::PATCH => crab._patch(path, body).await,
            Method::PUT => crab._put(path, body).await,
            Method::DELETE => crab._delete(path, body).await,
            m => return (Attempt::Refused, Err(GitHubError::Other(format!("unsupported method {m}")))),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                let sent = !is_connect_error(&e);
                tracing::warn!(%method, path, sent, error = %msg, "GitHub request failed");
                crate::metrics::github_request(method, path, "error");
                let outcome = if sent { Attempt::Lost } else { Attempt::NotSent };
                return (outcome, Err(GitHubError::Other(format!("{method} {path}: {msg}"))));
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = match crab.body_to_string(resp).await {
            Ok(t) => t,
            Err(e) => {
                crate::metrics::github_request(method, path, "error");
                return (Attempt::Lost, Err(GitHubError::Other(format!("{method} {path}: answer cut off: {e}"))));
            }
        };
        crate::metrics::github_request(method, path, status.as_str());
        self.note_budget(&t.who, &headers);
        tracing::debug!(%method, path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "GitHub request");
        let text = if status == StatusCode::NOT_MODIFIED {
            match cached {
                Some(c) => c.body.to_string(),
                None => {
                    return (
                        Attempt::Lost,
                        Err(GitHubError::Other(format!("{method} {path}: 304 without a cached answer"))),
                    )
                }
            }
        } else {
            text
        };
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            if *method == Method::GET && status.is_success() {
                match headers.get(http::header::ETAG).and_then(|v| v.to_str().ok()) {
                    Some(etag) => {
                        self.cache.put(&t.who, path, Cached { etag: etag.to_string(), body: Arc::from(text.as_str()) })
                    }
                    None => self.cache.remove(&t.who, path),
                }
            }
            if text.trim().is_empty() {
                return (Attempt::Answered, Ok((status, Value::Null)));
            }
            return match serde_json::from_str(&text) {
                Ok(v) => (Attempt::Answered, Ok((status, v))),
                Err(e) => {
                    (Attempt::Refused, Err(GitHubError::Other(format!("{method} {path}: answer is not JSON: {e}"))))
                }
            };
        }
        if let Some(wait) = rate_limit_wait(status, &headers) {
            tracing::warn!(%method, path, wait_secs = wait.as_secs(), "GitHub rate limit");
            return (Attempt::RateLimited(wait), Err(GitHubError::Other(format!("{method} {path}: rate limited"))));
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
        if status.is_server_error() {
            tracing::warn!(%method, path, status = status.as_u16(), "GitHub server error");
            return (Attempt::Lost, Err(GitHubError::Other(msg)));
        }
        match status {
            StatusCode::NOT_FOUND => (Attempt::NotFound, Err(GitHubError::NotFound(msg))),
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::METHOD_NOT_ALLOWED => {
                (Attempt::Conflict, Err(GitHubError::Conflict(msg)))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => (Attempt::Refused, Err(GitHubError::Forbidden(msg))),
            _ => (Attempt::Refused, Err(GitHubError::Other(msg))),
        }
    }

    fn note_budget(&self, who: &str, headers: &HeaderMap) {
        if let Some(b) = RateBudget::from_headers(headers) {
            crate::metrics::github_rate_limit(who, b.remaining);
            self.budgets.lock().unwrap_or_else(|e| e.into_inner()).insert(who.to_string(), b);
        }
    }

    /// Whether a write took effect; `Some(answer-shaped value)` if so.
    async fn reread(&self, repo: &RepoName, r: &Reread<'_>) -> Result<Option<Value>> {
        match r {
            Reread::CheckRun { name, head_sha, external_id } => {
                let ours = self.our_check_runs(repo, name, head_sha, external_id).await?;
                Ok(ours.into_iter().min_by_key(|c| c["id"].as_u64().unwrap_or(u64::MAX)))
            }
            Reread::Comment { issue, body } => {
                let comments = self.comment_values(repo, *issue).await?;
                let bot = self.app_slug().await.map(|s| format!("{s}[bot]"));
                let by_us = |c: &Value| match &bot {
                    Some(b) => c.pointer("/user/login").and_then(Value::as_str) == Some(b.as_str()),
                    None => true,
                };
                Ok(match hidden_key(body) {
                    Some(key) => {
                        comments.into_iter().find(|c| by_us(c) && c["body"].as_str().is_some_and(|b| b.contains(key)))
                    }
                    None => comments.into_iter().next_back().filter(|c| by_us(c) && c["body"].as_str() == Some(*body)),
                })
            }
            Reread::Pull { head } => {
                let h = format!("{}:{}", repo.owner(), head);
                let path = format!("{}/pulls?state=open&head={}&per_page=10", repo_path(repo), encode_path(&h, false));
                let v = self.call(repo, Method::GET, &path, None).await?;
                Ok(v.as_array().and_then(|a| {
                    a.iter().find(|p| p.pointer("/head/ref").and_then(Value::as_str) == Some(*head)).cloned()
                }))
            }
            Reread::Issue { label, title, body } => {
                let path = match label {
                    Some(l) => {
                        format!("{}/issues?state=open&labels={}&per_page=100", repo_path(repo), encode_path(l, false))
                    }
                    None => format!("{}/issues?state=open&per_page=100", repo_path(repo)),
                };
                let v = self.call(repo, Method::GET, &path, None).await?;
                let key = hidden_key(body);
                Ok(v.as_array().and_then(|a| {
                    a.iter()
                        .find(|i| match key {
                            Some(k) => i["body"].as_str().is_some_and(|b| b.contains(k)),
                            None => i["title"].as_str() == Some(*title),
                        })
                        .cloned()
                }))
            }
            Reread::Ref { name, sha } => {
                let path =
                    format!("{}/git/ref/{}", repo_path(repo), encode_path(name.trim_start_matches("refs/"), true));
                match self.call(repo, Method::GET, &path, None).await {
                    Ok(v) if v.pointer("/object/sha").and_then(Value::as_str) == Some(*sha) => Ok(Some(v)),
                    Ok(_) => Err(GitHubError::Conflict(format!("{name} already exists at another commit"))),
                    Err(GitHubError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Reread::Merged { number } => {
                let v = self.call(repo, Method::GET, &format!("{}/pulls/{number}", repo_path(repo)), None).await?;
                Ok(match (v["merged"].as_bool(), v["merge_commit_sha"].as_str()) {
                    (Some(true), Some(sha)) => Some(json!({"sha": sha, "merged": true})),
                    _ => None,
                })
            }
            Reread::Enqueued { pull_id } => {
                let state = self.queue_state(repo, pull_id).await?;
                Ok((state.queued || state.merged)
                    .then(|| json!({"data": {"enqueuePullRequest": {"mergeQueueEntry": {"id": "(re-read)"}}}})))
            }
            Reread::File { branch, path, content } => {
                let url = format!(
                    "{}/contents/{}?ref={}",
                    repo_path(repo),
                    encode_path(path, true),
                    encode_path(branch, false)
                );
                let now = match self.call(repo, Method::GET, &url, None).await {
                    Ok(v) => Some(decode_content(&v, path)?),
                    Err(GitHubError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                if now.as_deref() != *content {
                    return Ok(None);
                }
                let hist = format!(
                    "{}/commits?sha={}&path={}&per_page=1",
                    repo_path(repo),
                    encode_path(branch, false),
                    encode_path(path, false)
                );
                let v = self.call(repo, Method::GET, &hist, None).await?;
                Ok(v.get(0).and_then(|c| c["sha"].as_str()).map(|sha| json!({"commit": {"sha": sha}})))
            }
        }
    }

    /// baton's check runs called `name` on `head_sha` with `external_id`, duplicates excluded.
    async fn our_check_runs(
        &self,
        repo: &RepoName,
        name: &str,
        head_sha: &str,
        external_id: &str,
    ) -> Result<Vec<Value>> {
        let path = format!(
            "{}/commits/{}/check-runs?check_name={}&filter=all&per_page=100",
            repo_path(repo),
            encode_path(head_sha, false),
            encode_path(name, false)
        );
        let v = self.call(repo, Method::GET, &path, None).await?;
        let slug = self.app_slug().await;
        Ok(v["check_runs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["external_id"].as_str() == Some(external_id))
                    .filter(|c| slug.is_none() || c.pointer("/app/slug").and_then(Value::as_str) == slug.as_deref())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Two replicas may create the same record at once: after creating, list baton's runs with
    /// this external id; the oldest (lowest id) is the record and every other one is neutralised
    /// (completed, neutral, external id marked as a duplicate, which readers skip). Every replica
    /// decides the same way, so they agree without talking to each other.
    async fn keep_oldest_check_run(
        &self,
        repo: &RepoName,
        check: &CheckRunWrite,
        external_id: &str,
        created: u64,
    ) -> Result<u64> {
        let ours = self.our_check_runs(repo, &check.name, &check.head_sha, external_id).await?;
        let ids: Vec<u64> = ours.iter().filter_map(|c| c["id"].as_u64()).collect();
        let oldest = ids.iter().copied().chain([created]).min().unwrap_or(created);
        for id in ids.iter().copied().chain([created]).filter(|id| *id != oldest) {
            tracing::info!(%repo, name = %check.name, duplicate = id, record = oldest, "neutralising a duplicate check run");
            let body = json!({
                "status": "completed",
                "conclusion": "neutral",
                "external_id": format!("{external_id}{DUPLICATE_SUFFIX}"),
                "output": {"title": "Duplicate", "summary": duplicate_summary(oldest)},
            });
            self.call(repo, Method::PATCH, &format!("{}/check-runs/{id}", repo_path(repo)), Some(body)).await?;
        }
        if oldest != created {
            // Another replica's run is the record: it gets what this one meant to write.
            self.update_check_run(repo, oldest, check).await?;
        }
        Ok(oldest)
    }

    /// Whether a pull request (node ID) is in its merge queue or merged (a GraphQL read).
    async fn queue_state(&self, repo: &RepoName, pull_id: &str) -> Result<merge_queue::QueueState> {
        let body = merge_queue::queue_state_body(pull_id);
        let v = self.call(repo, Method::POST, "/graphql", Some(body)).await?;
        merge_queue::parse_queue_state(&v).map_err(GitHubError::Other)
    }

    /// Two replicas may answer one command at once: after posting a keyed comment, list the
    /// issue's comments; the oldest of baton's comments with this key is the record and the
    /// others are deleted ([`crate::receipts::twins`]; every replica decides the same way).
    async fn keep_oldest_comment(&self, repo: &RepoName, number: u64, key: &str, created: u64) -> Result<u64> {
        let comments = self.comment_values(repo, number).await?;
        let bot = self.app_slug().await.map(|s| format!("{s}[bot]"));
        let ours = |author: &str| match &bot {
            Some(b) => author == b,
            None => author.ends_with("[bot]"),
        };
        let listed = comments.iter().filter_map(|c| {
            Some((c["id"].as_u64()?, c.pointer("/user/login").and_then(Value::as_str)?, c["body"].as_str()?))
        });
        let twins = crate::receipts::twins(key, created, listed, ours);
        for id in &twins.others {
            tracing::info!(%repo, issue = number, duplicate = id, record = twins.keep, "deleting a twin comment");
            match self.call(repo, Method::DELETE, &format!("{}/issues/comments/{id}", repo_path(repo)), None).await {
                // Deleted by the other replica already.
                Ok(_) | Err(GitHubError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(twins.keep)
    }

    /// Two replicas may open the same keyed issue at once (`baton:rejected` for one version):
    /// after opening, list the open issues with `label`; the oldest (lowest number) of baton's
    /// with this key is the record and the others are closed as duplicates.
    async fn keep_oldest_issue(&self, repo: &RepoName, label: &str, key: &str, created: u64) -> Result<u64> {
        let path = format!("{}/issues?state=open&labels={}&per_page=100", repo_path(repo), encode_path(label, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        let bot = self.app_slug().await.map(|s| format!("{s}[bot]"));
        let ours = |author: &str| match &bot {
            Some(b) => author == b,
            None => author.ends_with("[bot]"),
        };
        let listed = v.as_array().into_iter().flatten().filter_map(|i| {
            Some((i["number"].as_u64()?, i.pointer("/user/login").and_then(Value::as_str)?, i["body"].as_str()?))
        });
        let twins = crate::receipts::twins(key, created, listed, ours);
        for n in &twins.others {
            tracing::info!(%repo, duplicate = n, record = twins.keep, "closing a twin issue");
            let body = json!({"state": "closed", "state_reason": "duplicate"});
            self.call(repo, Method::PATCH, &format!("{}/issues/{n}", repo_path(repo)), Some(body)).await?;
        }
        Ok(twins.keep)
    }

    async fn comment_values(&self, repo: &RepoName, number: u64) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let path = format!("{}/issues/{number}/comments?per_page=100&page={page}", repo_path(repo));
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let n = list.len();
            out.extend(list);
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    /// The App's installations (`GET /app/installations`, 100 a page).
    async fn app_installations(&self) -> Result<Vec<Installation>> {
        if !self.is_app {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        for page in 1..=10 {
            let path = format!("/app/installations?per_page=100&page={page}");
            let v = self.run(&self.app_target(), Method::GET, &path, None, None).await?.value;
            let list = v.as_array().cloned().unwrap_or_default();
            for i in &list {
                if let (Some(id), Some(owner)) = (i["id"].as_u64(), i.pointer("/account/login").and_then(Value::as_str))
                {
                    let all_repositories = i["repository_selection"].as_str() == Some("all");
                    out.push(Installation { id, owner: owner.to_string(), all_repositories });
                }
            }
            if list.len() < 100 {
                break;
            }
        }
        Ok(out)
    }

    /// The client of an installation (cached per owner; octocrab fetches its token).
    fn installation_target(&self, inst: &Installation) -> Result<Target> {
        let mut map = self.installations.lock().unwrap_or_else(|e| e.into_inner());
        let crab = match map.get(&inst.owner) {
            Some(c) => c.clone(),
            None => {
                let c =
                    Arc::new(self.root.installation(inst.id.into()).map_err(|e| GitHubError::Other(e.to_string()))?);
                map.insert(inst.owner.clone(), c.clone());
                c
            }
        };
        Ok(Target { crab, who: inst.owner.clone() })
    }

    /// An installation's repositories by REST (`GET /installation/repositories`, 100 a page),
    /// each with whether it is archived.
    async fn listed_repositories(&self, target: &Target) -> Result<Vec<(RepoName, bool)>> {
        let mut out = Vec::new();
        for page in 1..=50 {
            let path = format!("/installation/repositories?per_page=100&page={page}");
            let v = self.run(target, Method::GET, &path, None, None).await?.value;
            let list = v["repositories"].as_array().cloned().unwrap_or_default();
            out.extend(list.iter().filter_map(|r| {
                let name = r["full_name"].as_str()?.parse::<RepoName>().ok()?;
                Some((name, r["archived"].as_bool().unwrap_or(false)))
            }));
            // `total_count` saves the empty page after a full last one.
            let total = v["total_count"].as_u64().map_or(usize::MAX, |t| t as usize);
            if list.len() < 100 || out.len() >= total {
                break;
            }
        }
        Ok(out)
    }
}

/// One installation of the App, as `GET /app/installations` lists it.
struct Installation {
    id: u64,
    owner: String,
    /// `repository_selection: all`: every repository of the owner, present and future.
    all_repositories: bool,
}

impl Reread<'_> {
    fn is_create(&self) -> bool {
        matches!(
            self,
            Reread::CheckRun { .. }
                | Reread::Comment { .. }
                | Reread::Pull { .. }
                | Reread::Issue { .. }
                | Reread::Ref { .. }
                | Reread::Enqueued { .. }
        )
    }
}

/// Whether a transport error happened before the request was sent (so it cannot have been
/// applied): hyper's "connect" errors (refused, DNS, TLS handshake).
fn is_connect_error(e: &octocrab::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = src {
        if let Some(h) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
            return h.is_connect();
        }
        src = err.source();
    }
    false
}

fn decode_content(v: &Value, path: &str) -> Result<String> {
    if v["type"].as_str() != Some("file") {
        return Err(GitHubError::NotFound(format!("{path} is not a file")));
    }
    let content = v["content"].as_str().unwrap_or_default().replace(['\n', '\r'], "");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|e| GitHubError::Other(format!("{path}: content is not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| GitHubError::Other(format!("{path} is not UTF-8 text")))
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
        node_id: v["node_id"].as_str().unwrap_or_default().to_string(),
    })
}

#[async_trait]
impl GitHub for AppClient {
    fn rate_budget(&self, owner: &str) -> Option<RateBudget> {
        self.budgets.lock().unwrap_or_else(|e| e.into_inner()).get(owner).copied()
    }

    async fn app_slug(&self) -> Option<String> {
        if !self.is_app {
            return None;
        }
        self.slug
            .get_or_init(|| async {
                match self.run(&self.app_target(), Method::GET, "/app", None, None).await {
                    Ok(a) => a.value["slug"].as_str().map(str::to_string),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the App's slug");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// 100 repositories per GraphQL query, one batch per installation owner (an installation
    /// token sees only its own repositories).
    async fn pipeline_files(
        &self,
        repos: &[RepoName],
        path: &str,
    ) -> Result<Vec<(RepoName, crate::index::RepoPipeline)>> {
        use crate::index::graphql;
        let mut by_owner: std::collections::BTreeMap<&str, Vec<RepoName>> = Default::default();
        for r in repos {
            by_owner.entry(r.owner()).or_default().push(r.clone());
        }
        let mut out = Vec::with_capacity(repos.len());
        for batch in by_owner.values().flat_map(|v| v.chunks(graphql::REPOS_PER_QUERY)) {
            // A query: repeating it is harmless.
            let body = serde_json::json!({ "query": graphql::query(batch, path) });
            let answer = self.call(&batch[0], Method::POST, "/graphql", Some(body)).await?;
            out.extend(graphql::parse(batch, &answer).map_err(GitHubError::Other)?);
        }
        Ok(out)
    }

    async fn installed_repositories(&self) -> Result<Vec<RepoName>> {
        let mut out = Vec::new();
        for inst in self.app_installations().await? {
            let target = self.installation_target(&inst)?;
            out.extend(self.listed_repositories(&target).await?.into_iter().map(|(r, _)| r));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// An installation on all of an owner's repositories: one paginated GraphQL query lists them
    /// with their file (100 a page). On selected repositories: the REST listing, then the files
    /// (100 a query).
    async fn installed_pipelines(&self, path: &str) -> Result<Vec<(RepoName, crate::index::RepoPipeline)>> {
        use crate::index::{graphql, RepoPipeline};
        let mut out = Vec::new();
        for inst in self.app_installations().await? {
            let target = self.installation_target(&inst)?;
            if inst.all_repositories {
                let query = graphql::listing_query(path);
                let mut after: Option<String> = None;
                // 1,000 pages of 100: far beyond any organisation; a cursor that never ends stops.
                for _ in 0..1_000 {
                    let body =
                        json!({"query": query, "variables": graphql::listing_variables(&inst.owner, after.as_deref())});
                    // A query: repeating it is harmless.
                    let answer = self.run(&target, Method::POST, "/graphql", Some(&body), None).await?.value;
                    let page = graphql::parse_listing(&answer)
                        .map_err(|e| GitHubError::Other(format!("listing {}'s repositories: {e}", inst.owner)))?;
                    out.extend(page.repos);
                    match page.next {
                        Some(cursor) => after = Some(cursor),
                        None => break,
                    }
                }
            } else {
                let listed = self.listed_repositories(&target).await?;
                let (archived, live): (Vec<_>, Vec<_>) = listed.into_iter().partition(|(_, archived)| *archived);
                let live: Vec<RepoName> = live.into_iter().map(|(r, _)| r).collect();
                out.extend(self.pipeline_files(&live, path).await?);
                // Archived repositories cannot be written to: no pipeline.
                out.extend(
                    archived.into_iter().map(|(r, _)| (r, RepoPipeline::Found { default_branch: None, file: None })),
                );
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
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
        let text = decode_content(&v, path)?;
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
        // Git objects are content-addressed (a repeated tree is the same object; a repeated
        // commit is an unreferenced twin), so these POSTs are simply retried.
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
        let name = format!("refs/heads/{branch}");
        self.write(
            repo,
            Method::POST,
            &format!("{}/git/refs", repo_path(repo)),
            json!({"ref": name, "sha": sha}),
            Reread::Ref { name: &name, sha },
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
        let a = self
            .write(
                repo,
                Method::POST,
                &format!("{}/pulls", repo_path(repo)),
                json!({"head": pr.head, "base": pr.base, "title": pr.title, "body": pr.body, "maintainer_can_modify": false}),
                Reread::Pull { head: &pr.head },
            )
            .await?;
        pull_from_json(&a.value)
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
        // Adding labels is naturally idempotent (GitHub keeps one of each), so it is retried.
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
        // With the head sha a repeat cannot merge anything else; if the repeat is refused after
        // a lost answer, the PR is read: merged means the first attempt did it.
        let a = self
            .write(
                repo,
                Method::PUT,
                &format!("{}/pulls/{number}/merge", repo_path(repo)),
                json!({
                    "sha": head_sha,
                    "merge_method": "squash",
                    "commit_title": title,
                    "commit_message": body.trim_start_matches('\n'),
                }),
                Reread::Merged { number },
            )
            .await?;
        str_field(&a.value, "/sha")
    }

    async fn commit_pulls(&self, repo: &RepoName, sha: &str) -> Result<Vec<PullRequest>> {
        let path = format!("{}/commits/{}/pulls", repo_path(repo), encode_path(sha, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        v.as_array().map(|a| a.iter().map(pull_from_json).collect()).unwrap_or_else(|| Ok(vec![]))
    }

    async fn compare(&self, repo: &RepoName, base: &str, head: &str) -> Result<Comparison> {
        let path = format!(
            "{}/compare/{}...{}?per_page=100",
            repo_path(repo),
            encode_path(base, false),
            encode_path(head, false)
        );
        let v = self.call(repo, Method::GET, &path, None).await?;
        let commits = v["commits"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        Some(ComparedCommit {
                            sha: c["sha"].as_str()?.to_string(),
                            message: c
                                .pointer("/commit/message")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            author: c
                                .pointer("/commit/author/name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        Ok(Comparison {
            status: v["status"].as_str().unwrap_or_default().to_string(),
            total_commits: v["total_commits"].as_u64().unwrap_or(commits.len() as u64),
            behind_by: v["behind_by"].as_u64().unwrap_or(0),
            commits,
        })
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
        Ok(commit_infos(&v))
    }

    async fn workflow_runs(
        &self,
        repo: &RepoName,
        file: &str,
        branch: &str,
        since: &str,
    ) -> Result<Vec<WorkflowRunInfo>> {
        // `created` takes GitHub's search syntax (`>=…`), which its OpenAPI description types as
        // a plain date-time: filter on `created_at` here instead (newest runs come first).
        let path = format!(
            "{}/actions/workflows/{}/runs?event=workflow_dispatch&branch={}&per_page=100",
            repo_path(repo),
            encode_path(file, false),
            encode_path(branch, false),
        );
        let since = chrono::DateTime::parse_from_rfc3339(since).ok();
        let v = self.call(repo, Method::GET, &path, None).await?;
        Ok(v["workflow_runs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        Some(WorkflowRunInfo {
                            id: r["id"].as_u64()?,
                            head_sha: r["head_sha"].as_str().unwrap_or_default().to_string(),
                            event: r["event"].as_str().unwrap_or_default().to_string(),
                            status: r["status"].as_str().unwrap_or_default().to_string(),
                            conclusion: r["conclusion"].as_str().map(str::to_string),
                            display_title: r["display_title"].as_str().unwrap_or_default().to_string(),
                            created_at: r["created_at"].as_str().map(str::to_string),
                        })
                    })
                    .filter(|r| {
                        let at = r.created_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                        match (at, since) {
                            (Some(at), Some(since)) => at >= since,
                            _ => true,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn dispatch_workflow(
        &self,
        repo: &RepoName,
        file: &str,
        git_ref: &str,
        inputs: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let path = format!("{}/actions/workflows/{}/dispatches", repo_path(repo), encode_path(file, false));
        let body = json!({"ref": git_ref, "inputs": inputs, "return_run_details": true});
        self.call(repo, Method::POST, &path, Some(body)).await.map(|_| ())
    }

    async fn branch_commits(&self, repo: &RepoName, branch: &str, limit: u32) -> Result<Vec<CommitInfo>> {
        let url =
            format!("{}/commits?sha={}&per_page={}", repo_path(repo), encode_path(branch, false), limit.clamp(1, 100));
        let v = self.call(repo, Method::GET, &url, None).await?;
        Ok(commit_infos(&v))
    }

    async fn create_status(
        &self,
        repo: &RepoName,
        sha: &str,
        state: StatusState,
        context: &str,
        description: &str,
    ) -> Result<()> {
        let description: String = description.chars().take(140).collect();
        let body = json!({"state": state.as_str(), "context": context, "description": description});
        let path = format!("{}/statuses/{}", repo_path(repo), encode_path(sha, false));
        self.call(repo, Method::POST, &path, Some(body)).await.map(|_| ())
    }

    async fn create_check_run(&self, repo: &RepoName, check: &CheckRunWrite) -> Result<u64> {
        let external_id = check_external_id(&check.name, &check.head_sha);
        let mut body = check_body(check);
        body["name"] = json!(check.name);
        body["head_sha"] = json!(check.head_sha);
        body["external_id"] = json!(external_id);
        let reread = Reread::CheckRun { name: &check.name, head_sha: &check.head_sha, external_id: &external_id };
        let a = self.write(repo, Method::POST, &format!("{}/check-runs", repo_path(repo)), body, reread).await?;
        let id = a.value["id"].as_u64().ok_or_else(|| GitHubError::Other("check run without id".into()))?;
        self.keep_oldest_check_run(repo, check, &external_id, id).await
    }

    async fn update_check_run(&self, repo: &RepoName, id: u64, check: &CheckRunWrite) -> Result<()> {
        let body = check_body(check);
        self.call(repo, Method::PATCH, &format!("{}/check-runs/{id}", repo_path(repo)), Some(body)).await.map(|_| ())
    }

    async fn check_runs(&self, repo: &RepoName, sha: &str, name: Option<&str>) -> Result<Vec<CheckRunInfo>> {
        // `filter=all`, then the newest per (name, app) as GitHub's default `latest` gives, but
        // without neutralised duplicates (two replicas created the same record; the oldest is
        // the record, and `latest` would show the duplicate instead).
        let mut out: Vec<CheckRunInfo> = Vec::new();
        for page in 1..=10 {
            let mut path = format!(
                "{}/commits/{}/check-runs?filter=all&per_page=100&page={page}",
                repo_path(repo),
                encode_path(sha, false)
            );
            if let Some(n) = name {
                path.push_str(&format!("&check_name={}", encode_path(n, false)));
            }
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v["check_runs"].as_array().cloned().unwrap_or_default();
            let n = list.len();
            let live =
                list.iter().filter(|c| !c["external_id"].as_str().is_some_and(|x| x.ends_with(DUPLICATE_SUFFIX)));
            out.extend(live.filter_map(|c| {
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
        Ok(latest_per_name(out))
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
        let a = self
            .write(
                repo,
                Method::POST,
                &format!("{}/issues/{number}/comments", repo_path(repo)),
                json!({"body": body}),
                Reread::Comment { issue: number, body },
            )
            .await?;
        let id = a.value["id"].as_u64().ok_or_else(|| GitHubError::Other("comment without id".into()))?;
        match hidden_key(body) {
            Some(key) => self.keep_oldest_comment(repo, number, key, id).await,
            None => Ok(id),
        }
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

    async fn recent_comments(&self, repo: &RepoName, since: &str) -> Result<Vec<RepoComment>> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let path = format!(
                "{}/issues/comments?since={}&sort=created&direction=asc&per_page=100&page={page}",
                repo_path(repo),
                encode_path(since, false)
            );
            let v = self.call(repo, Method::GET, &path, None).await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let n = list.len();
            out.extend(list.iter().filter_map(|c| {
                let issue_number = c["issue_url"].as_str()?.rsplit('/').next()?.parse().ok()?;
                Some(RepoComment {
                    id: c["id"].as_u64()?,
                    issue_number,
                    body: c["body"].as_str().unwrap_or_default().to_string(),
                    author: c.pointer("/user/login").and_then(Value::as_str).unwrap_or_default().to_string(),
                    created_at: c["created_at"].as_str().map(str::to_string),
                })
            }));
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    async fn react(&self, repo: &RepoName, comment_id: u64, content: &str) -> Result<bool> {
        // GitHub answers 201 for a new reaction and 200 when this App had already reacted so:
        // naturally idempotent, so it is retried. When an earlier attempt lost its answer, a 200
        // may be our own reaction, so it counts as new (dropping a command is worse than
        // answering it twice; commands dedupe on their outcome, not on this).
        let t = self.target(repo).await?;
        let path = format!("{}/issues/comments/{comment_id}/reactions", repo_path(repo));
        let a = self.run(&t, Method::POST, &path, Some(&json!({"content": content})), None).await?;
        Ok(a.status == StatusCode::CREATED || a.lost_before)
    }

    async fn requires_merge_queue(&self, repo: &RepoName, branch: &str) -> Result<bool> {
        let path = format!("{}/rules/branches/{}", repo_path(repo), encode_path(branch, false));
        let v = self.call(repo, Method::GET, &path, None).await?;
        Ok(merge_queue::requires_queue(&v))
    }

    async fn enqueue_pull(&self, repo: &RepoName, pull_id: &str, head_sha: &str) -> Result<()> {
        // A mutation creates a queue entry: after a lost answer it is re-read (is the pull
        // request queued?) before it is repeated, so it is never queued twice.
        let body = merge_queue::enqueue_body(pull_id, head_sha);
        let a = self.write(repo, Method::POST, "/graphql", body, Reread::Enqueued { pull_id }).await?;
        let (kind, message) = match merge_queue::parse_enqueue(&a.value) {
            merge_queue::Enqueued::Entry(_) => return Ok(()),
            merge_queue::Enqueued::Refused { kind, message } => (kind, message),
        };
        // GitHub refuses to queue a pull request that is queued already: that is success.
        let state = self.queue_state(repo, pull_id).await?;
        if state.queued || state.merged {
            tracing::info!(%repo, pull_id, "the pull request was in the merge queue already");
            return Ok(());
        }
        let msg = format!("enqueuePullRequest: {message}");
        Err(match kind.as_str() {
            "FORBIDDEN" => GitHubError::Forbidden(msg),
            "NOT_FOUND" => GitHubError::NotFound(msg),
            _ => GitHubError::Conflict(msg),
        })
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
        let a = self
            .write(
                repo,
                Method::POST,
                &format!("{}/issues", repo_path(repo)),
                json!({"title": title, "body": body, "labels": labels}),
                Reread::Issue { label: labels.first().map(String::as_str), title, body },
            )
            .await?;
        let number = a.value["number"].as_u64().ok_or_else(|| GitHubError::Other("issue without number".into()))?;
        match (hidden_key(body), labels.first()) {
            (Some(key), Some(label)) => self.keep_oldest_issue(repo, label, key, number).await,
            _ => Ok(number),
        }
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
        let url = format!("{}/contents/{}", repo_path(repo), encode_path(path, true));
        let a =
            self.write(repo, Method::PUT, &url, body, Reread::File { branch, path, content: Some(content) }).await?;
        str_field(&a.value, "/commit/sha")
    }

    async fn delete_file(&self, repo: &RepoName, branch: &str, path: &str, sha: &str, message: &str) -> Result<String> {
        let a = self
            .write(
                repo,
                Method::DELETE,
                &format!("{}/contents/{}", repo_path(repo), encode_path(path, true)),
                json!({"message": message, "sha": sha, "branch": branch}),
                Reread::File { branch, path, content: None },
            )
            .await?;
        str_field(&a.value, "/commit/sha")
    }
}

fn changed_file(f: &Value) -> Option<ChangedFile> {
    Some(ChangedFile {
        filename: f["filename"].as_str()?.to_string(),
        status: f["status"].as_str().unwrap_or_default().to_string(),
        previous_filename: f["previous_filename"].as_str().map(str::to_string),
    })
}

/// The newest check run per (name, app), in the order first seen: what GitHub's `filter=latest`
/// returns.
fn latest_per_name(runs: Vec<CheckRunInfo>) -> Vec<CheckRunInfo> {
    let mut out: Vec<CheckRunInfo> = Vec::new();
    for r in runs {
        match out.iter_mut().find(|o| o.name == r.name && o.app_slug == r.app_slug) {
            Some(o) if r.id > o.id => *o = r,
            Some(_) => {}
            None => out.push(r),
        }
    }
    out
}

/// The summary of a neutralised duplicate check run.
fn duplicate_summary(record: u64) -> String {
    format!(
        "Two baton replicas recorded this at the same time; check run {record} is the record and this one is ignored."
    )
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

/// `GET …/commits` answers → commits, newest first.
fn commit_infos(v: &Value) -> Vec<CommitInfo> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some(CommitInfo {
                        sha: c["sha"].as_str()?.to_string(),
                        message: c.pointer("/commit/message").and_then(Value::as_str).unwrap_or_default().to_string(),
                        date: c.pointer("/commit/committer/date").and_then(Value::as_str).map(str::to_string),
                        parents: c["parents"]
                            .as_array()
                            .map(|p| p.iter().filter_map(|x| x["sha"].as_str().map(str::to_string)).collect())
                            .unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
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
    fn latest_check_run_per_name_and_app() {
        let run = |id: u64, name: &str, app: &str| CheckRunInfo {
            id,
            name: name.into(),
            head_sha: "s".into(),
            status: CheckStatus::Completed,
            conclusion: None,
            app_slug: Some(app.into()),
            completed_at: None,
            started_at: None,
            summary: None,
        };
        let got = latest_per_name(vec![
            run(5, "ci", "actions"),
            run(9, "ci", "actions"),
            run(7, "ci", "other"),
            run(3, "ci", "actions"),
        ]);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![9, 7]);
    }

    #[test]
    fn duplicate_check_run_summary() {
        insta::assert_snapshot!(duplicate_summary(4242));
    }

    #[test]
    fn hidden_keys_and_external_ids() {
        assert_eq!(hidden_key("Done.\n\n<!-- baton:reply:77 -->"), Some("<!-- baton:reply:77 -->"));
        assert_eq!(
            hidden_key("<!-- baton:{\"a\":1} -->\ntext <!-- baton-rejected:x@sha256:ab -->"),
            Some("<!-- baton-rejected:x@sha256:ab -->"),
            "the last marker is the key"
        );
        assert_eq!(hidden_key("no marker <!-- other -->"), None);
        assert_eq!(hidden_key("<!-- baton:open"), None);
        assert_eq!(check_external_id("baton/verified/dev", "abc"), "baton:baton/verified/dev@abc");
    }

    #[test]
    fn rate_budget_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(RateBudget::from_headers(&h), None, "unknown until GitHub says");
        h.insert("x-ratelimit-remaining", "4990".parse().unwrap());
        h.insert("x-ratelimit-limit", "5000".parse().unwrap());
        assert_eq!(RateBudget::from_headers(&h), None, "needs the reset too");
        h.insert("x-ratelimit-reset", "1700000000".parse().unwrap());
        assert_eq!(
            RateBudget::from_headers(&h),
            Some(RateBudget { remaining: 4990, limit: 5000, reset_at: 1_700_000_000 })
        );
        h.insert("x-ratelimit-resource", "search".parse().unwrap());
        assert_eq!(RateBudget::from_headers(&h), None, "other resources are other budgets");
    }

    #[test]
    fn path_encoding() {
        assert_eq!(encode_path("clusters/prod/my app.yaml", true), "clusters/prod/my%20app.yaml");
        assert_eq!(encode_path("o:baton/dev/x", false), "o%3Abaton%2Fdev%2Fx");
    }
}
