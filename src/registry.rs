//! The registry side of baton's shell: resolving a tag to the digest of its manifest (computed
//! by baton over the manifest bytes, never taken from a payload) and reading the artifact's OCI
//! annotations for PR bodies. Only registries named in the settings are ever contacted.
//!
//! [`OciRegistry`] is the real client (oci-client underneath). Besides the [`Registry`] trait it
//! offers the raw reads that signature verification needs: [`OciRegistry::fetch_manifest`],
//! [`OciRegistry::fetch_blob`] and [`OciRegistry::referrers`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use futures::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    OciDescriptor, IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

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

/// The manifest media types baton asks for and accepts.
pub const ACCEPTED_MANIFEST_TYPES: [&str; 4] =
    [OCI_IMAGE_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, IMAGE_MANIFEST_LIST_MEDIA_TYPE];

/// Largest manifest baton reads (the OCI distribution spec's recommended limit).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest blob [`OciRegistry::fetch_blob`] reads (signature payloads, bundles, configs).
pub const MAX_BLOB_BYTES: usize = 4 * 1024 * 1024;

/// Timeout of one request when the settings leave `timeout_secs` at 0.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per registry operation (5xx answers and connection failures are retried).
const ATTEMPTS: u32 = 3;
/// Backoff before the second attempt; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Page size for tag listing, and the number of pages read at most.
const TAG_PAGE: usize = 1000;
const MAX_TAG_PAGES: usize = 100;

// ---------------------------------------------------------------------------------------------
// Credentials

/// Credentials for one registry host. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// A registry token (`registrytoken` in a Docker config), sent as a bearer token.
    Bearer(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).field("password", &"<redacted>").finish()
            }
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Credential {
    fn to_auth(&self) -> RegistryAuth {
        match self {
            Credential::Basic { username, password } => RegistryAuth::Basic(username.clone(), password.clone()),
            Credential::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        }
    }
}

/// The host a Docker `config.json` `auths` key names: `https://host/v1/` → `host`, lowercased.
fn auth_key_host(key: &str) -> String {
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = rest.split('/').next().unwrap_or("");
    host.to_ascii_lowercase()
}

/// Parses a Docker `config.json` into credentials per host. Entries carrying neither `auth`,
/// `username`/`password` nor `registrytoken` are skipped (an `identitytoken` alone is an OAuth
/// refresh token baton cannot use). Errors never contain secret material.
pub fn parse_docker_config(json: &[u8]) -> Result<BTreeMap<String, Credential>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        auths: BTreeMap<String, Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
        registrytoken: Option<String>,
    }
    let file: File = serde_json::from_slice(json).map_err(|e| {
        // serde_json's message names a position and the kind of error, never the content.
        format!("the registry auth file is not a Docker config.json: {e}")
    })?;
    let mut out = BTreeMap::new();
    for (key, entry) in file.auths {
        let host = auth_key_host(&key);
        if host.is_empty() {
            return Err(format!("the registry auth file has an entry without a host: {key:?}"));
        }
        let credential = if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| format!("the registry auth file's \"auth\" for {host} is not base64"))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| format!("the registry auth file's \"auth\" for {host} is not UTF-8"))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| format!("the registry auth file's \"auth\" for {host} is not base64(user:password)"))?;
            Credential::Basic { username: username.to_string(), password: password.to_string() }
        } else if let (Some(username), Some(password)) = (entry.username, entry.password) {
            Credential::Basic { username, password }
        } else if let Some(token) = entry.registrytoken.filter(|t| !t.is_empty()) {
            Credential::Bearer(token)
        } else {
            tracing::warn!(host = %host, "registry auth file entry has no usable credentials; using anonymous access");
            continue;
        };
        out.insert(host, credential);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Host allow-list

/// The hosts baton may contact, and which of them speak plain HTTP.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    /// Canonical spelling (as in the settings) of each allowed host.
    hosts: Vec<String>,
    insecure: Vec<String>,
}

impl HostPolicy {
    pub fn new(settings: &RegistrySettings) -> Result<HostPolicy, String> {
        let mut hosts = Vec::new();
        for h in &settings.hosts {
            let h = h.trim();
            let ok = !h.is_empty()
                && h.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']'));
            if !ok {
                return Err(format!(
                    "registry.hosts: {h:?} is not a registry host (host or host:port, no scheme or path)"
                ));
            }
            hosts.push(h.to_string());
        }
        let mut insecure = Vec::new();
        for h in &settings.insecure_hosts {
            let canonical = hosts
                .iter()
                .find(|a| a.eq_ignore_ascii_case(h.trim()))
                .ok_or_else(|| format!("registry.insecure_hosts: {h:?} is not listed in registry.hosts"))?;
            insecure.push(canonical.clone());
        }
        Ok(HostPolicy { hosts, insecure })
    }

    /// The canonical spelling of `host` if it may be contacted, before any network I/O.
    pub fn check(&self, host: &str) -> Result<&str, RegistryError> {
        self.hosts
            .iter()
            .find(|a| a.eq_ignore_ascii_case(host))
            .map(String::as_str)
            .ok_or_else(|| RegistryError::NotAllowed(host.to_string()))
    }

    pub fn is_insecure(&self, host: &str) -> bool {
        self.insecure.iter().any(|a| a.eq_ignore_ascii_case(host))
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests

/// One manifest as read from the registry, checked against baton's own digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    /// sha256 of `bytes`, computed by baton.
    pub digest: Digest,
    /// The manifest's `mediaType`; inferred (OCI index if it has `manifests`, else OCI image
    /// manifest) when the manifest does not say.
    pub media_type: String,
    /// Top-level `annotations` (of the manifest, or of the index itself).
    pub annotations: BTreeMap<String, String>,
}

/// Parses manifest bytes: a JSON object with `schemaVersion: 2`, an accepted `mediaType` (if
/// any) and string-valued `annotations` (if any).
pub fn parse_manifest(bytes: &[u8]) -> Result<(String, BTreeMap<String, String>), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    let obj = value.as_object().ok_or("the manifest is not a JSON object")?;
    if obj.get("schemaVersion").and_then(|v| v.as_i64()) != Some(2) {
        return Err("the manifest does not have schemaVersion 2".into());
    }
    let media_type = match obj.get("mediaType") {
        None | Some(serde_json::Value::Null) => {
            if obj.get("manifests").is_some_and(|m| m.is_array()) {
                OCI_IMAGE_INDEX_MEDIA_TYPE.to_string()
            } else {
                OCI_IMAGE_MEDIA_TYPE.to_string()
            }
        }
        Some(serde_json::Value::String(m)) if ACCEPTED_MANIFEST_TYPES.contains(&m.as_str()) => m.clone(),
        Some(other) => {
            let shown: String = other.to_string().chars().take(100).collect();
            return Err(format!("unsupported manifest media type {shown}"));
        }
    };
    let mut annotations = BTreeMap::new();
    match obj.get("annotations") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (k, v) in map {
                let v = v.as_str().ok_or_else(|| format!("the manifest annotation {k:?} is not a string"))?;
                annotations.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => return Err("the manifest's annotations are not an object".into()),
    }
    Ok((media_type, annotations))
}

/// One entry of a referrers index (OCI 1.1): an artifact whose `subject` is the given digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: i64,
    pub annotations: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// The client

/// The real registry client: oci-client under an allow-list, per-host credentials, timeouts and
/// bounded retries.
pub struct OciRegistry {
    client: Client,
    policy: HostPolicy,
    credentials: BTreeMap<String, Credential>,
    timeout: Duration,
}

impl fmt::Debug for OciRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciRegistry")
            .field("policy", &self.policy)
            .field("credential_hosts", &self.credentials.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What to call a 404 in an error.
enum Target<'a> {
    /// A tag or manifest reference: [`RegistryError::TagNotFound`].
    Manifest(&'a str),
    /// A blob: [`RegistryError::Invalid`] (a blob that a manifest names is missing).
    Blob(&'a str),
    /// The repository itself (tag listing).
    Repository,
}

/// An error and whether another attempt may help.
struct Failure {
    error: RegistryError,
    retry: bool,
}

impl From<RegistryError> for Failure {
    fn from(error: RegistryError) -> Failure {
        Failure { error, retry: false }
    }
}

impl OciRegistry {
    /// Builds the client. Reads the auth file once; a missing or malformed auth file, or an
    /// insecure host that is not also allowed, is an error.
    pub fn new(settings: &RegistrySettings) -> Result<OciRegistry, String> {
        let policy = HostPolicy::new(settings)?;
        let credentials = match &settings.auth_file {
            None => BTreeMap::new(),
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read the registry auth file {}: {e}", path.display()))?;
                parse_docker_config(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        let timeout = match settings.timeout_secs {
            0 => DEFAULT_TIMEOUT,
            s => Duration::from_secs(s),
        };
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(policy.insecure.clone()),
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout),
            // Baton never picks a platform out of an index: the index digest is the version.
            platform_resolver: None,
            user_agent: concat!("baton/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| format!("cannot build the registry HTTP client: {e}"))?;
        Ok(OciRegistry { client, policy, credentials, timeout })
    }

    /// The hosts this client may contact.
    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    fn auth_for(&self, host: &str) -> RegistryAuth {
        let host = host.to_ascii_lowercase();
        let found = self.credentials.get(&host).or_else(|| {
            // Docker Hub's credentials are stored under its index host.
            (host == "docker.io" || host == "registry-1.docker.io")
                .then(|| self.credentials.get("index.docker.io"))
                .flatten()
        });
        found.map_or(RegistryAuth::Anonymous, Credential::to_auth)
    }

    /// Checks the host against the allow-list and returns (canonical host, auth).
    fn admit(&self, image: &ImageName) -> Result<(String, RegistryAuth), RegistryError> {
        let host = self.policy.check(&image.host)?.to_string();
        let auth = self.auth_for(&host);
        Ok((host, auth))
    }

    /// Runs `op` with a per-attempt timeout, retrying connection failures and 5xx answers.
    async fn attempt<T, F, Fut>(&self, host: &str, what: &str, op: F) -> Result<T, RegistryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = match tokio::time::timeout(self.timeout, op()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure {
                    error: RegistryError::Unreachable {
                        host: host.to_string(),
                        reason: format!("no answer within {}s", self.timeout.as_secs()),
                    },
                    retry: true,
                }),
            };
            crate::metrics::registry_request(match &outcome {
                Ok(_) => "ok",
                Err(Failure { error: RegistryError::TagNotFound { .. }, .. }) => "not_found",
                Err(Failure { error: RegistryError::Unauthorized { .. }, .. }) => "unauthorized",
                Err(Failure { error: RegistryError::Unreachable { .. }, .. }) => "unreachable",
                Err(_) => "invalid",
            });
            match outcome {
                Ok(v) => return Ok(v),
                Err(f) if f.retry && attempt < ATTEMPTS => {
                    tracing::debug!(host, what, attempt, error = %f.error, "registry request failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(f) => {
                    tracing::debug!(host, what, attempt, error = %f.error, "registry request failed");
                    return Err(f.error);
                }
            }
        }
    }

    /// Reads one manifest (`reference` is a tag or a `sha256:` digest) and checks it: the digest
    /// is computed by baton over the bytes; if `reference` is a digest it must match, and so
    /// must the registry's `Docker-Content-Digest` header (checked by oci-client, and the digest
    /// it reports is compared again here).
    pub async fn fetch_manifest(&self, image: &ImageName, reference: &str) -> Result<Manifest, RegistryError> {
        let (host, auth) = self.admit(image)?;
        let by_digest = reference.starts_with("sha256:");
        let oci_ref = if by_digest {
            let digest: Digest =
                reference.parse().map_err(|e| RegistryError::Invalid { host: host.clone(), reason: format!("{e}") })?;
            Reference::with_digest(host.clone(), image.path.clone(), digest.to_string())
        } else {
            let tag: Tag =
                reference.parse().map_err(|e| RegistryError::Invalid { host: host.clone(), reason: format!("{e}") })?;
            Reference::with_tag(host.clone(), image.path.clone(), tag.to_string())
        };
        let (body, reported) = self
            .attempt(&host, "manifest", || async {
                self.client
                    .pull_manifest_raw(&oci_ref, &auth, &ACCEPTED_MANIFEST_TYPES)
                    .await
                    .map_err(|e| self.failure(&host, image, Target::Manifest(reference), e))
            })
            .await?;
        let invalid = |reason: String| RegistryError::Invalid { host: host.clone(), reason };
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(invalid(format!(
                "the manifest of {image}:{reference} is larger than {MAX_MANIFEST_BYTES} bytes"
            )));
        }
        let digest = Digest::of(&body);
        if reported.starts_with("sha256:") && reported != digest.as_str() {
            return Err(invalid(format!(
                "the registry reports digest {reported} for {image}:{reference}, but the manifest bytes hash to {digest}"
            )));
        }
        if by_digest && digest.as_str() != reference {
            return Err(invalid(format!("asked for {image}@{reference}, got a manifest hashing to {digest}")));
        }
        let (media_type, annotations) =
            parse_manifest(&body).map_err(|e| invalid(format!("{image}:{reference}: {e}")))?;
        Ok(Manifest { bytes: body.to_vec(), digest, media_type, annotations })
    }

    /// Reads one blob of at most [`MAX_BLOB_BYTES`], checking its sha256 against `digest`.
    pub async fn fetch_blob(&self, image: &ImageName, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        let (host, auth) = self.admit(image)?;
        let oci_ref = Reference::with_digest(host.clone(), image.path.clone(), digest.to_string());
        // pull_blob_stream takes no credentials: they must be in the client's store.
        self.client.store_auth_if_needed(oci_ref.resolve_registry(), &auth).await;
        let descriptor = OciDescriptor { digest: digest.to_string(), ..OciDescriptor::default() };
        let too_big = || RegistryError::Invalid {
            host: host.clone(),
            reason: format!("blob {digest} of {image} is larger than {MAX_BLOB_BYTES} bytes"),
        };
        let bytes = self
            .attempt(&host, "blob", || async {
                let target = Target::Blob(digest.as_str());
                let mut stream = self
                    .client
                    .pull_blob_stream(&oci_ref, &descriptor)
                    .await
                    .map_err(|e| self.failure(&host, image, target, e))?;
                if stream.content_length.is_some_and(|l| l > MAX_BLOB_BYTES as u64) {
                    return Err(Failure::from(too_big()));
                }
                let mut out = Vec::new();
                while let Some(chunk) = stream.stream.next().await {
                    let chunk = chunk.map_err(|e| Failure {
                        error: RegistryError::Unreachable {
                            host: host.clone(),
                            reason: format!("reading blob {digest}: {e}"),
                        },
                        retry: true,
                    })?;
                    if out.len() + chunk.len() > MAX_BLOB_BYTES {
                        return Err(Failure::from(too_big()));
                    }
                    out.extend_from_slice(&chunk);
                }
                Ok(out)
            })
            .await?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(RegistryError::Invalid {
                host,
                reason: format!("blob {digest} of {image} hashes to {actual}"),
            });
        }
        Ok(bytes)
    }

    /// Lists the artifacts whose `subject` is `digest` (OCI 1.1 referrers API, falling back to
    /// the referrers tag schema `sha256-<hex>` when the registry does not implement the API;
    /// a registry with neither yields an empty list). `artifact_type` is filtered here, on
    /// baton's side: registries may ignore the filter, and oci-client 0.17 does not URL-encode
    /// it (a `+` in a media type would arrive as a space).
    pub async fn referrers(
        &self,
        image: &ImageName,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, RegistryError> {
        let (host, auth) = self.admit(image)?;
        let oci_ref = Reference::with_digest(host.clone(), image.path.clone(), digest.to_string());
        self.client.store_auth_if_needed(oci_ref.resolve_registry(), &auth).await;
        let index = self
            .attempt(&host, "referrers", || async {
                self.client
                    .pull_referrers(&oci_ref, None)
                    .await
                    .map_err(|e| self.failure(&host, image, Target::Manifest(digest.as_str()), e))
            })
            .await?;
        let mut out = Vec::new();
        for entry in index.manifests {
            if artifact_type.is_some_and(|t| entry.artifact_type.as_deref() != Some(t)) {
                continue;
            }
            let Ok(d) = entry.digest.parse::<Digest>() else {
                tracing::debug!(host = %host, "skipping a referrer whose digest is not sha256");
                continue;
            };
            out.push(Referrer {
                digest: d,
                media_type: entry.media_type,
                artifact_type: entry.artifact_type,
                size: entry.size,
                annotations: entry.annotations.unwrap_or_default().into_iter().collect(),
            });
        }
        Ok(out)
    }

    /// Maps an oci-client error to baton's, deciding whether to retry.
    fn failure(&self, host: &str, image: &ImageName, target: Target<'_>, e: OciDistributionError) -> Failure {
        let not_found = || match target {
            Target::Manifest(reference) => {
                RegistryError::TagNotFound { image: image.to_string(), tag: reference.to_string() }
            }
            Target::Blob(digest) => RegistryError::Invalid {
                host: host.to_string(),
                reason: format!("blob {digest} is missing from {image}"),
            },
            Target::Repository => RegistryError::Invalid {
                host: host.to_string(),
                reason: format!("repository {} does not exist", image.path),
            },
        };
        let unauthorized = || RegistryError::Unauthorized { host: host.to_string() };
        let invalid = |reason: String| RegistryError::Invalid { host: host.to_string(), reason };
        let unreachable = |reason: String| Failure {
            error: RegistryError::Unreachable { host: host.to_string(), reason },
            retry: true,
        };
        let by_status = |code: u16, message: String| -> Failure {
            match code {
                404 => not_found().into(),
                401 | 403 => unauthorized().into(),
                429 => unreachable(format!("rate limited (HTTP 429){message}")),
                500..=599 => unreachable(format!("HTTP {code}{message}")),
                _ => invalid(format!("HTTP {code}{message}")).into(),
            }
        };
        match e {
            OciDistributionError::RegistryError { envelope, .. } => {
                let code = envelope.errors.first().map(|e| &e.code);
                let message = envelope.errors.first().map(|e| shorten(&e.message)).unwrap_or_default();
                match code {
                    Some(
                        OciErrorCode::ManifestUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown,
                    ) => not_found().into(),
                    Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => unauthorized().into(),
                    Some(OciErrorCode::Toomanyrequests) => unreachable(format!("rate limited: {message}")),
                    _ => invalid(format!("registry error: {message}")).into(),
                }
            }
            OciDistributionError::ServerError { code, message, .. } => {
                let message =
                    if message.trim().is_empty() { String::new() } else { format!(": {}", shorten(message.trim())) };
                by_status(code, message)
            }
            OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
                unauthorized().into()
            }
            OciDistributionError::RequestError(e) => {
                if let Some(status) = e.status() {
                    return by_status(status.as_u16(), String::new());
                }
                let mut reason = error_chain(&e);
                if !self.policy.is_insecure(host)
                    && (e.is_connect() || e.is_request())
                    && looks_like_tls_failure(&reason)
                {
                    reason.push_str(
                        " (the TLS handshake failed; if this registry speaks plain HTTP, list it in registry.insecure_hosts)",
                    );
                    return RegistryError::Unreachable { host: host.to_string(), reason }.into();
                }
                if e.is_timeout() {
                    reason = format!("no answer within {}s", self.timeout.as_secs());
                }
                unreachable(reason)
            }
            OciDistributionError::IoError(e) => unreachable(e.to_string()),
            OciDistributionError::DigestError(e) => invalid(format!("digest mismatch: {e}")).into(),
            other => invalid(shorten(&other.to_string())).into(),
        }
    }
}

/// A message and its causes, joined: reqwest hides the interesting part in `source()`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

fn looks_like_tls_failure(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    ["tls", "ssl", "certificate", "corrupt message", "invalidcontenttype", "handshake"]
        .iter()
        .any(|needle| r.contains(needle))
}

/// At most 200 characters of registry-provided text.
fn shorten(s: &str) -> String {
    crate::types::shorten_to(s, 200)
}

#[async_trait]
impl Registry for OciRegistry {
    async fn resolve(&self, image: &ImageName, tag: &Tag) -> Result<Resolved, RegistryError> {
        let manifest = self.fetch_manifest(image, tag.as_str()).await?;
        tracing::debug!(image = %image, tag = %tag, digest = %manifest.digest, "resolved tag");
        Ok(Resolved {
            digest: manifest.digest,
            media_type: Some(manifest.media_type),
            annotations: manifest.annotations,
        })
    }

    async fn list_tags(&self, image: &ImageName) -> Result<Vec<Tag>, RegistryError> {
        let (host, auth) = self.admit(image)?;
        let oci_ref = Reference::with_tag(host.clone(), image.path.clone(), "latest".to_string());
        let mut tags = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..MAX_TAG_PAGES {
            let page = self
                .attempt(&host, "tags", || async {
                    self.client
                        .list_tags(&oci_ref, &auth, Some(TAG_PAGE), last.as_deref())
                        .await
                        .map_err(|e| self.failure(&host, image, Target::Repository, e))
                })
                .await?;
            let n = page.tags.len();
            let next = page.tags.last().cloned();
            for t in page.tags {
                match t.parse::<Tag>() {
                    Ok(tag) => tags.push(tag),
                    Err(_) => {
                        tracing::debug!(image = %image, "skipping a tag that is not a valid OCI tag")
                    }
                }
            }
            if n < TAG_PAGE || next.is_none() || next == last {
                return Ok(tags);
            }
            last = next;
        }
        tracing::warn!(image = %image, pages = MAX_TAG_PAGES, "tag list truncated");
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str], insecure: &[&str]) -> RegistrySettings {
        RegistrySettings {
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            insecure_hosts: insecure.iter().map(|s| s.to_string()).collect(),
            ..RegistrySettings::default()
        }
    }

    #[test]
    fn docker_config_auth_field() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cr:et");
        let json = format!(
            r#"{{"auths": {{"Registry.Example.com": {{"auth": "{auth}"}},
                "https://index.docker.io/v1/": {{"username": "al", "password": "pw"}},
                "ghcr.io": {{"registrytoken": "tok"}},
                "quay.io": {{"identitytoken": "refresh"}}}},
               "credsStore": "desktop"}}"#
        );
        let creds = parse_docker_config(json.as_bytes()).unwrap();
        assert_eq!(
            creds["registry.example.com"],
            Credential::Basic { username: "bob".into(), password: "s3cr:et".into() }
        );
        assert_eq!(creds["index.docker.io"], Credential::Basic { username: "al".into(), password: "pw".into() });
        assert_eq!(creds["ghcr.io"], Credential::Bearer("tok".into()));
        assert!(!creds.contains_key("quay.io"));
        assert_eq!(creds.len(), 3);
    }

    #[test]
    fn docker_config_errors_hide_secrets() {
        let err = parse_docker_config(br#"{"auths": {"h": {"auth": "!!not-base64-secret!!"}}}"#).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        let no_colon = base64::engine::general_purpose::STANDARD.encode("justasecret");
        let err =
            parse_docker_config(format!(r#"{{"auths": {{"h": {{"auth": "{no_colon}"}}}}}}"#).as_bytes()).unwrap_err();
        assert!(!err.contains("justasecret"), "{err}");
        assert!(parse_docker_config(b"not json").is_err());
        assert!(parse_docker_config(b"{}").unwrap().is_empty());
    }

    #[test]
    fn credentials_are_redacted_in_debug() {
        let c = Credential::Basic { username: "bob".into(), password: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credential::Bearer("tok123".into())).contains("tok123"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths": {"r.example": {"username": "u", "password": "hunter2"}}}"#).unwrap();
        let reg =
            OciRegistry::new(&RegistrySettings { auth_file: Some(path), ..settings(&["r.example"], &[]) }).unwrap();
        assert!(!format!("{reg:?}").contains("hunter2"));
        assert_eq!(reg.auth_for("R.example"), RegistryAuth::Basic("u".into(), "hunter2".into()));
        assert_eq!(reg.auth_for("other.example"), RegistryAuth::Anonymous);
    }

    #[test]
    fn host_policy() {
        let p =
            HostPolicy::new(&settings(&["registry.internal:5000", "ghcr.io"], &["REGISTRY.internal:5000"])).unwrap();
        assert_eq!(p.check("registry.internal:5000").unwrap(), "registry.internal:5000");
        assert_eq!(p.check("Registry.Internal:5000").unwrap(), "registry.internal:5000");
        assert!(matches!(p.check("registry.internal"), Err(RegistryError::NotAllowed(_))));
        assert!(matches!(p.check("registry.internal:5001"), Err(RegistryError::NotAllowed(_))));
        assert!(matches!(p.check("evil.example"), Err(RegistryError::NotAllowed(_))));
        assert!(p.is_insecure("registry.internal:5000"));
        assert!(!p.is_insecure("ghcr.io"));
        assert_eq!(p.insecure, vec!["registry.internal:5000".to_string()]);

        assert!(HostPolicy::new(&settings(&["ghcr.io"], &["other:5000"])).is_err());
        assert!(HostPolicy::new(&settings(&["https://ghcr.io"], &[])).is_err());
        assert!(HostPolicy::new(&settings(&["ghcr.io/org"], &[])).is_err());
        assert!(OciRegistry::new(&settings(&["ghcr.io"], &["other:5000"])).is_err());
    }

    #[tokio::test]
    async fn not_allowed_before_any_io() {
        let reg = OciRegistry::new(&settings(&["ghcr.io"], &[])).unwrap();
        let image: ImageName = "evil.example/app".parse().unwrap();
        let tag: Tag = "1.0.0".parse().unwrap();
        assert!(matches!(reg.resolve(&image, &tag).await, Err(RegistryError::NotAllowed(h)) if h == "evil.example"));
        assert!(matches!(reg.list_tags(&image).await, Err(RegistryError::NotAllowed(_))));
        let d = Digest::of(b"x");
        assert!(matches!(reg.fetch_blob(&image, &d).await, Err(RegistryError::NotAllowed(_))));
        assert!(matches!(reg.referrers(&image, &d, None).await, Err(RegistryError::NotAllowed(_))));
        assert!(matches!(reg.fetch_manifest(&image, d.as_str()).await, Err(RegistryError::NotAllowed(_))));
    }

    #[test]
    fn manifests() {
        let (mt, ann) = parse_manifest(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "config":{},"layers":[],"annotations":{"org.opencontainers.image.revision":"abc"}}"#,
        )
        .unwrap();
        assert_eq!(mt, OCI_IMAGE_MEDIA_TYPE);
        assert_eq!(ann["org.opencontainers.image.revision"], "abc");
        let (mt, ann) = parse_manifest(br#"{"schemaVersion":2,"manifests":[],"annotations":{"a":"b"}}"#).unwrap();
        assert_eq!(mt, OCI_IMAGE_INDEX_MEDIA_TYPE);
        assert_eq!(ann["a"], "b");
        let (mt, _) = parse_manifest(br#"{"schemaVersion":2,"config":{},"layers":[]}"#).unwrap();
        assert_eq!(mt, OCI_IMAGE_MEDIA_TYPE);
        for bad in [
            &b"garbage"[..],
            b"[]",
            br#"{"schemaVersion":1}"#,
            br#"{"schemaVersion":2,"mediaType":"text/html"}"#,
            br#"{"schemaVersion":2,"annotations":{"a":1}}"#,
            br#"{"schemaVersion":2,"annotations":[]}"#,
        ] {
            assert!(parse_manifest(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn tls_hint() {
        assert!(looks_like_tls_failure("error sending request: received corrupt message of type InvalidContentType"));
        assert!(!looks_like_tls_failure("Connection refused (os error 111)"));
    }
}
