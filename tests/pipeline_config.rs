//! `.baton.yaml` parsing: the commented example parses into the expected pipeline;
//! every kind of problem names the right line; garbage never panics.

use std::path::Path;
use std::time::Duration;

use baton::pipeline::{parse, Approver, Pipeline, Promotion, VerifyEntry, WriteMode};
use baton::pointer::Format;
use baton::types::{ArtifactName, StageName};

fn example() -> Pipeline {
    let text = std::fs::read_to_string("examples/baton.yaml").unwrap();
    parse(&text).unwrap_or_else(|e| panic!("examples/baton.yaml must parse:\n{e}"))
}

fn stage(name: &str) -> StageName {
    name.parse().unwrap()
}

fn art(name: &str) -> ArtifactName {
    name.parse().unwrap()
}

/// The problems for `text`, one per line, as `baton check-config` prints them.
fn problems(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected problems for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The pipeline example of the project brief, verbatim.
const DESIGN_EXAMPLE: &str = r#"artifacts:
  myapp:
    image: registry.internal/deployments/myapp   # OCI repository, no tag
    tags: '^\d+\.\d+\.\d+$'                      # release tags; newest = highest semver
    verify:                                      # any one entry passing is enough
      - key: .baton/keys/deploy.pub              # cosign public key, path in this repo
      - issuer: https://token.actions.githubusercontent.com
        subject: '^https://github\.com/org/deployment/\.github/workflows/build\.yml@refs/heads/main$'
stages:
  - name: dev
    pointers:
      - file: clusters/dev/myapp.yaml
        format: flux-oci                         # see section 4
        artifact: myapp
    promotion: auto                              # auto | manual
    write: pull-request                          # pull-request (auto-merged when green) | commit
    verification:
      checks: ["kustomization/myapp-dev", "smoke / dev"]   # status contexts or check-run names
      soak: 10m                                  # optional minimum time on the stage
  - name: staging
    from: dev
    promotion: auto
    pointers: [{ file: clusters/staging/myapp.yaml, format: flux-oci, artifact: myapp }]
    verification: { checks: ["e2e / staging"], soak: 30m }
  - name: prod
    from: staging
    promotion: manual
    approvers: [codeowners, "@org/sre", "@alice"]  # who may /promote or /rollback here
    freeze: { file: clusters/prod/FREEZE }         # present on the default branch = frozen
    pointers: [{ file: clusters/prod/myapp.yaml, format: flux-oci, artifact: myapp }]
"#;

#[test]
fn design_example_parses() {
    let p = parse(DESIGN_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "prod"]);
    let prod = p.stage(&stage("prod")).unwrap();
    assert_eq!(prod.promotion, Promotion::Manual);
    assert_eq!(prod.from, Some(stage("staging")));
    assert_eq!(prod.verification.checks.len(), 0);
    let myapp = p.artifact(&art("myapp")).unwrap();
    assert!(myapp.tags.is_match("0.5.123"));
}

#[test]
fn example_parses() {
    let p = example();
    assert_eq!(p.artifacts.len(), 4);
    let myapp = p.artifact(&art("myapp")).unwrap();
    assert_eq!(myapp.image.to_string(), "registry.internal/deployments/myapp");
    assert!(myapp.tags.is_match("0.5.123"));
    assert!(!myapp.tags.is_match("0.5.123-rc1"));
    assert!(!myapp.tags.is_match("latest"));
    assert_eq!(myapp.verify.len(), 2);
    assert!(matches!(&myapp.verify[0], VerifyEntry::Key { path } if path.as_str() == ".baton/keys/deploy.pub"));
    let VerifyEntry::Keyless { issuer, subject } = &myapp.verify[1] else { panic!("keyless expected") };
    assert_eq!(issuer, "https://token.actions.githubusercontent.com");
    assert!(subject.is_match("https://github.com/org/deployment/.github/workflows/build.yml@refs/heads/main"));
    assert!(!subject.is_match("https://github.com/org/deployment/.github/workflows/build.yml@refs/heads/evil"));
    // The web subject has no anchors in the file; it is anchored anyway.
    let web = p.artifact(&art("web")).unwrap();
    let VerifyEntry::Keyless { subject, .. } = &web.verify[0] else { panic!("keyless expected") };
    assert!(subject.is_match("https://github.com/org/web/.github/workflows/release.yml@refs/tags/v1.2.3"));
    assert!(!subject.is_match("x https://github.com/org/web/.github/workflows/release.yml@refs/tags/v1"));
    assert!(!web.tags.is_match("1.2.3") && web.tags.is_match("v1.2.3"));

    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "prod-eu", "prod-us"]);

    let dev = p.stage(&stage("dev")).unwrap();
    assert_eq!(dev.from, None);
    assert_eq!(dev.promotion, Promotion::Auto);
    assert_eq!(dev.write, WriteMode::PullRequest);
    let checks: Vec<&str> = dev.verification.checks.iter().map(|c| c.pattern.as_str()).collect();
    assert_eq!(checks, ["kustomization/myapp-dev/*", "smoke / dev"]);
    assert_eq!(dev.verification.timeout, Some(Duration::from_secs(1800)));
    assert_eq!(dev.verification.soak, Some(Duration::from_secs(600)));
    assert_eq!(dev.pointers[1].format, Format::HelmValues);
    assert_eq!(dev.pointers[1].selector.field.as_deref(), Some("web.image"));

    let staging = p.stage(&stage("staging")).unwrap();
    assert_eq!(staging.from, Some(stage("dev")));
    assert_eq!(staging.verification.soak, Some(Duration::from_secs(1800)));
    let c = &staging.verification.checks[0];
    assert_eq!((c.pattern.as_str(), c.min), ("kustomization/myapp-staging-*/*", 2));
    assert_eq!(staging.verification.workflows[0].file, "e2e.yml");
    let kustomize = &staging.pointers[1];
    assert_eq!(kustomize.format, Format::KustomizeImage);
    // kustomize-image's `image` defaults to the artifact's image.
    assert_eq!(kustomize.selector.image.as_deref(), Some("ghcr.io/org/web"));

    let eu = p.stage(&stage("prod-eu")).unwrap();
    assert_eq!(eu.promotion, Promotion::Manual);
    assert_eq!(
        eu.approvers,
        [
            Approver::Codeowners,
            Approver::Team { org: "org".into(), slug: "sre".into() },
            Approver::User("alice".into())
        ]
    );
    assert_eq!(eu.freeze.as_ref().unwrap().as_str(), "clusters/prod-eu/FREEZE");
    assert_eq!(eu.pointers[0].selector.name.as_deref(), Some("myapp"));
    let yp = &eu.pointers[1];
    assert_eq!(yp.format, Format::YamlPath);
    assert_eq!(yp.selector.field.as_deref(), Some("spec.values.webImage"));
    assert_eq!(yp.selector.template.as_deref(), Some("{repository}:{tag}@{digest}"));
    assert_eq!(yp.selector.image.as_deref(), Some("ghcr.io/org/web"));
    assert_eq!(eu.verification.soak, Some(Duration::from_secs(5400)));

    let us = p.stage(&stage("prod-us")).unwrap();
    // Defaults: manual because of approvers; write as given.
    assert_eq!(us.promotion, Promotion::Manual);
    assert_eq!(us.write, WriteMode::Commit);

    // All four pointer formats are used.
    for f in Format::ALL {
        assert!(p.stages.iter().flat_map(|s| &s.pointers).any(|ptr| ptr.format == f), "{f} unused");
    }
}

#[test]
fn example_helpers() {
    let p = example();
    let first: Vec<&str> = p.first_stages().map(|s| s.name.as_str()).collect();
    assert_eq!(first, ["dev"]);
    let staging = stage("staging");
    let fan_out: Vec<&str> = p.downstream(&staging).map(|s| s.name.as_str()).collect();
    assert_eq!(fan_out, ["prod-eu", "prod-us"]);
    let eu = p.stage(&stage("prod-eu")).unwrap();
    assert_eq!(p.upstream(eu).unwrap().name, staging);

    let web = art("web");
    let web_ptrs: Vec<(&str, &str)> =
        p.pointers_for_artifact(&web).map(|(s, ptr)| (s.name.as_str(), ptr.file.as_str())).collect();
    assert_eq!(
        web_ptrs,
        [
            ("dev", "env/dev/web-values.yaml"),
            ("staging", "env/staging/kustomization.yaml"),
            ("prod-eu", "clusters/prod-eu/web.yaml"),
            ("prod-us", "clusters/prod-us/web.yaml"),
        ]
    );
    let hits = p.stage_for_file("clusters/staging/myapp.yaml");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0.name, staging);
    assert_eq!(hits[0].1.artifact, art("myapp"));
    assert!(p.stage_for_file("README.md").is_empty());
    assert!(p.is_pointer_file("clusters/prod-us/web.yaml"));
    let frozen: Vec<&str> = p.stages_for_freeze_file("clusters/prod-us/FREEZE").map(|s| s.name.as_str()).collect();
    assert_eq!(frozen, ["prod-us"]);
    assert_eq!(eu.artifacts(), [&art("myapp"), &web, &art("api"), &art("worker")]);
    assert_eq!(eu.pointers_for(&web).count(), 1);

    let order: Vec<&str> = p.topological_order().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["dev", "staging", "prod-eu", "prod-us"]);
}

#[test]
fn stages_may_be_listed_in_any_order() {
    let text = "\
artifacts:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - { name: prod, from: staging, pointers: [{ file: p.yaml, format: flux-oci, artifact: app }] }
  - { name: staging, from: dev, pointers: [{ file: s.yaml, format: flux-oci, artifact: app }] }
  - { name: dev, pointers: [{ file: d.yaml, format: flux-oci, artifact: app }] }
";
    let p = parse(text).unwrap();
    let order: Vec<&str> = p.topological_order().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["dev", "staging", "prod"]);
}

/// Each file in examples/invalid/ fails with problems that name their lines; the full list is a
/// snapshot so that a change in wording or line is reviewed.
#[test]
fn invalid_examples() {
    let mut files: Vec<_> = std::fs::read_dir("examples/invalid")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let err = parse(&text).expect_err(&format!("{} must be invalid", path.display()));
        let lines = text.lines().count();
        for p in &err.problems {
            let line = p.line.unwrap_or_else(|| panic!("{}: problem without a line: {p}", path.display()));
            assert!((1..=lines).contains(&line), "{}: line {line} out of range: {p}", path.display());
        }
        let name = Path::new(&path).file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(format!("invalid_{name}"), err.to_string());
    }
}

#[test]
fn cycles() {
    let text = "\
artifacts:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - name: dev
    pointers: [{ file: d.yaml, format: flux-oci, artifact: app }]
  - name: a
    from: c
    pointers: [{ file: a.yaml, format: flux-oci, artifact: app }]
  - name: b
    from: a
    pointers: [{ file: b.yaml, format: flux-oci, artifact: app }]
  - name: c
    from: b
    pointers: [{ file: c.yaml, format: flux-oci, artifact: app }]
  - name: self
    from: self
    pointers: [{ file: s.yaml, format: flux-oci, artifact: app }]
";
    insta::assert_snapshot!(problems(text), @r"
    line 7: stages[1] (a).from: `from` links form a cycle: a → b → c → a (a stage promotes what the one before it verified)
    line 16: stages[4] (self).from: a stage cannot come from itself
    ");
}

#[test]
fn two_stage_cycle_without_first_stage() {
    let text = "\
artifacts:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - { name: a, from: b, pointers: [{ file: a.yaml, format: flux-oci, artifact: app }] }
  - { name: b, from: a, pointers: [{ file: b.yaml, format: flux-oci, artifact: app }] }
";
    insta::assert_snapshot!(problems(text), @r"
    line 3: stages: no first stage: at least one stage must have no `from` (it receives new versions from the registry)
    line 4: stages[0] (a).from: `from` links form a cycle: a → b → a (a stage promotes what the one before it verified)
    ");
}

#[test]
fn unknown_from() {
    let text = "\
artifacts:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - name: dev
    pointers: [{ file: d.yaml, format: flux-oci, artifact: app }]
  - name: staging
    from: dve
    pointers: [{ file: s.yaml, format: flux-oci, artifact: app }]
";
    insta::assert_snapshot!(problems(text), @"line 7: stages[1] (staging).from: unknown stage `dve` (did you mean `dev`?)");
}

#[test]
fn path_escape() {
    for (path, ok) in [
        ("../x", false),
        ("/etc/x", false),
        ("a/../../x", false),
        ("a/./x", false),
        ("a//x", false),
        ("a\\\\x", false),
        ("", false),
        ("clusters/dev/app.yaml", true),
        (".baton/keys/k.pub", true),
    ] {
        let text = format!(
            "artifacts:\n  app: {{ image: registry.internal/app, tags: '.*', verify: [{{ key: k.pub }}] }}\nstages:\n  - name: dev\n    pointers:\n      - file: \"{path}\"\n        format: flux-oci\n        artifact: app\n"
        );
        match parse(&text) {
            Ok(_) => assert!(ok, "{path:?} must be refused"),
            Err(e) => {
                assert!(!ok, "{path:?} must be accepted: {e}");
                assert_eq!(e.problems.len(), 1, "{e}");
                assert_eq!(e.problems[0].line, Some(6), "{e}");
                assert!(e.problems[0].message.starts_with("stages[0] (dev).pointers[0].file: "), "{e}");
            }
        }
    }
}

#[test]
fn invalid_regex() {
    let text = "\
artifacts:
  app:
    image: registry.internal/app
    tags: '[0-9'
    verify:
      - issuer: https://token.actions.githubusercontent.com
        subject: '(?P<x'
stages:
  - { name: dev, pointers: [{ file: d.yaml, format: flux-oci, artifact: app }] }
";
    insta::assert_snapshot!(problems(text), @r"
    line 4: artifacts.app.tags: invalid regular expression: unclosed character class
    line 7: artifacts.app.verify[0].subject: invalid regular expression: unclosed capture group name
    ");
}

#[test]
fn unknown_keys_with_suggestions() {
    let text = "\
artifact:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - name: dev
    pointer: [{ file: d.yaml, format: flux-oci, artifact: app }]
";
    insta::assert_snapshot!(problems(text), @r"
    line 1: unknown key `artifact` in the pipeline file (did you mean `artifacts`?)
    line 5: stages[0] (dev): unknown key `pointer` in a stage (did you mean `pointers`?)
    ");
}

#[test]
fn duplicate_stage() {
    let text = "\
artifacts:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - { name: dev, pointers: [{ file: d.yaml, format: flux-oci, artifact: app }] }
  - { name: dev, pointers: [{ file: e.yaml, format: flux-oci, artifact: app }] }
";
    insta::assert_snapshot!(problems(text), @"line 5: stages[1] (dev): duplicate stage name `dev` (first on line 4)");
}

#[test]
fn duplicate_pointer_across_stages() {
    // helm-values' default field is `image`, so these two are the same pointer.
    let text = "\
artifacts:
  app: { image: registry.internal/app, tags: '.*', verify: [{ key: k.pub }] }
stages:
  - { name: dev, pointers: [{ file: v.yaml, format: helm-values, artifact: app }] }
  - { name: staging, from: dev, pointers: [{ file: v.yaml, format: helm-values, artifact: app, field: image }] }
  - { name: prod, from: dev, pointers: [{ file: v.yaml, format: helm-values, artifact: app, field: prod.image }] }
";
    insta::assert_snapshot!(problems(text), @"line 5: stages[1] (staging).pointers[0]: pointer (helm-values v.yaml) is already used by stage `dev` (line 4); a pointer belongs to one stage");
}

#[test]
fn empty_verify_fails_closed() {
    let text = "\
artifacts:
  app:
    image: registry.internal/app
    tags: '.*'
    verify: []
stages:
  - { name: dev, pointers: [{ file: d.yaml, format: flux-oci, artifact: app }] }
";
    insta::assert_snapshot!(problems(text), @"line 5: artifacts.app.verify: baton fails closed: at least one verify entry is required");
}

#[test]
fn every_problem_is_reported() {
    // Problems in different parts of the file are all listed, in line order.
    let text = "\
artifacts:
  app: { image: app, tags: '(', verify: [] }
stages:
  - { name: Dev, pointers: [{ file: ../d.yaml, format: flux, artifact: ap }], soak: 1m }
  - { name: staging, from: qa, promotion: sometimes, pointers: [{ file: s.yaml, format: flux-oci, artifact: app }] }
";
    let e = parse(text).unwrap_err();
    let lines: Vec<Option<usize>> = e.problems.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        [Some(2), Some(2), Some(2), Some(4), Some(4), Some(4), Some(4), Some(4), Some(5), Some(5)],
        "{e}"
    );
}

/// A tiny deterministic generator, so that the garbage below is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_never_panics() {
    let example = std::fs::read_to_string("examples/baton.yaml").unwrap();
    let alphabet: Vec<char> = "ab :-[]{},#&*!|>'\"\n\t\\?%@`~.0123456789\u{0}\u{feff}é€𝄞".chars().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inputs: Vec<String> = Vec::new();
    // Random strings over YAML's special characters.
    for _ in 0..2_000 {
        let len = rng.below(200);
        inputs.push((0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect());
    }
    // Mutations of the valid example: deletions, insertions, swapped and truncated lines.
    let lines: Vec<&str> = example.lines().collect();
    for _ in 0..300 {
        let mut chars: Vec<char> = example.chars().collect();
        for _ in 0..1 + rng.below(5) {
            let at = rng.below(chars.len());
            match rng.below(3) {
                0 => {
                    chars.remove(at);
                }
                1 => chars.insert(at, alphabet[rng.below(alphabet.len())]),
                _ => chars.truncate(at),
            }
        }
        inputs.push(chars.into_iter().collect());
        let mut shuffled = lines.clone();
        let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
        shuffled.swap(a, b);
        inputs.push(shuffled.join("\n"));
    }
    inputs.extend(
        [
            "",
            "\n",
            "~",
            "[]",
            "{}",
            "---",
            "...",
            "- - -",
            "artifacts:",
            "stages:",
            "artifacts: [",
            "&a [*a]",
            "*a",
            "!!binary x",
            "? : ?",
        ]
        .map(String::from),
    );
    for input in &inputs {
        let lines = input.lines().count().max(1);
        match parse(input) {
            Ok(_) => {}
            Err(e) => {
                assert!(!e.problems.is_empty());
                for p in &e.problems {
                    if let Some(l) = p.line {
                        assert!((1..=lines).contains(&l), "line {l} of {lines} for {input:?}: {p}");
                    }
                }
            }
        }
    }
}
