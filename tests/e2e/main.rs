//! End-to-end tests: baton in-process, a real Docker Distribution registry, and the stateful
//! fake GitHub. One test binary (faster to link), one module per area.

#[path = "../support/mod.rs"]
mod support;

mod commands;
mod crash;
mod faults;
mod first_promotion;
mod github_client;
mod intake;
mod manifest_diff;
mod merge_queue;
mod policy;
mod registry_login;
mod scale;
mod signals;
mod signatures;
mod stages;
mod timers;
mod tracked;
mod units;
mod windows;
