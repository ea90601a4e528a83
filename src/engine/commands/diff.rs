//! `/diff <stage> [<version>]`: what moving a stage to a version would change (manifest diff,
//! commits), before anyone opens a PR. The version defaults to what the stage's `from` stage
//! runs (for a first stage: the newest release tag in the registry).

use super::{refused, Reply};
use crate::commands::VersionArg;
use crate::engine::changes::Between;
use crate::engine::history::read_version;
use crate::engine::{Engine, RepoPipeline};
use crate::manifest_diff::render as diff_render;
use crate::pipeline::Stage;
use crate::planner::{versions, StagePointer};
use crate::types::Version;

impl Engine {
    pub(super) async fn cmd_diff(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        arg: Option<&VersionArg>,
    ) -> anyhow::Result<Reply> {
        if let Some(group) = super::unit_stage(rp, stage) {
            return self.cmd_diff_unit(rp, stage, group, arg).await;
        }
        let sp = match self.single_pointer(rp, stage) {
            Ok(sp) => sp,
            Err(e) => return Ok(refused(e)),
        };
        let running = self.running(rp, &sp).await?;
        let target = match (arg, stage.from.as_ref().and_then(|f| rp.pipeline.stage(f))) {
            (Some(a), _) => match self.resolve_arg(sp.artifact, a, &[]).await {
                Ok(v) => v,
                Err(e) => return Ok(refused(e)),
            },
            (None, Some(from)) => {
                let Some(from_sp) = sp.in_stage(from) else {
                    return Ok(refused(format!("{} has no pointer for {}", from.name, sp.artifact.name)));
                };
                match self.running(rp, &from_sp).await? {
                    Some(v) => v,
                    None => {
                        return Ok(refused(format!("{} does not pin a version of {} yet", from.name, sp.artifact.name)))
                    }
                }
            }
            // A tracked channel tag: the digest it points at now.
            (None, None) if sp.artifact.track.is_some() => {
                let tag = sp.artifact.track.clone().expect("tracked");
                let digest = self.registry.resolve(&sp.artifact.image, &tag).await?.digest;
                Version { tag, digest }
            }
            (None, None) => {
                let tags = self.registry.list_tags(&sp.artifact.image).await?;
                let Some(tag) = versions::newest_release_tag(sp.artifact, tags) else {
                    return Ok(refused(format!("{} has no release tag matching its pattern", sp.artifact.image)));
                };
                let digest = self.registry.resolve(&sp.artifact.image, &tag).await?.digest;
                Version { tag, digest }
            }
        };
        if running.as_ref() == Some(&target) {
            let shown = self.shown_version(sp.artifact, &target).await;
            return Ok(Reply::Done(format!("{} already runs `{shown}`: nothing would change", stage.name)));
        }
        let annotations = if crate::planner::tracking::is_tracked(sp.artifact, &target) {
            self.registry.annotations_of(&sp.artifact.image, &target.digest).await.unwrap_or_default()
        } else {
            self.registry
                .resolve(&sp.artifact.image, &target.tag)
                .await
                .ok()
                .filter(|r| r.digest == target.digest)
                .map(|r| r.annotations)
                .unwrap_or_default()
        };
        let (old_tag, old_digest) = match &running {
            Some(v) => (Some(v.tag.to_string()), Some(v.digest.to_string())),
            None => (None, None),
        };
        let between = Between {
            artifact: sp.artifact,
            old_tag: old_tag.as_deref(),
            old_digest: old_digest.as_deref(),
            new: &target,
            new_annotations: &annotations,
        };
        let old_shown = match &running {
            Some(v) => format!("`{}`", self.shown_version(sp.artifact, v).await),
            None => "nothing pinned".into(),
        };
        let intro = format!(
            "What moving **{}** from {old_shown} to `{}` would change:\n\n",
            stage.name,
            self.shown_version(sp.artifact, &target).await
        );
        match self.changes_section(&between, None, diff_render::REPLY_BUDGET - intro.len()).await {
            Some(section) => Ok(Reply::Done(format!("{intro}{section}"))),
            None => Ok(refused("this baton has no registry reader for diffs")),
        }
    }

    /// `/diff` of a stage that runs a release unit: what moving it to the unit its `from` stage
    /// runs (a first stage: every member's newest verified version) would change, member by
    /// member. A version names one artifact: refused.
    async fn cmd_diff_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &crate::pipeline::Group,
        arg: Option<&VersionArg>,
    ) -> anyhow::Result<Reply> {
        if arg.is_some() {
            return Ok(refused(crate::render::unit_version_refusal("diff", &stage.name, &group.name)));
        }
        let target = match stage.from.as_ref().and_then(|f| rp.pipeline.stage(f)) {
            Some(from) => {
                let at = match self.unit_bump(rp, from, group).await? {
                    Some(ub) => ub.members,
                    None => return Ok(refused(format!("{} runs no {} unit yet", from.name, group.name))),
                };
                at
            }
            None => match self.newest_unit(rp, stage, group).await {
                Ok(members) => members,
                Err(why) => return Ok(refused(why)),
            },
        };
        let offer = match self.signed_unit(rp, stage, group, target, None, crate::planner::Intent::Routine).await {
            Ok(o) => o,
            Err(e) => return Ok(refused(format!("the {} unit cannot be compared: {e}", group.name))),
        };
        // The unit as a plan would write it (from → to per member), without writing anything.
        let marker = match self.unit_marker(rp, stage, group, &offer).await? {
            Ok(m) => m,
            Err(why) => return Ok(Reply::Done(format!("nothing would change: {why}"))),
        };
        let unit = marker.unit.as_ref().expect("a unit marker");
        let intro =
            format!("What moving **{}** to {} would change:\n\n", stage.name, crate::render::unit_title_members(unit));
        match self.unit_changes(rp, &marker, None, diff_render::REPLY_BUDGET - intro.len()).await {
            Some(section) => Ok(Reply::Done(format!("{intro}{section}"))),
            None => Ok(refused("this baton has no registry reader for diffs")),
        }
    }

    /// The version a stage's pointer names on the default branch.
    async fn running(&self, rp: &RepoPipeline, sp: &StagePointer<'_>) -> anyhow::Result<Option<Version>> {
        let file = match self.github.file(&rp.repo, sp.spec.file.as_str(), &rp.default_branch).await {
            Ok(f) => f,
            Err(crate::github::GitHubError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(read_version(&file.text, sp.spec, sp.artifact.track.as_ref()))
    }
}
