//! baton: promotes signed OCI artifacts through environments with digest-pinned pull requests.
//!
//! Layout (one module per concern):
//! - `types`: newtypes that must not be mixed (Digest, Tag, StageName, RepoName, …)
//! - `settings`: process settings (config crate: defaults, file, `BATON_*` environment)
//! - `pipeline`: the `.baton.yaml` pipeline file, strictly parsed
//! - `pointer`: format-preserving pointer edits in YAML files
//! - `webhook`: intake — signature checks, GitHub and registry payloads → `event::Event`
//! - `queue`: bounded queue, per-repository serialization, duplicate delivery suppression
//! - `github`: the GitHub trait, its octocrab App client and the dry-run wrapper
//! - `registry`: tag → digest resolution and annotations through oci-client
//! - `planner`: pure decisions (event + snapshot → actions)
//! - `engine`: the shell that gathers the snapshot, runs the planner and performs the actions
//! - `render`: every text baton writes (PR titles and bodies, commit messages)
//! - `server`: the axum HTTP server; `cli`: the `baton` command line

pub mod cli;
pub mod codeowners;
pub mod commands;
pub mod engine;
pub mod event;
pub mod forge;
pub mod github;
pub mod metrics;
pub mod pipeline;
pub mod planner;
pub mod pointer;
pub mod queue;
pub mod registry;
pub mod render;
pub mod server;
pub mod settings;
pub mod types;
pub mod verify;
pub mod webhook;
