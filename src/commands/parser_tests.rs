use super::*;
use crate::commands::{MAX_BYTES, MAX_LINES};

fn stages() -> Vec<StageName> {
    ["dev", "staging", "prod"].iter().map(|s| s.parse().unwrap()).collect()
}

fn p(body: &str) -> Parsed {
    parse(body, &stages())
}

fn cmd(body: &str) -> Command {
    match p(body) {
        Parsed::Command(c) => c,
        other => panic!("{body:?}: expected a command, got {other:?}"),
    }
}

fn err(body: &str) -> CommandError {
    match p(body) {
        Parsed::Error(e) => e,
        other => panic!("{body:?}: expected an error, got {other:?}"),
    }
}

/// The error as posted: message, and usage if any.
fn reply(body: &str) -> String {
    err(body).to_string()
}

fn none(body: &str) {
    assert_eq!(p(body), Parsed::NoCommand, "{body:?}");
}

fn stage(s: &str) -> StageName {
    s.parse().unwrap()
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// --- valid commands --------------------------------------------------------------------

#[test]
fn every_command() {
    assert_eq!(cmd("/promote prod"), Command::Promote { stage: stage("prod"), version: None });
    assert_eq!(
        cmd("/promote prod 0.5.1"),
        Command::Promote { stage: stage("prod"), version: Some(VersionArg::Tag("0.5.1".parse().unwrap())) }
    );
    assert_eq!(
        cmd(&format!("/rollback staging 0.5.1@{DIGEST}")),
        Command::Rollback {
            stage: stage("staging"),
            version: Some(VersionArg::Pinned(Version {
                tag: "0.5.1".parse().unwrap(),
                digest: DIGEST.parse().unwrap()
            }))
        }
    );
    assert_eq!(
        cmd(&format!("/rollback dev {DIGEST}")),
        Command::Rollback { stage: stage("dev"), version: Some(VersionArg::Digest(DIGEST.parse().unwrap())) }
    );
    assert_eq!(cmd("/freeze prod"), Command::Freeze { stage: stage("prod"), reason: None });
    assert_eq!(cmd("/unfreeze prod"), Command::Unfreeze { stage: stage("prod") });
    assert_eq!(cmd("/status"), Command::Status);
    assert_eq!(cmd("/diff prod"), Command::Diff { stage: stage("prod"), version: None });
    assert_eq!(
        cmd("/diff staging 0.5.1"),
        Command::Diff { stage: stage("staging"), version: Some(VersionArg::Tag("0.5.1".parse().unwrap())) }
    );
    assert_eq!(cmd("/help"), Command::Help);
}

#[test]
fn every_spec_builds_its_command() {
    for spec in &COMMANDS {
        let mut line = format!("/{}", spec.name);
        if !spec.args.is_empty() {
            line.push_str(" prod");
        }
        assert_eq!(cmd(&line).name(), spec.name);
        assert_eq!(usage(spec.name), Some(usage_of(spec)));
    }
}

#[test]
fn freeze_reason_is_the_rest_of_the_line() {
    assert_eq!(
        cmd("/freeze prod   the reason  may contain spaces  \n"),
        Command::Freeze { stage: stage("prod"), reason: Some("the reason  may contain spaces".into()) }
    );
    let exactly = "x".repeat(MAX_REASON_CHARS);
    assert!(matches!(cmd(&format!("/freeze prod {exactly}")), Command::Freeze { reason: Some(r), .. } if r == exactly));
    let e = err(&format!("/freeze prod {}", "é".repeat(MAX_REASON_CHARS + 1)));
    assert!(e.message.contains("501 characters"), "{}", e.message);
    assert!(err("/freeze prod bell\u{7}").message.contains("U+0007"));
    assert!(err("/freeze prod tab\there").message.contains("U+0009"));
    assert!(err("/freeze prod abc\u{202E}cba").message.contains("U+202E"));
}

#[test]
fn surrounding_prose_and_position() {
    assert_eq!(
        cmd("Looks good to me.\n\n/promote prod\n\nThanks!"),
        Command::Promote { stage: stage("prod"), version: None }
    );
    assert_eq!(cmd("   /status"), Command::Status, "up to 3 spaces");
    none("    /status");
    none("\t/status");
    none("please /status");
    none("- /status");
    none("`/status`");
    none("`/promote prod` is how you do it");
}

#[test]
fn case_of_command_names() {
    assert_eq!(cmd("/Promote prod"), Command::Promote { stage: stage("prod"), version: None });
    assert_eq!(cmd("/STATUS"), Command::Status);
    assert!(err("/promote Prod").message.contains("Did you mean `prod`?"));
}

#[test]
fn crlf() {
    assert_eq!(
        cmd("hi\r\n/freeze prod on call\r\n"),
        Command::Freeze { stage: stage("prod"), reason: Some("on call".into()) }
    );
    assert_eq!(cmd("/status\r\n"), Command::Status);
}

#[test]
fn nbsp_separates_arguments() {
    assert_eq!(cmd("/promote\u{a0}prod"), Command::Promote { stage: stage("prod"), version: None });
}

// --- not commands ----------------------------------------------------------------------

#[test]
fn code_quotes_and_comments_are_not_commands() {
    none("```\n/promote prod\n```");
    none("```sh\n/promote prod\n```");
    none("~~~\n/promote prod\n~~~");
    none("````md\n```\n/promote prod\n```\n````");
    none("```\n/promote prod");
    none("    /promote prod");
    none("> /promote prod");
    none("> @alice wrote:\n> /promote prod\n\nI don't think so.");
    none(">> /promote prod");
    none("<!-- /promote prod -->");
    none("<!--\n/promote prod\n-->");
    none("note <!-- hidden\n/promote prod\n-->");
    none("<pre>\n/promote prod\n</pre>");
}

#[test]
fn fence_lengths_nest() {
    assert_eq!(cmd("````\n```\n/promote prod\n```\n````\n/status"), Command::Status);
    assert_eq!(cmd("~~~\n```\n~~~\n/status"), Command::Status);
    none("~~~\n/status\n```");
}

#[test]
fn prose_starting_with_a_slash() {
    for body in [
        "/etc/hosts is wrong",
        "/cc @alice",
        "/shrug",
        "/hold",
        "/lgtm",
        "/approve",
        "/assign @bob",
        "/ nothing",
        "/",
        "/123",
        "/promote-prod",
        "/promote: prod",
        "/tmp/x",
    ] {
        none(body);
    }
}

#[test]
fn other_words_after_a_slash_are_unknown_commands() {
    for body in ["/frobnicate", "/deploy somewhere", "/pro tip"] {
        let e = err(body);
        assert!(e.message.starts_with("Unknown command"), "{body:?}: {e:?}");
        assert!(e.message.contains("`/promote`"), "{e:?}");
    }
}

#[test]
fn quote_then_command() {
    assert_eq!(cmd("> can we ship?\n\n/promote prod"), Command::Promote { stage: stage("prod"), version: None });
    assert_eq!(cmd("> can we ship?\n>\n/promote prod"), Command::Promote { stage: stage("prod"), version: None });
    let e = err("> can we ship?\n/promote prod");
    assert_eq!(e.usage.as_deref(), Some("/promote <stage> [<version>]"));
}

#[test]
fn bounded_work() {
    let long = format!("{}\n/status", "x".repeat(MAX_BYTES));
    none(&long);
    let lines = format!("{}/status", "\n".repeat(MAX_LINES));
    none(&lines);
    let huge = "/promote ".repeat(200_000);
    assert!(matches!(p(&huge), Parsed::NoCommand | Parsed::Error(_)));
}

// --- heuristics ------------------------------------------------------------------------

#[test]
fn suggestions() {
    let suggested = |body: &str| err(body).message;
    assert!(suggested("/promot prod").contains("Did you mean `/promote`?"));
    assert!(suggested("/prmote prod").contains("`/promote`"));
    assert!(suggested("/rollbak prod").contains("`/rollback`"));
    assert!(suggested("/roll prod").contains("`/rollback`"));
    assert!(suggested("/frezee prod").contains("`/freeze`"));
    assert!(suggested("/unfrezee prod").contains("`/unfreeze`"));
    assert!(suggested("/stats").contains("`/status`"));
    assert!(suggested("/helo").contains("`/help`"));
    assert!(suggested("/deploy prod").contains("The commands are"));
    assert_eq!(distance("promte", "promote"), 1);
    assert_eq!(distance("rpomote", "promote"), 1);
    assert_eq!(distance("hold", "help"), 2);
    assert_eq!(distance("", "abc"), 3);
}

#[test]
fn one_command_per_comment() {
    let e = err("/promote prod\n\n/status");
    assert!(e.message.contains("Only one command per comment"));
    assert!(e.usage.is_none());
    // A typo counts too: the author meant two commands.
    assert!(err("/status\n/promot prod").message.contains("has 2"));
    // Quoted or fenced commands do not count.
    assert_eq!(cmd("> /promote prod\n\n/status\n```\n/help\n```"), Command::Status);
    // Prose starting with `/` does not count.
    assert_eq!(cmd("/status\n/etc/hosts is wrong"), Command::Status);
}

#[test]
fn no_stages_configured() {
    assert!(matches!(parse("/promote prod", &[]), Parsed::Error(e) if e.message.contains("defines no stages")));
    assert!(matches!(parse("/promote", &[]), Parsed::Error(e) if e.message.contains("defines no stages")));
    assert_eq!(parse("/status", &[]), Parsed::Command(Command::Status));
}

#[test]
fn versions() {
    let ok = |s: &str| VersionArg::parse(s).unwrap().to_string();
    assert_eq!(ok("0.5.1"), "0.5.1");
    assert_eq!(ok("v1_2-rc.3"), "v1_2-rc.3");
    assert_eq!(ok(DIGEST), DIGEST);
    assert_eq!(ok(&format!("1.0@{DIGEST}")), format!("1.0@{DIGEST}"));
    let bad = |s: &str| VersionArg::parse(s).unwrap_err();
    assert!(bad("0.5.1@sha256:abc").contains("digest part `sha256:abc`"));
    assert!(bad(&format!("../x@{DIGEST}")).contains("tag part `../x`"));
    assert!(bad("../x").contains("starts with `.`"));
    assert!(bad("a/b").contains("contains `/`"));
    assert!(bad(&"a".repeat(129)).contains("129 characters"));
    assert!(VersionArg::parse(&"a".repeat(128)).is_ok());
    assert!(bad("sha512:abc").contains("`sha512`"));
    assert!(bad("sha256:ABC").contains("`A`"));
    assert!(bad("sha256:abc").contains("has 3 hex characters"));
    assert!(bad("a@b@c").contains("more than one `@`"));
    assert!(bad(&format!("@{DIGEST}")).contains("empty"));
}

#[test]
fn echoed_input_is_inert() {
    assert_eq!(code("a`b"), "``a`b``");
    assert_eq!(code("`x"), "`` `x ``");
    assert_eq!(code("a\u{7}"), "`a\u{FFFD}`");
    assert_eq!(code(&"y".repeat(100)), format!("`{}…`", "y".repeat(60)));
    let e = err("/promote @everyone");
    assert!(e.message.contains("`@everyone`"), "{}", e.message);
}

#[test]
fn help_lists_every_command_and_usage() {
    let h = help();
    for spec in &COMMANDS {
        assert!(h.contains(&format!("`{}`", usage_of(spec))), "{}", spec.name);
    }
    assert_eq!(usage("/freeze").as_deref(), Some("/freeze <stage> [<reason>]"));
    assert_eq!(usage("status").as_deref(), Some("/status"));
    assert_eq!(usage("diff").as_deref(), Some("/diff <stage> [<version>]"));
    assert_eq!(usage("nope"), None);
}

#[test]
fn display_round_trips() {
    for body in [
        "/promote prod",
        "/rollback dev 1.2.3",
        "/freeze prod incident 42",
        "/unfreeze staging",
        "/status",
        "/diff prod 1.2.3",
        "/help",
    ] {
        assert_eq!(cmd(body).to_string(), body);
    }
}

// --- every error message, as posted ----------------------------------------------------

#[test]
fn snapshot_help() {
    insta::assert_snapshot!("help", help());
}

#[test]
fn snapshot_errors() {
    let cases = [
        "/promot prod",
        "/roll prod",
        "/deploy prod",
        "/promote",
        "/promote prd",
        "/promote production",
        "/promote qa",
        "/promote prod 1.0 extra",
        "/status now",
        "/help me",
        "/unfreeze prod now",
        "/promote prod 0.5.1@sha256:abc",
        "/promote prod ../x",
        "/promote prod a/b",
        "/promote prod sha512:abcd",
        "/promote prod sha256:ABCDEF",
        "/promote prod 1@2@3",
        "/rollback prod @sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "/freeze prod bell\u{7}ring",
        "/promote prod\n/status",
        "/promote prod\n/status\n/help\n/freeze prod\n/unfreeze prod",
        "> quoted\n/promote prod",
        "/promote `backtick`",
    ];
    let mut out = String::new();
    for body in cases {
        out.push_str(&format!("## {body:?}\n{}\n\n", reply(body)));
    }
    out.push_str(&format!("## 129-char tag\n{}\n\n", reply(&format!("/promote prod {}", "a".repeat(129)))));
    out.push_str(&format!("## 501-char reason\n{}\n\n", reply(&format!("/freeze prod {}", "r".repeat(501)))));
    out.push_str(&format!("## no stages\n{}\n", err_with("/promote prod", &[])));
    insta::assert_snapshot!("errors", out);
}

fn err_with(body: &str, stages: &[StageName]) -> String {
    match parse(body, stages) {
        Parsed::Error(e) => e.to_string(),
        other => panic!("{other:?}"),
    }
}
