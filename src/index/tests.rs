use super::*;
use crate::event::{PushEvent, RegistryPush};

pub(crate) const PIPELINE: &str = "\
artifacts:
  app:
    image: registry.internal/deployments/app
    tags: '\\d+'
    verify: [{ key: k.pub }]
  worker:
    image: registry.internal/deployments/worker
    tags: '\\d+'
    verify: [{ key: k.pub }]
stages:
  - name: dev
    pointers:
      - { file: dev/app.yaml, format: flux-oci, artifact: app }
  - name: prod
    from: dev
    pointers:
      - { file: prod/app.yaml, format: flux-oci, artifact: app }
  - name: batch
    pointers:
      - { file: batch/worker.yaml, format: flux-oci, artifact: worker }
";

fn r(s: &str) -> RepoName {
    s.parse().unwrap()
}

fn found(oid: &str, text: &str) -> RepoPipeline {
    RepoPipeline::Found {
        default_branch: Some("main".into()),
        file: Some(PipelineBlob { oid: oid.into(), text: Some(text.into()) }),
    }
}

fn absent() -> RepoPipeline {
    RepoPipeline::Found { default_branch: Some("main".into()), file: None }
}

fn push(repo: &str, git_ref: &str, pipeline: PipelineTouch) -> Event {
    Event::Push(PushEvent {
        repo: r(repo),
        git_ref: git_ref.into(),
        after: "abc".into(),
        default_branch: Some("main".into()),
        pipeline,
    })
}

#[test]
fn work_for_events() {
    let moved = InstallationChange::Moved { from: r("org/old"), to: r("org/new") };
    let rows: Vec<(Event, IndexWork)> = vec![
        (push("org/a", "refs/heads/main", PipelineTouch::Touched), IndexWork::Reread(vec![r("org/a")])),
        (push("org/a", "refs/heads/main", PipelineTouch::Unknown), IndexWork::Reread(vec![r("org/a")])),
        (push("org/a", "refs/heads/main", PipelineTouch::Untouched), IndexWork::Nothing),
        (push("org/a", "refs/heads/feature", PipelineTouch::Touched), IndexWork::Nothing),
        (push("org/a", "refs/tags/v1", PipelineTouch::Touched), IndexWork::Nothing),
        (
            Event::Installation(InstallationChange::Added { owner: "org".into(), repos: vec![r("org/a")] }),
            IndexWork::Install(vec![r("org/a")]),
        ),
        (
            Event::Installation(InstallationChange::Removed { owner: "org".into(), repos: vec![r("org/a")] }),
            IndexWork::Forget(vec![r("org/a")]),
        ),
        (
            Event::Installation(InstallationChange::Uninstalled { owner: "org".into() }),
            IndexWork::ForgetOwner("org".into()),
        ),
        (Event::Installation(moved), IndexWork::Move { from: r("org/old"), to: r("org/new") }),
        (
            Event::RegistryPush(RegistryPush {
                host: None,
                repository: "x".into(),
                tag: "1".parse().unwrap(),
                digest: None,
            }),
            IndexWork::Nothing,
        ),
    ];
    for (event, want) in rows {
        assert_eq!(work_for(&event), want, "{event:?}");
    }
}

#[test]
fn targets_name_the_first_stages_an_artifact_feeds() {
    let p = pipeline::parse(PIPELINE).unwrap();
    let t = targets_of(&r("org/deploy"), &p);
    let got: Vec<(String, String, Vec<String>)> = t
        .into_iter()
        .map(|(path, t)| (path, t.artifact.to_string(), t.stages.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("deployments/app".into(), "app".into(), vec!["dev".into()]),
            ("deployments/worker".into(), "worker".into(), vec!["batch".into()]),
        ]
    );
}

#[test]
fn replace_record_forget() {
    let idx = Index::new();
    assert!(!idx.is_built());
    let c = idx.replace(
        vec![r("org/a"), r("org/b"), r("org/c")],
        vec![(r("org/a"), found("1", PIPELINE)), (r("org/b"), absent()), (r("org/c"), found("2", "not: [valid"))],
    );
    assert!(idx.is_built());
    assert_eq!(c.added, vec![r("org/a"), r("org/c")]);
    assert_eq!(idx.configured(), vec![r("org/a"), r("org/c")]);
    assert!(idx.entry(&r("org/c")).unwrap().pipeline.is_err());
    assert_eq!(idx.targets("deployments/app").iter().map(|t| t.repo.clone()).collect::<Vec<_>>(), vec![r("org/a")]);
    assert!(idx.targets("library/nginx").is_empty());

    // The same blob again changes nothing; a new blob is re-parsed; a removed file is forgotten.
    assert_eq!(idx.record(vec![(r("org/a"), found("1", PIPELINE))]), Changes::default());
    let c = idx.record(vec![(r("org/b"), found("3", PIPELINE)), (r("org/a"), absent())]);
    assert_eq!(c, Changes { added: vec![r("org/b")], updated: vec![], removed: vec![r("org/a")] });
    assert_eq!(idx.targets("deployments/app").iter().map(|t| t.repo.clone()).collect::<Vec<_>>(), vec![r("org/b")]);

    // A repository GitHub no longer resolves leaves the index.
    idx.record(vec![(r("org/b"), RepoPipeline::Missing)]);
    assert!(idx.targets("deployments/app").is_empty());
    assert!(!idx.installed().contains(&r("org/b")));

    idx.record(vec![(r("other/x"), found("4", PIPELINE))]);
    idx.forget_owner("org");
    assert_eq!(idx.configured(), vec![r("other/x")]);
    assert_eq!(idx.installed(), vec![r("other/x")]);

    // A full listing drops what is no longer installed.
    let c = idx.replace(vec![r("org/z")], vec![(r("org/z"), absent())]);
    assert_eq!(c.removed, vec![r("other/x")]);
    assert!(idx.configured().is_empty());
}
