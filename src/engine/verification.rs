//! Verification of a stage's bump commit: gather the signals on it, ask the planner's gate,
//! record the answer as the `baton/verified/<stage>` check run, comment on the PR that made a
//! bump that failed, and promote downstream once verified.
//!
//! Facts are always re-read: an event only says *where* to look.

use super::history::Bump;
use super::scheduler::TimerKey;
use super::{Engine, RepoPipeline};
use crate::event::Wake;
use crate::github::{CheckAction, CheckRunInfo, CheckRunWrite, CheckStatus, Conclusion};
use crate::pipeline::Promotion;
use crate::planner::gate::{evaluate_gate, GateFacts, GateReport, GateVerdict, Signal, Soak};
use crate::planner::StagePointer;
use crate::render;
use crate::types::RepoName;

impl Engine {
    /// Re-evaluates every stage whose bump commit is `sha` (or every stage, for `None`):
    /// records verification, comments on failure, promotes downstream.
    pub async fn evaluate_stages(&self, repo: &RepoName, sha: Option<&str>) -> anyhow::Result<()> {
        let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
        for sp in StagePointer::all(&rp.pipeline) {
            let Some(bump) = self.current_bump(&rp, &sp).await? else { continue };
            if sha.is_some_and(|s| s != bump.sha) {
                continue;
            }
            if let Err(e) = self.evaluate_bump(&rp, &sp, &bump).await {
                tracing::error!(stage = %sp.stage.name, error = format!("{e:#}"), "stage evaluation failed");
            }
        }
        Ok(())
    }

    async fn evaluate_bump(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, bump: &Bump) -> anyhow::Result<()> {
        let name = render::verified_check_name(&sp.stage.name);
        let all = self.github.check_runs(&rp.repo, &bump.sha, None).await?;
        let mine: Vec<&CheckRunInfo> = all.iter().filter(|c| c.name == name).collect();
        // Already verified: only promote downstream. Pending, or failed before: evaluate (again).
        // A failed check that is re-run and goes green turns the record green; a failure stays
        // one record and one comment.
        let verified = mine.iter().find(|c| c.status == CheckStatus::Completed).is_some_and(|c| c.succeeded()) || {
            let statuses = self.github.statuses(&rp.repo, &bump.sha).await?;
            let signals: Vec<Signal> = all
                .iter()
                .map(Signal::from_check_run)
                .chain(statuses.iter().map(|s| Signal::from_status(s, &bump.sha)))
                .collect();
            let report = evaluate_gate(&GateFacts {
                stage: sp.stage,
                tag: &bump.version.tag,
                bumped_at: bump.date,
                signals: &signals,
                now: (self.clock)(),
            });
            self.record_verification(rp, sp, bump, &report, mine.first().copied()).await?;
            self.arm_soak(rp, sp, bump, &report);
            if report.verdict == GateVerdict::Failed {
                self.comment_on_bump(rp, sp, bump, &render::gate_summary(&report)).await?;
            }
            report.verdict == GateVerdict::Verified
        };
        if verified {
            self.promote_downstream(rp, sp, bump).await;
        }
        Ok(())
    }

    /// A bump that only waits for its soak to end is evaluated again at that time, by a timer
    /// (no event or `reconcile` needed); one timer per stage and artifact, so a newer bump's
    /// soak replaces an older one's.
    fn arm_soak(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, bump: &Bump, report: &GateReport) {
        let key =
            TimerKey::Soak { repo: rp.repo.clone(), stage: sp.stage.name.clone(), artifact: sp.artifact.name.clone() };
        match (&report.verdict, &report.soak) {
            (GateVerdict::Pending, Some(Soak::Until { until, .. })) => {
                self.scheduler.arm(key, rp.repo.clone(), *until, Wake::Bump { sha: bump.sha.clone() })
            }
            _ => self.scheduler.cancel(&key),
        }
    }

    /// Writes the `baton/verified/<stage>` check run (updated in place when its state or summary
    /// changed). A verified record offers `Promote to <stage>` buttons for manual stages below.
    async fn record_verification(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        bump: &Bump,
        report: &GateReport,
        existing: Option<&CheckRunInfo>,
    ) -> anyhow::Result<()> {
        let (artifact, stage, tag) = (&sp.artifact.name, &sp.stage.name, &bump.version.tag);
        let (status, conclusion, title) = match report.verdict {
            GateVerdict::Verified => {
                (CheckStatus::Completed, Some(Conclusion::Success), format!("{artifact} {tag} is verified in {stage}"))
            }
            GateVerdict::Failed => (
                CheckStatus::Completed,
                Some(Conclusion::Failure),
                format!("{artifact} {tag} failed verification in {stage}"),
            ),
            GateVerdict::Pending => {
                (CheckStatus::InProgress, None, format!("Waiting for {stage}'s verification of {tag}"))
            }
        };
        let actions = match report.verdict {
            GateVerdict::Verified => rp
                .pipeline
                .downstream(stage)
                .filter(|d| d.promotion == Promotion::Manual)
                .map(|d| CheckAction {
                    label: format!("Promote to {}", d.name).chars().take(20).collect(),
                    description: format!("Open the PR moving {} to {tag}", d.name).chars().take(40).collect(),
                    identifier: render::promote_action_id(&d.name),
                })
                .collect(),
            _ => vec![],
        };
        let check = CheckRunWrite {
            name: render::verified_check_name(stage),
            head_sha: bump.sha.clone(),
            status,
            conclusion,
            title,
            summary: render::gate_summary(report),
            text: None,
            actions,
        };
        match existing {
            Some(existing) => {
                let done = CheckStatus::Completed;
                let same_state = existing.status == done && existing.conclusion == check.conclusion;
                let unchanged = existing.summary.as_deref() == Some(check.summary.as_str())
                    && (existing.status != done && check.status != done || same_state);
                if !unchanged {
                    self.github.update_check_run(&rp.repo, existing.id, &check).await?;
                }
            }
            None => {
                self.github.create_check_run(&rp.repo, &check).await?;
            }
        }
        Ok(())
    }

    /// One comment (keyed by stage and commit) on the PR that made a bump that failed.
    async fn comment_on_bump(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        bump: &Bump,
        summary: &str,
    ) -> anyhow::Result<()> {
        let pulls = self.github.commit_pulls(&rp.repo, &bump.sha).await?;
        let Some(pr) = pulls.first() else { return Ok(()) };
        let key = format!("<!-- baton-verification-failed:{}:{} -->", sp.stage.name, bump.sha);
        if self.github.comments(&rp.repo, pr.number).await?.iter().any(|c| c.body.contains(&key)) {
            return Ok(());
        }
        let body = render::verification_failed_comment(&sp.stage.name, &sp.artifact.name, &bump.version, summary, &key);
        self.github.create_comment(&rp.repo, pr.number, &body).await?;
        Ok(())
    }
}
