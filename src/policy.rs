//! The `baton/policy` check (DESIGN §6): for every pointer a pull request changes, a row with
//! the artifact, old → new version, digest, and the verdict of each rule. Pure: the engine
//! gathers the facts into [`PointerFacts`]; this module decides and renders.

use std::fmt::Write as _;

use crate::github::Conclusion;

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
}

impl Rule {
    pub const ALL: [Rule; 6] =
        [Rule::Parses, Rule::DigestPinned, Rule::Registry, Rule::Signature, Rule::FromStage, Rule::Freeze];
    pub fn header(self) -> &'static str {
        match self {
            Rule::Parses => "parses",
            Rule::DigestPinned => "digest-pinned",
            Rule::Registry => "tag → digest",
            Rule::Signature => "signature",
            Rule::FromStage => "verified upstream",
            Rule::Freeze => "not frozen",
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

    pub fn title(&self) -> String {
        if let Some(f) = &self.fatal {
            return first_line(f).trim_end_matches(':').to_string();
        }
        let failed = self.rows.iter().filter(|r| r.failed()).count();
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
            let _ = writeln!(
                s,
                "| pointer | stage | artifact | version | digest | {} |",
                Rule::ALL.map(Rule::header).join(" | ")
            );
            let _ = writeln!(s, "|---|---|---|---|---|{}|", Rule::ALL.map(|_| "---").join("|"));
            for r in &self.rows {
                let cells: Vec<String> = Rule::ALL
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
}
