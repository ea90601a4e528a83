//! Release units in `baton/policy` (#13): a pull request that moves only part of a group fails
//! the whole-unit rule, naming the members left behind. The judgement is
//! `units::partial_move`; here its facts are read (each member's pointer on the default branch,
//! on the PR's head, and in the `from` stage).

use std::collections::BTreeSet;

use super::policy::PolicyTarget;
use super::{Engine, RepoPipeline};
use crate::pipeline::{PointerSpec, Stage};
use crate::planner::policy::{Report, Rule, Verdict};
use crate::pointer;
use crate::types::{ArtifactName, Digest};
use crate::units::{partial_move, partial_move_fix, partial_move_text, MemberMove, UnitId};

impl Engine {
    /// Adds the whole-unit verdict to the rows of group members that `pr` moves.
    pub(super) async fn unit_rows(
        &self,
        rp: &RepoPipeline,
        default_head: &str,
        pr: &PolicyTarget,
        targets: &[(&Stage, &PointerSpec)],
        rollback: bool,
        report: &mut Report,
    ) {
        let stages: BTreeSet<&str> = targets.iter().map(|(s, _)| s.name.as_str()).collect();
        for stage in rp.pipeline.stages.iter().filter(|s| stages.contains(s.name.as_str())) {
            for group in rp.pipeline.groups.values().filter(|g| g.in_stage(stage)) {
                let changed_files: BTreeSet<&str> = targets
                    .iter()
                    .filter(|(s, p)| s.name == stage.name && group.artifacts.contains(&p.artifact))
                    .map(|(_, p)| p.file.as_str())
                    .collect();
                if changed_files.is_empty() {
                    continue;
                }
                let upstream = rp.pipeline.upstream(stage);
                let mut moves = Vec::new();
                for a in &group.artifacts {
                    let Some(spec) = stage.pointers_for(a).next() else { continue };
                    let before = self.digest_at(rp, spec, default_head).await;
                    let after = if changed_files.contains(spec.file.as_str()) {
                        self.digest_at(rp, spec, &pr.head_sha).await
                    } else {
                        before.clone()
                    };
                    let up = match upstream.and_then(|u| u.pointers_for(a).next()) {
                        Some(uspec) => self.digest_at(rp, uspec, default_head).await,
                        None => None,
                    };
                    moves.push(MemberMove { artifact: a.clone(), before, after, upstream: up });
                }
                let moved: Vec<&ArtifactName> =
                    moves.iter().filter(|m| m.before != m.after).map(|m| &m.artifact).collect();
                // The `from` stage may have moved on since it verified the unit this PR carries:
                // a set of digests it verified together (its record on one of its bump commits)
                // is a whole unit too.
                let mut partial = partial_move(group, stage, &moves);
                if let (Some(_), Some(from)) = (&partial, upstream) {
                    let after: Option<Vec<(ArtifactName, Digest)>> =
                        moves.iter().map(|m| m.after.clone().map(|d| (m.artifact.clone(), d))).collect();
                    if let Some(after) = after {
                        match self.verified_as_unit(rp, from, group, &after).await {
                            Ok(true) => partial = None,
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(error = format!("{e:#}"), "cannot read where the unit was verified")
                            }
                        }
                    }
                }
                let verdict = if rollback {
                    Verdict::Skip("a rollback restores a unit the stage ran".into())
                } else {
                    match partial {
                        Some(p) => Verdict::fail(partial_move_text(&p), partial_move_fix(&stage.name)),
                        None => {
                            let digests: Vec<(&ArtifactName, Digest)> =
                                moves.iter().filter_map(|m| m.after.clone().map(|d| (&m.artifact, d))).collect();
                            let id = UnitId::of(digests.iter().map(|(a, d)| (*a, d)));
                            Verdict::pass(format!("{} {id}", group.name))
                        }
                    }
                };
                for row in report
                    .rows
                    .iter_mut()
                    .filter(|r| r.stage == stage.name.as_str() && moved.iter().any(|a| a.as_str() == r.artifact))
                {
                    row.verdicts.push((Rule::Unit, verdict.clone()));
                }
            }
        }
    }

    /// The digest a pointer pins at `sha` (None: unreadable or unpinned).
    async fn digest_at(&self, rp: &RepoPipeline, spec: &PointerSpec, sha: &str) -> Option<Digest> {
        let file = self.github.file(&rp.repo, spec.file.as_str(), sha).await.ok()?;
        let current = pointer::get(&file.text, spec.format, &spec.selector).ok()?;
        current.digest?.parse().ok()
    }
}
