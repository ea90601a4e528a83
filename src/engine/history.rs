//! What the default branch's history says about a stage: its current bump commit, the versions
//! its pointer named, the bump commits on which a version was verified, and the versions rolled
//! back in it or upstream (`Baton-Rejected:` trailers, written and parsed in `render`).
//!
//! The record of "verified in a stage" is the `baton/verified/<stage>` check run on the stage's
//! bump commit, and the bump commit is found from the pointer file's history on the default
//! branch — so a human's merged pointer change counts as a bump too, and nothing on another
//! branch can pose as one.

use chrono::{DateTime, Utc};

use super::{Engine, RepoPipeline};
use crate::github::GitHubError;
use crate::pipeline::PointerSpec;
use crate::planner::StagePointer;
use crate::pointer;
use crate::types::{Digest, Tag, Version};

/// A default-branch commit that moved a stage's pointer to a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    pub sha: String,
    pub version: Version,
    pub date: Option<DateTime<Utc>>,
    /// The bump commit's first parent (what the default branch held before it).
    pub parent: Option<String>,
}

/// The version a pointer names in `text`, if it names a valid tag and digest. `track`: the
/// artifact's tracked channel tag, which a pointer without a tag (a yaml-path template of
/// `{revision}` or the digest alone) names (`planner::tracking::normalize`).
pub(crate) fn read_version(text: &str, spec: &PointerSpec, track: Option<&Tag>) -> Option<Version> {
    let c = crate::planner::tracking::normalize(track, pointer::get(text, spec.format, &spec.selector).ok()?);
    Some(Version { tag: c.tag?.parse::<Tag>().ok()?, digest: c.digest?.parse::<Digest>().ok()? })
}

impl Engine {
    /// The version `sp`'s pointer names at commit `sha` (None: absent or unreadable).
    async fn version_at(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, sha: &str) -> anyhow::Result<Option<Version>> {
        let spec = sp.spec;
        match self.github.file(&rp.repo, spec.file.as_str(), sha).await {
            Ok(f) => Ok(read_version(&f.text, spec, sp.artifact.track.as_ref())),
            Err(GitHubError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The commit that moved the stage's pointer to the version it runs now.
    pub async fn current_bump(&self, rp: &RepoPipeline, sp: &StagePointer<'_>) -> anyhow::Result<Option<Bump>> {
        let spec = sp.spec;
        let history = self.github.path_history(&rp.repo, &rp.default_branch, spec.file.as_str(), 10).await?;
        let Some(newest) = history.first() else { return Ok(None) };
        let Some(version) = read_version(
            &self.github.file(&rp.repo, spec.file.as_str(), &newest.sha).await?.text,
            spec,
            sp.artifact.track.as_ref(),
        ) else {
            return Ok(None);
        };
        // Walk back past commits that touched the file without changing the version.
        let mut bump = newest.clone();
        for older in history.iter().skip(1) {
            if self.version_at(rp, sp, &older.sha).await?.as_ref() != Some(&version) {
                break;
            }
            bump = older.clone();
        }
        let date =
            bump.date.as_deref().and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map(|d| d.with_timezone(&Utc));
        Ok(Some(Bump { parent: bump.parents.first().cloned(), sha: bump.sha, version, date }))
    }

    /// The pointer's history on the default branch, newest first (the last `limit` commits
    /// touching its file): each commit with the version the pointer names there, if any.
    pub(crate) async fn pointer_history(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        limit: u32,
    ) -> anyhow::Result<Vec<(String, Option<Version>)>> {
        let history = self.github.path_history(&rp.repo, &rp.default_branch, sp.spec.file.as_str(), limit).await?;
        let mut out = Vec::with_capacity(history.len());
        for c in history {
            let version = self.version_at(rp, sp, &c.sha).await?;
            out.push((c.sha, version));
        }
        Ok(out)
    }

    /// Versions the stage's pointer named on the default branch, newest first, without repeats.
    pub(crate) async fn versions_in_history(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
    ) -> anyhow::Result<Vec<Version>> {
        let history = self.pointer_history(rp, sp, 30).await?;
        Ok(crate::planner::versions::distinct_versions(history.into_iter().map(|(_, v)| v)))
    }

    /// Default-branch commits (newest first, among the last `limit` touching the pointer file)
    /// at which the pointer names `version`.
    pub async fn commits_running(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        version: &Version,
        limit: u32,
    ) -> anyhow::Result<Vec<String>> {
        let history = self.pointer_history(rp, sp, limit).await?;
        Ok(history.into_iter().filter(|(_, v)| v.as_ref() == Some(version)).map(|(sha, _)| sha).collect())
    }

    /// Commits (newest first, among the last `limit` touching any member's pointer file) at
    /// which `sp`'s pointer names `version`.
    async fn unit_commits_running(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        group: &crate::pipeline::Group,
        version: &Version,
        limit: u32,
    ) -> anyhow::Result<Vec<String>> {
        let mut commits: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
        for member in Self::unit_members(rp, sp.stage, group) {
            for c in self.github.path_history(&rp.repo, &rp.default_branch, member.spec.file.as_str(), limit).await? {
                if commits.iter().all(|(_, s)| *s != c.sha) {
                    let date = c
                        .date
                        .as_deref()
                        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                        .map(|d| d.with_timezone(&Utc));
                    commits.push((date, c.sha));
                }
            }
        }
        commits.sort_by_key(|c| std::cmp::Reverse(c.0));
        let mut out = Vec::new();
        for (_, sha) in commits.into_iter().take(limit as usize) {
            if self.version_at(rp, sp, &sha).await?.as_ref() == Some(version) {
                out.push(sha);
            }
        }
        Ok(out)
    }

    /// The bump commit on which the stage verified `version` (its `baton/verified/<stage>` check
    /// run succeeded there), searching the stage's pointer history on the default branch.
    pub async fn verified_in(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        version: &Version,
    ) -> anyhow::Result<Option<String>> {
        let name = crate::render::verified_check_name(&sp.stage.name);
        // A release unit's member may have been verified by a bump that moved only another
        // member (its own file unchanged): every member file's history counts.
        let shas = match Self::unit_group(rp, sp.stage, &sp.artifact.name) {
            Some(group) => self.unit_commits_running(rp, sp, group, version, 30).await?,
            None => self.commits_running(rp, sp, version, 30).await?,
        };
        for sha in shas {
            let runs = self.github.check_runs(&rp.repo, &sha, Some(&name)).await?;
            if runs.iter().any(|r| r.succeeded()) {
                return Ok(Some(sha));
            }
        }
        Ok(None)
    }

    /// Versions rolled back in the stage or upstream of it (`Baton-Rejected:` trailers on the
    /// default branch): auto-promotion never brings them back.
    pub async fn rejected_versions(&self, rp: &RepoPipeline, sp: &StagePointer<'_>) -> anyhow::Result<Vec<Version>> {
        let mut out = Vec::new();
        let mut current = Some(sp.stage);
        let mut seen = 0;
        while let Some(s) = current {
            seen += 1;
            if seen > rp.pipeline.stages.len() {
                break; // the validator forbids cycles; this is only a guard
            }
            if let Some(here) = sp.in_stage(s) {
                let file = here.spec.file.as_str();
                for c in self.github.path_history(&rp.repo, &rp.default_branch, file, 50).await? {
                    out.extend(crate::render::parse_rejected_trailers(&c.message));
                }
            }
            current = s.from.as_ref().and_then(|f| rp.pipeline.stage(f));
        }
        Ok(out)
    }
}
