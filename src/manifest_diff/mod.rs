//! What a promotion changes (issue 14): the manifest diff between two versions of an artifact,
//! and the commits between their source revisions.
//!
//! - `archive`: reading tar / tar+gzip layers, bounded (sizes, entries, paths, no links)
//! - `layout`: which kind of content a manifest describes (pure)
//! - `yaml`, `compare`: YAML as Kubernetes documents, the comparison (pure)
//! - `render`: the Markdown for PR bodies and `/diff` replies (pure, snapshot-tested)
//! - `commits`: "what it brings": the source repository and revisions, the commit list
//! - `fetch`: the registry reads behind [`ContentSource`], the [`Differ`] with its cache
//!
//! A diff is a courtesy, never a gate: every failure becomes one line ([`Unavailable`]).

pub mod archive;
pub mod commits;
pub mod compare;
pub mod fetch;
pub mod layout;
pub mod render;
pub mod yaml;

use std::time::Duration;

pub use compare::{Change, Content, ContentDiff, FilesDiff};
pub use fetch::{ContentSource, Differ, Unavailable};

/// Bounds on what baton reads to compute a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Sum of the layer blobs of one version, as fetched (compressed).
    pub max_compressed: u64,
    /// Sum of the bytes a version's archives expand to.
    pub max_uncompressed: u64,
    /// Entries (files, directories, links) in one version's archives.
    pub max_entries: usize,
    /// Everything one diff reads (both versions' manifests and blobs).
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_compressed: 10 * 1024 * 1024,
            max_uncompressed: 50 * 1024 * 1024,
            max_entries: 5_000,
            timeout: Duration::from_secs(20),
        }
    }
}
