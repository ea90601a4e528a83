//! Signature verification. The engine asks a [`Verifier`] whether a resolved
//! digest carries a valid signature by one of the artifact's `verify` entries; anything short of
//! a clear yes is a no (fail closed).
//!
//! [`CosignVerifier`] is the real one; `baton verify` ([`cli`]) runs the same check
//! ([`verify_digest`]) with local key files.
//!
//! # Where signatures are looked for
//!
//! 1. The cosign tag `sha256-<hex>.sig`: a manifest whose layers of media type
//!    `application/vnd.dev.cosign.simplesigning.v1+json` are simplesigning payloads, each with
//!    its base64 signature (`dev.cosignproject.cosign/signature`) and, for keyless signatures,
//!    the certificate (`dev.sigstore.cosign/certificate`), the chain
//!    (`dev.sigstore.cosign/chain`) and the Rekor bundle (`dev.sigstore.cosign/bundle`).
//! 2. OCI referrers of artifact type `application/vnd.dev.sigstore.bundle.v0.3+json` (cosign 3's
//!    default): a Sigstore bundle whose DSSE envelope holds an in-toto statement of predicate
//!    type `https://sigstore.dev/cosign/sign/v1` naming the digest. The referrers API is used,
//!    with the `sha256-<hex>` referrers tag as fallback.
//!
//! # What is checked (every check fails closed)
//!
//! - The signed document names exactly the resolved digest (`critical.image.docker-manifest-digest`,
//!   or the statement's subject), so a signature copied from another digest is rejected. The
//!   payload blob's sha256 and size must match its descriptor.
//! - Key entries: the signature verifies under the configured public key (PEM `PUBLIC KEY`:
//!   ECDSA P-256 with SHA-256 — what `cosign generate-key-pair` makes —, ECDSA P-384/SHA-384,
//!   P-521/SHA-512, Ed25519, RSA PKCS#1 v1.5/SHA-256; verification by sigstore-rs's
//!   `CosignVerificationKey`, i.e. aws-lc-rs). No transparency log entry is required.
//! - Keyless entries, all offline against the `trusted_root.json` of the settings: the
//!   certificate's Fulcio issuer extension(s) (1.3.6.1.4.1.57264.1.1 and .8; every one present
//!   must equal the configured issuer), a URI or email SAN matching the anchored subject pattern,
//!   a Rekor signed entry timestamp verified with a Rekor key of the trusted root, the Rekor
//!   entry recording this payload hash, this signature and this certificate, the certificate
//!   chaining to a trusted Fulcio CA (code-signing EKU, every certificate valid at the entry's
//!   integration time), and the signature verifying under the CERTIFICATE's key (sigstore-rs
//!   does not tie the two together for `.sig` layers; baton does).
//!
//! # Not supported (rejected with a message saying so)
//!
//! - Certificate transparency (SCT) checks of Fulcio certificates are not made; the Rekor SET
//!   and the CA chain are.
//! - Bundles whose log entries have inclusion proofs but no signed entry timestamp (Rekor v2,
//!   which also needs an RFC 3161 timestamp authority) are not accepted for keyless entries;
//!   verifying checkpoints and TSA timestamps offline is not implemented.
//! - Bundles holding a bare `messageSignature` are rejected: they sign a digest of some bytes,
//!   not a statement naming the image.

pub mod check;
pub mod trust;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

pub use check::{verify_digest, Policy};
pub use trust::TrustedRoot;

use crate::github::{GitHub, GitHubError, RepoFiles};
use crate::pipeline::{Artifact, VerifyEntry};
use crate::registry::OciRegistry;
use crate::types::{Digest, RepoName};

/// Where the verification happens: keys are read from `repo` at `commit` (the default branch).
pub struct VerifyContext<'a> {
    pub repo: &'a RepoName,
    pub commit: &'a str,
    pub artifact: &'a Artifact,
    pub digest: &'a Digest,
}

/// Which entry verified the signature, in words for PR bodies and checks
/// (`key .baton/keys/deploy.pub`, `keyless https://token.actions.githubusercontent.com
/// https://github.com/org/…` with the certificate's actual subject).
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

/// `[verify]` settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySettings {
    /// A Sigstore `trusted_root.json` (Fulcio CAs and Rekor keys) for keyless entries. Without
    /// one, keyless entries fail. baton never fetches trust material from the network.
    pub trusted_root: Option<PathBuf>,
    /// How long the engine waits (with backoff) for a signature pushed after the artifact.
    pub signature_wait_secs: u64,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings { trusted_root: None, signature_wait_secs: 120 }
    }
}

/// Verifies cosign signatures of artifacts, reading key files from the deployment repository
/// at the verified commit.
pub struct CosignVerifier {
    registry: Arc<OciRegistry>,
    github: Arc<dyn RepoFiles>,
    /// `Ok(None)`: no trusted root configured; `Err`: configured but unusable (said per check).
    trust: Result<Option<Arc<TrustedRoot>>, String>,
}

impl CosignVerifier {
    pub fn new(
        registry: Arc<OciRegistry>,
        github: Arc<dyn RepoFiles>,
        trust: Result<Option<Arc<TrustedRoot>>, String>,
    ) -> CosignVerifier {
        CosignVerifier { registry, github, trust }
    }
}

#[async_trait]
impl Verifier for CosignVerifier {
    async fn verify(&self, ctx: &VerifyContext<'_>) -> Result<Verified, VerifyError> {
        let mut policies = Vec::new();
        // Entries that could not even be set up: (reason, whether retrying may help).
        let mut unusable: Vec<(String, bool)> = Vec::new();
        for entry in &ctx.artifact.verify {
            match entry {
                VerifyEntry::Key { path } => match self.github.file(ctx.repo, path.as_str(), ctx.commit).await {
                    Ok(file) => match Policy::key(path.as_str(), file.text.as_bytes()) {
                        Ok(p) => policies.push(p),
                        Err(e) => unusable.push((format!("key {}: {e}", path.as_str()), false)),
                    },
                    Err(GitHubError::NotFound(_)) => unusable.push((
                        format!(
                            "key {}: the file does not exist in {} at {}",
                            path.as_str(),
                            ctx.repo,
                            short(ctx.commit)
                        ),
                        false,
                    )),
                    Err(e) => unusable.push((format!("key {}: cannot read the file: {e}", path.as_str()), true)),
                },
                VerifyEntry::Keyless { issuer, subject } => match &self.trust {
                    Err(e) => unusable.push((format!("keyless {issuer}: {e}"), false)),
                    Ok(_) => match Policy::keyless(issuer, subject.as_str()) {
                        Ok(p) => policies.push(p),
                        Err(e) => unusable.push((format!("keyless {issuer}: {e}"), false)),
                    },
                },
            }
        }
        let trust = self.trust.as_ref().ok().and_then(|t| t.as_deref());
        let outcome = if policies.is_empty() {
            Err(VerifyError::Rejected(String::new()))
        } else {
            // One deadline for the whole verification (every signature source, retries included).
            let started = std::time::Instant::now();
            let deadline = self.registry.deadline();
            let verification = self
                .registry
                .within(deadline, verify_digest(&self.registry, &ctx.artifact.image, ctx.digest, &policies, trust));
            // Every registry operation inside stops at the deadline by itself and says so; this
            // is a backstop for anything else.
            match tokio::time::timeout(deadline + std::time::Duration::from_secs(1), verification).await {
                Ok(outcome) => outcome,
                Err(_) => Err(VerifyError::Unavailable(format!(
                    "{}@{}: reading its signatures from the registry took too long: gave up after {:.1}s (registry.deadline_secs is {}s)",
                    ctx.artifact.image,
                    ctx.digest,
                    started.elapsed().as_secs_f64(),
                    deadline.as_secs()
                ))),
            }
        };
        match outcome {
            Ok(v) => Ok(v),
            Err(VerifyError::Rejected(reason)) if !unusable.is_empty() => {
                let mut parts: Vec<String> = unusable.iter().map(|(r, _)| r.clone()).collect();
                if !reason.is_empty() {
                    parts.push(reason);
                } else if ctx.artifact.verify.is_empty() {
                    parts.push("no verify entries are configured".into());
                }
                let text = format!("{}@{}: {}", ctx.artifact.image, ctx.digest, parts.join("; "));
                if unusable.iter().any(|(_, retry)| *retry) {
                    Err(VerifyError::Unavailable(text))
                } else {
                    Err(VerifyError::Rejected(text))
                }
            }
            Err(VerifyError::Rejected(reason)) if reason.is_empty() => Err(VerifyError::Rejected(format!(
                "{}@{}: no verify entries are configured, so no signature can be accepted",
                ctx.artifact.image, ctx.digest
            ))),
            Err(e) => Err(e),
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// The verifier `baton serve` uses. A configured trusted root that cannot be loaded is logged
/// now and makes every keyless entry fail (naming the problem) until fixed.
pub fn default_verifier(
    settings: &VerifySettings,
    registry: Arc<OciRegistry>,
    github: Arc<dyn GitHub>,
) -> Arc<dyn Verifier> {
    let trust = match &settings.trusted_root {
        None => Ok(None),
        Some(path) => match TrustedRoot::from_file(path) {
            Ok(t) => Ok(Some(Arc::new(t))),
            Err(e) => {
                tracing::error!(error = %e, "verify.trusted_root cannot be used; keyless verification will fail");
                Err(e)
            }
        },
    };
    Arc::new(CosignVerifier::new(registry, Arc::new(crate::github::FilesOf(github)), trust))
}
