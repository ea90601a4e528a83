//! The imperative shell around the planner: for each queued event it reads the facts it needs
//! (pipeline file, pointer files, open PRs, registry digests, signatures), asks the pure
//! `planner` what to do, and performs the result through the [`GitHub`] trait. Every write is
//! keyed (deterministic branch names, find-before-create, expected parents) so duplicate or
//! concurrent handling of the same event converges on one PR or one commit.
//!
//! One file per concern: `promotion` (registry pushes, writing a promotion), `verification`
//! (bump commits' gates and their records), `history` (what a stage ran, where a version was
//! verified, what was rolled back), `merge` (auto-merge and rebuild of baton's PRs), `signals`
//! (Flux events recorded as commit statuses), `commands`, `policy` (`baton/policy`), `reconcile`,
//! `scheduler` (timers: waits as delayed jobs). This file holds the engine, the pipeline cache
//! and the event dispatch. See docs/architecture.md.

mod changes;
pub mod commands;
pub mod history;
pub mod merge;
pub mod policy;
pub mod promotion;
pub mod reconcile;
pub mod scheduler;
pub mod signals;
mod tracked;
mod unit_promotion;
mod units;
pub mod verification;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::event::{Event, RegistryPush};
use crate::github::{GitHub, GitHubError};
use crate::pipeline::{self, Pipeline, Stage};
use crate::planner::policy::{CHECK_NAME as POLICY_CHECK, ROLLBACK_LABEL};
use crate::queue::{Job, JobHandler};
use crate::registry::Registry;
use crate::types::{RepoName, Version};
use crate::verify::Verifier;

pub const PIPELINE_FILE: &str = ".baton.yaml";

tokio::task_local! {
    /// The delivery ID of the job being handled: users are given it instead of an error chain,
    /// operators find the chain under it in the log.
    static DELIVERY: String;
}

/// The delivery ID of the job being handled (`-` outside a job, e.g. `baton reconcile`).
pub(crate) fn delivery_id() -> String {
    DELIVERY.try_with(Clone::clone).unwrap_or_else(|_| "-".to_string())
}

/// Logs an internal error with its whole chain (for operators) and returns the sentence a
/// user sees instead (with the delivery ID).
pub(crate) fn user_facing(what: &str, e: &anyhow::Error) -> String {
    tracing::error!(error = format!("{e:#}"), "{what}");
    crate::render::internal_error(&delivery_id())
}

/// Why a repository's pipeline could not be loaded. Callers branch on it: a repository
/// without a pipeline is not an error (baton has nothing to do there), an invalid one is the
/// user's to fix (its problems name lines), a GitHub failure is the operators'.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{repo} has no {PIPELINE_FILE} on its default branch {branch}")]
    NoPipeline { repo: RepoName, branch: String },
    #[error("{repo}: invalid {PIPELINE_FILE}:\n{problems}")]
    Invalid { repo: RepoName, problems: String },
    #[error("reading {what}")]
    GitHub {
        what: &'static str,
        #[source]
        source: GitHubError,
    },
}

/// A repository's pipeline as read from its default branch.
#[derive(Clone)]
pub struct RepoPipeline {
    pub repo: RepoName,
    pub default_branch: String,
    pub pipeline: Arc<Pipeline>,
}

pub struct Engine {
    pub github: Arc<dyn GitHub>,
    pub registry: Arc<dyn Registry>,
    pub verifier: Arc<dyn Verifier>,
    /// The deployment repositories registry pushes are matched against: the configured list,
    /// or (when none is configured) every repository the App is installed on, refreshed by
    /// [`Engine::refresh_repositories`].
    repositories: std::sync::RwLock<Vec<RepoName>>,
    discover: bool,
    cache_ttl: Duration,
    cache: Mutex<HashMap<RepoName, (Instant, RepoPipeline)>>,
    /// Which repositories have a pipeline, parsed (kept current by webhooks): once built,
    /// [`Engine::load`] answers from it without a request.
    pub index: Arc<crate::index::Index>,
    /// How long to wait for a signature that is pushed after its image.
    pub signature_wait: Duration,
    /// How far back `reconcile` looks for commands nobody answered.
    pub replay_window: Duration,
    /// The time, injectable so that tests can move past a soak without sleeping.
    pub clock: Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>,
    /// Artifacts' annotations by digest (digests are immutable): where an artifact was built
    /// from, without asking the registry on every status event.
    annotations: Mutex<HashMap<crate::types::Digest, std::collections::BTreeMap<String, String>>>,
    /// Reads both versions of a promotion for the PR body's manifest diff; `None`: no diff.
    pub differ: Option<Arc<crate::manifest_diff::Differ>>,
    /// Timers: waits armed as delayed jobs instead of sleeping in the repository's slot.
    pub scheduler: scheduler::Scheduler,
    /// One lock per repository, taken by every job and by `serve`'s own reconcile pass: the
    /// queue already runs one job per repository at a time; this keeps the pass (which does not
    /// go through the queue) from evaluating a bump beside a job doing the same.
    slots: Mutex<HashMap<RepoName, Arc<tokio::sync::Mutex<()>>>>,
    /// baton's PRs this process added to a merge queue, by head sha: a later check event on the
    /// same head does not send the mutation again (GitHub would refuse it as already queued).
    /// A cache: after a restart one refused mutation finds out the same.
    pub(crate) enqueued: Mutex<lru::LruCache<(RepoName, u64, String), ()>>,
}

/// What became of one promotion attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Noop(String),
    PullRequest {
        number: u64,
        url: String,
    },
    /// The open PR already proposed exactly this (labels completed if a crash left them out).
    Proposed {
        number: u64,
        url: String,
    },
    Committed {
        sha: String,
    },
}

impl Engine {
    pub fn new(
        github: Arc<dyn GitHub>,
        registry: Arc<dyn Registry>,
        verifier: Arc<dyn Verifier>,
        repositories: Vec<RepoName>,
        cache_ttl: Duration,
    ) -> Engine {
        Engine {
            github,
            registry,
            verifier,
            discover: repositories.is_empty(),
            repositories: std::sync::RwLock::new(repositories),
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
            index: Arc::new(crate::index::Index::new()),
            signature_wait: Duration::from_secs(120),
            replay_window: Duration::from_secs(3600),
            clock: Arc::new(chrono::Utc::now),
            annotations: Mutex::new(HashMap::new()),
            differ: None,
            scheduler: scheduler::Scheduler::default(),
            slots: Mutex::new(HashMap::new()),
            enqueued: Mutex::new(lru::LruCache::new(std::num::NonZeroUsize::new(4096).expect("non-zero"))),
        }
    }

    /// The repository's slot: held while a job or a reconcile of the repository runs.
    pub async fn repository_slot(&self, repo: &RepoName) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(repo.clone()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The repositories baton serves now.
    pub fn repositories(&self) -> Vec<RepoName> {
        self.repositories.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the repositories come from the App's installations (none configured).
    pub fn discovers_repositories(&self) -> bool {
        self.discover
    }

    /// Re-reads the App's installations, when no repository list is configured. Repositories
    /// without a `.baton.yaml` are kept: they cost one read per event and are skipped.
    pub async fn refresh_repositories(&self) -> anyhow::Result<usize> {
        if !self.discover {
            return Ok(self.repositories().len());
        }
        let found = self.github.installed_repositories().await?;
        let n = found.len();
        *self.repositories.write().unwrap_or_else(|e| e.into_inner()) = found;
        Ok(n)
    }

    /// The jobs a registry push fans out to: one per repository baton serves.
    pub fn jobs_for_registry_push(&self, delivery: &str, push: RegistryPush) -> Vec<Job> {
        let event = Arc::new(Event::RegistryPush(push));
        self.repositories()
            .iter()
            .map(|repo| Job { repo: repo.clone(), delivery: delivery.to_string(), event: event.clone() })
            .collect()
    }

    /// The pipeline of `repo`'s default branch: from the index once it is built (no request),
    /// else read (or taken from the cache).
    pub async fn load(&self, repo: &RepoName) -> Result<RepoPipeline, LoadError> {
        if self.index.is_built() {
            let Some(entry) = self.index.entry(repo) else {
                return Err(LoadError::NoPipeline { repo: repo.clone(), branch: "(index)".into() });
            };
            let pipeline = entry.pipeline.map_err(|problems| LoadError::Invalid { repo: repo.clone(), problems })?;
            return Ok(RepoPipeline { repo: repo.clone(), default_branch: entry.default_branch, pipeline });
        }
        if let Some((at, loaded)) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(repo) {
            if at.elapsed() < self.cache_ttl {
                return Ok(loaded.clone());
            }
        }
        let info =
            self.github.repo_info(repo).await.map_err(|source| LoadError::GitHub { what: "the repository", source })?;
        let file = match self.github.file(repo, PIPELINE_FILE, &info.default_branch).await {
            Ok(f) => f,
            Err(GitHubError::NotFound(_)) => {
                return Err(LoadError::NoPipeline { repo: repo.clone(), branch: info.default_branch })
            }
            Err(source) => return Err(LoadError::GitHub { what: PIPELINE_FILE, source }),
        };
        let pipeline = pipeline::parse(&file.text)
            .map_err(|e| LoadError::Invalid { repo: repo.clone(), problems: e.to_string() })?;
        let loaded =
            RepoPipeline { repo: repo.clone(), default_branch: info.default_branch, pipeline: Arc::new(pipeline) };
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(repo.clone(), (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// The repository's pipeline for handling an event: `None` (logged at debug) when it has no
    /// `.baton.yaml`, which is not an error — baton has nothing to do there.
    pub async fn pipeline(&self, repo: &RepoName) -> Result<Option<RepoPipeline>, LoadError> {
        match self.load(repo).await {
            Ok(rp) => Ok(Some(rp)),
            Err(e @ LoadError::NoPipeline { .. }) => {
                tracing::debug!("{e}: nothing to do");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn handle_event(&self, repo: &RepoName, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::RegistryPush(push) => self.on_registry_push(repo, push).await,
            Event::PullRequest(pr) => self.on_pull_request(repo, pr).await,
            Event::CheckRun(cr) => self.on_check_run(repo, cr).await,
            Event::CheckSuite(cs) => {
                self.on_checks_changed(repo, &cs.head_sha, cs.head_branch.as_deref().map(|b| vec![b])).await
            }
            Event::Status(st) if st.state != crate::forge::StatusState::Pending => {
                let branches: Vec<&str> = st.branches.iter().map(String::as_str).collect();
                self.on_checks_changed(repo, &st.sha, (!branches.is_empty()).then_some(branches)).await
            }
            Event::IssueComment(c) => self.on_comment(repo, c).await,
            Event::Flux(f) => self.on_flux_event(repo, f).await,
            Event::MergeGroup(g) => self.on_merge_group(repo, g).await,
            // A verification workflow finished: its run's commit is the bump or a later tip.
            Event::WorkflowRun(r) if r.trigger == "workflow_dispatch" => {
                self.evaluate_stages(repo, Some(&r.head_sha)).await
            }
            Event::Push(p) => {
                // A push that changes `.baton.yaml` updates the index before anything else of
                // this repository is handled (the queue serializes a repository's events).
                let work = crate::index::work_for(event);
                if work != crate::index::IndexWork::Nothing && self.index.is_built() {
                    match self.index.apply(&*self.github, work).await {
                        Ok(c) => {
                            tracing::info!(added = ?c.added, updated = ?c.updated, removed = ?c.removed, "index updated")
                        }
                        Err(e) => tracing::warn!(
                            error = format!("{e:#}"),
                            "cannot re-read .baton.yaml; the periodic refresh will"
                        ),
                    }
                    crate::metrics::index(&self.index);
                }
                let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
                if p.git_ref == format!("refs/heads/{}", rp.default_branch) {
                    self.evaluate_stages(repo, Some(&p.after)).await?;
                }
                Ok(())
            }
            Event::Wake(crate::event::Wake::Push { push, artifact, since, attempt }) => {
                self.check_push(repo, push, Some((artifact, *since, *attempt))).await
            }
            Event::Wake(crate::event::Wake::Bump { sha }) => self.evaluate_stages(repo, Some(sha)).await,
            Event::Wake(crate::event::Wake::Pull { number, head_sha, attempt }) => {
                self.look_at_pull(repo, *number, head_sha, *attempt).await
            }
            Event::Wake(crate::event::Wake::Retry { event, delivery, runs }) => {
                tracing::info!(original = %delivery, runs, "running a rate-limited job again");
                Box::pin(self.handle_event(repo, event)).await
            }
            other => {
                tracing::debug!(event = other.kind(), "no action for this event yet");
                Ok(())
            }
        }
    }

    /// A merged PR may have made a bump commit; an opened or updated PR gets `baton/policy`
    /// (a label change matters only for the rollback exemption).
    async fn on_pull_request(&self, repo: &RepoName, pr: &crate::event::PullRequestEvent) -> anyhow::Result<()> {
        use crate::event::PrAction;
        if pr.action == PrAction::Closed {
            if let (true, Some(sha)) = (pr.merged, &pr.merge_commit_sha) {
                self.evaluate_stages(repo, Some(sha)).await?;
            }
            return Ok(());
        }
        let rollback_label = pr.label.as_deref() == Some(ROLLBACK_LABEL);
        let relevant = matches!(pr.action, PrAction::Opened | PrAction::Synchronize | PrAction::Reopened)
            || (matches!(pr.action, PrAction::Labeled | PrAction::Unlabeled) && rollback_label);
        if !relevant {
            return Ok(());
        }
        let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
        if pr.base_ref == rp.default_branch {
            self.run_policy(repo, &policy::PolicyTarget::from(pr)).await?;
        }
        Ok(())
    }

    async fn on_check_run(&self, repo: &RepoName, cr: &crate::event::CheckRunEvent) -> anyhow::Result<()> {
        use crate::event::CheckRunAction;
        let baton_verified = cr.name.starts_with("baton/verified/");
        match &cr.action {
            CheckRunAction::Rerequested if cr.name == POLICY_CHECK => {
                for pr in self.github.commit_pulls(repo, &cr.head_sha).await? {
                    if pr.state == crate::forge::PrState::Open && pr.head_sha == cr.head_sha {
                        self.run_policy(repo, &(&pr).into()).await?;
                    }
                }
                Ok(())
            }
            CheckRunAction::RequestedAction { identifier } if baton_verified => {
                self.on_promote_button(repo, &cr.head_sha, identifier, &cr.sender).await
            }
            CheckRunAction::Rerequested if baton_verified => self.evaluate_stages(repo, Some(&cr.head_sha)).await,
            CheckRunAction::Completed if !baton_verified => {
                self.on_checks_changed(repo, &cr.head_sha, cr.head_branch.as_deref().map(|b| vec![b])).await
            }
            _ => Ok(()),
        }
    }

    /// A check or status on `sha` completed. `branches`: where the commit is known to be (None:
    /// unknown). Bump commits live on the default branch and may now be verified; other commits
    /// may be the heads of baton's PRs, which may now merge.
    async fn on_checks_changed(&self, repo: &RepoName, sha: &str, branches: Option<Vec<&str>>) -> anyhow::Result<()> {
        let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
        let default_branch = rp.default_branch;
        let on_default = branches.as_ref().is_none_or(|b| b.contains(&default_branch.as_str()));
        let elsewhere = branches.as_ref().is_none_or(|b| b.iter().any(|x| *x != default_branch));
        if on_default {
            self.evaluate_stages(repo, Some(sha)).await?;
        }
        if elsewhere {
            self.try_auto_merge(repo, sha).await?;
        }
        Ok(())
    }
}

impl Engine {
    /// A job stopped by a rate limit gives its slot back: a timer runs its event again at the
    /// reset (every write is keyed and every command has its receipt, so a re-run converges on
    /// the same result and replies once). The repository's other events run meanwhile.
    fn run_again_after_rate_limit(&self, job: &Job, reset_in: Duration) {
        let (event, delivery, runs) = match &*job.event {
            Event::Wake(crate::event::Wake::Retry { event, delivery, runs }) => {
                ((**event).clone(), delivery.clone(), runs + 1)
            }
            other => (other.clone(), job.delivery.clone(), 1),
        };
        let Some(due) = crate::planner::wait::after_rate_limit((self.clock)(), reset_in, runs) else {
            tracing::error!(original = %delivery, runs, "rate limited again and again: leaving the event to the next one and reconcile");
            return;
        };
        tracing::info!(original = %delivery, %due, runs, "rate limited: running the event again at the reset");
        let key = scheduler::TimerKey::Retry { repo: job.repo.clone(), delivery: delivery.clone() };
        let wake = crate::event::Wake::Retry { event: Box::new(event), delivery, runs };
        self.scheduler.arm(key, job.repo.clone(), due, wake);
    }
}

/// Logs and counts a unit promotion's outcome (like [`report_outcome`] for one artifact).
pub(crate) fn report_unit_outcome(stage: &Stage, group: &crate::pipeline::Group, outcome: &anyhow::Result<Outcome>) {
    log_outcome(stage, &format!("{} unit", group.name), outcome)
}

pub(crate) fn report_outcome(stage: &Stage, v: &Version, outcome: &anyhow::Result<Outcome>) {
    log_outcome(stage, &v.to_string(), outcome)
}

/// One promotion's outcome in the log and `baton_promotions_total`; `version`: what was
/// offered (a version, or a unit).
fn log_outcome(stage: &Stage, version: &str, outcome: &anyhow::Result<Outcome>) {
    match outcome {
        Ok(Outcome::Noop(why)) => {
            crate::metrics::promotion(stage.name.as_str(), "noop");
            tracing::info!(stage = %stage.name, version, "no promotion: {why}");
        }
        Ok(Outcome::Proposed { number, .. }) => {
            crate::metrics::promotion(stage.name.as_str(), "noop");
            tracing::info!(stage = %stage.name, version, pull_request = number, "no promotion: the pull request already proposes it");
        }
        Ok(Outcome::PullRequest { number, .. }) => {
            crate::metrics::promotion(stage.name.as_str(), "pull_request");
            tracing::info!(stage = %stage.name, version, pull_request = number, "promotion pull request ready");
        }
        Ok(Outcome::Committed { sha }) => {
            crate::metrics::promotion(stage.name.as_str(), "committed");
            tracing::info!(stage = %stage.name, version, commit = %sha, "promotion committed");
        }
        Err(e) => {
            crate::metrics::promotion(stage.name.as_str(), "failed");
            tracing::error!(stage = %stage.name, version, error = format!("{e:#}"), "promotion failed");
        }
    }
}

impl JobHandler for Engine {
    fn handle(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let span =
            tracing::info_span!("delivery", id = %job.delivery, event = job.event.kind(), repository = %job.repo);
        let delivery = job.delivery.clone();
        Box::pin(
            DELIVERY.scope(
                delivery,
                async move {
                    let _slot = self.repository_slot(&job.repo).await;
                    let started = Instant::now();
                    let (result, noted) =
                        crate::github::noting_rate_limits(self.handle_event(&job.repo, &job.event)).await;
                    let limited = noted.or_else(|| result.as_ref().err().and_then(crate::github::rate_limit_of));
                    match result {
                        Ok(()) => {}
                        Err(e) => tracing::error!(error = format!("{e:#}"), "event handling failed"),
                    }
                    if let Some(reset_in) = limited {
                        self.run_again_after_rate_limit(&job, reset_in);
                    }
                    crate::metrics::get()
                        .handling_seconds
                        .get_or_create(&crate::metrics::EventLabels { event: job.event.kind().to_string() })
                        .observe(started.elapsed().as_secs_f64());
                }
                .instrument(span),
            ),
        )
    }
}
