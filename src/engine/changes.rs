//! What a promotion changes (issue 14): the "What changes" section of every promotion PR body
//! and of the `/diff` reply: the artifact's manifest diff (registry reads through
//! [`crate::manifest_diff::Differ`]) and the commits between the versions' source revisions
//! (one GitHub compare request). A courtesy, never a gate: each failure is one line.

use std::collections::BTreeMap;

use crate::manifest_diff::{commits, render as diff_render};
use crate::pipeline::Artifact;
use crate::types::{Digest, Version};

use super::Engine;

/// The versions being compared, as the engine knows them.
pub(crate) struct Between<'a> {
    pub artifact: &'a Artifact,
    /// What the stage runs now (tag and digest as its pointer names them), if anything.
    pub old_tag: Option<&'a str>,
    pub old_digest: Option<&'a str>,
    pub new: &'a Version,
    pub new_annotations: &'a BTreeMap<String, String>,
}

impl Engine {
    /// The section, within `limit` characters (the diff gets what the commits leave), or
    /// `None` when baton has no registry reader for diffs.
    pub(crate) async fn changes_section(&self, b: &Between<'_>, more: Option<&str>, limit: usize) -> Option<String> {
        let differ = self.differ.as_ref()?;
        let image = &b.artifact.image;
        let old_digest = b.old_digest.and_then(|d| d.parse::<Digest>().ok());
        let old_annotations = match &old_digest {
            Some(old) => differ.annotations(image, old).await.unwrap_or_default(),
            None => BTreeMap::new(),
        };
        // A tracked channel tag's versions are named after their revisions (`main-1a2b3c4`).
        let label = |tag: &str, digest: &Digest, annotations: &BTreeMap<String, String>| {
            let version = tag.parse().ok().map(|tag| Version { tag, digest: digest.clone() });
            version.and_then(|v| crate::planner::tracking::version_name(b.artifact, &v, annotations))
        };
        let old_label = match (b.old_tag, &old_digest) {
            (Some(t), Some(d)) => label(t, d, &old_annotations).unwrap_or_else(|| t.to_string()),
            (t, _) => t.unwrap_or("(unpinned)").to_string(),
        };
        let new_label =
            label(b.new.tag.as_str(), &b.new.digest, b.new_annotations).unwrap_or_else(|| b.new.tag.to_string());
        let heading =
            diff_render::Heading { artifact: b.artifact.name.as_str(), old: &old_label, new: &new_label, more };

        let (diff_text, commits_text) = match &old_digest {
            None => (
                format!(
                    "**Manifest diff** of {}: not available: the stage does not pin a digest yet.\n",
                    diff_render::code(b.artifact.name.as_str())
                ),
                None,
            ),
            Some(old) => {
                let commits_text = self.commits_text(&old_annotations, b.new_annotations).await;
                let budget = limit.saturating_sub(commits_text.len() + 200);
                let diff = differ.diff(image, old, &b.new.digest).await;
                (diff_render::markdown(&heading, &diff, budget), Some(commits_text))
            }
        };
        let mut s = diff_text;
        if let Some(c) = commits_text {
            s.push('\n');
            s.push_str(&c);
        }
        Some(s)
    }

    /// "What it brings": one compare request when both versions name their source revision.
    async fn commits_text(&self, old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> String {
        match commits::plan(old, new) {
            Err(reason) => format!("**Commits**: not listed: {reason}.\n"),
            Ok(req) => match self.github.compare(&req.repo, &req.base, &req.head).await {
                Ok(cmp) => commits::markdown(&req, &cmp),
                Err(e) => {
                    tracing::warn!(repository = %req.repo, error = %e, "compare request failed");
                    format!(
                        "**Commits**: not listed: GitHub did not compare {}...{} in {} (is baton installed there?).\n",
                        &req.base[..7],
                        &req.head[..7],
                        diff_render::code(req.repo.as_str())
                    )
                }
            },
        }
    }
}
