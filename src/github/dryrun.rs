//! Dry-run mode: reads go to the inner client, every write is logged (at warn, so it shows with
//! the default filter) and answered with a placeholder, never made.

use async_trait::async_trait;

use super::*;

pub struct DryRun<G> {
    inner: G,
}

impl<G> DryRun<G> {
    pub fn new(inner: G) -> DryRun<G> {
        DryRun { inner }
    }
}

const PLACEHOLDER_SHA: &str = "0000000000000000000000000000000000000000";

#[async_trait]
impl<G: GitHub> GitHub for DryRun<G> {
    async fn app_slug(&self) -> Option<String> {
        self.inner.app_slug().await
    }
    fn rate_budget(&self, owner: &str) -> Option<RateBudget> {
        self.inner.rate_budget(owner)
    }
    async fn installed_repositories(&self) -> Result<Vec<RepoName>> {
        self.inner.installed_repositories().await
    }
    async fn pipeline_files(
        &self,
        repos: &[RepoName],
        path: &str,
    ) -> Result<Vec<(RepoName, crate::index::RepoPipeline)>> {
        self.inner.pipeline_files(repos, path).await
    }
    async fn installed_pipelines(&self, path: &str) -> Result<Vec<(RepoName, crate::index::RepoPipeline)>> {
        self.inner.installed_pipelines(path).await
    }
    async fn repo_info(&self, repo: &RepoName) -> Result<RepoInfo> {
        self.inner.repo_info(repo).await
    }
    async fn branch_head(&self, repo: &RepoName, branch: &str) -> Result<String> {
        self.inner.branch_head(repo, branch).await
    }
    async fn file(&self, repo: &RepoName, path: &str, at: &str) -> Result<FileContent> {
        self.inner.file(repo, path, at).await
    }
    async fn create_commit(&self, repo: &RepoName, commit: &NewCommit) -> Result<String> {
        let files: Vec<&str> = commit.files.iter().map(|f| f.path.as_str()).collect();
        tracing::warn!(repository = %repo, parent = %commit.parent, ?files, message = %commit.message, "dry-run: would create a commit");
        Ok(PLACEHOLDER_SHA.to_string())
    }
    async fn create_branch(&self, repo: &RepoName, branch: &str, sha: &str) -> Result<()> {
        tracing::warn!(repository = %repo, branch, sha, "dry-run: would create a branch");
        Ok(())
    }
    async fn update_branch(&self, repo: &RepoName, branch: &str, sha: &str, force: bool) -> Result<()> {
        tracing::warn!(repository = %repo, branch, sha, force, "dry-run: would move a branch");
        Ok(())
    }
    async fn find_open_pull(&self, repo: &RepoName, branch: &str) -> Result<Option<PullRequest>> {
        self.inner.find_open_pull(repo, branch).await
    }
    async fn create_pull(&self, repo: &RepoName, pr: &NewPullRequest) -> Result<PullRequest> {
        tracing::warn!(repository = %repo, head = %pr.head, base = %pr.base, title = %pr.title, "dry-run: would open a pull request");
        Ok(PullRequest {
            number: 0,
            title: pr.title.clone(),
            body: pr.body.clone(),
            head_ref: pr.head.clone(),
            head_sha: PLACEHOLDER_SHA.to_string(),
            base_ref: pr.base.clone(),
            state: PrState::Open,
            labels: vec![],
            html_url: String::new(),
            author: String::new(),
            node_id: String::new(),
        })
    }
    async fn update_pull(&self, repo: &RepoName, number: u64, title: &str, _body: &str) -> Result<()> {
        tracing::warn!(repository = %repo, number, title, "dry-run: would update a pull request");
        Ok(())
    }
    async fn add_labels(&self, repo: &RepoName, number: u64, labels: &[String]) -> Result<()> {
        tracing::warn!(repository = %repo, number, ?labels, "dry-run: would add labels");
        Ok(())
    }

    async fn pull_files(&self, repo: &RepoName, number: u64) -> Result<Vec<ChangedFile>> {
        self.inner.pull_files(repo, number).await
    }
    async fn merge_pull(&self, repo: &RepoName, number: u64, head_sha: &str, message: &str) -> Result<String> {
        tracing::warn!(repository = %repo, number, head_sha, message, "dry-run: would merge a pull request");
        Ok(PLACEHOLDER_SHA.to_string())
    }
    async fn requires_merge_queue(&self, repo: &RepoName, branch: &str) -> Result<bool> {
        self.inner.requires_merge_queue(repo, branch).await
    }
    async fn enqueue_pull(&self, repo: &RepoName, pull_id: &str, head_sha: &str) -> Result<()> {
        tracing::warn!(repository = %repo, pull_id, head_sha, "dry-run: would add a pull request to the merge queue");
        Ok(())
    }
    async fn open_pulls(&self, repo: &RepoName) -> Result<Vec<PullRequest>> {
        self.inner.open_pulls(repo).await
    }
    async fn commit_pulls(&self, repo: &RepoName, sha: &str) -> Result<Vec<PullRequest>> {
        self.inner.commit_pulls(repo, sha).await
    }
    async fn path_history(&self, repo: &RepoName, branch: &str, path: &str, limit: u32) -> Result<Vec<CommitInfo>> {
        self.inner.path_history(repo, branch, path, limit).await
    }
    async fn create_check_run(&self, repo: &RepoName, check: &CheckRunWrite) -> Result<u64> {
        tracing::warn!(repository = %repo, name = %check.name, head_sha = %check.head_sha, status = ?check.status, conclusion = ?check.conclusion, title = %check.title, "dry-run: would create a check run");
        Ok(0)
    }
    async fn update_check_run(&self, repo: &RepoName, id: u64, check: &CheckRunWrite) -> Result<()> {
        tracing::warn!(repository = %repo, id, name = %check.name, status = ?check.status, conclusion = ?check.conclusion, title = %check.title, "dry-run: would update a check run");
        Ok(())
    }
    async fn check_runs(&self, repo: &RepoName, sha: &str, name: Option<&str>) -> Result<Vec<CheckRunInfo>> {
        self.inner.check_runs(repo, sha, name).await
    }
    async fn statuses(&self, repo: &RepoName, sha: &str) -> Result<Vec<StatusInfo>> {
        self.inner.statuses(repo, sha).await
    }
    async fn workflow_runs(
        &self,
        repo: &RepoName,
        file: &str,
        branch: &str,
        since: &str,
    ) -> Result<Vec<WorkflowRunInfo>> {
        self.inner.workflow_runs(repo, file, branch, since).await
    }
    async fn dispatch_workflow(
        &self,
        repo: &RepoName,
        file: &str,
        git_ref: &str,
        inputs: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        tracing::warn!(repository = %repo, file, git_ref, ?inputs, "dry-run: would dispatch a workflow");
        Ok(())
    }
    async fn branch_commits(&self, repo: &RepoName, branch: &str, limit: u32) -> Result<Vec<CommitInfo>> {
        self.inner.branch_commits(repo, branch, limit).await
    }
    async fn create_status(
        &self,
        repo: &RepoName,
        sha: &str,
        state: StatusState,
        context: &str,
        description: &str,
    ) -> Result<()> {
        tracing::warn!(repository = %repo, sha, state = state.as_str(), context, description, "dry-run: would post a commit status");
        Ok(())
    }
    async fn create_comment(&self, repo: &RepoName, number: u64, body: &str) -> Result<u64> {
        tracing::warn!(repository = %repo, number, body, "dry-run: would comment");
        Ok(0)
    }
    async fn comments(&self, repo: &RepoName, number: u64) -> Result<Vec<CommentInfo>> {
        self.inner.comments(repo, number).await
    }
    async fn recent_comments(&self, repo: &RepoName, since: &str) -> Result<Vec<RepoComment>> {
        self.inner.recent_comments(repo, since).await
    }
    async fn react(&self, repo: &RepoName, comment_id: u64, content: &str) -> Result<bool> {
        tracing::warn!(repository = %repo, comment_id, content, "dry-run: would react");
        Ok(true)
    }
    async fn permission(&self, repo: &RepoName, user: &str) -> Result<String> {
        self.inner.permission(repo, user).await
    }
    async fn team_member(&self, org: &str, team: &str, user: &str) -> Result<bool> {
        self.inner.team_member(org, team, user).await
    }
    async fn create_issue(&self, repo: &RepoName, title: &str, _body: &str, labels: &[String]) -> Result<u64> {
        tracing::warn!(repository = %repo, title, ?labels, "dry-run: would open an issue");
        Ok(0)
    }
    async fn issues_with_label(&self, repo: &RepoName, label: &str) -> Result<Vec<IssueInfo>> {
        self.inner.issues_with_label(repo, label).await
    }
    async fn update_issue(&self, repo: &RepoName, number: u64, title: &str, _body: &str) -> Result<()> {
        tracing::warn!(repository = %repo, number, title, "dry-run: would update an issue");
        Ok(())
    }
    async fn put_file(
        &self,
        repo: &RepoName,
        branch: &str,
        path: &str,
        _content: &str,
        sha: Option<&str>,
        message: &str,
    ) -> Result<String> {
        tracing::warn!(repository = %repo, branch, path, ?sha, message, "dry-run: would write a file");
        Ok(PLACEHOLDER_SHA.to_string())
    }
    async fn delete_file(&self, repo: &RepoName, branch: &str, path: &str, sha: &str, message: &str) -> Result<String> {
        tracing::warn!(repository = %repo, branch, path, sha, message, "dry-run: would delete a file");
        Ok(PLACEHOLDER_SHA.to_string())
    }
    async fn compare(&self, repo: &RepoName, base: &str, head: &str) -> Result<Comparison> {
        self.inner.compare(repo, base, head).await
    }
}
