//! When to look again for something that is not there yet (a signature pushed after its image,
//! a tag the registry has not made readable yet, the checks a merge waits for) and when to run
//! a job again that a rate limit stopped. Pure: the engine arms a timer at the answer instead of
//! sleeping in the repository's queue slot.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How a wait backs off: the first delay, doubled per look up to `max`, within `budget`
/// measured from when the wait began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub budget: Duration,
}

impl Backoff {
    /// A late signature: 0.5 s, 1 s, 2 s … up to 15 s between looks.
    pub fn signature(budget: Duration) -> Backoff {
        Backoff { first: Duration::from_millis(500), max: Duration::from_secs(15), budget }
    }

    /// A tag not readable yet: 0.1 s … 2 s between looks, for 10 s.
    pub const TAG: Backoff =
        Backoff { first: Duration::from_millis(100), max: Duration::from_secs(2), budget: Duration::from_secs(10) };
}

/// When to look again after look number `attempt` (0 for the first) found nothing, for a wait
/// that began at `since`; `None` once the budget is spent (the caller then gives its usual
/// answer). The last look is at the end of the budget exactly, so a thing that appears just
/// before the end is still seen.
pub fn next_look(b: Backoff, since: DateTime<Utc>, now: DateTime<Utc>, attempt: u32) -> Option<DateTime<Utc>> {
    let end = since + chrono::Duration::from_std(b.budget).ok()?;
    if now >= end {
        return None;
    }
    let delay = b.first.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(b.max);
    Some((now + chrono::Duration::from_std(delay).ok()?).min(end))
}

/// How many times one event is run again after rate limits stopped it (then it is left to the
/// next event and `reconcile`).
pub const MAX_RATE_LIMIT_RUNS: u32 = 10;

/// When to run a job again that gave up on a rate limit resetting in `reset_in`, the `runs`-th
/// time it was stopped (1 for the first): at the reset; `None` after [`MAX_RATE_LIMIT_RUNS`].
pub fn after_rate_limit(now: DateTime<Utc>, reset_in: Duration, runs: u32) -> Option<DateTime<Utc>> {
    if runs > MAX_RATE_LIMIT_RUNS {
        return None;
    }
    Some(now + chrono::Duration::from_std(reset_in).ok()?)
}

/// The fallback look at baton's own PR that waits for its checks (check events normally trigger
/// the merge; this catches a lost one): 30 s, doubling per look up to 15 min, at most this many
/// looks (about four hours) after the last event.
pub const MERGE_LOOKS: u32 = 20;

/// When to look again at a PR waiting for its checks after look number `attempt` (0: the look an
/// event or the policy check made); `None` once [`MERGE_LOOKS`] are spent.
pub fn next_merge_look(now: DateTime<Utc>, attempt: u32) -> Option<DateTime<Utc>> {
    if attempt >= MERGE_LOOKS {
        return None;
    }
    let delay =
        Duration::from_secs(30).saturating_mul(2u32.saturating_pow(attempt.min(16))).min(Duration::from_secs(900));
    Some(now + chrono::Duration::from_std(delay).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_rate_limit_table() {
        let now = at("2026-01-01T12:00:00Z");
        let cases: &[(&str, u64, u32, Option<&str>)] = &[
            ("at the reset", 600, 1, Some("2026-01-01T12:10:00Z")),
            ("a short one too", 7, 3, Some("2026-01-01T12:00:07Z")),
            ("the last run again", 60, MAX_RATE_LIMIT_RUNS, Some("2026-01-01T12:01:00Z")),
            ("then left to the next event and reconcile", 60, MAX_RATE_LIMIT_RUNS + 1, None),
        ];
        for (name, secs, runs, want) in cases {
            assert_eq!(after_rate_limit(now, Duration::from_secs(*secs), *runs), want.map(at), "{name}");
        }
    }

    #[test]
    fn next_merge_look_table() {
        let now = at("2026-01-01T12:00:00Z");
        let cases: &[(&str, u32, Option<&str>)] = &[
            ("after an event: 30 s", 0, Some("2026-01-01T12:00:30Z")),
            ("doubles", 1, Some("2026-01-01T12:01:00Z")),
            ("doubles again", 3, Some("2026-01-01T12:04:00Z")),
            ("capped at 15 min", 6, Some("2026-01-01T12:15:00Z")),
            ("still capped", 19, Some("2026-01-01T12:15:00Z")),
            ("bounded: no more looks", MERGE_LOOKS, None),
        ];
        for (name, attempt, want) in cases {
            assert_eq!(next_merge_look(now, *attempt), want.map(at), "{name}");
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn next_look_table() {
        let sig = Backoff::signature(Duration::from_secs(120));
        let t0 = "2026-01-01T12:00:00Z";
        let cases: &[(&str, Backoff, &str, u32, Option<&str>)] = &[
            ("first look again after 0.5 s", sig, "2026-01-01T12:00:00Z", 0, Some("2026-01-01T12:00:00.500Z")),
            ("doubles", sig, "2026-01-01T12:00:01Z", 2, Some("2026-01-01T12:00:03Z")),
            ("capped at 15 s", sig, "2026-01-01T12:00:30Z", 9, Some("2026-01-01T12:00:45Z")),
            ("the last look is at the end of the budget", sig, "2026-01-01T12:01:50Z", 9, Some("2026-01-01T12:02:00Z")),
            ("budget spent", sig, "2026-01-01T12:02:00Z", 10, None),
            ("late past the budget", sig, "2026-01-01T12:05:00Z", 1, None),
            ("tag: 0.1 s first", Backoff::TAG, "2026-01-01T12:00:00Z", 0, Some("2026-01-01T12:00:00.100Z")),
            ("tag: capped at 2 s", Backoff::TAG, "2026-01-01T12:00:04Z", 8, Some("2026-01-01T12:00:06Z")),
            ("tag: 10 s budget", Backoff::TAG, "2026-01-01T12:00:10Z", 3, None),
            ("no budget at all", Backoff::signature(Duration::ZERO), "2026-01-01T12:00:00Z", 0, None),
        ];
        for (name, b, now, attempt, want) in cases {
            assert_eq!(next_look(*b, at(t0), at(now), *attempt), want.map(at), "{name}");
        }
    }
}
