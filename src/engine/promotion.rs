//! Promotion: a registry push becomes an offer to the first stages; a verified stage offers its
//! version downstream; [`Engine::promote`] re-reads the stage's facts, asks the planner for the
//! plan and writes it (a PR, or a direct commit), keyed so that repeats converge.

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::history::Bump;
use super::scheduler::TimerKey;
use super::{report_outcome, Engine, Outcome, RepoPipeline};
use crate::event::{RegistryPush, Wake};
use crate::github::{FileContent, GitHubError, NewCommit, NewPullRequest, PullRequest};
use crate::pipeline::{Artifact, Promotion, WriteMode};
use crate::planner::wait::{self, Backoff};
use crate::planner::{self, Decision, Intent, Offer, Snapshot, StagePointer, WritePlan};
use crate::registry::RegistryError;
use crate::types::{ArtifactName, RepoName, StageName, Version};
use crate::verify::{VerifyContext, VerifyError};

/// How a speculative first attempt says "read the open pull request and plan again" (the head
/// and files it read are still current).
const BRANCH_EXISTS: &str = "the stage's branch exists";

impl Engine {
    /// The App's login (`<slug>[bot]`), the author of baton's PRs; None when unknown.
    pub(crate) async fn app_login(&self) -> Option<String> {
        self.github.app_slug().await.map(|slug| format!("{slug}[bot]"))
    }

    pub(crate) async fn on_registry_push(&self, repo: &RepoName, push: &RegistryPush) -> anyhow::Result<()> {
        self.check_push(repo, push, None).await
    }

    /// A registry push (`wake`: `None`), or a timer looking at it again (`Some((artifact, since,
    /// attempt))`, for that artifact only): resolve the tag, verify the signature, offer the
    /// version to the first stages. What is not there yet is looked at again by a timer
    /// (`scheduler`) instead of sleeping here, so the repository's other events run meanwhile.
    pub(crate) async fn check_push(
        &self,
        repo: &RepoName,
        push: &RegistryPush,
        wake: Option<(&ArtifactName, DateTime<Utc>, u32)>,
    ) -> anyhow::Result<()> {
        self.check_push_knowing(repo, push, wake, None).await
    }

    /// A push found by `reconcile`, which has read the open pull requests already: a stage
    /// whose PR is open is planned against it, with no speculative write.
    pub(crate) async fn reconcile_push(
        &self,
        repo: &RepoName,
        push: &RegistryPush,
        open: &[PullRequest],
    ) -> anyhow::Result<()> {
        self.check_push_knowing(repo, push, None, Some(open)).await
    }

    /// [`Engine::check_push`]; `open`: the repository's open pull requests, when just read.
    async fn check_push_knowing(
        &self,
        repo: &RepoName,
        push: &RegistryPush,
        wake: Option<(&ArtifactName, DateTime<Utc>, u32)>,
        open: Option<&[PullRequest]>,
    ) -> anyhow::Result<()> {
        let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
        let artifacts: Vec<&Artifact> = rp
            .pipeline
            .artifacts
            .values()
            .filter(|a| a.image.path == push.repository && (a.tags.is_match(push.tag.as_str()) || a.tracks(&push.tag)))
            .filter(|a| wake.is_none_or(|(name, _, _)| *name == a.name))
            .collect();
        if artifacts.is_empty() {
            tracing::debug!(repository = %push.repository, tag = %push.tag, "no artifact of this repository matches the push");
            return Ok(());
        }
        let now = (self.clock)();
        let (since, attempt) = wake.map_or((now, 0), |(_, since, attempt)| (since, attempt));
        for artifact in artifacts {
            let key = TimerKey::Artifact { repo: repo.clone(), artifact: artifact.name.clone() };
            if wake.is_none() {
                self.scheduler.pushed(&key, &push.tag);
            } else if !self.scheduler.is_latest(&key, &push.tag) {
                tracing::info!(artifact = %artifact.name, tag = %push.tag, "a newer push superseded this wait");
                continue;
            }
            let look_again = |backoff: Backoff, what: &str| {
                let due = wait::next_look(backoff, since, now, attempt)?;
                tracing::info!(artifact = %artifact.name, tag = %push.tag, %due, attempt, "{what}: looking again later");
                let wake =
                    Wake::Push { push: push.clone(), artifact: artifact.name.clone(), since, attempt: attempt + 1 };
                self.scheduler.arm(key.clone(), repo.clone(), due, wake);
                Some(())
            };
            // A channel tag's push: the digest the notification names (the tag may not have
            // moved yet when the notification arrives), with its annotations read by digest.
            let notified = push.digest.as_ref().filter(|_| artifact.tracks(&push.tag));
            let resolved = match notified {
                Some(digest) => match self.registry.annotations_of(&artifact.image, digest).await {
                    Ok(annotations) => {
                        Ok(crate::registry::Resolved { digest: digest.clone(), media_type: None, annotations })
                    }
                    Err(_) if look_again(Backoff::TAG, "manifest not readable yet").is_some() => continue,
                    Err(e) => Err(e),
                },
                None => self.registry.resolve(&artifact.image, &push.tag).await,
            };
            let resolved = match resolved {
                // Registries may notify before the tag is readable everywhere (Docker
                // Distribution writes the tag link after the manifest event).
                Err(RegistryError::TagNotFound { .. })
                    if look_again(Backoff::TAG, "tag not readable yet").is_some() =>
                {
                    continue
                }
                other => other.with_context(|| format!("resolving {}:{}", artifact.image, push.tag))?,
            };
            let version = Version { tag: push.tag.clone(), digest: resolved.digest.clone() };
            // Keys are read from the default branch.
            let ctx = VerifyContext { repo: &rp.repo, commit: &rp.default_branch, artifact, digest: &version.digest };
            let verified = match self.verifier.verify(&ctx).await {
                Err(VerifyError::NotSigned(_))
                    if look_again(Backoff::signature(self.signature_wait), "no signature yet").is_some() =>
                {
                    continue
                }
                other => {
                    crate::metrics::verification(match &other {
                        Ok(_) => "verified",
                        Err(VerifyError::NotSigned(_)) => "unsigned",
                        Err(VerifyError::Rejected(_)) => "rejected",
                        Err(VerifyError::Unavailable(_)) => "error",
                    });
                    other
                }
            };
            let verified = match verified {
                Ok(v) => v,
                Err(e) => {
                    crate::metrics::promotion("-", "rejected");
                    tracing::warn!(artifact = %artifact.name, version = %version, reason = %e, "not promoting: signature not verified");
                    if let Err(e2) = self.report_rejected(&rp, artifact, &version, &e).await {
                        tracing::error!(error = format!("{e2:#}"), "cannot open the baton:rejected issue");
                    }
                    continue;
                }
            };
            let offer = Offer {
                version,
                annotations: resolved.annotations.clone(),
                verified_by: Some(verified.by),
                verified_in: None,
                intent: Intent::Routine,
            };
            if artifact.tracks(&push.tag) {
                // A channel tag (#13): judged against what the first stages run (engine/tracked.rs).
                self.offer_tracked(&rp, artifact, &offer, open).await;
                continue;
            }
            for stage in rp.pipeline.first_stages() {
                let Some(sp) = StagePointer::of(stage, artifact) else { continue };
                // A member of a group the stage holds moves with its unit (#13).
                if let Some(group) = Self::unit_group(&rp, stage, &artifact.name) {
                    let outcome = self.unit_push(&rp, stage, group, artifact, &offer, open).await;
                    super::report_unit_outcome(stage, group, &outcome);
                    continue;
                }
                let outcome = self.promote_knowing(&rp, &sp, &offer, open).await;
                report_outcome(stage, &offer.version, &outcome);
            }
        }
        Ok(())
    }

    /// Opens (or updates) the one `baton:rejected` issue of a version that failed verification,
    /// so that a human learns why nothing was promoted.
    async fn report_rejected(
        &self,
        rp: &RepoPipeline,
        artifact: &Artifact,
        version: &Version,
        error: &VerifyError,
    ) -> anyhow::Result<()> {
        use crate::render::{rejected_body, rejected_key, rejected_title, REJECTED_LABEL};
        let repo = &rp.repo;
        let key = rejected_key(&artifact.name, version);
        let title = rejected_title(&artifact.name, version);
        let body = rejected_body(&artifact.name, &artifact.image.to_string(), version, &error.to_string());
        let existing = self.github.issues_with_label(repo, REJECTED_LABEL).await?;
        match existing.iter().find(|i| i.body.contains(&key)) {
            Some(i) if i.body == body && i.title == title => {}
            Some(i) => self.github.update_issue(repo, i.number, &title, &body).await?,
            None => {
                self.github.create_issue(repo, &title, &body, &[REJECTED_LABEL.to_string()]).await?;
            }
        }
        Ok(())
    }

    /// An offer of `version` whose signature baton has just verified (keys read from the
    /// default branch), with the artifact's annotations; every promotion starts here or at a
    /// registry push, so none skips the signature check.
    pub(crate) async fn signed_offer(
        &self,
        rp: &RepoPipeline,
        artifact: &Artifact,
        version: &Version,
        verified_in: Option<StageName>,
        intent: Intent,
    ) -> Result<Offer, VerifyError> {
        let ctx = VerifyContext { repo: &rp.repo, commit: &rp.default_branch, artifact, digest: &version.digest };
        let verified = self.verifier.verify(&ctx).await?;
        let annotations = if crate::planner::tracking::is_tracked(artifact, version) {
            // Never through the channel tag: it has moved on; the digest is what was verified.
            self.registry.annotations_of(&artifact.image, &version.digest).await.unwrap_or_default()
        } else {
            self.registry.resolve(&artifact.image, &version.tag).await.map(|r| r.annotations).unwrap_or_default()
        };
        Ok(Offer { version: version.clone(), annotations, verified_by: Some(verified.by), verified_in, intent })
    }

    /// Moves every `auto` stage downstream of the verified stage to the version it verified.
    pub(crate) async fn promote_downstream(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, bump: &Bump) {
        for next in rp.pipeline.downstream(&sp.stage.name) {
            let Some(next_sp) = sp.in_stage(next).filter(|_| next.promotion == Promotion::Auto) else { continue };
            let outcome = self.promote_verified(rp, &next_sp, &bump.version, &sp.stage.name, Intent::Routine).await;
            report_outcome(next, &bump.version, &outcome);
        }
    }

    /// Promotes a version verified in `from` to the stage, re-verifying its signature first.
    pub async fn promote_verified(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        version: &Version,
        from: &StageName,
        intent: Intent,
    ) -> anyhow::Result<Outcome> {
        let offer = self
            .signed_offer(rp, sp.artifact, version, Some(from.clone()), intent)
            .await
            .map_err(|e| anyhow::anyhow!("signature of {version}: {e}"))?;
        self.promote(rp, sp, &offer).await
    }

    /// Moves the stage to `offer` (idempotently): re-reads the facts, plans, writes. A direct
    /// commit that lost a race with another push is re-planned on the new head.
    pub async fn promote(&self, rp: &RepoPipeline, sp: &StagePointer<'_>, offer: &Offer) -> anyhow::Result<Outcome> {
        self.promote_knowing(rp, sp, offer, None).await
    }

    /// [`Engine::promote`]; `open`: the repository's open pull requests, when the caller has
    /// just read them (the first attempt then plans against the stage's PR instead of
    /// speculating that there is none).
    pub(super) async fn promote_knowing(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        offer: &Offer,
        open: Option<&[PullRequest]>,
    ) -> anyhow::Result<Outcome> {
        if !offer.intent.may_bring_back_rejected() && self.rejected_versions(rp, sp).await?.contains(&offer.version) {
            return Ok(Outcome::Noop(format!(
                "{} was rolled back in {} or upstream; it is not promoted again",
                offer.version, sp.stage.name
            )));
        }
        let mut attempt = 0;
        // After a speculative attempt, the head and files just read are still good.
        let mut reuse: Option<(String, Vec<FileContent>)> = None;
        loop {
            attempt += 1;
            let (head, files) = match reuse.take() {
                Some(read) => read,
                None => {
                    let head = self.github.branch_head(&rp.repo, &rp.default_branch).await?;
                    let files = self.pointer_files(rp, sp.stage, &[&sp.artifact.name], &head).await?;
                    (head, files)
                }
            };
            // First attempt of a PR stage: assume no open PR (no read), unless the caller has
            // just read the open PRs. Creating the stage's branch proves it (a PR needs its head
            // branch); if the branch exists, the attempt ends in a conflict and the next one
            // reads the open PR.
            let branch = crate::render::branch(&sp.stage.name, &sp.artifact.name);
            let known = match open.filter(|_| attempt == 1) {
                Some(list) => Some(planner::promotion::open_pr_for(list, &branch, self.app_login().await.as_deref())),
                None => None,
            };
            let speculative = attempt == 1 && sp.stage.write == WriteMode::PullRequest && known.is_none();
            let open_pr = match sp.stage.write {
                WriteMode::PullRequest if speculative => None,
                WriteMode::PullRequest => match known {
                    Some(pr) => pr.cloned(),
                    None => self.github.find_open_pull(&rp.repo, &branch).await?,
                },
                WriteMode::Commit => None,
            };
            let pointers = sp
                .stage
                .pointers
                .iter()
                .filter(|p| p.artifact == sp.artifact.name)
                .filter_map(|p| files.iter().find(|f| f.path == p.file.as_str()).map(|f| (p, f)))
                .collect();
            let snapshot = Snapshot {
                stage: sp.stage,
                artifact: sp.artifact,
                default_branch: &rp.default_branch,
                default_head: &head,
                pointers,
                open_pr: open_pr.as_ref(),
            };
            let mut plan = match planner::plan_promotion(&snapshot, offer)? {
                Decision::Noop(why) => return Ok(Outcome::Noop(why)),
                Decision::Proposed { number, missing_labels } => {
                    if !missing_labels.is_empty() {
                        tracing::info!(pull_request = number, labels = ?missing_labels, "completing a pull request left without its labels");
                        self.github.add_labels(&rp.repo, number, &missing_labels).await?;
                    }
                    let url = open_pr.as_ref().map(|p| p.html_url.clone()).unwrap_or_default();
                    return Ok(Outcome::Proposed { number, url });
                }
                Decision::Write(plan) => plan,
            };
            self.add_changes(sp, offer, &mut plan).await;
            let blobs: Vec<(&str, &str)> = files.iter().map(|f| (f.path.as_str(), f.sha.as_str())).collect();
            match self.execute(&rp.repo, &plan, &blobs, speculative).await {
                Err(GitHubError::Conflict(e)) if attempt < 3 => {
                    if speculative && e.starts_with(BRANCH_EXISTS) {
                        tracing::debug!(error = %e, "the stage's branch exists: reading its pull request");
                        reuse = Some((head, files));
                    } else {
                        tracing::info!(error = %e, "lost a race; re-reading and trying again");
                    }
                    continue;
                }
                other => return Ok(other?),
            }
        }
    }

    /// Adds "What changes" (manifest diff, commits) to the plan's PR body. Never fails: a diff
    /// that cannot be computed is one line in the body.
    async fn add_changes(&self, sp: &StagePointer<'_>, offer: &Offer, plan: &mut WritePlan) {
        if plan.mode != WriteMode::PullRequest {
            return;
        }
        let between = super::changes::Between {
            artifact: sp.artifact,
            old_tag: plan.marker.from_tag.as_deref(),
            old_digest: plan.marker.from_digest.as_deref(),
            new: &offer.version,
            new_annotations: &offer.annotations,
        };
        let more = match crate::planner::tracking::is_tracked(sp.artifact, &offer.version) {
            // Never the channel tag alone: it moves on.
            true => format!("/diff {} {}", sp.stage.name, offer.version),
            false => format!("/diff {} {}", sp.stage.name, offer.version.tag),
        };
        let limit = crate::manifest_diff::render::GITHUB_BODY_LIMIT.saturating_sub(plan.body.len() + 1_000);
        let limit = limit.min(crate::manifest_diff::render::PR_BODY_BUDGET);
        if let Some(section) = self.changes_section(&between, Some(&more), limit).await {
            plan.body = crate::manifest_diff::render::insert_into_body(&plan.body, &section);
        }
    }

    /// Every pointer file of `artifacts` in the stage at `head`, each read once.
    pub(super) async fn pointer_files(
        &self,
        rp: &RepoPipeline,
        stage: &crate::pipeline::Stage,
        artifacts: &[&ArtifactName],
        head: &str,
    ) -> anyhow::Result<Vec<FileContent>> {
        let mut files: Vec<FileContent> = Vec::new();
        for spec in stage.pointers.iter().filter(|p| artifacts.contains(&&p.artifact)) {
            if files.iter().all(|f| f.path != spec.file.as_str()) {
                let f = self
                    .github
                    .file(&rp.repo, spec.file.as_str(), head)
                    .await
                    .with_context(|| format!("reading pointer file {}", spec.file))?;
                files.push(f);
            }
        }
        Ok(files)
    }

    /// Performs a write plan: a commit, then a fast-forward of the default branch (direct
    /// commits) or the stage's branch and its PR. Conflicts are returned for the caller to
    /// re-plan; another replica's PR for the same branch is updated instead of duplicated.
    ///
    /// A new PR changing one file is written with the contents API (branch at the planned
    /// parent, then `PUT /contents/{path}` with the file's blob sha: one commit, made and
    /// signed by GitHub — "require signed commits" accepts it — in four writes with the PR and
    /// its labels). `blobs`: the blob sha of each file at the parent.
    pub(super) async fn execute(
        &self,
        repo: &RepoName,
        plan: &WritePlan,
        blobs: &[(&str, &str)],
        speculative: bool,
    ) -> Result<Outcome, GitHubError> {
        let gh = &self.github;
        let one_file = match plan.files.as_slice() {
            [f] => blobs.iter().find(|(p, _)| *p == f.path).map(|(_, sha)| (f, *sha)),
            _ => None,
        };
        if let (WriteMode::PullRequest, None, Some((file, blob))) = (plan.mode, plan.existing_pr, one_file) {
            match gh.create_branch(repo, &plan.branch, &plan.parent).await {
                Ok(()) => {
                    gh.put_file(repo, &plan.branch, &file.path, &file.content, Some(blob), &plan.commit_message)
                        .await?;
                    let (number, url) = self.open_pull(repo, plan).await?;
                    gh.add_labels(repo, number, &plan.labels).await?;
                    return Ok(Outcome::PullRequest { number, url });
                }
                // The branch exists: an open PR may too; re-plan having read it.
                Err(GitHubError::Conflict(e)) if speculative => {
                    return Err(GitHubError::Conflict(format!("{BRANCH_EXISTS}: {e}")))
                }
                Err(GitHubError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        } else if speculative {
            return Err(GitHubError::Conflict(format!("{BRANCH_EXISTS}: re-planning with the open pull request read")));
        }
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
            Err(e) => return Err(e),
        }
        let (number, url) = match plan.existing_pr {
            Some(number) => {
                gh.update_pull(repo, number, &plan.title, &plan.body).await?;
                (number, String::new())
            }
            None => self.open_pull(repo, plan).await?,
        };
        gh.add_labels(repo, number, &plan.labels).await?;
        Ok(Outcome::PullRequest { number, url })
    }

    async fn open_pull(&self, repo: &RepoName, plan: &WritePlan) -> Result<(u64, String), GitHubError> {
        let gh = &self.github;
        let new = NewPullRequest {
            head: plan.branch.clone(),
            base: plan.base.clone(),
            title: plan.title.clone(),
            body: plan.body.clone(),
        };
        match gh.create_pull(repo, &new).await {
            Ok(pr) => Ok((pr.number, pr.html_url)),
            // Another replica opened it meanwhile: update that one.
            Err(GitHubError::Conflict(_)) => {
                let pr = gh.find_open_pull(repo, &plan.branch).await?.ok_or_else(|| {
                    GitHubError::Other(format!("GitHub refused a pull request for {} but none is open", plan.branch))
                })?;
                gh.update_pull(repo, pr.number, &plan.title, &plan.body).await?;
                Ok((pr.number, pr.html_url))
            }
            Err(e) => Err(e),
        }
    }
}
