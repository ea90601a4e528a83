//! Comment commands: `/promote`, `/rollback`, `/freeze`, `/unfreeze`, `/status`, `/diff`,
//! `/help`, and the `Promote to <stage>` button. Authorization is checked live on every command:
//! write permission on the repository, then the stage's `approvers` (users, `@org/team`,
//! `codeowners`). A command is handled when its *outcome* exists: baton's reply carries a hidden
//! key derived from the command comment's id ([`crate::receipts`]), so a redelivered or replayed
//! comment never acts twice, and a command whose reply is missing (a crash, a lost webhook, a
//! lost answer) is run by the next delivery or by `reconcile`. The 👀 reaction only says "seen".

use super::{Engine, LoadError, Outcome, RepoPipeline};
use crate::codeowners::{CodeOwners, Owner};
use crate::commands::{self, Command, Parsed, VersionArg};
use crate::event::{CommentAction, CommentEvent};
use crate::github::GitHubError;
use crate::pipeline::{Approver, Artifact, Stage};
use crate::planner::{versions, Intent, StagePointer};
use crate::receipts;
use crate::render;
use crate::types::{RepoName, StageName, Version};

mod diff;
mod freeze;
mod status;

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
                self.github.react(repo, ev.comment_id, "eyes").await?;
                if !self.answered(repo, ev).await? {
                    let body = render::command_error(&ev.author, &e.message, e.usage.as_deref());
                    self.github.create_comment(repo, ev.issue_number, &receipts::keyed(&body, ev.comment_id)).await?;
                    self.github.react(repo, ev.comment_id, "confused").await?;
                }
                return Ok(());
            }
            Parsed::Command(c) => c,
        };
        self.github.react(repo, ev.comment_id, "eyes").await?;
        if self.answered(repo, ev).await? {
            tracing::info!(comment = ev.comment_id, "command already handled (its reply exists)");
            return Ok(());
        }
        let reply = match loaded {
            Ok(rp) => self.run_command(&rp, &command, &ev.author).await,
            Err(e @ (LoadError::NoPipeline { .. } | LoadError::Invalid { .. })) => {
                refused(format!("baton cannot use this repository's pipeline: {e}"))
            }
            Err(e) => refused(super::user_facing("cannot read the pipeline for a command", &e.into())),
        };
        // A rate limit stopped part of the command: no reply (it could only say "internal
        // error"); the job runs again at the reset, and the missing reply makes it act then.
        if let Some(reset_in) = crate::github::rate_limited_so_far() {
            tracing::info!(comment = ev.comment_id, "command stopped by a rate limit: answering after the reset");
            return Err(
                GitHubError::RateLimited { what: format!("command in comment {}", ev.comment_id), reset_in }.into()
            );
        }
        let (body, reaction) = match &reply {
            Reply::Done(text) => (render::command_reply(&ev.author, text), "rocket"),
            Reply::Refused(text) => (render::command_refusal(&ev.author, text), "confused"),
        };
        crate::metrics::promotion("command", if reaction == "rocket" { "done" } else { "refused" });
        self.github.create_comment(repo, ev.issue_number, &receipts::keyed(&body, ev.comment_id)).await?;
        self.github.react(repo, ev.comment_id, reaction).await?;
        Ok(())
    }

    /// Whether baton's reply to this command exists (the receipt).
    async fn answered(&self, repo: &RepoName, ev: &CommentEvent) -> anyhow::Result<bool> {
        let comments = self.github.comments(repo, ev.issue_number).await?;
        Ok(receipts::answered(ev.comment_id, comments.iter().map(|c| (c.author.as_str(), c.body.as_str()))))
    }

    /// Commands written in the last `replay_window` that nobody answered (a crash or a lost
    /// webhook between the comment and the reply): run now, as their delivery would have.
    pub async fn replay_unanswered_commands(&self, repo: &RepoName, stages: &[StageName]) -> anyhow::Result<usize> {
        let window = chrono::Duration::from_std(self.replay_window).unwrap_or(chrono::Duration::hours(1));
        let since = ((self.clock)() - window).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let recent = self.github.recent_comments(repo, &since).await?;
        let todo = receipts::unanswered(&recent, stages, &since);
        for c in &todo {
            tracing::info!(%repo, comment = c.id, issue = c.issue_number, "answering a command nobody answered");
            let ev = CommentEvent {
                repo: repo.clone(),
                action: CommentAction::Created,
                issue_number: c.issue_number,
                is_pull_request: false,
                comment_id: c.id,
                body: c.body.clone(),
                author: c.author.clone(),
                author_is_bot: false,
            };
            self.on_comment(repo, &ev).await?;
        }
        Ok(todo.len())
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
        let Some(loaded) = self.pipeline(repo).await? else { return Ok(()) };
        let Some(stage) = loaded.pipeline.stages.iter().find(|s| render::promote_action_id(&s.name) == identifier)
        else {
            return Ok(());
        };
        let Some(from) = stage.from.as_ref().and_then(|f| loaded.pipeline.stage(f)) else { return Ok(()) };
        let mut reply = refused(format!("{} has no pointer baton can read at {head_sha}", from.name));
        let artifacts = stage.artifacts().into_iter().filter_map(|a| loaded.pipeline.artifacts.get(a));
        for upstream in artifacts.filter_map(|a| StagePointer::of(from, a)) {
            let spec = upstream.spec;
            let version = match self.github.file(repo, spec.file.as_str(), head_sha).await {
                Ok(f) => super::history::read_version(&f.text, spec, upstream.artifact.track.as_ref()),
                Err(_) => None,
            };
            if let Some(v) = version {
                let cmd = Command::Promote { stage: stage.name.clone(), version: Some(VersionArg::Pinned(v)) };
                reply = self.run_command(&loaded, &cmd, user).await;
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

    pub async fn run_command(&self, rp: &RepoPipeline, command: &Command, user: &str) -> Reply {
        let result = match command {
            Command::Help => return Reply::Done(commands::help()),
            Command::Status => match self.authorize(rp, None, user).await {
                Ok(None) => self.cmd_status(rp).await,
                Ok(Some(refusal)) => Ok(refused(refusal)),
                Err(e) => Err(e),
            },
            Command::Promote { stage, version } => {
                self.with_stage(rp, stage, user, |s| self.cmd_promote(rp, s, version.as_ref(), user)).await
            }
            Command::Rollback { stage, version } => {
                self.with_stage(rp, stage, user, |s| self.cmd_rollback(rp, s, version.as_ref(), user)).await
            }
            Command::Freeze { stage, reason } => {
                self.with_stage(rp, stage, user, |s| self.cmd_freeze(rp, s, user, reason.as_deref(), true)).await
            }
            Command::Unfreeze { stage } => {
                self.with_stage(rp, stage, user, |s| self.cmd_freeze(rp, s, user, None, false)).await
            }
            Command::Diff { stage, version } => match rp.pipeline.stage(stage) {
                // Reading needs write permission like every command, but not the stage's approvers.
                Some(s) => match self.authorize(rp, None, user).await {
                    Ok(None) => self.cmd_diff(rp, s, version.as_ref()).await,
                    Ok(Some(refusal)) => Ok(refused(refusal)),
                    Err(e) => Err(e),
                },
                None => Ok(refused(format!("there is no stage `{stage}` in .baton.yaml"))),
            },
        };
        result.unwrap_or_else(|e| refused(super::user_facing("command failed", &e)))
    }

    async fn with_stage<'a, F, Fut>(
        &self,
        rp: &'a RepoPipeline,
        name: &StageName,
        user: &str,
        f: F,
    ) -> anyhow::Result<Reply>
    where
        F: FnOnce(&'a Stage) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Reply>>,
    {
        let Some(stage) = rp.pipeline.stage(name) else {
            return Ok(refused(format!("there is no stage `{name}` in .baton.yaml")));
        };
        match self.authorize(rp, Some(stage), user).await? {
            Some(refusal) => Ok(refused(refusal)),
            None => f(stage).await,
        }
    }

    /// `None` when `user` may act (on `stage`); otherwise the reason, in plain words.
    async fn authorize(&self, rp: &RepoPipeline, stage: Option<&Stage>, user: &str) -> anyhow::Result<Option<String>> {
        let repo = &rp.repo;
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
            let (name, ok) = match approver {
                Approver::User(u) => (format!("@{u}"), u.eq_ignore_ascii_case(user)),
                Approver::Team { org, slug } => {
                    (format!("@{org}/{slug}"), self.github.team_member(org, slug, user).await?)
                }
                Approver::Codeowners => {
                    ("the CODEOWNERS of its pointer files".to_string(), self.is_codeowner(rp, stage, user).await?)
                }
            };
            if ok {
                return Ok(None);
            }
            names.push(name);
        }
        Ok(Some(format!("only approvers of {} can do this: {}", stage.name, names.join(", "))))
    }

    async fn is_codeowner(&self, rp: &RepoPipeline, stage: &Stage, user: &str) -> anyhow::Result<bool> {
        let mut text = None;
        for path in crate::codeowners::LOCATIONS {
            match self.github.file(&rp.repo, path, &rp.default_branch).await {
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

    /// The stage's one artifact with its pointer (baton's commands act on stages with one).
    fn single_pointer<'a>(&self, rp: &'a RepoPipeline, stage: &'a Stage) -> Result<StagePointer<'a>, String> {
        let artifacts = stage.artifacts();
        match artifacts.as_slice() {
            [one] => rp
                .pipeline
                .artifacts
                .get(*one)
                .and_then(|a| StagePointer::of(stage, a))
                .ok_or_else(|| format!("unknown artifact {one}")),
            [] => Err(format!("{} has no pointers", stage.name)),
            many => Err(format!(
                "{} runs several artifacts ({}); baton's commands act on stages with one artifact",
                stage.name,
                many.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Turns a version argument into a tag with its digest: a tag is resolved in the registry,
    /// a digest alone is looked up in `history`.
    async fn resolve_arg(&self, artifact: &Artifact, arg: &VersionArg, history: &[Version]) -> Result<Version, String> {
        if let Some(v) = versions::version_of_digest(arg, history) {
            return v;
        }
        let VersionArg::Tag(tag) = arg else { unreachable!("version_of_digest answers every other argument") };
        self.registry
            .resolve(&artifact.image, tag)
            .await
            .map(|r| Version { tag: tag.clone(), digest: r.digest })
            .map_err(|e| e.to_string())
    }

    async fn cmd_promote(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        arg: Option<&VersionArg>,
        user: &str,
    ) -> anyhow::Result<Reply> {
        if let Some(group) = unit_stage(rp, stage) {
            return self.cmd_promote_unit(rp, stage, group, arg, user).await;
        }
        let sp = match self.single_pointer(rp, stage) {
            Ok(sp) => sp,
            Err(e) => return Ok(refused(e)),
        };
        let intent = Intent::Promote { by: user.to_string(), pinned: arg.is_some() };
        let Some(from_stage) = stage.from.as_ref().and_then(|f| rp.pipeline.stage(f)) else {
            return self.promote_first_stage(rp, &sp, arg, intent).await;
        };
        let Some(from) = sp.in_stage(from_stage) else {
            return Ok(refused(format!(
                "{} has not verified any version of {} yet",
                from_stage.name, sp.artifact.name
            )));
        };
        let history = self.versions_in_history(rp, &from).await?;
        let version = match arg {
            Some(a) => match self.resolve_arg(sp.artifact, a, &history).await {
                Ok(v) => v,
                Err(e) => return Ok(refused(e)),
            },
            None => {
                // The newest version verified upstream that was not rolled back here.
                let rejected = self.rejected_versions(rp, &sp).await?;
                let mut found = None;
                for v in versions::promotion_order(&history, &rejected) {
                    if self.verified_in(rp, &from, &v).await?.is_some() {
                        found = Some(v);
                        break;
                    }
                }
                let Some(v) = found else {
                    let why = format!("{} has not verified any version of {} yet", from.stage.name, sp.artifact.name);
                    return Ok(refused(why));
                };
                v
            }
        };
        if self.verified_in(rp, &from, &version).await?.is_none() {
            let mut elsewhere = Vec::new();
            for s in &rp.pipeline.stages {
                let Some(there) = sp.in_stage(s) else { continue };
                if self.verified_in(rp, &there, &version).await?.is_some() {
                    elsewhere.push(s.name.clone());
                }
            }
            return Ok(refused(versions::not_verified_upstream(&stage.name, &from.stage.name, &version, &elsewhere)));
        }
        let outcome = self.promote_verified(rp, &sp, &version, &from.stage.name, intent).await;
        Ok(outcome_reply(stage, &version, outcome))
    }

    /// `/promote` of a first stage: the version comes from the registry.
    async fn promote_first_stage(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        arg: Option<&VersionArg>,
        intent: Intent,
    ) -> anyhow::Result<Reply> {
        let artifact = sp.artifact;
        let version = match arg {
            Some(a) => match self.resolve_arg(artifact, a, &[]).await {
                Ok(v) => v,
                Err(e) => return Ok(refused(e)),
            },
            None => {
                let tags = self.registry.list_tags(&artifact.image).await?;
                match versions::newest_release_tag(artifact, tags) {
                    Some(tag) => {
                        let digest = self.registry.resolve(&artifact.image, &tag).await?.digest;
                        Version { tag, digest }
                    }
                    // A tracked channel tag (#13): the digest it points at now, unless older.
                    None if artifact.track.is_some() => match self.tracked_for_command(rp, sp).await? {
                        Ok(v) => v,
                        Err(why) => return Ok(refused(why)),
                    },
                    None => return Ok(refused(format!("{} has no release tag matching its pattern", artifact.image))),
                }
            }
        };
        let offer = match self.signed_offer(rp, artifact, &version, None, intent).await {
            Ok(o) => o,
            Err(e) => return Ok(refused(format!("{version} is not promoted: {e}"))),
        };
        Ok(outcome_reply(sp.stage, &version, self.promote(rp, sp, &offer).await))
    }

    async fn cmd_rollback(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        arg: Option<&VersionArg>,
        user: &str,
    ) -> anyhow::Result<Reply> {
        if let Some(group) = unit_stage(rp, stage) {
            return self.cmd_rollback_unit(rp, stage, group, arg, user).await;
        }
        let sp = match self.single_pointer(rp, stage) {
            Ok(sp) => sp,
            Err(e) => return Ok(refused(e)),
        };
        let history = self.versions_in_history(rp, &sp).await?;
        let target = match versions::rollback_target(&stage.name, &history, arg) {
            Ok(v) => v,
            Err(why) => return Ok(refused(why)),
        };
        let intent = Intent::Rollback { by: user.to_string() };
        let offer = match self.signed_offer(rp, sp.artifact, &target, None, intent).await {
            Ok(o) => o,
            Err(e) => return Ok(refused(format!("{target} cannot be rolled back to: {e}"))),
        };
        Ok(outcome_reply(stage, &target, self.promote(rp, &sp, &offer).await))
    }
}

/// The group a stage runs when every artifact of the stage is a member of it: baton's commands
/// then act on the whole unit.
fn unit_stage<'a>(rp: &'a RepoPipeline, stage: &Stage) -> Option<&'a crate::pipeline::Group> {
    let artifacts = stage.artifacts();
    let group = rp.pipeline.group_of(artifacts.first()?)?;
    artifacts.iter().all(|a| group.artifacts.contains(a)).then_some(group)
}

impl Engine {
    /// `/promote` of a stage that runs a release unit: the unit its `from` stage verified (on a
    /// first stage: every member's newest verified version). A version names one artifact, so
    /// it is refused.
    async fn cmd_promote_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &crate::pipeline::Group,
        arg: Option<&VersionArg>,
        user: &str,
    ) -> anyhow::Result<Reply> {
        if arg.is_some() {
            return Ok(refused(render::unit_version_refusal("promote", &stage.name, &group.name)));
        }
        let intent = Intent::Promote { by: user.to_string(), pinned: false };
        let (members, from) = match stage.from.as_ref().and_then(|f| rp.pipeline.stage(f)) {
            Some(from) => match self.verified_upstream_unit(rp, from, group).await? {
                Some((members, _)) => (members, Some(from.name.clone())),
                None => {
                    return Ok(refused(format!("{} has not verified a {} unit yet", from.name, group.name)));
                }
            },
            None => match self.newest_unit(rp, stage, group).await {
                Ok(members) => (members, None),
                Err(why) => return Ok(refused(why)),
            },
        };
        let offer = match self.signed_unit(rp, stage, group, members.clone(), from, intent).await {
            Ok(o) => o,
            Err(e) => return Ok(refused(format!("the {} unit is not promoted: {e}", group.name))),
        };
        let outcome = self.promote_unit(rp, stage, group, &offer, None).await;
        Ok(unit_outcome_reply(stage, group, &members, outcome))
    }

    /// `/rollback` of a stage that runs a release unit: the unit it ran before (its pointers at
    /// the parent of the unit's bump commit), in one PR.
    async fn cmd_rollback_unit(
        &self,
        rp: &RepoPipeline,
        stage: &Stage,
        group: &crate::pipeline::Group,
        arg: Option<&VersionArg>,
        user: &str,
    ) -> anyhow::Result<Reply> {
        if arg.is_some() {
            return Ok(refused(render::unit_version_refusal("rollback", &stage.name, &group.name)));
        }
        let Some(ub) = self.unit_bump(rp, stage, group).await? else {
            return Ok(refused(format!("{} runs no {} unit yet", stage.name, group.name)));
        };
        let before = match &ub.bump.parent {
            Some(parent) => self.unit_at(rp, stage, group, parent).await?,
            None => vec![],
        };
        let target = match crate::planner::units::previous_unit(&stage.name, group, &ub.members, &before) {
            Ok(t) => t,
            Err(why) => return Ok(refused(why)),
        };
        let intent = Intent::Rollback { by: user.to_string() };
        let offer = match self.signed_unit(rp, stage, group, target.clone(), None, intent).await {
            Ok(o) => o,
            Err(e) => return Ok(refused(format!("the {} unit cannot be rolled back to: {e}", group.name))),
        };
        let outcome = self.promote_unit(rp, stage, group, &offer, None).await;
        Ok(unit_outcome_reply(stage, group, &target, outcome))
    }
}

fn unit_outcome_reply(
    stage: &Stage,
    group: &crate::pipeline::Group,
    members: &[(crate::types::ArtifactName, Version)],
    outcome: anyhow::Result<Outcome>,
) -> Reply {
    super::report_unit_outcome(stage, group, &outcome);
    let label = render::unit_label(&group.name, members);
    match outcome {
        Ok(Outcome::PullRequest { number, .. } | Outcome::Proposed { number, .. }) => {
            Reply::Done(format!("#{number} moves {} to {label}", stage.name))
        }
        Ok(Outcome::Committed { sha }) => {
            Reply::Done(format!("{} moved to {label} in {}", stage.name, &sha[..sha.len().min(7)]))
        }
        Ok(Outcome::Noop(why)) => Reply::Done(format!("nothing to do: {why}")),
        Err(e) => Reply::Refused(format!(
            "{} was not moved to {label}: {}",
            stage.name,
            super::user_facing("promotion by command failed", &e)
        )),
    }
}

fn outcome_reply(stage: &Stage, version: &Version, outcome: anyhow::Result<Outcome>) -> Reply {
    super::report_outcome(stage, version, &outcome);
    match outcome {
        // The same answer whether this run opened the PR or finds it open (a replayed command
        // whose first run crashed after opening it).
        Ok(Outcome::PullRequest { number, .. } | Outcome::Proposed { number, .. }) => {
            Reply::Done(format!("#{number} moves {} to `{}` (`{}`)", stage.name, version.tag, version.digest.short()))
        }
        Ok(Outcome::Committed { sha }) => {
            Reply::Done(format!("{} moved to `{}` in {}", stage.name, version.tag, &sha[..sha.len().min(7)]))
        }
        Ok(Outcome::Noop(why)) => Reply::Done(format!("nothing to do: {why}")),
        Err(e) => Reply::Refused(format!(
            "{} was not moved to {}: {}",
            stage.name,
            version.tag,
            super::user_facing("promotion by command failed", &e)
        )),
    }
}
