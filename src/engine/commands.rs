//! Comment commands (DESIGN §7): `/promote`, `/rollback`, `/freeze`, `/unfreeze`, `/status`,
//! `/help`, and the `Promote to <stage>` button. Authorization is checked live on every command:
//! write permission on the repository, then the stage's `approvers` (users, `@org/team`,
//! `codeowners`). The 👀 reaction is the receipt: GitHub answers "already there" for a command
//! that was handled before, so a redelivered or replayed comment never acts twice.

use anyhow::Context as _;

use super::{Engine, Loaded, Outcome};
use crate::codeowners::{CodeOwners, Owner};
use crate::commands::{self, Command, Parsed, VersionArg};
use crate::event::{CommentAction, CommentEvent};
use crate::github::GitHubError;
use crate::pipeline::{Approver, Artifact, Stage};
use crate::render;
use crate::types::{RepoName, StageName, Version};

/// The outcome of a command, as told to the commenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Done(String),
    Refused(String),
}

fn refused(msg: impl Into<String>) -> Reply {
    Reply::Refused(msg.into())
}

impl Engine {
    pub async fn on_comment(&self, repo: &RepoName, ev: &CommentEvent) -> anyhow::Result<()> {
        if ev.action != CommentAction::Created || ev.author_is_bot {
            return Ok(());
        }
        let loaded = self.load(repo).await;
        let stages: Vec<StageName> = match &loaded {
            Ok(l) => l.pipeline.stages.iter().map(|s| s.name.clone()).collect(),
            Err(_) => vec![],
        };
        let command = match commands::parse(&ev.body, &stages) {
            Parsed::NoCommand => return Ok(()),
            Parsed::Error(e) => {
                if self.github.react(repo, ev.comment_id, "eyes").await? {
                    let body = render::command_error(&ev.author, &e.message, e.usage.as_deref());
                    self.github.create_comment(repo, ev.issue_number, &body).await?;
                    self.github.react(repo, ev.comment_id, "confused").await?;
                }
                return Ok(());
            }
            Parsed::Command(c) => c,
        };
        if !self.github.react(repo, ev.comment_id, "eyes").await? {
            tracing::info!(comment = ev.comment_id, "command already handled (receipt present)");
            return Ok(());
        }
        let reply = match loaded {
            Ok(loaded) => self.run_command(repo, &loaded, &command, &ev.author).await,
            Err(e) => refused(format!("baton cannot read this repository's pipeline: {e:#}")),
        };
        let (body, reaction) = match &reply {
            Reply::Done(text) => (render::command_reply(&ev.author, text), "rocket"),
            Reply::Refused(text) => (render::command_refusal(&ev.author, text), "confused"),
        };
        crate::metrics::promotion("command", if reaction == "rocket" { "done" } else { "refused" });
        self.github.create_comment(repo, ev.issue_number, &body).await?;
        self.github.react(repo, ev.comment_id, reaction).await?;
        Ok(())
    }

    /// The `Promote to <stage>` button on `baton/verified/<from>`: `/promote <stage> <version>`
    /// by the user who clicked, with the version the check run verified.
    pub async fn on_promote_button(
        &self,
        repo: &RepoName,
        head_sha: &str,
        identifier: &str,
        user: &str,
    ) -> anyhow::Result<()> {
        let loaded = self.load(repo).await?;
        let Some(stage) =
            loaded.pipeline.stages.iter().find(|s| super::stages::promote_action_id(s.name.as_str()) == identifier)
        else {
            return Ok(());
        };
        let Some(from) = stage.from.as_ref().and_then(|f| loaded.pipeline.stage(f)) else { return Ok(()) };
        let mut reply = refused(format!("{} has no pointer baton can read at {head_sha}", from.name));
        for artifact in stage.artifacts() {
            let Some(spec) = from.pointers.iter().find(|p| &p.artifact == artifact) else { continue };
            let version = match self.github.file(repo, spec.file.as_str(), head_sha).await {
                Ok(f) => super::stages::read_version(&f.text, spec),
                Err(_) => None,
            };
            if let Some(v) = version {
                let cmd = Command::Promote { stage: stage.name.clone(), version: Some(VersionArg::Pinned(v)) };
                reply = self.run_command(repo, &loaded, &cmd, user).await;
            }
        }
        // Tell the clicker where it went: on the PR that made the verified bump, if any.
        if let Some(pr) = self.github.commit_pulls(repo, head_sha).await?.first() {
            let body = match &reply {
                Reply::Done(t) => render::command_reply(user, t),
                Reply::Refused(t) => render::command_refusal(user, t),
            };
            self.github.create_comment(repo, pr.number, &body).await?;
        }
        Ok(())
    }

    pub async fn run_command(&self, repo: &RepoName, loaded: &Loaded, command: &Command, user: &str) -> Reply {
        let result = match command {
            Command::Help => return Reply::Done(commands::help()),
            Command::Status => match self.authorize(repo, loaded, None, user).await {
                Ok(None) => self.cmd_status(repo, loaded).await,
                Ok(Some(refusal)) => Ok(refused(refusal)),
                Err(e) => Err(e),
            },
            Command::Promote { stage, version } => {
                self.with_stage(repo, loaded, stage, user, |s| {
                    self.cmd_promote(repo, loaded, s, version.as_ref(), user)
                })
                .await
            }
            Command::Rollback { stage, version } => {
                self.with_stage(repo, loaded, stage, user, |s| {
                    self.cmd_rollback(repo, loaded, s, version.as_ref(), user)
                })
                .await
            }
            Command::Freeze { stage, reason } => {
                self.with_stage(repo, loaded, stage, user, |s| {
                    self.cmd_freeze(repo, loaded, s, user, reason.as_deref(), true)
                })
                .await
            }
            Command::Unfreeze { stage } => {
                self.with_stage(repo, loaded, stage, user, |s| self.cmd_freeze(repo, loaded, s, user, None, false))
                    .await
            }
        };
        result.unwrap_or_else(|e| refused(format!("baton could not carry this out: {e:#}")))
    }

    async fn with_stage<'a, F, Fut>(
        &self,
        repo: &RepoName,
        loaded: &'a Loaded,
        name: &StageName,
        user: &str,
        f: F,
    ) -> anyhow::Result<Reply>
    where
        F: FnOnce(&'a Stage) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Reply>>,
    {
        let Some(stage) = loaded.pipeline.stage(name) else {
            return Ok(refused(format!("there is no stage `{name}` in .baton.yaml")));
        };
        match self.authorize(repo, loaded, Some(stage), user).await? {
            Some(refusal) => Ok(refused(refusal)),
            None => f(stage).await,
        }
    }

    /// `None` when `user` may act (on `stage`); otherwise the reason, in plain words.
    async fn authorize(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: Option<&Stage>,
        user: &str,
    ) -> anyhow::Result<Option<String>> {
        let permission = self.github.permission(repo, user).await?;
        if !matches!(permission.as_str(), "admin" | "maintain" | "write") {
            return Ok(Some(format!(
                "only people with write permission on {repo} can steer baton (yours: {permission})"
            )));
        }
        let Some(stage) = stage else { return Ok(None) };
        if stage.approvers.is_empty() {
            return Ok(None);
        }
        let mut names = Vec::new();
        for approver in &stage.approvers {
            match approver {
                Approver::User(u) => {
                    names.push(format!("@{u}"));
                    if u.eq_ignore_ascii_case(user) {
                        return Ok(None);
                    }
                }
                Approver::Team { org, slug } => {
                    names.push(format!("@{org}/{slug}"));
                    if self.github.team_member(org, slug, user).await? {
                        return Ok(None);
                    }
                }
                Approver::Codeowners => {
                    names.push("the CODEOWNERS of its pointer files".to_string());
                    if self.is_codeowner(repo, loaded, stage, user).await? {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(format!("only approvers of {} can do this: {}", stage.name, names.join(", "))))
    }

    async fn is_codeowner(&self, repo: &RepoName, loaded: &Loaded, stage: &Stage, user: &str) -> anyhow::Result<bool> {
        let mut text = None;
        for path in crate::codeowners::LOCATIONS {
            match self.github.file(repo, path, &loaded.default_branch).await {
                Ok(f) => {
                    text = Some(f.text);
                    break;
                }
                Err(GitHubError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let Some(text) = text else { return Ok(false) };
        let owners = CodeOwners::parse(&text);
        for pointer in &stage.pointers {
            for owner in owners.owners(pointer.file.as_str()) {
                let ok = match owner {
                    Owner::User(u) => u.eq_ignore_ascii_case(user),
                    Owner::Team { org, slug } => self.github.team_member(&org, &slug, user).await?,
                    Owner::Email(_) => false,
                };
                if ok {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn single_artifact<'a>(&self, loaded: &'a Loaded, stage: &Stage) -> Result<&'a Artifact, String> {
        let artifacts = stage.artifacts();
        match artifacts.as_slice() {
            [one] => loaded.pipeline.artifacts.get(*one).ok_or_else(|| format!("unknown artifact {one}")),
            [] => Err(format!("{} has no pointers", stage.name)),
            many => Err(format!(
                "{} runs several artifacts ({}); baton's commands act on stages with one artifact",
                stage.name,
                many.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Turns a version argument into a tag with its digest, resolved from the registry.
    async fn resolve_arg(&self, artifact: &Artifact, arg: &VersionArg, history: &[Version]) -> Result<Version, String> {
        match arg {
            VersionArg::Pinned(v) => Ok(v.clone()),
            VersionArg::Tag(tag) => self
                .registry
                .resolve(&artifact.image, tag)
                .await
                .map(|r| Version { tag: tag.clone(), digest: r.digest })
                .map_err(|e| e.to_string()),
            VersionArg::Digest(d) => history
                .iter()
                .find(|v| &v.digest == d)
                .cloned()
                .ok_or_else(|| format!("baton does not know which tag {d} was released as: give it as TAG@{d}")),
        }
    }

    /// Versions a stage's pointer named on the default branch, newest first, without repeats.
    async fn versions_in_history(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        artifact: &Artifact,
    ) -> anyhow::Result<Vec<Version>> {
        let Some(spec) = stage.pointers.iter().find(|p| p.artifact == artifact.name) else { return Ok(vec![]) };
        let mut out: Vec<Version> = Vec::new();
        for (_, v) in self.pointer_history(repo, loaded, spec, 30).await? {
            if let Some(v) = v.filter(|v| !out.contains(v)) {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn cmd_promote(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        arg: Option<&VersionArg>,
        user: &str,
    ) -> anyhow::Result<Reply> {
        let artifact = match self.single_artifact(loaded, stage) {
            Ok(a) => a,
            Err(e) => return Ok(refused(e)),
        };
        let approved_by = vec![user.to_string()];
        let Some(from) = stage.from.as_ref().and_then(|f| loaded.pipeline.stage(f)) else {
            // A first stage: the version comes from the registry.
            let version = match arg {
                Some(a) => match self.resolve_arg(artifact, a, &[]).await {
                    Ok(v) => v,
                    Err(e) => return Ok(refused(e)),
                },
                None => {
                    let tags = self.registry.list_tags(&artifact.image).await?;
                    let Some(tag) = tags
                        .into_iter()
                        .filter(|t| artifact.tags.is_match(t.as_str()) && t.semver().is_some())
                        .max_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal))
                    else {
                        return Ok(refused(format!("{} has no release tag matching its pattern", artifact.image)));
                    };
                    let digest = self.registry.resolve(&artifact.image, &tag).await?.digest;
                    Version { tag, digest }
                }
            };
            let mut candidate = match self.signed_candidate(loaded, artifact, &version).await {
                Ok(c) => c,
                Err(e) => return Ok(refused(format!("{version} is not promoted: {e}"))),
            };
            candidate.approved_by = approved_by;
            candidate.explicit = arg.is_some();
            return Ok(outcome_reply(stage, &version, self.promote(repo, loaded, stage, artifact, &candidate).await));
        };

        let history = self.versions_in_history(repo, loaded, from, artifact).await?;
        let version = match arg {
            Some(a) => match self.resolve_arg(artifact, a, &history).await {
                Ok(v) => v,
                Err(e) => return Ok(refused(e)),
            },
            None => {
                // The newest version verified upstream that was not rolled back here.
                let rejected = self.rejected_versions(repo, loaded, stage, artifact).await?;
                let mut sorted: Vec<Version> = history.iter().filter(|v| !rejected.contains(v)).cloned().collect();
                sorted.sort_by(|a, b| b.tag.compare(&a.tag).unwrap_or(std::cmp::Ordering::Equal));
                let mut found = None;
                for v in sorted {
                    if self.verified_in(repo, loaded, from, artifact, &v).await?.is_some() {
                        found = Some(v);
                        break;
                    }
                }
                match found {
                    Some(v) => v,
                    None => {
                        return Ok(refused(format!(
                            "{} has not verified any version of {} yet",
                            from.name, artifact.name
                        )))
                    }
                }
            }
        };
        if self.verified_in(repo, loaded, from, artifact, &version).await?.is_none() {
            let mut elsewhere = Vec::new();
            for s in &loaded.pipeline.stages {
                if self.verified_in(repo, loaded, s, artifact, &version).await?.is_some() {
                    elsewhere.push(format!("`{}`", s.name));
                }
            }
            let where_ = if elsewhere.is_empty() {
                "it is not verified in any stage".to_string()
            } else {
                format!("it is verified in {}", elsewhere.join(", "))
            };
            return Ok(refused(format!(
                "{} can only receive what {} verified, and {} is not verified there ({where_})",
                stage.name, from.name, version
            )));
        }
        let outcome = self
            .promote_verified(repo, loaded, stage, artifact, &version, &from.name, approved_by, arg.is_some())
            .await;
        Ok(outcome_reply(stage, &version, outcome))
    }

    async fn cmd_rollback(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        arg: Option<&VersionArg>,
        user: &str,
    ) -> anyhow::Result<Reply> {
        let artifact = match self.single_artifact(loaded, stage) {
            Ok(a) => a,
            Err(e) => return Ok(refused(e)),
        };
        let history = self.versions_in_history(repo, loaded, stage, artifact).await?;
        let Some(current) = history.first().cloned() else {
            return Ok(refused(format!("{} has no version history to roll back to", stage.name)));
        };
        let target = match arg {
            None => match history.iter().find(|v| **v != current) {
                Some(v) => v.clone(),
                None => return Ok(refused(format!("{} never ran another version than {current}", stage.name))),
            },
            Some(a) => {
                // A rollback goes to what the stage ran: a tag is looked up in the stage's own
                // history (with the digest it ran), not re-resolved from the registry.
                let from_history = match a {
                    VersionArg::Tag(t) => history.iter().find(|v| &v.tag == t).cloned(),
                    _ => None,
                };
                let v = match (from_history, a) {
                    (Some(v), _) => v,
                    (None, VersionArg::Tag(t)) => {
                        let ran: Vec<String> = history.iter().take(5).map(|v| format!("`{}`", v.tag)).collect();
                        return Ok(refused(format!(
                            "{} never ran {t}; it can be rolled back to a version it ran before ({})",
                            stage.name,
                            ran.join(", ")
                        )));
                    }
                    (None, _) => match self.resolve_arg(artifact, a, &history).await {
                        Ok(v) => v,
                        Err(e) => return Ok(refused(e)),
                    },
                };
                if v == current {
                    return Ok(refused(format!("{} already runs {v}", stage.name)));
                }
                if !history.contains(&v) {
                    let ran: Vec<String> = history.iter().take(5).map(|v| format!("`{}`", v.tag)).collect();
                    return Ok(refused(format!(
                        "{} never ran {v}; it can be rolled back to a version it ran before ({})",
                        stage.name,
                        ran.join(", ")
                    )));
                }
                v
            }
        };
        let mut candidate = match self.signed_candidate(loaded, artifact, &target).await {
            Ok(c) => c,
            Err(e) => return Ok(refused(format!("{target} cannot be rolled back to: {e}"))),
        };
        candidate.approved_by = vec![user.to_string()];
        candidate.rollback = true;
        candidate.explicit = true;
        Ok(outcome_reply(stage, &target, self.promote(repo, loaded, stage, artifact, &candidate).await))
    }

    async fn cmd_freeze(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        user: &str,
        reason: Option<&str>,
        freeze: bool,
    ) -> anyhow::Result<Reply> {
        let Some(path) = &stage.freeze else {
            return Ok(refused(format!(
                "{} has no freeze file: set `freeze: {{ file: … }}` on the stage in .baton.yaml",
                stage.name
            )));
        };
        let existing = match self.github.file(repo, path.as_str(), &loaded.default_branch).await {
            Ok(f) => Some(f),
            Err(GitHubError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let when = (self.clock)().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // What to write: the file's new content (None: delete it) and the commit message.
        let (content, message) = match (freeze, &existing) {
            (true, Some(_)) => return Ok(Reply::Done(format!("{} is already frozen ({path} exists)", stage.name))),
            (false, None) => return Ok(Reply::Done(format!("{} is not frozen", stage.name))),
            (true, None) => (
                Some(render::freeze_file(user, &when, reason)),
                format!("freeze({}): {}\n\nBaton-Frozen-By: {user}\n", stage.name, reason.unwrap_or("no reason given")),
            ),
            (false, Some(_)) => (None, format!("unfreeze({})\n\nBaton-Unfrozen-By: {user}\n", stage.name)),
        };
        let blob = existing.as_ref().map(|f| f.sha.as_str());
        let direct = match &content {
            Some(c) => self.github.put_file(repo, &loaded.default_branch, path.as_str(), c, None, &message).await,
            None => {
                self.github
                    .delete_file(repo, &loaded.default_branch, path.as_str(), blob.unwrap_or_default(), &message)
                    .await
            }
        };
        let sha = match direct {
            Ok(sha) => sha,
            // Branch protection refuses direct commits: the same change through a PR baton merges.
            Err(GitHubError::Forbidden(_) | GitHubError::Conflict(_)) => {
                match self
                    .freeze_through_pr(repo, loaded, stage, path.as_str(), content.as_deref(), blob, &message)
                    .await?
                {
                    Ok(sha) => sha,
                    Err(refusal) => return Ok(refused(refusal)),
                }
            }
            Err(e) => return Err(e.into()),
        };
        // The stage's open pointer PRs are re-checked against the new freeze state.
        self.recheck_stage_prs(repo, loaded, stage).await.context("re-running baton/policy")?;
        let verb = if freeze { "frozen" } else { "unfrozen" };
        Ok(Reply::Done(format!("{} is {verb} ({path} in {})", stage.name, &sha[..sha.len().min(7)])))
    }

    /// The freeze change on branch `baton/freeze/<stage>`, as a PR merged at once. Returns the
    /// merge commit, or (Err) why it could not be merged.
    #[allow(clippy::too_many_arguments)]
    async fn freeze_through_pr(
        &self,
        repo: &RepoName,
        loaded: &Loaded,
        stage: &Stage,
        path: &str,
        content: Option<&str>,
        blob: Option<&str>,
        message: &str,
    ) -> anyhow::Result<Result<String, String>> {
        let branch = format!("baton/freeze/{}", stage.name);
        let head = self.github.branch_head(repo, &loaded.default_branch).await?;
        match self.github.create_branch(repo, &branch, &head).await {
            Ok(()) => {}
            Err(GitHubError::Conflict(_)) => self.github.update_branch(repo, &branch, &head, true).await?,
            Err(e) => return Err(e.into()),
        }
        let commit = match content {
            Some(c) => self.github.put_file(repo, &branch, path, c, None, message).await?,
            None => self.github.delete_file(repo, &branch, path, blob.unwrap_or_default(), message).await?,
        };
        let title = message.lines().next().unwrap_or_default().to_string();
        let pr = match self.github.find_open_pull(repo, &branch).await? {
            Some(pr) => pr,
            None => {
                let new = crate::github::NewPullRequest {
                    head: branch.clone(),
                    base: loaded.default_branch.clone(),
                    title: title.clone(),
                    body: format!("{title}\n\nOpened by baton because branch protection refused a direct commit.\n"),
                };
                self.github.create_pull(repo, &new).await?
            }
        };
        match self.github.merge_pull(repo, pr.number, &commit, message).await {
            Ok(sha) => Ok(Ok(sha)),
            Err(e) => Ok(Err(format!(
                "branch protection refused a direct commit, and #{} (the same change as a PR) cannot be merged by \
                 baton ({e}); merge it to {} {}",
                pr.number,
                if content.is_some() { "freeze" } else { "unfreeze" },
                stage.name
            ))),
        }
    }

    async fn recheck_stage_prs(&self, repo: &RepoName, loaded: &Loaded, stage: &Stage) -> anyhow::Result<()> {
        for pr in self.github.open_pulls(repo).await? {
            if pr.base_ref != loaded.default_branch {
                continue;
            }
            let files = self.github.pull_files(repo, pr.number).await?;
            if files.iter().any(|f| stage.pointers.iter().any(|p| p.file.as_str() == f.filename)) {
                self.run_policy(repo, &(&pr).into()).await?;
            }
        }
        Ok(())
    }

    async fn cmd_status(&self, repo: &RepoName, loaded: &Loaded) -> anyhow::Result<Reply> {
        let mut rows = Vec::new();
        for stage in &loaded.pipeline.stages {
            let frozen = match &stage.freeze {
                Some(p) => self.github.file(repo, p.as_str(), &loaded.default_branch).await.is_ok(),
                None => false,
            };
            for artifact in stage.artifacts() {
                let Some(spec) = stage.pointers.iter().find(|p| &p.artifact == artifact) else { continue };
                let bump = self.current_bump(repo, loaded, spec).await?;
                let verified = match &bump {
                    Some(b) => {
                        let runs = self
                            .github
                            .check_runs(repo, &b.sha, Some(&super::stages::verified_check_name(stage.name.as_str())))
                            .await?;
                        runs.iter()
                            .max_by_key(|r| r.id)
                            .map(|r| r.conclusion.clone().unwrap_or_else(|| r.status.clone()))
                    }
                    None => None,
                };
                let pr = self.github.find_open_pull(repo, &render::branch(&stage.name, artifact)).await?;
                rows.push(render::StatusRow {
                    stage: stage.name.to_string(),
                    from: stage.from.as_ref().map(|f| f.to_string()),
                    artifact: artifact.to_string(),
                    version: bump.as_ref().map(|b| b.version.tag.to_string()),
                    digest: bump.as_ref().map(|b| b.version.digest.short().to_string()),
                    since: bump.as_ref().and_then(|b| b.date).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
                    verified,
                    pr: pr.map(|p| (p.number, render::parse_marker(&p.body).map(|m| m.tag.to_string()))),
                    frozen,
                });
            }
        }
        Ok(Reply::Done(render::status(&rows)))
    }
}

fn outcome_reply(stage: &Stage, version: &Version, outcome: anyhow::Result<Outcome>) -> Reply {
    super::report_outcome(stage, version, &outcome);
    match outcome {
        Ok(Outcome::PullRequest { number, .. }) => {
            Reply::Done(format!("#{number} moves {} to `{}` (`{}`)", stage.name, version.tag, version.digest.short()))
        }
        Ok(Outcome::Committed { sha }) => {
            Reply::Done(format!("{} moved to `{}` in {}", stage.name, version.tag, &sha[..sha.len().min(7)]))
        }
        Ok(Outcome::Noop(why)) => Reply::Done(format!("nothing to do: {why}")),
        Err(e) => Reply::Refused(format!("{} was not moved to {}: {e:#}", stage.name, version.tag)),
    }
}
