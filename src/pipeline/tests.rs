//! Unit tests for the pieces of the pipeline parser; whole-file tests live in
//! `tests/pipeline_config.rs`.

use std::time::Duration;

use super::validate::{anchored_regex, suggest};
use super::*;

fn problems(text: &str) -> Vec<String> {
    parse(text).expect_err("expected problems").problems.iter().map(|p| p.to_string()).collect()
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

#[test]
fn minimal_file_parses() {
    let p = parse(MINIMAL).unwrap();
    assert_eq!(p.stages.len(), 1);
    assert_eq!(p.stages[0].promotion, Promotion::Auto);
    assert_eq!(p.stages[0].write, WriteMode::PullRequest);
    assert!(p.stages[0].verification.checks.is_empty());
    assert_eq!(p.stages[0].verification.soak, None);
}

#[test]
fn durations() {
    let ok = [
        ("45s", 45),
        ("10m", 600),
        ("30m", 1800),
        ("1h30m", 5400),
        ("2h", 7200),
        ("1d", 86_400),
        ("1h0m5s", 3605),
        ("0s", 0),
    ];
    for (s, secs) in ok {
        assert_eq!(parse_duration(s), Ok(Duration::from_secs(secs)), "{s}");
    }
    for bad in
        ["", "10", "m", "1h30", "30m1h", "1m1m", "1.5h", "-1m", " 1m", "1m ", "1H", "10ms", "9999999999s", "31d", "1w"]
    {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn approvers() {
    assert_eq!(parse_approver("codeowners"), Ok(Approver::Codeowners));
    assert_eq!(parse_approver("@org/sre"), Ok(Approver::Team { org: "org".into(), slug: "sre".into() }));
    assert_eq!(parse_approver("@alice"), Ok(Approver::User("alice".into())));
    assert_eq!(parse_approver("alice"), Ok(Approver::User("alice".into())));
    assert_eq!(parse_approver("@a-b/team_x.y"), Ok(Approver::Team { org: "a-b".into(), slug: "team_x.y".into() }));
    for bad in ["", "@", "@org/", "org/team", "@org/a/b", "bob smith", "-x", "@@x", &"a".repeat(40)] {
        assert!(parse_approver(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn regexes_are_anchored() {
    let r = anchored_regex(r"\d+\.\d+\.\d+").unwrap();
    assert!(r.is_match("1.2.3"));
    assert!(!r.is_match("v1.2.3"));
    assert!(!r.is_match("1.2.3-rc1"));
    // Already anchored: same meaning.
    let r = anchored_regex(r"^\d+$").unwrap();
    assert!(r.is_match("12") && !r.is_match("12a"));
    // An alternation is anchored as a whole.
    let r = anchored_regex("a|b").unwrap();
    assert!(r.is_match("a") && r.is_match("b") && !r.is_match("ab") && !r.is_match("xa"));
    // Wrapping must not change the meaning of a pattern that does not compile by itself.
    assert!(anchored_regex("a)|(b").is_err());
    // An (?x) comment cannot swallow the closing anchor.
    assert!(anchored_regex("(?x)a # c").is_err());
    assert!(anchored_regex("(?x)a # c\n)|(b").is_err());
    assert!(anchored_regex("(").is_err());
}

#[test]
fn suggestions() {
    let keys = ["name", "from", "pointers", "promotion"];
    assert_eq!(suggest("promotoin", keys), Some("promotion"));
    assert_eq!(suggest("nmae", keys), Some("name"));
    assert_eq!(suggest("pointer", keys), Some("pointers"));
    assert_eq!(suggest("colour", keys), None);
    assert_eq!(suggest(&"x".repeat(1000), keys), None);
}

#[test]
fn promotion_defaults_to_manual_with_approvers() {
    let text = format!("{MINIMAL}    approvers: [\"@alice\"]\n");
    let p = parse(&text).unwrap();
    assert_eq!(p.stages[0].promotion, Promotion::Manual);
    let text = format!("{MINIMAL}    approvers: [\"@alice\"]\n    promotion: auto\n");
    assert_eq!(parse(&text).unwrap().stages[0].promotion, Promotion::Auto);
}

#[test]
fn aliases_are_expanded() {
    let text = "\
artifacts:
  app:
    image: registry.internal/app
    tags: '\\d+'
    verify: &keys [{ key: k.pub }]
  other:
    image: registry.internal/other
    tags: '\\d+'
    verify: *keys
stages:
  - name: dev
    verification: &v { checks: [smoke], soak: 5m }
    pointers: [{ file: a.yaml, format: flux-oci, artifact: app }, { file: b.yaml, format: flux-oci, artifact: other }]
  - name: staging
    from: dev
    verification: *v
    pointers: [{ file: c.yaml, format: flux-oci, artifact: app }]
";
    let p = parse(text).unwrap();
    assert_eq!(p.stages[1].verification.checks, vec![CheckRequirement::new(CheckPattern::parse("smoke").unwrap())]);
    assert_eq!(p.stages[1].verification.soak, Some(Duration::from_secs(300)));
    assert_eq!(p.artifacts.len(), 2);
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let e = problems(&text);
    assert!(e.iter().any(|p| p.contains("more than 100000 nodes")), "{e:?}");

    let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
    let e = problems(&deep);
    assert!(e.iter().any(|p| p.contains("nesting deeper than 64 levels")), "{e:?}");
    // Much deeper: the parser's own limit answers first; either way, no stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(!problems(&deep).is_empty());

    let big = format!("# {}\n", "x".repeat(2 * 1024 * 1024));
    assert!(problems(&big)[0].contains("larger than"));
}

#[test]
fn yaml_level_problems() {
    assert_eq!(problems(""), vec!["the file is empty: expected `artifacts:` and `stages:`"]);
    assert_eq!(problems("# only a comment\n"), vec!["the file is empty: expected `artifacts:` and `stages:`"]);
    assert_eq!(
        problems("a: 1\n---\nb: 2\n"),
        vec!["line 2: the file must hold exactly one YAML document (found a second `---`)"]
    );
    let e = problems("artifacts: !custom {}\nstages: []\n");
    assert!(e[0].starts_with("line 1: YAML tag !custom is not supported"), "{e:?}");
    let e = problems("? [a]\n: b\n");
    assert!(e.iter().any(|p| p == "line 1: mapping keys must be plain strings"), "{e:?}");
    // A syntax error at the end of the file names the last line, not the one after it.
    let e = problems("artifacts: {}\nstages: [\n");
    assert!(e[0].starts_with("line 2: invalid YAML"), "{e:?}");
}

#[test]
fn quoted_null_is_a_string() {
    // `'null'` is a (valid) stage name; a plain `null` is nothing.
    let text = MINIMAL.replace("name: dev", "name: 'null'");
    assert_eq!(parse(&text).unwrap().stages[0].name.as_str(), "null");
    let e = problems(&MINIMAL.replace("name: dev", "name: null"));
    assert_eq!(e, vec!["line 7: stages[0].name: expected a string, found nothing"]);
}

#[test]
fn control_characters_are_refused() {
    let text = format!("{MINIMAL}    verification: {{ checks: [\"smoke\\ndev\"] }}\n");
    let e = problems(&text);
    assert_eq!(
        e,
        vec!["line 9: stages[0] (dev).verification.checks[0]: must be on one line, without control characters"]
    );
    let text = MINIMAL.replace("tags: '\\d+'", "tags: \"a\\nb\"");
    let e = problems(&text);
    assert_eq!(e, vec!["line 4: artifacts.app.tags: must be on one line, without control characters"]);
}

#[test]
fn messages_stay_on_one_line() {
    let text = "artifacts: {}\nstages: []\n\"bad\\nkey\": 1\n";
    let e = parse(text).unwrap_err();
    for p in &e.problems {
        assert!(!p.message.contains('\n'), "{p}");
    }
    assert!(e.problems.iter().any(|p| p.message.contains("unknown key `bad\\nkey`")), "{e}");
}

#[test]
fn verification_keys_parse() {
    let text = format!(
        "{MINIMAL}    verification:
      checks:
        - smoke / dev
        - kustomization/myapp-dev/*
        - {{ name: \"kustomization/myapp-*/*\", min: 2 }}
        - {{ name: e2e }}
      timeout: 30m
      source: commit-of-artifact
      workflows:
        - file: e2e.yml
          inputs: {{ suite: smoke, retries: 3 }}
        - file: load.yaml
"
    );
    let v = parse(&text).unwrap().stages.remove(0).verification;
    let checks: Vec<(&str, u32)> = v.checks.iter().map(|c| (c.pattern.as_str(), c.min)).collect();
    assert_eq!(
        checks,
        [("smoke / dev", 1), ("kustomization/myapp-dev/*", 1), ("kustomization/myapp-*/*", 2), ("e2e", 1)]
    );
    assert_eq!(v.timeout, Some(Duration::from_secs(1800)));
    assert_eq!(v.source, SignalSource::CommitOfArtifact);
    assert_eq!(v.workflows.len(), 2);
    assert_eq!(v.workflows[0].file, "e2e.yml");
    let inputs: Vec<(&str, &str)> = v.workflows[0].inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(inputs, [("retries", "3"), ("suite", "smoke")]);
    assert!(v.workflows[1].inputs.is_empty());

    let v = parse(MINIMAL).unwrap().stages.remove(0).verification;
    assert_eq!((v.timeout, v.source, v.workflows.len()), (None, SignalSource::SameRepository, 0));
}

#[test]
fn verification_problems_name_their_lines() {
    let rows: &[(&str, &str)] = &[
        ("checks: [\"a/**\"]", "line 9: stages[0] (dev).verification.checks[0]: `**` is not a pattern: `*` already matches any characters except `/`"),
        ("checks: [{ name: a, min: 0 }]", "line 9: stages[0] (dev).verification.checks[0].min: invalid min \"0\": expected a whole number, at least 1"),
        ("checks: [{ name: a, min: two }]", "line 9: stages[0] (dev).verification.checks[0].min: invalid min \"two\": expected a whole number, at least 1"),
        ("checks: [{ min: 2 }]", "line 9: stages[0] (dev).verification.checks[0]: missing required key `name` in a check"),
        ("checks: [{ nam: a }]", "line 9: stages[0] (dev).verification.checks[0]: unknown key `nam` in a check (did you mean `name`?)"),
        ("checks: [a, { name: a, min: 2 }]", "line 9: stages[0] (dev).verification.checks[1]: check `a` is listed twice"),
        ("timeout: 30", "line 9: stages[0] (dev).verification.timeout: invalid duration \"30\": expected e.g. 45s, 10m, 1h30m, 2h"),
        ("source: artifact", "line 9: stages[0] (dev).verification.source: unknown value `artifact`"),
        ("workflows: []", "line 9: stages[0] (dev).verification.workflows: empty list: remove `workflows` or name a workflow file"),
        ("workflows: [{ file: .github/workflows/e2e.yml }]", "line 9: stages[0] (dev).verification.workflows[0].file: invalid workflow \".github/workflows/e2e.yml\": expected a file name in .github/workflows/, such as e2e.yml"),
        ("workflows: [{ file: e2e.yml }, { file: e2e.yml }]", "line 9: stages[0] (dev).verification.workflows[1]: workflow `e2e.yml` is listed twice"),
        ("workflows: [{ file: e2e.yml, inputs: { stage: x } }]", "line 9: stages[0] (dev).verification.workflows[0].inputs.stage: baton sets this input itself (stage, version and digest of the bump)"),
        ("workflows: [{ file: e2e.yml, inputs: { 'a b': x } }]", "line 9: stages[0] (dev).verification.workflows[0].inputs: invalid input name `a b`: letters, digits, `-` and `_`, starting with a letter or `_`"),
        ("workflows: [{ file: e2e.yml, inputs: { a: [x] } }]", "line 9: stages[0] (dev).verification.workflows[0].inputs.a: expected a string, found a list"),
    ];
    for (block, want) in rows {
        let text = format!("{MINIMAL}    verification: {{ {block} }}\n");
        let e = problems(&text);
        assert!(e.len() == 1 && e[0].starts_with(want), "{block}: {e:?}");
    }
}
