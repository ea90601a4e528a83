//! `baton/policy` on a pull request: which pointers it changes, the facts about each (files at
//! both ends, the registry, the signature, upstream verification, the freeze file), then the
//! planner's verdicts (`planner::policy::evaluate_pointer`) posted as one check run.

use std::collections::BTreeSet;

use anyhow::Context as _;

use super::{Engine, LoadError, RepoPipeline};
use crate::github::{CheckRunWrite, CheckStatus, GitHubError};
use crate::pipeline::{PointerSpec, Stage};
use crate::planner::policy::{
    evaluate_pointer, pinned_version, FreezeFact, NewPointer, PinnedFacts, PointerFacts, Report, Row, SignatureFact,
    UpstreamFact, CHECK_NAME, ROLLBACK_LABEL,
};
use crate::planner::StagePointer;
use crate::pointer;
use crate::types::{RepoName, Version};
use crate::verify::{VerifyContext, VerifyError};

/// The pull request a policy check is about.
#[derive(Debug, Clone)]
pub struct PolicyTarget {
    pub number: u64,
    pub head_sha: String,
    pub labels: Vec<String>,
    /// Whether the head branch is baton's (`baton/…`): its merge gets a fallback timer.
    pub baton_branch: bool,
}

impl From<&crate::github::PullRequest> for PolicyTarget {
    fn from(pr: &crate::github::PullRequest) -> PolicyTarget {
        PolicyTarget {
            number: pr.number,
            head_sha: pr.head_sha.clone(),
            labels: pr.labels.clone(),
            baton_branch: pr.head_ref.starts_with("baton/"),
        }
    }
}

impl From<&crate::event::PullRequestEvent> for PolicyTarget {
    fn from(pr: &crate::event::PullRequestEvent) -> PolicyTarget {
        PolicyTarget {
            number: pr.number,
            head_sha: pr.head_sha.clone(),
            labels: pr.labels.clone(),
            baton_branch: pr.head_ref.starts_with("baton/"),
        }
    }
}

impl Engine {
    /// `merge_group` checks_requested: the queue requires `baton/policy` on the group's head too.
    /// The group's branch names the pull request it was built for (`gh-readonly-queue/<base>/
    /// pr-<number>-<base sha>`); its pointer changes are checked on the group's head, which also
    /// carries the pull requests ahead of it in the queue.
    pub async fn on_merge_group(&self, repo: &RepoName, group: &crate::event::MergeGroupEvent) -> anyhow::Result<()> {
        let Some(rp) = self.pipeline(repo).await? else { return Ok(()) };
        if group.base_ref != format!("refs/heads/{}", rp.default_branch) {
            return Ok(());
        }
        let Some(number) = merge_group_pull(&group.head_ref) else {
            tracing::warn!(head_ref = %group.head_ref, "a merge group branch that names no pull request");
            return Ok(());
        };
        let labels = self
            .github
            .open_pulls(repo)
            .await?
            .into_iter()
            .find(|p| p.number == number)
            .map(|p| p.labels)
            .unwrap_or_default();
        // The group's head is no PR's: nothing merges it but the queue.
        let target = PolicyTarget { number, head_sha: group.head_sha.clone(), labels, baton_branch: false };
        self.run_policy(repo, &target).await
    }

    /// Runs `baton/policy` on a pull request's head (or a merge group's). No pointer and no
    /// pipeline file changed → a success at once, so branch protection can require the check
    /// without blocking ordinary pull requests.
    pub async fn run_policy(&self, repo: &RepoName, pr: &PolicyTarget) -> anyhow::Result<()> {
        let changed = self.github.pull_files(repo, pr.number).await.context("listing the pull request's files")?;
        let changed_paths: BTreeSet<&str> = changed
            .iter()
            .flat_map(|f| std::iter::once(f.filename.as_str()).chain(f.previous_filename.as_deref()))
            .collect();
        let mut report = Report::default();
        // A PR that changes the pipeline file gets it checked, as `baton check-config` would.
        let touches_config = changed_paths.contains(super::PIPELINE_FILE);
        if touches_config {
            self.check_pipeline_change(repo, pr, &mut report).await?;
        }
        let loaded = match self.load(repo).await {
            Ok(l) => Some(l),
            Err(e @ (LoadError::NoPipeline { .. } | LoadError::Invalid { .. })) if touches_config => {
                report.warnings.push(format!("the default branch's pipeline cannot be used: {e}"));
                None
            }
            Err(e) if touches_config => {
                let why = super::user_facing("cannot load the default branch's pipeline for baton/policy", &e.into());
                report.warnings.push(format!("the default branch's pipeline cannot be used: {why}"));
                None
            }
            Err(e) => {
                // Without a valid pipeline baton cannot tell pointers from other files.
                tracing::warn!(error = format!("{e:#}"), "cannot run baton/policy");
                return Ok(());
            }
        };
        let targets: Vec<(&Stage, &PointerSpec)> = loaded
            .iter()
            .flat_map(|l| l.pipeline.stages.iter())
            .flat_map(|s| s.pointers.iter().map(move |p| (s, p)))
            .filter(|(_, p)| changed_paths.contains(p.file.as_str()))
            .collect();
        if targets.is_empty() && !touches_config {
            // Reuse the check run of this head if one exists (re-runs, redeliveries).
            let existing = self.github.check_runs(repo, &pr.head_sha, Some(CHECK_NAME)).await?;
            let slug = self.github.app_slug().await;
            let existing_mine = existing.iter().find(|c| slug.is_none() || c.app_slug == slug);
            tracing::debug!(pr = pr.number, "no pointer file changed: baton/policy passes at once");
            let check = CheckRunWrite {
                name: CHECK_NAME.to_string(),
                head_sha: pr.head_sha.clone(),
                status: CheckStatus::Completed,
                conclusion: Some(crate::github::Conclusion::Success),
                title: crate::render::POLICY_NOTHING_TITLE.to_string(),
                summary: crate::render::policy_nothing_to_check(),
                text: None,
                actions: vec![],
            };
            match existing_mine {
                Some(c)
                    if c.status == CheckStatus::Completed && c.summary.as_deref() == Some(check.summary.as_str()) => {}
                Some(c) => self.github.update_check_run(repo, c.id, &check).await?,
                None => {
                    self.github.create_check_run(repo, &check).await?;
                }
            }
            return Ok(());
        }

        let (mut check, id) = self.start_policy_check(repo, pr, targets.len()).await?;
        if let (Some(loaded), None) = (&loaded, &report.fatal) {
            self.policy_rows(loaded, pr, &targets, &changed, &mut report).await?;
        }
        // A closed promotion window (#13) leaves the check pending until it opens.
        if report.waiting() {
            check.status = CheckStatus::InProgress;
            check.conclusion = None;
        } else {
            check.status = CheckStatus::Completed;
            check.conclusion = Some(report.conclusion());
        }
        check.title = report.title();
        check.summary = report.summary();
        self.github.update_check_run(repo, id, &check).await?;
        self.arm_pull_timer(repo, pr, &report, &targets);
        crate::metrics::promotion(
            "policy",
            if report.conclusion() == crate::github::Conclusion::Success { "policy_passed" } else { "policy_failed" },
        );
        Ok(())
    }

    /// After `baton/policy` on a PR: a check waiting for a closed promotion window is run again
    /// (and the PR merged, if baton's) by a timer at the earliest opening among the stages it
    /// moves; a passed check on baton's own PR arms the fallback look at its merge, in case the
    /// check event that normally triggers it is lost (re-armed or cancelled by the merge
    /// decision, see `engine::merge`).
    fn arm_pull_timer(&self, repo: &RepoName, pr: &PolicyTarget, report: &Report, targets: &[(&Stage, &PointerSpec)]) {
        let now = (self.clock)();
        let key = super::scheduler::TimerKey::Pull { repo: repo.clone(), number: pr.number };
        let wake = |attempt| crate::event::Wake::Pull { number: pr.number, head_sha: pr.head_sha.clone(), attempt };
        if report.waiting() {
            let opening = targets.iter().filter_map(|(s, _)| s.windows.as_ref()?.next_opening(now)).min();
            if let Some(due) = opening {
                self.scheduler.arm(key, repo.clone(), due, wake(0));
            }
        } else if pr.baton_branch && report.conclusion() == crate::github::Conclusion::Success {
            if let Some(due) = crate::planner::wait::next_merge_look(now, 0) {
                self.scheduler.arm(key, repo.clone(), due, wake(1));
            }
        }
    }

    /// Notes (or a fatal problem) about a `.baton.yaml` the pull request changes.
    async fn check_pipeline_change(
        &self,
        repo: &RepoName,
        pr: &PolicyTarget,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let file = super::PIPELINE_FILE;
        match self.github.file(repo, file, &pr.head_sha).await {
            Ok(f) => match crate::pipeline::parse(&f.text) {
                Ok(p) => report.warnings.push(format!(
                    "{file} in this pull request is valid ({} artifacts, {} stages); it takes effect once merged",
                    p.artifacts.len(),
                    p.stages.len()
                )),
                Err(e) => report.fatal = Some(format!("{file} in this pull request is invalid:\n{e}")),
            },
            Err(GitHubError::NotFound(_)) => report
                .warnings
                .push(format!("this pull request deletes {file}: once merged, baton stops managing this repository")),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Posts `baton/policy` as in progress, reusing this head's check run if one exists
    /// (re-runs, redeliveries). Returns the check (to complete) and its id.
    async fn start_policy_check(
        &self,
        repo: &RepoName,
        pr: &PolicyTarget,
        changes: usize,
    ) -> anyhow::Result<(CheckRunWrite, u64)> {
        let existing = self.github.check_runs(repo, &pr.head_sha, Some(CHECK_NAME)).await?;
        let check = CheckRunWrite {
            name: CHECK_NAME.to_string(),
            head_sha: pr.head_sha.clone(),
            status: CheckStatus::InProgress,
            conclusion: None,
            title: "Checking pointer changes".to_string(),
            summary: format!("Checking {changes} pointer change(s)…"),
            text: None,
            actions: vec![],
        };
        let slug = self.github.app_slug().await;
        let id = match existing.iter().find(|c| slug.is_none() || c.app_slug == slug) {
            Some(c) => {
                self.github.update_check_run(repo, c.id, &check).await?;
                c.id
            }
            None => self.github.create_check_run(repo, &check).await?,
        };
        Ok((check, id))
    }

    async fn policy_rows(
        &self,
        rp: &RepoPipeline,
        pr: &PolicyTarget,
        targets: &[(&Stage, &PointerSpec)],
        changed: &[crate::github::ChangedFile],
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let default_head = self.github.branch_head(&rp.repo, &rp.default_branch).await?;
        let rollback = pr.labels.iter().any(|l| l == ROLLBACK_LABEL);
        for (stage, spec) in targets {
            if let Some(row) = self.policy_row(rp, &default_head, pr, stage, spec, rollback).await {
                report.rows.push(row);
            }
        }
        self.unit_rows(rp, &default_head, pr, targets, rollback, report).await;
        // Changed YAML files beside configured pointers that no stage names.
        let pointer_dirs: BTreeSet<&str> =
            targets.iter().map(|(_, p)| p.file.as_str().rsplit_once('/').map(|(d, _)| d).unwrap_or("")).collect();
        let configured: BTreeSet<&str> =
            rp.pipeline.stages.iter().flat_map(|s| s.pointers.iter().map(|p| p.file.as_str())).collect();
        for f in changed {
            let dir = f.filename.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let yaml = f.filename.ends_with(".yaml") || f.filename.ends_with(".yml");
            if yaml
                && f.filename != super::PIPELINE_FILE
                && pointer_dirs.contains(dir)
                && !configured.contains(f.filename.as_str())
            {
                report.warnings.push(format!(
                    "{} changed beside a pointer file, but no stage names it: baton does not check it",
                    f.filename
                ));
            }
        }
        if report.rows.is_empty() && !targets.is_empty() {
            report.warnings.push("pointer files changed, but no pointer's version did".to_string());
        }
        Ok(())
    }

    /// The facts about one changed pointer, then the planner's row for it.
    async fn policy_row(
        &self,
        rp: &RepoPipeline,
        default_head: &str,
        pr: &PolicyTarget,
        stage: &Stage,
        spec: &PointerSpec,
        rollback: bool,
    ) -> Option<Row> {
        let artifact = rp.pipeline.artifacts.get(&spec.artifact)?;
        let read = |at: String| async move {
            match self.github.file(&rp.repo, spec.file.as_str(), &at).await {
                Ok(f) => match pointer::get(&f.text, spec.format, &spec.selector) {
                    Ok(c) => NewPointer::Read(c),
                    Err(e) => NewPointer::Unparseable(e.to_string()),
                },
                Err(GitHubError::NotFound(_)) => NewPointer::Deleted,
                Err(e) => NewPointer::Unreadable(e.to_string()),
            }
        };
        let old = match read(default_head.to_string()).await {
            NewPointer::Read(c) => Some(c),
            _ => None,
        };
        let new = read(pr.head_sha.clone()).await;
        let window = crate::planner::policy::WindowFact::of(stage, (self.clock)());
        let mut facts = PointerFacts { stage, spec, artifact, old, new, rollback, pinned: None, window };
        if let NewPointer::Read(c) = &facts.new {
            if facts.old.as_ref() != Some(c) {
                let c = crate::planner::tracking::normalize(artifact.track.as_ref(), c.clone());
                if let Ok(version) = pinned_version(&c, spec) {
                    let sp = StagePointer { stage, artifact, spec };
                    facts.pinned = Some(self.pinned_facts(rp, default_head, &sp, &version, rollback).await);
                }
            }
        }
        evaluate_pointer(&facts)
    }

    /// Registry, signature, upstream and freeze facts of a pinned version.
    async fn pinned_facts(
        &self,
        rp: &RepoPipeline,
        default_head: &str,
        sp: &StagePointer<'_>,
        version: &Version,
        rollback: bool,
    ) -> PinnedFacts {
        let registry = if crate::planner::tracking::is_tracked(sp.artifact, version) {
            // A tracked channel tag moves on: the pinned digest is read by digest.
            let read = self.registry.annotations_of(&sp.artifact.image, &version.digest).await;
            read.map(|_| version.digest.clone()).map_err(|e| e.to_string())
        } else {
            self.registry.resolve(&sp.artifact.image, &version.tag).await.map(|r| r.digest).map_err(|e| e.to_string())
        };
        let ctx =
            VerifyContext { repo: &rp.repo, commit: default_head, artifact: sp.artifact, digest: &version.digest };
        let signature = match self.verifier.verify(&ctx).await {
            Ok(v) => SignatureFact::Verified(v.by),
            Err(e @ VerifyError::NotSigned(_)) => SignatureFact::NotSigned(e.to_string()),
            Err(e) => SignatureFact::Invalid(e.to_string()),
        };
        let upstream = self.upstream_fact(rp, sp, version, rollback).await;
        let freeze = self.freeze_fact(rp, default_head, sp.stage).await;
        PinnedFacts { registry, signature, upstream, freeze }
    }

    /// Whether `version` is verified in the stage's `from` stage, or (rollback) ran here before.
    async fn upstream_fact(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        version: &Version,
        rollback: bool,
    ) -> UpstreamFact {
        if rollback {
            return match self.commits_running(rp, sp, version, 50).await {
                Ok(shas) => UpstreamFact::RollbackRanBefore(!shas.is_empty()),
                Err(e) => UpstreamFact::Unknown(super::user_facing("cannot read a stage's history", &e)),
            };
        }
        let Some(from) = sp.stage.from.as_ref().and_then(|f| rp.pipeline.stage(f)) else {
            return UpstreamFact::FirstStage;
        };
        let Some(upstream) = sp.in_stage(from) else {
            return UpstreamFact::NotVerified { from: from.name.clone() };
        };
        match self.verified_in(rp, &upstream, version).await {
            Ok(Some(sha)) => UpstreamFact::VerifiedIn { from: from.name.clone(), sha },
            Ok(None) => UpstreamFact::NotVerified { from: from.name.clone() },
            Err(e) => UpstreamFact::Unknown(super::user_facing("cannot tell where a version is verified", &e)),
        }
    }

    async fn freeze_fact(&self, rp: &RepoPipeline, default_head: &str, stage: &Stage) -> FreezeFact {
        let Some(freeze) = &stage.freeze else { return FreezeFact::NotFrozen };
        match self.github.file(&rp.repo, freeze.as_str(), default_head).await {
            Err(GitHubError::NotFound(_)) => FreezeFact::NotFrozen,
            Ok(f) => FreezeFact::Frozen {
                file: freeze.to_string(),
                first_line: f.text.lines().next().unwrap_or("").to_string(),
            },
            Err(e) => FreezeFact::Unreadable { file: freeze.to_string(), reason: e.to_string() },
        }
    }
}

/// The pull request a merge group was built for: `refs/heads/gh-readonly-queue/main/pr-104-<sha>`.
fn merge_group_pull(head_ref: &str) -> Option<u64> {
    let last = head_ref.rsplit('/').next()?;
    let rest = last.strip_prefix("pr-")?;
    rest.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod merge_group_tests {
    #[test]
    fn merge_group_branches_name_their_pull_request() {
        let rows = [
            ("refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64", Some(104)),
            ("refs/heads/gh-readonly-queue/release/1.x/pr-7-929f8209d40f77f4abc622a499c93a83babdbe64", Some(7)),
            ("refs/heads/gh-readonly-queue/main/pr-x-929f", None),
            ("refs/heads/main", None),
        ];
        for (r, want) in rows {
            assert_eq!(super::merge_group_pull(r), want, "{r}");
        }
    }
}
