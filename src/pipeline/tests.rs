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
    assert_eq!(p.stages[1].verification.checks, vec!["smoke".to_string()]);
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
