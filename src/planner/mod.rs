//! Pure decisions: facts in, a decision out. No I/O and no clients here (the planner imports
//! neither `github` nor `registry`): the engine gathers the facts, calls one of these functions
//! and performs what it returns, so webhooks, dry-run and `reconcile` share every decision and
//! each has a table-driven unit test. See docs/architecture.md for where each decision lives.
//!
//! - [`promotion`]: whether and how to move a stage to a version (files, PR text, branch);
//! - [`gate`]: whether a stage verified its bump commit (required signals, soak);
//! - [`merge`]: whether baton merges its own PR, waits, rebuilds it, or never merges it;
//! - [`versions`]: which version `/promote`, `/rollback` and `reconcile` go to;
//! - [`policy`]: every `baton/policy` rule's verdict on a changed pointer, with what to do.
//! - [`units`]: whether and how to move a stage to a release unit (several artifacts as one);
//! - [`wait`]: when to look again for a signature or tag that is not there yet.
//! - [`tracking`]: whether a digest of a tracked channel tag is a new version, and its name.

pub mod gate;
pub mod merge;
pub mod policy;
pub mod promotion;
pub mod signals;
pub mod tracking;
pub mod units;
pub mod versions;
pub mod wait;

pub use promotion::{current_version, plan_promotion, Decision, Intent, Offer, PlanError, Snapshot, WritePlan};

use crate::pipeline::{Artifact, Pipeline, PointerSpec, Stage};

/// One stage's first pointer for one artifact: the triple most decisions are about, resolved
/// once from the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct StagePointer<'a> {
    pub stage: &'a Stage,
    pub artifact: &'a Artifact,
    pub spec: &'a PointerSpec,
}

impl<'a> StagePointer<'a> {
    /// `stage`'s first pointer for `artifact`, if it has one.
    pub fn of(stage: &'a Stage, artifact: &'a Artifact) -> Option<StagePointer<'a>> {
        let spec = stage.pointers.iter().find(|p| p.artifact == artifact.name)?;
        Some(StagePointer { stage, artifact, spec })
    }

    /// The same artifact in another stage (e.g. upstream).
    pub fn in_stage(&self, stage: &'a Stage) -> Option<StagePointer<'a>> {
        StagePointer::of(stage, self.artifact)
    }

    /// Every (stage, artifact) pair of a pipeline that has a pointer.
    pub fn all(pipeline: &'a Pipeline) -> impl Iterator<Item = StagePointer<'a>> + 'a {
        pipeline
            .stages
            .iter()
            .flat_map(move |s| pipeline.artifacts.values().filter_map(move |a| StagePointer::of(s, a)))
    }
}
