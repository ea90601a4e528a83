//! Webhook intake: signature and token checks, and parsing of GitHub and registry payloads into
//! baton's own [`Event`](crate::event::Event)s. The HTTP handlers live in `server.rs`.

pub mod flux;
pub mod github;
pub mod registry;
pub mod signature;

use crate::event::Event;

/// The outcome of parsing a delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Received {
    Event(Box<Event>),
    /// Acknowledged and ignored, with the reason (logged at debug).
    Ignored(String),
}
