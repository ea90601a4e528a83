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
    fn writes_enabled(&self) -> bool {
        false
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
            state: "open".into(),
            labels: vec![],
            html_url: String::new(),
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
}
