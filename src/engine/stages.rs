//! Stage-to-stage promotion (DESIGN §2, §5): bump commits, verification gates, the
//! `baton/verified/<stage>` record, promotion downstream, and auto-merge of baton's own PRs.
//!
//! Facts are always re-read: an event only says *where* to look. The record of "verified in a
//! stage" is the `baton/verified/<stage>` check run on the stage's bump commit, and the bump
//! commit is found from the pointer file's history on the default branch — so a human's merged
//! pointer change counts as a bump too, and nothing on another branch can pose as one.

use chrono::{DateTime, Utc};

use super::{Engine, Loaded, Outcome};
use crate::github::{CheckAction, CheckRunInfo, CheckRunWrite, CheckStatus, Conclusion, GitHubError, PullRequest};
use crate::pipeline::{Artifact, PointerSpec, Promotion, Stage, WriteMode};
use crate::planner::Candidate;
use crate::pointer;
use crate::types::{Digest, RepoName, Tag, Version};
use crate::verify::VerifyContext;

/// A default-branch commit that moved a stage's pointer to a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    pub sha: String,
    pub version: Version,
    pub date: Option<DateTime<Utc>>,
}

/// Where a stage's verification stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Verified { summary: String },
    Failed { summary: String },
    Pending { summary: String },
}

fn conclusion_str(c: Option<Conclusion>) -> Option<&'static str> {
    c.map(|c| match c {
        Conclusion::Success => "success",
        Conclusion::Failure => "failure",
        Conclusion::Neutral => "neutral",
        Conclusion::Cancelled => "cancelled",
        Conclusion::Skipped => "skipped",
        Conclusion::TimedOut => "timed_out",
        Conclusion::ActionRequired => "action_required",
        Conclusion::Stale => "stale",
    })
}

pub fn verified_check_name(stage: &str) -> String {
    format!("baton/verified/{stage}")
}

/// GitHub limits an action identifier to 20 characters.
pub fn promote_action_id(stage: &str) -> String {
    format!("promote:{stage}").chars().take(20).collect()
}

/// Evaluates a stage's verification checks on a bump commit (pure). `checks`: check runs on the
/// commit (latest per name wins); `statuses`: latest state per status context.
pub fn evaluate_gate(
    stage: &Stage,
    bump: &Bump,
    checks: &[CheckRunInfo],
    statuses: &[crate::github::StatusInfo],
    now: DateTime<Utc>,
) -> Gate {
    let mut lines = Vec::new();
    let mut failed = false;
    let mut pending = false;
    for name in &stage.verification.checks {
        let run = checks.iter().filter(|c| &c.name == name).max_by_key(|c| c.id);
        let status = statuses.iter().find(|s| &s.context == name);
        let (ok, state) = match (run, status) {
            (Some(r), _) if r.status != "completed" => (None, format!("check run {}", r.status)),
            (Some(r), _) => match r.conclusion.as_deref() {
                Some("success") | Some("neutral") | Some("skipped") => (Some(true), "check run succeeded".to_string()),
                other => (Some(false), format!("check run {}", other.unwrap_or("without conclusion"))),
            },
            (None, Some(s)) => match s.state.as_str() {
                "success" => (Some(true), "status success".to_string()),
                "pending" => (None, "status pending".to_string()),
                other => (Some(false), format!("status {other}")),
            },
            (None, None) => (None, "not reported yet".to_string()),
        };
        let mark = match ok {
            Some(true) => "✅",
            Some(false) => {
                failed = true;
                "❌"
            }
            None => {
                pending = true;
                "⏳"
            }
        };
        lines.push(format!("| `{}` | {mark} {state} |", name.replace('|', "\\|")));
    }
    let mut summary = format!(
        "Verification of `{}` in **{}** on this commit.\n\n| check | result |\n|---|---|\n{}\n",
        bump.version.tag,
        stage.name,
        if lines.is_empty() { "| (none configured) | ✅ |".to_string() } else { lines.join("\n") }
    );
    if failed {
        return Gate::Failed { summary };
    }
    if pending {
        return Gate::Pending { summary };
    }
    if let Some(soak) = stage.verification.soak {
        let since = bump.date.unwrap_or(now);
        let until = since + chrono::Duration::from_std(soak).unwrap_or_default();
        if now < until {
            summary.push_str(&format!("\nSoaking until {} ({}s soak).\n", until.to_rfc3339(), soak.as_secs()));
            return Gate::Pending { summary };
        }
        summary.push_str(&format!("\nSoaked {}s since {}.\n", soak.as_secs(), since.to_rfc3339()));
    }
    Gate::Verified { summary }
}

pub(crate) fn read_version(text: &str, spec: &PointerSpec) -> Option<Version> {
    let c = pointer::get(text, spec.format, &spec.selector).ok()?;
    Some(Version { tag: c.tag?.parse::<Tag>().ok()?, digest: c.digest?.parse::<Digest>().ok()? })
}

impl Engine {
    /// The commit that moved `stage`'s first pointer for `artifact` to the version it runs now.
    pub async fn current_bump(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        spec: &PointerSpec,
    ) -> anyhow::Result<Option<Bump>> {
        let history = self.github.path_history(repo, &loaded.default_branch, spec.file.as_str(), 10).await?;
        let Some(newest) = history.first() else { return Ok(None) };
        let Some(version) = read_version(&self.github.file(repo, spec.file.as_str(), &newest.sha).await?.text, spec)
        else {
            return Ok(None);
        };
        // Walk back past commits that touched the file without changing the version.
        let mut bump = newest.clone();
        for older in history.iter().skip(1) {
            let v = match self.github.file(repo, spec.file.as_str(), &older.sha).await {
                Ok(f) => read_version(&f.text, spec),
                Err(GitHubError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            if v.as_ref() != Some(&version) {
                break;
            }
            bump = older.clone();
        }
        let date =
            bump.date.as_deref().and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map(|d| d.with_timezone(&Utc));
        Ok(Some(Bump { sha: bump.sha, version, date }))
    }

    /// The bump commit on which `stage` verified `version` (its `baton/verified/<stage>` check
    /// run succeeded there), searching the stage's pointer history on the default branch.
    pub async fn verified_in(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        version: &Version,
    ) -> anyhow::Result<Option<String>> {
        let Some(spec) = stage.pointers.iter().find(|p| p.artifact == artifact.name) else { return Ok(None) };
        for sha in self.commits_running(repo, loaded, spec, version, 30).await? {
            let runs = self.github.check_runs(repo, &sha, Some(&verified_check_name(stage.name.as_str()))).await?;
            if runs.iter().any(|r| r.status == "completed" && r.conclusion.as_deref() == Some("success")) {
                return Ok(Some(sha));
            }
        }
        Ok(None)
    }

    /// The pointer's history on the default branch, newest first (the last `limit` commits
    /// touching its file): each commit with the version the pointer names there, if any.
    pub(crate) async fn pointer_history(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        spec: &PointerSpec,
        limit: u32,
    ) -> anyhow::Result<Vec<(String, Option<Version>)>> {
        let history = self.github.path_history(repo, &loaded.default_branch, spec.file.as_str(), limit).await?;
        let mut out = Vec::with_capacity(history.len());
        for c in history {
            let version = match self.github.file(repo, spec.file.as_str(), &c.sha).await {
                Ok(f) => read_version(&f.text, spec),
                Err(GitHubError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            out.push((c.sha, version));
        }
        Ok(out)
    }

    /// Default-branch commits (newest first, among the last `limit` touching the pointer file)
    /// at which the pointer names `version`.
    pub async fn commits_running(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        spec: &PointerSpec,
        version: &Version,
        limit: u32,
    ) -> anyhow::Result<Vec<String>> {
        let history = self.pointer_history(repo, loaded, spec, limit).await?;
        Ok(history.into_iter().filter(|(_, v)| v.as_ref() == Some(version)).map(|(sha, _)| sha).collect())
    }

    /// Versions rolled back in `stage` or upstream of it (`Baton-Rejected:` trailers on the
    /// default branch): auto-promotion never brings them back.
    pub async fn rejected_versions(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
    ) -> anyhow::Result<Vec<Version>> {
        let mut out = Vec::new();
        let mut current = Some(stage);
        let mut seen = 0;
        while let Some(s) = current {
            seen += 1;
            if seen > loaded.pipeline.stages.len() {
                break; // the validator forbids cycles; this is only a guard
            }
            if let Some(spec) = s.pointers.iter().find(|p| p.artifact == artifact.name) {
                for c in self.github.path_history(repo, &loaded.default_branch, spec.file.as_str(), 50).await? {
                    for line in c.message.lines() {
                        let Some(v) = line.strip_prefix("Baton-Rejected:") else { continue };
                        if let Some((t, d)) = v.trim().split_once('@') {
                            if let (Ok(tag), Ok(digest)) = (t.parse::<Tag>(), d.parse::<Digest>()) {
                                out.push(Version { tag, digest });
                            }
                        }
                    }
                }
            }
            current = s.from.as_ref().and_then(|f| loaded.pipeline.stage(f));
        }
        Ok(out)
    }

    /// Re-evaluates every stage whose bump commit is `sha` (or every stage, for `None`):
    /// records verification, comments on failure, promotes downstream.
    pub async fn evaluate_stages(&self, repo: &RepoName, sha: Option<&str>) -> anyhow::Result<()> {
        let loaded = self.load(repo).await?;
        for stage in &loaded.pipeline.stages {
            for artifact in loaded.pipeline.artifacts.values() {
                let Some(spec) = stage.pointers.iter().find(|p| p.artifact == artifact.name) else { continue };
                let Some(bump) = self.current_bump(repo, &loaded, spec).await? else { continue };
                if sha.is_some_and(|s| s != bump.sha) {
                    continue;
                }
                if let Err(e) = self.evaluate_bump(repo, &loaded, stage, artifact, &bump).await {
                    tracing::error!(stage = %stage.name, error = format!("{e:#}"), "stage evaluation failed");
                }
            }
        }
        Ok(())
    }

    async fn evaluate_bump(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        bump: &Bump,
    ) -> anyhow::Result<()> {
        let name = verified_check_name(stage.name.as_str());
        let all = self.github.check_runs(repo, &bump.sha, None).await?;
        let mine: Vec<&CheckRunInfo> = all.iter().filter(|c| c.name == name).collect();
        let done = mine.iter().find(|c| c.status == "completed");
        let verified = match done.and_then(|c| c.conclusion.as_deref()) {
            Some("success") => true,
            // Pending, or failed before: evaluate (again). A failed check that is re-run and
            // goes green turns the record green; a failure stays one record and one comment.
            _ => {
                let statuses = self.github.statuses(repo, &bump.sha).await?;
                let gate = evaluate_gate(stage, bump, &all, &statuses, (self.clock)());
                let downstream_manual: Vec<&Stage> =
                    loaded.pipeline.downstream(&stage.name).filter(|d| d.promotion == Promotion::Manual).collect();
                let (status, conclusion, title, summary) = match &gate {
                    Gate::Verified { summary } => (
                        CheckStatus::Completed,
                        Some(Conclusion::Success),
                        format!("{} {} is verified in {}", artifact.name, bump.version.tag, stage.name),
                        summary.clone(),
                    ),
                    Gate::Failed { summary } => (
                        CheckStatus::Completed,
                        Some(Conclusion::Failure),
                        format!("{} {} failed verification in {}", artifact.name, bump.version.tag, stage.name),
                        summary.clone(),
                    ),
                    Gate::Pending { summary } => (
                        CheckStatus::InProgress,
                        None,
                        format!("Waiting for {}'s verification of {}", stage.name, bump.version.tag),
                        summary.clone(),
                    ),
                };
                let check = CheckRunWrite {
                    name: name.clone(),
                    head_sha: bump.sha.clone(),
                    status,
                    conclusion,
                    title,
                    summary,
                    text: None,
                    actions: if matches!(gate, Gate::Verified { .. }) {
                        downstream_manual
                            .iter()
                            .map(|d| CheckAction {
                                label: format!("Promote to {}", d.name).chars().take(20).collect(),
                                description: format!("Open the PR moving {} to {}", d.name, bump.version.tag)
                                    .chars()
                                    .take(40)
                                    .collect(),
                                identifier: promote_action_id(d.name.as_str()),
                            })
                            .collect()
                    } else {
                        vec![]
                    },
                };
                match mine.first() {
                    Some(existing) => {
                        let same_state = existing.status == "completed"
                            && existing.conclusion.as_deref() == conclusion_str(check.conclusion);
                        let unchanged = existing.summary.as_deref() == Some(check.summary.as_str())
                            && (existing.status != "completed" && check.status != CheckStatus::Completed || same_state);
                        if !unchanged {
                            self.github.update_check_run(repo, existing.id, &check).await?;
                        }
                    }
                    None => {
                        self.github.create_check_run(repo, &check).await?;
                    }
                }
                if let Gate::Failed { summary } = &gate {
                    self.comment_on_bump(repo, &bump.sha, stage, artifact, bump, summary).await?;
                }
                matches!(gate, Gate::Verified { .. })
            }
        };
        if verified {
            self.promote_downstream(repo, loaded, stage, artifact, bump).await;
        }
        Ok(())
    }

    async fn comment_on_bump(
        &self,
        repo: &RepoName,
        sha: &str,
        stage: &Stage,
        artifact: &Artifact,
        bump: &Bump,
        summary: &str,
    ) -> anyhow::Result<()> {
        let pulls = self.github.commit_pulls(repo, sha).await?;
        let Some(pr) = pulls.first() else { return Ok(()) };
        let key = format!("<!-- baton-verification-failed:{}:{} -->", stage.name, bump.sha);
        if self.github.comments(repo, pr.number).await?.iter().any(|c| c.body.contains(&key)) {
            return Ok(());
        }
        let body =
            crate::render::verification_failed_comment(&stage.name, &artifact.name, &bump.version, summary, &key);
        self.github.create_comment(repo, pr.number, &body).await?;
        Ok(())
    }

    /// Moves every `auto` stage downstream of `stage` to the version `stage` verified.
    async fn promote_downstream(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        bump: &Bump,
    ) {
        for next in loaded.pipeline.downstream(&stage.name) {
            if next.promotion != Promotion::Auto || !next.pointers.iter().any(|p| p.artifact == artifact.name) {
                continue;
            }
            let outcome =
                self.promote_verified(repo, loaded, next, artifact, &bump.version, &stage.name, vec![], false).await;
            super::report_outcome(next, &bump.version, &outcome);
        }
    }

    /// Promotes a version verified in `from` to `stage`, re-verifying its signature first.
    #[allow(clippy::too_many_arguments)]
    pub async fn promote_verified(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
        version: &Version,
        from: &crate::types::StageName,
        approved_by: Vec<String>,
        explicit: bool,
    ) -> anyhow::Result<Outcome> {
        let mut candidate = self
            .signed_candidate(loaded, artifact, version)
            .await
            .map_err(|e| anyhow::anyhow!("signature of {version}: {e}"))?;
        candidate.verified_in = Some(from.clone());
        candidate.approved_by = approved_by;
        candidate.explicit = explicit;
        self.promote(repo, loaded, stage, artifact, &candidate).await
    }

    /// A candidate for `version` whose signature baton has just verified (keys read from the
    /// default branch), with the artifact's annotations; every promotion starts here, so none
    /// skips the signature check. The caller sets where it was verified and who approved.
    pub(crate) async fn signed_candidate(
        &self,
        loaded: &Loaded,
        artifact: &Artifact,
        version: &Version,
    ) -> Result<Candidate, crate::verify::VerifyError> {
        let ctx =
            VerifyContext { repo: &loaded.repo, commit: &loaded.default_branch, artifact, digest: &version.digest };
        let verified = self.verifier.verify(&ctx).await?;
        let annotations =
            self.registry.resolve(&artifact.image, &version.tag).await.map(|r| r.annotations).unwrap_or_default();
        Ok(Candidate {
            version: version.clone(),
            annotations,
            verified_by: Some(verified.by),
            verified_in: None,
            approved_by: vec![],
            rollback: false,
            explicit: false,
        })
    }

    /// Merges baton's own PR whose head is `sha` when `baton/policy` and every other check on it
    /// are green, with the expected head SHA (a moved head means re-check, not merge).
    /// Returns whether a PR was merged.
    pub async fn try_auto_merge(&self, repo: &RepoName, sha: &str) -> anyhow::Result<bool> {
        let loaded = self.load(repo).await?;
        let mut merged_any = false;
        let pulls = self.github.commit_pulls(repo, sha).await?;
        // Only baton's own PRs merge themselves: a branch named like baton's, or a copied marker,
        // is not enough.
        let me = self.github.app_slug().await.map(|slug| format!("{slug}[bot]"));
        let own = |p: &&crate::github::PullRequest| me.as_deref().is_none_or(|me| p.author == me);
        for pr in pulls
            .iter()
            .filter(|p| p.state == "open" && p.head_sha == sha && p.head_ref.starts_with("baton/"))
            .filter(own)
        {
            let Some(marker) = crate::render::parse_marker(&pr.body) else { continue };
            let Some(stage) = loaded.pipeline.stage(&marker.stage) else { continue };
            if stage.write != WriteMode::PullRequest {
                continue;
            }
            let approved = !marker.approved_by.is_empty();
            if stage.promotion != Promotion::Auto && !approved && !marker.rollback {
                continue; // a manual stage merges only with a recorded approval
            }
            if self.mergeable(repo, pr).await? {
                let message = crate::render::merge_message(pr.number, &marker);
                match self.github.merge_pull(repo, pr.number, sha, &message).await {
                    Ok(merged) => {
                        merged_any = true;
                        crate::metrics::promotion(stage.name.as_str(), "merged");
                        tracing::info!(pr = pr.number, merge_commit = %merged, "merged");
                    }
                    Err(GitHubError::Conflict(e)) => {
                        tracing::info!(pr = pr.number, error = %e, "cannot merge as is: rebuilding the PR on the default branch");
                        self.rebuild_pr(repo, &loaded, stage, &marker).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(merged_any)
    }

    async fn mergeable(&self, repo: &RepoName, pr: &PullRequest) -> anyhow::Result<bool> {
        let checks = self.github.check_runs(repo, &pr.head_sha, None).await?;
        let policy_ok = checks
            .iter()
            .filter(|c| c.name == crate::policy::CHECK_NAME)
            .max_by_key(|c| c.id)
            .is_some_and(|c| c.status == "completed" && c.conclusion.as_deref() == Some("success"));
        if !policy_ok {
            return Ok(false);
        }
        let mut latest: std::collections::BTreeMap<&str, &CheckRunInfo> = Default::default();
        for c in &checks {
            if latest.get(c.name.as_str()).is_none_or(|l| l.id < c.id) {
                latest.insert(&c.name, c);
            }
        }
        let checks_ok = latest.values().all(|c| {
            c.status == "completed" && matches!(c.conclusion.as_deref(), Some("success" | "neutral" | "skipped"))
        });
        let statuses_ok = self.github.statuses(repo, &pr.head_sha).await?.iter().all(|s| s.state == "success");
        Ok(checks_ok && statuses_ok)
    }

    /// Rebuilds a PR's commit on the current default branch (same version), after the base moved.
    async fn rebuild_pr(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        marker: &crate::render::Marker,
    ) -> anyhow::Result<()> {
        let Some(artifact) = loaded.pipeline.artifacts.get(&marker.artifact) else { return Ok(()) };
        // Rebuilt or not, nothing is written for a version whose signature does not verify now.
        let mut candidate = self
            .signed_candidate(loaded, artifact, &marker.version())
            .await
            .map_err(|e| anyhow::anyhow!("signature of {}: {e}", marker.version()))?;
        candidate.verified_in = marker.verified_in.clone();
        candidate.approved_by = marker.approved_by.clone();
        candidate.rollback = marker.rollback;
        candidate.explicit = true;
        let outcome = self.promote_rebuilding(repo, loaded, stage, artifact, &candidate).await;
        super::report_outcome(stage, &candidate.version, &outcome);
        Ok(())
    }
}
