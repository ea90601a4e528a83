//! The GitHub side of baton's shell: a small trait with the operations the engine needs, an
//! octocrab implementation authenticated as a GitHub App (`app.rs`), and a dry-run wrapper
//! (`dryrun.rs`) that performs reads and logs writes.
//!
//! Every mutating operation is safe to repeat: callers find before they create, names are
//! deterministic, content updates carry the expected parent/sha, and conflicts surface as
//! [`GitHubError::Conflict`] so the caller re-reads and retries.

pub mod app;
pub mod cache;
pub mod dryrun;
pub mod merge_queue;
pub mod retry;

use async_trait::async_trait;

use crate::index::{PipelineBlob, RepoPipeline};
use crate::types::RepoName;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// 404: the thing (file, ref, PR) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409/422 on a precondition: a ref or PR already exists, a sha moved, a merge conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 401/403 (after rate-limit handling): baton lacks a permission.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Anything else: network, 5xx after retries, unexpected bodies.
    #[error("GitHub API error: {0}")]
    Other(String),
    /// A rate limit that resets later than baton waits in place (`github.max_rate_limit_wait_secs`):
    /// nothing was applied. The client also notes it in the job's scope ([`noting_rate_limits`]),
    /// and the job's event is run again by a timer at the reset instead of holding the
    /// repository's slot (`engine::scheduler`).
    #[error("rate limited: {what}; the limit resets in {}s", reset_in.as_secs())]
    RateLimited { what: String, reset_in: std::time::Duration },
}

impl GitHubError {
    /// How long until the rate limit resets, for a rate-limit error.
    pub fn rate_limit_reset(&self) -> Option<std::time::Duration> {
        match self {
            GitHubError::RateLimited { reset_in, .. } => Some(*reset_in),
            _ => None,
        }
    }
}

/// The rate limit (its reset, from now) an error chain ends in, if it does.
pub fn rate_limit_of(e: &anyhow::Error) -> Option<std::time::Duration> {
    e.chain().find_map(|c| c.downcast_ref::<GitHubError>()).and_then(GitHubError::rate_limit_reset)
}

tokio::task_local! {
    /// The latest rate-limit reset a request gave up on during one job (see [`noting_rate_limits`]).
    static RATE_LIMIT_NOTE: std::sync::Arc<std::sync::Mutex<Option<std::time::Duration>>>;
}

/// Runs `f` (one job) noting every rate limit a request of it gave up on, even one whose error a
/// caller logged and went on from: the job is then run again at the reset (the longest reset
/// noted is returned).
pub async fn noting_rate_limits<F: std::future::Future>(f: F) -> (F::Output, Option<std::time::Duration>) {
    let note = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = RATE_LIMIT_NOTE.scope(note.clone(), f).await;
    let reset = *note.lock().unwrap_or_else(|e| e.into_inner());
    (out, reset)
}

/// The rate limit a request of the current job gave up on so far, if any.
pub fn rate_limited_so_far() -> Option<std::time::Duration> {
    RATE_LIMIT_NOTE.try_with(|n| *n.lock().unwrap_or_else(|e| e.into_inner())).ok().flatten()
}

/// Notes a rate limit in the current job's scope (nothing outside a job, e.g. `baton reconcile`).
pub(crate) fn note_rate_limit(reset_in: std::time::Duration) {
    let _ = RATE_LIMIT_NOTE.try_with(|n| {
        let mut n = n.lock().unwrap_or_else(|e| e.into_inner());
        *n = Some(n.map_or(reset_in, |r| r.max(reset_in)));
    });
}

pub type Result<T> = std::result::Result<T, GitHubError>;

// The data types (pull requests, files, check runs, statuses) live in the neutral `forge`
// module, so that the planner can read them without depending on this client.
pub use crate::forge::*;

/// An installation's primary rate limit as GitHub last reported it (`x-ratelimit-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub remaining: u64,
    pub limit: u64,
    /// When the window resets (unix seconds).
    pub reset_at: u64,
}

impl RateBudget {
    /// From a response's headers; None unless remaining, limit and reset are all there. Only the
    /// `core` resource (or none named) is the REST budget.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<RateBudget> {
        let num = |h: &str| headers.get(h)?.to_str().ok()?.trim().parse::<u64>().ok();
        let resource = headers.get("x-ratelimit-resource").and_then(|v| v.to_str().ok()).unwrap_or("core");
        if resource != "core" {
            return None;
        }
        Some(RateBudget {
            remaining: num("x-ratelimit-remaining")?,
            limit: num("x-ratelimit-limit")?,
            reset_at: num("x-ratelimit-reset")?,
        })
    }
}

/// The answer to a compare request (`GET /repos/{o}/{r}/compare/{base}...{head}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// `ahead`, `behind`, `diverged` or `identical`.
    pub status: String,
    pub total_commits: u64,
    pub behind_by: u64,
    /// Oldest first, as GitHub lists them (at most 250).
    pub commits: Vec<ComparedCommit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparedCommit {
    pub sha: String,
    pub message: String,
    /// The Git author's name.
    pub author: String,
}

/// Reading files of a repository: all that signature verification needs (key files).
#[async_trait]
pub trait RepoFiles: Send + Sync {
    async fn file(&self, repo: &RepoName, path: &str, at: &str) -> Result<FileContent>;
}

/// Any [`GitHub`] reads files.
pub struct FilesOf(pub std::sync::Arc<dyn GitHub>);

#[async_trait]
impl RepoFiles for FilesOf {
    async fn file(&self, repo: &RepoName, path: &str, at: &str) -> Result<FileContent> {
        self.0.file(repo, path, at).await
    }
}

/// The operations the engine needs. Small on purpose: the octocrab App client and the dry-run
/// wrapper implement exactly this (the fake GitHub in the tests serves the REST API the App
/// client calls, so the tests go through the real client).
#[async_trait]
pub trait GitHub: Send + Sync {
    /// The App's slug (its check runs are the ones baton may update); None when unknown.
    async fn app_slug(&self) -> Option<String> {
        None
    }
    /// The rate-limit budget of the installation on `owner` as last seen in GitHub's answers;
    /// None until baton has made a request for it. A reconcile pass stops early under a floor.
    fn rate_budget(&self, _owner: &str) -> Option<RateBudget> {
        None
    }
    /// Every repository the App is installed on (empty when baton is not an App).
    async fn installed_repositories(&self) -> Result<Vec<RepoName>> {
        Ok(vec![])
    }
    /// The file at `path` on the default branch of each of `repos`, with the default branch's
    /// name (what the index needs). The App client reads 100 repositories per GraphQL query;
    /// this default reads them one by one (two requests each).
    async fn pipeline_files(&self, repos: &[RepoName], path: &str) -> Result<Vec<(RepoName, RepoPipeline)>> {
        let mut out = Vec::with_capacity(repos.len());
        for repo in repos {
            let info = match self.repo_info(repo).await {
                Ok(i) => i,
                Err(GitHubError::NotFound(_)) => {
                    out.push((repo.clone(), RepoPipeline::Missing));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let file = match self.file(repo, path, &info.default_branch).await {
                Ok(f) => Some(PipelineBlob { oid: f.sha, text: Some(f.text) }),
                Err(GitHubError::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            out.push((repo.clone(), RepoPipeline::Found { default_branch: Some(info.default_branch), file }));
        }
        Ok(out)
    }
    /// Every repository the App is installed on with its file at `path` on the default branch
    /// (what the index is built from). The App client reads an installation on all of an
    /// owner's repositories with one paginated GraphQL query (the listing and the files, 100
    /// repositories a page); this default lists, then reads.
    async fn installed_pipelines(&self, path: &str) -> Result<Vec<(RepoName, RepoPipeline)>> {
        let repos = self.installed_repositories().await?;
        self.pipeline_files(&repos, path).await
    }
    async fn repo_info(&self, repo: &RepoName) -> Result<RepoInfo>;
    /// The commit sha a branch points at; `NotFound` if the branch does not exist.
    async fn branch_head(&self, repo: &RepoName, branch: &str) -> Result<String>;
    /// A file at a commit sha or branch; `NotFound` if it does not exist.
    async fn file(&self, repo: &RepoName, path: &str, at: &str) -> Result<FileContent>;
    /// Creates a commit (tree + commit, no ref change); returns its sha.
    async fn create_commit(&self, repo: &RepoName, commit: &NewCommit) -> Result<String>;
    /// Creates `branch` at `sha`; `Conflict` if it exists.
    async fn create_branch(&self, repo: &RepoName, branch: &str, sha: &str) -> Result<()>;
    /// Moves `branch` to `sha`. Without `force` only a fast-forward is accepted (`Conflict`
    /// otherwise): that is how direct commits to the default branch stay race-safe.
    async fn update_branch(&self, repo: &RepoName, branch: &str, sha: &str, force: bool) -> Result<()>;
    /// The open pull request whose head is `branch` in the same repository, if any.
    async fn find_open_pull(&self, repo: &RepoName, branch: &str) -> Result<Option<PullRequest>>;
    /// Opens a pull request; `Conflict` if one is already open for the head.
    async fn create_pull(&self, repo: &RepoName, pr: &NewPullRequest) -> Result<PullRequest>;
    async fn update_pull(&self, repo: &RepoName, number: u64, title: &str, body: &str) -> Result<()>;
    /// Adds labels to an issue or pull request (existing ones are kept).
    async fn add_labels(&self, repo: &RepoName, number: u64, labels: &[String]) -> Result<()>;
    async fn pull_files(&self, repo: &RepoName, number: u64) -> Result<Vec<ChangedFile>>;
    /// Squash-merges with the expected head sha (`Conflict` if the head moved or it cannot
    /// merge); `message` is the squash commit's message (title line, blank line, body).
    async fn merge_pull(&self, repo: &RepoName, number: u64, head_sha: &str, message: &str) -> Result<String>;
    /// Whether the rules of `branch` require a merge queue (`GET …/rules/branches/{branch}`; a
    /// conditional request, so asking again before every merge costs a free 304).
    async fn requires_merge_queue(&self, repo: &RepoName, branch: &str) -> Result<bool>;
    /// Adds a pull request (by its node ID) to its base branch's merge queue, only while its head
    /// is `head_sha` (GraphQL `enqueuePullRequest`). Already queued, or merged by the queue
    /// meanwhile, is success; a refusal is `Conflict` (or `Forbidden` / `NotFound`).
    async fn enqueue_pull(&self, repo: &RepoName, pull_id: &str, head_sha: &str) -> Result<()>;
    async fn open_pulls(&self, repo: &RepoName) -> Result<Vec<PullRequest>>;
    /// Pull requests that contain a commit (for bump commits: the PR that merged it).
    async fn commit_pulls(&self, repo: &RepoName, sha: &str) -> Result<Vec<PullRequest>>;
    /// The history of `path` on `branch`, newest first (at most `limit` commits).
    async fn path_history(&self, repo: &RepoName, branch: &str, path: &str, limit: u32) -> Result<Vec<CommitInfo>>;
    async fn create_check_run(&self, repo: &RepoName, check: &CheckRunWrite) -> Result<u64>;
    async fn update_check_run(&self, repo: &RepoName, id: u64, check: &CheckRunWrite) -> Result<()>;
    /// Check runs on a commit, optionally only those with `name`.
    async fn check_runs(&self, repo: &RepoName, sha: &str, name: Option<&str>) -> Result<Vec<CheckRunInfo>>;
    /// The latest status per context on a commit.
    async fn statuses(&self, repo: &RepoName, sha: &str) -> Result<Vec<StatusInfo>>;
    /// Runs of workflow `file` dispatched on `branch` and created at or after `since` (RFC 3339).
    async fn workflow_runs(
        &self,
        repo: &RepoName,
        file: &str,
        branch: &str,
        since: &str,
    ) -> Result<Vec<WorkflowRunInfo>>;
    /// `workflow_dispatch` of `file` on `git_ref` with `inputs`.
    async fn dispatch_workflow(
        &self,
        repo: &RepoName,
        file: &str,
        git_ref: &str,
        inputs: &std::collections::BTreeMap<String, String>,
    ) -> Result<()>;
    /// The newest `limit` commits of `branch`, newest first.
    async fn branch_commits(&self, repo: &RepoName, branch: &str, limit: u32) -> Result<Vec<CommitInfo>>;
    /// Posts a commit status (`description` is cut to GitHub's 140 characters).
    async fn create_status(
        &self,
        repo: &RepoName,
        sha: &str,
        state: StatusState,
        context: &str,
        description: &str,
    ) -> Result<()>;
    async fn create_comment(&self, repo: &RepoName, number: u64, body: &str) -> Result<u64>;
    async fn comments(&self, repo: &RepoName, number: u64) -> Result<Vec<CommentInfo>>;
    /// Comments on any issue or pull request of the repository updated at or after `since`
    /// (RFC 3339), oldest first: one conditional request per page, whatever the number of issues.
    async fn recent_comments(&self, repo: &RepoName, since: &str) -> Result<Vec<RepoComment>>;
    /// Reacts to an issue comment (`eyes`, `rocket`, `confused`, …). Returns false when this
    /// App had already reacted so (the reaction is then a receipt that a command was handled).
    async fn react(&self, repo: &RepoName, comment_id: u64, content: &str) -> Result<bool>;
    /// The user's permission on the repository: admin, maintain, write, triage, read or none.
    async fn permission(&self, repo: &RepoName, user: &str) -> Result<String>;
    async fn team_member(&self, org: &str, team: &str, user: &str) -> Result<bool>;
    async fn create_issue(&self, repo: &RepoName, title: &str, body: &str, labels: &[String]) -> Result<u64>;
    /// Open issues carrying `label`.
    async fn issues_with_label(&self, repo: &RepoName, label: &str) -> Result<Vec<IssueInfo>>;
    async fn update_issue(&self, repo: &RepoName, number: u64, title: &str, body: &str) -> Result<()>;
    /// Creates or updates (`sha` = the blob being replaced) a file in one commit on `branch`.
    async fn put_file(
        &self,
        repo: &RepoName,
        branch: &str,
        path: &str,
        content: &str,
        sha: Option<&str>,
        message: &str,
    ) -> Result<String>;
    async fn delete_file(&self, repo: &RepoName, branch: &str, path: &str, sha: &str, message: &str) -> Result<String>;
    /// The commits from `base` to `head` (one request; GitHub lists at most 250).
    async fn compare(&self, repo: &RepoName, base: &str, head: &str) -> Result<Comparison>;
}
