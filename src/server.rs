//! The axum HTTP server: `POST /webhooks/github`, `POST /webhooks/registry`,
//! `GET /healthz`, `GET /readyz`, `GET /metrics`.
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
use crate::queue::{self, DeliveryDedup, Job, Queue};
use crate::settings::Settings;
use crate::webhook::{self, Received};

/// How often the App's installations are re-read when no repository list is configured.
const REFRESH_INSTALLATIONS: Duration = Duration::from_secs(300);

/// GitHub caps webhook payloads at 25 MiB.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub engine: Arc<Engine>,
    pub queue: Queue,
    pub dedup: DeliveryDedup,
    pub ready: AtomicBool,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhooks/github", post(github_webhook))
        .route("/webhooks/registry", post(registry_webhook))
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
    let jobs = match *ev {
        crate::event::Event::RegistryPush(push) => st.engine.jobs_for_registry_push(&delivery_id, push),
        ev => match ev.repo().cloned() {
            Some(repo) => vec![Job { repo, delivery: delivery_id.clone(), event: Arc::new(ev) }],
            None => vec![],
        },
    };
    enqueue(&st, "github", &event, &delivery, jobs)
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
    let jobs = notes.pushes.into_iter().flat_map(|p| st.engine.jobs_for_registry_push(&delivery, p)).collect();
    enqueue(&st, "registry", "push", &delivery, jobs)
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
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Jobs this server accepted and has not finished (what a graceful stop drains). Zero, once
    /// every delivery sent to it was answered, means it has finished reacting to them.
    pub fn queue_depth(&self) -> usize {
        self.depth.get()
    }

    /// Stops accepting, drains the queue (bounded by `grace`), and waits.
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
    let state = Arc::new(AppState {
        dedup: DeliveryDedup::new(Duration::from_secs(settings.server.dedup_window_secs), 100_000),
        settings,
        engine,
        queue,
        ready: AtomicBool::new(true),
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    if state.engine.discovers_repositories() {
        // No repositories configured: serve every repository the App is installed on.
        let engine = state.engine.clone();
        tokio::spawn(async move {
            loop {
                match engine.refresh_repositories().await {
                    Ok(n) => tracing::info!(repositories = n, "repositories from the App's installations"),
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot list the App's installations"),
                }
                tokio::time::sleep(REFRESH_INSTALLATIONS).await;
            }
        });
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
        drop(state);
        if tokio::time::timeout(grace, dispatcher).await.is_err() {
            tracing::warn!(grace_secs = grace.as_secs(), "queue not drained within the grace period");
        }
    });
    Ok(Running { addr, depth, shutdown: Some(tx), task })
}
