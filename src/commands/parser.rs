//! The comment-command grammar: a static table of command specs drives both
//! the parser and the `/help` reply, so the two cannot drift apart.
//!
//! Decisions (documented here because they are user-visible):
//!
//! - A command is `/name args…` at the start of a line, after at most 3 spaces, in text that
//!   GitHub renders as an ordinary paragraph (see `scan`): never in code, quotes or comments.
//! - Command names are matched case-insensitively (`/Promote` works: phone keyboards
//!   capitalise the first word). Stage names are matched exactly.
//! - A line `/word …` is *command-like* when `word` is made of ASCII letters only and
//!   - is a command name, or
//!   - is within Damerau–Levenshtein distance 2 of a command name (1 for names of 4 letters
//!     or fewer, so `/hold` is not taken for `/help`), or is a prefix of at least 4 letters
//!     of one (`/roll`) — then the reply is "unknown command, did you mean …", or
//!   - otherwise it is an unknown command, answered with the list of commands (never
//!     silence) — except for other bots' well-known commands (`/lgtm`, `/cc`,
//!     `/retest`, … see `FOREIGN_COMMANDS`), which baton leaves to them.
//!
//!   Paths and prose such as `/etc/hosts is wrong` or `/promote:` are not command-like (the
//!   name must be letters only, followed by white space or the end of the line).
//! - One command per comment: two command-like lines are an error naming both.
//! - Arguments are separated by whitespace (any Unicode white space). `/freeze`'s reason is
//!   the rest of the line, trimmed, at most [`MAX_REASON_CHARS`] characters, without control
//!   or bidirectional-override characters.
//! - Untrusted input echoed in an error is shortened and shown in a code span, so it cannot
//!   mention people or inject Markdown.

use std::fmt;

use super::scan;
use crate::types::{Digest, StageName, Tag, Version};

/// The longest `/freeze` reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A command a comment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Promote {
        stage: StageName,
        version: Option<VersionArg>,
    },
    Rollback {
        stage: StageName,
        version: Option<VersionArg>,
    },
    Freeze {
        stage: StageName,
        reason: Option<String>,
    },
    Unfreeze {
        stage: StageName,
    },
    Status,
    /// What moving `stage` to `version` (default: what its `from` stage runs) would change.
    Diff {
        stage: StageName,
        version: Option<VersionArg>,
    },
    Help,
}

impl Command {
    /// The command's name, without `/`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Promote { .. } => "promote",
            Command::Rollback { .. } => "rollback",
            Command::Freeze { .. } => "freeze",
            Command::Unfreeze { .. } => "unfreeze",
            Command::Status => "status",
            Command::Diff { .. } => "diff",
            Command::Help => "help",
        }
    }

    /// The stage the command is about, if any.
    pub fn stage(&self) -> Option<&StageName> {
        match self {
            Command::Promote { stage, .. }
            | Command::Rollback { stage, .. }
            | Command::Freeze { stage, .. }
            | Command::Unfreeze { stage }
            | Command::Diff { stage, .. } => Some(stage),
            Command::Status | Command::Help => None,
        }
    }
}

/// The canonical text of a command; [`parse`] reads it back to the same command.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.name())?;
        if let Some(stage) = self.stage() {
            write!(f, " {stage}")?;
        }
        match self {
            Command::Promote { version: Some(v), .. }
            | Command::Rollback { version: Some(v), .. }
            | Command::Diff { version: Some(v), .. } => {
                write!(f, " {v}")
            }
            Command::Freeze { reason: Some(r), .. } => write!(f, " {r}"),
            _ => Ok(()),
        }
    }
}

/// The version argument of `/promote` and `/rollback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionArg {
    /// `1.4.2`: resolved in the registry.
    Tag(Tag),
    /// `1.4.2@sha256:…`: the tag must still resolve to that digest.
    Pinned(Version),
    /// `sha256:…`: a digest alone.
    Digest(Digest),
}

impl fmt::Display for VersionArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionArg::Tag(t) => write!(f, "{t}"),
            VersionArg::Pinned(v) => write!(f, "{v}"),
            VersionArg::Digest(d) => write!(f, "{d}"),
        }
    }
}

impl VersionArg {
    /// Parses `tag`, `sha256:…` or `tag@sha256:…`; the error is a user-facing sentence.
    pub fn parse(s: &str) -> Result<VersionArg, String> {
        let mut parts = s.split('@');
        let first = parts.next().unwrap_or_default();
        match (parts.next(), parts.next()) {
            (Some(_), Some(_)) => Err(format!("{} is not a valid version: it has more than one `@`.", code(s))),
            (Some(digest), None) => {
                if first.is_empty() {
                    return Err(format!(
                        "{} is not a valid version: the tag before `@` is empty (to name a version by digest alone, \
                         leave out the `@`).",
                        code(s)
                    ));
                }
                let tag = first.parse::<Tag>().map_err(|_| {
                    format!("{} is not a valid version: its tag part {} {}.", code(s), code(first), tag_problem(first))
                })?;
                let digest = digest.parse::<Digest>().map_err(|_| {
                    format!(
                        "{} is not a valid version: its digest part {} {}.",
                        code(s),
                        code(digest),
                        digest_problem(digest)
                    )
                })?;
                Ok(VersionArg::Pinned(Version { tag, digest }))
            }
            (None, _) if s.contains(':') => s
                .parse::<Digest>()
                .map(VersionArg::Digest)
                .map_err(|_| format!("{} is not a valid digest: it {}.", code(s), digest_problem(s))),
            (None, _) => s
                .parse::<Tag>()
                .map(VersionArg::Tag)
                .map_err(|_| format!("{} is not a valid tag: it {}.", code(s), tag_problem(s))),
        }
    }
}

/// What is wrong with an invalid tag, as the end of a sentence starting with "it".
fn tag_problem(s: &str) -> String {
    let n = s.chars().count();
    let allowed = "a tag may contain only letters, digits, `.`, `_` and `-`";
    if s.is_empty() {
        return "is empty".into();
    }
    if n > 128 {
        return format!("is {n} characters long, and a tag has at most 128");
    }
    let first = s.chars().next().unwrap_or_default();
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return format!("starts with {}, but a tag must start with a letter, a digit or `_`", code_char(first));
    }
    match s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        Some(c) => format!("contains {}, but {allowed}", code_char(c)),
        None => format!("is not a valid tag ({allowed}, at most 128 characters)"),
    }
}

/// What is wrong with an invalid digest, as the end of a sentence starting with "it".
fn digest_problem(s: &str) -> String {
    let Some(hex) = s.strip_prefix("sha256:") else {
        return match s.split_once(':') {
            Some((algorithm, _)) if !algorithm.is_empty() => {
                format!("uses the algorithm {}, but only `sha256` digests are supported", code(algorithm))
            }
            _ => "must start with `sha256:`".into(),
        };
    };
    if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return format!("contains {}, but the part after `sha256:` must be lowercase hex (`0-9`, `a-f`)", code_char(c));
    }
    format!("has {} hex characters after `sha256:`, but a sha256 digest has exactly 64", hex.chars().count())
}

/// The outcome of reading a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// No command (prose, or commands only in code, quotes or HTML comments).
    NoCommand,
    Command(Command),
    /// Something command-like that cannot run: the reply explains.
    Error(CommandError),
}

/// Why a comment's command cannot run. Both fields are Markdown, safe to post as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// One precise paragraph.
    pub message: String,
    /// The usage line of the command concerned, if there is one.
    pub usage: Option<String>,
}

impl CommandError {
    fn new(message: String, usage: Option<String>) -> CommandError {
        CommandError { message, usage }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(usage) = &self.usage {
            write!(f, "\n\nUsage: `{usage}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for CommandError {}

// ---------------------------------------------------------------------------------------
// The command table

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    Stage,
    Version,
    Reason,
}

#[derive(Debug)]
struct ArgSpec {
    name: &'static str,
    kind: ArgKind,
    optional: bool,
    /// For the help text.
    about: &'static str,
}

#[derive(Debug)]
struct CommandSpec {
    name: &'static str,
    args: &'static [ArgSpec],
    summary: &'static str,
}

const STAGE: ArgSpec = ArgSpec {
    name: "stage",
    kind: ArgKind::Stage,
    optional: false,
    about: "a stage of this repository's pipeline (`.baton.yaml`)",
};
const VERSION: ArgSpec = ArgSpec {
    name: "version",
    kind: ArgKind::Version,
    optional: true,
    about: "a tag (`1.4.2`), a digest (`sha256:…`) or a tag pinned to a digest (`1.4.2@sha256:…`)",
};
const REASON: ArgSpec = ArgSpec {
    name: "reason",
    kind: ArgKind::Reason,
    optional: true,
    about: "free text up to the end of the line, at most 500 characters",
};

static COMMANDS: [CommandSpec; 7] = [
    CommandSpec {
        name: "promote",
        args: &[STAGE, VERSION],
        summary: "Open (or refresh) the pull request moving *stage* to *version*; by default the newest version \
                  verified in the stage it is promoted from. On a manual stage your approval is recorded and the \
                  pull request merges when its checks pass.",
    },
    CommandSpec {
        name: "rollback",
        args: &[STAGE, VERSION],
        summary: "Move *stage* back to *version* (by default the version it ran before). The pull request skips \
                  verification gates but not signature checks, is labelled `baton:rollback`, and automatic \
                  promotion never re-promotes the rolled-back version.",
    },
    CommandSpec {
        name: "freeze",
        args: &[STAGE, REASON],
        summary: "Freeze *stage*: promotions to it fail `baton/policy` until `/unfreeze` (rollbacks still work).",
    },
    CommandSpec { name: "unfreeze", args: &[STAGE], summary: "Lift the freeze of *stage*." },
    CommandSpec {
        name: "status",
        args: &[],
        summary: "Reply with each stage's version, digest, since when, and where it was verified.",
    },
    CommandSpec {
        name: "diff",
        args: &[STAGE, VERSION],
        summary: "Reply with what moving *stage* to *version* would change: the artifact's manifest diff and the \
                  commits between the source revisions; by default *version* is what the stage it is promoted \
                  from runs.",
    },
    CommandSpec { name: "help", args: &[], summary: "Reply with this list." },
];

fn spec(name: &str) -> Option<&'static CommandSpec> {
    let name = name.strip_prefix('/').unwrap_or(name);
    COMMANDS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

fn usage_of(spec: &CommandSpec) -> String {
    let mut out = format!("/{}", spec.name);
    for arg in spec.args {
        if arg.optional {
            out.push_str(&format!(" [<{}>]", arg.name));
        } else {
            out.push_str(&format!(" <{}>", arg.name));
        }
    }
    out
}

/// The usage line of a command (`promote` or `/promote`), e.g. `/promote <stage> [<version>]`.
pub fn usage(command: &str) -> Option<String> {
    spec(command).map(usage_of)
}

/// The `/help` reply (Markdown), generated from the command table.
pub fn help() -> String {
    let mut out = String::from(
        "**baton commands**: write one per comment, at the start of a line, outside code blocks and quotes.\n\n\
         | Command | What it does |\n| --- | --- |\n",
    );
    for spec in &COMMANDS {
        out.push_str(&format!("| `{}` | {} |\n", usage_of(spec), spec.summary));
    }
    out.push('\n');
    let mut seen: Vec<&str> = Vec::new();
    for arg in COMMANDS.iter().flat_map(|s| s.args) {
        if !seen.contains(&arg.name) {
            seen.push(arg.name);
            out.push_str(&format!("- `<{}>`: {}\n", arg.name, arg.about));
        }
    }
    out.push_str(
        "\nYou need write access to this repository, and on a stage with `approvers` you must be one of them. \
         `[…]` marks an optional argument.\n",
    );
    out
}

// ---------------------------------------------------------------------------------------
// Parsing

/// One command-like line.
struct Hit {
    line: usize,
    typed: String,
    result: Result<Command, CommandError>,
}

/// Reads the command of a comment body. `stages` are the stages of the repository's pipeline.
/// Never panics; looks at no more than the first 64 KiB and 1000 lines.
pub fn parse(body: &str, stages: &[StageName]) -> Parsed {
    let mut hits: Vec<Hit> = scan::candidates(body).iter().filter_map(|c| classify(c, stages)).collect();
    match hits.len() {
        0 => Parsed::NoCommand,
        1 => match hits.remove(0).result {
            Ok(command) => Parsed::Command(command),
            Err(error) => Parsed::Error(error),
        },
        n => {
            let mut listed: Vec<String> =
                hits.iter().take(3).map(|h| format!("{} (line {})", code(&h.typed), h.line)).collect();
            if n > 3 {
                listed.push(format!("{} more", n - 3));
            }
            Parsed::Error(CommandError::new(
                format!(
                    "Only one command per comment, but this comment has {n}: {}. Post each command as a comment of \
                     its own.",
                    join(&listed, "and")
                ),
                None,
            ))
        }
    }
}

/// Whether a candidate line is command-like, and if so, what it says.
fn classify(line: &scan::SlashLine, stages: &[StageName]) -> Option<Hit> {
    let after = line.text.strip_prefix('/')?;
    let name_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
    if name_len == 0 || name_len > 32 {
        return None;
    }
    let (name, rest) = after.split_at(name_len);
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None; // `/etc/hosts`, `/promote:` …
    }
    let typed = format!("/{name}");
    let hit = |result| Some(Hit { line: line.number, typed: typed.clone(), result });
    if let Some(spec) = spec(name) {
        if line.lazy_quote {
            return hit(Err(CommandError::new(
                format!(
                    "{} on line {} directly follows a quote, so GitHub shows it as part of the quote, and baton does \
                     not run quoted commands. Put an empty line between the quote and the command.",
                    code(&typed),
                    line.number
                ),
                Some(usage_of(spec)),
            )));
        }
        return hit(parse_args(spec, rest, stages));
    }
    if line.lazy_quote {
        return None;
    }
    if let Some(suggestion) = suggest_command(name) {
        return hit(Err(CommandError::new(
            format!("Unknown command {}. Did you mean `/{}`?", code(&typed), suggestion.name),
            Some(usage_of(suggestion)),
        )));
    }
    // Other bots' commands (Prow and friends) are theirs to answer: baton stays silent.
    if FOREIGN_COMMANDS.contains(&name.to_ascii_lowercase().as_str()) {
        return None;
    }
    // Any other `/word` is an attempt at a command: it gets an answer, never silence.
    let names: Vec<String> = COMMANDS.iter().map(|s| format!("`/{}`", s.name)).collect();
    hit(Err(CommandError::new(
        format!("Unknown command {}. The commands are {}; `/help` explains them.", code(&typed), join(&names, "and")),
        None,
    )))
}

/// Commands of other tools commonly used in the same repositories (Prow, Mergify, bors…),
/// which baton leaves alone rather than answering "unknown command".
const FOREIGN_COMMANDS: &[&str] = &[
    "approve",
    "area",
    "assign",
    "cc",
    "cherrypick",
    "close",
    "hold",
    "kind",
    "label",
    "lgtm",
    "lifecycle",
    "meow",
    "ok",
    "override",
    "priority",
    "reopen",
    "retest",
    "shrug",
    "test",
    "unassign",
    "uncc",
    "unhold",
    "woof",
    "remove",
    "rebase",
    "refresh",
    "queue",
    "dequeue",
    "try",
    "retry",
    "r",
    "merge",
    "squash",
];

fn suggest_command(name: &str) -> Option<&'static CommandSpec> {
    let lower = name.to_ascii_lowercase();
    let close = COMMANDS
        .iter()
        .map(|s| (distance(&lower, s.name), s))
        .filter(|(d, s)| *d <= if s.name.len() <= 4 { 1 } else { 2 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, s)| s);
    close.or_else(|| COMMANDS.iter().find(|s| lower.len() >= 4 && s.name.starts_with(&lower)))
}

fn parse_args(spec: &'static CommandSpec, rest: &str, stages: &[StageName]) -> Result<Command, CommandError> {
    let fail = |message: String| CommandError::new(message, Some(usage_of(spec)));
    let mut rest = rest;
    let mut stage = None;
    let mut version = None;
    let mut reason = None;
    for arg in spec.args {
        if arg.kind == ArgKind::Reason {
            reason = parse_reason(rest.trim()).map_err(fail)?;
            rest = "";
            continue;
        }
        let Some((token, remaining)) = next_token(rest) else {
            if arg.optional {
                continue;
            }
            return Err(fail(missing_stage(spec, stages)));
        };
        rest = remaining;
        match arg.kind {
            ArgKind::Stage => stage = Some(parse_stage(token, stages).map_err(fail)?),
            ArgKind::Version => version = Some(VersionArg::parse(token).map_err(fail)?),
            ArgKind::Reason => {}
        }
    }
    if let Some((extra, _)) = next_token(rest) {
        return Err(fail(format!("`/{}` takes {}; {} is unexpected.", spec.name, describe_args(spec), code(extra))));
    }
    let stage = || stage.clone().ok_or_else(|| fail(missing_stage(spec, stages)));
    Ok(match spec.name {
        "promote" => Command::Promote { stage: stage()?, version },
        "rollback" => Command::Rollback { stage: stage()?, version },
        "freeze" => Command::Freeze { stage: stage()?, reason },
        "unfreeze" => Command::Unfreeze { stage: stage()? },
        "status" => Command::Status,
        "diff" => Command::Diff { stage: stage()?, version },
        _ => Command::Help,
    })
}

fn next_token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

fn describe_args(spec: &CommandSpec) -> String {
    if spec.args.is_empty() {
        return "no arguments".into();
    }
    let parts: Vec<String> = spec
        .args
        .iter()
        .map(|a| if a.optional { format!("an optional {}", a.name) } else { format!("a {}", a.name) })
        .collect();
    join(&parts, "and")
}

fn missing_stage(spec: &CommandSpec, stages: &[StageName]) -> String {
    if stages.is_empty() {
        format!("`/{}` needs a stage, but this repository's pipeline defines no stages.", spec.name)
    } else {
        format!("`/{}` needs a stage: {}.", spec.name, stage_list(stages, "or"))
    }
}

fn parse_stage(token: &str, stages: &[StageName]) -> Result<StageName, String> {
    if let Some(stage) = stages.iter().find(|s| s.as_str() == token) {
        return Ok(stage.clone());
    }
    if stages.is_empty() {
        return Err(format!("Unknown stage {}: this repository's pipeline defines no stages.", code(token)));
    }
    let lower = token.to_lowercase();
    let suggestion = if token.len() > 64 {
        None
    } else {
        stages
            .iter()
            .map(|s| (distance(&lower, s.as_str()), s))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, s)| s)
            .or_else(|| {
                stages.iter().find(|s| {
                    lower.len() >= 3
                        && s.as_str().len() >= 3
                        && (s.as_str().starts_with(&lower) || lower.starts_with(s.as_str()))
                })
            })
    };
    let did_you_mean = suggestion.map(|s| format!(" Did you mean `{s}`?")).unwrap_or_default();
    Err(format!("Unknown stage {}.{did_you_mean} The stages are {}.", code(token), stage_list(stages, "and")))
}

fn stage_list(stages: &[StageName], conjunction: &str) -> String {
    const SHOWN: usize = 20;
    let mut names: Vec<String> = stages.iter().take(SHOWN).map(|s| format!("`{s}`")).collect();
    if stages.len() > SHOWN {
        names.push(format!("{} more", stages.len() - SHOWN));
    }
    join(&names, conjunction)
}

fn parse_reason(reason: &str) -> Result<Option<String>, String> {
    if reason.is_empty() {
        return Ok(None);
    }
    let n = reason.chars().count();
    if n > MAX_REASON_CHARS {
        return Err(format!("The reason is {n} characters long; at most {MAX_REASON_CHARS} are allowed."));
    }
    if let Some(c) = reason.chars().find(|&c| is_unsafe_char(c)) {
        return Err(format!(
            "The reason contains the control character U+{:04X}; write it as plain text on the command's line.",
            c as u32
        ));
    }
    Ok(Some(reason.to_string()))
}

/// Control characters, and the invisible ones that reorder or hide text.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Untrusted text as a Markdown code span: shortened, control characters replaced, and
/// fenced with enough backticks.
fn code(s: &str) -> String {
    const MAX: usize = 60;
    let mut shown: String = s.chars().take(MAX).map(|c| if is_unsafe_char(c) { '\u{FFFD}' } else { c }).collect();
    if s.chars().count() > MAX {
        shown.push('…');
    }
    let longest = shown.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if shown.starts_with('`') || shown.ends_with('`') {
        format!("{fence} {shown} {fence}")
    } else {
        format!("{fence}{shown}{fence}")
    }
}

fn code_char(c: char) -> String {
    if is_unsafe_char(c) || c.is_whitespace() {
        format!("U+{:04X}", c as u32)
    } else {
        code(c.encode_utf8(&mut [0; 4]))
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), by chars.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
