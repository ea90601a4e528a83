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
