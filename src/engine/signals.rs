//! Flux events posted to `/webhooks/flux`: each becomes a commit status
//! `flux/<kind>/<namespace>/<name>` on the bump commit of every stage whose checks match it
//! (`planner::signals::flux_targets` decides which), so the state stays in GitHub and the gate
//! reads it like any other status — the status webhook that follows evaluates the stage.

use super::Engine;
use crate::forge::StatusState;
use crate::planner::signals::{flux_signal, flux_targets, FluxEvent, FluxState, RunningStage};
use crate::planner::StagePointer;
use crate::types::RepoName;

impl Engine {
    pub(super) async fn on_flux_event(&self, repo: &RepoName, event: &FluxEvent) -> anyhow::Result<()> {
        let Some(signal) = flux_signal(event) else { return Ok(()) };
        let rp = self.load(repo).await?;
        let mut bumps = Vec::new();
        for sp in StagePointer::all(&rp.pipeline) {
            if !sp.stage.verification.checks.iter().any(|c| c.pattern.matches(&signal.context)) {
                continue;
            }
            if let Some(bump) = self.current_bump(&rp, &sp).await? {
                bumps.push((sp, bump));
            }
        }
        let running: Vec<RunningStage> = bumps
            .iter()
            .map(|(sp, b)| RunningStage {
                stage: &sp.stage.name,
                checks: &sp.stage.verification.checks,
                digest: &b.version.digest,
                bump_sha: &b.sha,
                bumped_at: b.date,
            })
            .collect();
        let state = match signal.state {
            FluxState::Success => StatusState::Success,
            FluxState::Failure => StatusState::Failure,
        };
        let mut done: Vec<&str> = Vec::new();
        for (stage, sha) in flux_targets(&signal, &running) {
            if done.contains(&sha) {
                continue;
            }
            done.push(sha);
            // A replayed event changes nothing: the same state is already there.
            let current = self.github.statuses(repo, sha).await?;
            if current.iter().any(|s| s.context == signal.context && s.state == state) {
                continue;
            }
            tracing::info!(%stage, sha, context = %signal.context, state = state.as_str(), "recording a Flux event as a commit status");
            self.github.create_status(repo, sha, state, &signal.context, &signal.description).await?;
        }
        Ok(())
    }
}
