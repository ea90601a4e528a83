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
use chrono::{DateTime, Utc};

use crate::planner::gate::{evaluate_gate, wake_at, GateFacts, GateReport, GateVerdict, Signal};
use crate::planner::signals::source_commit;
use crate::planner::StagePointer;
use crate::render;
use crate::types::RepoName;

/// How many of the default branch's newest commits are read to place an event's commit.
const RECENT_COMMITS: u32 = 20;
/// How many commits after the bump are searched for signals (besides the one an event names).
const LATER_COMMITS: usize = 5;

impl Engine {
    /// Re-evaluates every stage whose bump commit is `sha` (or every stage, for `None`):
    /// records verification, comments on failure, promotes downstream.
    ///
    /// A stage is concerned by `sha` when `sha` is its bump commit B, a later commit of the
    /// default branch (which still holds the version: B is the newest commit touching the
    /// pointer), or the artifact's source commit S (from its annotations, cached by digest) —
    /// found without scanning history: one read of the branch's newest commits.
    pub async fn evaluate_stages(&self, repo: &RepoName, sha: Option<&str>) -> anyhow::Result<()> {
        let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
        let mut recent: Option<Vec<String>> = None;
        for sp in StagePointer::all(&rp.pipeline) {
            // A release unit is evaluated once, as its first member, on the unit's bump commit.
            let group = Self::unit_group(&rp, sp.stage, &sp.artifact.name);
            let (bump, unit) = match group {
                Some(g) => {
                    let first = Self::unit_members(&rp, sp.stage, g).first().map(|m| m.artifact.name.clone());
                    if first.as_ref() != Some(&sp.artifact.name) {
                        continue;
                    }
                    match self.unit_bump(&rp, sp.stage, g).await? {
                        Some(ub) => {
                            let label = render::unit_label(&g.name, &ub.members);
                            (Some(ub.bump), Some((g, label)))
                        }
                        None => (None, None),
                    }
                }
                None => (self.current_bump(&rp, &sp).await?, None),
            };
            let Some(bump) = bump else { continue };
            let v = &sp.stage.verification;
            let gated = !v.checks.is_empty() || !v.workflows.is_empty();
            let (later, source) = if gated {
                if recent.is_none() {
                    let commits = self.github.branch_commits(&rp.repo, &rp.default_branch, RECENT_COMMITS).await?;
                    recent = Some(commits.into_iter().map(|c| c.sha).collect());
                }
                let later: Vec<String> =
                    recent.as_deref().unwrap_or_default().iter().take_while(|c| **c != bump.sha).cloned().collect();
                (later, self.source_commit(&rp, &sp, &bump).await)
            } else {
                (vec![], None)
            };
            let concerned = match sha {
                None => true,
                Some(s) => s == bump.sha || later.iter().any(|c| c == s) || source.as_deref() == Some(s),
            };
            if !concerned {
                continue;
            }
            // B, then S, then the newest later commits (and the one that triggered this).
            let mut commits = vec![bump.sha.clone()];
            commits.extend(source.filter(|s| *s != bump.sha));
            for (i, c) in later.iter().enumerate() {
                if (i < LATER_COMMITS || sha == Some(c.as_str())) && !commits.contains(c) {
                    commits.push(c.clone());
                }
            }
            if let Err(e) = self.evaluate_bump(&rp, &sp, &bump, &commits, unit).await {
                tracing::error!(stage = %sp.stage.name, error = format!("{e:#}"), "stage evaluation failed");
            }
        }
        Ok(())
    }

    /// The runs of the stage's verification workflows for this bump, each dispatched once: a run
    /// of the workflow dispatched on the default branch since the bump (whose title, the
    /// workflow's `run-name`, names this stage and digest when it names any digest) is this
    /// bump's; without one, baton dispatches it (inputs stage, version, digest and the
    /// configured ones) and waits for its `workflow_run`.
    async fn workflow_signals(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        bump: &Bump,
    ) -> anyhow::Result<Vec<Signal>> {
        let mut out = Vec::new();
        let since = bump.date.unwrap_or_else(|| (self.clock)());
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let digest = bump.version.digest.as_str();
        for w in &sp.stage.verification.workflows {
            let runs = self.github.workflow_runs(&rp.repo, &w.file, &rp.default_branch, &since).await?;
            let titled = runs.iter().any(|r| r.display_title.contains("sha256:"));
            let ours: Vec<&crate::github::WorkflowRunInfo> = runs
                .iter()
                .filter(|r| {
                    !titled || (r.display_title.contains(digest) && r.display_title.contains(sp.stage.name.as_str()))
                })
                .collect();
            if ours.is_empty() {
                let mut inputs = w.inputs.clone();
                inputs.insert("stage".into(), sp.stage.name.to_string());
                inputs.insert("version".into(), self.shown_version(sp.artifact, &bump.version).await);
                inputs.insert("digest".into(), digest.to_string());
                tracing::info!(stage = %sp.stage.name, workflow = %w.file, "dispatching a verification workflow");
                self.github.dispatch_workflow(&rp.repo, &w.file, &rp.default_branch, &inputs).await?;
                let runs = self.github.workflow_runs(&rp.repo, &w.file, &rp.default_branch, &since).await?;
                let newest = runs.iter().filter(|r| !titled || r.display_title.contains(digest)).max_by_key(|r| r.id);
                out.extend(newest.map(|r| Signal::from_workflow_run(&w.file, r)));
            } else {
                out.extend(ours.into_iter().map(|r| Signal::from_workflow_run(&w.file, r)));
            }
        }
        Ok(out)
    }

    /// The artifact's source commit S when signals on it count for the stage (its
    /// `org.opencontainers.image.revision`, when its `.source` is this repository or the stage
    /// sets `source: commit-of-artifact`).
    async fn source_commit(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, bump: &Bump) -> Option<String> {
        let digest = &bump.version.digest;
        let cached = self.annotations.lock().unwrap_or_else(|e| e.into_inner()).get(digest).cloned();
        let annotations = match cached {
            Some(a) => a,
            // A tracked channel tag has moved on: its digest is read by digest.
            None if crate::planner::tracking::is_tracked(sp.artifact, &bump.version) => {
                match self.registry.annotations_of(&sp.artifact.image, digest).await {
                    Ok(a) => {
                        self.annotations.lock().unwrap_or_else(|e| e.into_inner()).insert(digest.clone(), a.clone());
                        a
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "no annotations for the stage's version");
                        return None;
                    }
                }
            }
            None => match self.registry.resolve(&sp.artifact.image, &bump.version.tag).await {
                // Only when the tag still names the digest the stage runs.
                Ok(r) if &r.digest == digest => {
                    self.annotations
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(digest.clone(), r.annotations.clone());
                    r.annotations
                }
                Ok(_) => return None,
                Err(e) => {
                    tracing::debug!(error = %e, "no annotations for the stage's version");
                    return None;
                }
            },
        };
        source_commit(&annotations, &rp.repo, sp.stage.verification.source).map(|c| c.to_string())
    }

    /// `commits`: where signals count, the bump commit first.
    async fn evaluate_bump(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        bump: &Bump,
        commits: &[String],
        unit: Option<(&crate::pipeline::Group, String)>,
    ) -> anyhow::Result<()> {
        let name = render::verified_check_name(&sp.stage.name);
        let all = self.github.check_runs(&rp.repo, &bump.sha, None).await?;
        let mine: Vec<&CheckRunInfo> = all.iter().filter(|c| c.name == name).collect();
        // Already verified: only promote downstream. Pending, or failed before: evaluate (again).
        // A failed check that is re-run and goes green turns the record green; a failure stays
        // one record and one comment.
        let verified = mine.iter().find(|c| c.status == CheckStatus::Completed).is_some_and(|c| c.succeeded()) || {
            let mut signals: Vec<Signal> = Vec::new();
            for (i, commit) in commits.iter().enumerate() {
                let runs = if i == 0 { all.clone() } else { self.github.check_runs(&rp.repo, commit, None).await? };
                let statuses = self.github.statuses(&rp.repo, commit).await?;
                signals.extend(runs.iter().map(Signal::from_check_run));
                signals.extend(statuses.iter().map(|s| Signal::from_status(s, commit)));
            }
            // baton's own records never verify anything.
            signals.retain(|s| !s.name.starts_with("baton/"));
            signals.extend(self.workflow_signals(rp, sp, bump).await?);
            let facts = GateFacts {
                stage: sp.stage,
                tag: &bump.version.tag,
                commit: &bump.sha,
                bumped_at: bump.date,
                signals: &signals,
                now: (self.clock)(),
            };
            let report = evaluate_gate(&facts);
            // What was verified, in words: the unit, or the artifact and its version (a tracked
            // version by its name, `main-1a2b3c4`).
            let (what, headline) = match &unit {
                Some((_, label)) => (label.clone(), format!("**{label}**")),
                None => {
                    let shown = self.shown_version(sp.artifact, &bump.version).await;
                    (format!("{} {shown}", sp.artifact.name), format!("**{}** `{shown}`", sp.artifact.name))
                }
            };
            self.record_verification(rp, sp, bump, &report, mine.first().copied(), &what).await?;
            self.arm_gate(rp, sp, bump, wake_at(&facts, &report));
            if report.verdict == GateVerdict::Failed {
                self.comment_on_bump(rp, sp, bump, &render::gate_summary(&report), &headline).await?;
            }
            report.verdict == GateVerdict::Verified
        };
        if verified {
            match unit {
                Some((group, _)) => self.promote_unit_downstream(rp, sp.stage, group, bump).await,
                None => self.promote_downstream(rp, sp, bump).await,
            }
        }
        Ok(())
    }

    /// A bump whose soak ends, or whose verification times out, at `due` is evaluated again at
    /// that time by a timer (no event or `reconcile` needed): verified at the soak's end, failed
    /// (record and one comment) at the timeout. One timer per stage and artifact, re-armed (or
    /// cancelled) by every evaluation, so a newer bump's replaces an older one's.
    fn arm_gate(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, bump: &Bump, due: Option<DateTime<Utc>>) {
        let key =
            TimerKey::Gate { repo: rp.repo.clone(), stage: sp.stage.name.clone(), artifact: sp.artifact.name.clone() };
        match due {
            Some(due) => self.scheduler.arm(key, rp.repo.clone(), due, Wake::Bump { sha: bump.sha.clone() }),
            None => self.scheduler.cancel(&key),
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
        what: &str,
    ) -> anyhow::Result<()> {
        let (stage, tag) = (&sp.stage.name, &bump.version.tag);
        let (status, conclusion, title) = match report.verdict {
            GateVerdict::Verified => {
                (CheckStatus::Completed, Some(Conclusion::Success), format!("{what} is verified in {stage}"))
            }
            GateVerdict::Failed => {
                (CheckStatus::Completed, Some(Conclusion::Failure), format!("{what} failed verification in {stage}"))
            }
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
        headline: &str,
    ) -> anyhow::Result<()> {
        let pulls = self.github.commit_pulls(&rp.repo, &bump.sha).await?;
        let Some(pr) = pulls.first() else { return Ok(()) };
        let key = format!("<!-- baton-verification-failed:{}:{} -->", sp.stage.name, bump.sha);
        if self.github.comments(&rp.repo, pr.number).await?.iter().any(|c| c.body.contains(&key)) {
            return Ok(());
        }
        let body = render::verification_failed_comment(&sp.stage.name, headline, summary, &key);
        self.github.create_comment(&rp.repo, pr.number, &body).await?;
        Ok(())
    }
}
