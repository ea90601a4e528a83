//! `baton pointer get|set` (DESIGN §9).
use std::process::ExitCode;

use crate::cli::PointerCommand;

pub fn run(_cmd: PointerCommand) -> ExitCode {
    eprintln!("baton: not implemented yet");
    ExitCode::from(2)
}
