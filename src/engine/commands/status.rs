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
            let window = stage.windows.as_ref().and_then(|w| {
                let now = (self.clock)();
                crate::windows::closed_text(w, w.state(now), now)
            });
            // A release unit is one row: the group, its unit id, every member's version.
            for group in rp.pipeline.groups.values().filter(|g| g.in_stage(stage)) {
                let ub = self.unit_bump(rp, stage, group).await?;
                let verified = match &ub {
                    Some(u) => self.verified_state(rp, &stage.name, &u.bump.sha).await?,
                    None => None,
                };
                let pr = self.github.find_open_pull(&rp.repo, &render::unit_branch(&stage.name, &group.name)).await?;
                let members: Vec<(crate::types::ArtifactName, crate::types::Version)> =
                    ub.as_ref().map(|u| u.members.clone()).unwrap_or_default();
                let id = crate::units::UnitId::of(members.iter().map(|(a, v)| (a, &v.digest)));
                rows.push(render::StatusRow {
                    stage: stage.name.to_string(),
                    from: stage.from.as_ref().map(|f| f.to_string()),
                    artifact: format!("{} (unit)", group.name),
                    version: ub
                        .as_ref()
                        .map(|_| members.iter().map(|(a, v)| format!("{a} {}", v.tag)).collect::<Vec<_>>().join(", ")),
                    digest: ub.as_ref().map(|_| format!("unit {id}")),
                    since: ub.as_ref().and_then(|u| u.bump.date).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
                    verified,
                    pr: pr.map(|p| {
                        let proposes =
                            render::parse_marker(&p.body).and_then(|m| m.unit).map(|u| format!("unit {}", u.id));
                        (p.number, proposes)
                    }),
                    frozen,
                    window: window.clone(),
                    revision: None,
                });
            }
            for sp in stage
                .artifacts()
                .into_iter()
                .filter(|a| rp.pipeline.group_of(a).is_none_or(|g| !g.in_stage(stage)))
                .filter_map(|a| rp.pipeline.artifacts.get(a))
                .filter_map(|a| StagePointer::of(stage, a))
            {
                let artifact = &sp.artifact.name;
                let bump = self.current_bump(rp, &sp).await?;
                let verified = match &bump {
                    Some(b) => self.verified_state(rp, &stage.name, &b.sha).await?,
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
                    window: window.clone(),
                    revision,
                });
            }
        }
        Ok(Reply::Done(render::status(&rows)))
    }

    /// The `baton/verified/<stage>` conclusion (or status) on a bump commit.
    async fn verified_state(
        &self,
        rp: &RepoPipeline,
        stage: &crate::types::StageName,
        sha: &str,
    ) -> anyhow::Result<Option<String>> {
        let runs = self.github.check_runs(&rp.repo, sha, Some(&render::verified_check_name(stage))).await?;
        Ok(runs.iter().max_by_key(|r| r.id).map(|r| r.conclusion.map_or(r.status.as_str(), |c| c.as_str()).to_string()))
    }
}
