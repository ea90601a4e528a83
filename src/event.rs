//! baton's own event types: what the webhook intake hands to the engine. Raw JSON stops at the
//! intake; everything past it works with these.

use serde::Serialize;

use crate::forge::{Conclusion, StatusState};
use crate::types::{RepoName, Tag};

/// One unit of work for the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Event {
    /// A tag was pushed to a registry (Docker Distribution, Zot, Harbor, GHCR).
    RegistryPush(RegistryPush),
    PullRequest(PullRequestEvent),
    CheckRun(CheckRunEvent),
    CheckSuite(CheckSuiteEvent),
    Status(StatusEvent),
    IssueComment(CommentEvent),
    Push(PushEvent),
    /// A merge queue asks for the required checks on a merge group's head.
    MergeGroup(MergeGroupEvent),
    /// A GitHub Actions run completed (a verification workflow's conclusion is a gate).
    WorkflowRun(WorkflowRunEvent),
    /// A Flux notification-controller event (`POST /webhooks/flux`); concerns every repository.
    Flux(crate::planner::signals::FluxEvent),
    /// The App's installations or a repository's name changed: only the index acts on it.
    Installation(InstallationChange),
    /// A timer baton armed itself came due (see `engine::scheduler`).
    Wake(Wake),
}

/// What a due timer asks the engine to look at again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Wake {
    /// A pushed version of one artifact whose tag was not readable or whose signature was not
    /// there yet: look again. `since`: when the wait began (the push), `attempt`: looks so far.
    Push {
        push: RegistryPush,
        artifact: crate::types::ArtifactName,
        since: chrono::DateTime<chrono::Utc>,
        attempt: u32,
    },
    /// A bump commit whose soak ends now, or whose verification times out now: evaluate it again.
    Bump { sha: String },
    /// baton's own PR (or one whose `baton/policy` waits for a promotion window) with head
    /// `head_sha`: its window opens now, or (a fallback for a lost check event) look again
    /// whether it can merge. `attempt`: fallback looks so far (0 for a window opening).
    Pull { number: u64, head_sha: String, attempt: u32 },
    /// A job a rate limit stopped: run its event again now that the limit has reset.
    /// `delivery`: the original job's, `runs`: how many times rate limits stopped it.
    Retry { event: Box<Event>, delivery: String, runs: u32 },
}

impl Event {
    /// The deployment repository the event concerns (registry pushes concern every configured one).
    pub fn repo(&self) -> Option<&RepoName> {
        match self {
            Event::RegistryPush(_) => None,
            Event::PullRequest(e) => Some(&e.repo),
            Event::CheckRun(e) => Some(&e.repo),
            Event::CheckSuite(e) => Some(&e.repo),
            Event::Status(e) => Some(&e.repo),
            Event::IssueComment(e) => Some(&e.repo),
            Event::Push(e) => Some(&e.repo),
            Event::MergeGroup(e) => Some(&e.repo),
            Event::WorkflowRun(e) => Some(&e.repo),
            Event::Flux(_) => None,
            Event::Installation(_) => None,
            Event::Wake(_) => None,
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RegistryPush(_) => "registry_push",
            Event::PullRequest(_) => "pull_request",
            Event::CheckRun(_) => "check_run",
            Event::CheckSuite(_) => "check_suite",
            Event::Status(_) => "status",
            Event::IssueComment(_) => "issue_comment",
            Event::Push(_) => "push",
            Event::MergeGroup(_) => "merge_group",
            Event::WorkflowRun(_) => "workflow_run",
            Event::Flux(_) => "flux",
            Event::Installation(_) => "installation",
            Event::Wake(Wake::Push { .. }) => "wake_push",
            Event::Wake(Wake::Bump { .. }) => "wake_bump",
            Event::Wake(Wake::Pull { .. }) => "wake_pull",
            Event::Wake(Wake::Retry { .. }) => "wake_retry",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryPush {
    /// The registry host as the sender named it, when it did (informational: baton resolves
    /// from the host configured in `.baton.yaml`, never from the payload).
    pub host: Option<String>,
    /// Repository path inside the registry (`deployments/myapp`).
    pub repository: String,
    pub tag: Tag,
    /// The manifest digest the notification names, when it names one. Docker Distribution
    /// notifies before it moves the tag, so for a channel tag (`track: main`) resolving the tag
    /// at that moment can give the previous digest: a tracked push uses this one (its signature
    /// is verified like any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::types::Digest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrAction {
    Opened,
    Synchronize,
    Reopened,
    Closed,
    Labeled,
    Unlabeled,
    Edited,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequestEvent {
    pub repo: RepoName,
    pub action: PrAction,
    pub number: u64,
    pub head_ref: String,
    pub head_sha: String,
    /// `owner/name` of the head repository (differs from `repo` for forks; None if deleted).
    pub head_repo: Option<String>,
    pub base_ref: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub labels: Vec<String>,
    pub author: String,
    /// For `labeled` / `unlabeled`: the label.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CheckRunAction {
    Created,
    Completed,
    Rerequested,
    RequestedAction { identifier: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRunEvent {
    pub repo: RepoName,
    pub action: CheckRunAction,
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub app_slug: Option<String>,
    pub conclusion: Option<Conclusion>,
    pub sender: String,
    /// The branch of the check suite (None for commits no branch points at).
    pub head_branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckSuiteEvent {
    pub repo: RepoName,
    pub action: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub conclusion: Option<Conclusion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusEvent {
    pub repo: RepoName,
    pub sha: String,
    pub context: String,
    pub state: StatusState,
    pub branches: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CommentAction {
    Created,
    Edited,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentEvent {
    pub repo: RepoName,
    pub action: CommentAction,
    pub issue_number: u64,
    pub is_pull_request: bool,
    pub comment_id: u64,
    pub body: String,
    pub author: String,
    pub author_is_bot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushEvent {
    pub repo: RepoName,
    /// `refs/heads/main`
    pub git_ref: String,
    pub after: String,
    /// The repository's default branch as the payload names it.
    pub default_branch: Option<String>,
    /// Whether the pushed commits touch `.baton.yaml`.
    pub pipeline: PipelineTouch,
}

impl PushEvent {
    /// A push to the repository's default branch (as the payload says).
    pub fn to_default_branch(&self) -> bool {
        self.default_branch.as_deref().is_some_and(|b| self.git_ref == format!("refs/heads/{b}"))
    }
}

/// What a push's commit list says about the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PipelineTouch {
    /// No listed commit adds, modifies or removes it (and the list is complete).
    Untouched,
    /// A listed commit adds, modifies or removes it.
    Touched,
    /// GitHub lists at most 20 commits in a push payload: with 20 listed, others may be missing.
    Unknown,
}

/// `installation`, `installation_repositories` and `repository` (renamed / transferred).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum InstallationChange {
    /// The App was installed on an account (`installation` created) or repositories were added
    /// to an installation (`installation_repositories` added).
    Added { owner: String, repos: Vec<RepoName> },
    /// Repositories were removed from an installation.
    Removed { owner: String, repos: Vec<RepoName> },
    /// The App was uninstalled from an account: every repository of it is gone.
    Uninstalled { owner: String },
    /// A repository was renamed or transferred.
    Moved { from: RepoName, to: RepoName },
}

/// `merge_group` `checks_requested`: the queue wants the required checks on `head_sha`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeGroupEvent {
    pub repo: RepoName,
    pub head_sha: String,
    /// `refs/heads/gh-readonly-queue/main/pr-104-…`
    pub head_ref: String,
    pub base_sha: String,
    /// `refs/heads/main`
    pub base_ref: String,
}

/// `workflow_run` `completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowRunEvent {
    pub repo: RepoName,
    pub run_id: u64,
    /// The workflow's file name in `.github/workflows/` (`e2e.yml`), from its path.
    pub workflow_file: String,
    /// What triggered the run (`workflow_dispatch`, `push`, …).
    pub trigger: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub conclusion: Option<String>,
    /// The run's title (a workflow's `run-name`), where baton's dispatches name their bump.
    pub display_title: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}
