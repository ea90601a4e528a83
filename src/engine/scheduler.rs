//! Timers: waiting is scheduling, not sleeping. Anything that must happen later (a signature
//! not there yet, a tag not readable yet, a soak that ends at T, a verification that times out
//! at T, a promotion window that opens at T, a merge waiting for checks, a rate limit that
//! resets at T) is armed here as a delayed [`Wake`] job; when it comes due it re-enters the
//! normal per-repository queue, so the repository's slot is free meanwhile. The *when* is
//! decided in the planner (`planner::wait`, `planner::gate::wake_at`, `windows::Windows::state`);
//! this file only keeps the timers.
//!
//! Timers are a cache like the rest: a restart loses them, and `reconcile` plus the next event
//! restore them from GitHub and registry state (docs/architecture.md, "Timers").
//!
//! Keys: one timer per repository + artifact for push waits (a newer push of the same artifact
//! supersedes the older one's wait), one per repository + stage + artifact for a bump's gate
//! (soak end or timeout), one per pull request, one per rate-limited delivery. The loop
//! compares due times with [`Engine::clock`], so tests that move the clock see timers fire
//! without real waiting (it looks at least every [`MAX_NAP`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Engine;
use crate::event::{Event, Wake};
use crate::queue::{Job, WeakQueue};
use crate::types::{ArtifactName, RepoName, StageName, Tag};

/// The longest the loop sleeps between looks at the clock (an injected clock may jump).
pub const MAX_NAP: Duration = Duration::from_millis(250);

/// What a timer is about; a new timer with the same key replaces the pending one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimerKey {
    /// Waiting on a pushed version of an artifact (signature, tag).
    Artifact { repo: RepoName, artifact: ArtifactName },
    /// Waiting for a stage's soak to end or its verification to time out.
    Gate { repo: RepoName, stage: StageName, artifact: ArtifactName },
    /// A pull request waiting for its promotion window to open or (fallback) for its checks.
    Pull { repo: RepoName, number: u64 },
    /// A job a rate limit stopped, by its original delivery.
    Retry { repo: RepoName, delivery: String },
}

struct Timer {
    due: DateTime<Utc>,
    repo: RepoName,
    wake: Wake,
}

#[derive(Default)]
pub struct Scheduler {
    timers: Mutex<HashMap<TimerKey, Timer>>,
    /// The newest pushed tag per repository + artifact: a wake for an older push is dropped
    /// even if it fired before the newer push was handled.
    latest: Mutex<HashMap<TimerKey, Tag>>,
    changed: tokio::sync::Notify,
    /// Push waits taken off the timers and not yet in the queue (counted as pending).
    firing: std::sync::atomic::AtomicUsize,
    /// Timers fired so far (names their jobs' delivery IDs).
    fired: std::sync::atomic::AtomicU64,
}

impl Scheduler {
    /// Arms (or re-arms, replacing the pending one) the timer `key`.
    pub fn arm(&self, key: TimerKey, repo: RepoName, due: DateTime<Utc>, wake: Wake) {
        tracing::debug!(?key, %due, "timer armed");
        self.timers.lock().unwrap_or_else(|e| e.into_inner()).insert(key, Timer { due, repo, wake });
        self.changed.notify_one();
    }

    /// Removes the timer `key`, if any.
    pub fn cancel(&self, key: &TimerKey) {
        if self.timers.lock().unwrap_or_else(|e| e.into_inner()).remove(key).is_some() {
            tracing::debug!(?key, "timer cancelled");
        }
    }

    /// A new push of `tag` for `key`: it supersedes any older push's pending wait.
    pub fn pushed(&self, key: &TimerKey, tag: &Tag) {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), tag.clone());
        self.cancel(key);
    }

    /// Whether `tag` is still the newest push seen for `key` (true when none was seen, e.g.
    /// after a restart).
    pub fn is_latest(&self, key: &TimerKey, tag: &Tag) -> bool {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).get(key).is_none_or(|t| t == tag)
    }

    /// Timers armed and not yet fired.
    pub fn pending(&self) -> usize {
        self.timers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Timers armed for pushed versions (signature or tag waits), not yet fired.
    pub fn pending_pushes(&self) -> usize {
        let timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        timers.keys().filter(|k| matches!(k, TimerKey::Artifact { .. })).count()
            + self.firing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The pending timers' wakes (for tests and diagnostics).
    pub fn wakes(&self) -> Vec<Wake> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner()).values().map(|t| t.wake.clone()).collect()
    }

    /// The due time of the timer `key`, if armed.
    pub fn due(&self, key: &TimerKey) -> Option<DateTime<Utc>> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner()).get(key).map(|t| t.due)
    }

    /// Takes every timer due at `now`, as jobs; returns them with the next due time left.
    pub fn take_due(&self, now: DateTime<Utc>) -> (Vec<(TimerKey, Job)>, Option<DateTime<Utc>>) {
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        let due: Vec<TimerKey> = timers.iter().filter(|(_, t)| t.due <= now).map(|(k, _)| k.clone()).collect();
        let jobs = due
            .into_iter()
            .filter_map(|k| timers.remove(&k).map(|t| (k, t)))
            .map(|(k, t)| {
                if matches!(k, TimerKey::Artifact { .. }) {
                    self.firing.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let n = self.fired.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (k, Job { delivery: format!("timer-{n}"), repo: t.repo, event: Arc::new(Event::Wake(t.wake)) })
            })
            .collect();
        let next = timers.values().map(|t| t.due).min();
        (jobs, next)
    }
}

/// The timer loop: enqueues due timers until the queue closes (shutdown), then logs what it
/// leaves behind (restored by `reconcile` and the next event after the restart).
pub async fn run(engine: Arc<Engine>, queue: WeakQueue) {
    loop {
        let (jobs, next) = engine.scheduler.take_due((engine.clock)());
        let Some(q) = queue.upgrade() else { break };
        for (key, job) in jobs {
            tracing::debug!(delivery = %job.delivery, repository = %job.repo, event = job.event.kind(), "timer due");
            if q.push_all(vec![job.clone()]).is_err() {
                // Full: look again shortly rather than lose the wait (unless re-armed since).
                tracing::warn!(repository = %job.repo, "queue full: timer postponed");
                if let (Event::Wake(w), None) = (&*job.event, engine.scheduler.due(&key)) {
                    engine.scheduler.arm(key.clone(), job.repo.clone(), (engine.clock)(), w.clone());
                }
            }
            if matches!(key, TimerKey::Artifact { .. }) {
                engine.scheduler.firing.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        drop(q);
        let nap = next.and_then(|n| (n - (engine.clock)()).to_std().ok()).unwrap_or(MAX_NAP).min(MAX_NAP);
        tokio::select! {
            _ = engine.scheduler.changed.notified() => {}
            _ = tokio::time::sleep(nap) => {}
        }
    }
    let left = engine.scheduler.pending();
    if left > 0 {
        tracing::info!(timers = left, "shutting down with timers pending: reconcile and the next event restore them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RegistryPush;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn key(artifact: &str) -> TimerKey {
        TimerKey::Artifact { repo: "o/r".parse().unwrap(), artifact: artifact.parse().unwrap() }
    }

    fn wake(tag: &str) -> Wake {
        Wake::Push {
            push: RegistryPush {
                host: None,
                repository: "deployments/myapp".into(),
                tag: tag.parse().unwrap(),
                digest: None,
            },
            artifact: "myapp".parse().unwrap(),
            since: at("2026-01-01T12:00:00Z"),
            attempt: 1,
        }
    }

    fn fired(jobs: &[(TimerKey, Job)]) -> Vec<Wake> {
        jobs.iter()
            .map(|(_, j)| match &*j.event {
                Event::Wake(w) => w.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn fires_what_is_due_once_and_reports_the_next() {
        let s = Scheduler::default();
        let repo: RepoName = "o/r".parse().unwrap();
        s.arm(key("myapp"), repo.clone(), at("2026-01-01T12:00:05Z"), wake("1.0.0"));
        let soak =
            TimerKey::Gate { repo: repo.clone(), stage: "dev".parse().unwrap(), artifact: "myapp".parse().unwrap() };
        s.arm(soak, repo.clone(), at("2026-01-01T12:30:00Z"), Wake::Bump { sha: "abc".into() });
        assert_eq!(s.pending(), 2);
        assert_eq!(s.pending_pushes(), 1);

        let (jobs, next) = s.take_due(at("2026-01-01T12:00:04Z"));
        assert!(jobs.is_empty());
        assert_eq!(next, Some(at("2026-01-01T12:00:05Z")));

        let (jobs, next) = s.take_due(at("2026-01-01T12:00:05Z"));
        assert_eq!(fired(&jobs), [wake("1.0.0")]);
        assert_eq!(jobs[0].1.repo, repo);
        assert_eq!(next, Some(at("2026-01-01T12:30:00Z")));
        let (jobs, _) = s.take_due(at("2026-01-01T12:00:06Z"));
        assert!(jobs.is_empty(), "fired once");

        let (jobs, next) = s.take_due(at("2026-01-01T13:00:00Z"));
        assert_eq!(fired(&jobs), [Wake::Bump { sha: "abc".into() }]);
        assert_eq!(next, None);
    }

    #[test]
    fn a_newer_push_supersedes_the_pending_wait() {
        let s = Scheduler::default();
        let repo: RepoName = "o/r".parse().unwrap();
        let (old, new): (Tag, Tag) = ("1.0.0".parse().unwrap(), "1.0.1".parse().unwrap());
        assert!(s.is_latest(&key("myapp"), &old), "nothing seen (e.g. after a restart)");
        s.pushed(&key("myapp"), &old);
        s.arm(key("myapp"), repo.clone(), at("2026-01-01T12:00:05Z"), wake("1.0.0"));
        s.arm(key("other"), repo, at("2026-01-01T12:00:05Z"), wake("9.9.9"));
        s.pushed(&key("myapp"), &new);
        assert!(!s.is_latest(&key("myapp"), &old));
        assert!(s.is_latest(&key("myapp"), &new));
        assert!(s.is_latest(&key("other"), &old), "another artifact is not superseded");
        assert_eq!(s.wakes(), [wake("9.9.9")], "the older push's wait is gone");
    }
}
