//! A stateful fake GitHub for baton's tests, in the spirit of rust-lang/bors' test harness: an
//! in-memory model of repositories (real-looking git objects, refs), pull requests, issues,
//! comments, reactions, labels, check runs/suites, statuses, permissions and teams, served over
//! HTTP with GitHub's REST shapes and App authentication, and sending signed webhooks for every
//! state change — whoever made it (baton through the API, or the test acting as a human/CI).
//!
//! ```ignore
//! let gh = FakeGitHub::start().await;
//! gh.add_repo("org/deploy", "main", &[(".baton.yaml", "...")]);
//! gh.set_webhook_target(&format!("{baton_url}webhooks/github"), "secret");
//! gh.comment("org/deploy", 1, "alice", "/promote prod").await;
//! gh.wait_deliveries_idle(Duration::from_secs(5)).await;
//! ```
#![allow(dead_code, unused_imports)]

pub mod actions;
mod faults;
pub mod graphql;
mod org;
mod payloads;
mod routes;
mod sha1;
mod state;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use faults::{Fault, FaultMode, PathMatch};
use state::{CheckInput, State};
pub use webhooks::{sign, Delivery};

type Validator = dyn Fn(&str, &str, Option<&Value>) -> Result<(), String> + Send + Sync;

pub(crate) struct Shared {
    state: Mutex<State>,
    dispatcher: Mutex<webhooks::Dispatcher>,
    validator: Mutex<Option<Arc<Validator>>>,
}

impl Shared {
    /// Runs `f` on the state and hands the events it produced to the dispatcher, in order,
    /// before anyone else can change the state.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let r = f(&mut s);
        let events: Vec<_> = s.outbox.drain(..).collect();
        if !events.is_empty() {
            let mut d = self.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
            for ev in events {
                d.enqueue(ev);
            }
        }
        r
    }
}

struct Handle {
    shared: Arc<Shared>,
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.server.abort();
        let d = self.shared.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
        for h in &d.handles {
            h.abort();
        }
    }
}

/// Handle on a running fake; clones share it, the server stops when the last one is dropped.
#[derive(Clone)]
pub struct FakeGitHub {
    inner: Arc<Handle>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Option<Value>,
    pub status: u16,
    /// The injected fault that shaped this answer, if any.
    pub fault: Option<FaultMode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub parents: Vec<String>,
    /// path → content
    pub tree: BTreeMap<String, String>,
    pub author_name: String,
    pub author_email: String,
    pub committer_name: String,
    /// The GitHub login the commit is attributed to, if any.
    pub login: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    /// "open" | "closed"
    pub state: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<String>,
    pub labels: Vec<String>,
    pub author: String,
    pub draft: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub labels: Vec<String>,
    pub author: String,
    pub is_pull_request: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub author: String,
    pub edited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunAction {
    pub label: String,
    pub description: String,
    pub identifier: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub app_slug: String,
    pub external_id: Option<String>,
    pub details_url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub actions: Vec<CheckRunAction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub sha: String,
    pub context: String,
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

/// Request counters (see [`FakeGitHub::request_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    pub all: u64,
    pub counted: u64,
    pub not_modified: u64,
}

/// What a rate-limited answer looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Secondary limit: 429 with `retry-after: secs`.
    RetryAfter(u64),
    /// Primary limit: 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` in `reset_in_secs`.
    PrimaryExhausted { reset_in_secs: u64 },
}

/// jsonwebtoken 10 is built with both `rust_crypto` and `aws_lc_rs` in this workspace (sigstore
/// pulls in the latter), so it cannot pick a provider itself and panics on the first JWT. baton's
/// own code must install one before signing App JWTs; tests that sign JWTs themselves call this.
/// (Deliberately not called by `start()`, so a missing install in baton still shows up.)
pub fn install_jwt_crypto_provider() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

fn file_pairs(files: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    files.iter().map(|(p, c)| (p.to_string(), c.map(str::to_string))).collect()
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake github");
        let addr = listener.local_addr().expect("local addr");
        let url = format!("http://{addr}/");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(url.clone())),
            dispatcher: Mutex::new(webhooks::Dispatcher::new(tokio::runtime::Handle::current())),
            validator: Mutex::new(None),
        });
        let server = tokio::spawn(routes::serve(listener, shared.clone()));
        FakeGitHub { inner: Arc::new(Handle { shared, url, server }) }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.inner.shared.with(f)
    }

    /// `http://127.0.0.1:PORT/`: the API base URL for baton.
    pub fn url(&self) -> String {
        self.inner.url.clone()
    }

    // ------------------------------------------------------------------ wiring

    pub fn set_webhook_target(&self, url: &str, secret: &str) {
        self.inner.shared.dispatcher.lock().unwrap().set_target(url, secret);
    }

    /// Also delivers every webhook to `url` (a second replica), at the same time as to the target.
    /// Loses every later delivery of these webhook events (recorded as failed, never sent), as
    /// a GitHub outage or a network problem does; `&[]` stops losing them.
    pub fn lose_webhooks(&self, events: &[&str]) {
        self.inner.shared.dispatcher.lock().unwrap().lose(events);
    }

    pub fn add_webhook_mirror(&self, url: &str) {
        self.inner.shared.dispatcher.lock().unwrap().add_mirror(url);
    }

    pub fn set_request_validator(
        &self,
        f: impl Fn(&str, &str, Option<&Value>) -> Result<(), String> + Send + Sync + 'static,
    ) {
        *self.inner.shared.validator.lock().unwrap() = Some(Arc::new(f));
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with(|s| {
            s.requests
                .iter()
                .map(|r| RecordedRequest {
                    method: r.method.clone(),
                    path: r.path.clone(),
                    query: r.query.clone(),
                    body: r.body.clone(),
                    status: r.status,
                    fault: r.fault,
                })
                .collect()
        })
    }

    /// Requests whose method matches and whose path starts with `path_prefix`.
    pub fn count_requests(&self, method: &str, path_prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.starts_with(path_prefix))
            .count()
    }

    /// Requests that changed something (not GET), excluding token creation.
    pub fn write_requests(&self) -> Vec<RecordedRequest> {
        // GraphQL queries are POSTs but read; a mutation writes.
        let mutation = |r: &RecordedRequest| {
            r.body.as_ref().and_then(|b| b["query"].as_str()).is_some_and(|q| q.trim_start().starts_with("mutation"))
        };
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET" && !r.path.starts_with("/app/") && (r.path != "/graphql" || mutation(r)))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear())
    }

    // ------------------------------------------------------------------ builders

    /// Creates a repository with one initial commit holding `files` on `default_branch`, and the
    /// App's installation on its owner (one per owner). Returns the initial commit sha.
    pub fn add_repo(&self, full_name: &str, default_branch: &str, files: &[(&str, &str)]) -> String {
        let (owner, name) = full_name.split_once('/').expect("owner/name");
        self.with(|s| {
            s.ensure_user(owner);
            s.installation_for_owner(owner);
            let id = 700_000 + s.repos.len() as u64 + 1;
            let now = s.now();
            s.repos.insert(
                full_name.to_string(),
                state::Repo {
                    id,
                    owner: owner.to_string(),
                    name: name.to_string(),
                    default_branch: default_branch.to_string(),
                    created_at: now,
                    commits: Default::default(),
                    blobs: Default::default(),
                    trees: Default::default(),
                    refs: Default::default(),
                    issues: Default::default(),
                    labels: Default::default(),
                    statuses: Default::default(),
                    permissions: BTreeMap::from([(owner.to_string(), "admin".to_string())]),
                    delete_branch_on_merge: false,
                },
            );
            let contents: BTreeMap<String, String> =
                files.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect();
            let repo = s.repos.get_mut(full_name).unwrap();
            let tree = State::put_tree_contents(repo, &contents);
            let user = s.git_user_for(owner);
            let sha = s.put_commit(full_name, &tree, vec![], "Initial commit", user.clone(), user, Some(owner.into()));
            s.repos.get_mut(full_name).unwrap().refs.insert(format!("refs/heads/{default_branch}"), sha.clone());
            sha
        })
    }

    pub fn installation_id(&self, owner: &str) -> u64 {
        self.with(|s| s.installation_for_owner(owner))
    }

    pub fn add_user(&self, login: &str) {
        self.with(|s| {
            s.ensure_user(login);
        })
    }

    /// `admin|maintain|write|triage|read|none`.
    pub fn set_permission(&self, repo: &str, login: &str, perm: &str) {
        assert!(["admin", "maintain", "write", "triage", "read", "none"].contains(&perm), "bad permission {perm}");
        self.with(|s| {
            s.ensure_user(login);
            s.repos.get_mut(repo).expect("repo").permissions.insert(login.into(), perm.into());
        })
    }

    pub fn add_team(&self, org: &str, slug: &str, members: &[&str]) {
        self.with(|s| {
            for m in members {
                s.ensure_user(m);
            }
            s.teams.insert((org.to_string(), slug.to_string()), members.iter().map(|m| m.to_string()).collect());
        })
    }

    /// The App identity: JWTs must carry `iss = app_id`; its bot user is `<slug>[bot]`.
    pub fn set_app(&self, app_id: u64, app_slug: &str) {
        self.with(|s| {
            s.apps.remove(&s.app_slug.clone());
            s.app_id = app_id;
            s.app_slug = app_slug.to_string();
            s.apps.insert(app_slug.to_string(), app_id);
            let bot = s.bot_login();
            s.ensure_user(&bot);
        });
        self.inner.shared.dispatcher.lock().unwrap().set_app_id(app_id);
    }

    pub fn bot_login(&self) -> String {
        self.with(|s| s.bot_login())
    }

    /// GitHub's "Automatically delete head branches" setting.
    pub fn set_delete_branch_on_merge(&self, repo: &str, on: bool) {
        self.with(|s| s.repos.get_mut(repo).expect("repo").delete_branch_on_merge = on)
    }

    /// Moves the fake's clock (timestamps of everything created afterwards, token expiry).
    pub fn advance_clock(&self, by: Duration) {
        self.with(|s| s.clock_offset += chrono::Duration::from_std(by).expect("duration"))
    }

    /// Makes every issued installation token invalid (as if expired).
    pub fn expire_tokens(&self) {
        self.with(|s| s.tokens.clear())
    }

    // ------------------------------------------------------------------ actors

    /// A commit by `author` on `branch` (created from the default branch if missing), `None`
    /// deleting a file. Sends `push` (and `pull_request` synchronize for PRs with that head).
    pub async fn push_commit(
        &self,
        repo: &str,
        branch: &str,
        author: &str,
        message: &str,
        files: &[(&str, Option<&str>)],
    ) -> String {
        let files = file_pairs(files);
        self.with(|s| {
            let r = s.repo(repo).expect("repo");
            let refname = format!("refs/heads/{branch}");
            if !r.refs.contains_key(&refname) {
                let def = r.refs[&format!("refs/heads/{}", r.default_branch)].clone();
                s.set_ref(repo, &refname, Some(&def), author, false);
            }
            s.commit_files(repo, branch, author, message, &files).expect("push commit")
        })
    }

    /// Creates `branch` at `sha` (or the default branch's tip) as `by`, without a new commit.
    pub async fn create_branch(&self, repo: &str, branch: &str, sha: Option<&str>, by: &str) {
        self.with(|s| {
            let r = s.repo(repo).expect("repo");
            let sha =
                sha.map(str::to_string).unwrap_or_else(|| r.refs[&format!("refs/heads/{}", r.default_branch)].clone());
            s.set_ref(repo, &format!("refs/heads/{branch}"), Some(&sha), by, false);
        })
    }

    /// Force-moves (or deletes) a branch as `by`.
    pub async fn force_push(&self, repo: &str, branch: &str, sha: Option<&str>, by: &str) {
        self.with(|s| s.set_ref(repo, &format!("refs/heads/{branch}"), sha, by, true))
    }

    pub async fn open_pr(
        &self,
        repo: &str,
        author: &str,
        head_branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> u64 {
        self.with(|s| {
            s.open_pull(repo, author, head_branch, base, title, Some(body), false).map_err(|e| e.1).expect("open pr")
        })
    }

    pub async fn close_pr(&self, repo: &str, number: u64, by: &str) {
        self.with(|s| {
            let now = s.now();
            let i = s.repos.get_mut(repo).expect("repo").issues.get_mut(&number).expect("pr");
            i.state = "closed".into();
            i.closed_at = Some(now);
            s.emit_pull(repo, number, "closed", by, serde_json::json!({}));
        })
    }

    pub async fn create_issue(&self, repo: &str, author: &str, title: &str, body: &str) -> u64 {
        self.with(|s| routes::create_issue(s, repo, author, title, Some(body), &[])).expect("create issue")
    }

    pub async fn comment(&self, repo: &str, issue_number: u64, author: &str, body: &str) -> u64 {
        self.with(|s| s.add_comment(repo, issue_number, author, body)).map_err(|e| e.1).expect("comment")
    }

    pub async fn edit_comment(&self, comment_id: u64, by: &str, body: &str) {
        self.with(|s| s.edit_comment(comment_id, body, by)).map_err(|e| e.1).expect("edit comment")
    }

    pub async fn add_labels(&self, repo: &str, number: u64, by: &str, labels: &[&str]) {
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        self.with(|s| s.add_labels(repo, number, &labels, by)).map_err(|e| e.1).expect("labels")
    }

    /// A commit status by `creator` (default "ci-bot"); sends `status`.
    pub async fn post_status(&self, repo: &str, sha: &str, context: &str, state: &str) {
        self.with(|s| s.add_status(repo, sha, state, context, None, None, "ci-bot")).map_err(|e| e.1).expect("status");
    }

    /// A completed check run from another App (e.g. "github-actions"); sends `check_run`
    /// created + completed and `check_suite` completed once all runs of the suite are done.
    pub async fn post_check_run(&self, repo: &str, sha: &str, name: &str, conclusion: &str, app_slug: &str) -> u64 {
        let input = CheckInput {
            name: Some(name.into()),
            head_sha: Some(sha.into()),
            status: Some("completed".into()),
            conclusion: Some(conclusion.into()),
            ..Default::default()
        };
        self.with(|s| {
            s.app_id_for(app_slug);
            let sender = format!("{app_slug}[bot]");
            s.create_check_run(repo, app_slug, input, &sender)
        })
        .map_err(|e| e.1)
        .expect("check run")
    }

    /// A check run from another App that is still running (`in_progress`).
    pub async fn start_check_run(&self, repo: &str, sha: &str, name: &str, app_slug: &str) -> u64 {
        let input = CheckInput {
            name: Some(name.into()),
            head_sha: Some(sha.into()),
            status: Some("in_progress".into()),
            ..Default::default()
        };
        self.with(|s| s.create_check_run(repo, app_slug, input, &format!("{app_slug}[bot]")))
            .map_err(|e| e.1)
            .expect("check run")
    }

    /// Completes a check run started by another App.
    pub async fn complete_check_run(&self, repo: &str, id: u64, conclusion: &str) {
        self.with(|s| {
            let slug = s.check_runs[&id].app_slug.clone();
            let input = CheckInput { conclusion: Some(conclusion.into()), ..Default::default() };
            s.update_check_run(repo, id, &slug, input, &format!("{slug}[bot]"))
        })
        .map_err(|e| e.1)
        .expect("complete check run")
    }

    /// Merges as a human would with the button (merge method `squash`).
    pub async fn merge_pr(&self, repo: &str, number: u64, by: &str) -> String {
        self.merge_pr_with(repo, number, by, "squash").await
    }

    pub async fn merge_pr_with(&self, repo: &str, number: u64, by: &str, method: &str) -> String {
        self.with(|s| s.merge_pull(repo, number, by, None, method, None, None)).map_err(|e| e.1).expect("merge pr")
    }

    /// "Re-run" on a check run: `check_run` rerequested (only sent when the run is the App's own,
    /// like GitHub, which sends it to the App that created the run).
    pub async fn rerequest_check_run(&self, repo: &str, check_run_id: u64, by: &str) {
        self.with(|s| {
            assert_eq!(s.check_runs[&check_run_id].repo, repo);
            if s.check_runs[&check_run_id].app_slug == s.app_slug {
                s.emit_check_run(check_run_id, "rerequested", by, serde_json::json!({}));
            }
        })
    }

    /// A click on a check run's action button: `check_run` requested_action.
    pub async fn request_action(&self, repo: &str, check_run_id: u64, identifier: &str, by: &str) {
        self.with(|s| {
            assert_eq!(s.check_runs[&check_run_id].repo, repo);
            if s.check_runs[&check_run_id].app_slug == s.app_slug {
                s.emit_check_run(
                    check_run_id,
                    "requested_action",
                    by,
                    serde_json::json!({"requested_action": {"identifier": identifier}}),
                );
            }
        })
    }

    /// Sends an arbitrary event (e.g. `package`/`registry_package`) with repository, sender and
    /// installation filled in.
    pub async fn send_event(&self, repo: &str, event: &str, action: Option<&str>, sender: &str, payload: Value) {
        self.with(|s| s.emit(repo, event, action, sender, payload))
    }

    /// The merge queue takes PR `number` (see `actions.rs`); the merge group's head sha.
    pub async fn enqueue_merge_group(&self, repo: &str, number: u64) -> String {
        self.with(|s| s.enqueue_merge_group(repo, number)).map_err(|e| e.1).expect("merge group")
    }

    /// `branch` of `repo` requires a merge queue (its rules answer a `merge_queue` rule, a
    /// `PUT …/pulls/{n}/merge` into it is refused with 405 as GitHub does).
    pub fn require_merge_queue(&self, repo: &str, branch: &str) {
        self.with(|s| s.merge_queue_branches.insert((repo.to_string(), branch.to_string())));
    }

    /// `branch` requires a merge queue through classic branch protection ("Require merge
    /// queue"): the rules endpoint does not show it, merges are refused, the queue works.
    pub fn require_merge_queue_by_protection(&self, repo: &str, branch: &str) {
        self.require_merge_queue(repo, branch);
        self.with(|s| s.merge_queue_unlisted.insert((repo.to_string(), branch.to_string())));
    }

    /// The merge queue merges every queued PR of `repo` whose merge group head has each of
    /// `required` green (see `actions.rs`); the numbers it merged.
    pub async fn land_merge_queue(&self, repo: &str, required: &[&str]) -> Vec<u64> {
        self.with(|s| s.land_merge_queue(repo, required))
    }

    /// The PRs of `repo` in a merge queue now, with their merge group's head sha.
    pub fn queued(&self, repo: &str) -> Vec<(u64, String)> {
        self.with(|s| {
            s.queue_entries.iter().filter(|((r, _), _)| r == repo).map(|((_, n), e)| (*n, e.head_sha.clone())).collect()
        })
    }

    /// Workflow runs of `repo` (oldest first): (id, file, display title, inputs, status).
    pub fn workflow_runs(&self, repo: &str) -> Vec<actions::WorkflowRunRec> {
        self.with(|s| s.workflow_runs.values().filter(|r| r.repo == repo).cloned().collect())
    }

    /// Completes a workflow run; sends `workflow_run` completed.
    pub async fn complete_workflow_run(&self, id: u64, conclusion: &str) {
        self.with(|s| s.complete_workflow_run(id, conclusion))
    }

    // ------------------------------------------------------------------ failure injection

    /// Adds a fault rule (see [`Fault`]): per method + path prefix or pattern, answer an error
    /// without applying, apply then lose the answer (status or reset), rate-limit, or delay.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault))
    }

    /// Drops every fault rule not used up yet (GitHub recovers).
    pub fn clear_faults(&self) {
        self.with(|s| s.faults.clear())
    }

    /// Rules not used up yet.
    pub fn pending_faults(&self) -> usize {
        self.with(|s| s.faults.len())
    }

    /// The next `times` requests matching `method` and `path_prefix` get `status`, unapplied.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, times: usize) {
        self.inject(Fault::on(method, path_prefix).mode(FaultMode::Reject(status)).times(times))
    }

    pub fn rate_limit_next(&self, method: &str, path_prefix: &str, kind: RateLimit, times: usize) {
        self.inject(Fault::on(method, path_prefix).mode(FaultMode::RateLimited(kind)).times(times))
    }

    /// How many requests arrived, how many count against the rate limit (GitHub does not
    /// count a 304 answered to a conditional request), and how many were 304s.
    pub fn request_counts(&self) -> RequestCounts {
        self.with(|s| RequestCounts { all: s.api_calls, counted: s.counted_calls, not_modified: s.not_modified })
    }

    /// The installation's primary limit per hour (what `x-ratelimit-limit` says); the remaining
    /// budget is this minus the counted requests.
    pub fn set_rate_limit(&self, limit: u64) {
        self.with(|s| s.rate_limit = limit)
    }

    // ------------------------------------------------------------------ inspection

    pub fn file(&self, repo: &str, git_ref_or_sha: &str, path: &str) -> Option<String> {
        self.with(|s| {
            let r = s.repos.get(repo)?;
            let sha = State::resolve(r, git_ref_or_sha)?;
            State::files_of(r, &sha).remove(path)
        })
    }

    pub fn branch_sha(&self, repo: &str, branch: &str) -> Option<String> {
        self.with(|s| s.repos.get(repo)?.refs.get(&format!("refs/heads/{branch}")).cloned())
    }

    pub fn branches(&self, repo: &str) -> Vec<String> {
        self.with(|s| {
            s.repos
                .get(repo)
                .map(|r| r.refs.keys().filter_map(|k| k.strip_prefix("refs/heads/").map(str::to_string)).collect())
                .unwrap_or_default()
        })
    }

    pub fn commit(&self, repo: &str, sha: &str) -> Option<Commit> {
        self.with(|s| {
            let r = s.repos.get(repo)?;
            let sha = State::resolve(r, sha)?;
            let c = r.commits.get(&sha)?;
            Some(Commit {
                sha: c.sha.clone(),
                message: c.message.clone(),
                parents: c.parents.clone(),
                tree: State::files_of(r, &c.sha),
                author_name: c.author.name.clone(),
                author_email: c.author.email.clone(),
                committer_name: c.committer.name.clone(),
                login: c.login.clone(),
            })
        })
    }

    /// First-parent history of a branch, newest first.
    pub fn log(&self, repo: &str, branch: &str) -> Vec<Commit> {
        let mut out = vec![];
        let mut cur = self.branch_sha(repo, branch);
        while let Some(sha) = cur {
            let Some(c) = self.commit(repo, &sha) else {
                break;
            };
            cur = c.parents.first().cloned();
            out.push(c);
        }
        out
    }

    pub fn pulls(&self, repo: &str) -> Vec<Pull> {
        self.with(|s| {
            let Some(r) = s.repos.get(repo) else {
                return vec![];
            };
            r.issues
                .values()
                .filter_map(|i| {
                    let p = i.pr.as_ref()?;
                    Some(Pull {
                        number: i.number,
                        title: i.title.clone(),
                        body: i.body.clone(),
                        head_ref: p.head_ref.clone(),
                        head_sha: p.head_sha.clone(),
                        base_ref: p.base_ref.clone(),
                        state: i.state.clone(),
                        merged: p.merged,
                        merge_commit_sha: p.merge_commit_sha.clone(),
                        merged_by: p.merged_by.clone(),
                        labels: i.labels.clone(),
                        author: i.author.clone(),
                        draft: p.draft,
                    })
                })
                .collect()
        })
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<Pull> {
        self.pulls(repo).into_iter().find(|p| p.number == number)
    }

    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        self.with(|s| {
            let Some(r) = s.repos.get(repo) else {
                return vec![];
            };
            r.issues
                .values()
                .map(|i| Issue {
                    number: i.number,
                    title: i.title.clone(),
                    body: i.body.clone(),
                    state: i.state.clone(),
                    labels: i.labels.clone(),
                    author: i.author.clone(),
                    is_pull_request: i.pr.is_some(),
                })
                .collect()
        })
    }

    /// Labels defined in the repository.
    pub fn labels(&self, repo: &str) -> Vec<Label> {
        self.with(|s| {
            s.repos
                .get(repo)
                .map(|r| {
                    r.labels
                        .values()
                        .map(|l| Label {
                            name: l.name.clone(),
                            color: l.color.clone(),
                            description: l.description.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    pub fn comments(&self, repo: &str, issue_number: u64) -> Vec<Comment> {
        self.with(|s| {
            s.comments
                .values()
                .filter(|c| c.repo == repo && c.issue == issue_number)
                .map(|c| Comment {
                    id: c.id,
                    issue_number: c.issue,
                    body: c.body.clone(),
                    author: c.author.clone(),
                    edited: c.updated_at != c.created_at,
                })
                .collect()
        })
    }

    /// Reaction contents ("eyes", "rocket", "confused", ...) on a comment, in order.
    pub fn reactions(&self, repo: &str, comment_id: u64) -> Vec<String> {
        self.with(|s| {
            s.comments
                .get(&comment_id)
                .filter(|c| c.repo == repo)
                .map(|c| c.reactions.iter().map(|(_, r, _)| r.clone()).collect())
                .unwrap_or_default()
        })
    }

    pub fn check_runs(&self, repo: &str, sha: &str) -> Vec<CheckRun> {
        self.with(|s| {
            s.check_runs
                .values()
                .filter(|c| c.repo == repo && c.head_sha == sha)
                .map(|c| CheckRun {
                    id: c.id,
                    name: c.name.clone(),
                    head_sha: c.head_sha.clone(),
                    status: c.status.clone(),
                    conclusion: c.conclusion.clone(),
                    app_slug: c.app_slug.clone(),
                    external_id: c.external_id.clone(),
                    details_url: c.details_url.clone(),
                    title: c.title.clone(),
                    summary: c.summary.clone(),
                    text: c.text.clone(),
                    actions: c
                        .actions
                        .iter()
                        .map(|a| CheckRunAction {
                            label: a.label.clone(),
                            description: a.description.clone(),
                            identifier: a.identifier.clone(),
                        })
                        .collect(),
                })
                .collect()
        })
    }

    /// The newest check run called `name` on `sha`.
    pub fn check_run(&self, repo: &str, sha: &str, name: &str) -> Option<CheckRun> {
        self.check_runs(repo, sha).into_iter().filter(|c| c.name == name).max_by_key(|c| c.id)
    }

    /// All statuses on `sha`, oldest first (the latest per context wins).
    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<Status> {
        self.with(|s| {
            s.repos
                .get(repo)
                .map(|r| {
                    r.statuses
                        .iter()
                        .filter(|st| st.sha == sha)
                        .map(|st| Status {
                            sha: st.sha.clone(),
                            context: st.context.clone(),
                            state: st.state.clone(),
                            description: st.description.clone(),
                            target_url: st.target_url.clone(),
                            creator: st.creator.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    // ------------------------------------------------------------------ webhooks

    pub fn deliveries(&self) -> Vec<Delivery> {
        let d = self.inner.shared.dispatcher.lock().unwrap();
        let v = d.deliveries.lock().unwrap().clone();
        v
    }

    /// Sends a past delivery again (same delivery id, same bytes). False if unknown.
    pub fn redeliver(&self, delivery_id: &str) -> bool {
        self.inner.shared.dispatcher.lock().unwrap().redeliver(delivery_id)
    }

    /// Waits until every queued webhook has been answered (or failed). False on timeout.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        let pending = self.inner.shared.dispatcher.lock().unwrap().pending.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if pending.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `cond` every 20 ms until it holds (true) or `timeout` passes (false).
    pub async fn wait_until(&self, timeout: Duration, cond: impl Fn(&FakeGitHub) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
