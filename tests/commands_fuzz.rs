//! Property-based fuzzing of the comment-command parser and the CODEOWNERS parser
//! (stable toolchain: proptest instead of cargo-fuzz).
//!
//! Properties: parsing never panics; a body wrapped in a code fence or a block quote is
//! never a command; a valid command's canonical text parses back to the same command,
//! whatever prose surrounds it; error messages are a single non-empty paragraph.

use baton::codeowners::{CodeOwners, Owner};
use baton::commands::{parse, Command, Parsed, VersionArg};
use baton::types::{StageName, Version};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 2000, ..ProptestConfig::default() }
}

/// Lines that exercise the scanner and the parser: commands, near-misses, fences, quotes,
/// comments, indentation, odd bytes.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/promote prod".to_string()),
        Just("/promote prod 1.0@sha256:abc".to_string()),
        Just("/rollback dev sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string()),
        Just("/freeze prod reason with words".to_string()),
        Just("/unfreeze staging".to_string()),
        Just("/status".to_string()),
        Just("/help me".to_string()),
        Just("/promot prod".to_string()),
        Just("/Promote prd".to_string()),
        Just("/etc/hosts".to_string()),
        Just("/".to_string()),
        Just("```".to_string()),
        Just("````rust".to_string()),
        Just("~~~".to_string()),
        Just("> /status".to_string()),
        Just(">".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<!-- /status -->".to_string()),
        Just("<pre>".to_string()),
        Just("</pre>".to_string()),
        Just("    /status".to_string()),
        Just("\t/help".to_string()),
        Just("`/status`".to_string()),
        Just(String::new()),
        "[ /a-z`~<>!\\-@.:0-9]{0,20}",
        prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
    ]
}

fn body() -> impl Strategy<Value = String> {
    (prop::collection::vec(line(), 0..12), prop::sample::select(vec!["\n", "\r\n", "\r"]))
        .prop_map(|(lines, eol)| lines.join(eol))
}

fn stages() -> Vec<StageName> {
    ["dev", "staging", "prod"].iter().map(|s| s.parse().unwrap()).collect()
}

/// Every line of `body` (as GitHub splits lines) behind `> `.
fn quoted(body: &str) -> String {
    body.replace("\r\n", "\n").replace('\r', "\n").split('\n').map(|l| format!("> {l}")).collect::<Vec<_>>().join("\n")
}

/// `body` inside a backtick fence longer than any backtick run in it.
fn fenced(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{body}\n{fence}")
}

fn check_outcome(parsed: &Parsed) {
    if let Parsed::Error(e) = parsed {
        assert!(!e.message.trim().is_empty());
        assert!(!e.message.contains('\n'), "one paragraph: {:?}", e.message);
    }
}

fn stage_name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_-]{0,12}"
}

fn version() -> impl Strategy<Value = VersionArg> {
    let tag = "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}".prop_map(|t| t.parse().unwrap());
    let digest = "sha256:[0-9a-f]{64}".prop_map(|d| d.parse().unwrap());
    prop_oneof![
        tag.clone().prop_map(VersionArg::Tag),
        digest.clone().prop_map(VersionArg::Digest),
        (tag, digest).prop_map(|(tag, digest)| VersionArg::Pinned(Version { tag, digest })),
    ]
}

/// A command on one of `stages` (given by index), rendered canonically.
fn command(stages: Vec<StageName>) -> impl Strategy<Value = (Vec<StageName>, Command)> {
    let n = stages.len();
    let reason = "[A-Za-z0-9 .,:;!?'()@#*_-]{0,80}".prop_map(|r| {
        let r = r.trim().to_string();
        (!r.is_empty()).then_some(r)
    });
    (0..n, prop::option::of(version()), reason, 0..6u8).prop_map(move |(i, version, reason, kind)| {
        let stage = stages[i].clone();
        let cmd = match kind {
            0 => Command::Promote { stage, version },
            1 => Command::Rollback { stage, version },
            2 => Command::Freeze { stage, reason },
            3 => Command::Unfreeze { stage },
            4 => Command::Status,
            _ => Command::Help,
        };
        (stages.clone(), cmd)
    })
}

fn stage_set() -> impl Strategy<Value = Vec<StageName>> {
    prop::collection::btree_set(stage_name(), 1..6).prop_map(|set| set.iter().map(|s| s.parse().unwrap()).collect())
}

/// Prose that is never command-like: no line starts with `/`, `>`, a fence, or HTML.
fn prose() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,.!?]{0,40}"
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_outcome(&parse(&s, &stages()));
        check_outcome(&parse(&s, &[]));
    }

    #[test]
    fn arbitrary_bodies_never_panic(b in body()) {
        check_outcome(&parse(&b, &stages()));
    }

    #[test]
    fn fenced_or_quoted_bodies_are_never_commands(b in body()) {
        prop_assert_eq!(parse(&fenced(&b), &stages()), Parsed::NoCommand, "fenced: {:?}", fenced(&b));
        prop_assert_eq!(parse(&quoted(&b), &stages()), Parsed::NoCommand, "quoted: {:?}", quoted(&b));
    }

    #[test]
    fn rendered_commands_round_trip(
        (stages, cmd) in stage_set().prop_flat_map(command),
        before in prose(),
        after in prose(),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let body = format!("{before}{eol}{eol}{cmd}{eol}{after}");
        prop_assert_eq!(parse(&body, &stages), Parsed::Command(cmd.clone()), "{:?}", body);
        prop_assert_eq!(parse(&cmd.to_string(), &stages), Parsed::Command(cmd));
    }

}

proptest! {
    // Extra coverage for CODEOWNERS, fewer cases to keep the whole file under 10 s in debug.
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn codeowners_never_panics(text in prop::collection::vec(prop_oneof![line(), codeowners_line()], 0..12), path in "[a-z/*.]{0,20}") {
        let owners = CodeOwners::parse(&text.join("\n"));
        let _ = owners.owners(&path);
        let _ = owners.errors();
    }

    #[test]
    fn codeowners_last_matching_line_wins(lines in prop::collection::vec(codeowners_line(), 0..10), path in "[a-z]{1,4}(/[a-z.]{1,4}){0,4}") {
        let text = lines.iter().map(String::as_str).chain(["* @last"]).collect::<Vec<_>>().join("\n");
        let owners = CodeOwners::parse(&text);
        prop_assert_eq!(owners.owners(&path), vec![Owner::User("last".into())]);
        prop_assert_eq!(owners.matching_line(&path), Some(lines.len() + 1));
    }
}

/// CODEOWNERS-like lines: wildcards, anchors, escapes, unsupported syntax, owners, comments.
fn codeowners_line() -> impl Strategy<Value = String> {
    "[a-z*?/\\\\ #!\\[.]{0,16}( (@[a-z]{1,5}(/[a-z]{1,3})?|[a-z]{1,3}@[a-z]{1,3}\\.com|#x|bad)){0,3}"
}
