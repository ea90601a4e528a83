//! The in-process work queue between the HTTP intake and the engine.
//!
//! - Bounded: a full queue makes the intake answer 503 so the sender retries later.
//! - Per-repository serialization: jobs of one repository run one after the other, in arrival
//!   order; different repositories run concurrently, at most `concurrency` at a time.
//! - Graceful shutdown: when every sender is dropped, the dispatcher finishes what is queued.
//! - [`DeliveryDedup`] drops deliveries whose ID was seen within a window.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::event::Event;
use crate::types::RepoName;

/// One unit of work: an event for one repository.
#[derive(Debug, Clone)]
pub struct Job {
    pub repo: RepoName,
    /// The delivery it came from (X-GitHub-Delivery, or a generated ID for registry events).
    pub delivery: String,
    pub event: Arc<Event>,
}

/// Handles jobs; implemented by the engine (and by test doubles).
pub trait JobHandler: Send + Sync + 'static {
    fn handle(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

#[derive(Debug, PartialEq, Eq)]
pub struct QueueFull;

/// The sending side, held by the HTTP handlers.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Job>,
    /// Jobs accepted and not yet finished (queued in the channel, waiting behind their
    /// repository, or running). This is what `capacity` bounds.
    depth: Arc<AtomicUsize>,
    capacity: usize,
}

impl Queue {
    /// Enqueues all jobs or none of them: `QueueFull` when they would take the number of
    /// unfinished jobs over the capacity.
    pub fn push_all(&self, jobs: Vec<Job>) -> Result<(), QueueFull> {
        if jobs.is_empty() {
            return Ok(());
        }
        let n = jobs.len();
        self.depth
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| (d + n <= self.capacity).then_some(d + n))
            .map_err(|_| QueueFull)?;
        for job in jobs {
            if self.tx.send(job).is_err() {
                // The dispatcher is gone (shutting down): nothing will run it.
                self.depth.fetch_sub(1, Ordering::SeqCst);
                return Err(QueueFull);
            }
        }
        Ok(())
    }

    /// Jobs queued or running.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    /// A handle that can enqueue while the queue is open but does not keep the dispatcher
    /// alive (the timer loop holds one, so shutdown is not delayed by pending timers).
    pub fn weak(&self) -> WeakQueue {
        WeakQueue { tx: self.tx.downgrade(), depth: self.depth.clone(), capacity: self.capacity }
    }

    /// A read-only view of [`Queue::depth`] that does not keep the dispatcher alive.
    pub fn depth_gauge(&self) -> DepthGauge {
        DepthGauge(self.depth.clone())
    }
}

/// See [`Queue::weak`].
#[derive(Clone)]
pub struct WeakQueue {
    tx: mpsc::WeakUnboundedSender<Job>,
    depth: Arc<AtomicUsize>,
    capacity: usize,
}

impl WeakQueue {
    /// The queue, while it is open (`None` once every [`Queue`] was dropped: shutting down).
    pub fn upgrade(&self) -> Option<Queue> {
        Some(Queue { tx: self.tx.upgrade()?, depth: self.depth.clone(), capacity: self.capacity })
    }
}

/// Jobs accepted and not yet finished, readable without holding the queue.
#[derive(Clone)]
pub struct DepthGauge(Arc<AtomicUsize>);

impl DepthGauge {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Starts the dispatcher; returns the queue and the dispatcher's task, which ends once every
/// [`Queue`] clone is dropped and all queued jobs are done.
pub fn start(
    capacity: usize,
    concurrency: usize,
    handler: Arc<dyn JobHandler>,
) -> (Queue, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let depth = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(dispatch(rx, handler, concurrency.max(1), depth.clone()));
    (Queue { tx, depth, capacity: capacity.max(1) }, task)
}

async fn dispatch(
    mut rx: mpsc::UnboundedReceiver<Job>,
    handler: Arc<dyn JobHandler>,
    concurrency: usize,
    depth: Arc<AtomicUsize>,
) {
    let mut pending: HashMap<RepoName, VecDeque<Job>> = HashMap::new();
    // Repositories with pending jobs and no running one, in the order they became ready.
    let mut ready: VecDeque<RepoName> = VecDeque::new();
    let mut running: HashSet<RepoName> = HashSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<RepoName>();
    let mut open = true;
    loop {
        while running.len() < concurrency {
            let Some(repo) = ready.pop_front() else { break };
            let Some(job) = pending.get_mut(&repo).and_then(VecDeque::pop_front) else { continue };
            if pending.get(&repo).is_some_and(VecDeque::is_empty) {
                pending.remove(&repo);
            }
            running.insert(repo.clone());
            let handler = handler.clone();
            let done_tx = done_tx.clone();
            let depth = depth.clone();
            tokio::spawn(async move {
                // A panicking handler must not wedge its repository's queue.
                let fut = std::panic::AssertUnwindSafe(handler.handle(job));
                if futures::FutureExt::catch_unwind(fut).await.is_err() {
                    tracing::error!(repository = %repo, "event handler panicked");
                }
                depth.fetch_sub(1, Ordering::SeqCst);
                let _ = done_tx.send(repo);
            });
        }
        if !open && running.is_empty() && ready.is_empty() {
            break;
        }
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(job) => {
                    let repo = job.repo.clone();
                    pending.entry(repo.clone()).or_default().push_back(job);
                    if !running.contains(&repo) && !ready.contains(&repo) {
                        ready.push_back(repo);
                    }
                }
                None => open = false,
            },
            Some(repo) = done_rx.recv() => {
                running.remove(&repo);
                if pending.contains_key(&repo) {
                    ready.push_back(repo);
                }
            }
        }
    }
}

/// Delivery IDs with when they were seen, and the same in arrival order (for expiry).
type Seen = (HashMap<String, Instant>, VecDeque<(Instant, String)>);

/// Remembers delivery IDs for a window, bounded in size.
pub struct DeliveryDedup {
    window: Duration,
    max: usize,
    seen: Mutex<Seen>,
}

impl DeliveryDedup {
    pub fn new(window: Duration, max: usize) -> DeliveryDedup {
        DeliveryDedup { window, max, seen: Mutex::new((HashMap::new(), VecDeque::new())) }
    }

    /// Whether `id` was already recorded within the window.
    pub fn seen(&self, id: &str) -> bool {
        let mut guard = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        Self::expire(&mut guard, self.window);
        guard.0.contains_key(id)
    }

    /// Records `id`. Returns false if it was already there.
    pub fn record(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut guard = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        Self::expire(&mut guard, self.window);
        if guard.0.contains_key(id) {
            return false;
        }
        while guard.1.len() >= self.max {
            if let Some((_, old)) = guard.1.pop_front() {
                guard.0.remove(&old);
            }
        }
        guard.0.insert(id.to_string(), now);
        guard.1.push_back((now, id.to_string()));
        true
    }

    fn expire(guard: &mut Seen, window: Duration) {
        while let Some((t, _)) = guard.1.front() {
            if t.elapsed() <= window {
                break;
            }
            if let Some((_, id)) = guard.1.pop_front() {
                guard.0.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{PushEvent, RegistryPush};

    struct Recorder {
        log: Mutex<Vec<(String, &'static str)>>,
        active: Mutex<HashSet<String>>,
        max_parallel: AtomicUsize,
        parallel: AtomicUsize,
    }

    impl JobHandler for Recorder {
        fn handle(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                let repo = job.repo.to_string();
                assert!(self.active.lock().unwrap().insert(repo.clone()), "two jobs of {repo} at once");
                let n = self.parallel.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_parallel.fetch_max(n, Ordering::SeqCst);
                self.log.lock().unwrap().push((job.delivery.clone(), "start"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                self.parallel.fetch_sub(1, Ordering::SeqCst);
                self.active.lock().unwrap().remove(&repo);
                self.log.lock().unwrap().push((job.delivery, "end"));
            })
        }
    }

    fn job(repo: &str, id: &str) -> Job {
        Job {
            repo: repo.parse().unwrap(),
            delivery: id.into(),
            event: Arc::new(Event::Push(PushEvent {
                repo: repo.parse().unwrap(),
                git_ref: "refs/heads/main".into(),
                after: "0".into(),
                default_branch: Some("main".into()),
                pipeline: crate::event::PipelineTouch::Untouched,
            })),
        }
    }

    #[tokio::test]
    async fn serializes_per_repo_and_bounds_concurrency_and_drains() {
        let rec = Arc::new(Recorder {
            log: Mutex::default(),
            active: Mutex::default(),
            max_parallel: AtomicUsize::new(0),
            parallel: AtomicUsize::new(0),
        });
        let (q, task) = start(100, 2, rec.clone());
        for i in 0..5 {
            for r in ["o/a", "o/b", "o/c"] {
                q.push_all(vec![job(r, &format!("{r}-{i}"))]).unwrap();
            }
        }
        drop(q);
        task.await.unwrap();
        let log = rec.log.lock().unwrap();
        assert_eq!(log.len(), 30, "every job ran before the dispatcher ended");
        assert!(rec.max_parallel.load(Ordering::SeqCst) <= 2);
        // Arrival order within a repository.
        let a: Vec<_> =
            log.iter().filter(|(d, s)| d.starts_with("o/a") && *s == "start").map(|(d, _)| d.clone()).collect();
        assert_eq!(a, (0..5).map(|i| format!("o/a-{i}")).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn full_queue_refuses_all_or_nothing() {
        struct Slow;
        impl JobHandler for Slow {
            fn handle(&self, _job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
                Box::pin(tokio::time::sleep(Duration::from_secs(3600)))
            }
        }
        let (q, _task) = start(3, 1, Arc::new(Slow));
        q.push_all(vec![job("o/a", "1")]).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await; // taken by the worker: still counted
        q.push_all(vec![job("o/a", "2")]).unwrap();
        // Two more would make four unfinished jobs: refused whole, nothing half-enqueued.
        assert_eq!(q.push_all(vec![job("o/b", "3"), job("o/b", "4")]), Err(QueueFull));
        assert_eq!(q.depth(), 2);
        q.push_all(vec![job("o/b", "3")]).unwrap();
        assert_eq!(q.push_all(vec![job("o/c", "5")]), Err(QueueFull));
        let _ = RegistryPush { host: None, repository: "x".into(), tag: "1".parse().unwrap(), digest: None };
    }

    #[test]
    fn dedup_window() {
        let d = DeliveryDedup::new(Duration::from_secs(60), 2);
        assert!(d.record("a"));
        assert!(!d.record("a"));
        assert!(d.seen("a"));
        assert!(d.record("b"));
        assert!(d.record("c")); // evicts "a"
        assert!(!d.seen("a"));
        let d = DeliveryDedup::new(Duration::from_millis(0), 10);
        assert!(d.record("a"));
        std::thread::sleep(Duration::from_millis(2));
        assert!(d.record("a"));
    }
}
