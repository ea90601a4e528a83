//! The shell of the manifest diff: reading both versions from the registry (behind
//! [`ContentSource`], so the logic is testable without one), bounded by [`Limits`] and a
//! deadline, cached by digest pair (versions are immutable).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::archive::{self, Files};
use super::compare::{self, Content, ContentDiff};
use super::layout::{self, Layout};
use super::Limits;
use crate::registry::RegistryError;
use crate::types::{Digest, ImageName};

/// The registry reads a diff needs.
#[async_trait]
pub trait ContentSource: Send + Sync {
    /// The manifest bytes of `digest` (checked against it).
    async fn manifest(&self, image: &ImageName, digest: &Digest) -> Result<Vec<u8>, RegistryError>;
    /// A blob of at most `max_bytes` (checked against its digest), read as a stream.
    async fn blob(&self, image: &ImageName, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, RegistryError>;
}

/// Why there is no diff: one line for the PR body (internal detail goes to the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unavailable {
    pub reason: String,
    /// Decided by the content itself (too large, unsafe paths…): the same next time.
    pub permanent: bool,
}

impl Unavailable {
    fn content(reason: String) -> Unavailable {
        Unavailable { reason, permanent: true }
    }
}

/// A one-line, user-facing reason for a registry failure (the full error is logged).
fn registry_reason(e: &RegistryError, image: &ImageName) -> Unavailable {
    tracing::warn!(image = %image, error = %e, "manifest diff: registry read failed");
    let reason = match e {
        RegistryError::NotAllowed(host) => format!("registry {host} is not in baton's registry.hosts"),
        RegistryError::TagNotFound { .. } => "the registry no longer has one of the versions".to_string(),
        RegistryError::CredentialsWanted { host, .. }
        | RegistryError::CredentialsRefused { host, .. }
        | RegistryError::CredentialsWithheld { host, .. }
        | RegistryError::Credentials { host, .. } => format!("registry {host} did not let baton read the versions"),
        RegistryError::Unreachable { host, .. } | RegistryError::TimedOut { host, .. } => {
            format!("registry {host} could not be reached")
        }
        RegistryError::Invalid { host, reason } if reason.contains("larger than") => {
            return Unavailable::content(format!("a layer in registry {host} is larger than baton reads"))
        }
        RegistryError::Invalid { host, .. } => format!("registry {host} answered with something baton cannot use"),
    };
    Unavailable { reason, permanent: false }
}

/// A diff, or why there is none.
pub type DiffOutcome = Result<Arc<ContentDiff>, Unavailable>;

/// Computes diffs between versions of artifacts, with a bounded cache.
pub struct Differ {
    source: Arc<dyn ContentSource>,
    limits: Limits,
    cache: Mutex<lru::LruCache<(Digest, Digest), DiffOutcome>>,
}

const CACHE_ENTRIES: usize = 64;
/// Largest image config baton reads for labels.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl Differ {
    pub fn new(source: Arc<dyn ContentSource>, limits: Limits) -> Differ {
        let cap = NonZeroUsize::new(CACHE_ENTRIES).expect("non-zero");
        Differ { source, limits, cache: Mutex::new(lru::LruCache::new(cap)) }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The diff from `old` to `new` (both versions of `image`). Never an error that blocks:
    /// the caller renders the [`Unavailable`] reason.
    pub async fn diff(&self, image: &ImageName, old: &Digest, new: &Digest) -> Result<Arc<ContentDiff>, Unavailable> {
        let key = (old.clone(), new.clone());
        if let Some(hit) = self.cache.lock().expect("diff cache").get(&key) {
            return hit.clone();
        }
        let started = std::time::Instant::now();
        let outcome = match tokio::time::timeout(self.limits.timeout, self.compute(image, old, new)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Unavailable {
                reason: format!("the registry did not deliver both versions within {}s", self.limits.timeout.as_secs()),
                permanent: false,
            }),
        };
        tracing::debug!(image = %image, old = %old, new = %new, ok = outcome.is_ok(), elapsed_ms = started.elapsed().as_millis() as u64, "manifest diff");
        if outcome.as_ref().map_or_else(|u| u.permanent, |_| true) {
            self.cache.lock().expect("diff cache").put(key, outcome.clone());
        }
        outcome
    }

    /// The OCI annotations of the manifest `digest` (for its source revision); `None` when the
    /// registry does not answer (logged).
    pub async fn annotations(
        &self,
        image: &ImageName,
        digest: &Digest,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        let read = tokio::time::timeout(self.limits.timeout, self.source.manifest(image, digest)).await;
        match read {
            Ok(Ok(bytes)) => crate::registry::parse_manifest(&bytes).ok().map(|(_, a)| a),
            Ok(Err(e)) => {
                tracing::warn!(image = %image, digest = %digest, error = %e, "cannot read the annotations of the running version");
                None
            }
            Err(_) => None,
        }
    }

    async fn compute(&self, image: &ImageName, old: &Digest, new: &Digest) -> Result<Arc<ContentDiff>, Unavailable> {
        let (a, b) = futures::try_join!(self.content(image, old), self.content(image, new))?;
        let diff = tokio::task::spawn_blocking(move || compare::compare(&a, &b))
            .await
            .map_err(|_| Unavailable { reason: "the comparison failed".into(), permanent: true })?;
        Ok(Arc::new(diff))
    }

    /// One version's content: its manifest, then its layers or its image config.
    async fn content(&self, image: &ImageName, digest: &Digest) -> Result<Content, Unavailable> {
        let manifest = self.source.manifest(image, digest).await.map_err(|e| registry_reason(&e, image))?;
        let layout = layout::of_manifest(&manifest)
            .map_err(|e| Unavailable::content(format!("version {} cannot be compared: {e}", digest.short())))?;
        match layout {
            Layout::Index { manifests } => Ok(Content::Image { labels: Default::default(), layers: manifests }),
            Layout::Image { config, layers } => {
                let bytes = self
                    .source
                    .blob(image, &config.digest, MAX_CONFIG_BYTES)
                    .await
                    .map_err(|e| registry_reason(&e, image))?;
                let labels = layout::image_labels(&bytes).map_err(Unavailable::content)?;
                Ok(Content::Image { labels, layers })
            }
            Layout::Archive { layers } => {
                let total: u64 = layers.iter().map(|l| l.size).sum();
                if total > self.limits.max_compressed {
                    return Err(Unavailable::content(format!(
                        "version {} is {} compressed, more than the {} baton reads",
                        digest.short(),
                        human(total),
                        human(self.limits.max_compressed)
                    )));
                }
                let mut blobs = Vec::new();
                for layer in &layers {
                    blobs.push(
                        self.source
                            .blob(image, &layer.digest, self.limits.max_compressed)
                            .await
                            .map_err(|e| registry_reason(&e, image))?,
                    );
                }
                let limits = self.limits.clone();
                let short = digest.short().to_string();
                let files = tokio::task::spawn_blocking(move || -> Result<Files, Unavailable> {
                    let mut files = Files::new();
                    for blob in blobs {
                        let layer = archive::read(&blob, &limits)
                            .map_err(|e| Unavailable::content(format!("version {short} was not read: {e}")))?;
                        files.extend(layer);
                    }
                    Ok(files)
                })
                .await
                .map_err(|_| Unavailable::content("reading the archive failed".into()))??;
                Ok(Content::Files(files))
            }
        }
    }
}

/// `1.5 MiB`, `300 KiB`, `12 bytes`.
pub fn human(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An in-memory registry: blobs and manifests by digest, counting reads.
    #[derive(Default)]
    pub(crate) struct Memory {
        pub blobs: HashMap<Digest, Vec<u8>>,
        pub reads: AtomicUsize,
    }

    impl Memory {
        pub(crate) fn put(&mut self, bytes: Vec<u8>) -> Digest {
            let d = Digest::of(&bytes);
            self.blobs.insert(d.clone(), bytes);
            d
        }

        /// A Flux-style artifact: config `{}` and one tar+gzip layer; returns the manifest digest.
        pub(crate) fn artifact(&mut self, layer: Vec<u8>) -> Digest {
            let size = layer.len();
            let layer = self.put(layer);
            let config = self.put(b"{}".to_vec());
            let m = serde_json::json!({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json", "digest": config.to_string(), "size": 2},
                "layers": [{"mediaType": layout::FLUX_CONTENT_TYPE, "digest": layer.to_string(), "size": size}],
            });
            self.put(serde_json::to_vec(&m).unwrap())
        }
    }

    #[async_trait]
    impl ContentSource for Memory {
        async fn manifest(&self, _: &ImageName, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
            self.blob(&"r.example/x".parse().unwrap(), digest, u64::MAX).await
        }
        async fn blob(&self, _: &ImageName, digest: &Digest, max: u64) -> Result<Vec<u8>, RegistryError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let b = self
                .blobs
                .get(digest)
                .cloned()
                .ok_or(RegistryError::TagNotFound { image: "x".into(), tag: digest.to_string() })?;
            if b.len() as u64 > max {
                return Err(RegistryError::Invalid { host: "r.example".into(), reason: "larger than the cap".into() });
            }
            Ok(b)
        }
    }

    fn image() -> ImageName {
        "r.example/deploy/myapp".parse().unwrap()
    }

    #[tokio::test]
    async fn diffs_and_caches_by_digest_pair() {
        let mut mem = Memory::default();
        let a = mem.artifact(archive::tests::tar_of(&[("a.yaml", "x: 1\n")], true));
        let b = mem.artifact(archive::tests::tar_of(&[("a.yaml", "x: 2\n")], true));
        let mem = Arc::new(mem);
        let differ = Differ::new(mem.clone(), Limits::default());
        let d = differ.diff(&image(), &a, &b).await.unwrap();
        assert!(matches!(&*d, ContentDiff::Files(f) if f.files.len() == 1));
        let reads = mem.reads.load(Ordering::SeqCst);
        assert_eq!(reads, 4, "two manifests and two layers (no config read for artifacts)");
        differ.diff(&image(), &a, &b).await.unwrap();
        assert_eq!(mem.reads.load(Ordering::SeqCst), reads, "second diff served from the cache");
    }

    #[tokio::test]
    async fn failures_are_one_line() {
        let mut mem = Memory::default();
        let good = mem.artifact(archive::tests::tar_of(&[("a.yaml", "x: 1\n")], true));
        let bad = mem.artifact(archive::tests::raw_tar(&[("../x", b'0', "boom", "")]));
        let big = mem.artifact(vec![0u8; 8192]);
        let missing = Digest::of(b"nothing");
        let differ = Differ::new(Arc::new(mem), Limits { max_compressed: 3000, ..Limits::default() });
        let reason = |r: Result<Arc<ContentDiff>, Unavailable>| r.unwrap_err().reason;
        assert_eq!(
            reason(differ.diff(&image(), &good, &bad).await),
            format!("version {} was not read: it has an entry outside the archive (../x)", bad.short())
        );
        assert_eq!(
            reason(differ.diff(&image(), &good, &big).await),
            format!("version {} is 8 KiB compressed, more than the 2 KiB baton reads", big.short())
        );
        assert_eq!(
            reason(differ.diff(&image(), &good, &missing).await),
            "the registry no longer has one of the versions"
        );
    }

    /// A source that never answers.
    struct Stuck;
    #[async_trait]
    impl ContentSource for Stuck {
        async fn manifest(&self, _: &ImageName, _: &Digest) -> Result<Vec<u8>, RegistryError> {
            futures::future::pending().await
        }
        async fn blob(&self, _: &ImageName, _: &Digest, _: u64) -> Result<Vec<u8>, RegistryError> {
            futures::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_deadline_bounds_the_whole_diff() {
        let differ =
            Differ::new(Arc::new(Stuck), Limits { timeout: std::time::Duration::from_millis(50), ..Limits::default() });
        let err = differ.diff(&image(), &Digest::of(b"a"), &Digest::of(b"b")).await.unwrap_err();
        assert_eq!(err.reason, "the registry did not deliver both versions within 0s");
        assert!(!err.permanent);
    }
}
