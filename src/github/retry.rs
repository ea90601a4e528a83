//! What the client does after one attempt of a request: a pure decision from the kind of request
//! and what happened to the attempt, so the rules are written (and tested) once.
//!
//! GitHub sometimes applies a write and loses the answer (a 502 after the write, a reset
//! connection, a timeout after the request was sent). Repeating such a write blindly duplicates
//! whatever it created, so:
//! - reads are retried;
//! - a write whose repeat is provably harmless ([`Kind::Repeatable`]: a PUT/PATCH to a fixed
//!   state, a ref update with an expected sha, a merge with the head sha, a DELETE, a reaction
//!   or a label addition, which GitHub dedupes itself, a git tree/commit object, which is content
//!   addressed) is retried, and if the repeat then answers "conflict"/"not found" after a lost
//!   answer, the client confirms the intended state by reading it;
//! - a POST that creates something ([`Kind::Create`]) is, after a lost answer, **re-read before it
//!   is repeated** (check run by name + head sha + external id, comment by its hidden key, PR by
//!   head branch, issue by its marker, ref by reading it).

use std::time::Duration;

/// The kind of request, by what repeating it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Repeatable,
    Create,
}

/// What happened to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx (or a 304 served from the cache).
    Answered,
    /// The request never reached GitHub (connection refused, DNS, TLS handshake).
    NotSent,
    /// GitHub may have applied it but the answer is lost: a 5xx, a reset connection or a
    /// timeout after the request was sent.
    Lost,
    /// A rate-limited answer (403/429 by GitHub's rules): nothing was applied; wait this long.
    RateLimited(Duration),
    /// A final 4xx: conflict / validation (409, 422, 405).
    Conflict,
    NotFound,
    /// Any other 4xx (401, 403, 400): not retried.
    Refused,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Hand the answer (or the error) to the caller.
    Done,
    /// Send the request again after this wait.
    Retry(Duration),
    /// Read whether the write took effect before deciding (re-read of a create, or
    /// confirmation of a repeatable write whose repeat was refused).
    Reread,
    /// Give up: too many attempts or a wait longer than allowed.
    GiveUp,
}

/// Limits of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_retries: u32,
    pub max_wait: Duration,
}

/// 100 ms, 200 ms, 400 ms, … capped at 5 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.saturating_sub(1).min(6)).min(5000))
}

/// The decision after attempt number `attempt` (1-based). `lost_before`: an earlier attempt of
/// this same request lost its answer (so a conflict now may be our own earlier write).
pub fn next(kind: Kind, attempt_no: u32, outcome: Attempt, lost_before: bool, limits: Limits) -> Next {
    let retries_left = attempt_no <= limits.max_retries;
    match outcome {
        Attempt::Answered | Attempt::Refused => Next::Done,
        Attempt::RateLimited(wait) if wait > limits.max_wait || !retries_left => Next::GiveUp,
        Attempt::RateLimited(wait) => Next::Retry(wait),
        Attempt::NotSent if retries_left => Next::Retry(backoff(attempt_no)),
        Attempt::NotSent => Next::GiveUp,
        Attempt::Lost => match kind {
            Kind::Create => Next::Reread,
            Kind::Read | Kind::Repeatable if retries_left => Next::Retry(backoff(attempt_no)),
            Kind::Read | Kind::Repeatable => Next::GiveUp,
        },
        Attempt::Conflict | Attempt::NotFound => match kind {
            Kind::Repeatable | Kind::Create if lost_before => Next::Reread,
            _ => Next::Done,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let l = Limits { max_retries: 3, max_wait: Duration::from_secs(60) };
        let ms = Duration::from_millis;
        use Attempt::*;
        use Kind::*;
        #[rustfmt::skip]
        let rows: &[(Kind, u32, Attempt, bool, Next)] = &[
            // reads: everything transient is retried
            (Read, 1, Answered, false, Next::Done),
            (Read, 1, Lost, false, Next::Retry(ms(100))),
            (Read, 3, Lost, false, Next::Retry(ms(400))),
            (Read, 4, Lost, false, Next::GiveUp),
            (Read, 1, NotSent, false, Next::Retry(ms(100))),
            (Read, 1, NotFound, false, Next::Done),
            (Read, 1, RateLimited(Duration::from_secs(7)), false, Next::Retry(Duration::from_secs(7))),
            (Read, 1, RateLimited(Duration::from_secs(61)), false, Next::GiveUp),
            // repeatable writes: retried; a refusal after a lost answer is confirmed by a read
            (Repeatable, 1, Lost, false, Next::Retry(ms(100))),
            (Repeatable, 2, Conflict, true, Next::Reread),
            (Repeatable, 2, NotFound, true, Next::Reread),
            (Repeatable, 1, Conflict, false, Next::Done),
            (Repeatable, 1, Refused, false, Next::Done),
            // creates: a lost answer is re-read, never blindly repeated
            (Create, 1, Lost, false, Next::Reread),
            (Create, 3, Lost, true, Next::Reread),
            (Create, 1, NotSent, false, Next::Retry(ms(100))),
            (Create, 4, NotSent, false, Next::GiveUp),
            (Create, 1, RateLimited(Duration::from_secs(1)), false, Next::Retry(Duration::from_secs(1))),
            (Create, 2, Conflict, true, Next::Reread),
            (Create, 1, Conflict, false, Next::Done),
            (Create, 1, Answered, true, Next::Done),
        ];
        for (kind, n, outcome, lost, want) in rows {
            assert_eq!(
                next(*kind, *n, *outcome, *lost, l),
                *want,
                "{kind:?} attempt {n} {outcome:?} lost_before={lost}"
            );
        }
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(7), Duration::from_millis(5000));
        assert_eq!(backoff(40), Duration::from_millis(5000));
    }
}
