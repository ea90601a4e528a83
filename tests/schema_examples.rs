//! `baton schema` (the JSON Schema of `.baton.yaml`, rendered from the validator's own tables):
//! the example validates, structurally invalid files do not, the schema and the validator agree
//! on small documents and on the strings of each kind, and `schema/baton.schema.json` is current.

use std::process::Command;

use baton::pipeline::schema::{json_schema, schema_text, DIALECT};
use baton::pipeline::{parse, parse_approver, parse_duration, RepoPath};
use baton::types::{ImageName, StageName};
use serde_json::{json, Value};

const CHECKED_IN: &str = "schema/baton.schema.json";

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the schema compiles")
}

/// YAML as a JSON value, the way an editor's YAML language server sees it.
fn load(text: &str) -> Result<Value, String> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| e.to_string())
}

fn schema_errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{}: {e}", e.instance_path)).collect()
}

#[test]
fn the_schema_is_draft_2020_12_and_valid() {
    let schema = json_schema();
    assert_eq!(schema["$schema"], DIALECT);
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid JSON Schema: {e}"));
}

#[test]
fn example_validates() {
    let text = std::fs::read_to_string("examples/baton.yaml").unwrap();
    parse(&text).expect("examples/baton.yaml is valid for baton");
    let errors = schema_errors(&validator(), &load(&text).unwrap());
    assert!(errors.is_empty(), "examples/baton.yaml must validate against the schema:\n{}", errors.join("\n"));
}

/// What the schema makes of each file in `examples/invalid/` (all of them are invalid for baton).
enum Expect {
    /// Invalid for a structural reason (unknown key, wrong type, bad enum word, missing key,
    /// bad name or path): the schema refuses it too.
    Rejected,
    /// Valid for the schema, invalid for baton: the reason is beyond a schema.
    Accepted(&'static str),
    /// Not loadable as YAML at all (editors report it as a YAML error before any schema).
    NotYaml(&'static str),
}

const INVALID: &[(&str, Expect)] = &[
    ("cycle.yaml", Expect::Accepted("`from` links forming a loop is a property of the whole graph")),
    (
        "duplicate-key.yaml",
        Expect::Accepted(
            "a key given twice is gone once the YAML is a JSON value (the last one wins); \
             yaml-language-server reports it as a YAML error",
        ),
    ),
    ("duplicate-stage.yaml", Expect::Accepted("unique stage names across list items (by `name`) is not expressible")),
    ("fail-closed.yaml", Expect::Rejected),
    ("invalid-regex.yaml", Expect::Accepted("whether a regular expression compiles is not a pattern question")),
    ("no-first-stage.yaml", Expect::Accepted("'at least one stage without `from`' spans the list")),
    ("path-escape.yaml", Expect::Rejected),
    ("pointers.yaml", Expect::Rejected),
    ("syntax.yaml", Expect::NotYaml("not YAML")),
    ("types.yaml", Expect::Rejected),
    ("unknown-from.yaml", Expect::Accepted("`from` must name another stage of the file: a cross reference")),
    ("unknown-key.yaml", Expect::Rejected),
];

#[test]
fn invalid_examples() {
    let v = validator();
    let mut files: Vec<String> = std::fs::read_dir("examples/invalid")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    let listed: Vec<&str> = INVALID.iter().map(|(n, _)| *n).collect();
    assert_eq!(files, listed, "every file in examples/invalid/ must be listed in INVALID with what the schema does");
    for (name, expect) in INVALID {
        let text = std::fs::read_to_string(format!("examples/invalid/{name}")).unwrap();
        assert!(parse(&text).is_err(), "{name} must be invalid for baton");
        match (expect, load(&text)) {
            (Expect::NotYaml(_), Err(_)) => {}
            (Expect::NotYaml(why), Ok(_)) => panic!("{name} was expected not to load ({why})"),
            (_, Err(e)) => panic!("{name} does not load as YAML: {e}"),
            (Expect::Rejected, Ok(doc)) => {
                assert!(!v.is_valid(&doc), "{name} is structurally invalid: the schema must refuse it")
            }
            (Expect::Accepted(why), Ok(doc)) => {
                let errors = schema_errors(&v, &doc);
                assert!(errors.is_empty(), "{name} should pass the schema ({why}):\n{}", errors.join("\n"));
            }
        }
    }
}

const MINIMAL: &str = "\
artifacts:
  app:
    image: registry.internal/app
    tags: '\\d+'
    verify: [{ key: k.pub }]
stages:
  - name: dev
    pointers: [{ file: a.yaml, format: flux-oci, artifact: app }]
";

/// MINIMAL with one line replaced (`old` must occur once).
fn variant(old: &str, new: &str) -> String {
    assert_eq!(MINIMAL.matches(old).count(), 1, "{old}");
    MINIMAL.replace(old, new)
}

const POINTER: &str = "{ file: a.yaml, format: flux-oci, artifact: app }";
const VERIFY: &str = "verify: [{ key: k.pub }]";
const STAGE: &str = "  - name: dev\n";

/// Documents both baton and the schema accept.
fn valid_variants() -> Vec<String> {
    let mut out = vec![MINIMAL.to_string()];
    for p in [
        "{ file: a.yaml, format: flux-oci, artifact: app, name: my-app }",
        "{ file: a.yaml, format: helm-values, artifact: app }",
        "{ file: a.yaml, format: helm-values, artifact: app, field: web.image }",
        "{ file: a.yaml, format: kustomize-image, artifact: app }",
        "{ file: a.yaml, format: kustomize-image, artifact: app, image: ghcr.io/org/app }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: spec.image }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: a.b, template: 'x:{tag}@{digest}', image: r/x }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: a, template: '{repository}@{digest}' }",
        "{ file: .x/..y/.../a.yaml, format: flux-oci, artifact: app }",
    ] {
        out.push(variant(POINTER, p));
    }
    for v in [
        "verify: [{ issuer: 'https://token.actions.githubusercontent.com', subject: '.*' }]",
        "verify: [{ issuer: 'HTTPS://issuer.example:8443/x?y', subject: 'a|b' }, { key: keys/k.pub }]",
    ] {
        out.push(variant(VERIFY, v));
    }
    for s in [
        "    promotion: manual\n    write: commit\n",
        "    approvers: [codeowners, '@org/sre', '@alice', bob, '@a-b/team_x.y']\n",
        "    verification: { checks: [smoke, 'e2e / dev'], soak: 1h30m }\n",
        "    verification: { soak: 0s }\n    freeze: { file: FREEZE }\n",
        "    verification: {}\n",
    ] {
        out.push(variant(STAGE, &format!("{STAGE}{s}")));
    }
    out.push(variant("  - name: dev", "  - name: a.b_c-1"));
    out.push(MINIMAL.replace("app", "my.app-2"));
    out
}

#[test]
fn valid_documents_pass_both() {
    let v = validator();
    for doc in valid_variants() {
        if let Err(e) = parse(&doc) {
            panic!("baton refuses:\n{doc}\n{e}");
        }
        let errors = schema_errors(&v, &load(&doc).unwrap());
        assert!(errors.is_empty(), "the schema refuses a valid file:\n{doc}\n{}", errors.join("\n"));
    }
}

/// One structural problem each: baton and the schema both refuse it.
#[test]
fn structural_problems_fail_both() {
    let mut docs: Vec<String> = Vec::new();
    for p in [
        "{ file: a.yaml, format: flux-oci, artifact: app, field: x }",
        "{ file: a.yaml, format: helm-values, artifact: app, name: x }",
        "{ file: a.yaml, format: helm-values, artifact: app, template: '{tag}@{digest}' }",
        "{ file: a.yaml, format: kustomize-image, artifact: app, field: images }",
        "{ file: a.yaml, format: yaml-path, artifact: app }",
        "{ file: a.yaml, format: yaml-path, artifact: app, name: x, field: a }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: a..b }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: a, template: '{tag}' }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: a, template: '{repo}@{digest}' }",
        "{ file: a.yaml, format: yaml-path, artifact: app, field: a, template: '{digest}}' }",
        "{ file: a.yaml, format: flux-oci, artifact: app, name: 'a b' }",
        "{ file: a.yaml, format: oci, artifact: app }",
        "{ file: a.yaml, format: flux-oci }",
        "{ file: a.yaml, format: flux-oci, artifact: App }",
        "{ file: ../a.yaml, format: flux-oci, artifact: app }",
        "{ file: /a.yaml, format: flux-oci, artifact: app }",
        "{ file: a/./b.yaml, format: flux-oci, artifact: app }",
        "{ file: 'a\\b.yaml', format: flux-oci, artifact: app }",
        "{ file: a//b.yaml, format: flux-oci, artifact: app }",
        "{ file: '', format: flux-oci, artifact: app }",
        "{ file: a.yaml, format: flux-oci, artifact: app, colour: blue }",
    ] {
        docs.push(variant(POINTER, p));
    }
    for v in [
        "verify: []",
        "verify: { key: k.pub }",
        "verify: [{}]",
        "verify: [{ key: k.pub, issuer: 'https://x.example' }]",
        "verify: [{ key: k.pub, subject: x }]",
        "verify: [{ issuer: 'https://x.example' }]",
        "verify: [{ subject: x }]",
        "verify: [{ issuer: not-a-url, subject: x }]",
        "verify: [{ key: ../k.pub }]",
        "verify: [{ key: k.pub, subjcet: x }]",
    ] {
        docs.push(variant(VERIFY, v));
    }
    for s in [
        "    promotion: sometimes\n",
        "    promotion: [auto]\n",
        "    write: push\n",
        "    approvers: []\n",
        "    approvers: ['@org/a/b']\n",
        "    approvers: ['bob smith']\n",
        "    approvers: [org/team]\n",
        "    approvers: codeowners\n",
        "    verification: { soak: 1h30 }\n",
        "    verification: { soak: '10' }\n",
        "    verification: { soak: 30m1h }\n",
        "    verification: { checks: smoke }\n",
        "    verification: { checks: [''] }\n",
        "    verification: { checks: [a, a] }\n",
        "    verification: { soaks: 10m }\n",
        "    freeze: FREEZE\n",
        "    freeze: {}\n",
        "    freeze: { file: ../FREEZE }\n",
        "    from: Dev\n",
        "    promotoin: auto\n",
    ] {
        docs.push(variant(STAGE, &format!("{STAGE}{s}")));
    }
    for (old, new) in [
        ("  - name: dev", "  - name: Dev"),
        ("  - name: dev", "  - name: a..b"),
        ("  - name: dev", "  - name: -dev"),
        ("  - name: dev", &format!("  - name: {}", "a".repeat(64))),
        ("  - name: dev\n", "  - from: dev\n"),
        ("    pointers: [", "    pointer: ["),
        ("    pointers: [{ file: a.yaml, format: flux-oci, artifact: app }]", "    pointers: []"),
        ("    image: registry.internal/app", "    image: app"),
        ("    image: registry.internal/app", "    image: registry.internal/App"),
        ("    image: registry.internal/app", "    image: registry.internal/app:1.0"),
        ("    tags: '\\d+'", "    tag: '\\d+'"),
        ("    tags: '\\d+'", "    tags: ~"),
        ("  app:\n", "  App:\n"),
        ("stages:\n", "stage:\n"),
    ] {
        docs.push(variant(old, new));
    }
    docs.push(format!("{MINIMAL}colour: blue\n"));
    docs.push("artifacts: {}\nstages: []\n".into());
    docs.push("artifacts: []\nstages: {}\n".into());
    docs.push("stages: []\n".into());

    let v = validator();
    for doc in docs {
        assert!(parse(&doc).is_err(), "baton accepts:\n{doc}");
        let json = load(&doc).unwrap_or_else(|e| panic!("{e}:\n{doc}"));
        assert!(!v.is_valid(&json), "the schema accepts a structurally invalid file:\n{doc}");
    }
}

/// Semantic problems: baton refuses them, the schema (shape only) lets them through.
#[test]
fn semantic_problems_pass_the_schema() {
    let two = format!(
        "{MINIMAL}  - name: prod\n    from: dev\n    pointers: [{{ file: b.yaml, format: flux-oci, artifact: app }}]\n"
    );
    let docs = [
        variant(POINTER, "{ file: a.yaml, format: flux-oci, artifact: other }"),
        variant("    tags: '\\d+'", "    tags: '(\\d+'"),
        variant(STAGE, &format!("{STAGE}    from: nowhere\n")),
        variant(STAGE, &format!("{STAGE}    verification: {{ soak: 31d }}\n")),
        variant(STAGE, &format!("{STAGE}    approvers: ['@alice', alice]\n")),
        variant(STAGE, &format!("{STAGE}    freeze: {{ file: a.yaml }}\n")),
        two.replace("b.yaml", "a.yaml"),
        two.replace("name: prod", "name: dev"),
    ];
    let v = validator();
    for doc in docs {
        assert!(parse(&doc).is_err(), "baton accepts:\n{doc}");
        let errors = schema_errors(&v, &load(&doc).unwrap());
        assert!(errors.is_empty(), "the schema checks the shape only:\n{doc}\n{}", errors.join("\n"));
    }
}

/// Each string kind's pattern agrees with the parse function the validator uses for it.
#[test]
fn string_patterns_agree_with_the_validator() {
    let schema = json_schema();
    let check = |def: &str, samples: &[&str], baton_ok: &dyn Fn(&str) -> bool| {
        let v =
            jsonschema::validator_for(&json!({ "$defs": schema["$defs"], "$ref": format!("#/$defs/{def}") })).unwrap();
        for s in samples {
            assert_eq!(v.is_valid(&json!(s)), baton_ok(s), "{def}: {s:?} (baton says {})", baton_ok(s));
        }
    };
    check(
        "duration",
        &[
            "45s", "10m", "1h30m", "2h", "1d", "1h0m5s", "0s", "", "10", "m", "1h30", "30m1h", "1m1m", "1.5h", "-1m",
            " 1m", "1m ", "1H", "10ms", "1w",
        ],
        &|s| parse_duration(s).is_ok(),
    );
    check(
        "approver",
        &[
            "codeowners",
            "@org/sre",
            "@alice",
            "alice",
            "@a-b/team_x.y",
            "",
            "@",
            "@org/",
            "org/team",
            "@org/a/b",
            "bob smith",
            "-x",
            "@@x",
            &"a".repeat(39),
            &"a".repeat(40),
        ],
        &|s| parse_approver(s).is_ok(),
    );
    check(
        "name",
        &[
            "dev",
            "prod-eu",
            "a.b_c",
            "0",
            "a.",
            "a..b",
            "Dev",
            "-a",
            "_a",
            ".a",
            "a b",
            "",
            &"a".repeat(63),
            &"a".repeat(64),
        ],
        &|s| s.parse::<StageName>().is_ok(),
    );
    check(
        "repoPath",
        &[
            "a",
            "a/b.yaml",
            ".baton/keys/k.pub",
            "..a",
            "...",
            "a/.../b",
            "",
            "/a",
            "a/",
            "a//b",
            ".",
            "..",
            "a/../b",
            "./a",
            "a\\b",
            "a/.",
            "a b/c",
        ],
        &|s| s.parse::<RepoPath>().is_ok(),
    );
    check(
        "image",
        &[
            "registry.internal/app",
            "ghcr.io/org/web",
            "localhost/app",
            "localhost:5000/a/b",
            "[::1]:5000/app",
            "app",
            "registry/app",
            "ghcr.io/Org/web",
            "ghcr.io/org/web:1.0",
            "ghcr.io/org/web@sha256:00",
            "ghcr.io/",
            "ghcr.io/a//b",
            "/app",
        ],
        &|s| s.parse::<ImageName>().is_ok(),
    );
    check(
        "checkPattern",
        &[
            "smoke / dev",
            "kustomization/myapp-dev/*",
            "kustomization/myapp-*/*",
            "*",
            "a*b*",
            "",
            "a**",
            "**",
            "a/**/b",
            "a\nb",
            "a\tb",
        ],
        &|s| baton::planner::signals::CheckPattern::parse(s).is_ok(),
    );
}

#[test]
fn baton_schema_prints_the_checked_in_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_baton")).arg("schema").output().unwrap();
    assert!(out.status.success(), "baton schema failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let printed: Value = serde_json::from_str(&stdout).expect("baton schema prints JSON");
    assert_eq!(printed["$schema"], DIALECT);
    assert_eq!(stdout, schema_text());
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == stdout,
        "{CHECKED_IN} is not what `baton schema` prints; regenerate it with\n\n    cargo run -q -- schema > {CHECKED_IN}\n"
    );
}
