//! Gathering the facts for `baton/policy` and posting it (DESIGN §6). The verdict logic and the
//! rendering live in `crate::policy`; here is only I/O.

use std::collections::BTreeSet;

use anyhow::Context as _;

use super::Engine;
use crate::github::{CheckRunWrite, CheckStatus, GitHubError};
use crate::pipeline::{PointerSpec, Stage};
use crate::pointer::{self, Current};
use crate::policy::{Report, Row, Rule, Verdict, CHECK_NAME};
use crate::types::{Digest, RepoName, Tag};
use crate::verify::{VerifyContext, VerifyError};

/// The pull request a policy check is about.
#[derive(Debug, Clone)]
pub struct PolicyTarget {
    pub number: u64,
    pub head_sha: String,
    pub labels: Vec<String>,
}

impl From<&crate::github::PullRequest> for PolicyTarget {
    fn from(pr: &crate::github::PullRequest) -> PolicyTarget {
        PolicyTarget { number: pr.number, head_sha: pr.head_sha.clone(), labels: pr.labels.clone() }
    }
}

impl From<&crate::event::PullRequestEvent> for PolicyTarget {
    fn from(pr: &crate::event::PullRequestEvent) -> PolicyTarget {
        PolicyTarget { number: pr.number, head_sha: pr.head_sha.clone(), labels: pr.labels.clone() }
    }
}

pub const ROLLBACK_LABEL: &str = "baton:rollback";

impl Engine {
    /// Runs `baton/policy` on a pull request's head. No pointer changed → no check posted.
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
            match self.github.file(repo, super::PIPELINE_FILE, &pr.head_sha).await {
                Ok(f) => match crate::pipeline::parse(&f.text) {
                    Ok(p) => report.warnings.push(format!(
                        "{} in this pull request is valid ({} artifacts, {} stages); it takes effect once merged",
                        super::PIPELINE_FILE,
                        p.artifacts.len(),
                        p.stages.len()
                    )),
                    Err(e) => {
                        report.fatal = Some(format!("{} in this pull request is invalid:\n{e}", super::PIPELINE_FILE))
                    }
                },
                Err(GitHubError::NotFound(_)) => report.warnings.push(format!(
                    "this pull request deletes {}: once merged, baton stops managing this repository",
                    super::PIPELINE_FILE
                )),
                Err(e) => return Err(e.into()),
            }
        }
        let loaded = match self.load(repo).await {
            Ok(l) => Some(l),
            Err(e) if touches_config => {
                report.warnings.push(format!("the default branch's pipeline cannot be used: {e:#}"));
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
            tracing::debug!(pr = pr.number, "no pointer file changed: no baton/policy check");
            return Ok(());
        }

        // Reuse the check run of this head if one exists (re-runs, redeliveries).
        let existing = self.github.check_runs(repo, &pr.head_sha, Some(CHECK_NAME)).await?;
        let mut check = CheckRunWrite {
            name: CHECK_NAME.to_string(),
            head_sha: pr.head_sha.clone(),
            status: CheckStatus::InProgress,
            conclusion: None,
            title: "Checking pointer changes".to_string(),
            summary: format!("Checking {} pointer change(s)…", targets.len()),
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

        if let (Some(loaded), None) = (&loaded, &report.fatal) {
            self.policy_rows(repo, loaded, pr, &targets, &changed, &mut report).await?;
        }
        check.status = CheckStatus::Completed;
        check.conclusion = Some(report.conclusion());
        check.title = report.title();
        check.summary = report.summary();
        self.github.update_check_run(repo, id, &check).await?;
        crate::metrics::promotion(
            "policy",
            if report.conclusion() == crate::github::Conclusion::Success { "policy_passed" } else { "policy_failed" },
        );
        Ok(())
    }

    async fn policy_rows(
        &self,
        repo: &RepoName,
        loaded: &super::Loaded,
        pr: &PolicyTarget,
        targets: &[(&Stage, &PointerSpec)],
        changed: &[crate::github::ChangedFile],
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let default_head = self.github.branch_head(repo, &loaded.default_branch).await?;
        let rollback = pr.labels.iter().any(|l| l == ROLLBACK_LABEL);
        for (stage, spec) in targets {
            if let Some(row) = self.policy_row(repo, loaded, &default_head, pr, stage, spec, rollback).await {
                report.rows.push(row);
            }
        }
        // Changed YAML files beside configured pointers that no stage names.
        let pointer_dirs: BTreeSet<&str> =
            targets.iter().map(|(_, p)| p.file.as_str().rsplit_once('/').map(|(d, _)| d).unwrap_or("")).collect();
        let configured: BTreeSet<&str> =
            loaded.pipeline.stages.iter().flat_map(|s| s.pointers.iter().map(|p| p.file.as_str())).collect();
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

    #[allow(clippy::too_many_arguments)]
    async fn policy_row(
        &self,
        repo: &RepoName,
        loaded: &super::Loaded,
        default_head: &str,
        pr: &PolicyTarget,
        stage: &Stage,
        spec: &PointerSpec,
        rollback: bool,
    ) -> Option<Row> {
        let artifact = loaded.pipeline.artifacts.get(&spec.artifact)?;
        let old = match self.github.file(repo, spec.file.as_str(), default_head).await {
            Ok(f) => pointer::get(&f.text, spec.format, &spec.selector).ok(),
            Err(_) => None,
        };
        let mut row = Row {
            file: spec.file.to_string(),
            stage: stage.name.to_string(),
            artifact: artifact.name.to_string(),
            old: describe(old.as_ref()),
            new: "?".to_string(),
            digest: None,
            verdicts: vec![],
        };
        let new = match self.github.file(repo, spec.file.as_str(), &pr.head_sha).await {
            Ok(f) => match pointer::get(&f.text, spec.format, &spec.selector) {
                Ok(c) => c,
                Err(e) => {
                    row.verdicts.push((
                        Rule::Parses,
                        Verdict::fail(
                            e.to_string(),
                            format!("Fix the {} pointer so that `baton pointer get` reads it.", spec.format),
                        ),
                    ));
                    return Some(row);
                }
            },
            Err(GitHubError::NotFound(_)) => {
                row.verdicts.push((
                    Rule::Parses,
                    Verdict::fail(
                        "the pointer file is deleted",
                        "Restore the file, or remove the pointer from .baton.yaml first.",
                    ),
                ));
                return Some(row);
            }
            Err(e) => {
                row.verdicts
                    .push((Rule::Parses, Verdict::fail(format!("cannot read the file: {e}"), "Re-run the check.")));
                return Some(row);
            }
        };
        if old.as_ref() == Some(&new) {
            return None;
        }
        row.new = describe(Some(&new));
        row.digest = new.digest.clone();
        row.verdicts.push((Rule::Parses, Verdict::pass("")));

        let tag = new.tag.as_deref().map(str::parse::<Tag>);
        let digest = new.digest.as_deref().map(str::parse::<Digest>);
        let (tag, digest) = match (tag, digest) {
            (Some(Ok(t)), Some(Ok(d))) => (t, d),
            (_, None) => {
                row.verdicts.push((
                    Rule::DigestPinned,
                    Verdict::fail(
                        "no digest: a tag alone can be re-pushed",
                        format!("Pin it: `baton pointer set {} --format {} --tag TAG --digest sha256:…` with the digest baton shows for the tag.", spec.file, spec.format),
                    ),
                ));
                return Some(row);
            }
            (Some(Err(e)), _) | (_, Some(Err(e))) => {
                row.verdicts
                    .push((Rule::DigestPinned, Verdict::fail(e.to_string(), "Use a valid tag and a sha256 digest.")));
                return Some(row);
            }
            (None, Some(Ok(_))) => {
                row.verdicts.push((
                    Rule::DigestPinned,
                    Verdict::fail(
                        "a digest without a tag",
                        "Add the tag the digest was released as, so that people can read the version.",
                    ),
                ));
                return Some(row);
            }
        };
        row.verdicts.push((Rule::DigestPinned, Verdict::pass("")));

        match self.registry.resolve(&artifact.image, &tag).await {
            Ok(r) if r.digest == digest => {
                row.verdicts.push((Rule::Registry, Verdict::pass(format!("{tag} resolves to it"))))
            }
            Ok(r) => row.verdicts.push((
                Rule::Registry,
                Verdict::fail(
                    format!("{tag} now resolves to {} in the registry (the tag was re-pushed)", r.digest.short()),
                    "Do not promote a re-pushed tag: release a new version and promote that.",
                ),
            )),
            Err(e) => row.verdicts.push((
                Rule::Registry,
                Verdict::fail(
                    e.to_string(),
                    "Check the tag exists and baton can reach the registry, then re-run the check.",
                ),
            )),
        }

        let ctx = VerifyContext { repo, commit: default_head, artifact, digest: &digest };
        match self.verifier.verify(&ctx).await {
            Ok(v) => row.verdicts.push((Rule::Signature, Verdict::pass(v.by))),
            Err(e @ VerifyError::NotSigned(_)) => row.verdicts.push((Rule::Signature, Verdict::fail(e.to_string(), "Sign the artifact (cosign sign) with a key or identity the artifact's `verify` list accepts, then re-run the check."))),
            Err(e) => row.verdicts.push((Rule::Signature, Verdict::fail(e.to_string(), "Only artifacts signed by a configured key or identity can be promoted."))),
        }

        let version = crate::types::Version { tag: tag.clone(), digest: digest.clone() };
        row.verdicts
            .push((Rule::FromStage, self.upstream_verdict(repo, loaded, stage, artifact, &version, rollback).await));
        row.verdicts.push((Rule::Freeze, self.freeze_verdict(repo, default_head, stage, rollback).await));
        Some(row)
    }

    /// The digest must be verified in the stage's `from` stage; a rollback must go to a version
    /// this stage ran before. First stages take new versions from the registry.
    async fn upstream_verdict(
        &self,
        repo: &RepoName,
        loaded: &super::Loaded,
        stage: &Stage,
        artifact: &crate::pipeline::Artifact,
        version: &crate::types::Version,
        rollback: bool,
    ) -> Verdict {
        if rollback {
            let Some(spec) = stage.pointers.iter().find(|p| p.artifact == artifact.name) else {
                return Verdict::Skip("no pointer".into());
            };
            return match self.commits_running(repo, loaded, spec, version, 50).await {
                Ok(shas) if !shas.is_empty() => {
                    Verdict::pass(format!("rollback to a version {} ran before", stage.name))
                }
                Ok(_) => Verdict::fail(
                    format!("{} never ran {} (in its recent history)", stage.name, version.tag),
                    "A rollback can only go back to a version the stage ran before; promote other versions normally.",
                ),
                Err(e) => Verdict::fail(format!("cannot read the stage's history: {e:#}"), "Re-run the check."),
            };
        }
        let Some(from) = stage.from.as_ref().and_then(|f| loaded.pipeline.stage(f)) else {
            return Verdict::Skip("first stage".into());
        };
        match self.verified_in(repo, loaded, from, artifact, version).await {
            Ok(Some(sha)) => Verdict::pass(format!("verified in {} at {}", from.name, &sha[..sha.len().min(7)])),
            Ok(None) => Verdict::fail(
                format!("{}@{} is not verified in {}", version.tag, version.digest.short(), from.name),
                format!(
                    "Promote only what {} verified: use `/promote {}` to pick the newest verified version.",
                    from.name, stage.name
                ),
            ),
            Err(e) => Verdict::fail(format!("cannot tell where it is verified: {e:#}"), "Re-run the check."),
        }
    }

    async fn freeze_verdict(&self, repo: &RepoName, default_head: &str, stage: &Stage, rollback: bool) -> Verdict {
        let Some(freeze) = &stage.freeze else {
            return Verdict::pass("");
        };
        match self.github.file(repo, freeze.as_str(), default_head).await {
            Err(GitHubError::NotFound(_)) => Verdict::pass(""),
            Ok(_) if rollback => Verdict::Skip(format!("{} is frozen; rollbacks are exempt", stage.name)),
            Ok(f) => Verdict::fail(
                format!("{} is frozen ({}: {})", stage.name, freeze, f.text.lines().next().unwrap_or("").trim()),
                format!("Wait for `/unfreeze {}`, or roll back with `/rollback {}`.", stage.name, stage.name),
            ),
            Err(e) => Verdict::fail(format!("cannot read the freeze file {freeze}: {e}"), "Re-run the check."),
        }
    }
}

fn describe(c: Option<&Current>) -> String {
    match c {
        None => "none".to_string(),
        Some(c) => match (&c.tag, &c.digest) {
            (Some(t), _) => format!("`{t}`"),
            (None, Some(_)) => "digest only".to_string(),
            (None, None) => "empty".to_string(),
        },
    }
}
