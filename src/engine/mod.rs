//! The imperative shell around the planner: for each queued event it reads the facts it needs
//! (pipeline file, pointer files, open PRs, registry digests, signatures), asks the pure planner
//! what to do, and performs the resulting writes through the [`GitHub`] trait. Every write is
//! keyed (deterministic branch names, find-before-create, expected parents) so duplicate or
//! concurrent handling of the same event converges on one PR or one commit.

pub mod commands;
pub mod policy;
pub mod reconcile;
pub mod stages;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use tracing::Instrument;

use crate::event::{Event, RegistryPush};
use crate::github::{FileContent, GitHub, GitHubError, NewCommit, NewPullRequest};
use crate::pipeline::{self, Artifact, Pipeline, Stage, WriteMode};
use crate::planner::{self, Candidate, Decision, Snapshot, WritePlan};
use crate::queue::{Job, JobHandler};
use crate::registry::Registry;
use crate::types::{RepoName, Version};
use crate::verify::{Verifier, VerifyContext, VerifyError};

pub const PIPELINE_FILE: &str = ".baton.yaml";

/// The repository has no pipeline file: baton has nothing to do there (not an error).
#[derive(Debug, thiserror::Error)]
#[error("{repo} has no {PIPELINE_FILE} on its default branch {branch}")]
pub struct NoPipeline {
    pub repo: RepoName,
    pub branch: String,
}

/// A repository's pipeline as read from its default branch.
#[derive(Clone)]
pub struct Loaded {
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
    cache: Mutex<HashMap<RepoName, (Instant, Loaded)>>,
    /// How long to wait for a signature that is pushed after its image.
    pub signature_wait: Duration,
    /// The time, injectable so that tests can move past a soak without sleeping.
    pub clock: Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>,
}

/// What became of one promotion attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Noop(String),
    PullRequest { number: u64, url: String },
    Committed { sha: String },
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
            signature_wait: Duration::from_secs(120),
            clock: Arc::new(chrono::Utc::now),
        }
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

    /// Reads (or returns the cached) `.baton.yaml` of `repo`'s default branch.
    pub async fn load(&self, repo: &RepoName) -> anyhow::Result<Loaded> {
        if let Some((at, loaded)) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(repo) {
            if at.elapsed() < self.cache_ttl {
                return Ok(loaded.clone());
            }
        }
        let info = self.github.repo_info(repo).await.context("reading the repository")?;
        let file = match self.github.file(repo, PIPELINE_FILE, &info.default_branch).await {
            Ok(f) => f,
            Err(GitHubError::NotFound(_)) => {
                return Err(NoPipeline { repo: repo.clone(), branch: info.default_branch }.into())
            }
            Err(e) => return Err(e).context("reading .baton.yaml"),
        };
        let pipeline = pipeline::parse(&file.text).map_err(|e| anyhow!("{repo}: invalid {PIPELINE_FILE}:\n{e}"))?;
        let loaded = Loaded { repo: repo.clone(), default_branch: info.default_branch, pipeline: Arc::new(pipeline) };
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(repo.clone(), (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    pub async fn handle_event(&self, repo: &RepoName, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::RegistryPush(push) => self.on_registry_push(repo, push).await,
            Event::PullRequest(pr) if pr.action == crate::event::PrAction::Closed => {
                if pr.merged {
                    if let Some(sha) = &pr.merge_commit_sha {
                        self.evaluate_stages(repo, Some(sha)).await?;
                    }
                }
                Ok(())
            }
            Event::PullRequest(pr) => {
                use crate::event::PrAction;
                // A label change matters only for the rollback exemption.
                let rollback_label = pr.label.as_deref() == Some(policy::ROLLBACK_LABEL);
                if (matches!(pr.action, PrAction::Opened | PrAction::Synchronize | PrAction::Reopened)
                    || (matches!(pr.action, PrAction::Labeled | PrAction::Unlabeled) && rollback_label))
                    && pr.base_ref == self.load(repo).await?.default_branch
                {
                    self.run_policy(repo, &policy::PolicyTarget::from(pr)).await?;
                }
                Ok(())
            }
            Event::CheckRun(cr) => {
                use crate::event::CheckRunAction;
                match &cr.action {
                    CheckRunAction::Rerequested if cr.name == crate::policy::CHECK_NAME => {
                        for pr in self.github.commit_pulls(repo, &cr.head_sha).await? {
                            if pr.state == "open" && pr.head_sha == cr.head_sha {
                                self.run_policy(repo, &(&pr).into()).await?;
                            }
                        }
                        Ok(())
                    }
                    CheckRunAction::RequestedAction { identifier } if cr.name.starts_with("baton/verified/") => {
                        self.on_promote_button(repo, &cr.head_sha, identifier, &cr.sender).await
                    }
                    CheckRunAction::Rerequested if cr.name.starts_with("baton/verified/") => {
                        self.evaluate_stages(repo, Some(&cr.head_sha)).await
                    }
                    CheckRunAction::Completed if !cr.name.starts_with("baton/verified/") => {
                        self.on_checks_changed(repo, &cr.head_sha, cr.head_branch.as_deref().map(|b| vec![b])).await
                    }
                    _ => Ok(()),
                }
            }
            Event::CheckSuite(cs) => {
                self.on_checks_changed(repo, &cs.head_sha, cs.head_branch.as_deref().map(|b| vec![b])).await
            }
            Event::Status(st) if st.state != "pending" => {
                let branches: Vec<&str> = st.branches.iter().map(String::as_str).collect();
                self.on_checks_changed(repo, &st.sha, (!branches.is_empty()).then_some(branches)).await
            }
            Event::IssueComment(c) => self.on_comment(repo, c).await,
            Event::Push(p) => {
                let loaded = self.load(repo).await?;
                if p.git_ref == format!("refs/heads/{}", loaded.default_branch) {
                    self.evaluate_stages(repo, Some(&p.after)).await?;
                }
                Ok(())
            }
            other => {
                tracing::debug!(event = other.kind(), "no action for this event yet");
                Ok(())
            }
        }
    }

    /// A check or status on `sha` completed. `branches`: where the commit is known to be (None:
    /// unknown). Bump commits live on the default branch and may now be verified; other commits
    /// may be the heads of baton's PRs, which may now merge.
    async fn on_checks_changed(&self, repo: &RepoName, sha: &str, branches: Option<Vec<&str>>) -> anyhow::Result<()> {
        let default_branch = self.load(repo).await?.default_branch;
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

    pub(crate) async fn on_registry_push(&self, repo: &RepoName, push: &RegistryPush) -> anyhow::Result<()> {
        let loaded = self.load(repo).await?;
        let artifacts: Vec<&Artifact> = loaded
            .pipeline
            .artifacts
            .values()
            .filter(|a| a.image.path == push.repository && a.tags.is_match(push.tag.as_str()))
            .collect();
        if artifacts.is_empty() {
            tracing::debug!(repository = %push.repository, tag = %push.tag, "no artifact of this repository matches the push");
            return Ok(());
        }
        for artifact in artifacts {
            let resolved = self
                .resolve_after_push(artifact, &push.tag)
                .await
                .with_context(|| format!("resolving {}:{}", artifact.image, push.tag))?;
            let version = Version { tag: push.tag.clone(), digest: resolved.digest.clone() };
            // Keys are read from the default branch (DESIGN §10.5).
            let verified = match self.verify_with_wait(repo, &loaded.default_branch, artifact, &version).await {
                Ok(v) => v,
                Err(e) => {
                    crate::metrics::promotion("-", "rejected");
                    tracing::warn!(artifact = %artifact.name, version = %version, reason = %e, "not promoting: signature not verified");
                    if let Err(e2) = self.report_rejected(repo, artifact, &version, &e).await {
                        tracing::error!(error = format!("{e2:#}"), "cannot open the baton:rejected issue");
                    }
                    continue;
                }
            };
            let candidate = Candidate {
                version,
                annotations: resolved.annotations.clone(),
                verified_by: Some(verified.by),
                verified_in: None,
                approved_by: vec![],
                rollback: false,
                explicit: false,
            };
            for stage in loaded.pipeline.first_stages() {
                if !stage.pointers.iter().any(|p| p.artifact == artifact.name) {
                    continue;
                }
                let outcome = self.promote(repo, &loaded, stage, artifact, &candidate).await;
                report_outcome(stage, &candidate.version, &outcome);
            }
        }
        Ok(())
    }

    /// Opens (or updates) the one `baton:rejected` issue of a version that failed verification,
    /// so that a human learns why nothing was promoted.
    async fn report_rejected(
        &self,
        repo: &RepoName,
        artifact: &Artifact,
        version: &Version,
        error: &VerifyError,
    ) -> anyhow::Result<()> {
        let key = crate::render::rejected_key(&artifact.name, version);
        let title = crate::render::rejected_title(&artifact.name, version);
        let body =
            crate::render::rejected_body(&artifact.name, &artifact.image.to_string(), version, &error.to_string());
        let labels = vec![crate::render::REJECTED_LABEL.to_string()];
        let existing = self.github.issues_with_label(repo, crate::render::REJECTED_LABEL).await?;
        match existing.iter().find(|i| i.body.contains(&key)) {
            Some(i) if i.body == body && i.title == title => {}
            Some(i) => self.github.update_issue(repo, i.number, &title, &body).await?,
            None => {
                self.github.create_issue(repo, &title, &body, &labels).await?;
            }
        }
        Ok(())
    }

    /// Resolves a tag that was just announced. Registries may notify before the tag is
    /// readable everywhere (Docker Distribution writes the tag link after the manifest event),
    /// so a missing tag is retried with backoff for a few seconds.
    async fn resolve_after_push(
        &self,
        artifact: &Artifact,
        tag: &crate::types::Tag,
    ) -> Result<crate::registry::Resolved, crate::registry::RegistryError> {
        let mut delay = Duration::from_millis(100);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.registry.resolve(&artifact.image, tag).await {
                Err(crate::registry::RegistryError::TagNotFound { .. }) if Instant::now() + delay < deadline => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    /// Verifies, waiting with backoff for a signature that is pushed after the image.
    async fn verify_with_wait(
        &self,
        repo: &RepoName,
        head: &str,
        artifact: &Artifact,
        version: &Version,
    ) -> Result<crate::verify::Verified, VerifyError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(500);
        loop {
            let ctx = VerifyContext { repo, commit: head, artifact, digest: &version.digest };
            match self.verifier.verify(&ctx).await {
                Err(VerifyError::NotSigned(_)) if started.elapsed() + delay < self.signature_wait => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                other => {
                    crate::metrics::verification(match &other {
                        Ok(_) => "verified",
                        Err(VerifyError::NotSigned(_)) => "unsigned",
                        Err(VerifyError::Rejected(_)) => "rejected",
                        Err(VerifyError::Unavailable(_)) => "error",
                    });
                    return other;
                }
            }
        }
    }

    /// Moves `stage` to `candidate` (idempotently): re-reads the facts, plans, writes. A direct
    /// commit that lost a race with another push is re-planned on the new head.
    pub async fn promote(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        candidate: &Candidate,
    ) -> anyhow::Result<Outcome> {
        self.promote_inner(repo, loaded, stage, artifact, candidate, false).await
    }

    /// Like [`Engine::promote`], but rewrites an open PR for the same version on the current
    /// default branch (after its base moved or it could not merge).
    pub async fn promote_rebuilding(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        candidate: &Candidate,
    ) -> anyhow::Result<Outcome> {
        self.promote_inner(repo, loaded, stage, artifact, candidate, true).await
    }

    async fn promote_inner(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        candidate: &Candidate,
        rebuild: bool,
    ) -> anyhow::Result<Outcome> {
        if !candidate.rollback
            && !candidate.explicit
            && self.rejected_versions(repo, loaded, stage, artifact).await?.contains(&candidate.version)
        {
            return Ok(Outcome::Noop(format!(
                "{} was rolled back in {} or upstream; it is not promoted again",
                candidate.version, stage.name
            )));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let head = self.github.branch_head(repo, &loaded.default_branch).await?;
            let mut files: Vec<FileContent> = Vec::new();
            for spec in stage.pointers.iter().filter(|p| p.artifact == artifact.name) {
                if files.iter().all(|f| f.path != spec.file.as_str()) {
                    let f = self
                        .github
                        .file(repo, spec.file.as_str(), &head)
                        .await
                        .with_context(|| format!("reading pointer file {}", spec.file))?;
                    files.push(f);
                }
            }
            let branch = crate::render::branch(&stage.name, &artifact.name);
            let open_pr = match stage.write {
                WriteMode::PullRequest => self.github.find_open_pull(repo, &branch).await?,
                WriteMode::Commit => None,
            };
            let pointers = stage
                .pointers
                .iter()
                .filter(|p| p.artifact == artifact.name)
                .filter_map(|p| files.iter().find(|f| f.path == p.file.as_str()).map(|f| (p, f)))
                .collect();
            let snapshot = Snapshot {
                stage,
                artifact,
                default_branch: &loaded.default_branch,
                default_head: &head,
                pointers,
                open_pr: open_pr.as_ref(),
                rebuild,
            };
            let plan = match planner::plan_promotion(&snapshot, candidate)? {
                Decision::Noop(why) => return Ok(Outcome::Noop(why)),
                Decision::Write(plan) => plan,
            };
            match self.execute(repo, &plan).await {
                Err(e) if attempt < 3 && matches!(e.downcast_ref::<GitHubError>(), Some(GitHubError::Conflict(_))) => {
                    tracing::info!(error = %e, "lost a race; re-reading and trying again");
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn execute(&self, repo: &RepoName, plan: &WritePlan) -> anyhow::Result<Outcome> {
        let gh = &self.github;
        let commit =
            NewCommit { parent: plan.parent.clone(), message: plan.commit_message.clone(), files: plan.files.clone() };
        let sha = gh.create_commit(repo, &commit).await?;
        if plan.mode == WriteMode::Commit {
            // Fast-forward only: if the default branch moved, this fails and the caller re-plans.
            gh.update_branch(repo, &plan.base, &sha, false).await?;
            return Ok(Outcome::Committed { sha });
        }
        match gh.create_branch(repo, &plan.branch, &sha).await {
            Ok(()) => {}
            Err(GitHubError::Conflict(_)) => gh.update_branch(repo, &plan.branch, &sha, true).await?,
            Err(e) => return Err(e.into()),
        }
        let pr = match plan.existing_pr {
            Some(number) => {
                gh.update_pull(repo, number, &plan.title, &plan.body).await?;
                (number, String::new())
            }
            None => {
                let new = NewPullRequest {
                    head: plan.branch.clone(),
                    base: plan.base.clone(),
                    title: plan.title.clone(),
                    body: plan.body.clone(),
                };
                match gh.create_pull(repo, &new).await {
                    Ok(pr) => (pr.number, pr.html_url),
                    // Another replica opened it meanwhile: update that one.
                    Err(GitHubError::Conflict(_)) => {
                        let pr = gh.find_open_pull(repo, &plan.branch).await?.ok_or_else(|| {
                            anyhow!("GitHub refused a pull request for {} but none is open", plan.branch)
                        })?;
                        gh.update_pull(repo, pr.number, &plan.title, &plan.body).await?;
                        (pr.number, pr.html_url)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        gh.add_labels(repo, pr.0, &plan.labels).await?;
        Ok(Outcome::PullRequest { number: pr.0, url: pr.1 })
    }
}

pub(crate) fn report_outcome(stage: &Stage, v: &Version, outcome: &anyhow::Result<Outcome>) {
    match outcome {
        Ok(Outcome::Noop(why)) => {
            crate::metrics::promotion(stage.name.as_str(), "noop");
            tracing::info!(stage = %stage.name, version = %v, "no promotion: {why}");
        }
        Ok(Outcome::PullRequest { number, .. }) => {
            crate::metrics::promotion(stage.name.as_str(), "pull_request");
            tracing::info!(stage = %stage.name, version = %v, pull_request = number, "promotion pull request ready");
        }
        Ok(Outcome::Committed { sha }) => {
            crate::metrics::promotion(stage.name.as_str(), "committed");
            tracing::info!(stage = %stage.name, version = %v, commit = %sha, "promotion committed");
        }
        Err(e) => {
            crate::metrics::promotion(stage.name.as_str(), "failed");
            tracing::error!(stage = %stage.name, version = %v, error = format!("{e:#}"), "promotion failed");
        }
    }
}

impl JobHandler for Engine {
    fn handle(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let span =
            tracing::info_span!("delivery", id = %job.delivery, event = job.event.kind(), repository = %job.repo);
        Box::pin(
            async move {
                let started = Instant::now();
                match self.handle_event(&job.repo, &job.event).await {
                    Ok(()) => {}
                    Err(e) if e.downcast_ref::<NoPipeline>().is_some() => tracing::debug!("{e}"),
                    Err(e) => tracing::error!(error = format!("{e:#}"), "event handling failed"),
                }
                crate::metrics::get()
                    .handling_seconds
                    .get_or_create(&crate::metrics::EventLabels { event: job.event.kind().to_string() })
                    .observe(started.elapsed().as_secs_f64());
            }
            .instrument(span),
        )
    }
}
