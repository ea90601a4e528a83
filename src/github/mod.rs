//! The GitHub side of baton's shell: a small trait with the operations the engine needs, an
//! octocrab implementation authenticated as a GitHub App (`app.rs`), and a dry-run wrapper
//! (`dryrun.rs`) that performs reads and logs writes.
//!
//! Every mutating operation is safe to repeat: callers find before they create, names are
//! deterministic, content updates carry the expected parent/sha, and conflicts surface as
//! [`GitHubError::Conflict`] so the caller re-reads and retries.

pub mod app;
pub mod dryrun;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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
}

pub type Result<T> = std::result::Result<T, GitHubError>;

/// A file read from a given commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub path: String,
    /// The blob sha.
    pub sha: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub default_branch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub state: String,
    pub labels: Vec<String>,
    pub html_url: String,
}

/// A file to write in a new commit: full new content at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommit {
    /// The commit the new one is based on (its only parent).
    pub parent: String,
    pub message: String,
    pub files: Vec<FileWrite>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequest {
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
}

/// The operations the engine needs. Small on purpose: the fake GitHub in the tests, the dry-run
/// wrapper and the octocrab client all implement exactly this.
#[async_trait]
pub trait GitHub: Send + Sync {
    /// Whether writes are really made (false in dry-run mode).
    fn writes_enabled(&self) -> bool {
        true
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
}
