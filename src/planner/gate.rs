//! The verification gate of a stage: do the signals that count carry every required check and
//! workflow, has the soak time passed, has the timeout? Pure: the engine turns check runs,
//! statuses and workflow runs into [`Signal`]s, this module returns a [`GateReport`], and
//! `render::gate_summary` writes its Markdown.
//!
//! Signals count on the bump commit, on later default-branch commits that still hold the
//! version, and on the artifact's source commit (the engine decides which commits; DESIGN §3),
//! and only from the bump's time on. A `checks` entry is a pattern: every matching name (the
//! newest signal of each) must be green and at least `min` names must have reported.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::forge::{CheckRunInfo, CheckStatus, StatusInfo, StatusState, WorkflowRunInfo};
use crate::pipeline::{CheckRequirement, Stage};
use crate::planner::signals::timed_out;
use crate::types::{StageName, Tag};

/// Where a signal comes from: a check run, a commit status or a workflow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    CheckRun,
    Status,
    WorkflowRun,
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

    /// The run of verification workflow `file` (its name in the gate).
    pub fn from_workflow_run(file: &str, r: &WorkflowRunInfo) -> Signal {
        let state = match (r.status.as_str(), r.conclusion.as_deref()) {
            ("completed", Some("success" | "neutral" | "skipped")) => SignalState::Passed,
            ("completed", _) => SignalState::Failed,
            _ => SignalState::Pending,
        };
        Signal {
            name: file.to_string(),
            kind: SignalKind::WorkflowRun,
            state,
            detail: r.conclusion.clone().unwrap_or_else(|| r.status.clone()),
            commit: r.head_sha.clone(),
            at: parse_time(r.created_at.as_deref()),
            id: r.id,
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

/// What a requirement asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// A `verification.checks` entry: status contexts and check runs matching the pattern.
    Checks(CheckRequirement),
    /// A `verification.workflows` entry: the run of that workflow dispatched for this bump.
    Workflow(String),
}

impl Wanted {
    /// How the summary names it.
    pub fn label(&self) -> String {
        match self {
            Wanted::Checks(c) => c.pattern.to_string(),
            Wanted::Workflow(file) => format!("workflow {file}"),
        }
    }
    pub fn min(&self) -> u32 {
        match self {
            Wanted::Checks(c) => c.min,
            Wanted::Workflow(_) => 1,
        }
    }
    fn answers(&self, s: &Signal) -> bool {
        match self {
            Wanted::Checks(c) => s.kind != SignalKind::WorkflowRun && c.pattern.matches(&s.name),
            Wanted::Workflow(file) => s.kind == SignalKind::WorkflowRun && &s.name == file,
        }
    }
}

/// One requirement and the signals that answer it: the newest of each matching name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub wanted: Wanted,
    pub matched: Vec<Signal>,
    pub state: SignalState,
}

impl Requirement {
    pub fn state(&self) -> SignalState {
        self.state
    }
    /// Names still missing to reach `min`.
    pub fn missing(&self) -> u32 {
        self.wanted.min().saturating_sub(self.matched.len() as u32)
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
    /// The bump commit (signals on other commits are shown with theirs).
    pub commit: String,
    pub verdict: GateVerdict,
    pub requirements: Vec<Requirement>,
    pub soak: Option<Soak>,
    /// Failed because nothing (or not enough) was heard within `verification.timeout`.
    pub timed_out: Option<std::time::Duration>,
}

/// The facts the gate decides on.
#[derive(Debug, Clone)]
pub struct GateFacts<'a> {
    pub stage: &'a Stage,
    /// The version the bump commit moved the stage to.
    pub tag: &'a Tag,
    /// The bump commit.
    pub commit: &'a str,
    /// When the bump commit was made (None: unknown, counts as now). Signals older than this
    /// are left over from an earlier deploy and do not count.
    pub bumped_at: Option<DateTime<Utc>>,
    /// Every signal observed on the commits that count: the bump commit, later default-branch
    /// commits that still hold the version, and the artifact's source commit.
    pub signals: &'a [Signal],
    pub now: DateTime<Utc>,
}

/// The requirement `wanted` judged on `signals`: among signals at or after `since`, the newest
/// per matching name (a check run before a status of the same name and time, then the higher
/// id); failed if one failed, pending while one is pending or fewer than `min` names reported.
pub fn judge(wanted: Wanted, signals: &[Signal], since: Option<DateTime<Utc>>) -> Requirement {
    let mut newest: BTreeMap<&str, &Signal> = BTreeMap::new();
    let fresh = signals.iter().filter(|s| match (s.at, since) {
        (Some(at), Some(since)) => at >= since,
        _ => true,
    });
    let rank = |s: &Signal| (s.at, s.kind == SignalKind::CheckRun, s.id);
    for s in fresh.filter(|s| wanted.answers(s)) {
        let e = newest.entry(s.name.as_str()).or_insert(s);
        if rank(s) > rank(e) {
            *e = s;
        }
    }
    let matched: Vec<Signal> = newest.into_values().cloned().collect();
    let state = if matched.iter().any(|s| s.state == SignalState::Failed) {
        SignalState::Failed
    } else if matched.iter().any(|s| s.state == SignalState::Pending) || (matched.len() as u32) < wanted.min() {
        SignalState::Pending
    } else {
        SignalState::Passed
    };
    Requirement { wanted, matched, state }
}

/// Evaluates a stage's verification checks, workflows, timeout and soak for its bump.
pub fn evaluate_gate(f: &GateFacts) -> GateReport {
    let v = &f.stage.verification;
    let wanted = v
        .checks
        .iter()
        .cloned()
        .map(Wanted::Checks)
        .chain(v.workflows.iter().map(|w| Wanted::Workflow(w.file.clone())));
    let requirements: Vec<Requirement> = wanted.map(|w| judge(w, f.signals, f.bumped_at)).collect();
    let mut report = GateReport {
        stage: f.stage.name.clone(),
        tag: f.tag.clone(),
        commit: f.commit.to_string(),
        verdict: GateVerdict::Verified,
        requirements,
        soak: None,
        timed_out: None,
    };
    if report.requirements.iter().any(|r| r.state() == SignalState::Failed) {
        report.verdict = GateVerdict::Failed;
        return report;
    }
    if report.requirements.iter().any(|r| r.state() == SignalState::Pending) {
        report.verdict = GateVerdict::Pending;
        if timed_out(f.bumped_at, v.timeout, f.now) {
            report.verdict = GateVerdict::Failed;
            report.timed_out = v.timeout;
        }
        return report;
    }
    if let Some(soak) = v.soak {
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

/// When the gate must be evaluated again with no event (the engine arms a timer then): at the
/// end of a soak, or, for a bump still waiting for its signals, at its verification timeout
/// (then it fails with "no result from … within …"). `None` when nothing is due by itself.
pub fn wake_at(f: &GateFacts, report: &GateReport) -> Option<DateTime<Utc>> {
    if report.verdict != GateVerdict::Pending {
        return None;
    }
    if let Some(Soak::Until { until, .. }) = report.soak {
        return Some(until);
    }
    let timeout = chrono::Duration::from_std(f.stage.verification.timeout?).ok()?;
    Some(f.bumped_at? + timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::Conclusion;

    #[test]
    fn wake_at_table() {
        let tag: Tag = "1.0.0".parse().unwrap();
        let dev = "kustomization/myapp-dev/0c9c2e41";
        let green = [signal(SignalKind::Status, dev, SignalState::Passed, "bump", "2026-01-01T10:05:00Z", 0)];
        let red = [signal(SignalKind::Status, dev, SignalState::Failed, "bump", "2026-01-01T10:05:00Z", 0)];
        let timeout = r#"{ checks: ["kustomization/myapp-dev/*"], timeout: 30m }"#;
        let soak = r#"{ checks: ["kustomization/myapp-dev/*"], soak: 1h, timeout: 30m }"#;
        let plain = r#"{ checks: ["kustomization/myapp-dev/*"] }"#;
        /// (what, verification, signals, bumped at, now, wake at)
        type Case<'a> = (&'a str, &'a str, &'a [Signal], Option<&'a str>, &'a str, Option<&'a str>);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("silent: at the timeout", timeout, &[], Some("2026-01-01T10:00:00Z"), "2026-01-01T10:10:00Z", Some("2026-01-01T10:30:00Z")),
            ("silent, no timeout: waits for an event", plain, &[], Some("2026-01-01T10:00:00Z"), "2026-01-01T10:10:00Z", None),
            ("bump time unknown: no timeout", timeout, &[], None, "2026-01-01T10:10:00Z", None),
            ("timed out already: failed, nothing due", timeout, &[], Some("2026-01-01T10:00:00Z"), "2026-01-01T10:30:00Z", None),
            ("green, soaking: at the soak's end", soak, &green, Some("2026-01-01T10:00:00Z"), "2026-01-01T10:10:00Z", Some("2026-01-01T11:00:00Z")),
            ("green, soaked: verified, nothing due", soak, &green, Some("2026-01-01T10:00:00Z"), "2026-01-01T11:00:00Z", None),
            ("red: failed, nothing due", timeout, &red, Some("2026-01-01T10:00:00Z"), "2026-01-01T10:10:00Z", None),
        ];
        for (what, verification, signals, bumped_at, now, want) in cases {
            let stage = yaml_stage(verification);
            let facts = GateFacts {
                stage: &stage,
                tag: &tag,
                commit: "bump",
                bumped_at: bumped_at.map(at),
                signals,
                now: at(now),
            };
            assert_eq!(wake_at(&facts, &evaluate_gate(&facts)), want.map(at), "{what}");
        }
    }

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
                commit: "abc",
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
            commit: "abc",
            bumped_at: Some(at("2026-01-01T11:30:00Z")),
            signals: &[],
            now,
        });
        assert_eq!(r.soak, Some(Soak::Until { until: at("2026-01-01T12:30:00Z"), secs: 3600 }));
    }

    fn yaml_stage(verification: &str) -> Stage {
        let yaml = format!(
            "artifacts:\n  app:\n    image: r.io/app\n    tags: '.*'\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    pointers:\n      - {{ file: a.yaml, format: helm-values, artifact: app }}\n    verification: {verification}\n"
        );
        crate::pipeline::parse(&yaml).expect("pipeline").stages.remove(0)
    }

    fn signal(kind: SignalKind, name: &str, state: SignalState, commit: &str, when: &str, id: u64) -> Signal {
        Signal { name: name.into(), kind, state, detail: String::new(), commit: commit.into(), at: Some(at(when)), id }
    }

    /// Patterns, `min`, signals on several commits, stale signals, latest per name, timeouts
    /// and workflows.
    #[test]
    fn signals_as_deployers_report_them() {
        use SignalKind::*;
        use SignalState::*;
        let bump = "2026-01-01T10:00:00Z";
        let (before, after, later) = ("2026-01-01T09:00:00Z", "2026-01-01T10:05:00Z", "2026-01-01T10:10:00Z");
        let dev = "kustomization/myapp-dev/0c9c2e41";
        let dev2 = "kustomization/myapp-dev/9d1e7f00";
        let flux = r#"{ checks: ["kustomization/myapp-dev/*"] }"#;
        let two = r#"{ checks: [{ name: "kustomization/myapp-*/*", min: 2 }] }"#;
        let timeout = r#"{ checks: ["kustomization/myapp-dev/*"], timeout: 30m }"#;
        let wf = r#"{ workflows: [{ file: e2e.yml }] }"#;
        let cases: Vec<(&str, &str, Vec<Signal>, &str, GateVerdict)> = vec![
            ("silent", flux, vec![], "2026-01-01T10:20:00Z", GateVerdict::Pending),
            (
                "on the bump commit",
                flux,
                vec![signal(Status, dev, Passed, "bump", after, 0)],
                after,
                GateVerdict::Verified,
            ),
            (
                "on the source commit",
                flux,
                vec![signal(Status, dev, Passed, "source", after, 0)],
                after,
                GateVerdict::Verified,
            ),
            (
                "a stale green before the bump",
                flux,
                vec![signal(Status, dev, Passed, "source", before, 0)],
                after,
                GateVerdict::Pending,
            ),
            (
                "another Kustomization",
                flux,
                vec![signal(Status, "kustomization/flux-system/0c9c2e41", Passed, "bump", after, 0)],
                after,
                GateVerdict::Pending,
            ),
            (
                "every match green: one red",
                flux,
                vec![signal(Status, dev, Passed, "bump", after, 0), signal(Status, dev2, Failed, "tip", later, 0)],
                later,
                GateVerdict::Failed,
            ),
            (
                "latest per name: red, then green on a later tip",
                flux,
                vec![signal(Status, dev, Failed, "bump", after, 0), signal(Status, dev, Passed, "tip", later, 0)],
                later,
                GateVerdict::Verified,
            ),
            (
                "latest per name: green, then red",
                flux,
                vec![signal(Status, dev, Passed, "bump", after, 0), signal(Status, dev, Failed, "tip", later, 0)],
                later,
                GateVerdict::Failed,
            ),
            (
                "min 2: one green, one silent",
                two,
                vec![signal(Status, dev, Passed, "source", after, 0)],
                after,
                GateVerdict::Pending,
            ),
            (
                "min 2: both green",
                two,
                vec![
                    signal(Status, dev, Passed, "source", after, 0),
                    signal(Status, "kustomization/myapp-dev/9d1e7f00", Passed, "bump", later, 0),
                ],
                later,
                GateVerdict::Verified,
            ),
            (
                "min 2: the same name twice is one",
                two,
                vec![signal(Status, dev, Passed, "source", after, 0), signal(Status, dev, Passed, "bump", later, 0)],
                later,
                GateVerdict::Pending,
            ),
            ("timeout: silent for 30m", timeout, vec![], "2026-01-01T10:30:00Z", GateVerdict::Failed),
            ("timeout: not yet", timeout, vec![], "2026-01-01T10:29:59Z", GateVerdict::Pending),
            (
                "timeout: green in time",
                timeout,
                vec![signal(Status, dev, Passed, "bump", after, 0)],
                "2026-01-01T11:00:00Z",
                GateVerdict::Verified,
            ),
            (
                "workflow queued",
                wf,
                vec![signal(WorkflowRun, "e2e.yml", Pending, "bump", after, 5)],
                after,
                GateVerdict::Pending,
            ),
            (
                "workflow succeeded",
                wf,
                vec![signal(WorkflowRun, "e2e.yml", Passed, "bump", after, 5)],
                after,
                GateVerdict::Verified,
            ),
            (
                "workflow failed",
                wf,
                vec![signal(WorkflowRun, "e2e.yml", Failed, "bump", after, 5)],
                after,
                GateVerdict::Failed,
            ),
            (
                "a check run named like the workflow is no run",
                wf,
                vec![signal(CheckRun, "e2e.yml", Passed, "bump", after, 5)],
                after,
                GateVerdict::Pending,
            ),
        ];
        let tag: Tag = "1.0.0".parse().unwrap();
        for (what, verification, signals, now, want) in cases {
            let stage = yaml_stage(verification);
            let report = evaluate_gate(&GateFacts {
                stage: &stage,
                tag: &tag,
                commit: "bump",
                bumped_at: Some(at(bump)),
                signals: &signals,
                now: at(now),
            });
            assert_eq!(report.verdict, want, "{what}");
            assert_eq!(report.timed_out.is_some(), what.starts_with("timeout: silent"), "{what}");
        }
    }
}
