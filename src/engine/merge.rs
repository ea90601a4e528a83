//! Auto-merge of baton's own PRs (or, when the base branch requires a merge queue, their
//! enqueueing), and their rebuild on the current default branch when GitHub refuses the merge.
//! The decision is `planner::merge`; here it is read and carried out. A merge that waits arms
//! the PR's timer: at its promotion window's opening, or a bounded fallback look in case a check
//! event is lost (`planner::merge::look_again`).

use super::scheduler::TimerKey;
use super::{report_outcome, Engine, RepoPipeline};
use crate::event::Wake;
use crate::github::{CheckStatus, GitHubError, PrState, PullRequest};
use crate::planner::merge::{is_own_pr, look_again, merge_decision, Fact, MergeDecision, MergeFacts};
use crate::planner::policy::CHECK_NAME;
use crate::planner::{Intent, StagePointer};
use crate::render::{self, Marker, UnitMarker};
use crate::types::RepoName;

impl Engine {
    /// Merges baton's own PR whose head is `sha` when `baton/policy` and every other check on it
    /// are green, with the expected head SHA (a moved head means re-check, not merge); when the
    /// base branch requires a merge queue, adds it to the queue instead (the queue merges it).
    /// Returns whether a PR was merged.
    pub async fn try_auto_merge(&self, repo: &RepoName, sha: &str) -> anyhow::Result<bool> {
        self.try_auto_merge_look(repo, sha, None, 0).await
    }

    /// [`Engine::try_auto_merge`] for the PRs with head `sha` (only PR `number`, when given);
    /// `attempt`: fallback looks a timer made so far (0 for an event).
    async fn try_auto_merge_look(
        &self,
        repo: &RepoName,
        sha: &str,
        number: Option<u64>,
        attempt: u32,
    ) -> anyhow::Result<bool> {
        let Some(rp) = self.pipeline(repo).await? else { return Ok(false) };
        let pulls = self.github.commit_pulls(repo, sha).await?;
        let me = self.github.app_slug().await.map(|slug| format!("{slug}[bot]"));
        let mut merged_any = false;
        for pr in pulls.iter().filter(|p| is_own_pr(p, sha, me.as_deref())) {
            if number.is_none_or(|n| n == pr.number) {
                merged_any |= self.merge_one(&rp, pr, attempt).await?;
            }
        }
        Ok(merged_any)
    }

    /// A timer on PR `number` (head `head_sha`) came due: its promotion window opens, or the
    /// fallback look for a lost check event. A `baton/policy` that has not completed (it waited
    /// for the window) runs again, then the merge is decided as a check event would.
    pub(crate) async fn look_at_pull(
        &self,
        repo: &RepoName,
        number: u64,
        head_sha: &str,
        attempt: u32,
    ) -> anyhow::Result<()> {
        let pulls = self.github.commit_pulls(repo, head_sha).await?;
        let Some(pr) = pulls.iter().find(|p| p.number == number && p.state == PrState::Open && p.head_sha == head_sha)
        else {
            tracing::debug!(pr = number, "closed or moved on since the timer was armed: nothing to look at");
            return Ok(());
        };
        let policy = self.github.check_runs(repo, head_sha, Some(CHECK_NAME)).await?;
        if !policy.iter().any(|c| c.status == CheckStatus::Completed) {
            self.run_policy(repo, &pr.into()).await?;
        }
        self.try_auto_merge_look(repo, head_sha, Some(number), attempt).await?;
        Ok(())
    }

    /// Decides on one PR, reading the facts the decision asks for, and performs the answer. A
    /// wait arms the PR's timer ([`look_again`]: the window's opening, or the fallback look).
    async fn merge_one(&self, rp: &RepoPipeline, pr: &PullRequest, attempt: u32) -> anyhow::Result<bool> {
        let key = TimerKey::Pull { repo: rp.repo.clone(), number: pr.number };
        let marker = render::parse_marker(&pr.body);
        let stage = marker.as_ref().and_then(|m| rp.pipeline.stage(&m.stage));
        let (mut checks, mut statuses, mut refused, mut merge_queue) = (None, None, None::<String>, None);
        let window = stage.and_then(|s| s.windows.as_ref()).map(|w| w.state((self.clock)()));
        // Each turn reads a fact or acts; a handful is all a decision takes.
        for _ in 0..8 {
            let facts = MergeFacts {
                marker: marker.as_ref(),
                stage,
                checks: checks.as_deref(),
                statuses: statuses.as_deref(),
                refused: refused.as_deref(),
                window,
                merge_queue,
            };
            let decision = merge_decision(&facts);
            match look_again(&facts, &decision, (self.clock)(), attempt) {
                Some((due, looks)) => {
                    let wake = Wake::Pull { number: pr.number, head_sha: pr.head_sha.clone(), attempt: looks };
                    self.scheduler.arm(key.clone(), rp.repo.clone(), due, wake);
                }
                None if !matches!(decision, MergeDecision::Needs(_)) => self.scheduler.cancel(&key),
                None => {}
            }
            match decision {
                MergeDecision::Needs(Fact::Checks) => {
                    checks = Some(self.github.check_runs(&rp.repo, &pr.head_sha, None).await?)
                }
                MergeDecision::Needs(Fact::Statuses) => {
                    statuses = Some(self.github.statuses(&rp.repo, &pr.head_sha).await?)
                }
                MergeDecision::Needs(Fact::MergeQueue) => {
                    merge_queue = Some(self.github.requires_merge_queue(&rp.repo, &pr.base_ref).await?)
                }
                MergeDecision::Enqueue => {
                    let Some(m) = &marker else { return Ok(false) };
                    let queued = (rp.repo.clone(), pr.number, pr.head_sha.clone());
                    if self.enqueued.lock().unwrap_or_else(|e| e.into_inner()).get(&queued).is_some() {
                        tracing::debug!(pr = pr.number, "in the merge queue already (this head was enqueued)");
                        return Ok(false);
                    }
                    match self.github.enqueue_pull(&rp.repo, &pr.node_id, &pr.head_sha).await {
                        Ok(()) => {
                            self.enqueued.lock().unwrap_or_else(|e| e.into_inner()).put(queued, ());
                            crate::metrics::promotion(m.stage.as_str(), "enqueued");
                            tracing::info!(pr = pr.number, base = %pr.base_ref, "added to the merge queue");
                            return Ok(false);
                        }
                        Err(GitHubError::Conflict(e)) => refused = Some(e),
                        Err(e) => return Err(e.into()),
                    }
                }
                MergeDecision::Merge => {
                    let Some(m) = &marker else { return Ok(false) };
                    let message = render::merge_message(pr.number, m);
                    match self.github.merge_pull(&rp.repo, pr.number, &pr.head_sha, &message).await {
                        Ok(merged) => {
                            crate::metrics::promotion(m.stage.as_str(), "merged");
                            tracing::info!(pr = pr.number, merge_commit = %merged, "merged");
                            return Ok(true);
                        }
                        Err(GitHubError::Conflict(e)) => refused = Some(e),
                        Err(e) => return Err(e.into()),
                    }
                }
                MergeDecision::Rebuild => {
                    tracing::info!(
                        pr = pr.number,
                        reason = refused.as_deref().unwrap_or_default(),
                        "cannot merge as is: rebuilding the PR on the default branch"
                    );
                    if let Some(m) = &marker {
                        self.rebuild_pr(rp, m).await?;
                    }
                    return Ok(false);
                }
                MergeDecision::Wait(why) | MergeDecision::Never(why) => {
                    tracing::debug!(pr = pr.number, "not merging: {why}");
                    return Ok(false);
                }
            }
        }
        tracing::warn!(pr = pr.number, "no merge decision after 8 turns; the next event decides again");
        Ok(false)
    }

    /// Rebuilds a PR's commit on the current default branch (same version), after the base moved.
    async fn rebuild_pr(&self, rp: &RepoPipeline, marker: &Marker) -> anyhow::Result<()> {
        if let Some(unit) = &marker.unit {
            return self.rebuild_unit_pr(rp, marker, unit).await;
        }
        let Some(artifact) = rp.pipeline.artifacts.get(&marker.artifact) else { return Ok(()) };
        let Some(stage) = rp.pipeline.stage(&marker.stage) else { return Ok(()) };
        let Some(sp) = StagePointer::of(stage, artifact) else { return Ok(()) };
        let intent = Intent::Rebuild { approved_by: marker.approved_by.clone(), rollback: marker.rollback };
        // Rebuilt or not, nothing is written for a version whose signature does not verify now.
        let version = marker.version();
        let offer = self
            .signed_offer(rp, artifact, &version, marker.verified_in.clone(), intent)
            .await
            .map_err(|e| anyhow::anyhow!("signature of {version}: {e}"))?;
        let outcome = self.promote(rp, &sp, &offer).await;
        report_outcome(stage, &offer.version, &outcome);
        Ok(())
    }

    /// Rebuilds a release unit's PR on the current default branch (the same set of digests).
    async fn rebuild_unit_pr(&self, rp: &RepoPipeline, marker: &Marker, unit: &UnitMarker) -> anyhow::Result<()> {
        let Some(group) = rp.pipeline.groups.get(&unit.group) else { return Ok(()) };
        let Some(stage) = rp.pipeline.stage(&marker.stage) else { return Ok(()) };
        let intent = Intent::Rebuild { approved_by: marker.approved_by.clone(), rollback: marker.rollback };
        let members = unit.members.iter().map(|m| (m.artifact.clone(), m.version())).collect();
        let offer = self
            .signed_unit(rp, stage, group, members, marker.verified_in.clone(), intent)
            .await
            .map_err(|e| anyhow::anyhow!("signature of {e}"))?;
        let outcome = self.promote_unit(rp, stage, group, &offer, None).await;
        super::report_unit_outcome(stage, group, &outcome);
        Ok(())
    }
}
