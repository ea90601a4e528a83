//! The axum HTTP server: `POST /webhooks/github`, `POST /webhooks/registry`,
//! `POST /webhooks/flux`, `GET /healthz`, `GET /readyz`, `GET /metrics`.
//!
//! Answers never wait for GitHub or registry I/O: a verified delivery is parsed into baton's
//! own event, put on the bounded queue (503 when full, so the sender retries) and answered 202.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use subtle::ConstantTimeEq;

use crate::engine::Engine;
use crate::index::{Index, IndexWork};
use crate::intake::Screen;
use crate::queue::{self, DeliveryDedup, Job, Queue};
use crate::settings::Settings;
use crate::webhook::{self, Received};

/// How often the index is rebuilt from scratch (installations, then every `.baton.yaml`), to
/// correct a replica that missed a webhook.
const REFRESH_INDEX: Duration = Duration::from_secs(300);

/// GitHub caps webhook payloads at 25 MiB.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub engine: Arc<Engine>,
    /// Which repositories have a pipeline and which OCI repositories feed them.
    pub index: Arc<Index>,
    pub queue: Queue,
    pub dedup: DeliveryDedup,
    pub ready: AtomicBool,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhooks/github", post(github_webhook))
        .route("/webhooks/registry", post(registry_webhook))
        .route("/webhooks/flux", post(flux_webhook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn answer(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], m).into_response()
}

fn too_large(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the body with the size limit; the limit is enforced while streaming, so an oversized
/// body is refused without being buffered whole.
async fn read_body(headers: &HeaderMap, body: axum::body::Body) -> Result<Bytes, Response> {
    if too_large(headers) {
        return Err(answer(StatusCode::PAYLOAD_TOO_LARGE, "payload over 25 MiB"));
    }
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| answer(StatusCode::PAYLOAD_TOO_LARGE, "payload over 25 MiB"))
}

async fn github_webhook(State(st): State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let event = header_str(&headers, "x-github-event").unwrap_or("").to_string();
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => {
            crate::metrics::delivery("github", &event, "too_large");
            return r;
        }
    };
    // The signature is checked over the raw bytes before anything is parsed.
    if !webhook::signature::verify(
        &st.settings.webhooks.github_secrets,
        header_str(&headers, "x-hub-signature-256"),
        &body,
    ) {
        crate::metrics::delivery("github", &event, "rejected_signature");
        tracing::warn!(event, "webhook with a missing or wrong X-Hub-Signature-256 refused");
        return answer(StatusCode::UNAUTHORIZED, "missing or invalid X-Hub-Signature-256");
    }
    if event.is_empty() {
        crate::metrics::delivery("github", "none", "malformed");
        return answer(StatusCode::BAD_REQUEST, "missing X-GitHub-Event header");
    }
    let delivery = header_str(&headers, "x-github-delivery").unwrap_or("").to_string();
    if !delivery.is_empty() && st.dedup.seen(&delivery) {
        crate::metrics::delivery("github", &event, "duplicate");
        tracing::info!(delivery, event, "duplicate delivery dropped");
        return answer(StatusCode::OK, "duplicate delivery");
    }
    let ev = match webhook::github::parse_event(&event, &body) {
        Ok(Received::Event(ev)) => ev,
        Ok(Received::Ignored(why)) => {
            crate::metrics::delivery("github", &event, "ignored");
            tracing::debug!(delivery, "ignored: {why}");
            return answer(StatusCode::OK, format!("ignored: {why}"));
        }
        Err(reason) => {
            crate::metrics::delivery("github", &event, "malformed");
            tracing::warn!(delivery, event, reason, "malformed webhook payload");
            return answer(StatusCode::BAD_REQUEST, reason);
        }
    };
    let delivery_id = if delivery.is_empty() { format!("github-{}", short_hash(&body)) } else { delivery.clone() };
    let work = crate::index::work_for(&ev);
    let screen = crate::intake::screen(&ev, &*st.index);
    // A push of a configured repository updates the index in its job (before that repository's
    // next event); anything else updates it here, beside the queue.
    let in_job = matches!(*ev, crate::event::Event::Push(_)) && screen == Screen::Handle && st.index.is_built();
    if work != IndexWork::Nothing && !in_job {
        update_index(&st, work);
    }
    if let Screen::Ignore(why) = screen {
        if !delivery.is_empty() {
            st.dedup.record(&delivery);
        }
        crate::metrics::delivery("github", &event, "ignored");
        tracing::debug!(delivery, "ignored: {why}");
        return answer(StatusCode::OK, format!("ignored: {why}"));
    }
    let jobs = match *ev {
        crate::event::Event::RegistryPush(push) => {
            let jobs = registry_jobs(&st, &delivery_id, push);
            if jobs.is_empty() {
                crate::metrics::delivery("github", &event, if st.index.is_built() { "ignored" } else { "not_ready" });
                return if st.index.is_built() {
                    answer(StatusCode::OK, "ignored: no pipeline names this image")
                } else {
                    answer(StatusCode::SERVICE_UNAVAILABLE, "starting: the index of pipelines is not built yet")
                };
            }
            jobs
        }
        crate::event::Event::Installation(_) => {
            if !delivery.is_empty() {
                st.dedup.record(&delivery);
            }
            crate::metrics::delivery("github", &event, "accepted");
            return answer(StatusCode::ACCEPTED, "accepted (index update)");
        }
        ev => match ev.repo().cloned() {
            Some(repo) => vec![Job { repo, delivery: delivery_id.clone(), event: Arc::new(ev) }],
            None => vec![],
        },
    };
    enqueue(&st, "github", &event, &delivery, jobs)
}

/// The jobs of a registry push: one per repository whose pipeline names the image (from the
/// index), or, until the index is built, one per repository baton serves.
fn registry_jobs(st: &AppState, delivery: &str, push: crate::event::RegistryPush) -> Vec<Job> {
    if !st.index.is_built() {
        // The configured repositories (none in discovery mode: the caller answers 503 then).
        return st.engine.jobs_for_registry_push(delivery, push);
    }
    let mut repos: Vec<crate::types::RepoName> =
        st.index.targets(&push.repository).into_iter().map(|t| t.repo).collect();
    repos.dedup();
    let event = Arc::new(crate::event::Event::RegistryPush(push));
    repos.into_iter().map(|repo| Job { repo, delivery: delivery.to_string(), event: event.clone() }).collect()
}

/// Index work runs beside the queue: reading a few pipeline files must not delay the answer.
fn update_index(st: &AppState, work: IndexWork) {
    let index = st.index.clone();
    let github = st.engine.github.clone();
    tokio::spawn(async move {
        match index.apply(&*github, work.clone()).await {
            Ok(c) => tracing::info!(added = ?c.added, updated = ?c.updated, removed = ?c.removed, "index updated"),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), ?work, "cannot update the index; the periodic refresh will")
            }
        }
        crate::metrics::index(&index);
    });
}

fn enqueue(st: &AppState, source: &str, event: &str, delivery: &str, jobs: Vec<Job>) -> Response {
    let n = jobs.len();
    match st.queue.push_all(jobs) {
        Ok(()) => {
            if !delivery.is_empty() {
                st.dedup.record(delivery);
            }
            crate::metrics::get().queue_depth.set(st.queue.depth() as i64);
            crate::metrics::delivery(source, event, "accepted");
            answer(StatusCode::ACCEPTED, format!("accepted ({n} jobs)"))
        }
        Err(queue::QueueFull) => {
            crate::metrics::delivery(source, event, "queue_full");
            tracing::warn!(source, event, "queue full: asking the sender to retry");
            answer(StatusCode::SERVICE_UNAVAILABLE, "queue full, retry later")
        }
    }
}

fn short_hash(body: &[u8]) -> String {
    crate::types::Digest::of(body).hex()[..16].to_string()
}

fn bearer_ok(st: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = header_str(headers, "authorization").and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let mut ok = false;
    for t in &st.settings.webhooks.registry_tokens {
        ok |= bool::from(t.expose().as_bytes().ct_eq(token.trim().as_bytes()));
    }
    ok
}

async fn registry_webhook(State(st): State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Body) -> Response {
    if !bearer_ok(&st, &headers) {
        crate::metrics::delivery("registry", "push", "rejected_token");
        return answer(StatusCode::UNAUTHORIZED, "missing or invalid bearer token");
    }
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let notes = match webhook::registry::parse(&body) {
        Ok(n) => n,
        Err(reason) => {
            crate::metrics::delivery("registry", "push", "malformed");
            return answer(StatusCode::BAD_REQUEST, reason);
        }
    };
    if notes.pushes.is_empty() {
        crate::metrics::delivery("registry", "push", "ignored");
        return answer(StatusCode::OK, format!("ignored ({} events without a tagged manifest push)", notes.ignored));
    }
    // Registries redeliver the same envelope on failure: the body's hash is the delivery ID.
    let delivery = format!("registry-{}", short_hash(&body));
    if st.dedup.seen(&delivery) {
        crate::metrics::delivery("registry", "push", "duplicate");
        return answer(StatusCode::OK, "duplicate delivery");
    }
    let jobs: Vec<Job> = notes.pushes.into_iter().flat_map(|p| registry_jobs(&st, &delivery, p)).collect();
    if jobs.is_empty() && !st.index.is_built() {
        crate::metrics::delivery("registry", "push", "not_ready");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: the index of pipelines is not built yet, retry later",
        );
    }
    if jobs.is_empty() {
        st.dedup.record(&delivery);
        crate::metrics::delivery("registry", "push", "ignored");
        return answer(StatusCode::OK, "ignored: no pipeline names this image");
    }
    enqueue(&st, "registry", "push", &delivery, jobs)
}

/// A Flux event names no repository: it fans out to every repository baton serves, and each
/// one records it on the stages whose checks match its context.
async fn flux_webhook(State(st): State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !webhook::signature::verify(
        &st.settings.webhooks.flux_secrets,
        header_str(&headers, webhook::flux::SIGNATURE_HEADER),
        &body,
    ) {
        crate::metrics::delivery("flux", "event", "rejected_signature");
        tracing::warn!("Flux event with a missing or wrong X-Signature refused");
        return answer(StatusCode::UNAUTHORIZED, "missing or invalid X-Signature");
    }
    let ev = match webhook::flux::parse(&body) {
        Ok(Received::Event(ev)) => ev,
        Ok(Received::Ignored(why)) => {
            crate::metrics::delivery("flux", "event", "ignored");
            tracing::debug!("ignored: {why}");
            return answer(StatusCode::OK, format!("ignored: {why}"));
        }
        Err(reason) => {
            crate::metrics::delivery("flux", "event", "malformed");
            tracing::warn!(reason, "malformed Flux event");
            return answer(StatusCode::BAD_REQUEST, reason);
        }
    };
    // notification-controller retries a failed POST with the same body.
    let delivery = format!("flux-{}", short_hash(&body));
    if st.dedup.seen(&delivery) {
        crate::metrics::delivery("flux", "event", "duplicate");
        return answer(StatusCode::OK, "duplicate delivery");
    }
    let event = Arc::new(*ev);
    // Only repositories with a pipeline can have a stage the event concerns: the index knows
    // them without a request (before it is built, the configured list).
    let repos = if st.engine.index.is_built() { st.engine.index.configured() } else { st.engine.repositories() };
    let jobs = repos.into_iter().map(|repo| Job { repo, delivery: delivery.clone(), event: event.clone() }).collect();
    enqueue(&st, "flux", "event", &delivery, jobs)
}

async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    if st.ready.load(Ordering::SeqCst) {
        answer(StatusCode::OK, "ready")
    } else {
        answer(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    }
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    crate::metrics::get().queue_depth.set(st.queue.depth() as i64);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        crate::metrics::render(),
    )
        .into_response()
}

/// A running server: its address, and a handle to stop it gracefully.
pub struct Running {
    pub addr: SocketAddr,
    depth: queue::DepthGauge,
    pub index: Arc<Index>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Jobs this server accepted and has not finished (what a graceful stop drains). Zero, once
    /// every delivery sent to it was answered, means it has finished reacting to them.
    pub fn queue_depth(&self) -> usize {
        self.depth.get()
    }

    /// Stops accepting, drains the queue (bounded by `grace`), reports what it leaves to timers,
    /// and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Starts the server on `listener` with `engine` behind the queue.
pub fn spawn(
    settings: Arc<Settings>,
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (queue, dispatcher) = queue::start(settings.server.queue_capacity, settings.server.concurrency, engine.clone());
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    let depth = queue.depth_gauge();
    tokio::spawn(crate::engine::scheduler::run(engine.clone(), queue.weak()));
    let index = engine.index.clone();
    let state = Arc::new(AppState {
        dedup: DeliveryDedup::new(Duration::from_secs(settings.server.dedup_window_secs), 100_000),
        settings,
        engine,
        index: index.clone(),
        queue,
        ready: AtomicBool::new(true),
    });
    {
        // Built at start, then rebuilt every few minutes: a replica that missed a webhook is
        // corrected by the next refresh.
        let index = index.clone();
        let github = state.engine.github.clone();
        let configured = state.settings.github.repositories.clone();
        tokio::spawn(async move {
            loop {
                let started = std::time::Instant::now();
                match index.build(&*github, &configured).await {
                    Ok(c) => {
                        let (installed, with_pipeline, images) = index.summary();
                        tracing::info!(
                            installed,
                            with_pipeline,
                            images,
                            added = c.added.len(),
                            removed = c.removed.len(),
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "index built"
                        );
                    }
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot build the index; retrying later"),
                }
                crate::metrics::index(&index);
                tokio::time::sleep(REFRESH_INDEX).await;
            }
        });
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    if state.settings.reconcile.interval_secs > 0 {
        let opts = PassOptions {
            interval: Duration::from_secs(state.settings.reconcile.interval_secs),
            budget_floor: state.settings.reconcile.budget_floor,
        };
        spawn_reconcile(state.engine.clone(), index.clone(), opts);
    }
    let task = tokio::spawn(async move {
        let st = state.clone();
        let shutdown = async move {
            let _ = rx.await;
            st.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: no new deliveries; draining the queue");
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "server error");
        }
        // The router (and its queue handles) are gone; dropping ours lets the dispatcher finish.
        let engine = state.engine.clone();
        drop(state);
        if tokio::time::timeout(grace, dispatcher).await.is_err() {
            tracing::warn!(grace_secs = grace.as_secs(), "queue not drained within the grace period");
        }
        // After the drain (the jobs drained may have armed waits): what is left to timers, which
        // a restart loses and reconcile and the next event restore.
        let wakes = engine.scheduler.wakes();
        tracing::info!(
            timers = wakes.len(),
            "drained; timers left: reconcile and the next event restore them after the restart"
        );
        for wake in &wakes {
            tracing::info!(timer = %left_to_timer(wake), "left to a timer");
        }
    });
    Ok(Running { addr, depth, index, shutdown: Some(tx), task })
}

/// A pending timer, for the shutdown log.
fn left_to_timer(wake: &crate::event::Wake) -> String {
    match wake {
        crate::event::Wake::Push { push, artifact, since, attempt } => format!(
            "{artifact} {}:{} waiting since {} ({attempt} looks so far)",
            push.repository,
            push.tag,
            since.to_rfc3339()
        ),
        crate::event::Wake::Bump { sha } => format!("soak or verification timeout of bump commit {sha}"),
        crate::event::Wake::Pull { number, head_sha, attempt } => {
            format!("merge of PR #{number} (head {head_sha}, {attempt} fallback looks so far)")
        }
        crate::event::Wake::Retry { delivery, runs, .. } => {
            format!("job of delivery {delivery} stopped by a rate limit ({runs} times so far)")
        }
    }
}

/// One reconcile pass over the repositories that have a pipeline, without pauses or budget
/// floor (`baton reconcile`); the number that failed (None: the repositories could not be read).
pub async fn reconcile_all(engine: &Engine, index: &Index) -> Option<usize> {
    reconcile_pass(engine, index, &PassOptions::default()).await.map(|r| r.failed)
}

/// How a reconcile pass is paced.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// The pass's interval: its repositories are spread over half of it.
    pub interval: Duration,
    /// Stop (per installation) below this remaining rate budget.
    pub budget_floor: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub repositories: usize,
    pub failed: usize,
    /// Installations (owners) whose repositories were skipped: budget below the floor.
    pub stopped: Vec<String>,
}

/// A reconcile pass: every repository with a pipeline, paced, stopping per installation when
/// its rate budget falls below the floor.
pub async fn reconcile_pass(engine: &Engine, index: &Index, opts: &PassOptions) -> Option<PassReport> {
    if !index.is_built() {
        if let Err(e) = index.build(&*engine.github, &engine.repositories()).await {
            tracing::error!(error = format!("{e:#}"), "cannot read the repositories' pipelines");
            return None;
        }
    }
    // Only the repositories that have a pipeline: the cost follows them, not the installed ones.
    let repositories = index.configured();
    let gap = crate::pacing::gap(opts.interval, repositories.len());
    let mut report = PassReport { repositories: repositories.len(), ..PassReport::default() };
    for repo in &repositories {
        if report.stopped.iter().any(|o| o == repo.owner()) {
            continue;
        }
        let remaining = rate_remaining(engine, repo.owner());
        if let crate::pacing::Budget::Stop { remaining, floor } = crate::pacing::budget(remaining, opts.budget_floor) {
            tracing::warn!(
                owner = repo.owner(),
                remaining,
                floor,
                "reconcile pass stopped for this installation: rate budget below the floor"
            );
            report.stopped.push(repo.owner().to_string());
            continue;
        }
        let span = tracing::info_span!("reconcile", repository = %repo);
        // In the repository's slot: never beside one of its jobs (which could evaluate the same
        // bump and record it twice).
        let slot = engine.repository_slot(repo).await;
        let result = tracing::Instrument::instrument(engine.reconcile(repo), span).await;
        drop(slot);
        match result {
            Ok(()) => {}
            Err(e) => {
                report.failed += 1;
                tracing::error!(repository = %repo, error = format!("{e:#}"), "reconcile failed");
            }
        }
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
    }
    tracing::info!(repositories = report.repositories, failed = report.failed, stopped = ?report.stopped, "reconcile pass done");
    Some(report)
}

/// The installation's remaining rate budget as last seen (None: unknown).
fn rate_remaining(engine: &Engine, owner: &str) -> Option<u64> {
    engine.github.rate_budget(owner).map(|b| b.remaining)
}

/// `baton serve`'s own reconcile pass, every `interval` after the index is built.
fn spawn_reconcile(engine: Arc<Engine>, index: Arc<Index>, opts: PassOptions) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(opts.interval).await;
            if !index.is_built() {
                continue;
            }
            match reconcile_pass(&engine, &index, &opts).await {
                Some(r) if !r.stopped.is_empty() => crate::metrics::reconcile_pass("stopped_budget"),
                Some(_) => crate::metrics::reconcile_pass("done"),
                None => crate::metrics::reconcile_pass("failed"),
            }
        }
    });
}
