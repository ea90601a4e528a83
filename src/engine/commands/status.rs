//! `/status`: every stage's version (linked to its source commit), bump time, verification
//! record, open PR and freeze.

use super::Reply;
use crate::engine::{Engine, RepoPipeline};
use crate::planner::StagePointer;
use crate::render;

impl Engine {
    pub(super) async fn cmd_status(&self, rp: &RepoPipeline) -> anyhow::Result<Reply> {
        let mut rows = Vec::new();
        for stage in &rp.pipeline.stages {
            let frozen = match &stage.freeze {
                Some(p) => self.github.file(&rp.repo, p.as_str(), &rp.default_branch).await.is_ok(),
                None => false,
            };
            for sp in stage
                .artifacts()
                .into_iter()
                .filter_map(|a| rp.pipeline.artifacts.get(a))
                .filter_map(|a| StagePointer::of(stage, a))
            {
                let artifact = &sp.artifact.name;
                let bump = self.current_bump(rp, &sp).await?;
                let verified = match &bump {
                    Some(b) => {
                        let runs = self
                            .github
                            .check_runs(&rp.repo, &b.sha, Some(&render::verified_check_name(&stage.name)))
                            .await?;
                        runs.iter()
                            .max_by_key(|r| r.id)
                            .map(|r| r.conclusion.map_or(r.status.as_str(), |c| c.as_str()).to_string())
                    }
                    None => None,
                };
                let pr = self.github.find_open_pull(&rp.repo, &render::branch(&stage.name, artifact)).await?;
                // The running version's source commit, from its manifest's annotations (a
                // registry read, not a GitHub request).
                let revision = match (&bump, &self.differ) {
                    (Some(b), Some(differ)) => differ
                        .annotations(&sp.artifact.image, &b.version.digest)
                        .await
                        .and_then(|a| crate::manifest_diff::commits::revision_link(&a)),
                    _ => None,
                };
                rows.push(render::StatusRow {
                    stage: stage.name.to_string(),
                    from: stage.from.as_ref().map(|f| f.to_string()),
                    artifact: artifact.to_string(),
                    // A tracked channel tag's version by its name (`main-1a2b3c4`).
                    version: match &bump {
                        Some(b) => Some(self.shown_version(sp.artifact, &b.version).await),
                        None => None,
                    },
                    digest: bump.as_ref().map(|b| b.version.digest.short().to_string()),
                    since: bump.as_ref().and_then(|b| b.date).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
                    verified,
                    pr: pr.map(|p| (p.number, render::parse_marker(&p.body).map(|m| m.shown().to_string()))),
                    frozen,
                    window: stage.windows.as_ref().and_then(|w| {
                        let now = (self.clock)();
                        crate::windows::closed_text(w, w.state(now), now)
                    }),
                    revision,
                });
            }
        }
        Ok(Reply::Done(render::status(&rows)))
    }
}
