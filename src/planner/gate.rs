//! The verification gate of a stage: does the bump commit carry every required signal, and has
//! the soak time passed? Pure: the engine turns check runs and statuses into [`Signal`]s, this
//! module returns a [`GateReport`], and `render::gate_summary` writes its Markdown.
//!
//! The input is a plain list of observed signals (name, state, commit, time) so that richer
//! requirements (patterns, minimum counts, signals on several commits, timeouts) extend
//! [`evaluate_gate`] without touching the engine.

use chrono::{DateTime, Utc};

use crate::forge::{CheckRunInfo, CheckStatus, StatusInfo, StatusState};
use crate::pipeline::Stage;
use crate::types::{StageName, Tag};

/// Where a signal comes from: a check run or a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    CheckRun,
    Status,
}

/// What a signal says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalState {
    /// Not finished: queued, in progress, waiting, or a pending status.
    Pending,
    Passed,
    Failed,
}

/// One observed verification signal on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub name: String,
    pub kind: SignalKind,
    pub state: SignalState,
    /// GitHub's own word for it (`in_progress`, `timed_out`, `success`, …), shown to people.
    pub detail: String,
    pub commit: String,
    pub at: Option<DateTime<Utc>>,
    /// Among signals of one name and kind, the highest id is the newest (check-run ids).
    pub id: u64,
}

fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map(|d| d.with_timezone(&Utc))
}

impl Signal {
    pub fn from_check_run(c: &CheckRunInfo) -> Signal {
        let (state, detail) = match (c.status, c.conclusion) {
            (CheckStatus::Completed, Some(k)) if k.is_green() => (SignalState::Passed, k.as_str().to_string()),
            (CheckStatus::Completed, Some(k)) => (SignalState::Failed, k.as_str().to_string()),
            (CheckStatus::Completed, None) => (SignalState::Failed, "without conclusion".to_string()),
            (s, _) => (SignalState::Pending, s.as_str().to_string()),
        };
        Signal {
            name: c.name.clone(),
            kind: SignalKind::CheckRun,
            state,
            detail,
            commit: c.head_sha.clone(),
            at: parse_time(c.completed_at.as_deref().or(c.started_at.as_deref())),
            id: c.id,
        }
    }

    pub fn from_status(s: &StatusInfo, commit: &str) -> Signal {
        let state = match s.state {
            StatusState::Success => SignalState::Passed,
            StatusState::Pending => SignalState::Pending,
            StatusState::Failure | StatusState::Error => SignalState::Failed,
        };
        Signal {
            name: s.context.clone(),
            kind: SignalKind::Status,
            state,
            detail: s.state.as_str().to_string(),
            commit: commit.to_string(),
            at: parse_time(s.updated_at.as_deref()),
            id: 0,
        }
    }
}

/// The verdict on a stage's bump commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateVerdict {
    Verified,
    Failed,
    Pending,
}

/// One required check and the signal that answers it (None: not reported yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub signal: Option<Signal>,
}

impl Requirement {
    pub fn state(&self) -> SignalState {
        self.signal.as_ref().map_or(SignalState::Pending, |s| s.state)
    }
}

/// Where the soak time stands, once every required signal passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Soak {
    /// Still soaking until this time.
    Until { until: DateTime<Utc>, secs: u64 },
    /// Soaked `secs` since the bump.
    Done { since: DateTime<Utc>, secs: u64 },
}

/// The gate's answer, with everything its summary shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateReport {
    pub stage: StageName,
    pub tag: Tag,
    pub verdict: GateVerdict,
    pub requirements: Vec<Requirement>,
    pub soak: Option<Soak>,
}

/// The facts the gate decides on.
#[derive(Debug, Clone)]
pub struct GateFacts<'a> {
    pub stage: &'a Stage,
    /// The version the bump commit moved the stage to.
    pub tag: &'a Tag,
    /// When the bump commit was made (None: unknown, counts as now).
    pub bumped_at: Option<DateTime<Utc>>,
    /// Every signal observed on the bump commit.
    pub signals: &'a [Signal],
    pub now: DateTime<Utc>,
}

/// A check run answers a requirement before a status of the same name; among check runs the
/// newest wins.
fn answer<'a>(signals: &'a [Signal], name: &str) -> Option<&'a Signal> {
    let runs = signals.iter().filter(|s| s.kind == SignalKind::CheckRun && s.name == name).max_by_key(|s| s.id);
    runs.or_else(|| signals.iter().find(|s| s.kind == SignalKind::Status && s.name == name))
}

/// Evaluates a stage's verification checks and soak on its bump commit.
pub fn evaluate_gate(f: &GateFacts) -> GateReport {
    let requirements: Vec<Requirement> = f
        .stage
        .verification
        .checks
        .iter()
        .map(|c| c.pattern.as_str())
        .map(|name| Requirement { name: name.to_string(), signal: answer(f.signals, name).cloned() })
        .collect();
    let mut report = GateReport {
        stage: f.stage.name.clone(),
        tag: f.tag.clone(),
        verdict: GateVerdict::Verified,
        requirements,
        soak: None,
    };
    if report.requirements.iter().any(|r| r.state() == SignalState::Failed) {
        report.verdict = GateVerdict::Failed;
        return report;
    }
    if report.requirements.iter().any(|r| r.state() == SignalState::Pending) {
        report.verdict = GateVerdict::Pending;
        return report;
    }
    if let Some(soak) = f.stage.verification.soak {
        let since = f.bumped_at.unwrap_or(f.now);
        let until = since + chrono::Duration::from_std(soak).unwrap_or_default();
        let secs = soak.as_secs();
        if f.now < until {
            report.verdict = GateVerdict::Pending;
            report.soak = Some(Soak::Until { until, secs });
        } else {
            report.soak = Some(Soak::Done { since, secs });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::Conclusion;

    fn stage(checks: &[&str], soak: Option<u64>) -> Stage {
        let mut verification = String::new();
        if !checks.is_empty() {
            let list = checks.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
            verification.push_str(&format!("\n      checks: [{list}]"));
        }
        if let Some(s) = soak {
            verification.push_str(&format!("\n      soak: {s}s"));
        }
        if !verification.is_empty() {
            verification = format!("\n    verification:{verification}");
        }
        let yaml = format!(
            "artifacts:\n  app:\n    image: r.io/app\n    tags: '.*'\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    pointers:\n      - {{ file: a.yaml, format: helm-values, artifact: app }}{verification}\n"
        );
        crate::pipeline::parse(&yaml).expect("pipeline").stages.remove(0)
    }

    fn run(name: &str, id: u64, status: CheckStatus, conclusion: Option<Conclusion>) -> Signal {
        Signal::from_check_run(&CheckRunInfo {
            id,
            name: name.into(),
            head_sha: "abc".into(),
            status,
            conclusion,
            app_slug: None,
            completed_at: None,
            started_at: None,
            summary: None,
        })
    }

    fn status(name: &str, state: StatusState) -> Signal {
        Signal::from_status(&StatusInfo { context: name.into(), state, updated_at: None }, "abc")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn gate_table() {
        use CheckStatus::*;
        use Conclusion::*;
        let now = at("2026-01-01T12:00:00Z");
        /// (what, stage, signals on the bump commit, bump time, expected verdict)
        type Case = (&'static str, Stage, Vec<Signal>, Option<&'static str>, GateVerdict);
        let cases: Vec<Case> = vec![
            ("no checks configured", stage(&[], None), vec![], None, GateVerdict::Verified),
            ("not reported yet", stage(&["e2e"], None), vec![], None, GateVerdict::Pending),
            ("in progress", stage(&["e2e"], None), vec![run("e2e", 1, InProgress, None)], None, GateVerdict::Pending),
            (
                "success",
                stage(&["e2e"], None),
                vec![run("e2e", 1, Completed, Some(Success))],
                None,
                GateVerdict::Verified,
            ),
            (
                "neutral counts",
                stage(&["e2e"], None),
                vec![run("e2e", 1, Completed, Some(Neutral))],
                None,
                GateVerdict::Verified,
            ),
            (
                "skipped counts",
                stage(&["e2e"], None),
                vec![run("e2e", 1, Completed, Some(Skipped))],
                None,
                GateVerdict::Verified,
            ),
            (
                "failure",
                stage(&["e2e"], None),
                vec![run("e2e", 1, Completed, Some(Failure))],
                None,
                GateVerdict::Failed,
            ),
            (
                "timed out",
                stage(&["e2e"], None),
                vec![run("e2e", 1, Completed, Some(TimedOut))],
                None,
                GateVerdict::Failed,
            ),
            ("no conclusion", stage(&["e2e"], None), vec![run("e2e", 1, Completed, None)], None, GateVerdict::Failed),
            (
                "newest run wins (re-run went green)",
                stage(&["e2e"], None),
                vec![run("e2e", 1, Completed, Some(Failure)), run("e2e", 2, Completed, Some(Success))],
                None,
                GateVerdict::Verified,
            ),
            (
                "newest run wins (re-run failed)",
                stage(&["e2e"], None),
                vec![run("e2e", 2, Completed, Some(Failure)), run("e2e", 1, Completed, Some(Success))],
                None,
                GateVerdict::Failed,
            ),
            (
                "status success",
                stage(&["ci"], None),
                vec![status("ci", StatusState::Success)],
                None,
                GateVerdict::Verified,
            ),
            (
                "status pending",
                stage(&["ci"], None),
                vec![status("ci", StatusState::Pending)],
                None,
                GateVerdict::Pending,
            ),
            ("status error", stage(&["ci"], None), vec![status("ci", StatusState::Error)], None, GateVerdict::Failed),
            (
                "a check run answers before a status",
                stage(&["ci"], None),
                vec![status("ci", StatusState::Failure), run("ci", 1, Completed, Some(Success))],
                None,
                GateVerdict::Verified,
            ),
            (
                "failure beats pending",
                stage(&["a", "b"], None),
                vec![run("a", 1, Completed, Some(Failure))],
                None,
                GateVerdict::Failed,
            ),
            ("soaking", stage(&[], Some(3600)), vec![], Some("2026-01-01T11:30:00Z"), GateVerdict::Pending),
            ("soaked", stage(&[], Some(3600)), vec![], Some("2026-01-01T10:00:00Z"), GateVerdict::Verified),
            ("soak from now when the bump time is unknown", stage(&[], Some(60)), vec![], None, GateVerdict::Pending),
            (
                "soak starts only after checks pass",
                stage(&["e2e"], Some(60)),
                vec![run("e2e", 1, InProgress, None)],
                Some("2026-01-01T10:00:00Z"),
                GateVerdict::Pending,
            ),
        ];
        let tag: Tag = "1.0.0".parse().unwrap();
        for (what, stage, signals, bumped, want) in cases {
            let report = evaluate_gate(&GateFacts {
                stage: &stage,
                tag: &tag,
                bumped_at: bumped.map(at),
                signals: &signals,
                now,
            });
            assert_eq!(report.verdict, want, "{what}");
        }
    }

    #[test]
    fn soak_is_reported() {
        let s = stage(&[], Some(3600));
        let tag: Tag = "1.0.0".parse().unwrap();
        let now = at("2026-01-01T12:00:00Z");
        let r = evaluate_gate(&GateFacts {
            stage: &s,
            tag: &tag,
            bumped_at: Some(at("2026-01-01T11:30:00Z")),
            signals: &[],
            now,
        });
        assert_eq!(r.soak, Some(Soak::Until { until: at("2026-01-01T12:30:00Z"), secs: 3600 }));
    }
}
