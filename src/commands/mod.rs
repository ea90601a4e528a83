//! PR-comment commands: `/promote`, `/rollback`, `/freeze`, `/unfreeze`,
//! `/status`, `/help`.
//!
//! Pure: no GitHub types. [`parse`] turns a comment body into a [`Parsed`]; the engine does
//! the authorization checks and the work, and replies with [`CommandError`]'s message and
//! usage, or with [`help`].

mod parser;
mod scan;

pub use parser::{help, parse, usage, Command, CommandError, Parsed, VersionArg, MAX_REASON_CHARS};
pub use scan::{MAX_BYTES, MAX_LINES};
