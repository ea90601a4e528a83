//! Pure promotion planning (DESIGN §1.6): a snapshot of the relevant world in, a decision out.
//! No I/O here: the engine gathers the snapshot and performs the plan, so the same decisions
//! serve webhooks, dry-run and `reconcile`, and tests need no network.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::github::{FileContent, FileWrite, PullRequest};
use crate::pipeline::{Artifact, PointerSpec, Stage, WriteMode};
use crate::pointer::{self, Current};
use crate::render::{self, Marker};
use crate::types::{StageName, Version};

/// A version offered to a stage, with what is known about it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub version: Version,
    pub annotations: BTreeMap<String, String>,
    /// Which key or identity verified its signature.
    pub verified_by: Option<String>,
    /// The stage that verified it (None for the first stage: it comes from the registry).
    pub verified_in: Option<StageName>,
    pub approved_by: Vec<String>,
    pub rollback: bool,
    /// A human named this exact version (`/promote <stage> <version>`): it may bring back a
    /// version that was rolled back earlier, which automatic promotion never does.
    pub explicit: bool,
}

/// What the engine read for one stage and artifact.
pub struct Snapshot<'a> {
    pub stage: &'a Stage,
    pub artifact: &'a Artifact,
    pub default_branch: &'a str,
    pub default_head: &'a str,
    /// The stage's pointers for this artifact, each with its file at `default_head`.
    pub pointers: Vec<(&'a PointerSpec, &'a FileContent)>,
    /// The open PR on the stage's branch, if any.
    pub open_pr: Option<&'a PullRequest>,
    /// Rewrite the open PR even if it already proposes the candidate (its base moved).
    pub rebuild: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do, and why (logged; a no-op is a normal outcome).
    Noop(String),
    Write(Box<WritePlan>),
}

/// Everything needed to write one promotion, computed up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePlan {
    pub mode: WriteMode,
    pub branch: String,
    pub base: String,
    pub parent: String,
    pub files: Vec<FileWrite>,
    pub commit_message: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub existing_pr: Option<u64>,
    pub marker: Marker,
}

/// A pointer could not be edited: the message is for the humans who own the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct PlanError {
    pub file: String,
    pub reason: String,
}

/// What the stage runs now, according to its first pointer for the artifact.
pub fn current_version(snapshot: &Snapshot) -> Result<Current, PlanError> {
    let (spec, file) = snapshot.pointers.first().ok_or_else(|| PlanError {
        file: String::new(),
        reason: "the stage has no pointer for this artifact".into(),
    })?;
    pointer::get(&file.text, spec.format, &spec.selector)
        .map_err(|e| PlanError { file: spec.file.to_string(), reason: e.to_string() })
}

/// Is `new` newer than what `current` names? `None`: they cannot be compared.
fn newer(new: &Version, current: &Current) -> Option<Ordering> {
    let tag = current.tag.as_deref()?.parse::<crate::types::Tag>().ok()?;
    new.tag.compare(&tag)
}

/// Decides whether and how to move `snapshot.stage` to `candidate`.
pub fn plan_promotion(snapshot: &Snapshot, candidate: &Candidate) -> Result<Decision, PlanError> {
    let stage = &snapshot.stage.name;
    let v = &candidate.version;
    let current = current_version(snapshot)?;

    let same_digest = current.digest.as_deref() == Some(v.digest.as_str());
    if same_digest && current.tag.as_deref() == Some(v.tag.as_str()) {
        return Ok(Decision::Noop(format!("{stage} already runs {v}")));
    }
    if !candidate.rollback {
        match newer(v, &current) {
            Some(Ordering::Less) => {
                return Ok(Decision::Noop(format!(
                    "{} is older than {} which {stage} runs",
                    v.tag,
                    current.tag.as_deref().unwrap_or_default()
                )))
            }
            Some(Ordering::Equal) => {
                return Ok(Decision::Noop(format!(
                    "{stage} already runs tag {} (pinned to {}); a re-pushed tag is not a new version",
                    v.tag,
                    current.digest.as_deref().unwrap_or("no digest")
                )))
            }
            _ => {}
        }
    }

    // An open PR for the same stage and artifact: leave it if it already proposes this (or, for
    // routine promotions, a newer) version; otherwise it is updated in place.
    let existing = snapshot.open_pr.and_then(|pr| render::parse_marker(&pr.body).map(|m| (pr, m)));
    if let Some((pr, m)) = &existing {
        if !snapshot.rebuild
            && m.version() == *v
            && m.rollback == candidate.rollback
            && m.approved_by == candidate.approved_by
        {
            return Ok(Decision::Noop(format!("pull request #{} already proposes {v}", pr.number)));
        }
        if !candidate.rollback && !m.rollback && m.tag.compare(&v.tag) == Some(Ordering::Greater) {
            return Ok(Decision::Noop(format!("pull request #{} already proposes the newer {}", pr.number, m.tag)));
        }
    }

    let mut files = Vec::new();
    for (spec, file) in &snapshot.pointers {
        let base = files
            .iter()
            .find(|f: &&FileWrite| f.path == file.path)
            .map(|f| f.content.clone())
            .unwrap_or_else(|| file.text.clone());
        let edited = pointer::set(&base, spec.format, &spec.selector, &v.tag, &v.digest)
            .map_err(|e| PlanError { file: spec.file.to_string(), reason: e.to_string() })?;
        match files.iter_mut().find(|f: &&mut FileWrite| f.path == file.path) {
            Some(f) => f.content = edited,
            None => files.push(FileWrite { path: file.path.clone(), content: edited }),
        }
    }
    files.retain(|f| snapshot.pointers.iter().any(|(_, orig)| orig.path == f.path && orig.text != f.content));
    if files.is_empty() {
        return Ok(Decision::Noop(format!("{stage}'s pointer files already name {v}")));
    }

    let marker = Marker {
        stage: stage.clone(),
        artifact: snapshot.artifact.name.clone(),
        tag: v.tag.clone(),
        digest: v.digest.clone(),
        from_tag: current.tag.clone(),
        from_digest: current.digest.clone(),
        verified_in: candidate.verified_in.clone(),
        approved_by: candidate.approved_by.clone(),
        rollback: candidate.rollback,
    };
    let image = snapshot.artifact.image.to_string();
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let text = render::Promotion {
        marker: &marker,
        image: &image,
        annotations: &candidate.annotations,
        files: &paths,
        verified_by: candidate.verified_by.as_deref(),
    };
    Ok(Decision::Write(Box::new(WritePlan {
        mode: snapshot.stage.write,
        branch: render::branch(stage, &snapshot.artifact.name),
        base: snapshot.default_branch.to_string(),
        parent: snapshot.default_head.to_string(),
        files,
        commit_message: render::commit_message(&text),
        title: render::title(&text),
        body: render::body(&text),
        labels: render::labels(stage, candidate.rollback),
        existing_pr: existing.map(|(pr, _)| pr.number).or(snapshot.open_pr.map(|p| p.number)),
        marker,
    })))
}
