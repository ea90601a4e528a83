//! `baton reconcile`: one converging pass over a repository with no event at all — the same
//! decisions as the event path (same planner, same engine methods), driven by reading the
//! world: the newest release tag of each artifact, every stage's bump commit, open baton PRs.
//! Safe beside `baton serve` and twice at once, because every write it makes is keyed.

use crate::event::RegistryPush;
use crate::github::CheckStatus;
use crate::planner::policy::CHECK_NAME;
use crate::planner::versions::newest_release_tag;
use crate::types::RepoName;

use super::Engine;

impl Engine {
    pub async fn reconcile(&self, repo: &RepoName) -> anyhow::Result<()> {
        let Some(loaded) = self.pipeline(repo).await? else { return Ok(()) };
        // 0. Commands nobody answered (their reply, the receipt, is missing) come first: a
        //    command whose run crashed after opening its PR finds that PR still open and answers
        //    as the uninterrupted run would have ("#N moves …"), before step 3 merges it.
        let stages: Vec<_> = loaded.pipeline.stages.iter().map(|s| s.name.clone()).collect();
        self.replay_unanswered_commands(repo, &stages).await?;
        // The open PRs, read once (conditional: unchanged, a 304): a stage whose PR is open is
        // planned against it, so a converged pass attempts no write.
        let open = self.github.open_pulls(repo).await?;
        // 1. Missed registry pushes: the newest release tag of every artifact (and its channel tag).
        for artifact in loaded.pipeline.artifacts.values() {
            let tags = match self.registry.list_tags(&artifact.image).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(artifact = %artifact.name, error = %e, "cannot list tags");
                    continue;
                }
            };
            // A tracked channel tag (#13) is resolved now and judged like a push of it.
            let tracked = artifact.track.clone().filter(|t| tags.contains(t));
            for tag in newest_release_tag(artifact, tags).into_iter().chain(tracked) {
                let push = RegistryPush { host: None, repository: artifact.image.path.clone(), tag, digest: None };
                if let Err(e) = self.reconcile_push(repo, &push, &open).await {
                    tracing::error!(artifact = %artifact.name, error = format!("{e:#}"), "reconciling the newest tag failed");
                }
            }
        }
        // 2. Missed check events and completed soak times: every stage's bump commit.
        self.evaluate_stages(repo, None).await?;
        // 3. Baton PRs whose policy check or merge was missed (a missed PR or check event). The
        // list again: steps 1 and 2 may have opened one (unchanged, it is a 304).
        let open = self.github.open_pulls(repo).await?;
        let me = self.app_login().await;
        let mut merged = false;
        for stage in &loaded.pipeline.stages {
            // Every artifact's branch, and each release unit's the stage holds.
            let branches: Vec<String> = stage
                .artifacts()
                .into_iter()
                .map(|a| crate::render::branch(&stage.name, a))
                .chain(
                    loaded
                        .pipeline
                        .groups
                        .values()
                        .filter(|g| g.in_stage(stage))
                        .map(|g| crate::render::unit_branch(&stage.name, &g.name)),
                )
                .collect();
            for branch in branches {
                // Any open PR on baton's branch gets its `baton/policy` (a look-alike is judged,
                // and never merges itself: `try_auto_merge` checks who opened it).
                let Some(pr) = crate::planner::promotion::open_pr_for(&open, &branch, None) else { continue };
                let own = me.as_deref().is_none_or(|me| pr.author == me);
                // A crash between opening the PR and labelling it.
                let missing = crate::planner::promotion::missing_labels(pr);
                if own && !missing.is_empty() {
                    tracing::info!(%repo, pull_request = pr.number, labels = ?missing, "completing a pull request left without its labels");
                    self.github.add_labels(repo, pr.number, &missing).await?;
                }
                let policy = self.github.check_runs(repo, &pr.head_sha, Some(CHECK_NAME)).await?;
                if !policy.iter().any(|c| c.status == CheckStatus::Completed) {
                    self.run_policy(repo, &pr.into()).await?;
                }
                merged |= self.try_auto_merge(repo, &pr.head_sha).await?;
            }
        }
        // 4. What those merges made verifiable.
        if merged {
            self.evaluate_stages(repo, None).await?;
        }
        Ok(())
    }
}
