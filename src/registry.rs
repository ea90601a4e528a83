//! The registry side of baton's shell: resolving a tag to the digest of its manifest (computed
//! by baton over the manifest bytes, never taken from a payload) and reading the artifact's OCI
//! annotations for PR bodies. Only registries named in the settings are ever contacted.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::types::{Digest, ImageName, Tag};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry host is not in the settings' allow-list.
    #[error("registry {0} is not configured in baton's settings (registry.hosts); baton contacts only configured registries")]
    NotAllowed(String),
    #[error("{image}:{tag} was not found in the registry")]
    TagNotFound { image: String, tag: String },
    #[error("registry {host} refused baton's credentials")]
    Unauthorized { host: String },
    #[error("registry {host} answered with something baton cannot use: {reason}")]
    Invalid { host: String, reason: String },
    #[error("registry {host} could not be reached: {reason}")]
    Unreachable { host: String, reason: String },
}

/// What the registry says about one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub digest: Digest,
    pub media_type: Option<String>,
    /// The manifest's annotations (`org.opencontainers.image.revision`, `.source`, `.created`).
    pub annotations: BTreeMap<String, String>,
}

#[async_trait]
pub trait Registry: Send + Sync {
    async fn resolve(&self, image: &ImageName, tag: &Tag) -> Result<Resolved, RegistryError>;
    async fn list_tags(&self, image: &ImageName) -> Result<Vec<Tag>, RegistryError>;
}

/// Registry settings (`[registry]` in config/default.toml).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySettings {
    /// Registry hosts (`host` or `host:port`) baton may contact. Nothing else is ever contacted.
    pub hosts: Vec<String>,
    /// Hosts (a subset of `hosts`) spoken to over plain HTTP instead of HTTPS.
    pub insecure_hosts: Vec<String>,
    /// A Docker `config.json` (the format of a `kubernetes.io/dockerconfigjson` Secret) holding
    /// credentials per registry host. Absent: anonymous access.
    pub auth_file: Option<std::path::PathBuf>,
    /// Timeout of one registry request, in seconds.
    pub timeout_secs: u64,
}
