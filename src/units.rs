//! Release units (issue #13): several artifacts that move together, and channel tags tracked as
//! digests. Pure: facts in, decisions and texts out; the engine gathers the facts.
//!
//! - A **unit** is one version of every member of a group. It is identified by its members'
//!   digests: [`UnitId`] is a stable short hash of `artifact@digest` lines in name order, written
//!   in PR body markers and as the `Baton-Unit:` trailer, so the same set of digests is the same
//!   unit in every stage and in every replica.
//! - [`partial_move`] judges a PR that moves some members of a group (the `baton/policy` row).
//! - A **tracked** artifact (`track: main`) has versions that are digests of one mutable tag;
//!   [`tracked_version_name`] names them (`main-1a2b3c4`) and [`judge_tracked`] decides whether a
//!   digest the tag now points at is a new version (never a downgrade).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use crate::pipeline::{Group, GroupWhen, PartialGroups, Stage};
use crate::types::{ArtifactName, Digest, StageName, Tag, Version};

/// The OCI annotation holding the source revision (a commit SHA).
pub const REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";
/// The OCI annotation holding the build time (RFC 3339).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

// ---------------------------------------------------------------------------------- units

/// A stable short id of a unit: the first 12 hex digits of SHA-256 over its members'
/// `artifact@digest` lines, in artifact-name order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId(String);

impl UnitId {
    pub fn of<'a>(members: impl IntoIterator<Item = (&'a ArtifactName, &'a Digest)>) -> UnitId {
        let sorted: BTreeMap<&ArtifactName, &Digest> = members.into_iter().collect();
        let mut h = Sha256::new();
        for (a, d) in sorted {
            h.update(format!("{a}@{d}\n").as_bytes());
        }
        UnitId(hex::encode(h.finalize())[..12].to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One version of each member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub group: crate::types::GroupName,
    /// In the group's member order.
    pub members: Vec<(ArtifactName, Version)>,
}

impl Unit {
    pub fn id(&self) -> UnitId {
        UnitId::of(self.members.iter().map(|(a, v)| (a, &v.digest)))
    }
    pub fn digest_of(&self, artifact: &ArtifactName) -> Option<&Digest> {
        self.members.iter().find(|(a, _)| a == artifact).map(|(_, v)| &v.digest)
    }
}

/// The title of a unit's PR: `promote platform (api 1.4.3, web 2.0.1, worker 0.9.0) to staging`.
/// `names` gives each member's human version name (the tag, or `main-1a2b3c4` when tracked).
pub fn unit_title(unit: &Unit, names: &dyn Fn(&ArtifactName, &Version) -> String, stage: &StageName) -> String {
    let members: Vec<String> = unit.members.iter().map(|(a, v)| format!("{a} {}", names(a, v))).collect();
    format!("promote {} ({}) to {stage}", unit.group, members.join(", "))
}

/// The trailers a unit's bump commit carries beside the per-artifact ones.
pub fn unit_trailers(unit: &Unit) -> String {
    let mut out = format!("Baton-Unit: {}/{}\n", unit.group, unit.id());
    for (a, v) in &unit.members {
        out.push_str(&format!("Baton-Member: {a} {}@{}\n", v.tag, v.digest));
    }
    out
}

/// Reads `Baton-Unit: <group>/<id>` from a commit message or PR body.
pub fn parse_unit_trailer(text: &str) -> Option<(&str, &str)> {
    text.lines().find_map(|l| l.strip_prefix("Baton-Unit: ")).and_then(|v| v.trim().split_once('/'))
}

/// What a PR does to one member of a group on a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMove {
    pub artifact: ArtifactName,
    /// The digest the stage runs now (the PR's base).
    pub before: Option<Digest>,
    /// The digest the PR proposes (its head).
    pub after: Option<Digest>,
    /// The digest of this member in the unit the `from` stage verified (None on a first stage).
    pub upstream: Option<Digest>,
}

impl MemberMove {
    fn moved(&self) -> bool {
        self.before != self.after
    }
}

/// A PR that moves only part of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialMove {
    pub group: crate::types::GroupName,
    pub moved: Vec<ArtifactName>,
    /// The members that would be left behind: not at the unit the others are moving to.
    pub left_behind: Vec<ArtifactName>,
}

/// Whether a PR moves a group only in part (the `baton/policy` row fails then, unless the
/// stage sets `groups.partial: allow`).
///
/// A stage with a `from` stage runs units its `from` stage verified: a PR that moves any member
/// must leave every member at that unit's digest; the members that would not be are left
/// behind. On a first stage, units come from the registry: `when: any` takes any new version
/// of any member (so no move is partial), `when: all` needs every member moved.
pub fn partial_move(group: &Group, stage: &Stage, moves: &[MemberMove]) -> Option<PartialMove> {
    if stage.partial_groups == PartialGroups::Allow {
        return None;
    }
    let moved: Vec<ArtifactName> = moves.iter().filter(|m| m.moved()).map(|m| m.artifact.clone()).collect();
    if moved.is_empty() {
        return None;
    }
    let left_behind: Vec<ArtifactName> = if stage.from.is_some() {
        moves.iter().filter(|m| m.upstream.is_none() || m.after != m.upstream).map(|m| m.artifact.clone()).collect()
    } else if group.when == GroupWhen::All {
        moves.iter().filter(|m| !m.moved()).map(|m| m.artifact.clone()).collect()
    } else {
        Vec::new()
    };
    (!left_behind.is_empty()).then(|| PartialMove { group: group.name.clone(), moved, left_behind })
}

/// The `baton/policy` cell for a partial move: what it does wrong.
pub fn partial_move_text(p: &PartialMove) -> String {
    let list = |v: &[ArtifactName]| v.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
    format!("moves {} of group `{}` without {}", list(&p.moved), p.group, list(&p.left_behind))
}

/// What to do about a partial move.
pub fn partial_move_fix(stage: &StageName) -> String {
    format!("Let baton promote the whole unit, or set `groups: {{ partial: allow }}` on {stage}.")
}

/// `when: all` on a first stage: a new unit only when every member has a version newer than the
/// one the stage runs. `newer[i]` says whether member `i` has one.
pub fn unit_ready(when: GroupWhen, newer: &[bool]) -> bool {
    match when {
        GroupWhen::Any => newer.iter().any(|n| *n),
        GroupWhen::All => !newer.is_empty() && newer.iter().all(|n| *n),
    }
}

// ---------------------------------------------------------------------------------- channel tags

/// What baton knows about one digest of a tracked channel tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub digest: Digest,
    /// `org.opencontainers.image.created`, when the manifest has it and it parses.
    pub created: Option<DateTime<Utc>>,
    /// `org.opencontainers.image.revision`.
    pub revision: Option<String>,
}

impl Observed {
    pub fn from_annotations(digest: Digest, annotations: &BTreeMap<String, String>) -> Observed {
        let created = annotations
            .get(CREATED_ANNOTATION)
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc));
        let revision = annotations.get(REVISION_ANNOTATION).filter(|r| !r.trim().is_empty()).cloned();
        Observed { digest, created, revision }
    }
}

/// The human name of a tracked version: `<tag>-<7 characters of the source revision>`
/// (`main-1a2b3c4`), else `<tag>-<12 hex digits of the digest>`. Always a valid tag text.
pub fn tracked_version_name(track: &Tag, observed: &Observed) -> String {
    let clean = |s: &str, n: usize| -> String {
        s.chars().filter(|c| c.is_ascii_alphanumeric()).take(n).collect::<String>().to_ascii_lowercase()
    };
    let suffix = match &observed.revision {
        Some(r) if !clean(r, 7).is_empty() => clean(r, 7),
        _ => clean(observed.digest.as_str().trim_start_matches("sha256:"), 12),
    };
    let mut name = format!("{track}-{suffix}");
    name.truncate(128);
    name
}

/// What a digest of a channel tag means for the stage that tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackedDecision {
    /// A new version: propose it.
    New,
    /// The stage runs (or already proposes) exactly this digest.
    Current,
    /// A digest baton has seen before, or one built before what the stage runs: the tag was
    /// moved back (a re-push of an older digest). Not a version: no downgrade.
    Older,
}

/// Whether the digest `candidate` that the channel tag points at now is a new version for a
/// stage that runs `current` and has run or proposed `seen` before (its pointer history, newest
/// first). Ordering is by observation: a digest not seen before is newer, unless its manifest
/// says it was built before the current one (`created`).
pub fn judge_tracked(candidate: &Observed, current: Option<&Observed>, seen: &[Digest]) -> TrackedDecision {
    if current.is_some_and(|c| c.digest == candidate.digest) {
        return TrackedDecision::Current;
    }
    if seen.contains(&candidate.digest) {
        return TrackedDecision::Older;
    }
    match (candidate.created, current.and_then(|c| c.created)) {
        (Some(new), Some(old)) if new < old => TrackedDecision::Older,
        _ => TrackedDecision::New,
    }
}

/// On reconcile (no notification order to go by): the newest of several digests observed for a
/// channel tag — latest `created` first, then the registry's push order (`pushed`: later index =
/// pushed later). Digests without `created` sort by push order after those with one.
pub fn newest_observed(observed: &[Observed]) -> Option<&Observed> {
    observed.iter().enumerate().max_by_key(|(i, o)| (o.created, *i)).map(|(_, o)| o)
}

#[cfg(test)]
mod tests;
