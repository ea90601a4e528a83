//! How `baton serve` paces its reconcile pass (pure): the pause between two repositories, so
//! that a pass spreads its requests over the interval instead of bursting, and whether the
//! installation's remaining rate budget still allows the next repository.

use std::time::Duration;

/// A pass spreads its repositories over at most half its interval, and never waits more than
/// this between two of them.
pub const MAX_GAP: Duration = Duration::from_secs(10);

/// The pause after each repository of a pass over `repos` repositories every `interval`.
pub fn gap(interval: Duration, repos: usize) -> Duration {
    if repos <= 1 {
        return Duration::ZERO;
    }
    (interval / 2 / repos as u32).min(MAX_GAP)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Go,
    /// Below the floor: the pass stops for this installation (webhooks and commands keep it).
    Stop {
        remaining: u64,
        floor: u64,
    },
}

/// `remaining`: the installation's budget as GitHub last reported it (None: not known yet).
pub fn budget(remaining: Option<u64>, floor: u64) -> Budget {
    match remaining {
        Some(r) if r < floor => Budget::Stop { remaining: r, floor },
        _ => Budget::Go,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps() {
        let s = Duration::from_secs;
        let rows = [
            (s(300), 0, Duration::ZERO),
            (s(300), 1, Duration::ZERO),
            (s(300), 2, MAX_GAP),
            (s(300), 30, s(5)),
            (s(60), 30, s(1)),
            (s(300), 1000, Duration::from_millis(150)),
        ];
        for (interval, repos, want) in rows {
            assert_eq!(gap(interval, repos), want, "{interval:?} over {repos}");
        }
    }

    #[test]
    fn budgets() {
        let rows = [
            (None, 500, Budget::Go),
            (Some(5000), 500, Budget::Go),
            (Some(500), 500, Budget::Go),
            (Some(499), 500, Budget::Stop { remaining: 499, floor: 500 }),
            (Some(0), 1, Budget::Stop { remaining: 0, floor: 1 }),
            (Some(0), 0, Budget::Go),
        ];
        for (remaining, floor, want) in rows {
            assert_eq!(budget(remaining, floor), want, "{remaining:?} / {floor}");
        }
    }
}
