//! The index: which repositories the App is installed on, which of them have a pipeline (with
//! the pipeline parsed), and which deployment repositories name each OCI repository. A cache,
//! rebuilt at start and kept current by webhooks (plus a periodic refresh that corrects a
//! replica that missed one); nothing is durable.
//!
//! It is what makes baton's GitHub cost follow the repositories that have a pipeline rather
//! than the installed ones: a registry push goes only to the repositories whose pipeline names
//! the image, and events of repositories without a pipeline are ignored at intake.
//!
//! Reading is batched: for an installation on all of an owner's repositories, one paginated
//! GraphQL query lists them with their `.baton.yaml` (100 a page, [`graphql::listing_query`]),
//! so building the index for 1,000 repositories costs 10 queries plus the App's installations
//! and a token; for an installation on selected repositories, the REST listing and then
//! `.baton.yaml` of up to 100 repositories per query ([`graphql::query`]).

pub mod graphql;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use crate::event::{Event, InstallationChange, PipelineTouch};
use crate::github::GitHub;
use crate::pipeline::{self, Pipeline};
use crate::types::{ArtifactName, RepoName, StageName};
pub use graphql::{PipelineBlob, RepoPipeline};

/// The pipeline file every deployment repository carries on its default branch.
pub const PIPELINE_FILE: &str = ".baton.yaml";

/// One repository that has a pipeline file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub default_branch: String,
    /// The file's blob id (equal ids: nothing to re-parse).
    pub oid: String,
    /// The parsed pipeline, or why it is invalid (the engine reports that where it acts).
    pub pipeline: Result<Arc<Pipeline>, String>,
}

/// A deployment repository's artifact that an OCI repository feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub repo: RepoName,
    pub artifact: ArtifactName,
    /// The first stages whose pointers name the artifact (the stages a push promotes into).
    pub stages: Vec<StageName>,
}

#[derive(Default)]
struct Inner {
    /// Whether a full build has completed (before that, nothing is filtered).
    built: bool,
    installed: BTreeSet<RepoName>,
    pipelines: HashMap<RepoName, Entry>,
    /// OCI repository path → the artifacts that name it.
    images: HashMap<String, Vec<Target>>,
}

/// What an event means for the index (pure: see [`work_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexWork {
    Nothing,
    /// Re-read the pipeline file of these repositories.
    Reread(Vec<RepoName>),
    /// New installed repositories: record them and read their pipeline files.
    Install(Vec<RepoName>),
    /// Repositories no longer installed.
    Forget(Vec<RepoName>),
    /// Every repository of this account is no longer installed.
    ForgetOwner(String),
    /// A repository's name changed.
    Move {
        from: RepoName,
        to: RepoName,
    },
}

/// The index work an event asks for.
pub fn work_for(event: &Event) -> IndexWork {
    match event {
        Event::Push(p) if p.to_default_branch() && p.pipeline != PipelineTouch::Untouched => {
            IndexWork::Reread(vec![p.repo.clone()])
        }
        Event::Installation(InstallationChange::Added { repos, .. }) => IndexWork::Install(repos.clone()),
        Event::Installation(InstallationChange::Removed { repos, .. }) => IndexWork::Forget(repos.clone()),
        Event::Installation(InstallationChange::Uninstalled { owner }) => IndexWork::ForgetOwner(owner.clone()),
        Event::Installation(InstallationChange::Moved { from, to }) => {
            IndexWork::Move { from: from.clone(), to: to.clone() }
        }
        _ => IndexWork::Nothing,
    }
}

/// The targets a pipeline contributes: one per artifact, with the first stages it feeds.
pub fn targets_of(repo: &RepoName, p: &Pipeline) -> Vec<(String, Target)> {
    p.artifacts
        .values()
        .map(|a| {
            let stages = p
                .first_stages()
                .filter(|s| s.pointers.iter().any(|ptr| ptr.artifact == a.name))
                .map(|s| s.name.clone())
                .collect();
            (a.image.path.clone(), Target { repo: repo.clone(), artifact: a.name.clone(), stages })
        })
        .collect()
}

/// The index. Cheap to read (a read lock, no I/O); updated by [`Index::apply`] and
/// [`Index::build`].
#[derive(Default)]
pub struct Index {
    inner: RwLock<Inner>,
}

/// What a read of pipeline files changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<RepoName>,
    pub updated: Vec<RepoName>,
    pub removed: Vec<RepoName>,
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a full build has completed: before it, callers must not filter on the index.
    pub fn is_built(&self) -> bool {
        self.read().built
    }

    pub fn installed(&self) -> Vec<RepoName> {
        self.read().installed.iter().cloned().collect()
    }

    /// The repositories that have a pipeline file, sorted.
    pub fn configured(&self) -> Vec<RepoName> {
        let mut v: Vec<RepoName> = self.read().pipelines.keys().cloned().collect();
        v.sort();
        v
    }

    pub fn has_pipeline(&self, repo: &RepoName) -> bool {
        self.read().pipelines.contains_key(repo)
    }

    pub fn entry(&self, repo: &RepoName) -> Option<Entry> {
        self.read().pipelines.get(repo).cloned()
    }

    /// The artifacts fed by OCI repository `path` (a registry push's repository).
    pub fn targets(&self, path: &str) -> Vec<Target> {
        self.read().images.get(path).cloned().unwrap_or_default()
    }

    /// Replaces the set of installed repositories (a full listing) and records the pipeline
    /// files read for them; marks the index built.
    pub fn replace(&self, installed: Vec<RepoName>, files: Vec<(RepoName, RepoPipeline)>) -> Changes {
        let mut inner = self.write();
        inner.installed = installed.into_iter().collect();
        let keep: BTreeSet<RepoName> = inner.installed.clone();
        let mut changes = Changes::default();
        let gone: Vec<RepoName> = inner.pipelines.keys().filter(|r| !keep.contains(*r)).cloned().collect();
        for r in gone {
            inner.pipelines.remove(&r);
            changes.removed.push(r);
        }
        let mut c = record(&mut inner, files);
        changes.added.append(&mut c.added);
        changes.updated.append(&mut c.updated);
        changes.removed.append(&mut c.removed);
        inner.built = true;
        reindex(&mut inner);
        changes
    }

    /// Records pipeline files read for some repositories (they are installed).
    pub fn record(&self, files: Vec<(RepoName, RepoPipeline)>) -> Changes {
        let mut inner = self.write();
        for (r, _) in &files {
            inner.installed.insert(r.clone());
        }
        let c = record(&mut inner, files);
        reindex(&mut inner);
        c
    }

    /// Forgets repositories (no longer installed).
    pub fn forget(&self, repos: &[RepoName]) {
        let mut inner = self.write();
        for r in repos {
            inner.installed.remove(r);
            inner.pipelines.remove(r);
        }
        reindex(&mut inner);
    }

    pub fn forget_owner(&self, owner: &str) {
        let repos: Vec<RepoName> = self.read().installed.iter().filter(|r| r.owner() == owner).cloned().collect();
        let mut all = repos;
        all.extend(self.read().pipelines.keys().filter(|r| r.owner() == owner).cloned());
        self.forget(&all);
    }

    /// Builds the index from scratch: the App's installed repositories with their pipeline
    /// files (listed and read together where GitHub allows), or the configured list's files
    /// read in batches.
    pub async fn build(&self, github: &dyn GitHub, configured: &[RepoName]) -> anyhow::Result<Changes> {
        let files = if configured.is_empty() {
            github.installed_pipelines(PIPELINE_FILE).await?
        } else {
            github.pipeline_files(configured, PIPELINE_FILE).await?
        };
        let installed = if configured.is_empty() {
            files.iter().filter(|(_, f)| *f != RepoPipeline::Missing).map(|(r, _)| r.clone()).collect()
        } else {
            configured.to_vec()
        };
        Ok(self.replace(installed, files))
    }

    /// Carries out what an event asks of the index. Reads only what changed.
    pub async fn apply(&self, github: &dyn GitHub, work: IndexWork) -> anyhow::Result<Changes> {
        Ok(match work {
            IndexWork::Nothing => Changes::default(),
            IndexWork::Reread(repos) | IndexWork::Install(repos) => {
                let files = github.pipeline_files(&repos, PIPELINE_FILE).await?;
                self.record(files)
            }
            IndexWork::Forget(repos) => {
                self.forget(&repos);
                Changes { removed: repos, ..Changes::default() }
            }
            IndexWork::ForgetOwner(owner) => {
                let before = self.configured();
                self.forget_owner(&owner);
                Changes { removed: before.into_iter().filter(|r| r.owner() == owner).collect(), ..Changes::default() }
            }
            IndexWork::Move { from, to } => {
                self.forget(std::slice::from_ref(&from));
                let files = github.pipeline_files(std::slice::from_ref(&to), PIPELINE_FILE).await?;
                let mut c = self.record(files);
                c.removed.push(from);
                c
            }
        })
    }

    /// Rough bytes held (pipeline texts are not kept; parsed pipelines are counted by their
    /// artifacts and stages): for the memory figure, not for limits.
    pub fn summary(&self) -> (usize, usize, usize) {
        let inner = self.read();
        (inner.installed.len(), inner.pipelines.len(), inner.images.len())
    }
}

fn record(inner: &mut Inner, files: Vec<(RepoName, RepoPipeline)>) -> Changes {
    let mut changes = Changes::default();
    for (repo, found) in files {
        match found {
            RepoPipeline::Missing => {
                inner.installed.remove(&repo);
                if inner.pipelines.remove(&repo).is_some() {
                    changes.removed.push(repo);
                }
            }
            RepoPipeline::Found { file: None, .. } | RepoPipeline::Found { default_branch: None, .. } => {
                if inner.pipelines.remove(&repo).is_some() {
                    changes.removed.push(repo);
                }
            }
            RepoPipeline::Found { default_branch: Some(default_branch), file: Some(blob) } => {
                if let Some(e) = inner.pipelines.get(&repo) {
                    if e.oid == blob.oid && e.default_branch == default_branch {
                        continue;
                    }
                }
                let pipeline = match &blob.text {
                    Some(text) => pipeline::parse(text).map(Arc::new).map_err(|e| e.to_string()),
                    None => Err(format!("{PIPELINE_FILE} is too large or not text")),
                };
                let entry = Entry { default_branch, oid: blob.oid, pipeline };
                if inner.pipelines.insert(repo.clone(), entry).is_some() {
                    changes.updated.push(repo);
                } else {
                    changes.added.push(repo);
                }
            }
        }
    }
    changes
}

fn reindex(inner: &mut Inner) {
    let mut images: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    let mut repos: Vec<(&RepoName, &Entry)> = inner.pipelines.iter().collect();
    repos.sort_by(|a, b| a.0.cmp(b.0));
    for (repo, e) in repos {
        if let Ok(p) = &e.pipeline {
            for (path, t) in targets_of(repo, p) {
                images.entry(path).or_default().push(t);
            }
        }
    }
    inner.images = images.into_iter().collect();
}

#[cfg(test)]
pub(crate) mod tests;
