//! Release units (#13): whether and how to move a stage to a unit — one version of every member
//! of a group — in one PR or commit. A [`UnitSnapshot`] (each member's pointer files, the open
//! PR on the unit's branch) plus a [`UnitOffer`] in, a [`Decision`] out, like
//! [`super::plan_promotion`] for one artifact; and which unit a push, a verified stage or a
//! rollback offers ([`unit_from_push`], [`previous_unit`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::promotion::{missing_labels, Decision, Intent, PlanError, WritePlan};
use crate::forge::{FileContent, FileWrite, PullRequest};
use crate::pipeline::{Artifact, Group, GroupWhen, PointerSpec, Stage};
use crate::pointer::{self, Current};
use crate::render::{self, Marker, UnitMarker, UnitMember};
use crate::types::{ArtifactName, StageName, Version};
use crate::units::UnitId;

/// One member's pointers in the stage, each with its file at the default branch's head.
pub struct MemberSnapshot<'a> {
    pub artifact: &'a Artifact,
    pub pointers: Vec<(&'a PointerSpec, &'a FileContent)>,
}

/// What the engine read for one stage and group.
pub struct UnitSnapshot<'a> {
    pub stage: &'a Stage,
    pub group: &'a Group,
    pub default_branch: &'a str,
    pub default_head: &'a str,
    /// In the group's member order; members the stage has no pointer for are absent.
    pub members: Vec<MemberSnapshot<'a>>,
    /// The open PR on the unit's branch, if any.
    pub open_pr: Option<&'a PullRequest>,
}

/// A unit offered to a stage.
#[derive(Debug, Clone)]
pub struct UnitOffer {
    /// One version per member, in the group's member order.
    pub members: Vec<(ArtifactName, Version)>,
    /// Which key or identity verified each member's signature.
    pub verified_by: BTreeMap<ArtifactName, String>,
    /// The stage that verified exactly this set (None: new from the registry).
    pub verified_in: Option<StageName>,
    /// Tracked members' version names (`main-1a2b3c4`), by artifact.
    pub names: BTreeMap<ArtifactName, String>,
    pub intent: Intent,
}

impl UnitOffer {
    pub fn id(&self) -> UnitId {
        UnitId::of(self.members.iter().map(|(a, v)| (a, &v.digest)))
    }
    pub fn version_of(&self, artifact: &ArtifactName) -> Option<&Version> {
        self.members.iter().find(|(a, _)| a == artifact).map(|(_, v)| v)
    }
}

fn current_of(m: &MemberSnapshot) -> Result<Current, PlanError> {
    let (spec, file) = m.pointers.first().ok_or_else(|| PlanError {
        file: String::new(),
        reason: format!("the stage has no pointer for {}", m.artifact.name),
    })?;
    pointer::get(&file.text, spec.format, &spec.selector)
        .map_err(|e| PlanError { file: spec.file.to_string(), reason: e.to_string() })
}

fn compare(new: &Version, current: &Current) -> Option<Ordering> {
    let tag = current.tag.as_deref()?.parse::<crate::types::Tag>().ok()?;
    new.tag.compare(&tag)
}

/// Decides whether and how to move `snapshot.stage` to the unit `offer`.
pub fn plan_unit(snapshot: &UnitSnapshot, offer: &UnitOffer) -> Result<Decision, PlanError> {
    let stage = &snapshot.stage.name;
    let group = &snapshot.group.name;
    let rollback = offer.intent.is_rollback();
    let approved_by = offer.intent.approved_by();
    let id = offer.id();

    let mut members: Vec<UnitMember> = Vec::new();
    for m in &snapshot.members {
        let Some(v) = offer.version_of(&m.artifact.name) else {
            return Err(PlanError {
                file: String::new(),
                reason: format!("the unit names no version of {}", m.artifact.name),
            });
        };
        // A tracked member's versions all have the channel tag: the engine judged the digest
        // (`planner::tracking::decide`); its order is not the tag's.
        let tracked = super::tracking::is_tracked(m.artifact, v);
        let current = super::tracking::normalize(m.artifact.track.as_ref(), current_of(m)?);
        let same = current.digest.as_deref() == Some(v.digest.as_str());
        if !rollback && !same && !tracked {
            match compare(v, &current) {
                Some(Ordering::Less) => {
                    return Ok(Decision::Noop(format!(
                        "{} {} is older than {} which {stage} runs",
                        m.artifact.name,
                        v.tag,
                        current.tag.as_deref().unwrap_or_default()
                    )))
                }
                Some(Ordering::Equal) => {
                    return Ok(Decision::Noop(format!(
                        "{stage} already runs {} {} (pinned to {}); a re-pushed tag is not a new version",
                        m.artifact.name,
                        v.tag,
                        current.digest.as_deref().unwrap_or("no digest")
                    )))
                }
                _ => {}
            }
        }
        members.push(UnitMember {
            artifact: m.artifact.name.clone(),
            tag: v.tag.clone(),
            digest: v.digest.clone(),
            name: tracked.then(|| offer.names.get(&m.artifact.name).cloned()).flatten(),
            from_tag: current.tag.clone(),
            from_digest: current.digest.clone(),
        });
    }
    if members.iter().all(|m| m.from_digest.as_deref() == Some(m.digest.as_str())) {
        return Ok(Decision::Noop(format!("{stage} already runs {group} unit {id}")));
    }

    // The open PR on the unit's branch: it is the outcome if it proposes exactly this unit; a
    // routine offer never replaces a PR proposing a newer unit.
    let existing = snapshot.open_pr.and_then(|pr| render::parse_marker(&pr.body).map(|m| (pr, m)));
    if let Some((pr, m)) = &existing {
        if let Some(u) = &m.unit {
            if !offer.intent.rewrites_open_pr()
                && u.id == id.as_str()
                && m.rollback == rollback
                && m.approved_by == approved_by
            {
                return Ok(Decision::Proposed { number: pr.number, missing_labels: missing_labels(pr) });
            }
            if !rollback && !m.rollback && proposes_newer(u, offer) {
                return Ok(Decision::Noop(format!(
                    "pull request #{} already proposes a newer {group} unit {}",
                    pr.number, u.id
                )));
            }
        }
    }

    // Every member's pointers, edited on top of each other (two members may share a file).
    let mut files: Vec<FileWrite> = Vec::new();
    for m in &snapshot.members {
        let v = offer.version_of(&m.artifact.name).expect("checked above");
        for (spec, file) in &m.pointers {
            let base = files
                .iter()
                .find(|f| f.path == file.path)
                .map(|f| f.content.clone())
                .unwrap_or_else(|| file.text.clone());
            let name = offer.names.get(&m.artifact.name).filter(|_| super::tracking::is_tracked(m.artifact, v));
            let edited =
                pointer::set_tracked(&base, spec.format, &spec.selector, &v.tag, &v.digest, name.map(String::as_str))
                    .map_err(|e| PlanError { file: spec.file.to_string(), reason: e.to_string() })?;
            match files.iter_mut().find(|f| f.path == file.path) {
                Some(f) => f.content = edited,
                None => files.push(FileWrite { path: file.path.clone(), content: edited }),
            }
        }
    }
    let originals: Vec<&FileContent> =
        snapshot.members.iter().flat_map(|m| m.pointers.iter().map(|(_, f)| *f)).collect();
    files.retain(|f| originals.iter().any(|o| o.path == f.path && o.text != f.content));
    if files.is_empty() {
        return Ok(Decision::Noop(format!("{stage}'s pointer files already name {group} unit {id}")));
    }

    let first = members.first().cloned().expect("a group has members");
    let unit = UnitMarker { group: group.clone(), id: id.to_string(), members };
    let marker = Marker {
        stage: stage.clone(),
        artifact: first.artifact.clone(),
        tag: first.tag.clone(),
        digest: first.digest.clone(),
        from_tag: first.from_tag.clone(),
        from_digest: first.from_digest.clone(),
        verified_in: offer.verified_in.clone(),
        approved_by,
        rollback,
        name: first.name.clone(),
        unit: Some(unit.clone()),
    };
    let images: BTreeMap<ArtifactName, String> =
        snapshot.members.iter().map(|m| (m.artifact.name.clone(), m.artifact.image.to_string())).collect();
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let text = render::UnitText {
        marker: &marker,
        unit: &unit,
        images: &images,
        verified_by: &offer.verified_by,
        files: &paths,
    };
    Ok(Decision::Write(Box::new(WritePlan {
        mode: snapshot.stage.write,
        branch: render::unit_branch(stage, group),
        base: snapshot.default_branch.to_string(),
        parent: snapshot.default_head.to_string(),
        files,
        commit_message: render::unit_commit_message(&marker, &unit),
        title: render::unit_title(&marker, &unit),
        body: render::unit_body(&text),
        labels: render::labels(stage, rollback),
        existing_pr: snapshot.open_pr.map(|p| p.number),
        marker,
    })))
}

/// Whether the open PR's unit is newer than the offer: no member older, one newer.
fn proposes_newer(open: &UnitMarker, offer: &UnitOffer) -> bool {
    let mut newer = false;
    for m in &open.members {
        let Some(v) = offer.version_of(&m.artifact) else { return false };
        match m.tag.compare(&v.tag) {
            Some(Ordering::Less) | None => return false,
            Some(Ordering::Greater) => newer = true,
            Some(Ordering::Equal) => {}
        }
    }
    newer
}

/// One member of a group on a first stage, when a version of one member was pushed: what the
/// stage runs, and the member's newest version with a verified signature in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCandidate {
    pub artifact: ArtifactName,
    pub current: Option<Version>,
    pub newest: Option<Version>,
}

/// The unit a push makes on a first stage, or why none: `when: any` takes each member's newest
/// verified version (or what the stage runs); `when: all` only when every member has a version
/// newer than the stage runs.
pub fn unit_from_push(group: &Group, candidates: &[MemberCandidate]) -> Result<Vec<(ArtifactName, Version)>, String> {
    let is_newer = |c: &MemberCandidate| match (&c.newest, &c.current) {
        (Some(n), Some(cur)) => n.digest != cur.digest && n.tag.compare(&cur.tag) != Some(Ordering::Less),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let newer: Vec<bool> = candidates.iter().map(is_newer).collect();
    if !crate::units::unit_ready(group.when, &newer) {
        let waiting: Vec<String> =
            candidates.iter().zip(&newer).filter(|(_, n)| !**n).map(|(c, _)| format!("`{}`", c.artifact)).collect();
        return Err(match group.when {
            GroupWhen::All => format!(
                "group `{}` moves when every member has a new version (when: all); waiting for {}",
                group.name,
                waiting.join(", ")
            ),
            GroupWhen::Any => format!("no member of group `{}` has a new version", group.name),
        });
    }
    candidates
        .iter()
        .zip(&newer)
        .map(|(c, n)| {
            let v = if *n { c.newest.clone() } else { c.current.clone().or_else(|| c.newest.clone()) };
            v.map(|v| (c.artifact.clone(), v)).ok_or_else(|| format!("`{}` has no version to run", c.artifact))
        })
        .collect()
}

/// The unit a stage ran before its current one, for `/rollback`: every member's version at the
/// parent of the unit's bump commit (`before`), when it differs from now (`now`).
pub fn previous_unit(
    stage: &StageName,
    group: &Group,
    now: &[(ArtifactName, Version)],
    before: &[(ArtifactName, Option<Version>)],
) -> Result<Vec<(ArtifactName, Version)>, String> {
    let mut out = Vec::new();
    for (a, v) in before {
        match v {
            Some(v) => out.push((a.clone(), v.clone())),
            None => {
                return Err(format!(
                    "{stage} ran no version of `{a}` before its current {} unit: nothing to roll back to",
                    group.name
                ))
            }
        }
    }
    if out.is_empty() || out.as_slice() == now {
        return Err(format!("{stage} has no earlier {} unit to roll back to", group.name));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
