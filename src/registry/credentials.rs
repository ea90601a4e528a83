//! Where registry credentials come from: one chain for `serve`, `reconcile` and `verify`, in
//! this order (the first source that has something for the host wins):
//!
//! 1. `baton verify`'s flags (`--registry-username` with `--registry-password-stdin` or
//!    `BATON_REGISTRY_PASSWORD`, or `--registry-token`), for the host of the verified reference;
//! 2. baton's `registry.auth_file` (a Docker `config.json`);
//! 3. Docker's own `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`);
//! 4. anonymous.
//!
//! A Docker `config.json` is read as Docker and cosign (go-containerregistry's default keychain)
//! read it: `credHelpers[host]`, else `credsStore`, run as `docker-credential-<name> get` with the
//! server URL on stdin and `{"ServerURL","Username","Secret"}` on stdout (a `Username` of
//! `<token>` makes `Secret` an identity token); else `auths`, whose keys may be URLs
//! (`https://index.docker.io/v1/` is Docker Hub's), with `auth` (base64 `user:password`),
//! `username`/`password`, `identitytoken` (an OAuth2 refresh token) or `registrytoken` (sent as
//! is).
//!
//! Nothing here logs or formats a secret: `Debug` of a [`Credential`] redacts it, and errors
//! name the file, the host and the helper, never the content.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Credentials for one registry host. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User and password: sent to the registry itself (Basic challenge) or to its token service.
    Basic { username: String, password: String },
    /// A registry token (`registrytoken`, `--registry-token`): sent to the registry as a bearer
    /// token, no exchange.
    Bearer(String),
    /// An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user), exchanged at the
    /// registry's token service.
    Identity(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).field("password", &"<redacted>").finish()
            }
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credential::Identity(_) => f.write_str("Identity(<redacted>)"),
        }
    }
}

/// Which flags of `baton verify` gave the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    PasswordStdin,
    PasswordEnv,
    Token,
}

/// Where a credential was found; named in messages ("refused the credentials for HOST from …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Flags(FlagKind),
    /// `registry.auth_file`.
    AuthFile(PathBuf),
    /// Docker's `config.json`.
    DockerConfig(PathBuf),
    /// A `docker-credential-<name>` helper named in a config file.
    Helper {
        name: String,
        file: PathBuf,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Flags(FlagKind::PasswordStdin) => {
                f.write_str("--registry-username and --registry-password-stdin")
            }
            CredentialSource::Flags(FlagKind::PasswordEnv) => {
                f.write_str("--registry-username and BATON_REGISTRY_PASSWORD")
            }
            CredentialSource::Flags(FlagKind::Token) => f.write_str("--registry-token"),
            CredentialSource::AuthFile(p) => write!(f, "registry.auth_file {}", p.display()),
            CredentialSource::DockerConfig(p) => write!(f, "Docker config {}", p.display()),
            CredentialSource::Helper { name, file } => {
                write!(f, "docker-credential-{name} (named in {})", file.display())
            }
        }
    }
}

/// A credential and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub credential: Credential,
    pub source: CredentialSource,
}

/// A Docker `config.json`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// `auths`, by lowercased host (`https://host/v1/` → `host`).
    pub auths: BTreeMap<String, Credential>,
    /// `credHelpers`: host → helper name (`docker-credential-<name>`).
    pub cred_helpers: BTreeMap<String, String>,
    /// `credsStore`: the helper for every host without its own.
    pub creds_store: Option<String>,
}

/// Docker Hub's spellings; its credentials are stored under [`DOCKER_HUB_KEY`].
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
/// The `auths` key (and helper server URL) of Docker Hub, as `docker login` writes it.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The host a Docker `config.json` key names: `https://host/v1/` → `host`, lowercased; Docker
/// Hub's spellings all become `index.docker.io`.
pub fn normalize_host(key: &str) -> String {
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = rest.split('/').next().unwrap_or("").to_ascii_lowercase();
    if DOCKER_HUB_HOSTS.contains(&host.as_str()) {
        "index.docker.io".to_string()
    } else {
        host
    }
}

/// What a credential helper is given on stdin for `host` (Docker Hub: its legacy URL key).
pub fn helper_server_url(host: &str) -> String {
    let host = normalize_host(host);
    if host == "index.docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host
    }
}

/// Parses a Docker `config.json`. Entries with nothing usable are skipped. Errors never contain
/// secret material.
pub fn parse_docker_config(json: &[u8]) -> Result<DockerConfig, String> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        auths: BTreeMap<String, Entry>,
        #[serde(default, rename = "credHelpers")]
        cred_helpers: BTreeMap<String, String>,
        #[serde(default, rename = "credsStore")]
        creds_store: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
        identitytoken: Option<String>,
        registrytoken: Option<String>,
    }
    let file: File = serde_json::from_slice(json).map_err(|e| {
        // serde_json's message names a position and the kind of error, never the content.
        format!("not a Docker config.json: {e}")
    })?;
    let mut out = DockerConfig::default();
    for (key, entry) in file.auths {
        let host = normalize_host(&key);
        if host.is_empty() {
            return Err(format!("an \"auths\" entry has no host: {key:?}"));
        }
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        // go-containerregistry's order: a registry token is used as is, an identity token is
        // exchanged, else user and password.
        let credential = if let Some(token) = nonempty(entry.registrytoken) {
            Credential::Bearer(token)
        } else if let Some(token) = nonempty(entry.identitytoken) {
            Credential::Identity(token)
        } else if let Some(auth) = nonempty(entry.auth) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| format!("the \"auth\" of {host} is not base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| format!("the \"auth\" of {host} is not UTF-8"))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| format!("the \"auth\" of {host} is not base64(user:password)"))?;
            Credential::Basic { username: username.to_string(), password: password.to_string() }
        } else if let (Some(username), Some(password)) = (entry.username, entry.password) {
            Credential::Basic { username, password }
        } else {
            continue;
        };
        out.auths.insert(host, credential);
    }
    for (key, helper) in file.cred_helpers {
        check_helper_name(&helper)?;
        out.cred_helpers.insert(normalize_host(&key), helper);
    }
    if let Some(store) = file.creds_store.filter(|s| !s.is_empty()) {
        check_helper_name(&store)?;
        out.creds_store = Some(store);
    }
    Ok(out)
}

fn check_helper_name(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) {
        Ok(())
    } else {
        Err(format!("{name:?} is not a credential helper name"))
    }
}

/// What one config file says about one host (pure; helpers are run by the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAnswer {
    Nothing,
    Credential(Credential),
    Helper(String),
}

impl DockerConfig {
    /// Docker's order: `credHelpers[host]`, else `credsStore`, else `auths[host]`.
    pub fn lookup(&self, host: &str) -> FileAnswer {
        let host = normalize_host(host);
        if let Some(h) = self.cred_helpers.get(&host) {
            return FileAnswer::Helper(h.clone());
        }
        if let Some(store) = &self.creds_store {
            return FileAnswer::Helper(store.clone());
        }
        match self.auths.get(&host) {
            Some(c) => FileAnswer::Credential(c.clone()),
            None => FileAnswer::Nothing,
        }
    }
}

/// The answer of `docker-credential-<name> get`, parsed. `Ok(None)`: the helper has nothing
/// for this server ("credentials not found").
pub fn parse_helper_output(success: bool, stdout: &[u8]) -> Result<Option<Credential>, String> {
    let text = String::from_utf8_lossy(stdout);
    if !success {
        // docker-credential-helpers' ErrCredentialsNotFound message.
        if text.trim().eq_ignore_ascii_case("credentials not found in native keychain") {
            return Ok(None);
        }
        return Err("it failed".into());
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: Answer =
        serde_json::from_slice(stdout).map_err(|_| "its answer is not {\"Username\",\"Secret\"} JSON".to_string())?;
    if a.secret.is_empty() {
        return Ok(None);
    }
    if a.username == "<token>" {
        Ok(Some(Credential::Identity(a.secret)))
    } else {
        Ok(Some(Credential::Basic { username: a.username, password: a.secret }))
    }
}

/// Where Docker's `config.json` is: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn docker_config_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(Path::new(&dir).join("config.json"));
    }
    env("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".docker").join("config.json"))
}

/// How long a looked-up credential (helpers included) is reused before asking again.
const LOOKUP_TTL: Duration = Duration::from_secs(300);
/// The longest a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(20);

/// The credential chain (module docs). Cheap to query: files are read once, helper answers are
/// kept for a few minutes.
pub struct CredentialChain {
    flags: Option<(String, Found)>,
    files: Vec<(DockerConfig, CredentialSource, PathBuf)>,
    cache: Mutex<HashMap<String, (Instant, Option<Found>)>>,
}

impl fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChain")
            .field("flags_for", &self.flags.as_ref().map(|(h, found)| (h, &found.source)))
            .field("files", &self.files.iter().map(|(_, s, _)| s.to_string()).collect::<Vec<_>>())
            .finish()
    }
}

/// The `--registry-*` flags of `baton verify`, for one host.
#[derive(Clone, PartialEq, Eq)]
pub struct FlagCredential {
    pub host: String,
    pub credential: Credential,
    pub kind: FlagKind,
}

impl CredentialChain {
    /// No credentials at all.
    pub fn anonymous() -> CredentialChain {
        CredentialChain { flags: None, files: Vec::new(), cache: Mutex::default() }
    }

    /// Builds the chain: flags, then `auth_file` (must exist and parse), then Docker's config at
    /// `docker_config` (skipped when the file does not exist; must parse when it does).
    pub fn load(
        flags: Option<FlagCredential>,
        auth_file: Option<&Path>,
        docker_config: Option<&Path>,
    ) -> Result<CredentialChain, String> {
        let mut files = Vec::new();
        if let Some(path) = auth_file {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the registry auth file {}: {e}", path.display()))?;
            let config =
                parse_docker_config(&bytes).map_err(|e| format!("registry.auth_file {}: {e}", path.display()))?;
            files.push((config, CredentialSource::AuthFile(path.to_path_buf()), path.to_path_buf()));
        }
        if let Some(path) = docker_config {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let config = parse_docker_config(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                    files.push((config, CredentialSource::DockerConfig(path.to_path_buf()), path.to_path_buf()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot read the Docker config {}: {e}", path.display())),
            }
        }
        let flags = flags.map(|f| {
            (normalize_host(&f.host), Found { credential: f.credential, source: CredentialSource::Flags(f.kind) })
        });
        Ok(CredentialChain { flags, files, cache: Mutex::default() })
    }

    /// The sources consulted, in order (for logs and `--help`-like messages).
    pub fn sources(&self) -> Vec<String> {
        let mut out: Vec<String> = self.flags.iter().map(|(_, f)| f.source.to_string()).collect();
        out.extend(self.files.iter().map(|(_, s, _)| s.to_string()));
        out
    }

    /// The first credential the chain has for `host`; `Ok(None)`: anonymous. An error names the
    /// helper that failed, never a secret.
    pub async fn lookup(&self, host: &str) -> Result<Option<Found>, String> {
        let host = normalize_host(host);
        if let Some((h, found)) = &self.flags {
            if *h == host {
                return Ok(Some(found.clone()));
            }
        }
        if let Some((at, found)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&host) {
            if at.elapsed() < LOOKUP_TTL {
                return Ok(found.clone());
            }
        }
        let mut result = None;
        for (config, source, path) in &self.files {
            match config.lookup(&host) {
                FileAnswer::Nothing => continue,
                FileAnswer::Credential(credential) => {
                    result = Some(Found { credential, source: source.clone() });
                    break;
                }
                FileAnswer::Helper(name) => {
                    let source = CredentialSource::Helper { name: name.clone(), file: path.clone() };
                    match run_helper(&name, &helper_server_url(&host)).await {
                        Ok(Some(credential)) => {
                            result = Some(Found { credential, source });
                            break;
                        }
                        Ok(None) => continue,
                        Err(e) => return Err(format!("{source} could not give credentials for {host}: {e}")),
                    }
                }
            }
        }
        tracing::debug!(
            host = %host,
            source = %result.as_ref().map_or("anonymous".to_string(), |f| f.source.to_string()),
            "registry credentials"
        );
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(host, (Instant::now(), result.clone()));
        Ok(result)
    }
}

/// Runs `docker-credential-<name> get` with `server_url` on stdin, as docker-credential-helpers'
/// client does.
async fn run_helper(name: &str, server_url: &str) -> Result<Option<Credential>, String> {
    use tokio::io::AsyncWriteExt as _;
    let program = format!("docker-credential-{name}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(server_url.as_bytes()).await.map_err(|e| format!("cannot talk to {program}: {e}"))?;
    }
    let out = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{program} did not answer within {}s", HELPER_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{program}: {e}"))?;
    parse_helper_output(out.status.success(), &out.stdout).map_err(|e| format!("{program} get: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn docker_config_entries() {
        let json = format!(
            r#"{{"auths": {{"Registry.Example.com": {{"auth": "{}"}},
                "https://index.docker.io/v1/": {{"username": "al", "password": "pw"}},
                "ghcr.io": {{"registrytoken": "tok"}},
                "quay.io": {{"auth": "{}", "identitytoken": "refresh"}},
                "empty.example": {{}}}},
               "credHelpers": {{"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}},
               "credsStore": "desktop"}}"#,
            b64("bob:s3cr:et"),
            b64("robot:")
        );
        let c = parse_docker_config(json.as_bytes()).unwrap();
        assert_eq!(
            c.auths["registry.example.com"],
            Credential::Basic { username: "bob".into(), password: "s3cr:et".into() }
        );
        assert_eq!(c.auths["index.docker.io"], Credential::Basic { username: "al".into(), password: "pw".into() });
        assert_eq!(c.auths["ghcr.io"], Credential::Bearer("tok".into()));
        assert_eq!(c.auths["quay.io"], Credential::Identity("refresh".into()));
        assert_eq!(c.auths.len(), 4);
        assert_eq!(c.cred_helpers["123.dkr.ecr.eu-west-1.amazonaws.com"], "ecr-login");
        assert_eq!(c.creds_store.as_deref(), Some("desktop"));
    }

    #[test]
    fn lookup_order_per_host() {
        let file = |json: &str| parse_docker_config(json.as_bytes()).unwrap();
        let basic = Credential::Basic { username: "u".into(), password: "p".into() };
        let auths = format!(
            r#""auths": {{"r.example:5000": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{"auth": "{}"}}}}"#,
            b64("u:p"),
            b64("u:p")
        );
        let rows: Vec<(String, &str, FileAnswer)> = vec![
            (format!("{{{auths}}}"), "r.example:5000", FileAnswer::Credential(basic.clone())),
            (format!("{{{auths}}}"), "R.EXAMPLE:5000", FileAnswer::Credential(basic.clone())),
            (format!("{{{auths}}}"), "r.example", FileAnswer::Nothing),
            (format!("{{{auths}}}"), "docker.io", FileAnswer::Credential(basic.clone())),
            (format!("{{{auths}}}"), "registry-1.docker.io", FileAnswer::Credential(basic.clone())),
            (format!(r#"{{{auths}, "credsStore": "pass"}}"#), "r.example:5000", FileAnswer::Helper("pass".into())),
            (
                format!(r#"{{{auths}, "credsStore": "pass", "credHelpers": {{"r.example:5000": "ecr-login"}}}}"#),
                "r.example:5000",
                FileAnswer::Helper("ecr-login".into()),
            ),
            (
                format!(r#"{{{auths}, "credHelpers": {{"other.example": "gcloud"}}}}"#),
                "r.example:5000",
                FileAnswer::Credential(basic.clone()),
            ),
            ("{}".to_string(), "r.example:5000", FileAnswer::Nothing),
        ];
        for (json, host, want) in rows {
            assert_eq!(file(&json).lookup(host), want, "{json} / {host}");
        }
    }

    #[test]
    fn docker_config_errors_hide_secrets() {
        let err = parse_docker_config(br#"{"auths": {"h": {"auth": "!!not-base64-secret!!"}}}"#).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        let no_colon = b64("justasecret");
        let err =
            parse_docker_config(format!(r#"{{"auths": {{"h": {{"auth": "{no_colon}"}}}}}}"#).as_bytes()).unwrap_err();
        assert!(!err.contains("justasecret"), "{err}");
        let err = parse_docker_config(br#"{"auths": {"h": {"password": "hunter2", "username": 5}}}"#).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(parse_docker_config(b"not json").is_err());
        assert!(parse_docker_config(br#"{"credsStore": "../../bin/sh"}"#).is_err());
        assert_eq!(parse_docker_config(b"{}").unwrap(), DockerConfig::default());
    }

    #[test]
    fn helper_answers() {
        let ok = br#"{"ServerURL":"r.example","Username":"bob","Secret":"pw"}"#;
        assert_eq!(
            parse_helper_output(true, ok).unwrap(),
            Some(Credential::Basic { username: "bob".into(), password: "pw".into() })
        );
        let token = br#"{"ServerURL":"r.example","Username":"<token>","Secret":"refresh"}"#;
        assert_eq!(parse_helper_output(true, token).unwrap(), Some(Credential::Identity("refresh".into())));
        assert_eq!(parse_helper_output(false, b"credentials not found in native keychain\n").unwrap(), None);
        assert!(parse_helper_output(false, b"boom").is_err());
        let err = parse_helper_output(true, b"secret-garbage").unwrap_err();
        assert!(!err.contains("secret-garbage"), "{err}");
    }

    #[test]
    fn helper_server_urls_and_hosts() {
        assert_eq!(helper_server_url("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(helper_server_url("ghcr.io"), "ghcr.io");
        assert_eq!(helper_server_url("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(normalize_host("https://Registry.Example:5000/v2/"), "registry.example:5000");
    }

    #[test]
    fn docker_config_location() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            docker_config_path(env(&[("DOCKER_CONFIG", "/etc/docker-x"), ("HOME", "/home/a")])),
            Some(PathBuf::from("/etc/docker-x/config.json"))
        );
        assert_eq!(docker_config_path(env(&[("HOME", "/home/a")])), Some(PathBuf::from("/home/a/.docker/config.json")));
        assert_eq!(docker_config_path(env(&[])), None);
    }

    #[tokio::test]
    async fn chain_order() {
        let dir = tempfile::tempdir().unwrap();
        let auth_file = dir.path().join("auth.json");
        let docker = dir.path().join("config.json");
        std::fs::write(&auth_file, r#"{"auths": {"a.example": {"username": "file", "password": "1"}}}"#).unwrap();
        std::fs::write(
            &docker,
            r#"{"auths": {"a.example": {"username": "docker", "password": "2"}, "b.example": {"username": "docker", "password": "3"}}}"#,
        )
        .unwrap();
        let flags = FlagCredential {
            host: "A.example".into(),
            credential: Credential::Bearer("t".into()),
            kind: FlagKind::Token,
        };
        let chain = CredentialChain::load(Some(flags), Some(&auth_file), Some(&docker)).unwrap();
        let source = |f: Option<Found>| f.map(|f| f.source.to_string());
        assert_eq!(source(chain.lookup("a.example").await.unwrap()).as_deref(), Some("--registry-token"));
        assert_eq!(
            source(chain.lookup("b.example").await.unwrap()),
            Some(format!("Docker config {}", docker.display()))
        );
        assert_eq!(chain.lookup("c.example").await.unwrap(), None);
        let chain = CredentialChain::load(None, Some(&auth_file), Some(&docker)).unwrap();
        assert_eq!(
            source(chain.lookup("a.example").await.unwrap()),
            Some(format!("registry.auth_file {}", auth_file.display()))
        );
        // A Docker config that does not exist is skipped; an auth file that does not is an error.
        assert!(CredentialChain::load(None, None, Some(&dir.path().join("nope.json"))).is_ok());
        assert!(CredentialChain::load(None, Some(&dir.path().join("nope.json")), None).is_err());
        let c = Credential::Basic { username: "bob".into(), password: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credential::Identity("tok123".into())).contains("tok123"));
    }
}
