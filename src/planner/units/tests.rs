use super::*;
use crate::pipeline::{parse, Pipeline};
use crate::types::{Digest, Tag};
use std::collections::BTreeMap;

fn d(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64)).parse().unwrap()
}

fn a(n: &str) -> ArtifactName {
    n.parse().unwrap()
}

fn v(tag: &str, c: char) -> Version {
    Version { tag: tag.parse::<Tag>().unwrap(), digest: d(c) }
}

fn pipeline(when: &str) -> Pipeline {
    let text = format!(
        r#"artifacts:
  api: {{ image: r.io/api, tags: '\d+\.\d+\.\d+', verify: [{{ key: k.pub }}] }}
  web: {{ image: r.io/web, tags: '\d+\.\d+\.\d+', verify: [{{ key: k.pub }}] }}
  worker: {{ image: r.io/worker, tags: '\d+\.\d+\.\d+', verify: [{{ key: k.pub }}] }}
groups:
  platform: {{ artifacts: [api, web, worker], when: {when} }}
stages:
  - name: dev
    pointers:
      - {{ file: dev/api.yaml, format: helm-values, artifact: api }}
      - {{ file: dev/web.yaml, format: helm-values, artifact: web }}
      - {{ file: dev/worker.yaml, format: helm-values, artifact: worker }}
"#
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn file(path: &str, v: &Version) -> FileContent {
    FileContent {
        path: path.into(),
        sha: "blob".into(),
        text: format!("image:\n  repository: r.io/x\n  tag: \"{}\"\n  digest: {}\n", v.tag, v.digest),
    }
}

/// The stage runs api 1.0.0, web 2.0.0, worker 0.1.0.
fn running() -> Vec<FileContent> {
    vec![
        file("dev/api.yaml", &v("1.0.0", 'a')),
        file("dev/web.yaml", &v("2.0.0", 'b')),
        file("dev/worker.yaml", &v("0.1.0", 'c')),
    ]
}

fn offer(api: Version, web: Version, worker: Version, intent: Intent) -> UnitOffer {
    UnitOffer {
        members: vec![(a("api"), api), (a("web"), web), (a("worker"), worker)],
        verified_by: [("api", "key k.pub"), ("web", "key k.pub"), ("worker", "key k.pub")]
            .into_iter()
            .map(|(m, k)| (a(m), k.to_string()))
            .collect(),
        verified_in: None,
        names: BTreeMap::new(),
        intent,
    }
}

fn plan(p: &Pipeline, files: &[FileContent], o: &UnitOffer, open: Option<&PullRequest>) -> Result<Decision, PlanError> {
    let stage = &p.stages[0];
    let group = p.groups.values().next().unwrap();
    let members = group
        .artifacts
        .iter()
        .map(|m| {
            let artifact = p.artifacts.get(m).unwrap();
            let pointers = stage
                .pointers_for(m)
                .map(|spec| (spec, files.iter().find(|f| f.path == spec.file.as_str()).unwrap()))
                .collect();
            MemberSnapshot { artifact, pointers }
        })
        .collect();
    let snapshot = UnitSnapshot { stage, group, default_branch: "main", default_head: "head", members, open_pr: open };
    plan_unit(&snapshot, o)
}

fn outcome(d: Result<Decision, PlanError>) -> String {
    match d {
        Ok(Decision::Noop(why)) => format!("noop: {why}"),
        Ok(Decision::Proposed { number, .. }) => format!("proposed #{number}"),
        Ok(Decision::Write(p)) => format!("write {} on {} ({} files)", p.title, p.branch, p.files.len()),
        Err(e) => format!("error: {e}"),
    }
}

fn pr_with(plan: &WritePlan) -> PullRequest {
    PullRequest {
        number: 9,
        node_id: "PR_9".into(),
        title: plan.title.clone(),
        body: plan.body.clone(),
        head_ref: plan.branch.clone(),
        head_sha: "h".into(),
        base_ref: "main".into(),
        state: crate::forge::PrState::Open,
        labels: plan.labels.clone(),
        html_url: String::new(),
        author: "baton[bot]".into(),
    }
}

#[test]
fn plan_unit_table() {
    let p = pipeline("any");
    let routine = Intent::Routine;
    let rollback = Intent::Rollback { by: "bob".into() };
    let cases: Vec<(&str, UnitOffer, &str)> = vec![
        (
            "one member new: one PR moving the unit",
            offer(v("1.1.0", 'd'), v("2.0.0", 'b'), v("0.1.0", 'c'), routine.clone()),
            "write promote platform (api 1.1.0, web 2.0.0, worker 0.1.0) to dev on baton/dev/platform (1 files)",
        ),
        (
            "two members new: two files in one commit",
            offer(v("1.1.0", 'd'), v("2.1.0", 'e'), v("0.1.0", 'c'), routine.clone()),
            "write promote platform (api 1.1.0, web 2.1.0, worker 0.1.0) to dev on baton/dev/platform (2 files)",
        ),
        (
            "the unit it runs",
            offer(v("1.0.0", 'a'), v("2.0.0", 'b'), v("0.1.0", 'c'), routine.clone()),
            "noop: dev already runs platform unit ",
        ),
        (
            "a member older: never backwards by itself",
            offer(v("0.9.0", 'd'), v("2.1.0", 'e'), v("0.1.0", 'c'), routine.clone()),
            "noop: api 0.9.0 is older than 1.0.0 which dev runs",
        ),
        (
            "a re-pushed tag is not a new unit",
            offer(v("1.0.0", 'f'), v("2.0.0", 'b'), v("0.1.0", 'c'), routine.clone()),
            "noop: dev already runs api 1.0.0 (pinned to sha256:aaaa",
        ),
        (
            "a rollback may go backwards",
            offer(v("0.9.0", 'd'), v("2.0.0", 'b'), v("0.1.0", 'c'), rollback),
            "write rollback platform to (api 0.9.0, web 2.0.0, worker 0.1.0) in dev on baton/dev/platform (1 files)",
        ),
    ];
    for (name, o, want) in cases {
        let got = outcome(plan(&p, &running(), &o, None));
        assert!(got.starts_with(want), "{name}: {got}");
    }
}

#[test]
fn an_open_unit_pr_is_the_outcome_or_updated_in_place() {
    let p = pipeline("any");
    let first = offer(v("1.1.0", 'd'), v("2.0.0", 'b'), v("0.1.0", 'c'), Intent::Routine);
    let Ok(Decision::Write(written)) = plan(&p, &running(), &first, None) else { panic!("a plan") };
    let pr = pr_with(&written);
    // The same unit again (a replayed push): the open PR is the outcome.
    assert_eq!(outcome(plan(&p, &running(), &first, Some(&pr))), "proposed #9");
    // A newer unit: the PR is updated in place.
    let newer = offer(v("1.2.0", 'e'), v("2.0.0", 'b'), v("0.1.0", 'c'), Intent::Routine);
    let Ok(Decision::Write(update)) = plan(&p, &running(), &newer, Some(&pr)) else { panic!("an update") };
    assert_eq!(update.existing_pr, Some(9));
    assert_eq!(update.branch, "baton/dev/platform");
    // An older unit than the open PR proposes (a late event): nothing.
    let older = offer(v("1.0.1", 'f'), v("2.0.0", 'b'), v("0.1.0", 'c'), Intent::Routine);
    let pr_newer = pr_with(&update);
    assert!(outcome(plan(&p, &running(), &older, Some(&pr_newer)))
        .starts_with("noop: pull request #9 already proposes a newer platform unit"));
}

#[test]
fn unit_texts() {
    let p = pipeline("any");
    let o = offer(v("1.1.0", 'd'), v("2.0.0", 'b'), v("0.1.0", 'c'), Intent::Routine);
    let Ok(Decision::Write(written)) = plan(&p, &running(), &o, None) else { panic!("a plan") };
    insta::assert_snapshot!("unit_commit_message", written.commit_message);
    insta::assert_snapshot!("unit_pr_body", written.body);
    let marker = render::parse_marker(&written.body).expect("marker");
    assert_eq!(marker.unit.as_ref().map(|u| u.id.as_str()), Some(o.id().as_str()));
    assert_eq!(written.files[0].content, "image:\n  repository: r.io/x\n  tag: \"1.1.0\"\n  digest: sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n");

    let back = offer(v("1.0.0", 'a'), v("2.0.0", 'b'), v("0.1.0", 'c'), Intent::Rollback { by: "bob".into() });
    let now = [
        file("dev/api.yaml", &v("1.1.0", 'd')),
        file("dev/web.yaml", &v("2.0.0", 'b')),
        file("dev/worker.yaml", &v("0.1.0", 'c')),
    ];
    let Ok(Decision::Write(rolled)) = plan(&p, &now, &back, None) else { panic!("a rollback") };
    insta::assert_snapshot!("unit_rollback_commit_message", rolled.commit_message);
    // The squash merge keeps the unit's trailers.
    insta::assert_snapshot!("unit_rollback_merge_message", render::merge_message(12, &rolled.marker));
    insta::assert_snapshot!(
        "unit_version_refusal",
        render::unit_version_refusal("rollback", &"staging".parse().unwrap(), &"platform".parse().unwrap())
    );
}

fn candidate(m: &str, current: Option<Version>, newest: Option<Version>) -> MemberCandidate {
    MemberCandidate { artifact: a(m), current, newest }
}

#[test]
fn unit_from_push_table() {
    let any = pipeline("any");
    let all = pipeline("all");
    let (any, all) = (any.groups.values().next().unwrap(), all.groups.values().next().unwrap());
    let only_api = vec![
        candidate("api", Some(v("1.0.0", 'a')), Some(v("1.1.0", 'd'))),
        candidate("web", Some(v("2.0.0", 'b')), Some(v("2.0.0", 'b'))),
        candidate("worker", Some(v("0.1.0", 'c')), None),
    ];
    let every = vec![
        candidate("api", Some(v("1.0.0", 'a')), Some(v("1.1.0", 'd'))),
        candidate("web", Some(v("2.0.0", 'b')), Some(v("2.1.0", 'e'))),
        candidate("worker", None, Some(v("0.2.0", 'f'))),
    ];
    let show = |r: Result<Vec<(ArtifactName, Version)>, String>| match r {
        Ok(m) => m.iter().map(|(a, v)| format!("{a} {}", v.tag)).collect::<Vec<_>>().join(", "),
        Err(e) => e,
    };
    let cases: Vec<(&str, &Group, &[MemberCandidate], &str)> = vec![
        ("any: api new, the others as they run", any, &only_api, "api 1.1.0, web 2.0.0, worker 0.1.0"),
        (
            "all: api new only",
            all,
            &only_api,
            "group `platform` moves when every member has a new version (when: all); waiting for `web`, `worker`",
        ),
        ("all: every member new", all, &every, "api 1.1.0, web 2.1.0, worker 0.2.0"),
        ("any: every member new", any, &every, "api 1.1.0, web 2.1.0, worker 0.2.0"),
    ];
    for (name, group, candidates, want) in cases {
        assert_eq!(show(unit_from_push(group, candidates)), want, "{name}");
    }
    // Nothing new at all.
    let none = vec![candidate("api", Some(v("1.0.0", 'a')), Some(v("1.0.0", 'a')))];
    assert_eq!(show(unit_from_push(any, &none)), "no member of group `platform` has a new version");
}

#[test]
fn previous_unit_table() {
    let p = pipeline("any");
    let group = p.groups.values().next().unwrap();
    let stage: StageName = "staging".parse().unwrap();
    let now = vec![(a("api"), v("1.1.0", 'd')), (a("web"), v("2.0.0", 'b'))];
    let before_ok = vec![(a("api"), Some(v("1.0.0", 'a'))), (a("web"), Some(v("2.0.0", 'b')))];
    let before_missing = vec![(a("api"), None), (a("web"), Some(v("2.0.0", 'b')))];
    let same: Vec<(ArtifactName, Option<Version>)> = now.iter().map(|(a, v)| (a.clone(), Some(v.clone()))).collect();
    let show = |r: Result<Vec<(ArtifactName, Version)>, String>| match r {
        Ok(m) => m.iter().map(|(a, v)| format!("{a} {}", v.tag)).collect::<Vec<_>>().join(", "),
        Err(e) => e,
    };
    type Before = [(ArtifactName, Option<Version>)];
    let cases: Vec<(&str, &Before, &str)> = vec![
        ("the unit before", &before_ok, "api 1.0.0, web 2.0.0"),
        (
            "a member not pinned before",
            &before_missing,
            "staging ran no version of `api` before its current platform unit: nothing to roll back to",
        ),
        ("nothing before (first commit)", &[], "staging has no earlier platform unit to roll back to"),
        ("the same unit", &same, "staging has no earlier platform unit to roll back to"),
    ];
    for (name, before, want) in cases {
        assert_eq!(show(previous_unit(&stage, group, &now, before)), want, "{name}");
    }
}
