//! Whether baton merges one of its own pull requests. Pure: the engine reads the facts (lazily,
//! as [`MergeDecision::Needs`] asks for them, so a PR that can never merge costs no check reads)
//! and performs the decision.

use crate::forge::{CheckRunInfo, CheckStatus, PrState, PullRequest, StatusInfo, StatusState};
use crate::pipeline::{Promotion, Stage, WriteMode};
use crate::planner::policy::CHECK_NAME;
use crate::render::Marker;
use crate::windows::WindowState;
use chrono::{DateTime, Utc};

/// A fact the decision needs that the engine has not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The check runs on the PR's head.
    Checks,
    /// The commit statuses on the PR's head.
    Statuses,
    /// Whether the base branch's rules require a merge queue.
    MergeQueue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeDecision {
    /// Merge now, with the head sha as the expected head.
    Merge,
    /// The base branch requires a merge queue: add the PR to it (with the head sha as the
    /// expected head); the queue merges it once the merge group's required checks pass.
    Enqueue,
    /// Not yet (a check is missing, running or red); a later event decides again.
    Wait(String),
    /// GitHub refused the merge (the base moved, a conflict): rewrite the PR on the default branch.
    Rebuild,
    /// This PR never merges by itself (not baton's, no marker, a manual stage without approval…).
    Never(String),
    /// Read this fact, then decide again.
    Needs(Fact),
}

/// Everything the merge decision looks at. `None` for a fact not read yet.
#[derive(Debug, Clone, Default)]
pub struct MergeFacts<'a> {
    /// The PR's marker, parsed from its body.
    pub marker: Option<&'a Marker>,
    /// The stage the marker names, from the default branch's pipeline.
    pub stage: Option<&'a Stage>,
    pub checks: Option<&'a [CheckRunInfo]>,
    pub statuses: Option<&'a [StatusInfo]>,
    /// GitHub refused the last merge attempt (the reason).
    pub refused: Option<&'a str>,
    /// The stage's promotion window now (#13); `None` when the stage has no `windows`.
    pub window: Option<WindowState>,
    /// Whether the PR's base branch requires a merge queue.
    pub merge_queue: Option<bool>,
}

/// Whether `pr` is baton's own open PR for `head`: its branch is baton's, its author is this App
/// (when the App's login is known) — a branch named like baton's, or a copied marker, is not
/// enough.
pub fn is_own_pr(pr: &PullRequest, head: &str, app_login: Option<&str>) -> bool {
    pr.state == PrState::Open
        && pr.head_sha == head
        && pr.head_ref.starts_with("baton/")
        && app_login.is_none_or(|me| pr.author == me)
}

/// The newest check run of each name.
fn latest(checks: &[CheckRunInfo]) -> Vec<&CheckRunInfo> {
    let mut out: std::collections::BTreeMap<&str, &CheckRunInfo> = Default::default();
    for c in checks {
        if out.get(c.name.as_str()).is_none_or(|l| l.id < c.id) {
            out.insert(&c.name, c);
        }
    }
    out.into_values().collect()
}

/// Whether `baton/policy`'s newest run on the head succeeded.
pub fn policy_passed(checks: &[CheckRunInfo]) -> bool {
    latest(checks).iter().find(|c| c.name == CHECK_NAME).is_some_and(|c| c.succeeded())
}

/// Whether GitHub refused a `PUT …/merge` because the base branch requires a merge queue
/// (405 "Changes must be made through the merge queue").
pub fn is_queue_refusal(message: &str) -> bool {
    message.to_ascii_lowercase().contains("must be made through the merge queue")
}

pub fn merge_decision(f: &MergeFacts) -> MergeDecision {
    let Some(marker) = f.marker else { return MergeDecision::Never("no baton marker in its body".into()) };
    let Some(stage) = f.stage else {
        return MergeDecision::Never(format!("the pipeline has no stage {}", marker.stage));
    };
    if stage.write != WriteMode::PullRequest {
        return MergeDecision::Never(format!("{} writes direct commits", stage.name));
    }
    if stage.promotion != Promotion::Auto && marker.approved_by.is_empty() && !marker.rollback {
        return MergeDecision::Never(format!("{} is manual: it merges only with a recorded approval", stage.name));
    }
    // A closed window holds automatic and approved merges alike; a rollback goes through.
    match f.window {
        Some(WindowState::ClosedUntil(t)) if !marker.rollback => {
            return MergeDecision::Wait(format!(
                "the promotion window of {} is closed until {}",
                stage.name,
                t.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        Some(WindowState::Closed) if !marker.rollback => {
            return MergeDecision::Wait(format!("no promotion window of {} opens again", stage.name));
        }
        _ => {}
    }
    if let Some(why) = f.refused {
        // Branch protection's "Require merge queue" is not among the branch's rules: GitHub
        // says so when refusing the merge. Only that refusal (never one of the mutation's) turns
        // into an enqueue, so this cannot loop.
        if is_queue_refusal(why) && f.merge_queue != Some(true) {
            return MergeDecision::Enqueue;
        }
        return MergeDecision::Rebuild;
    }
    let Some(checks) = f.checks else { return MergeDecision::Needs(Fact::Checks) };
    if !policy_passed(checks) {
        return MergeDecision::Wait(format!("{CHECK_NAME} has not passed"));
    }
    if let Some(c) = latest(checks).into_iter().find(|c| !c.is_green()) {
        let state = match (c.status, c.conclusion) {
            (CheckStatus::Completed, Some(k)) => k.as_str(),
            (CheckStatus::Completed, None) => "without conclusion",
            (s, _) => s.as_str(),
        };
        return MergeDecision::Wait(format!("check {} is {state}", c.name));
    }
    let Some(statuses) = f.statuses else { return MergeDecision::Needs(Fact::Statuses) };
    if let Some(s) = statuses.iter().find(|s| s.state != StatusState::Success) {
        return MergeDecision::Wait(format!("status {} is {}", s.context, s.state.as_str()));
    }
    // Read last, once everything else says merge: a conditional request, free when unchanged.
    match f.merge_queue {
        None => MergeDecision::Needs(Fact::MergeQueue),
        Some(true) => MergeDecision::Enqueue,
        Some(false) => MergeDecision::Merge,
    }
}

/// When baton looks at the PR again by itself after `decision` (a timer; check events normally
/// come first): a merge held by a closed promotion window at the window's opening (look count
/// back to 0); a merge waiting for checks by the bounded fallback backoff
/// ([`crate::planner::wait::next_merge_look`], `attempt`: fallback looks so far); nothing for a
/// PR that merges now, never merges by itself, or is rebuilt (its new head starts afresh).
/// Returns the due time and the look count the timer carries.
pub fn look_again(
    f: &MergeFacts,
    decision: &MergeDecision,
    now: DateTime<Utc>,
    attempt: u32,
) -> Option<(DateTime<Utc>, u32)> {
    if !matches!(decision, MergeDecision::Wait(_)) {
        return None;
    }
    // A red `baton/policy` changes only by baton's own re-run (on an event): nothing to look for.
    let policy_red = f.checks.is_some_and(|c| {
        latest(c)
            .iter()
            .find(|c| c.name == CHECK_NAME)
            .is_some_and(|c| c.status == CheckStatus::Completed && !c.succeeded())
    });
    if policy_red {
        return None;
    }
    let rollback = f.marker.is_some_and(|m| m.rollback);
    match f.window {
        Some(WindowState::ClosedUntil(opens)) if !rollback => Some((opens, 0)),
        Some(WindowState::Closed) if !rollback => None,
        _ => crate::planner::wait::next_merge_look(now, attempt).map(|t| (t, attempt + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::Conclusion;
    use crate::types::{Digest, Tag};

    fn pipeline(promotion: &str, write: &str) -> crate::pipeline::Pipeline {
        let yaml = format!(
            "artifacts:\n  app:\n    image: r.io/app\n    tags: '.*'\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    promotion: {promotion}\n    write: {write}\n    pointers:\n      - {{ file: a.yaml, format: helm-values, artifact: app }}\n"
        );
        crate::pipeline::parse(&yaml).expect("pipeline")
    }

    fn marker(approved: bool, rollback: bool) -> Marker {
        Marker {
            stage: "dev".parse().unwrap(),
            artifact: "app".parse().unwrap(),
            tag: "1.0.0".parse::<Tag>().unwrap(),
            digest: format!("sha256:{}", "ab".repeat(32)).parse::<Digest>().unwrap(),
            name: None,
            from_tag: None,
            from_digest: None,
            verified_in: None,
            approved_by: if approved { vec!["alice".into()] } else { vec![] },
            rollback,
            unit: None,
        }
    }

    fn run(name: &str, id: u64, status: CheckStatus, conclusion: Option<Conclusion>) -> CheckRunInfo {
        CheckRunInfo {
            id,
            name: name.into(),
            head_sha: "h".into(),
            status,
            conclusion,
            app_slug: None,
            completed_at: None,
            started_at: None,
            summary: None,
        }
    }

    fn status(state: StatusState) -> StatusInfo {
        StatusInfo { context: "ci".into(), state, updated_at: None }
    }

    #[test]
    fn merge_table() {
        use CheckStatus::*;
        use Conclusion::*;
        let auto = pipeline("auto", "pull-request");
        let manual = pipeline("manual", "pull-request");
        let direct = pipeline("auto", "commit");
        let plain = marker(false, false);
        let approved = marker(true, false);
        let rollback = marker(false, true);
        let policy_ok = vec![run(CHECK_NAME, 1, Completed, Some(Success))];
        let policy_red = vec![run(CHECK_NAME, 1, Completed, Some(Failure))];
        let policy_rerun_green =
            vec![run(CHECK_NAME, 1, Completed, Some(Failure)), run(CHECK_NAME, 2, Completed, Some(Success))];
        let other_running = vec![run(CHECK_NAME, 1, Completed, Some(Success)), run("e2e", 2, InProgress, None)];
        let other_skipped = vec![run(CHECK_NAME, 1, Completed, Some(Success)), run("e2e", 2, Completed, Some(Skipped))];
        let green = vec![status(StatusState::Success)];
        let pending = vec![status(StatusState::Pending)];
        use MergeDecision::*;
        let never = |s: &str| Never(s.to_string());
        let wait = |s: &str| Wait(s.to_string());
        let closed = WindowState::ClosedUntil("2026-12-07T07:00:00Z".parse().unwrap());
        let queue_refusal = "PUT /repos/org/deploy/pulls/1/merge: 405 Changes must be made through the merge queue";
        #[rustfmt::skip]
        let cases: Vec<(&str, MergeFacts, MergeDecision)> = vec![
            ("no marker", MergeFacts { stage: auto.stages.first(), ..Default::default() }, never("no baton marker in its body")),
            ("unknown stage", MergeFacts { marker: Some(&plain), ..Default::default() }, never("the pipeline has no stage dev")),
            ("direct commits", MergeFacts { marker: Some(&plain), stage: direct.stages.first(), ..Default::default() }, never("dev writes direct commits")),
            ("manual without approval", MergeFacts { marker: Some(&plain), stage: manual.stages.first(), ..Default::default() }, never("dev is manual: it merges only with a recorded approval")),
            ("manual with approval reads checks", MergeFacts { marker: Some(&approved), stage: manual.stages.first(), ..Default::default() }, Needs(Fact::Checks)),
            ("manual rollback reads checks", MergeFacts { marker: Some(&rollback), stage: manual.stages.first(), ..Default::default() }, Needs(Fact::Checks)),
            ("policy red", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_red), ..Default::default() }, wait("baton/policy has not passed")),
            ("policy missing", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&[]), ..Default::default() }, wait("baton/policy has not passed")),
            ("other check running", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&other_running), ..Default::default() }, wait("check e2e is in_progress")),
            ("policy ok reads statuses", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), ..Default::default() }, Needs(Fact::Statuses)),
            ("status pending", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&pending), ..Default::default() }, wait("status ci is pending")),
            ("all green", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(false), ..Default::default() }, Merge),
            ("no statuses at all", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&[]), merge_queue: Some(false), ..Default::default() }, Merge),
            ("skipped counts as green", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&other_skipped), statuses: Some(&[]), merge_queue: Some(false), ..Default::default() }, Merge),
            ("re-run policy went green", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_rerun_green), statuses: Some(&[]), merge_queue: Some(false), ..Default::default() }, Merge),
            ("refused merge", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), refused: Some("base moved"), ..Default::default() }, Rebuild),
            // A base branch that requires a merge queue: the PR is queued, not merged.
            ("all green reads the base's rules", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), ..Default::default() }, Needs(Fact::MergeQueue)),
            ("merge queue required", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(true), ..Default::default() }, Enqueue),
            ("merge queue, check running", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&other_running), merge_queue: Some(true), ..Default::default() }, wait("check e2e is in_progress")),
            ("merge queue, policy red", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_red), merge_queue: Some(true), ..Default::default() }, wait("baton/policy has not passed")),
            ("merge queue refused the PR", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(true), refused: Some("head moved"), ..Default::default() }, Rebuild),
            ("merge queue, window closed", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(true), window: Some(closed) , ..Default::default() }, wait("the promotion window of dev is closed until 2026-12-07 07:00 UTC")),
            ("merge queue, manual without approval", MergeFacts { marker: Some(&plain), stage: manual.stages.first(), merge_queue: Some(true), ..Default::default() }, never("dev is manual: it merges only with a recorded approval")),
            // Classic branch protection's queue is not in the rules: the refused merge says so.
            ("merge refused: queue required", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(false), refused: Some(queue_refusal), ..Default::default() }, Enqueue),
            ("enqueue refused after that", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(false), refused: Some("enqueuePullRequest: Pull request is not mergeable"), ..Default::default() }, Rebuild),
            ("queue refusal with the queue known", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), merge_queue: Some(true), refused: Some(queue_refusal), ..Default::default() }, Rebuild),
            ("merge queue, direct commits", MergeFacts { marker: Some(&plain), stage: direct.stages.first(), merge_queue: Some(true), ..Default::default() }, never("dev writes direct commits")),
            // #13: promotion windows hold merges (approved ones too); rollbacks are exempt.
            ("window open", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), window: Some(WindowState::Open), merge_queue: Some(false), ..Default::default() }, Merge),
            ("window closed", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), window: Some(closed), ..Default::default() }, wait("the promotion window of dev is closed until 2026-12-07 07:00 UTC")),
            ("window closed, approved", MergeFacts { marker: Some(&approved), stage: manual.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), window: Some(closed), ..Default::default() }, wait("the promotion window of dev is closed until 2026-12-07 07:00 UTC")),
            ("window closed for good", MergeFacts { marker: Some(&plain), stage: auto.stages.first(), window: Some(WindowState::Closed), ..Default::default() }, wait("no promotion window of dev opens again")),
            ("window closed, rollback", MergeFacts { marker: Some(&rollback), stage: manual.stages.first(), checks: Some(&policy_ok), statuses: Some(&green), window: Some(closed), merge_queue: Some(false), ..Default::default() }, Merge),
        ];
        for (what, facts, want) in cases {
            assert_eq!(merge_decision(&facts), want, "{what}");
        }
    }

    /// (what, facts, decision, looks so far, expected timer)
    type LookCase<'a> = (&'a str, MergeFacts<'a>, MergeDecision, u32, Option<(DateTime<Utc>, u32)>);

    #[test]
    fn look_again_table() {
        let auto = pipeline("auto", "pull-request");
        let (plain, rollback) = (marker(false, false), marker(false, true));
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let now = at("2026-12-04T15:00:00Z");
        let opens = at("2026-12-07T07:00:00Z");
        fn facts<'a>(m: &'a Marker, stage: Option<&'a Stage>, window: Option<WindowState>) -> MergeFacts<'a> {
            MergeFacts { marker: Some(m), stage, window, ..Default::default() }
        }
        let dev = auto.stages.first();
        let (plain, rollback) = (&plain, &rollback);
        let wait = MergeDecision::Wait("…".into());
        let policy_red = vec![run(CHECK_NAME, 1, CheckStatus::Completed, Some(Conclusion::Failure))];
        let running = vec![
            run(CHECK_NAME, 1, CheckStatus::Completed, Some(Conclusion::Success)),
            run("e2e", 2, CheckStatus::InProgress, None),
        ];
        #[rustfmt::skip]
        let cases: Vec<LookCase> = vec![
            ("checks pending: 30 s after an event", facts(plain, dev, None), wait.clone(), 0, Some((at("2026-12-04T15:00:30Z"), 1))),
            ("checks pending: backs off", facts(plain, dev, Some(WindowState::Open)), wait.clone(), 2, Some((at("2026-12-04T15:02:00Z"), 3))),
            ("checks pending: bounded", facts(plain, dev, None), wait.clone(), crate::planner::wait::MERGE_LOOKS, None),
            ("window closed: at its opening", facts(plain, dev, Some(WindowState::ClosedUntil(opens))), wait.clone(), 5, Some((opens, 0))),
            ("window closed for good: nothing to wait for", facts(plain, dev, Some(WindowState::Closed)), wait.clone(), 0, None),
            ("rollback ignores the window: checks backoff", facts(rollback, dev, Some(WindowState::ClosedUntil(opens))), wait.clone(), 0, Some((at("2026-12-04T15:00:30Z"), 1))),
            ("policy red: baton re-runs it on an event", MergeFacts { checks: Some(&policy_red), ..facts(plain, dev, None) }, wait.clone(), 0, None),
            ("another check running: looks", MergeFacts { checks: Some(&running), ..facts(plain, dev, None) }, wait.clone(), 0, Some((at("2026-12-04T15:00:30Z"), 1))),
            ("merges now", facts(plain, dev, None), MergeDecision::Merge, 0, None),
            ("never", facts(plain, dev, None), MergeDecision::Never("manual".into()), 0, None),
            ("rebuilt", facts(plain, dev, None), MergeDecision::Rebuild, 0, None),
        ];
        for (what, f, d, attempt, want) in cases {
            assert_eq!(look_again(&f, &d, now, attempt), want, "{what}");
        }
    }

    #[test]
    fn queue_refusals() {
        let cases = [
            ("PUT /repos/o/r/pulls/3/merge: 405 Changes must be made through the merge queue", true),
            ("405 changes must be made through the merge queue.", true),
            ("PUT /repos/o/r/pulls/3/merge: 405 Pull Request is not mergeable", false),
            ("enqueuePullRequest: Pull request is already in the merge queue", false),
            ("409 Head branch was modified. Review and try the merge again.", false),
        ];
        for (message, want) in cases {
            assert_eq!(is_queue_refusal(message), want, "{message}");
        }
    }

    #[test]
    fn own_pr_table() {
        let pr = |state: PrState, head: &str, branch: &str, author: &str| PullRequest {
            number: 1,
            title: String::new(),
            body: String::new(),
            head_ref: branch.into(),
            head_sha: head.into(),
            base_ref: "main".into(),
            state,
            labels: vec![],
            html_url: String::new(),
            author: author.into(),
            node_id: "PR_1".into(),
        };
        let cases = [
            (pr(PrState::Open, "h", "baton/dev/app", "baton[bot]"), Some("baton[bot]"), true),
            (pr(PrState::Open, "h", "baton/dev/app", "mallory"), Some("baton[bot]"), false),
            (pr(PrState::Open, "h", "baton/dev/app", "mallory"), None, true),
            (pr(PrState::Closed, "h", "baton/dev/app", "baton[bot]"), Some("baton[bot]"), false),
            (pr(PrState::Open, "other", "baton/dev/app", "baton[bot]"), Some("baton[bot]"), false),
            (pr(PrState::Open, "h", "feature", "baton[bot]"), Some("baton[bot]"), false),
        ];
        for (i, (pr, me, want)) in cases.iter().enumerate() {
            assert_eq!(is_own_pr(pr, "h", *me), *want, "case {i}");
        }
    }
}
