//! Cheap filters at intake: decided from the payload and the index alone, with no GitHub
//! request, before anything is queued. What passes goes to the engine; what does not is
//! answered `ignored: <why>`.
//!
//! The rules keep everything the engine could act on: a status or check on a default-branch
//! commit (a bump commit, or the artifact's source commit where Flux or Argo CD report) always
//! passes, and so does anything the payload does not decide (a status with no branch listed).

use crate::event::{CheckRunAction, CommentAction, Event};
use crate::index::Entry;
use crate::types::{RepoName, StageName};

/// What intake knows of a repository's pipeline.
pub trait PipelineView {
    /// None: the index is not built yet (nothing may be filtered on it).
    fn known(&self) -> bool;
    fn entry(&self, repo: &RepoName) -> Option<Entry>;
}

impl PipelineView for crate::index::Index {
    fn known(&self) -> bool {
        self.is_built()
    }
    fn entry(&self, repo: &RepoName) -> Option<Entry> {
        crate::index::Index::entry(self, repo)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Handle,
    Ignore(String),
}

/// GitHub lists at most this many branches in a `status` payload; with that many, the list
/// may be incomplete and decides nothing.
pub const STATUS_BRANCHES_LISTED: usize = 10;

/// Whether `branch` is one of baton's own PR branches (`baton/<stage>/<artifact>`, and the
/// freeze PRs' `baton/freeze/<stage>`).
fn baton_branch(branch: &str) -> bool {
    branch.starts_with("baton/")
}

/// Where a commit is, as far as the payload says.
fn relevant_branches<'a>(branches: impl IntoIterator<Item = &'a str>, default_branch: &str) -> bool {
    branches.into_iter().any(|b| b == default_branch || baton_branch(b))
}

/// The filter. Registry pushes and installation changes are not screened here (the index
/// routes the former; the latter only update the index).
pub fn screen(event: &Event, view: &dyn PipelineView) -> Screen {
    let Some(repo) = event.repo() else { return Screen::Handle };
    if !view.known() {
        return Screen::Handle;
    }
    let Some(entry) = view.entry(repo) else {
        return Screen::Ignore(format!("no pipeline in {repo}"));
    };
    let default_branch = entry.default_branch.as_str();
    match event {
        Event::IssueComment(c) => {
            if c.action != CommentAction::Created {
                return Screen::Ignore(format!("comment {:?}", c.action).to_lowercase());
            }
            if c.author_is_bot {
                return Screen::Ignore("comment by a bot".into());
            }
            let stages: Vec<StageName> = match &entry.pipeline {
                Ok(p) => p.stages.iter().map(|s| s.name.clone()).collect(),
                Err(_) => vec![],
            };
            match crate::commands::parse(&c.body, &stages) {
                crate::commands::Parsed::NoCommand => Screen::Ignore("no command in the comment".into()),
                _ => Screen::Handle,
            }
        }
        Event::CheckRun(cr) => match &cr.action {
            CheckRunAction::Created => Screen::Ignore("check_run created".into()),
            CheckRunAction::Completed if cr.name.starts_with("baton/verified/") => {
                Screen::Ignore("baton's own verification record".into())
            }
            CheckRunAction::Completed => match cr.head_branch.as_deref() {
                Some(b) if !relevant_branches([b], default_branch) => {
                    Screen::Ignore(format!("check on branch {b}, neither {default_branch} nor a baton PR"))
                }
                _ => Screen::Handle,
            },
            _ => Screen::Handle,
        },
        Event::CheckSuite(cs) => match cs.head_branch.as_deref() {
            Some(b) if !relevant_branches([b], default_branch) => {
                Screen::Ignore(format!("check suite on branch {b}, neither {default_branch} nor a baton PR"))
            }
            _ => Screen::Handle,
        },
        Event::Status(st) => {
            if st.state == crate::forge::StatusState::Pending {
                return Screen::Ignore("pending status".into());
            }
            if st.branches.is_empty() || st.branches.len() >= STATUS_BRANCHES_LISTED {
                return Screen::Handle;
            }
            if relevant_branches(st.branches.iter().map(String::as_str), default_branch) {
                Screen::Handle
            } else {
                Screen::Ignore(format!(
                    "status on a commit of {}, neither {default_branch} nor a baton PR",
                    st.branches.join(", ")
                ))
            }
        }
        Event::Push(p) if p.default_branch.is_some() && !p.to_default_branch() => {
            Screen::Ignore(format!("push to {}, not the default branch", p.git_ref))
        }
        _ => Screen::Handle,
    }
}

#[cfg(test)]
mod tests;
