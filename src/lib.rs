//! baton: promotes signed OCI artifacts through environments with digest-pinned pull requests.
//!
//! Layers (docs/architecture.md has the whole picture): `cli` → `server` → intake (`webhook`,
//! `queue`) → `engine` → `planner` / `render` → clients (`github`, `registry`, `verify`) → data
//! (`forge`, `types`, `pipeline`, `pointer`, `commands`, `event`, `settings`).
//!
//! - `cli`: every subcommand's entry point; `server`: the axum HTTP server
//! - `webhook`: intake — signature checks, GitHub and registry payloads → `event::Event`
//! - `queue`: bounded queue, per-repository serialization, duplicate delivery suppression
//! - `index`: which repositories have a pipeline and which OCI repositories feed them
//! - `intake`: cheap filters deciding from the payload and the index alone
//! - `engine`: the shell that gathers facts, asks the planner and performs its decisions
//! - `planner`: pure decisions (facts → decision), each with table-driven tests
//! - `render`: every text baton writes (PR titles and bodies, commit messages, summaries)
//! - `github`: the GitHub trait, its octocrab App client and the dry-run wrapper
//! - `registry`: tag → digest resolution and annotations through oci-client
//! - `verify`: cosign signature verification
//! - `forge`: the data GitHub reports (PRs, files, check runs, statuses), client-free
//! - `types`: newtypes that must not be mixed (Digest, Tag, StageName, RepoName, …)
//! - `settings`: process settings (config crate: defaults, file, `BATON_*` environment)
//! - `pipeline`: the `.baton.yaml` pipeline file, strictly parsed
//! - `pointer`: format-preserving pointer edits in YAML files
//! - `commands`: the comment-command parser
//! - `units`: release units (groups of artifacts moving as one) and tracked channel tags, pure
//! - `windows`: promotion windows of a stage (time zone, allow / deny spans), pure
//! - `manifest_diff`: what a promotion changes (manifest diff, commits between source revisions)

pub mod cli;
pub mod codeowners;
pub mod commands;
pub mod engine;
pub mod event;
pub mod forge;
pub mod github;
pub mod index;
pub mod intake;
pub mod manifest_diff;
pub mod metrics;
pub mod pacing;
pub mod pipeline;
pub mod planner;
pub mod pointer;
pub mod queue;
pub mod receipts;
pub mod registry;
pub mod registry_content;
pub mod render;
pub mod server;
pub mod settings;
pub mod types;
pub mod units;
pub mod verify;
pub mod webhook;
pub mod windows;
