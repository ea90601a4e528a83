//! The registry side of baton's shell: resolving a tag to the digest of its manifest (computed
//! by baton over the manifest bytes, never taken from a payload) and reading the artifact's OCI
//! annotations for PR bodies. Only registries named in the settings are ever contacted.
//!
//! [`OciRegistry`] is the real client (oci-client underneath). Besides the [`Registry`] trait it
//! offers the raw reads that signature verification needs: [`OciRegistry::fetch_manifest`],
//! [`OciRegistry::fetch_blob`] and [`OciRegistry::referrers`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    OciDescriptor, IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use crate::types::{Digest, ImageName, Tag};

pub mod auth;
pub mod credentials;

pub use credentials::{Credential, CredentialChain, CredentialSource, FlagCredential, FlagKind};

/// Who is asking: the hints in messages name `baton verify`'s flags or `serve`'s settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Caller {
    #[default]
    Serve,
    Verify,
}

impl Caller {
    fn credentials_hint(self, host: &str) -> String {
        match self {
            Caller::Verify => format!(
                "give them with --registry-username and --registry-password-stdin (or BATON_REGISTRY_PASSWORD), \
                 or --registry-token, or registry.auth_file in --config, or `docker login {host}`"
            ),
            Caller::Serve => {
                format!("put them for {host} in the Docker config.json that registry.auth_file names")
            }
        }
    }

    fn plain_http_hint(self) -> &'static str {
        match self {
            Caller::Verify => "if this registry speaks plain HTTP, add --allow-http-registry",
            Caller::Serve => "if this registry speaks plain HTTP, list it in registry.insecure_hosts",
        }
    }
}

/// What bounded the time of a registry operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Every attempt ran into `registry.timeout_secs`.
    Request(Duration),
    /// `registry.deadline_secs` (serve) or `--timeout` (verify): the whole operation.
    Deadline { limit: Duration, caller: Caller },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Request(d) => write!(f, "registry.timeout_secs is {}s per request", d.as_secs()),
            Limit::Deadline { limit, caller: Caller::Verify } => write!(f, "--timeout {}s", limit.as_secs()),
            Limit::Deadline { limit, caller: Caller::Serve } => {
                write!(f, "registry.deadline_secs is {}s", limit.as_secs())
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry host is not in the settings' allow-list.
    #[error("registry {0} is not configured in baton's settings (registry.hosts); baton contacts only configured registries")]
    NotAllowed(String),
    #[error("{image}:{tag} was not found in the registry")]
    TagNotFound { image: String, tag: String },
    /// An anonymous request was refused.
    #[error("the registry {host} wants credentials to read {repository}: {}", caller.credentials_hint(host))]
    CredentialsWanted { host: String, repository: String, caller: Caller },
    /// Credentials were sent and refused (or do not grant reading the repository).
    #[error("the registry refused the credentials for {host} from {from}")]
    CredentialsRefused { host: String, from: CredentialSource },
    /// The registry's token service is on a host baton does not send credentials to.
    #[error("{}", withheld_text(host, realm, from, *plain_http, *caller))]
    CredentialsWithheld { host: String, realm: String, from: CredentialSource, plain_http: bool, caller: Caller },
    /// The credential chain could not be read (a helper failed, …).
    #[error("registry credentials for {host}: {reason}")]
    Credentials { host: String, reason: String },
    #[error("registry {host} answered with something baton cannot use: {reason}")]
    Invalid { host: String, reason: String },
    #[error("registry {host} could not be reached: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{}", timed_out_text(host, *spent, *attempts, limit))]
    TimedOut { host: String, spent: Duration, attempts: u32, limit: Limit },
}

impl RegistryError {
    /// Whether trying again later may help (the registry, its login or the network failed, as
    /// opposed to an answer that will stay the same).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RegistryError::Unreachable { .. }
                | RegistryError::TimedOut { .. }
                | RegistryError::CredentialsWanted { .. }
                | RegistryError::CredentialsRefused { .. }
                | RegistryError::CredentialsWithheld { .. }
                | RegistryError::Credentials { .. }
                | RegistryError::NotAllowed(_)
        )
    }

    fn metric_label(&self) -> &'static str {
        match self {
            RegistryError::TagNotFound { .. } => "not_found",
            RegistryError::CredentialsWanted { .. }
            | RegistryError::CredentialsRefused { .. }
            | RegistryError::CredentialsWithheld { .. }
            | RegistryError::Credentials { .. } => "unauthorized",
            RegistryError::Unreachable { .. } | RegistryError::TimedOut { .. } => "unreachable",
            RegistryError::NotAllowed(_) | RegistryError::Invalid { .. } => "invalid",
        }
    }
}

fn withheld_text(host: &str, realm: &str, from: &CredentialSource, plain_http: bool, caller: Caller) -> String {
    let in_config = if caller == Caller::Verify { " in --config" } else { "" };
    if plain_http {
        format!(
            "the registry {host} asks for a login at {realm} over plain HTTP; baton did not send the credentials \
             from {from} there (list {realm} in registry.insecure_hosts{in_config} if that is intended)"
        )
    } else {
        format!(
            "the registry {host} asks for a login at {realm}, which is neither in registry.hosts nor {host}'s \
             documented auth host; baton did not send the credentials from {from} there (add {realm} to \
             registry.hosts{in_config} if it is {host}'s token service)"
        )
    }
}

fn timed_out_text(host: &str, spent: Duration, attempts: u32, limit: &Limit) -> String {
    let spent = spent.as_secs_f64();
    match attempts {
        0 => format!("registry {host} was not asked: no time was left after {spent:.1}s ({limit})"),
        1 => format!("registry {host} did not answer in time: gave up after {spent:.1}s and 1 attempt ({limit})"),
        n => format!("registry {host} did not answer in time: gave up after {spent:.1}s and {n} attempts ({limit})"),
    }
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
    /// The annotations of the manifest `digest` (read by digest, never through a tag: a tracked
    /// channel tag has moved on by the time a later stage promotes the digest).
    async fn annotations_of(
        &self,
        image: &ImageName,
        digest: &Digest,
    ) -> Result<BTreeMap<String, String>, RegistryError>;
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
    /// credentials per registry host. Absent: Docker's own config.json, else anonymous access.
    pub auth_file: Option<std::path::PathBuf>,
    /// Timeout of one registry request, in seconds.
    pub timeout_secs: u64,
    /// Total time of one registry operation (a resolution, or a signature verification),
    /// retries included, in seconds.
    pub deadline_secs: u64,
}

impl RegistrySettings {
    /// `timeout_secs`, or 30 s when 0.
    pub fn request_timeout(&self) -> Duration {
        match self.timeout_secs {
            0 => DEFAULT_TIMEOUT,
            s => Duration::from_secs(s),
        }
    }

    /// `deadline_secs`, or 60 s when 0.
    pub fn deadline(&self) -> Duration {
        match self.deadline_secs {
            0 => DEFAULT_DEADLINE,
            s => Duration::from_secs(s),
        }
    }
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
/// Deadline of one operation when the settings leave `deadline_secs` at 0.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Attempts per registry operation (5xx answers and connection failures are retried).
const ATTEMPTS: u32 = 3;
/// Backoff before the second attempt; doubled for each further one, with ±50 % jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Page size for tag listing, and the number of pages read at most.
const TAG_PAGE: usize = 1000;
const MAX_TAG_PAGES: usize = 100;
/// How long the answer of `GET /v2/` (which login a registry wants) is reused.
const CHALLENGE_TTL: Duration = Duration::from_secs(600);
/// A token is renewed this long before the token service says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);

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

tokio::task_local! {
    /// The deadline of the surrounding [`OciRegistry::within`] scope: (start, limit).
    static SCOPE: (Instant, Duration);
}

/// How the client behaves beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Whose hints the messages carry.
    pub caller: Caller,
    /// `baton verify --timeout`: (when the command started, how long it may take). Nothing runs
    /// past that; each operation is also bounded by `registry.deadline_secs`.
    pub overall: Option<(Instant, Duration)>,
}

/// How requests to one repository are authorized.
#[derive(Clone)]
struct Access {
    auth: RegistryAuth,
    /// Where the credentials came from; `None`: anonymous.
    source: Option<CredentialSource>,
    /// A bearer token from the token service runs out.
    until: Option<Instant>,
}

/// The time budget of one operation, shared by its attempts.
#[derive(Debug, Clone)]
pub struct Budget {
    started: Instant,
    ends: Instant,
    limit: Limit,
}

impl Budget {
    fn left(&self) -> Duration {
        self.ends.saturating_duration_since(Instant::now())
    }
}

/// The real registry client: oci-client under an allow-list, per-host credentials from the
/// [`CredentialChain`], baton's own login handshake ([`auth`]), timeouts and bounded retries.
pub struct OciRegistry {
    client: Client,
    /// Baton's own HTTP client for `GET /v2/` and token requests.
    http: reqwest13::Client,
    policy: HostPolicy,
    chain: CredentialChain,
    timeout: Duration,
    deadline: Duration,
    options: ClientOptions,
    challenges: Mutex<HashMap<String, (Instant, auth::Challenge)>>,
    access: Mutex<HashMap<(String, String), Access>>,
}

impl fmt::Debug for OciRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciRegistry")
            .field("policy", &self.policy)
            .field("chain", &self.chain)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OciRegistry {
    /// Builds the client for `serve`/`reconcile`: credentials from `registry.auth_file`, then
    /// Docker's config.json (`DOCKER_CONFIG` or `~/.docker`), then anonymous. A missing or
    /// malformed auth file, or an insecure host that is not also allowed, is an error.
    pub fn new(settings: &RegistrySettings) -> Result<OciRegistry, String> {
        let docker = credentials::docker_config_path(|k| std::env::var(k).ok());
        let chain = CredentialChain::load(None, settings.auth_file.as_deref(), docker.as_deref())?;
        OciRegistry::with_chain(settings, chain, ClientOptions::default())
    }

    /// Builds the client with an explicit credential chain.
    pub fn with_chain(
        settings: &RegistrySettings,
        chain: CredentialChain,
        options: ClientOptions,
    ) -> Result<OciRegistry, String> {
        let policy = HostPolicy::new(settings)?;
        let timeout = settings.request_timeout();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(policy.insecure.clone()),
            // baton bounds each attempt itself (and says so); these only back that up.
            read_timeout: Some(timeout + Duration::from_secs(1)),
            connect_timeout: Some(timeout + Duration::from_secs(1)),
            // Baton never picks a platform out of an index: the index digest is the version.
            platform_resolver: None,
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| format!("cannot build the registry HTTP client: {e}"))?;
        let http = reqwest13::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(timeout + Duration::from_secs(1))
            .read_timeout(timeout + Duration::from_secs(1))
            // A token realm is where the registry says; never follow a redirect elsewhere.
            .redirect(reqwest13::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the registry HTTP client: {e}"))?;
        tracing::debug!(sources = ?chain.sources(), "registry credential sources");
        Ok(OciRegistry {
            client,
            http,
            policy,
            chain,
            timeout,
            deadline: settings.deadline(),
            options,
            challenges: Mutex::default(),
            access: Mutex::default(),
        })
    }

    /// The hosts this client may contact.
    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// `registry.deadline_secs`: the longest one resolution or verification may take.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Who the messages are written for.
    pub fn caller(&self) -> Caller {
        self.options.caller
    }

    /// A new budget for one operation: `registry.deadline_secs` from now, and never past
    /// [`ClientOptions::overall`].
    pub fn budget(&self) -> Budget {
        let started = Instant::now();
        let mut budget = Budget {
            started,
            ends: started + self.deadline,
            limit: Limit::Deadline { limit: self.deadline, caller: Caller::Serve },
        };
        // A surrounding scope (one whole verification) and the command's --timeout only shorten it.
        let scopes = [
            SCOPE.try_with(|s| (s.0, s.1, Caller::Serve)).ok(),
            self.options.overall.map(|(start, limit)| (start, limit, Caller::Verify)),
        ];
        for (start, limit, caller) in scopes.into_iter().flatten() {
            if start + limit < budget.ends {
                budget = Budget { started: start, ends: start + limit, limit: Limit::Deadline { limit, caller } };
            }
        }
        budget
    }

    /// Runs `fut` (several registry operations, e.g. one signature verification) so that all of
    /// its operations together stop within `limit` of now; a timeout then says how long the
    /// whole took.
    pub async fn within<F: Future>(&self, limit: Duration, fut: F) -> F::Output {
        SCOPE.scope((Instant::now(), limit), fut).await
    }

    /// Checks the host against the allow-list and returns (canonical host, access).
    async fn admit(&self, image: &ImageName, budget: &Budget) -> Result<(String, Access), RegistryError> {
        let host = self.policy.check(&image.host)?.to_string();
        let access = self.access_for(&host, &image.path, budget).await?;
        Ok((host, access))
    }

    /// How to authorize requests to `host`/`repository` (cached; tokens until they expire).
    async fn access_for(&self, host: &str, repository: &str, budget: &Budget) -> Result<Access, RegistryError> {
        let key = (host.to_string(), repository.to_string());
        if let Some(a) = lock(&self.access).get(&key) {
            if a.until.is_none_or(|u| Instant::now() < u) {
                return Ok(a.clone());
            }
        }
        let found = tokio::time::timeout(budget.left(), self.chain.lookup(host))
            .await
            .map_err(|_| self.timed_out(host, budget, 1, true))?
            .map_err(|reason| RegistryError::Credentials { host: host.to_string(), reason })?;
        let access = match found {
            // A registry token is sent as is (as go-containerregistry does).
            Some(credentials::Found { credential: Credential::Bearer(token), source }) => {
                Access { auth: RegistryAuth::Bearer(token), source: Some(source), until: None }
            }
            found => match self.challenge(host, budget).await? {
                auth::Challenge::Open => Access { auth: RegistryAuth::Anonymous, source: None, until: None },
                auth::Challenge::Basic => match found {
                    Some(credentials::Found { credential: Credential::Basic { username, password }, source }) => {
                        Access { auth: RegistryAuth::Basic(username, password), source: Some(source), until: None }
                    }
                    _ => Access { auth: RegistryAuth::Anonymous, source: None, until: None },
                },
                auth::Challenge::Bearer { realm, service } => {
                    self.token(host, repository, &realm, service.as_deref(), found, budget).await?
                }
            },
        };
        lock(&self.access).insert(key, access.clone());
        Ok(access)
    }

    /// `GET /v2/`: which login the registry wants (cached per host).
    async fn challenge(&self, host: &str, budget: &Budget) -> Result<auth::Challenge, RegistryError> {
        if let Some((at, c)) = lock(&self.challenges).get(host) {
            if at.elapsed() < CHALLENGE_TTL {
                return Ok(c.clone());
            }
        }
        // Docker Hub's API is not on `docker.io` itself: ask where oci-client will send the reads.
        let api_host =
            Reference::with_tag(host.to_string(), "library/x".into(), "latest".into()).resolve_registry().to_string();
        let url = format!("{}://{api_host}/v2/", self.scheme(host));
        let challenge = self
            .attempt(host, "login", budget, || async {
                let resp = self.http.get(&url).send().await.map_err(|e| self.transport_failure(host, &e))?;
                let status = resp.status().as_u16();
                let header = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
                match (status, header) {
                    (401, Some(h)) => Ok(auth::parse_challenge(&h)),
                    (401, None) => Ok(auth::Challenge::Basic),
                    (500..=599, _) => Err(Failure {
                        error: RegistryError::Unreachable { host: host.to_string(), reason: format!("HTTP {status}") },
                        retry: true,
                    }),
                    _ => Ok(auth::Challenge::Open),
                }
            })
            .await?;
        lock(&self.challenges).insert(host.to_string(), (Instant::now(), challenge.clone()));
        Ok(challenge)
    }

    fn scheme(&self, host: &str) -> &'static str {
        if self.policy.is_insecure(host) {
            "http"
        } else {
            "https"
        }
    }

    /// Asks the token service for a pull token for `repository` (module [`auth`]).
    async fn token(
        &self,
        host: &str,
        repository: &str,
        realm: &str,
        service: Option<&str>,
        found: Option<credentials::Found>,
        budget: &Budget,
    ) -> Result<Access, RegistryError> {
        let source = found.as_ref().map(|f| f.source.clone());
        if let Some(source) = &source {
            match auth::realm_trust(host, realm, &self.policy) {
                auth::RealmTrust::Trusted => {}
                auth::RealmTrust::ForeignHost(realm_host) | auth::RealmTrust::PlainHttp(realm_host) => {
                    return Err(RegistryError::CredentialsWithheld {
                        plain_http: matches!(
                            auth::realm_trust(host, realm, &self.policy),
                            auth::RealmTrust::PlainHttp(_)
                        ),
                        host: host.to_string(),
                        realm: realm_host,
                        from: source.clone(),
                        caller: self.options.caller,
                    })
                }
                auth::RealmTrust::Invalid(reason) => {
                    return Err(RegistryError::Invalid { host: host.to_string(), reason })
                }
            }
        } else if url::Url::parse(realm).map(|u| !matches!(u.scheme(), "http" | "https")).unwrap_or(true) {
            return Err(RegistryError::Invalid {
                host: host.to_string(),
                reason: format!("the token realm {realm:?} is not an http(s) URL"),
            });
        }
        let scope = auth::pull_scope(repository);
        let answer = self
            .attempt(host, "token", budget, || async {
                let request = match found.as_ref().map(|f| &f.credential) {
                    Some(Credential::Identity(refresh)) => {
                        let mut form = url::form_urlencoded::Serializer::new(String::new());
                        form.append_pair("grant_type", "refresh_token");
                        form.append_pair("refresh_token", refresh);
                        form.append_pair("client_id", "baton");
                        form.append_pair("scope", &scope);
                        if let Some(s) = service {
                            form.append_pair("service", s);
                        }
                        self.http
                            .post(realm)
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(form.finish())
                    }
                    other => {
                        let mut query = vec![("scope", scope.as_str())];
                        if let Some(s) = service {
                            query.push(("service", s));
                        }
                        let r = self.http.get(realm).query(&query);
                        match other {
                            Some(Credential::Basic { username, password }) => r.basic_auth(username, Some(password)),
                            _ => r,
                        }
                    }
                };
                let resp = request.send().await.map_err(|e| self.transport_failure(host, &e))?;
                let status = resp.status().as_u16();
                match status {
                    200 => {
                        let body = resp.bytes().await.map_err(|e| self.transport_failure(host, &e))?;
                        auth::parse_token_answer(&body)
                            .map_err(|reason| Failure::from(RegistryError::Invalid { host: host.to_string(), reason }))
                    }
                    401 | 403 => Err(self.refused(host, repository, source.as_ref()).into()),
                    429 | 500..=599 => Err(Failure {
                        error: RegistryError::Unreachable {
                            host: host.to_string(),
                            reason: format!("the token service answered HTTP {status}"),
                        },
                        retry: true,
                    }),
                    _ => Err(RegistryError::Invalid {
                        host: host.to_string(),
                        reason: format!("the token service answered HTTP {status}"),
                    }
                    .into()),
                }
            })
            .await?;
        let until = Instant::now() + answer.expires_in.saturating_sub(TOKEN_MARGIN);
        Ok(Access { auth: RegistryAuth::Bearer(answer.token), source, until: Some(until) })
    }

    /// A refusal: credentials wanted (none sent) or refused (naming their source).
    fn refused(&self, host: &str, repository: &str, source: Option<&CredentialSource>) -> RegistryError {
        match source {
            None => RegistryError::CredentialsWanted {
                host: host.to_string(),
                repository: repository.to_string(),
                caller: self.options.caller,
            },
            Some(source) => RegistryError::CredentialsRefused { host: host.to_string(), from: source.clone() },
        }
    }

    /// Hands the access to oci-client for this reference: a bearer token is put into its token
    /// cache (no request), so that oci-client never runs its own handshake with our credentials.
    async fn prepare(&self, reference: &Reference, access: &Access) {
        self.client.store_auth_if_needed(reference.resolve_registry(), &access.auth).await;
        if let RegistryAuth::Bearer(_) = access.auth {
            let _ = self.client.auth(reference, &access.auth, RegistryOperation::Pull).await;
        }
    }

    /// One attempt ran out of `registry.timeout_secs` (the loop fills in time and attempts).
    fn request_timed_out(&self, host: &str) -> Failure {
        Failure {
            error: RegistryError::TimedOut {
                host: host.to_string(),
                spent: Duration::ZERO,
                attempts: 1,
                limit: Limit::Request(self.timeout),
            },
            retry: true,
        }
    }

    fn timed_out(&self, host: &str, budget: &Budget, attempts: u32, deadline: bool) -> RegistryError {
        RegistryError::TimedOut {
            host: host.to_string(),
            spent: budget.started.elapsed(),
            attempts,
            limit: if deadline { budget.limit.clone() } else { Limit::Request(self.timeout) },
        }
    }

    /// Runs `op` with a per-attempt timeout within the operation's budget, retrying connection
    /// failures and 5xx answers with jittered backoff.
    async fn attempt<T, F, Fut>(&self, host: &str, what: &str, budget: &Budget, op: F) -> Result<T, RegistryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        // A timeout says how long the whole operation took, and after how many attempts.
        let finish = |error: RegistryError, attempts: u32| match error {
            RegistryError::TimedOut { host, limit, .. } => {
                RegistryError::TimedOut { host, spent: budget.started.elapsed(), attempts, limit }
            }
            e => e,
        };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let left = budget.left();
            if left.is_zero() {
                return Err(self.timed_out(host, budget, attempt - 1, true));
            }
            let per_attempt = self.timeout.min(left);
            let outcome = match tokio::time::timeout(per_attempt, op()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure {
                    error: self.timed_out(host, budget, attempt, per_attempt < self.timeout),
                    retry: per_attempt >= self.timeout,
                }),
            };
            crate::metrics::registry_request(match &outcome {
                Ok(_) => "ok",
                Err(f) => f.error.metric_label(),
            });
            match outcome {
                Ok(v) => return Ok(v),
                Err(f) if f.retry && attempt < ATTEMPTS => {
                    let pause = backoff.mul_f64(0.5 + fastrand::f64());
                    if pause >= budget.left() {
                        tracing::debug!(host, what, attempt, error = %f.error, "registry request failed; no time left to retry");
                        return Err(finish(f.error, attempt));
                    }
                    tracing::debug!(host, what, attempt, error = %f.error, "registry request failed; retrying");
                    tokio::time::sleep(pause).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(f) => {
                    tracing::debug!(host, what, attempt, error = %f.error, "registry request failed");
                    return Err(finish(f.error, attempt));
                }
            }
        }
    }

    /// Reads one manifest (`reference` is a tag or a `sha256:` digest) and checks it: the digest
    /// is computed by baton over the bytes; if `reference` is a digest it must match, and so
    /// must the registry's `Docker-Content-Digest` header (checked by oci-client, and the digest
    /// it reports is compared again here).
    pub async fn fetch_manifest(&self, image: &ImageName, reference: &str) -> Result<Manifest, RegistryError> {
        let budget = &self.budget();
        let host = self.policy.check(&image.host)?.to_string();
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
        let (host, access) = self.admit(image, budget).await?;
        let (body, reported) = self
            .attempt(&host, "manifest", budget, || async {
                self.prepare(&oci_ref, &access).await;
                self.client
                    .pull_manifest_raw(&oci_ref, &access.auth, &ACCEPTED_MANIFEST_TYPES)
                    .await
                    .map_err(|e| self.failure(&host, image, Target::Manifest(reference), access.source.as_ref(), e))
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
        self.fetch_blob_capped(image, digest, MAX_BLOB_BYTES as u64).await
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
        let budget = self.budget();
        let (host, access) = self.admit(image, &budget).await?;
        let oci_ref = Reference::with_digest(host.clone(), image.path.clone(), digest.to_string());
        let index = self
            .attempt(&host, "referrers", &budget, || async {
                self.prepare(&oci_ref, &access).await;
                self.client.pull_referrers(&oci_ref, None).await.map_err(|e| {
                    self.failure(&host, image, Target::Manifest(digest.as_str()), access.source.as_ref(), e)
                })
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

    /// A transport error of baton's own requests (`GET /v2/`, token service).
    fn transport_failure(&self, host: &str, e: &reqwest13::Error) -> Failure {
        if e.is_timeout() {
            return self.request_timed_out(host);
        }
        let mut reason = error_chain(e);
        if !self.policy.is_insecure(host) && (e.is_connect() || e.is_request()) && looks_like_tls_failure(&reason) {
            reason.push_str(&format!(" (the TLS handshake failed; {})", self.options.caller.plain_http_hint()));
            return RegistryError::Unreachable { host: host.to_string(), reason }.into();
        }
        Failure { error: RegistryError::Unreachable { host: host.to_string(), reason }, retry: true }
    }

    /// Maps an oci-client error to baton's, deciding whether to retry.
    fn failure(
        &self,
        host: &str,
        image: &ImageName,
        target: Target<'_>,
        source: Option<&CredentialSource>,
        e: OciDistributionError,
    ) -> Failure {
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
        let unauthorized = || {
            // The cached token or login may be what was refused: ask afresh next time.
            lock(&self.access).remove(&(host.to_string(), image.path.clone()));
            self.refused(host, &image.path, source)
        };
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
                if !e.is_timeout()
                    && !self.policy.is_insecure(host)
                    && (e.is_connect() || e.is_request())
                    && looks_like_tls_failure(&reason)
                {
                    reason.push_str(&format!(" (the TLS handshake failed; {})", self.options.caller.plain_http_hint()));
                    return RegistryError::Unreachable { host: host.to_string(), reason }.into();
                }
                if e.is_timeout() {
                    return self.request_timed_out(host);
                }
                unreachable(reason)
            }
            OciDistributionError::IoError(e) => unreachable(e.to_string()),
            OciDistributionError::DigestError(e) => invalid(format!("digest mismatch: {e}")).into(),
            other => invalid(shorten(&other.to_string())).into(),
        }
    }
}

const USER_AGENT: &str = concat!("baton/", env!("CARGO_PKG_VERSION"));

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

    async fn annotations_of(
        &self,
        image: &ImageName,
        digest: &Digest,
    ) -> Result<BTreeMap<String, String>, RegistryError> {
        Ok(self.fetch_manifest(image, digest.as_str()).await?.annotations)
    }

    async fn list_tags(&self, image: &ImageName) -> Result<Vec<Tag>, RegistryError> {
        let budget = self.budget();
        let (host, access) = self.admit(image, &budget).await?;
        let oci_ref = Reference::with_tag(host.clone(), image.path.clone(), "latest".to_string());
        let mut tags = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..MAX_TAG_PAGES {
            let page = self
                .attempt(&host, "tags", &budget, || async {
                    self.prepare(&oci_ref, &access).await;
                    self.client
                        .list_tags(&oci_ref, &access.auth, Some(TAG_PAGE), last.as_deref())
                        .await
                        .map_err(|e| self.failure(&host, image, Target::Repository, access.source.as_ref(), e))
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

// ---------------------------------------------------------------------------------------------
// Content reads for the manifest diff (issue 14): a blob with a caller's cap, streamed.

impl OciRegistry {
    /// Reads one blob of at most `max_bytes` as a stream (refused as soon as the cap is
    /// passed, before the whole blob is buffered), checking its sha256 against `digest`.
    pub async fn fetch_blob_capped(
        &self,
        image: &ImageName,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let budget = self.budget();
        let (host, access) = self.admit(image, &budget).await?;
        let oci_ref = Reference::with_digest(host.clone(), image.path.clone(), digest.to_string());
        let descriptor = OciDescriptor { digest: digest.to_string(), ..OciDescriptor::default() };
        let too_big = || RegistryError::Invalid {
            host: host.clone(),
            reason: format!("blob {digest} of {image} is larger than {max_bytes} bytes"),
        };
        let bytes = self
            .attempt(&host, "blob", &budget, || async {
                // pull_blob_stream takes no credentials: they must be in the client's store.
                self.prepare(&oci_ref, &access).await;
                let target = Target::Blob(digest.as_str());
                let mut stream = self
                    .client
                    .pull_blob_stream(&oci_ref, &descriptor)
                    .await
                    .map_err(|e| self.failure(&host, image, target, access.source.as_ref(), e))?;
                if stream.content_length.is_some_and(|l| l > max_bytes) {
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
                    if (out.len() + chunk.len()) as u64 > max_bytes {
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
    fn client_debug_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths": {"r.example": {"username": "u", "password": "hunter2"}}}"#).unwrap();
        let chain = CredentialChain::load(None, Some(&path), None).unwrap();
        let reg = OciRegistry::with_chain(&settings(&["r.example"], &[]), chain, ClientOptions::default()).unwrap();
        assert!(!format!("{reg:?}").contains("hunter2"));
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
