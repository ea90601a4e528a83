//! GitHub webhook payloads → [`Event`]. Only the fields baton uses are read; a handled event
//! whose payload lacks them is malformed (400 with the reason), an event or action baton does
//! not handle is ignored (2xx).

use crate::forge::{Conclusion, StatusState};
use serde::Deserialize;

use super::Received;
use crate::event::*;
use crate::types::{RepoName, Tag};

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct GitRef {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
    #[serde(default)]
    repo: Option<Repository>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    action: String,
    repository: Repository,
    pull_request: PullRequest,
    #[serde(default)]
    label: Option<Label>,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    head: GitRef,
    base: GitRef,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    user: User,
}

#[derive(Deserialize)]
struct CheckRunPayload {
    action: String,
    repository: Repository,
    check_run: CheckRun,
    #[serde(default)]
    requested_action: Option<RequestedAction>,
    sender: User,
}

#[derive(Deserialize)]
struct CheckRun {
    id: u64,
    name: String,
    head_sha: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    app: Option<App>,
    #[serde(default)]
    check_suite: Option<CheckSuiteRef>,
}

#[derive(Deserialize)]
struct CheckSuiteRef {
    #[serde(default)]
    head_branch: Option<String>,
}

#[derive(Deserialize)]
struct App {
    #[serde(default)]
    slug: Option<String>,
}

#[derive(Deserialize)]
struct RequestedAction {
    identifier: String,
}

#[derive(Deserialize)]
struct MergeGroupPayload {
    action: String,
    repository: Repository,
    merge_group: MergeGroup,
}

#[derive(Deserialize)]
struct MergeGroup {
    head_sha: String,
    head_ref: String,
    base_sha: String,
    base_ref: String,
}

#[derive(Deserialize)]
struct WorkflowRunPayload {
    action: String,
    repository: Repository,
    workflow_run: WorkflowRun,
    #[serde(default)]
    workflow: Option<Workflow>,
}

#[derive(Deserialize)]
struct Workflow {
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
struct WorkflowRun {
    id: u64,
    /// `.github/workflows/e2e.yml` (older payloads carry it only in `workflow.path`).
    #[serde(default)]
    path: Option<String>,
    event: String,
    head_sha: String,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    display_title: Option<String>,
    #[serde(default)]
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct CheckSuitePayload {
    action: String,
    repository: Repository,
    check_suite: CheckSuite,
}

#[derive(Deserialize)]
struct CheckSuite {
    head_sha: String,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
}

#[derive(Deserialize)]
struct StatusPayload {
    repository: Repository,
    sha: String,
    context: String,
    state: String,
    #[serde(default)]
    branches: Vec<Branch>,
}

#[derive(Deserialize)]
struct Branch {
    name: String,
}

#[derive(Deserialize)]
struct IssueCommentPayload {
    action: String,
    repository: Repository,
    issue: Issue,
    comment: Comment,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: User,
    #[serde(default)]
    performed_via_github_app: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PushPayload {
    repository: PushRepository,
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    commits: Vec<PushCommit>,
}

#[derive(Deserialize)]
struct PushRepository {
    full_name: String,
    #[serde(default)]
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct PushCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

/// GitHub lists at most this many commits in a `push` payload.
pub const PUSH_COMMITS_LISTED: usize = 20;

fn pipeline_touch(commits: &[PushCommit]) -> PipelineTouch {
    let is_pipeline = |p: &String| p == crate::engine::PIPELINE_FILE;
    if commits.iter().any(|c| c.added.iter().chain(&c.modified).chain(&c.removed).any(is_pipeline)) {
        PipelineTouch::Touched
    } else if commits.len() >= PUSH_COMMITS_LISTED {
        PipelineTouch::Unknown
    } else {
        PipelineTouch::Untouched
    }
}

#[derive(Deserialize)]
struct Account {
    login: String,
}

#[derive(Deserialize)]
struct Installation {
    account: Account,
}

/// `installation` (created / deleted).
#[derive(Deserialize)]
struct InstallationPayload {
    action: String,
    installation: Installation,
    #[serde(default)]
    repositories: Option<Vec<Repository>>,
}

/// `installation_repositories` (added / removed).
#[derive(Deserialize)]
struct InstallationRepositoriesPayload {
    action: String,
    installation: Installation,
    #[serde(default)]
    repositories_added: Vec<Repository>,
    #[serde(default)]
    repositories_removed: Vec<Repository>,
}

/// `repository` (renamed / transferred).
#[derive(Deserialize)]
struct RepositoryPayload {
    action: String,
    repository: Repository,
    #[serde(default)]
    changes: serde_json::Value,
}

fn repos(list: &[Repository]) -> Result<Vec<RepoName>, String> {
    list.iter().map(repo).collect()
}

/// `package` (action `published`) and `registry_package` (`published`): a container pushed to GHCR.
#[derive(Deserialize)]
struct PackagePayload {
    action: String,
    #[serde(alias = "registry_package")]
    package: Package,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    owner: Option<User>,
    package_type: String,
    #[serde(default)]
    package_version: Option<PackageVersion>,
    #[serde(default)]
    registry: Option<PackageRegistry>,
}

#[derive(Deserialize)]
struct PackageRegistry {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct PackageVersion {
    #[serde(default)]
    container_metadata: Option<ContainerMetadata>,
}

#[derive(Deserialize)]
struct ContainerMetadata {
    #[serde(default)]
    tag: Option<ContainerTag>,
}

#[derive(Deserialize)]
struct ContainerTag {
    #[serde(default)]
    name: Option<String>,
}

fn parse<T: for<'de> Deserialize<'de>>(event: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("malformed {event} payload: {e}"))
}

fn repo(r: &Repository) -> Result<RepoName, String> {
    r.full_name.parse().map_err(|e| format!("repository.full_name: {e}"))
}

fn is_bot(u: &User) -> bool {
    u.kind.as_deref() == Some("Bot") || u.login.ends_with("[bot]")
}

/// Parses a GitHub delivery of type `event` (the `X-GitHub-Event` header).
pub fn parse_event(event: &str, body: &[u8]) -> Result<Received, String> {
    let ignored = |why: String| Ok(Received::Ignored(why));
    match event {
        "pull_request" => {
            let p: PullRequestPayload = parse(event, body)?;
            let action = match p.action.as_str() {
                "opened" => PrAction::Opened,
                "synchronize" => PrAction::Synchronize,
                "reopened" => PrAction::Reopened,
                "closed" => PrAction::Closed,
                "labeled" => PrAction::Labeled,
                "unlabeled" => PrAction::Unlabeled,
                "edited" => PrAction::Edited,
                other => return ignored(format!("pull_request action {other}")),
            };
            let pr = p.pull_request;
            Ok(Received::Event(Box::new(Event::PullRequest(PullRequestEvent {
                repo: repo(&p.repository)?,
                action,
                number: pr.number,
                head_ref: pr.head.git_ref,
                head_sha: pr.head.sha,
                head_repo: pr.head.repo.map(|r| r.full_name),
                base_ref: pr.base.git_ref,
                merged: pr.merged.unwrap_or(false),
                merge_commit_sha: pr.merge_commit_sha,
                labels: pr.labels.into_iter().map(|l| l.name).collect(),
                author: pr.user.login,
                label: p.label.map(|l| l.name),
            }))))
        }
        "check_run" => {
            let p: CheckRunPayload = parse(event, body)?;
            let action = match p.action.as_str() {
                "created" => CheckRunAction::Created,
                "completed" => CheckRunAction::Completed,
                "rerequested" => CheckRunAction::Rerequested,
                "requested_action" => CheckRunAction::RequestedAction {
                    identifier: p
                        .requested_action
                        .ok_or("check_run requested_action without requested_action.identifier")?
                        .identifier,
                },
                other => return ignored(format!("check_run action {other}")),
            };
            Ok(Received::Event(Box::new(Event::CheckRun(CheckRunEvent {
                repo: repo(&p.repository)?,
                action,
                id: p.check_run.id,
                name: p.check_run.name,
                head_sha: p.check_run.head_sha,
                app_slug: p.check_run.app.and_then(|a| a.slug),
                conclusion: p.check_run.conclusion.as_deref().and_then(Conclusion::from_api),
                sender: p.sender.login,
                head_branch: p.check_run.check_suite.and_then(|s| s.head_branch),
            }))))
        }
        "check_suite" => {
            let p: CheckSuitePayload = parse(event, body)?;
            if p.action != "completed" {
                return ignored(format!("check_suite action {}", p.action));
            }
            Ok(Received::Event(Box::new(Event::CheckSuite(CheckSuiteEvent {
                repo: repo(&p.repository)?,
                action: p.action,
                head_sha: p.check_suite.head_sha,
                head_branch: p.check_suite.head_branch,
                conclusion: p.check_suite.conclusion.as_deref().and_then(Conclusion::from_api),
            }))))
        }
        "status" => {
            let p: StatusPayload = parse(event, body)?;
            let Some(state) = StatusState::from_api(&p.state) else {
                return ignored(format!("status state {}", p.state));
            };
            Ok(Received::Event(Box::new(Event::Status(StatusEvent {
                repo: repo(&p.repository)?,
                sha: p.sha,
                context: p.context,
                state,
                branches: p.branches.into_iter().map(|b| b.name).collect(),
            }))))
        }
        "issue_comment" => {
            let p: IssueCommentPayload = parse(event, body)?;
            let action = match p.action.as_str() {
                "created" => CommentAction::Created,
                "edited" => CommentAction::Edited,
                "deleted" => CommentAction::Deleted,
                other => return ignored(format!("issue_comment action {other}")),
            };
            let author_is_bot = is_bot(&p.comment.user) || p.comment.performed_via_github_app.is_some();
            Ok(Received::Event(Box::new(Event::IssueComment(CommentEvent {
                repo: repo(&p.repository)?,
                action,
                issue_number: p.issue.number,
                is_pull_request: p.issue.pull_request.is_some(),
                comment_id: p.comment.id,
                body: p.comment.body.unwrap_or_default(),
                author: p.comment.user.login,
                author_is_bot,
            }))))
        }
        "push" => {
            let p: PushPayload = parse(event, body)?;
            let full = p.repository.full_name.parse().map_err(|e| format!("repository.full_name: {e}"))?;
            Ok(Received::Event(Box::new(Event::Push(PushEvent {
                repo: full,
                git_ref: p.git_ref,
                after: p.after,
                default_branch: p.repository.default_branch,
                pipeline: pipeline_touch(&p.commits),
            }))))
        }
        "installation" => {
            let p: InstallationPayload = parse(event, body)?;
            let owner = p.installation.account.login;
            let change = match p.action.as_str() {
                "created" => InstallationChange::Added { owner, repos: repos(&p.repositories.unwrap_or_default())? },
                "deleted" => InstallationChange::Uninstalled { owner },
                other => return ignored(format!("installation action {other}")),
            };
            Ok(Received::Event(Box::new(Event::Installation(change))))
        }
        "installation_repositories" => {
            let p: InstallationRepositoriesPayload = parse(event, body)?;
            let owner = p.installation.account.login;
            let change = match p.action.as_str() {
                "added" => InstallationChange::Added { owner, repos: repos(&p.repositories_added)? },
                "removed" => InstallationChange::Removed { owner, repos: repos(&p.repositories_removed)? },
                other => return ignored(format!("installation_repositories action {other}")),
            };
            Ok(Received::Event(Box::new(Event::Installation(change))))
        }
        "repository" => {
            let p: RepositoryPayload = parse(event, body)?;
            let to = repo(&p.repository)?;
            let from = match p.action.as_str() {
                "renamed" => {
                    let old = p.changes.pointer("/repository/name/from").and_then(|v| v.as_str());
                    let old = old.ok_or("repository renamed without changes.repository.name.from")?;
                    format!("{}/{old}", to.owner())
                }
                "transferred" => {
                    let from = &p.changes["owner"]["from"];
                    let old = from.pointer("/organization/login").or_else(|| from.pointer("/user/login"));
                    let old =
                        old.and_then(|v| v.as_str()).ok_or("repository transferred without changes.owner.from")?;
                    format!("{old}/{}", to.name())
                }
                other => return ignored(format!("repository action {other}")),
            };
            let from = from.parse().map_err(|e| format!("repository: previous name: {e}"))?;
            Ok(Received::Event(Box::new(Event::Installation(InstallationChange::Moved { from, to }))))
        }
        "package" | "registry_package" => {
            let p: PackagePayload = parse(event, body)?;
            if p.action != "published" {
                return ignored(format!("{event} action {}", p.action));
            }
            let pkg = p.package;
            if !pkg.package_type.eq_ignore_ascii_case("container") {
                return ignored(format!("{event} of type {}", pkg.package_type));
            }
            let tag = pkg
                .package_version
                .and_then(|v| v.container_metadata)
                .and_then(|m| m.tag)
                .and_then(|t| t.name)
                .unwrap_or_default();
            if tag.is_empty() {
                return ignored(format!("{event}: a push without a tag"));
            }
            let tag: Tag = tag.parse().map_err(|e| format!("{event}: {e}"))?;
            let owner = pkg
                .namespace
                .or(pkg.owner.map(|o| o.login))
                .ok_or_else(|| format!("{event}: package has neither namespace nor owner"))?;
            let host = pkg
                .registry
                .and_then(|r| r.url)
                .and_then(|u| url::Url::parse(&u).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "ghcr.io".to_string());
            Ok(Received::Event(Box::new(Event::RegistryPush(RegistryPush {
                host: Some(host),
                repository: format!("{owner}/{}", pkg.name).to_lowercase(),
                tag,
                digest: None,
            }))))
        }
        "merge_group" => {
            let p: MergeGroupPayload = parse(event, body)?;
            if p.action != "checks_requested" {
                return ignored(format!("merge_group action {}", p.action));
            }
            let g = p.merge_group;
            Ok(Received::Event(Box::new(Event::MergeGroup(MergeGroupEvent {
                repo: repo(&p.repository)?,
                head_sha: g.head_sha,
                head_ref: g.head_ref,
                base_sha: g.base_sha,
                base_ref: g.base_ref,
            }))))
        }
        "workflow_run" => {
            let p: WorkflowRunPayload = parse(event, body)?;
            if p.action != "completed" {
                return ignored(format!("workflow_run action {}", p.action));
            }
            let run = p.workflow_run;
            let Some(path) = run.path.clone().or(p.workflow.and_then(|w| w.path)) else {
                return ignored("workflow_run without a workflow path".to_string());
            };
            // `.github/workflows/e2e.yml` (a dynamic workflow may carry `@ref` after it).
            let path = path.split('@').next().unwrap_or_default();
            let workflow_file = path.rsplit('/').next().unwrap_or_default().to_string();
            if workflow_file.is_empty() {
                return Err("workflow_run.path names no workflow file".into());
            }
            Ok(Received::Event(Box::new(Event::WorkflowRun(WorkflowRunEvent {
                repo: repo(&p.repository)?,
                run_id: run.id,
                workflow_file,
                trigger: run.event,
                head_sha: run.head_sha,
                head_branch: run.head_branch,
                conclusion: run.conclusion,
                display_title: run.display_title.unwrap_or_default(),
                created_at: run.created_at,
            }))))
        }
        other => ignored(format!("event {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vendored @octokit/webhooks-examples payload `index` of `event`.
    fn example(event: &str, index: u64) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/webhooks/examples.json");
        let all: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ex = all.iter().find(|e| e["event"] == event && e["index"] == index).expect("example exists");
        serde_json::to_vec(&ex["payload"]).unwrap()
    }

    fn parsed(event: &str, index: u64) -> Event {
        match parse_event(event, &example(event, index)).unwrap() {
            Received::Event(ev) => *ev,
            Received::Ignored(why) => panic!("{event} {index} ignored: {why}"),
        }
    }

    /// The vendored example payloads of @octokit/webhooks-examples (tests/data/webhooks/SOURCE).
    fn example_json(event: &str, index: u64) -> serde_json::Value {
        let all: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../tests/data/webhooks/examples.json")).expect("vendored examples");
        all.into_iter()
            .find(|e| e["event"] == event && e["index"] == index)
            .map(|e| e["payload"].clone())
            .unwrap_or_else(|| panic!("no example {event} #{index}"))
    }

    fn received(event: &str, payload: &serde_json::Value) -> Received {
        parse_event(event, &serde_json::to_vec(payload).unwrap()).expect("parses")
    }

    fn event_of(event: &str, payload: &serde_json::Value) -> Event {
        match received(event, payload) {
            Received::Event(e) => *e,
            Received::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    #[test]
    fn merge_group_checks_requested() {
        insta::assert_yaml_snapshot!(parsed("merge_group", 0), @r#"
        MergeGroup:
          repo: octo-org/octo-repo
          head_sha: 2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d
          head_ref: refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64
          base_sha: 380387fbc80638b734a49e1be1c4dfec1c01b33c
          base_ref: refs/heads/main
        "#);
    }

    #[test]
    fn workflow_run_completed() {
        insta::assert_yaml_snapshot!(parsed("workflow_run", 1), @r#"
        WorkflowRun:
          repo: octo-org/octo-repo
          run_id: 289782451
          workflow_file: test.yml
          trigger: repository_dispatch
          head_sha: 3484a3fb816e0859fd6e1cea078d76385ff50625
          head_branch: master
          conclusion: success
          display_title: "ci(action): update actions/setup-node digest to 8c91899"
          created_at: "2020-10-05T16:33:24Z"
        "#);
    }

    #[test]
    fn other_actions_are_ignored() {
        let body = example("workflow_run", 3);
        assert_eq!(parse_event("workflow_run", &body), Ok(Received::Ignored("workflow_run action requested".into())));
        let mut v: serde_json::Value = serde_json::from_slice(&example("merge_group", 0)).unwrap();
        v["action"] = "destroyed".into();
        let body = serde_json::to_vec(&v).unwrap();
        assert_eq!(parse_event("merge_group", &body), Ok(Received::Ignored("merge_group action destroyed".into())));
        v["action"] = "checks_requested".into();
        v["merge_group"].as_object_mut().unwrap().remove("head_sha");
        let body = serde_json::to_vec(&v).unwrap();
        let e = parse_event("merge_group", &body).unwrap_err();
        assert!(e.starts_with("malformed merge_group payload: missing field `head_sha`"), "{e}");
    }

    #[test]
    fn installation_events_of_the_examples() {
        let cases = [
            ("installation", 1),
            ("installation", 0),
            ("installation_repositories", 0),
            ("installation_repositories", 2),
            ("repository", 9),
            ("repository", 10),
            ("repository", 12),
        ];
        let parsed: Vec<(String, Event)> = cases
            .iter()
            .map(|(event, i)| (format!("{event} #{i}"), event_of(event, &example_json(event, *i))))
            .collect();
        insta::assert_yaml_snapshot!(parsed);
    }

    #[test]
    fn other_installation_actions_are_ignored() {
        for (event, i) in [("installation", 4), ("installation", 5), ("repository", 3), ("repository", 1)] {
            assert!(matches!(received(event, &example_json(event, i)), Received::Ignored(_)), "{event} #{i}");
        }
    }

    #[test]
    fn push_says_whether_the_pipeline_file_changed() {
        let base = example_json("push", 4);
        let with = |files: serde_json::Value, n: usize| {
            let mut p = base.clone();
            let commit = p["commits"][0].clone();
            let mut commits = vec![];
            for i in 0..n {
                let mut c = commit.clone();
                c["added"] = serde_json::json!([]);
                c["modified"] = serde_json::json!([]);
                c["removed"] = serde_json::json!([]);
                if i == 0 {
                    for (k, v) in files.as_object().unwrap() {
                        c[k] = v.clone();
                    }
                }
                commits.push(c);
            }
            p["commits"] = serde_json::Value::Array(commits);
            match event_of("push", &p) {
                Event::Push(p) => (p.pipeline, p.to_default_branch()),
                other => panic!("{other:?}"),
            }
        };
        let readme = serde_json::json!({"added": ["README.md"]});
        let rows = [
            (with(readme.clone(), 1), (PipelineTouch::Untouched, true)),
            (with(serde_json::json!({"added": [".baton.yaml"]}), 1), (PipelineTouch::Touched, true)),
            (with(serde_json::json!({"modified": [".baton.yaml"]}), 3), (PipelineTouch::Touched, true)),
            (with(serde_json::json!({"removed": [".baton.yaml"]}), 1), (PipelineTouch::Touched, true)),
            (with(serde_json::json!({"modified": ["sub/.baton.yaml"]}), 1), (PipelineTouch::Untouched, true)),
            (with(readme.clone(), 19), (PipelineTouch::Untouched, true)),
            (with(readme, 20), (PipelineTouch::Unknown, true)),
        ];
        for (i, (got, want)) in rows.into_iter().enumerate() {
            assert_eq!(got, want, "row {i}");
        }
        // A tag push is not a push to the default branch.
        match event_of("push", &example_json("push", 0)) {
            Event::Push(p) => assert!(!p.to_default_branch() && p.pipeline == PipelineTouch::Untouched),
            other => panic!("{other:?}"),
        }
    }
}
