//! The pipeline file `.baton.yaml`: read from the deployment repository's default
//! branch only, parsed strictly (unknown keys, unknown stages, cycles, bad regexes, paths that
//! escape the repository are errors that name the line).
//!
//! PUBLIC API (used by the planner, engine and CLI) — the types below and [`parse`].
//!
//! How it works: `yaml` turns the text into a small tree with a line on every node (from
//! saphyr-parser events; duplicate keys, YAML tags other than the core schema, more than one
//! document, nesting deeper than 64 and alias bombs are refused there). `validate` walks the
//! tree by hand rather than through serde, so that it can keep going after a problem and report
//! all of them, each with its line and a path such as `stages[2] (prod).pointers[0].file`.
//! Which keys each mapping has, which are required, the enumeration words and the per-format
//! pointer rules live in tables in `spec`; `validate` walks them and `schema` renders them as the
//! JSON Schema that `baton schema` prints (editor support; checked in as
//! `schema/baton.schema.json`).
//!
//! Defaults (documented for users in `examples/baton.yaml`):
//! - `promotion`: `manual` when the stage has `approvers`, else `auto`;
//! - `write`: `pull-request`; `verification`: no checks, no soak, no timeout, no workflows;
//!   a check's `min`: 1;
//! - helm-values `field`: `image`; yaml-path `template`: `{tag}@{digest}`; kustomize-image
//!   `image` and yaml-path `image` (`{repository}`): the artifact's image.
//!
//! Beyond the shape, the validator refuses: an artifact without `verify` entries (fail
//! closed); a stage that points at an artifact its `from` stage does not point at (nothing
//! could be promoted into it); a pointer (file + format + selector) used twice; a freeze file
//! that is also a pointer file; an empty `approvers` list (ambiguous: nobody or anybody?).
//! Regular expressions (`tags`, keyless `subject`) must compile on their own and are then
//! anchored as `^(?:…)$`.

use std::collections::BTreeMap;
use std::time::Duration;

pub use crate::planner::signals::{CheckPattern, CheckRequirement};

use crate::pointer::{Format, Selector};
use crate::types::{ArtifactName, GroupName, ImageName, StageName, Tag};
use crate::windows::Windows;

pub mod schema;
mod spec;
mod validate;
mod yaml;

pub use validate::{parse_approver, parse_duration, DEFAULT_HELM_FIELD, DEFAULT_TEMPLATE};

#[cfg(test)]
mod tests;

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub artifacts: BTreeMap<ArtifactName, Artifact>,
    /// In file order; the validator guarantees unique names, that `from` names an existing
    /// stage (earlier or later in the file), that there is no cycle and at least one first stage,
    /// that every pointer names a defined artifact that its `from` stage also points at, and that
    /// no pointer (file + format + selector) belongs to two stages.
    pub stages: Vec<Stage>,
    /// Release units (`groups:`). The validator guarantees that every member is a defined
    /// artifact, that no artifact is in two groups, that no group is named like an artifact, and
    /// that a stage holds all of a group's members or none.
    pub groups: BTreeMap<GroupName, Group>,
}

#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: ArtifactName,
    pub image: ImageName,
    /// Anchored release-tag pattern (the validator anchors it: `^(?:…)$`). An artifact with only
    /// `track` has a pattern that matches no tag ([`NO_RELEASE_TAGS`]).
    pub tags: regex::Regex,
    /// A mutable channel tag whose digests are the versions (`track: main`).
    pub track: Option<Tag>,
    /// Any one entry passing is enough; never empty after validation.
    pub verify: Vec<VerifyEntry>,
}

#[derive(Debug, Clone)]
pub enum VerifyEntry {
    /// A cosign public key at a path in the deployment repository.
    Key { path: RepoPath },
    /// Keyless: certificate issuer (exact) and subject (anchored regex).
    Keyless { issuer: String, subject: regex::Regex },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promotion {
    Auto,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    PullRequest,
    Commit,
}

#[derive(Debug, Clone)]
pub struct Stage {
    // Defaults: `promotion` is `Manual` when `approvers` is non-empty, else `Auto`; `write` is
    // `PullRequest`; `verification` empty (verified as soon as the bump commit lands).
    pub name: StageName,
    pub from: Option<StageName>,
    pub pointers: Vec<PointerSpec>,
    pub promotion: Promotion,
    pub write: WriteMode,
    pub verification: Verification,
    pub approvers: Vec<Approver>,
    pub freeze: Option<RepoPath>,
    /// Promotion windows (`windows:`); `None`: always open.
    pub windows: Option<Windows>,
    /// `groups.partial`: whether a human PR may move only some members of a group.
    pub partial_groups: PartialGroups,
}

// ------------------------------------------------------------------ release units (#13)

impl Artifact {
    /// Whether `tag` is the artifact's tracked channel tag (`track: main`).
    pub fn tracks(&self, tag: &Tag) -> bool {
        self.track.as_ref() == Some(tag)
    }
}

/// The pattern of an artifact that only tracks a channel tag: it matches no tag.
pub const NO_RELEASE_TAGS: &str = r"[^\s\S]";

/// A release unit: artifacts that move together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: GroupName,
    /// At least two, each once, in file order.
    pub artifacts: Vec<ArtifactName>,
    pub when: GroupWhen,
}

/// When a group makes a new unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupWhen {
    /// A new version of any member (the others at their newest verified-signature versions).
    Any,
    /// Only when every member has a version newer than the first stage runs.
    All,
}

/// Whether `baton/policy` passes a human PR that moves only some members of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartialGroups {
    #[default]
    Deny,
    Allow,
}

impl Pipeline {
    /// The group an artifact belongs to, if any.
    pub fn group_of(&self, artifact: &ArtifactName) -> Option<&Group> {
        self.groups.values().find(|g| g.artifacts.contains(artifact))
    }
}

impl Group {
    /// Whether this stage holds the group (the validator makes it all members or none).
    pub fn in_stage(&self, stage: &Stage) -> bool {
        self.artifacts.iter().any(|a| stage.pointers_for(a).next().is_some())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Exact names or patterns; every match green, at least `min` matches.
    pub checks: Vec<CheckRequirement>,
    pub soak: Option<Duration>,
    /// No green result this long after the bump: failed.
    pub timeout: Option<Duration>,
    pub source: SignalSource,
    pub workflows: Vec<WorkflowGate>,
}

/// Whether signals on the artifact's source commit (`org.opencontainers.image.revision`) count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SignalSource {
    /// Only when the artifact's `org.opencontainers.image.source` names this repository.
    #[default]
    SameRepository,
    /// `source: commit-of-artifact`: always.
    CommitOfArtifact,
}

/// A `verification.workflows` entry: dispatched once per bump, its conclusion is a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowGate {
    /// The file name in `.github/workflows/`.
    pub file: String,
    /// Inputs besides `stage`, `version` and `digest`.
    pub inputs: BTreeMap<String, String>,
}

/// Inputs baton always sends to a verification workflow (a configured input may not use them).
pub const WORKFLOW_INPUTS: [&str; 3] = ["stage", "version", "digest"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approver {
    Codeowners,
    User(String),
    Team { org: String, slug: String },
}

#[derive(Debug, Clone)]
pub struct PointerSpec {
    pub file: RepoPath,
    pub format: Format,
    pub artifact: ArtifactName,
    /// The selector, with defaults filled in: helm-values' `field` defaults to `image`;
    /// kustomize-image's `image` and yaml-path's `image` (the `{repository}` placeholder) default
    /// to the artifact's image; yaml-path's `template` defaults to `{tag}@{digest}`. Keys that do
    /// not apply to the format are refused, so the others are `None`.
    pub selector: Selector,
}

/// A path inside the repository: relative, no `..`, no empty or `.` segments, no backslashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(String);

impl RepoPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RepoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RepoPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && !s.starts_with('/')
            && !s.contains('\\')
            && !s.contains('\0')
            && s.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        if ok {
            Ok(RepoPath(s.to_string()))
        } else {
            Err(format!("path {s:?} must be relative and stay inside the repository (no '..', no leading '/')"))
        }
    }
}

impl Pipeline {
    pub fn stage(&self, name: &StageName) -> Option<&Stage> {
        self.stages.iter().find(|s| &s.name == name)
    }
    /// Stages whose `from` is `name`.
    pub fn downstream<'a>(&'a self, name: &'a StageName) -> impl Iterator<Item = &'a Stage> + 'a {
        self.stages.iter().filter(move |s| s.from.as_ref() == Some(name))
    }
    /// The first stages (no `from`): they receive new versions from the registry.
    pub fn first_stages(&self) -> impl Iterator<Item = &Stage> {
        self.stages.iter().filter(|s| s.from.is_none())
    }
    pub fn artifact(&self, name: &ArtifactName) -> Option<&Artifact> {
        self.artifacts.get(name)
    }
    /// The stage `stage` promotes from (its `from`), if any.
    pub fn upstream(&self, stage: &Stage) -> Option<&Stage> {
        stage.from.as_ref().and_then(|f| self.stage(f))
    }
    /// Every pointer of an artifact, with its stage, in file order.
    pub fn pointers_for_artifact<'a>(
        &'a self,
        artifact: &'a ArtifactName,
    ) -> impl Iterator<Item = (&'a Stage, &'a PointerSpec)> + 'a {
        self.stages
            .iter()
            .flat_map(|s| s.pointers.iter().map(move |p| (s, p)))
            .filter(move |(_, p)| &p.artifact == artifact)
    }
    /// The pointers that live in `path` (a repository path as GitHub reports it, e.g. in a PR's
    /// changed files), with their stages. Empty when the file is no pointer file.
    pub fn stage_for_file(&self, path: &str) -> Vec<(&Stage, &PointerSpec)> {
        self.stages
            .iter()
            .flat_map(|s| s.pointers.iter().map(move |p| (s, p)))
            .filter(|(_, p)| p.file.as_str() == path)
            .collect()
    }
    /// Whether `path` is one of the pointer files.
    pub fn is_pointer_file(&self, path: &str) -> bool {
        self.stages.iter().any(|s| s.pointers.iter().any(|p| p.file.as_str() == path))
    }
    /// The stages whose freeze file is `path`.
    pub fn stages_for_freeze_file<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Stage> + 'a {
        self.stages.iter().filter(move |s| s.freeze.as_ref().is_some_and(|f| f.as_str() == path))
    }
    /// All stages, each after the stage it comes `from` (first stages first); otherwise in file
    /// order. Promotion passes walk the pipeline in this order.
    pub fn topological_order(&self) -> Vec<&Stage> {
        let mut out: Vec<&Stage> = Vec::with_capacity(self.stages.len());
        let mut placed = vec![false; self.stages.len()];
        while out.len() < self.stages.len() {
            let before = out.len();
            for (i, s) in self.stages.iter().enumerate() {
                let ready = s.from.as_ref().is_none_or(|f| out.iter().any(|o| &o.name == f));
                if !placed[i] && ready {
                    placed[i] = true;
                    out.push(s);
                }
            }
            if out.len() == before {
                // Unreachable for a validated pipeline (no cycles, every `from` exists).
                out.extend(self.stages.iter().enumerate().filter(|(i, _)| !placed[*i]).map(|(_, s)| s));
                break;
            }
        }
        out
    }
}

impl Stage {
    /// This stage's pointers for one artifact.
    pub fn pointers_for<'a>(&'a self, artifact: &'a ArtifactName) -> impl Iterator<Item = &'a PointerSpec> + 'a {
        self.pointers.iter().filter(move |p| &p.artifact == artifact)
    }
    /// The artifacts this stage runs (each once, in pointer order).
    pub fn artifacts(&self) -> Vec<&ArtifactName> {
        let mut out: Vec<&ArtifactName> = Vec::new();
        for p in &self.pointers {
            if !out.contains(&&p.artifact) {
                out.push(&p.artifact);
            }
        }
        out
    }
}

/// All problems found in a pipeline file, each naming its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Parses and validates a `.baton.yaml`.
///
/// Every problem found is reported (sorted by line), not only the first: YAML syntax errors stop
/// the parse, but structural and semantic problems (unknown keys, wrong types, unknown stages,
/// cycles, bad regexes, paths outside the repository, …) are all collected.
pub fn parse(text: &str) -> Result<Pipeline, ConfigError> {
    let mut problems = Vec::new();
    let root = yaml::load(text, &mut problems);
    let pipeline = match root {
        Some(root) => validate::pipeline(&root, &mut problems),
        None if problems.is_empty() => {
            problems
                .push(Problem { line: None, message: "the file is empty: expected `artifacts:` and `stages:`".into() });
            None
        }
        None => None,
    };
    match pipeline {
        Some(p) if problems.is_empty() => Ok(p),
        _ => {
            // A syntax error at the end of the file is reported on the line after the last one.
            let last = text.lines().count().max(1);
            for p in &mut problems {
                p.line = p.line.map(|l| l.clamp(1, last));
            }
            // Stable: problems on the same line keep the order in which they were found.
            problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            if problems.is_empty() {
                problems.push(Problem { line: None, message: "invalid pipeline file".into() });
            }
            Err(ConfigError { problems })
        }
    }
}

impl std::str::FromStr for Pipeline {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse(s)
    }
}

/// The closest of `candidates` to `word`, when close enough to be a likely typo (for "did you
/// mean" hints outside the pipeline file's own keys, e.g. time zone names).
pub(crate) fn suggest_word<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    validate::suggest(word, candidates)
}

/// Shows at most 80 characters of untrusted input in a message, control characters escaped
/// (a message must stay one line: it goes to terminals, logs and GitHub comments).
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for c in s.chars().take(MAX) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}
