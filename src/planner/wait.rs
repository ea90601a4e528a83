//! When to look again for something that is not there yet (a signature pushed after its image,
//! a tag the registry has not made readable yet). Pure: the engine arms a timer at the answer
//! instead of sleeping in the repository's queue slot.

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

#[cfg(test)]
mod tests {
    use super::*;

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
