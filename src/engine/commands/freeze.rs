//! `/freeze` and `/unfreeze`: the stage's freeze file, committed directly or (when branch
//! protection refuses) through a PR baton merges at once; then the stage's open pointer PRs get
//! `baton/policy` again.

use anyhow::Context as _;

use super::{refused, Reply};
use crate::engine::{Engine, RepoPipeline};
use crate::github::GitHubError;
use crate::pipeline::Stage;
use crate::render;

impl Engine {
    pub(super) async fn cmd_freeze(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        user: &str,
        reason: Option<&str>,
        freeze: bool,
    ) -> anyhow::Result<Reply> {
        let Some(path) = &stage.freeze else {
            return Ok(refused(format!(
                "{} has no freeze file: set `freeze: {{ file: … }}` on the stage in .baton.yaml",
                stage.name
            )));
        };
        let existing = match self.github.file(&rp.repo, path.as_str(), &rp.default_branch).await {
            Ok(f) => Some(f),
            Err(GitHubError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let when = (self.clock)().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // What to write: the file's new content (None: delete it) and the commit message.
        let (content, message) = match (freeze, &existing) {
            (true, Some(_)) => return Ok(Reply::Done(format!("{} is already frozen ({path} exists)", stage.name))),
            (false, None) => return Ok(Reply::Done(format!("{} is not frozen", stage.name))),
            (true, None) => (
                Some(render::freeze_file(user, &when, reason)),
                format!("freeze({}): {}\n\nBaton-Frozen-By: {user}\n", stage.name, reason.unwrap_or("no reason given")),
            ),
            (false, Some(_)) => (None, format!("unfreeze({})\n\nBaton-Unfrozen-By: {user}\n", stage.name)),
        };
        let blob = existing.as_ref().map(|f| f.sha.as_str());
        let direct = match &content {
            Some(c) => self.github.put_file(&rp.repo, &rp.default_branch, path.as_str(), c, None, &message).await,
            None => {
                self.github
                    .delete_file(&rp.repo, &rp.default_branch, path.as_str(), blob.unwrap_or_default(), &message)
                    .await
            }
        };
        let sha = match direct {
            Ok(sha) => sha,
            // Branch protection refuses direct commits: the same change through a PR baton merges.
            Err(GitHubError::Forbidden(_) | GitHubError::Conflict(_)) => {
                match self.freeze_through_pr(rp, stage, path.as_str(), content.as_deref(), blob, &message).await? {
                    Ok(sha) => sha,
                    Err(refusal) => return Ok(refused(refusal)),
                }
            }
            Err(e) => return Err(e.into()),
        };
        // The stage's open pointer PRs are re-checked against the new freeze state.
        self.recheck_stage_prs(rp, stage).await.context("re-running baton/policy")?;
        let verb = if freeze { "frozen" } else { "unfrozen" };
        Ok(Reply::Done(format!("{} is {verb} ({path} in {})", stage.name, &sha[..sha.len().min(7)])))
    }

    /// The freeze change on branch `baton/freeze/<stage>`, as a PR merged at once. Returns the
    /// merge commit, or (Err) why it could not be merged.
    #[allow(clippy::too_many_arguments)]
    async fn freeze_through_pr(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        path: &str,
        content: Option<&str>,
        blob: Option<&str>,
        message: &str,
    ) -> anyhow::Result<Result<String, String>> {
        let branch = format!("baton/freeze/{}", stage.name);
        let head = self.github.branch_head(&rp.repo, &rp.default_branch).await?;
        match self.github.create_branch(&rp.repo, &branch, &head).await {
            Ok(()) => {}
            Err(GitHubError::Conflict(_)) => self.github.update_branch(&rp.repo, &branch, &head, true).await?,
            Err(e) => return Err(e.into()),
        }
        let commit = match content {
            Some(c) => self.github.put_file(&rp.repo, &branch, path, c, None, message).await?,
            None => self.github.delete_file(&rp.repo, &branch, path, blob.unwrap_or_default(), message).await?,
        };
        let title = message.lines().next().unwrap_or_default().to_string();
        let pr = match self.github.find_open_pull(&rp.repo, &branch).await? {
            Some(pr) => pr,
            None => {
                let new = crate::github::NewPullRequest {
                    head: branch.clone(),
                    base: rp.default_branch.clone(),
                    title: title.clone(),
                    body: format!("{title}\n\nOpened by baton because branch protection refused a direct commit.\n"),
                };
                self.github.create_pull(&rp.repo, &new).await?
            }
        };
        match self.github.merge_pull(&rp.repo, pr.number, &commit, message).await {
            Ok(sha) => Ok(Ok(sha)),
            Err(e) => Ok(Err(format!(
                "branch protection refused a direct commit, and #{} (the same change as a PR) cannot be merged by \
                 baton ({e}); merge it to {} {}",
                pr.number,
                if content.is_some() { "freeze" } else { "unfreeze" },
                stage.name
            ))),
        }
    }

    async fn recheck_stage_prs(&self, rp: &RepoPipeline, stage: &Stage) -> anyhow::Result<()> {
        for pr in self.github.open_pulls(&rp.repo).await? {
            if pr.base_ref != rp.default_branch {
                continue;
            }
            let files = self.github.pull_files(&rp.repo, pr.number).await?;
            if files.iter().any(|f| stage.pointers.iter().any(|p| p.file.as_str() == f.filename)) {
                self.run_policy(&rp.repo, &(&pr).into()).await?;
            }
        }
        Ok(())
    }
}
