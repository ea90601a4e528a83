//! The axum HTTP server: webhooks, health, readiness.
use std::path::Path;
use std::process::ExitCode;

pub fn serve_cli(_config: Option<&Path>) -> ExitCode {
    eprintln!("baton: not implemented yet");
    ExitCode::from(2)
}
