//! The data GitHub reports (pull requests, files, commits, check runs, statuses) as plain
//! values. Neutral on purpose: the GitHub client (`crate::github`) produces them, the planner
//! reads them, and neither the planner nor these types depend on the client.

use serde::{Deserialize, Serialize};

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
    pub state: PrState,
    pub labels: Vec<String>,
    pub html_url: String,
    /// The login of the PR's author (`baton[bot]` for baton's own).
    pub author: String,
    /// GitHub's global node ID (GraphQL `ID`), what `enqueuePullRequest` takes.
    pub node_id: String,
}

/// A pull request's state (GitHub reports a merged PR as `closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    Open,
    Closed,
}

impl PrState {
    /// GitHub's string; anything but `open` counts as closed (nothing acts on it).
    pub fn from_api(s: &str) -> PrState {
        if s == "open" {
            PrState::Open
        } else {
            PrState::Closed
        }
    }
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

/// A file changed by a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub filename: String,
    /// added, removed, modified, renamed, …
    pub status: String,
    pub previous_filename: Option<String>,
}

/// A check run's status. baton writes only `Queued`, `InProgress` and `Completed`; GitHub also
/// reports the others (Actions jobs waiting for an environment or a runner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
    Waiting,
    Requested,
    Pending,
}

impl CheckStatus {
    /// GitHub's string (`in_progress`, …); an unknown one counts as queued (not finished).
    pub fn from_api(s: &str) -> CheckStatus {
        serde_json::from_value(serde_json::Value::from(s)).unwrap_or(CheckStatus::Queued)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Queued => "queued",
            CheckStatus::InProgress => "in_progress",
            CheckStatus::Completed => "completed",
            CheckStatus::Waiting => "waiting",
            CheckStatus::Requested => "requested",
            CheckStatus::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
    Stale,
}

impl Conclusion {
    /// GitHub's string (`success`, `timed_out`, …); None for one baton does not know.
    pub fn from_api(s: &str) -> Option<Conclusion> {
        serde_json::from_value(serde_json::Value::from(s)).ok()
    }
    /// Success, neutral and skipped let a required check pass (as GitHub's branch protection
    /// counts them); everything else is a failure.
    pub fn is_green(self) -> bool {
        matches!(self, Conclusion::Success | Conclusion::Neutral | Conclusion::Skipped)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::TimedOut => "timed_out",
            Conclusion::ActionRequired => "action_required",
            Conclusion::Stale => "stale",
        }
    }
}

/// A button on a check run (`requested_action` webhook when clicked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAction {
    pub label: String,
    pub description: String,
    pub identifier: String,
}

/// A check run baton writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunWrite {
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    pub conclusion: Option<Conclusion>,
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
    pub actions: Vec<CheckAction>,
}

/// A check run as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunInfo {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    pub conclusion: Option<Conclusion>,
    pub app_slug: Option<String>,
    pub completed_at: Option<String>,
    pub started_at: Option<String>,
    pub summary: Option<String>,
}

impl CheckRunInfo {
    /// Completed with a conclusion that lets a required check pass.
    pub fn is_green(&self) -> bool {
        self.status == CheckStatus::Completed && self.conclusion.is_some_and(Conclusion::is_green)
    }
    /// Completed with exactly `success` (baton's own records).
    pub fn succeeded(&self) -> bool {
        self.status == CheckStatus::Completed && self.conclusion == Some(Conclusion::Success)
    }
}

/// A commit status's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusState {
    Pending,
    Success,
    Failure,
    Error,
}

impl StatusState {
    /// GitHub's string; None for one baton does not know.
    pub fn from_api(s: &str) -> Option<StatusState> {
        serde_json::from_value(serde_json::Value::from(s)).ok()
    }
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
        }
    }
}

/// A commit status as GitHub reports it (latest per context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInfo {
    pub context: String,
    pub state: StatusState,
    pub updated_at: Option<String>,
}

/// A GitHub Actions workflow run (`GET …/actions/workflows/{file}/runs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRunInfo {
    pub id: u64,
    pub head_sha: String,
    pub event: String,
    /// `queued`, `in_progress`, `completed`, …
    pub status: String,
    pub conclusion: Option<String>,
    pub display_title: String,
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueInfo {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInfo {
    pub id: u64,
    pub body: String,
    pub author: String,
}

/// A comment anywhere in a repository (issues and pull requests), as listed repository-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoComment {
    pub id: u64,
    /// The issue or pull request it is on.
    pub issue_number: u64,
    pub body: String,
    pub author: String,
    pub created_at: Option<String>,
}

/// A commit of the default branch's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub message: String,
    pub date: Option<String>,
    pub parents: Vec<String>,
}
