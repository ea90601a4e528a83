//! The `baton/policy` check: for every pointer a pull request changes, a row with the
//! artifact, old → new version, digest, and the verdict of each rule with its "what to do".
//! Pure: the engine gathers the facts into [`PointerFacts`]; [`evaluate_pointer`] decides the
//! row, and [`Report`] renders the check run (see docs/architecture.md).

use std::fmt::Write as _;

use crate::forge::Conclusion;
use crate::pipeline::{Artifact, PointerSpec, Stage};
use crate::pointer::Current;
use crate::types::{Digest, StageName, Tag, Version};

/// The label that marks a pointer change as a rollback (exempt from freezes; may go back).
pub const ROLLBACK_LABEL: &str = "baton:rollback";

pub const CHECK_NAME: &str = "baton/policy";

/// One rule's verdict for one pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass(String),
    Fail {
        what: String,
        fix: String,
    },
    /// Not applicable here (with the reason), e.g. freeze for a rollback.
    Skip(String),
    /// Not yet: the change waits (a closed promotion window, #13), e.g. "closed until Mon 08:00
    /// Europe/Berlin". The check stays pending rather than failing.
    Wait(String),
}

impl Verdict {
    pub fn pass(s: impl Into<String>) -> Verdict {
        Verdict::Pass(s.into())
    }
    pub fn fail(what: impl Into<String>, fix: impl Into<String>) -> Verdict {
        Verdict::Fail { what: what.into(), fix: fix.into() }
    }
    fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail { .. })
    }
    fn cell(&self) -> String {
        match self {
            Verdict::Pass(s) if s.is_empty() => "✅".to_string(),
            Verdict::Pass(s) => format!("✅ {}", esc(s)),
            Verdict::Fail { what, .. } => format!("❌ {}", esc(what)),
            Verdict::Skip(s) => format!("➖ {}", esc(s)),
            Verdict::Wait(s) => format!("🚧 {}", esc(s)),
        }
    }
}

/// The rules, in table order. `FromStage` ("verified in the from-stage") is evaluated by the
/// stage-promotion logic; rows without it show ➖.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    Parses,
    DigestPinned,
    Registry,
    Signature,
    FromStage,
    Freeze,
    /// The stage's promotion window is open (#13). Shown only when a row has a verdict for it.
    Window,
    /// The PR moves a whole release unit (#13). Shown only when a row has a verdict for it.
    Unit,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Rule::Parses,
        Rule::DigestPinned,
        Rule::Registry,
        Rule::Signature,
        Rule::FromStage,
        Rule::Freeze,
        Rule::Window,
        Rule::Unit,
    ];
    /// Rules whose column appears only when some row has a verdict for them.
    fn optional(self) -> bool {
        matches!(self, Rule::Window | Rule::Unit)
    }
    pub fn header(self) -> &'static str {
        match self {
            Rule::Parses => "parses",
            Rule::DigestPinned => "digest-pinned",
            Rule::Registry => "tag → digest",
            Rule::Signature => "signature",
            Rule::FromStage => "verified upstream",
            Rule::Freeze => "not frozen",
            Rule::Window => "window open",
            Rule::Unit => "whole unit",
        }
    }
}

/// The facts and verdicts of one changed pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub file: String,
    pub stage: String,
    pub artifact: String,
    pub old: String,
    pub new: String,
    pub digest: Option<String>,
    pub verdicts: Vec<(Rule, Verdict)>,
}

impl Row {
    pub fn failed(&self) -> bool {
        self.verdicts.iter().any(|(_, v)| v.is_fail())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Pointer-like changes baton cannot attribute to a configured stage, and other notes.
    pub warnings: Vec<String>,
    /// A problem that makes every row moot (e.g. an invalid `.baton.yaml`).
    pub fatal: Option<String>,
}

impl Report {
    pub fn conclusion(&self) -> Conclusion {
        if self.fatal.is_some() || self.rows.iter().any(Row::failed) {
            Conclusion::Failure
        } else {
            Conclusion::Success
        }
    }

    /// Whether a row waits (a closed promotion window) while none fails: the engine leaves the
    /// check `in_progress` (pending), so neither auto-merge nor a human merges before the window
    /// opens; `reconcile` re-runs a check that has not completed.
    pub fn waiting(&self) -> bool {
        self.conclusion() == Conclusion::Success
            && self.rows.iter().any(|r| r.verdicts.iter().any(|(_, v)| matches!(v, Verdict::Wait(_))))
    }

    /// The rule columns of the table: every rule, but optional ones only when used.
    fn columns(&self) -> Vec<Rule> {
        Rule::ALL
            .into_iter()
            .filter(|rule| !rule.optional() || self.rows.iter().any(|r| r.verdicts.iter().any(|(x, _)| x == rule)))
            .collect()
    }

    pub fn title(&self) -> String {
        if let Some(f) = &self.fatal {
            return first_line(f).trim_end_matches(':').to_string();
        }
        let failed = self.rows.iter().filter(|r| r.failed()).count();
        if self.waiting() {
            let why = self
                .rows
                .iter()
                .flat_map(|r| &r.verdicts)
                .find_map(|(_, v)| match v {
                    Verdict::Wait(w) => Some(w.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            return format!("Waiting for the promotion window ({why})");
        }
        match (self.rows.len(), failed) {
            (0, _) => "No pointer version changes; see the notes".to_string(),
            (1, 0) => "The pointer change passes every rule".to_string(),
            (n, 0) => format!("All {n} pointer changes pass every rule"),
            (1, _) => "The pointer change breaks a rule".to_string(),
            (n, f) => format!("{f} of {n} pointer changes break a rule"),
        }
    }

    /// The Markdown summary: the table, then what to do about each failure.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.fatal {
            let (first, rest) = f.split_once('\n').unwrap_or((f, ""));
            let _ = writeln!(s, "{first}\n\n```\n{}\n```", rest.replace("```", "'''"));
            if !self.warnings.is_empty() {
                let _ = writeln!(s, "\n### Warnings\n");
                for w in &self.warnings {
                    let _ = writeln!(s, "- ⚠️ {}", esc(w));
                }
            }
            return s;
        }
        if !self.rows.is_empty() {
            let columns = self.columns();
            let _ = writeln!(
                s,
                "| pointer | stage | artifact | version | digest | {} |",
                columns.iter().map(|r| r.header()).collect::<Vec<_>>().join(" | ")
            );
            let _ =
                writeln!(s, "|---|---|---|---|---|{}|", columns.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
            for r in &self.rows {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|rule| {
                        r.verdicts
                            .iter()
                            .find(|(x, _)| x == rule)
                            .map(|(_, v)| v.cell())
                            .unwrap_or_else(|| "➖".to_string())
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "| `{}` | `{}` | `{}` | {} → {} | {} | {} |",
                    esc(&r.file),
                    esc(&r.stage),
                    esc(&r.artifact),
                    esc(&r.old),
                    esc(&r.new),
                    r.digest.as_deref().map(|d| format!("`{}`", esc(short(d)))).unwrap_or_else(|| "none".into()),
                    cells.join(" | ")
                );
            }
        }
        let fixes: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| {
                r.verdicts.iter().filter_map(move |(rule, v)| match v {
                    Verdict::Fail { what, fix } => Some(format!(
                        "- **{}** in `{}` ({}): {}. {}",
                        rule.header(),
                        esc(&r.file),
                        esc(&r.stage),
                        esc(what),
                        esc(fix)
                    )),
                    _ => None,
                })
            })
            .collect();
        if !fixes.is_empty() {
            let _ = writeln!(s, "\n### What to do\n\n{}", fixes.join("\n"));
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "\n### Warnings\n");
            for w in &self.warnings {
                let _ = writeln!(s, "- ⚠️ {}", esc(w));
            }
        }
        s
    }
}

/// The pointer as the pull request's head has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewPointer {
    Read(Current),
    /// The file parses, but baton cannot read the pointer in it (the reason).
    Unparseable(String),
    Deleted,
    /// The file could not be read (the reason, for operators and the row).
    Unreadable(String),
}

/// What the signature check said about the new digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureFact {
    /// Verified, by which key or identity.
    Verified(String),
    NotSigned(String),
    /// Signed, but not by an accepted key or identity, or the check could not be made.
    Invalid(String),
}

/// Where the new version stands upstream (or, for a rollback, in the stage's own history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamFact {
    /// A first stage takes new versions from the registry.
    FirstStage,
    /// Verified in `from` on this bump commit.
    VerifiedIn {
        from: StageName,
        sha: String,
    },
    NotVerified {
        from: StageName,
    },
    /// Rollback: whether the stage ran this version in its recent history.
    RollbackRanBefore(bool),
    /// Reading the history failed (the reason).
    Unknown(String),
}

/// The stage's freeze file on the default branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeFact {
    /// No freeze file configured, or it does not exist.
    NotFrozen,
    Frozen {
        file: String,
        first_line: String,
    },
    Unreadable {
        file: String,
        reason: String,
    },
}

/// Facts about a pinned version, read only once the new pointer names a tag and a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedFacts {
    /// What the tag resolves to in the registry now (or why that is unknown).
    pub registry: Result<Digest, String>,
    pub signature: SignatureFact,
    pub upstream: UpstreamFact,
    pub freeze: FreezeFact,
}

/// Everything `baton/policy` knows about one changed pointer.
#[derive(Debug, Clone)]
pub struct PointerFacts<'a> {
    pub stage: &'a Stage,
    pub spec: &'a PointerSpec,
    pub artifact: &'a Artifact,
    /// The pointer on the default branch (None: absent or unreadable).
    pub old: Option<Current>,
    pub new: NewPointer,
    /// Whether the pull request carries [`ROLLBACK_LABEL`].
    pub rollback: bool,
    /// Gathered only when [`pinned_version`] of the new pointer is `Ok`.
    pub pinned: Option<PinnedFacts>,
    /// The stage's promotion window now (#13); `None` when the stage has no `windows`.
    pub window: Option<WindowFact>,
}

/// A stage's promotion window at the moment of the check (#13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowFact {
    Open,
    /// Closed, in words: "closed until Mon 08:00 Europe/Berlin".
    Closed(String),
}

impl WindowFact {
    /// The fact for `stage` at `now`.
    pub fn of(stage: &Stage, now: chrono::DateTime<chrono::Utc>) -> Option<WindowFact> {
        let w = stage.windows.as_ref()?;
        let state = w.state(now);
        Some(match crate::windows::closed_text(w, state, now) {
            None => WindowFact::Open,
            Some(text) => WindowFact::Closed(text),
        })
    }
}

fn window_verdict(stage: &Stage, rollback: bool, f: &WindowFact) -> Verdict {
    match f {
        WindowFact::Open => Verdict::pass(""),
        WindowFact::Closed(text) if rollback => Verdict::Skip(format!("{} {text}; rollbacks are exempt", stage.name)),
        WindowFact::Closed(text) => Verdict::Wait(text.clone()),
    }
}

/// The version a pointer pins, or the verdict of the digest-pinned rule when it pins none.
pub fn pinned_version(c: &Current, spec: &PointerSpec) -> Result<Version, Verdict> {
    let tag = c.tag.as_deref().map(str::parse::<Tag>);
    let digest = c.digest.as_deref().map(str::parse::<Digest>);
    match (tag, digest) {
        (Some(Ok(tag)), Some(Ok(digest))) => Ok(Version { tag, digest }),
        (_, None) => Err(Verdict::fail(
            "no digest: a tag alone can be re-pushed",
            format!(
                "Pin it: `baton pointer set {} --format {} --tag TAG --digest sha256:…` with the digest baton shows for the tag.",
                spec.file, spec.format
            ),
        )),
        (Some(Err(e)), _) => Err(Verdict::fail(e.to_string(), "Use a valid tag and a sha256 digest.")),
        (_, Some(Err(e))) => Err(Verdict::fail(e.to_string(), "Use a valid tag and a sha256 digest.")),
        (None, Some(Ok(_))) => Err(Verdict::fail(
            "a digest without a tag",
            "Add the tag the digest was released as, so that people can read the version.",
        )),
    }
}

/// How a pointer reads in the table's version column.
pub fn describe(c: Option<&Current>) -> String {
    match c {
        None => "none".to_string(),
        Some(c) => match (&c.tag, &c.digest) {
            (Some(t), _) => format!("`{t}`"),
            (None, Some(_)) => "digest only".to_string(),
            (None, None) => "empty".to_string(),
        },
    }
}

/// The row of one changed pointer: every rule's verdict with what to do. `None` when the
/// pointer's version did not change (the file changed elsewhere).
pub fn evaluate_pointer(f: &PointerFacts) -> Option<Row> {
    let mut row = Row {
        file: f.spec.file.to_string(),
        stage: f.stage.name.to_string(),
        artifact: f.artifact.name.to_string(),
        old: describe(f.old.as_ref()),
        new: "?".to_string(),
        digest: None,
        verdicts: vec![],
    };
    let new = match &f.new {
        NewPointer::Read(c) => c,
        NewPointer::Unparseable(e) => {
            let fix = format!("Fix the {} pointer so that `baton pointer get` reads it.", f.spec.format);
            row.verdicts.push((Rule::Parses, Verdict::fail(e.clone(), fix)));
            return Some(row);
        }
        NewPointer::Deleted => {
            row.verdicts.push((
                Rule::Parses,
                Verdict::fail(
                    "the pointer file is deleted",
                    "Restore the file, or remove the pointer from .baton.yaml first.",
                ),
            ));
            return Some(row);
        }
        NewPointer::Unreadable(e) => {
            row.verdicts.push((Rule::Parses, Verdict::fail(format!("cannot read the file: {e}"), "Re-run the check.")));
            return Some(row);
        }
    };
    if f.old.as_ref() == Some(new) {
        return None;
    }
    row.new = describe(Some(new));
    row.digest = new.digest.clone();
    row.verdicts.push((Rule::Parses, Verdict::pass("")));
    let version = match pinned_version(&super::tracking::normalize(f.artifact.track.as_ref(), new.clone()), f.spec) {
        Ok(v) => v,
        Err(verdict) => {
            row.verdicts.push((Rule::DigestPinned, verdict));
            return Some(row);
        }
    };
    row.verdicts.push((Rule::DigestPinned, Verdict::pass("")));
    let Some(p) = &f.pinned else { return Some(row) };
    let registry = if super::tracking::is_tracked(f.artifact, &version) {
        match super::tracking::registry_text(&version, &p.registry) {
            Ok(text) => Verdict::pass(text),
            Err(e) => {
                Verdict::fail(e, "Check the digest is in the registry and baton can reach it, then re-run the check.")
            }
        }
    } else {
        registry_verdict(&version, &p.registry)
    };
    row.verdicts.push((Rule::Registry, registry));
    row.verdicts.push((Rule::Signature, signature_verdict(&p.signature)));
    row.verdicts.push((Rule::FromStage, upstream_verdict(f.stage, f.rollback, &version, &p.upstream)));
    row.verdicts.push((Rule::Freeze, freeze_verdict(f.stage, f.rollback, &p.freeze)));
    if let Some(w) = &f.window {
        row.verdicts.push((Rule::Window, window_verdict(f.stage, f.rollback, w)));
    }
    Some(row)
}

fn registry_verdict(v: &Version, now: &Result<Digest, String>) -> Verdict {
    match now {
        Ok(d) if *d == v.digest => Verdict::pass(format!("{} resolves to it", v.tag)),
        Ok(d) => Verdict::fail(
            format!("{} now resolves to {} in the registry (the tag was re-pushed)", v.tag, d.short()),
            "Do not promote a re-pushed tag: release a new version and promote that.",
        ),
        Err(e) => {
            Verdict::fail(e.clone(), "Check the tag exists and baton can reach the registry, then re-run the check.")
        }
    }
}

fn signature_verdict(s: &SignatureFact) -> Verdict {
    match s {
        SignatureFact::Verified(by) => Verdict::pass(by.clone()),
        SignatureFact::NotSigned(e) => Verdict::fail(
            e.clone(),
            "Sign the artifact (cosign sign) with a key or identity the artifact's `verify` list accepts, then re-run the check.",
        ),
        SignatureFact::Invalid(e) => {
            Verdict::fail(e.clone(), "Only artifacts signed by a configured key or identity can be promoted.")
        }
    }
}

/// The digest must be verified in the stage's `from` stage; a rollback must go to a version
/// this stage ran before.
fn upstream_verdict(stage: &Stage, rollback: bool, v: &Version, u: &UpstreamFact) -> Verdict {
    match u {
        UpstreamFact::FirstStage => Verdict::Skip("first stage".into()),
        UpstreamFact::RollbackRanBefore(true) => {
            Verdict::pass(format!("rollback to a version {} ran before", stage.name))
        }
        UpstreamFact::RollbackRanBefore(false) => Verdict::fail(
            format!("{} never ran {} (in its recent history)", stage.name, v.tag),
            "A rollback can only go back to a version the stage ran before; promote other versions normally.",
        ),
        UpstreamFact::VerifiedIn { from, sha } => {
            Verdict::pass(format!("verified in {from} at {}", &sha[..sha.len().min(7)]))
        }
        UpstreamFact::NotVerified { from } => Verdict::fail(
            format!("{}@{} is not verified in {from}", v.tag, v.digest.short()),
            format!(
                "Promote only what {from} verified: use `/promote {}` to pick the newest verified version.",
                stage.name
            ),
        ),
        UpstreamFact::Unknown(e) if rollback => {
            Verdict::fail(format!("cannot read the stage's history: {e}"), "Re-run the check.")
        }
        UpstreamFact::Unknown(e) => {
            Verdict::fail(format!("cannot tell where it is verified: {e}"), "Re-run the check.")
        }
    }
}

fn freeze_verdict(stage: &Stage, rollback: bool, f: &FreezeFact) -> Verdict {
    match f {
        FreezeFact::NotFrozen => Verdict::pass(""),
        FreezeFact::Frozen { .. } if rollback => {
            Verdict::Skip(format!("{} is frozen; rollbacks are exempt", stage.name))
        }
        FreezeFact::Frozen { file, first_line } => Verdict::fail(
            format!("{} is frozen ({file}: {})", stage.name, first_line.trim()),
            format!("Wait for `/unfreeze {}`, or roll back with `/rollback {}`.", stage.name, stage.name),
        ),
        FreezeFact::Unreadable { file, reason } => {
            Verdict::fail(format!("cannot read the freeze file {file}: {reason}"), "Re-run the check.")
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(120).collect()
}

fn short(d: &str) -> &str {
    let n = "sha256:".len() + 12;
    if d.len() > n && d.is_char_boundary(n) {
        &d[..n]
    } else {
        d
    }
}

/// Table-cell text from untrusted input.
fn esc(s: &str) -> String {
    let s: String = s.chars().take(300).collect();
    s.replace('|', "\\|").replace(['\n', '\r'], " ").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> String {
        format!("sha256:{}", "ab".repeat(32))
    }

    #[test]
    fn passing_row() {
        let r = Report {
            rows: vec![Row {
                file: "clusters/dev/myapp.yaml".into(),
                stage: "dev".into(),
                artifact: "myapp".into(),
                old: "`0.5.0`".into(),
                new: "`0.5.1`".into(),
                digest: Some(digest()),
                verdicts: vec![
                    (Rule::Parses, Verdict::pass("")),
                    (Rule::DigestPinned, Verdict::pass("")),
                    (Rule::Registry, Verdict::pass("0.5.1 resolves to it")),
                    (Rule::Signature, Verdict::pass("key .baton/keys/deploy.pub")),
                    (Rule::Freeze, Verdict::pass("")),
                ],
            }],
            warnings: vec![],
            fatal: None,
        };
        assert_eq!(r.conclusion(), Conclusion::Success);
        insta::assert_snapshot!(format!("{}\n\n{}", r.title(), r.summary()));
    }

    #[test]
    fn failing_rows_say_what_to_do() {
        let r = Report {
            rows: vec![Row {
                file: "clusters/prod/myapp.yaml".into(),
                stage: "prod".into(),
                artifact: "myapp".into(),
                old: "`0.5.0`".into(),
                new: "`latest`".into(),
                digest: None,
                verdicts: vec![
                    (Rule::Parses, Verdict::pass("")),
                    (
                        Rule::DigestPinned,
                        Verdict::fail("no digest", "Pin the version with its digest, e.g. `baton pointer set`."),
                    ),
                    (Rule::Freeze, Verdict::fail("prod is frozen", "Wait for `/unfreeze prod`, or roll back.")),
                ],
            }],
            warnings: vec!["apps/x.yaml looks like a pointer but no stage names it".into()],
            fatal: None,
        };
        assert_eq!(r.conclusion(), Conclusion::Failure);
        insta::assert_snapshot!(format!("{}\n\n{}", r.title(), r.summary()));
    }

    fn pipeline() -> crate::pipeline::Pipeline {
        let yaml = "artifacts:\n  app:\n    image: r.io/app\n    tags: '.*'\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    pointers:\n      - { file: dev.yaml, format: helm-values, artifact: app }\n  - name: prod\n    from: dev\n    freeze: { file: FREEZE }\n    pointers:\n      - { file: prod.yaml, format: helm-values, artifact: app }\n";
        crate::pipeline::parse(yaml).expect("pipeline")
    }

    fn cur(tag: Option<&str>, digest: Option<&str>) -> Current {
        Current { tag: tag.map(str::to_string), digest: digest.map(str::to_string) }
    }

    fn pinned(upstream: UpstreamFact, freeze: FreezeFact) -> PinnedFacts {
        PinnedFacts {
            registry: Ok(digest().parse().unwrap()),
            signature: SignatureFact::Verified("key k.pub".into()),
            upstream,
            freeze,
        }
    }

    /// One row as text: each rule's verdict, in table order.
    fn verdicts(row: Option<Row>) -> String {
        let Some(row) = row else { return "unchanged".into() };
        row.verdicts
            .iter()
            .map(|(rule, v)| match v {
                Verdict::Pass(_) => format!("{}:pass", rule.header()),
                Verdict::Fail { what, .. } => format!("{}:fail({what})", rule.header()),
                Verdict::Skip(why) => format!("{}:skip({why})", rule.header()),
                Verdict::Wait(w) => format!("{}:wait({w})", rule.header()),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn evaluate_pointer_table() {
        let p = pipeline();
        let (dev, prod) = (&p.stages[0], &p.stages[1]);
        let artifact = p.artifacts.values().next().unwrap();
        let d = digest();
        let old = Some(cur(Some("1.0.0"), Some(&format!("sha256:{}", "cd".repeat(32)))));
        let new = NewPointer::Read(cur(Some("1.1.0"), Some(&d)));
        let verified = UpstreamFact::VerifiedIn { from: "dev".parse().unwrap(), sha: "0123456789".into() };
        let frozen = FreezeFact::Frozen { file: "FREEZE".into(), first_line: "frozen by alice ".into() };
        let re_pushed = PinnedFacts {
            registry: Ok(format!("sha256:{}", "ef".repeat(32)).parse().unwrap()),
            ..pinned(verified.clone(), FreezeFact::NotFrozen)
        };
        let unsigned = PinnedFacts {
            signature: SignatureFact::NotSigned("no signature found".into()),
            ..pinned(UpstreamFact::FirstStage, FreezeFact::NotFrozen)
        };
        #[rustfmt::skip]
        /// (what, stage, old pointer, new pointer, rollback label, pinned facts, expected verdicts)
        type Case<'a> = (&'a str, &'a Stage, Option<Current>, NewPointer, bool, Option<PinnedFacts>, &'a str);
        let cases: Vec<Case> = vec![
            ("unchanged version", dev, old.clone(), NewPointer::Read(old.clone().unwrap()), false, None, "unchanged"),
            ("unparseable", dev, old.clone(), NewPointer::Unparseable("no image mapping".into()), false, None, "parses:fail(no image mapping)"),
            ("deleted", dev, old.clone(), NewPointer::Deleted, false, None, "parses:fail(the pointer file is deleted)"),
            ("unreadable", dev, old.clone(), NewPointer::Unreadable("502".into()), false, None, "parses:fail(cannot read the file: 502)"),
            ("tag only", dev, old.clone(), NewPointer::Read(cur(Some("1.1.0"), None)), false, None, "parses:pass digest-pinned:fail(no digest: a tag alone can be re-pushed)"),
            ("digest only", dev, old.clone(), NewPointer::Read(cur(None, Some(&d))), false, None, "parses:pass digest-pinned:fail(a digest without a tag)"),
            ("first stage, all good", dev, old.clone(), new.clone(), false, Some(pinned(UpstreamFact::FirstStage, FreezeFact::NotFrozen)), "parses:pass digest-pinned:pass tag → digest:pass signature:pass verified upstream:skip(first stage) not frozen:pass"),
            ("unsigned", dev, old.clone(), new.clone(), false, Some(unsigned), "parses:pass digest-pinned:pass tag → digest:pass signature:fail(no signature found) verified upstream:skip(first stage) not frozen:pass"),
            ("re-pushed tag", prod, old.clone(), new.clone(), false, Some(re_pushed), "parses:pass digest-pinned:pass tag → digest:fail(1.1.0 now resolves to sha256:efefefefefef in the registry (the tag was re-pushed)) signature:pass verified upstream:pass not frozen:pass"),
            ("not verified upstream", prod, old.clone(), new.clone(), false, Some(pinned(UpstreamFact::NotVerified { from: "dev".parse().unwrap() }, FreezeFact::NotFrozen)), "parses:pass digest-pinned:pass tag → digest:pass signature:pass verified upstream:fail(1.1.0@sha256:abababababab is not verified in dev) not frozen:pass"),
            ("frozen", prod, old.clone(), new.clone(), false, Some(pinned(verified.clone(), frozen.clone())), "parses:pass digest-pinned:pass tag → digest:pass signature:pass verified upstream:pass not frozen:fail(prod is frozen (FREEZE: frozen by alice))"),
            ("rollback through a freeze", prod, old.clone(), new.clone(), true, Some(pinned(UpstreamFact::RollbackRanBefore(true), frozen.clone())), "parses:pass digest-pinned:pass tag → digest:pass signature:pass verified upstream:pass not frozen:skip(prod is frozen; rollbacks are exempt)"),
            ("rollback to a version never run", prod, old.clone(), new.clone(), true, Some(pinned(UpstreamFact::RollbackRanBefore(false), FreezeFact::NotFrozen)), "parses:pass digest-pinned:pass tag → digest:pass signature:pass verified upstream:fail(prod never ran 1.1.0 (in its recent history)) not frozen:pass"),
            ("history unknown", prod, old.clone(), new.clone(), false, Some(pinned(UpstreamFact::Unknown("internal error".into()), FreezeFact::Unreadable { file: "FREEZE".into(), reason: "502".into() })), "parses:pass digest-pinned:pass tag → digest:pass signature:pass verified upstream:fail(cannot tell where it is verified: internal error) not frozen:fail(cannot read the freeze file FREEZE: 502)"),
        ];
        for (what, stage, old, new, rollback, pinned, want) in cases {
            let spec = &stage.pointers[0];
            let facts = PointerFacts { stage, spec, artifact, old, new, rollback, pinned, window: None };
            assert_eq!(verdicts(evaluate_pointer(&facts)), want, "{what}");
        }
    }

    #[test]
    fn every_failure_says_what_to_do() {
        let p = pipeline();
        let prod = &p.stages[1];
        let facts = PointerFacts {
            stage: prod,
            spec: &prod.pointers[0],
            artifact: p.artifacts.values().next().unwrap(),
            old: None,
            new: NewPointer::Read(cur(Some("1.1.0"), None)),
            rollback: false,
            pinned: None,
            window: None,
        };
        let row = evaluate_pointer(&facts).unwrap();
        insta::assert_snapshot!(Report { rows: vec![row], warnings: vec![], fatal: None }.summary());
    }

    /// #13: the window rule: open passes, closed waits, a rollback is exempt.
    #[test]
    fn window_verdicts() {
        let p = pipeline();
        let prod = &p.stages[1];
        let closed = WindowFact::Closed("closed until Mon 08:00 Europe/Berlin".into());
        let cases: [(&WindowFact, bool, Verdict); 3] = [
            (&WindowFact::Open, false, Verdict::pass("")),
            (&closed, false, Verdict::Wait("closed until Mon 08:00 Europe/Berlin".into())),
            (&closed, true, Verdict::Skip("prod closed until Mon 08:00 Europe/Berlin; rollbacks are exempt".into())),
        ];
        for (fact, rollback, want) in cases {
            assert_eq!(window_verdict(prod, rollback, fact), want, "{fact:?} rollback={rollback}");
        }
    }

    /// #13: a closed window waits (pending, not failed); a partial unit move fails.
    #[test]
    fn window_and_unit_rows() {
        let row = |artifact: &str, verdicts: Vec<(Rule, Verdict)>| Row {
            file: format!("clusters/prod/{artifact}.yaml"),
            stage: "prod".into(),
            artifact: artifact.into(),
            old: "`1.4.2`".into(),
            new: "`1.4.3`".into(),
            digest: Some(digest()),
            verdicts,
        };
        let waiting = Report {
            rows: vec![row(
                "api",
                vec![
                    (Rule::Parses, Verdict::pass("")),
                    (Rule::Freeze, Verdict::pass("")),
                    (Rule::Window, Verdict::Wait("closed until Mon 08:00 Europe/Berlin".into())),
                    (Rule::Unit, Verdict::pass("platform 8514cd18865b")),
                ],
            )],
            warnings: vec![],
            fatal: None,
        };
        assert_eq!(waiting.conclusion(), Conclusion::Success);
        assert!(waiting.waiting());
        let partial = Report {
            rows: vec![row(
                "api",
                vec![
                    (Rule::Parses, Verdict::pass("")),
                    (Rule::Window, Verdict::Wait("closed until Mon 08:00 Europe/Berlin".into())),
                    (
                        Rule::Unit,
                        Verdict::fail(
                            "moves `api` of group `platform` without `web`, `worker`",
                            "Let baton promote the unit, or set `groups: { partial: allow }` on the stage.",
                        ),
                    ),
                ],
            )],
            warnings: vec![],
            fatal: None,
        };
        assert_eq!(partial.conclusion(), Conclusion::Failure);
        assert!(!partial.waiting(), "a failure is not a wait");
        insta::assert_snapshot!(format!(
            "{}\n\n{}\n---\n{}\n\n{}",
            waiting.title(),
            waiting.summary(),
            partial.title(),
            partial.summary()
        ));
    }
}
