use std::sync::Arc;

use super::*;
use crate::event::*;

struct View(Option<Entry>, bool);

impl PipelineView for View {
    fn known(&self) -> bool {
        self.1
    }
    fn entry(&self, _repo: &RepoName) -> Option<Entry> {
        self.0.clone()
    }
}

fn configured() -> View {
    let p = crate::pipeline::parse(crate::index::tests::PIPELINE).unwrap();
    View(Some(Entry { default_branch: "main".into(), oid: "1".into(), pipeline: Ok(Arc::new(p)) }), true)
}

fn repo() -> RepoName {
    "org/deploy".parse().unwrap()
}

fn comment(body: &str, action: CommentAction, bot: bool) -> Event {
    Event::IssueComment(CommentEvent {
        repo: repo(),
        action,
        issue_number: 1,
        is_pull_request: true,
        comment_id: 7,
        body: body.into(),
        author: "alice".into(),
        author_is_bot: bot,
    })
}

fn check_run(name: &str, action: CheckRunAction, branch: Option<&str>) -> Event {
    Event::CheckRun(CheckRunEvent {
        repo: repo(),
        action,
        id: 1,
        name: name.into(),
        head_sha: "abc".into(),
        app_slug: Some("ci".into()),
        conclusion: Some(crate::forge::Conclusion::Success),
        sender: "ci[bot]".into(),
        head_branch: branch.map(str::to_string),
    })
}

fn status(state: &str, branches: &[&str]) -> Event {
    Event::Status(StatusEvent {
        repo: repo(),
        sha: "abc".into(),
        context: "kustomization/app-dev".into(),
        state: crate::forge::StatusState::from_api(state).unwrap(),
        branches: branches.iter().map(|b| b.to_string()).collect(),
    })
}

fn suite(branch: Option<&str>) -> Event {
    Event::CheckSuite(CheckSuiteEvent {
        repo: repo(),
        action: "completed".into(),
        head_sha: "abc".into(),
        head_branch: branch.map(str::to_string),
        conclusion: Some(crate::forge::Conclusion::Success),
    })
}

fn push(git_ref: &str) -> Event {
    Event::Push(PushEvent {
        repo: repo(),
        git_ref: git_ref.into(),
        after: "abc".into(),
        default_branch: Some("main".into()),
        pipeline: PipelineTouch::Untouched,
    })
}

fn ignore(s: &str) -> Screen {
    Screen::Ignore(s.into())
}

#[test]
fn screens() {
    let ten: Vec<String> = (0..10).map(|i| format!("feature-{i}")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let rows: Vec<(Event, Screen)> = vec![
        (comment("looks good to me", CommentAction::Created, false), ignore("no command in the comment")),
        (comment("```\n/promote prod\n```", CommentAction::Created, false), ignore("no command in the comment")),
        (comment("/promote prod", CommentAction::Created, false), Screen::Handle),
        // Unknown commands are answered (usage, did-you-mean): they pass.
        (comment("/promot prod", CommentAction::Created, false), Screen::Handle),
        (comment("/promote prod", CommentAction::Edited, false), ignore("comment edited")),
        (comment("/promote prod", CommentAction::Created, true), ignore("comment by a bot")),
        (check_run("build", CheckRunAction::Completed, Some("main")), Screen::Handle),
        (check_run("build", CheckRunAction::Completed, Some("baton/dev/app")), Screen::Handle),
        (check_run("build", CheckRunAction::Completed, None), Screen::Handle),
        (
            check_run("build", CheckRunAction::Completed, Some("feature")),
            ignore("check on branch feature, neither main nor a baton PR"),
        ),
        (check_run("build", CheckRunAction::Created, Some("main")), ignore("check_run created")),
        (
            check_run("baton/verified/dev", CheckRunAction::Completed, Some("main")),
            ignore("baton's own verification record"),
        ),
        (check_run("baton/policy", CheckRunAction::Rerequested, Some("feature")), Screen::Handle),
        (
            check_run("baton/verified/dev", CheckRunAction::RequestedAction { identifier: "p".into() }, None),
            Screen::Handle,
        ),
        (suite(Some("main")), Screen::Handle),
        (suite(Some("baton/prod/app")), Screen::Handle),
        (suite(None), Screen::Handle),
        (suite(Some("feature")), ignore("check suite on branch feature, neither main nor a baton PR")),
        // Flux reports on the artifact's source commit on the default branch: never dropped.
        (status("success", &["main"]), Screen::Handle),
        (status("failure", &["feature", "main"]), Screen::Handle),
        (status("success", &["baton/dev/app"]), Screen::Handle),
        (status("success", &[]), Screen::Handle),
        (status("success", &ten), Screen::Handle),
        (status("success", &["feature"]), ignore("status on a commit of feature, neither main nor a baton PR")),
        (status("pending", &["main"]), ignore("pending status")),
        (push("refs/heads/main"), Screen::Handle),
        (push("refs/heads/feature"), ignore("push to refs/heads/feature, not the default branch")),
    ];
    let view = configured();
    for (event, want) in rows {
        assert_eq!(screen(&event, &view), want, "{event:?}");
    }
}

#[test]
fn without_a_pipeline_everything_is_ignored_once_the_index_is_built() {
    let events = [
        comment("/promote prod", CommentAction::Created, false),
        status("success", &["main"]),
        push("refs/heads/main"),
    ];
    for e in &events {
        assert_eq!(screen(e, &View(None, true)), ignore("no pipeline in org/deploy"));
        assert_eq!(screen(e, &View(None, false)), Screen::Handle, "before the index is built nothing is filtered");
    }
    let reg = Event::RegistryPush(RegistryPush {
        host: None,
        repository: "x".into(),
        tag: "1".parse().unwrap(),
        digest: None,
    });
    assert_eq!(screen(&reg, &View(None, true)), Screen::Handle);
}
