//! Release units (#13) promoted by baton: a push of any member makes a unit on the first stages
//! (`planner::units::unit_from_push`), the unit moves in one PR or commit
//! (`planner::units::plan_unit`), its bump commit is verified as one (the unit's bump is the
//! newest of its members' bumps), and a verified unit moves downstream as exactly the digests
//! the stage verified (read from its pointers at the bump commit). `/rollback` restores the unit
//! at the parent of the unit's bump commit.

use std::collections::BTreeMap;

use super::history::Bump;
use super::{report_unit_outcome, Engine, Outcome, RepoPipeline};
use crate::github::{FileContent, GitHubError, PullRequest};
use crate::pipeline::{Artifact, Group, Promotion, Stage};
use crate::planner::units::{plan_unit, unit_from_push, MemberCandidate, MemberSnapshot, UnitOffer, UnitSnapshot};
use crate::planner::versions::newest_release_tag;
use crate::planner::{Decision, Intent, Offer, StagePointer};
use crate::types::{ArtifactName, StageName, Version};

/// A stage's current unit: the newest of its members' bump commits, and what each member runs.
#[derive(Debug, Clone)]
pub struct UnitBump {
    pub bump: Bump,
    pub members: Vec<(ArtifactName, Version)>,
}

impl Engine {
    /// The group `artifact` belongs to when `stage` holds that group (then it moves as a unit).
    pub(crate) fn unit_group<'a>(rp: &'a RepoPipeline, stage: &Stage, artifact: &ArtifactName) -> Option<&'a Group> {
        rp.pipeline.group_of(artifact).filter(|g| g.in_stage(stage))
    }

    /// The members of `group` the stage has a pointer for, in the group's order.
    pub(crate) fn unit_members<'a>(rp: &'a RepoPipeline, stage: &'a Stage, group: &Group) -> Vec<StagePointer<'a>> {
        group
            .artifacts
            .iter()
            .filter_map(|a| rp.pipeline.artifacts.get(a))
            .filter_map(|a| StagePointer::of(stage, a))
            .collect()
    }

    /// A verified push of `artifact` (`offer`) to a first stage holding its group: the unit it
    /// makes (the other members at their newest verified versions, or what the stage runs).
    pub(crate) async fn unit_push(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
        artifact: &Artifact,
        offer: &Offer,
        open: Option<&[PullRequest]>,
    ) -> anyhow::Result<Outcome> {
        let head = self.github.branch_head(&rp.repo, &rp.default_branch).await?;
        let mut candidates = Vec::new();
        let mut verified_by = BTreeMap::new();
        for sp in Self::unit_members(rp, stage, group) {
            let file = self.github.file(&rp.repo, sp.spec.file.as_str(), &head).await?;
            let current = super::history::read_version(&file.text, sp.spec, sp.artifact.track.as_ref());
            let newest = if sp.artifact.name == artifact.name {
                if let Some(by) = &offer.verified_by {
                    verified_by.insert(sp.artifact.name.clone(), by.clone());
                }
                Some(offer.version.clone())
            } else {
                // A version rolled back here or upstream is never brought back by a push of
                // another member: that member stays as it is.
                let rejected = self.rejected_versions(rp, &sp).await?;
                match self.newest_verified(rp, sp.artifact).await {
                    Some((v, by)) if !rejected.contains(&v) => {
                        verified_by.insert(sp.artifact.name.clone(), by);
                        Some(v)
                    }
                    _ => None,
                }
            };
            candidates.push(MemberCandidate { artifact: sp.artifact.name.clone(), current, newest });
        }
        let members = match unit_from_push(group, &candidates) {
            Ok(m) => m,
            Err(why) => return Ok(Outcome::Noop(why)),
        };
        let names = self.unit_names(rp, &members).await;
        let unit = UnitOffer { members, verified_by, verified_in: None, names, intent: offer.intent.clone() };
        self.promote_unit(rp, stage, group, &unit, open).await
    }

    /// A member's newest release version in the registry whose signature verifies, with who
    /// verified it (None: no release tag, or its signature does not verify now).
    async fn newest_verified(&self, rp: &RepoPipeline, artifact: &Artifact) -> Option<(Version, String)> {
        // A tracked member's newest version is what its channel tag points at now.
        let tag = match &artifact.track {
            Some(track) => track.clone(),
            None => newest_release_tag(artifact, self.registry.list_tags(&artifact.image).await.ok()?)?,
        };
        let digest = self.registry.resolve(&artifact.image, &tag).await.ok()?.digest;
        let version = Version { tag, digest };
        match self.signed_offer(rp, artifact, &version, None, Intent::Routine).await {
            Ok(o) => Some((version, o.verified_by.unwrap_or_default())),
            Err(e) => {
                tracing::info!(artifact = %artifact.name, version = %version, reason = %e, "not in the unit: signature not verified");
                None
            }
        }
    }

    /// Every member's newest release version with a verified signature (`/promote` of a first
    /// stage that runs the unit).
    pub(crate) async fn newest_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
    ) -> Result<Vec<(ArtifactName, Version)>, String> {
        let mut out = Vec::new();
        for sp in Self::unit_members(rp, stage, group) {
            match self.newest_verified(rp, sp.artifact).await {
                Some((v, _)) => out.push((sp.artifact.name.clone(), v)),
                None => {
                    return Err(format!(
                        "{} has no release version with a verified signature in {}",
                        sp.artifact.name, sp.artifact.image
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Re-verifies every member's signature (keys from the default branch) and offers the unit.
    pub(crate) async fn signed_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
        members: Vec<(ArtifactName, Version)>,
        verified_in: Option<StageName>,
        intent: Intent,
    ) -> Result<UnitOffer, String> {
        let mut verified_by = BTreeMap::new();
        for (a, v) in &members {
            let Some(artifact) = rp.pipeline.artifacts.get(a) else { continue };
            if Self::unit_group(rp, stage, a).is_none_or(|g| g.name != group.name) {
                continue;
            }
            match self.signed_offer(rp, artifact, v, None, Intent::Routine).await {
                Ok(o) => {
                    verified_by.insert(a.clone(), o.verified_by.unwrap_or_default());
                }
                Err(e) => return Err(format!("{a} {v}: {e}")),
            }
        }
        let names = self.unit_names(rp, &members).await;
        Ok(UnitOffer { members, verified_by, verified_in, names, intent })
    }

    /// Tracked members' version names (`main-1a2b3c4`, from their annotations read by digest).
    async fn unit_names(
        &self,
        rp: &RepoPipeline,
        members: &[(ArtifactName, Version)],
    ) -> BTreeMap<ArtifactName, String> {
        let mut names = BTreeMap::new();
        for (a, v) in members {
            let Some(artifact) = rp.pipeline.artifacts.get(a) else { continue };
            if crate::planner::tracking::is_tracked(artifact, v) {
                names.insert(a.clone(), self.shown_version(artifact, v).await);
            }
        }
        names
    }

    /// Moves the stage to the unit (idempotently): re-reads the members' pointer files and the
    /// unit's open PR, plans, writes. Lost races are re-planned.
    pub(crate) async fn promote_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
        offer: &UnitOffer,
        open: Option<&[PullRequest]>,
    ) -> anyhow::Result<Outcome> {
        let members = Self::unit_members(rp, stage, group);
        if !offer.intent.may_bring_back_rejected() {
            for sp in &members {
                let Some(v) = offer.version_of(&sp.artifact.name) else { continue };
                if self.rejected_versions(rp, sp).await?.contains(v) {
                    return Ok(Outcome::Noop(format!(
                        "{} {v} was rolled back in {} or upstream; the {} unit is not promoted",
                        sp.artifact.name, stage.name, group.name
                    )));
                }
            }
        }
        let branch = crate::render::unit_branch(&stage.name, &group.name);
        for attempt in 1..=3 {
            let head = self.github.branch_head(&rp.repo, &rp.default_branch).await?;
            let files = self.pointer_files(rp, stage, &names(&members), &head).await?;
            let open_pr = match stage.write {
                crate::pipeline::WriteMode::Commit => None,
                crate::pipeline::WriteMode::PullRequest => match open.filter(|_| attempt == 1) {
                    Some(list) => {
                        crate::planner::promotion::open_pr_for(list, &branch, self.app_login().await.as_deref())
                            .cloned()
                    }
                    None => self.github.find_open_pull(&rp.repo, &branch).await?,
                },
            };
            let snapshot = unit_snapshot(rp, stage, group, &members, &head, &files, open_pr.as_ref());
            let mut plan = match plan_unit(&snapshot, offer)? {
                Decision::Noop(why) => return Ok(Outcome::Noop(why)),
                Decision::Proposed { number, missing_labels } => {
                    if !missing_labels.is_empty() {
                        self.github.add_labels(&rp.repo, number, &missing_labels).await?;
                    }
                    let url = open_pr.as_ref().map(|p| p.html_url.clone()).unwrap_or_default();
                    return Ok(Outcome::Proposed { number, url });
                }
                Decision::Write(plan) => plan,
            };
            if plan.mode == crate::pipeline::WriteMode::PullRequest {
                let limit = crate::manifest_diff::render::GITHUB_BODY_LIMIT.saturating_sub(plan.body.len() + 1_000);
                let limit = limit.min(crate::manifest_diff::render::PR_BODY_BUDGET);
                if let Some(section) = self.unit_changes(rp, &plan.marker, Some(&stage.name), limit).await {
                    plan.body = crate::manifest_diff::render::insert_into_body(&plan.body, &section);
                }
            }
            let blobs: Vec<(&str, &str)> = files.iter().map(|f| (f.path.as_str(), f.sha.as_str())).collect();
            match self.execute(&rp.repo, &plan, &blobs, false).await {
                Err(GitHubError::Conflict(e)) if attempt < 3 => {
                    tracing::info!(error = %e, "lost a race; re-reading and trying again");
                    continue;
                }
                other => return Ok(other?),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The marker a plan for the unit would carry (each member from → to), without writing:
    /// for `/diff`. `Err`: why nothing would change.
    pub(crate) async fn unit_marker(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
        offer: &UnitOffer,
    ) -> anyhow::Result<Result<crate::render::Marker, String>> {
        let members = Self::unit_members(rp, stage, group);
        let head = self.github.branch_head(&rp.repo, &rp.default_branch).await?;
        let files = self.pointer_files(rp, stage, &names(&members), &head).await?;
        let snapshot = unit_snapshot(rp, stage, group, &members, &head, &files, None);
        Ok(match plan_unit(&snapshot, offer)? {
            Decision::Write(plan) => Ok(plan.marker),
            Decision::Noop(why) => Err(why),
            Decision::Proposed { number, .. } => Err(format!("#{number} proposes it already")),
        })
    }

    /// "What changes" for a unit: each member that moves, its manifest diff and commits, within
    /// `limit` characters shared among them. `diff_stage`: the stage a `/diff` hint names.
    pub(crate) async fn unit_changes(
        &self,
        rp: &RepoPipeline,
        marker: &crate::render::Marker,
        diff_stage: Option<&StageName>,
        limit: usize,
    ) -> Option<String> {
        let unit = marker.unit.as_ref()?;
        let moving: Vec<&crate::render::UnitMember> =
            unit.members.iter().filter(|m| m.from_digest.as_deref() != Some(m.digest.as_str())).collect();
        let share = limit / moving.len().max(1);
        let mut out = String::new();
        for m in moving {
            let Some(artifact) = rp.pipeline.artifacts.get(&m.artifact) else { continue };
            let new = m.version();
            let annotations = self.registry.annotations_of(&artifact.image, &new.digest).await.unwrap_or_default();
            let between = super::changes::Between {
                artifact,
                old_tag: m.from_tag.as_deref(),
                old_digest: m.from_digest.as_deref(),
                new: &new,
                new_annotations: &annotations,
            };
            let more = diff_stage.map(|s| format!("/diff {s}"));
            let section = self.changes_section(&between, more.as_deref(), share).await?;
            out.push_str(&section);
            out.push('\n');
        }
        Some(out)
    }

    /// The stage's current unit of `group`: the newest of its members' bump commits (the commit
    /// that made the set the stage runs), and each member's version.
    pub(crate) async fn unit_bump(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
    ) -> anyhow::Result<Option<UnitBump>> {
        let mut bumps: Vec<Bump> = Vec::new();
        for sp in Self::unit_members(rp, stage, group) {
            let Some(b) = self.current_bump(rp, &sp).await? else { return Ok(None) };
            bumps.push(b);
        }
        let members: Vec<(ArtifactName, Version)> = Self::unit_members(rp, stage, group)
            .iter()
            .zip(&bumps)
            .map(|(sp, b)| (sp.artifact.name.clone(), b.version.clone()))
            .collect();
        // The newest bump: by the default branch's order (its newest commits), else by date
        // (commit dates have seconds; two bumps in one second are told apart by the order).
        let newest = if bumps.windows(2).all(|w| w[0].sha == w[1].sha) {
            bumps.first().cloned()
        } else {
            let order = self.github.branch_commits(&rp.repo, &rp.default_branch, 100).await?;
            let rank = |b: &Bump| order.iter().position(|c| c.sha == b.sha).map_or(usize::MAX, |i| usize::MAX - 1 - i);
            bumps.iter().max_by_key(|b| (rank(b) != usize::MAX, rank(b), b.date)).cloned()
        };
        // The bump carries the first member's version (its annotations name the source commit).
        let first = members.first().map(|(_, v)| v.clone());
        Ok(newest
            .map(|bump| UnitBump { bump: Bump { version: first.unwrap_or(bump.version.clone()), ..bump }, members }))
    }

    /// Every member's version at `sha` (the pointer files there).
    pub(crate) async fn unit_at(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
        sha: &str,
    ) -> anyhow::Result<Vec<(ArtifactName, Option<Version>)>> {
        let mut out = Vec::new();
        for sp in Self::unit_members(rp, stage, group) {
            let v = match self.github.file(&rp.repo, sp.spec.file.as_str(), sha).await {
                Ok(f) => super::history::read_version(&f.text, sp.spec, sp.artifact.track.as_ref()),
                Err(GitHubError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            out.push((sp.artifact.name.clone(), v));
        }
        Ok(out)
    }

    /// A verified unit moves to every `auto` stage below that holds the group, as exactly the
    /// digests the stage verified (its pointers at the bump commit).
    pub(crate) async fn promote_unit_downstream(&self, rp: &RepoPipeline, stage: &Stage, group: &Group, bump: &Bump) {
        let verified = match self.unit_at(rp, stage, group, &bump.sha).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "cannot read the verified unit");
                return;
            }
        };
        let Some(members) = verified.into_iter().map(|(a, v)| v.map(|v| (a, v))).collect::<Option<Vec<_>>>() else {
            return;
        };
        for next in rp.pipeline.downstream(&stage.name) {
            if next.promotion != Promotion::Auto || !group.in_stage(next) {
                continue;
            }
            let outcome = match self
                .signed_unit(rp, next, group, members.clone(), Some(stage.name.clone()), Intent::Routine)
                .await
            {
                Ok(offer) => self.promote_unit(rp, next, group, &offer, None).await,
                Err(e) => Err(anyhow::anyhow!("signature of {e}")),
            };
            report_unit_outcome(next, group, &outcome);
        }
    }

    /// Whether `stage` verified exactly this set of digests together: a successful
    /// `baton/verified/<stage>` record on a default-branch commit (among the last 30 touching a
    /// member's pointer file) at which every member's pointer names its digest here.
    pub(crate) async fn verified_as_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &Group,
        set: &[(ArtifactName, crate::types::Digest)],
    ) -> anyhow::Result<bool> {
        let members = Self::unit_members(rp, stage, group);
        let name = crate::render::verified_check_name(&stage.name);
        let mut seen: Vec<String> = Vec::new();
        for member in &members {
            for c in self.github.path_history(&rp.repo, &rp.default_branch, member.spec.file.as_str(), 30).await? {
                if seen.contains(&c.sha) {
                    continue;
                }
                seen.push(c.sha.clone());
                let runs = self.github.check_runs(&rp.repo, &c.sha, Some(&name)).await?;
                if !runs.iter().any(|r| r.succeeded()) {
                    continue;
                }
                let at = self.unit_at(rp, stage, group, &c.sha).await?;
                let same = at.iter().all(|(a, v)| {
                    let want = set.iter().find(|(x, _)| x == a).map(|(_, d)| d);
                    v.as_ref().map(|v| &v.digest) == want
                });
                if same {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The unit verified upstream of `stage` (the `from` stage's current unit, when its bump
    /// commit's record succeeded), for `/promote` without a version.
    pub(crate) async fn verified_upstream_unit(
        &self,
        rp: &RepoPipeline,
        from: &Stage,
        group: &Group,
    ) -> anyhow::Result<Option<(Vec<(ArtifactName, Version)>, String)>> {
        let Some(ub) = self.unit_bump(rp, from, group).await? else { return Ok(None) };
        let name = crate::render::verified_check_name(&from.name);
        let runs = self.github.check_runs(&rp.repo, &ub.bump.sha, Some(&name)).await?;
        if !runs.iter().any(|r| r.succeeded()) {
            return Ok(None);
        }
        // What the members run now is what they ran at the unit's bump (the newest commit that
        // moved any of them).
        Ok(Some((ub.members, ub.bump.sha)))
    }
}

/// The planner's view of a stage and group: each member's pointers with their files at `head`.
fn unit_snapshot<'a>(
    rp: &'a RepoPipeline,
    stage: &'a Stage,
    group: &'a Group,
    members: &[StagePointer<'a>],
    head: &'a str,
    files: &'a [FileContent],
    open_pr: Option<&'a PullRequest>,
) -> UnitSnapshot<'a> {
    UnitSnapshot {
        stage,
        group,
        default_branch: &rp.default_branch,
        default_head: head,
        members: members
            .iter()
            .map(|sp| MemberSnapshot {
                artifact: sp.artifact,
                pointers: stage
                    .pointers_for(&sp.artifact.name)
                    .filter_map(|p| files.iter().find(|f| f.path == p.file.as_str()).map(|f| (p, f)))
                    .collect(),
            })
            .collect(),
        open_pr,
    }
}

/// The members' artifact names.
fn names<'a>(members: &'a [StagePointer<'a>]) -> Vec<&'a ArtifactName> {
    members.iter().map(|sp| &sp.artifact.name).collect()
}
