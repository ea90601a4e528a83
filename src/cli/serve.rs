//! `baton serve` and `baton reconcile`: settings, logging, the runtime, the engine built from
//! settings, then the HTTP server (`crate::server`) or one reconcile pass.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::server::spawn;
use crate::settings::{LogFormat, Settings};

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Builds the engine from settings: the App client (or dry-run), the registry, the verifier.
pub fn build_engine(settings: &Settings) -> Result<Engine, String> {
    let client = crate::github::app::AppClient::new(&settings.github).map_err(|e| e.to_string())?;
    let github: Arc<dyn crate::github::GitHub> =
        if settings.dry_run() { Arc::new(crate::github::dryrun::DryRun::new(client)) } else { Arc::new(client) };
    let registry =
        crate::registry::OciRegistry::new(&settings.registry).map_err(|e| format!("registry settings: {e}"))?;
    let registry = Arc::new(registry);
    let verifier = crate::verify::default_verifier(&settings.verify, registry.clone(), github.clone());
    let differ = crate::manifest_diff::Differ::new(registry.clone(), crate::manifest_diff::Limits::default());
    let registry: Arc<dyn crate::registry::Registry> = registry;
    let mut engine = Engine::new(
        github,
        registry,
        verifier,
        settings.github.repositories.clone(),
        Duration::from_secs(settings.github.config_cache_secs),
    );
    engine.signature_wait = Duration::from_secs(settings.verify.signature_wait_secs);
    engine.replay_window = Duration::from_secs(settings.commands.replay_window_secs);
    engine.differ = Some(Arc::new(differ));
    Ok(engine)
}

/// Settings (exit 2 when invalid), logging, and the runtime: what every long command needs.
fn prepare(config: Option<&Path>) -> Result<(Arc<Settings>, tokio::runtime::Runtime), ExitCode> {
    let settings = Settings::load(config).map_err(|e| {
        eprintln!("baton: {e}");
        ExitCode::from(2)
    })?;
    init_logging(&settings);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("baton: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })?;
    Ok((Arc::new(settings), rt))
}

/// `baton serve`.
pub fn serve(config: Option<&Path>) -> ExitCode {
    let (settings, rt) = match prepare(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    rt.block_on(async move {
        if settings.dry_run() {
            tracing::warn!("DRY-RUN MODE: no GitHub App credentials (github.app_id / github.private_key_file). baton reads what it can and logs every write instead of making it.");
        }
        if settings.webhooks.github_secrets.is_empty() {
            tracing::warn!("no webhooks.github_secrets configured: every GitHub delivery will be refused with 401");
        }
        let engine = match build_engine(&settings) {
            Ok(e) => Arc::new(e),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::from(2);
            }
        };
        let listener = match tokio::net::TcpListener::bind(settings.server.listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(listen = %settings.server.listen, "cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        let running = match spawn(settings.clone(), engine, listener) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot start the server: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(addr = %running.addr, configured_repositories = settings.github.repositories.len(), "baton listening");
        shutdown_signal().await;
        running.stop().await;
        ExitCode::SUCCESS
    })
}

/// `baton reconcile`: exit 0 when every repository converged, 1 when one failed.
pub fn reconcile(config: Option<&Path>) -> ExitCode {
    let (settings, rt) = match prepare(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    rt.block_on(async move {
        if settings.dry_run() {
            tracing::warn!("DRY-RUN MODE: no GitHub App credentials; writes are logged, not made.");
        }
        let engine = match build_engine(&settings) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::from(2);
            }
        };
        // A fresh process: the index is built (installations, then 100 `.baton.yaml` per
        // GraphQL query) and only repositories with a pipeline are reconciled.
        match crate::server::reconcile_all(&engine, &crate::index::Index::new()).await {
            Some(0) => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
