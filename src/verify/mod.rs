//! Signature verification (DESIGN §10.4). The engine asks a [`Verifier`] whether a resolved
//! digest carries a valid signature by one of the artifact's `verify` entries; anything short of
//! a clear yes is a no (fail closed).

use async_trait::async_trait;

use crate::pipeline::Artifact;
use crate::types::{Digest, RepoName};

/// Where the verification happens: keys are read from `repo` at `commit` (the default branch).
pub struct VerifyContext<'a> {
    pub repo: &'a RepoName,
    pub commit: &'a str,
    pub artifact: &'a Artifact,
    pub digest: &'a Digest,
}

/// Which entry verified the signature, in words for PR bodies and checks
/// (`key .baton/keys/deploy.pub`, `https://token.actions.githubusercontent.com https://github.com/org/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature exists (yet): worth retrying for a while after a push.
    #[error("no signature found for {0}")]
    NotSigned(String),
    /// Signatures exist but none verifies under the configured keys or identities.
    #[error("{0}")]
    Rejected(String),
    /// The verification could not be carried out (registry unreachable, bad key file, …).
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Verifier: Send + Sync {
    async fn verify(&self, ctx: &VerifyContext<'_>) -> Result<Verified, VerifyError>;
}

/// The verifier of a build without signature support: refuses everything, saying why.
pub struct Unavailable;

#[async_trait]
impl Verifier for Unavailable {
    async fn verify(&self, ctx: &VerifyContext<'_>) -> Result<Verified, VerifyError> {
        Err(VerifyError::Unavailable(format!(
            "cannot verify {}@{}: cosign signature verification is not configured in this baton",
            ctx.artifact.image, ctx.digest
        )))
    }
}

/// The verifier `baton serve` uses.
pub fn default_verifier(
    _registry: &crate::registry::RegistrySettings,
    _github: std::sync::Arc<dyn crate::github::GitHub>,
) -> std::sync::Arc<dyn Verifier> {
    std::sync::Arc::new(Unavailable)
}
