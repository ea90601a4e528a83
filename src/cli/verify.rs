//! `baton verify REF [--key FILE] [--certificate-identity-regexp RE --certificate-oidc-issuer URL]
//! [--trusted-root FILE] [--allow-http-registry] [--config FILE] [--registry-username USER
//! (--registry-password-stdin | BATON_REGISTRY_PASSWORD) | --registry-token TOKEN] [--timeout 30s]`.
//!
//! Prints the verified digest on stdout (and what verified it on stderr). Exit 0 verified, 1 not
//! verified (the reason on stderr), 2 bad input. Reads the same registry settings as `serve`
//! (defaults, `--config FILE`, `BATON_REGISTRY__*`), so it answers "does baton accept this
//! artifact?" as the server would.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use crate::registry::credentials::docker_config_path;
use crate::registry::{
    Caller, ClientOptions, Credential, CredentialChain, FlagCredential, FlagKind, OciRegistry, RegistrySettings,
};
use crate::types::{Digest, ImageName, Tag};
use crate::verify::check::{verify_digest, Policy};
use crate::verify::trust::TrustedRoot;
use crate::verify::VerifyError;

/// The environment variable holding the password for `--registry-username`.
pub const PASSWORD_ENV: &str = "BATON_REGISTRY_PASSWORD";

/// `--help`: where credentials are looked for.
pub const CREDENTIALS_HELP: &str = "\
Registry credentials are looked for in this order; the first source with an entry for the
registry's host wins:
  1. --registry-username with --registry-password-stdin or BATON_REGISTRY_PASSWORD, or
     --registry-token (for the host of REF only);
  2. registry.auth_file (a Docker config.json) from --config FILE or BATON_REGISTRY__AUTH_FILE;
  3. Docker's config.json: $DOCKER_CONFIG/config.json, else ~/.docker/config.json (`auths`,
     `credHelpers` and `credsStore`, running docker-credential-<name> get as Docker does);
  4. none (anonymous).
Credentials are sent only to the registry itself or to its token service when that is on a
host in registry.hosts (or Docker Hub's auth.docker.io). They are never logged.";

#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct VerifyArgs {
    /// The artifact: `host[:port]/repository:tag`, `…@sha256:<hex>` or `…:tag@sha256:<hex>`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// A cosign public key (PEM) accepted as signer.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Keyless: the certificate subject (URI or email) must match this regular expression
    /// (anchored: the whole subject must match).
    #[arg(long, value_name = "RE", requires = "certificate_oidc_issuer")]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the certificate's OIDC issuer, exactly.
    #[arg(long, value_name = "URL", requires = "certificate_identity_regexp")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a Sigstore trusted_root.json (Fulcio CAs, Rekor keys). Nothing is fetched.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Speak plain HTTP to the registry of REF.
    #[arg(long)]
    pub allow_http_registry: bool,
    /// baton's settings file, as for `baton serve`: registry.hosts, registry.insecure_hosts,
    /// registry.auth_file and registry.timeout_secs apply (BATON_REGISTRY__* too).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Registry user name; the password comes from --registry-password-stdin or the
    /// BATON_REGISTRY_PASSWORD environment variable (never from the command line).
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Read the registry password for --registry-username from standard input.
    #[arg(long, requires = "registry_username")]
    pub registry_password_stdin: bool,
    /// A registry token, sent to the registry as a bearer token.
    #[arg(long, value_name = "TOKEN", conflicts_with = "registry_username")]
    pub registry_token: Option<String>,
    /// The longest the whole command may take (e.g. 30s, 2m; a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// `30s`, `2m`, `1m30s`, or a number of seconds; more than zero.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration (e.g. 30s, 2m): {e}"))?,
    };
    if d.is_zero() {
        return Err("the timeout must be more than zero".into());
    }
    Ok(d)
}

/// A parsed REF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub image: ImageName,
    pub tag: Option<Tag>,
    pub digest: Option<Digest>,
}

/// Parses `host[:port]/path[:tag][@sha256:hex]`; a tag or a digest is required.
pub fn parse_ref(s: &str) -> Result<ImageRef, String> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, d)) => (rest, Some(d.parse::<Digest>().map_err(|e| e.to_string())?)),
        None => (s, None),
    };
    let slash = rest
        .find('/')
        .ok_or_else(|| format!("{s:?} must start with a registry host, e.g. registry.example.com/app:1.0"))?;
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].parse::<Tag>().map_err(|e| e.to_string())?)),
        None => (rest, None),
    };
    let image: ImageName = name.parse()?;
    if tag.is_none() && digest.is_none() {
        return Err(format!("{s:?} names neither a tag nor a digest (add :TAG or @sha256:…)"));
    }
    Ok(ImageRef { image, tag, digest })
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("baton verify: {message}");
    ExitCode::from(2)
}

fn not_verified(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("baton verify: NOT verified: {message}");
    ExitCode::from(1)
}

/// Runs `baton verify`; returns the exit code.
pub fn run(args: VerifyArgs) -> ExitCode {
    // Logs only when asked for (RUST_LOG), on stderr; stdout carries the digest alone.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    }
    let r = match parse_ref(&args.reference) {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let mut policies = Vec::new();
    if let Some(path) = &args.key {
        let pem = match std::fs::read(path) {
            Ok(p) => p,
            Err(e) => return bad_input(format!("--key {}: {e}", path.display())),
        };
        match Policy::key(path.display().to_string(), &pem) {
            Ok(p) => policies.push(p),
            Err(e) => return bad_input(format!("--key: {e}")),
        }
    }
    if let (Some(re), Some(issuer)) = (&args.certificate_identity_regexp, &args.certificate_oidc_issuer) {
        match Policy::keyless(issuer, re) {
            Ok(p) => policies.push(p),
            Err(e) => return bad_input(format!("--certificate-identity-regexp/--certificate-oidc-issuer: {e}")),
        }
        if args.trusted_root.is_none() {
            return bad_input(
                "keyless verification needs --trusted-root FILE (a Sigstore trusted_root.json); baton does not contact Sigstore's public services",
            );
        }
    }
    if policies.is_empty() {
        return bad_input(
            "say who may sign: --key FILE, or --certificate-identity-regexp RE with --certificate-oidc-issuer URL",
        );
    }
    let trust = match args.trusted_root.as_deref().map(TrustedRoot::from_file).transpose() {
        Ok(t) => t,
        Err(e) => return bad_input(format!("--trusted-root: {e}")),
    };
    let started = Instant::now();
    let flags = match flag_credential(&args, &r.image.host) {
        Ok(f) => f,
        Err(e) => return bad_input(e),
    };
    let settings = match crate::settings::Settings::load(args.config.as_deref()) {
        Ok(s) => s.registry,
        Err(e) => return bad_input(e),
    };
    let settings = verify_registry_settings(settings, &r.image.host, args.allow_http_registry);
    let docker = docker_config_path(|k| std::env::var(k).ok());
    let chain = match CredentialChain::load(flags, settings.auth_file.as_deref(), docker.as_deref()) {
        Ok(c) => c,
        Err(e) => return bad_input(e),
    };
    let options = ClientOptions { caller: Caller::Verify, overall: Some((started, args.timeout)) };
    let registry = match OciRegistry::with_chain(&settings, chain, options) {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return not_verified(format!("cannot start the async runtime: {e}")),
    };
    let timeout = args.timeout;
    runtime.block_on(async move {
        // Every registry operation stops at the deadline by itself (and says so); this bound is
        // only a backstop for anything else (a hanging credential helper, …).
        let backstop = timeout + Duration::from_secs(1);
        match tokio::time::timeout(backstop, verify(&registry, &r, &policies, trust.as_ref())).await {
            Ok(code) => code,
            Err(_) => not_verified(format!(
                "gave up after {:.1}s (--timeout {}s)",
                started.elapsed().as_secs_f64(),
                timeout.as_secs()
            )),
        }
    })
}

/// The registry settings `verify` uses: those of serve; with no `registry.hosts`, the host of
/// REF; `--allow-http-registry` adds REF's host to the plain-HTTP hosts.
pub fn verify_registry_settings(mut s: RegistrySettings, host: &str, allow_http: bool) -> RegistrySettings {
    if s.hosts.is_empty() {
        s.hosts.push(host.to_string());
    }
    let listed = s.hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
    if allow_http && listed && !s.insecure_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        s.insecure_hosts.push(host.to_string());
    }
    s
}

/// The credential the flags give for REF's host, reading the password from stdin or the
/// environment.
fn flag_credential(args: &VerifyArgs, host: &str) -> Result<Option<FlagCredential>, String> {
    if let Some(token) = &args.registry_token {
        if token.is_empty() {
            return Err("--registry-token is empty".into());
        }
        return Ok(Some(FlagCredential {
            host: host.to_string(),
            credential: Credential::Bearer(token.clone()),
            kind: FlagKind::Token,
        }));
    }
    let Some(username) = &args.registry_username else {
        return Ok(None);
    };
    let (password, kind) = if args.registry_password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("--registry-password-stdin: cannot read standard input: {e}"))?;
        // As `docker login --password-stdin`: the trailing newline is not part of the password.
        let trimmed = text.trim_end_matches(['\n', '\r']).to_string();
        (trimmed, FlagKind::PasswordStdin)
    } else {
        match std::env::var(PASSWORD_ENV) {
            Ok(p) => (p, FlagKind::PasswordEnv),
            Err(_) => {
                return Err(format!(
                    "--registry-username needs a password: pipe it to --registry-password-stdin, or set {PASSWORD_ENV}"
                ))
            }
        }
    };
    if password.is_empty() {
        return Err(format!("the registry password for {username} is empty"));
    }
    Ok(Some(FlagCredential {
        host: host.to_string(),
        credential: Credential::Basic { username: username.clone(), password },
        kind,
    }))
}

async fn verify(registry: &OciRegistry, r: &ImageRef, policies: &[Policy], trust: Option<&TrustedRoot>) -> ExitCode {
    {
        let digest = match resolve(registry, r).await {
            Ok(d) => d,
            Err(e) => return not_verified(e),
        };
        match verify_digest(registry, &r.image, &digest, policies, trust).await {
            Ok(v) => {
                println!("{digest}");
                eprintln!("Verified {}@{digest} by {}", r.image, v.by);
                ExitCode::SUCCESS
            }
            Err(e @ VerifyError::NotSigned(_)) => not_verified(e),
            Err(VerifyError::Rejected(e) | VerifyError::Unavailable(e)) => not_verified(e),
        }
    }
}

/// The digest to verify: the one of the tag (which must equal the given digest, if both are).
async fn resolve(registry: &OciRegistry, r: &ImageRef) -> Result<Digest, String> {
    match (&r.tag, &r.digest) {
        (None, Some(d)) => {
            registry.fetch_manifest(&r.image, d.as_str()).await.map_err(|e| e.to_string())?;
            Ok(d.clone())
        }
        (Some(tag), want) => {
            let m = registry.fetch_manifest(&r.image, tag.as_str()).await.map_err(|e| e.to_string())?;
            match want {
                Some(d) if *d != m.digest => {
                    Err(format!("{}:{tag} resolves to {}, not to the given {d}", r.image, m.digest))
                }
                _ => Ok(m.digest),
            }
        }
        (None, None) => Err("no tag or digest".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse_ref("127.0.0.1:5000/deploy/app:1.2.3").unwrap();
        assert_eq!(r.image.host, "127.0.0.1:5000");
        assert_eq!(r.image.path, "deploy/app");
        assert_eq!(r.tag.unwrap().as_str(), "1.2.3");
        assert!(r.digest.is_none());
        let r = parse_ref(&format!("registry.example.com/app@{d}")).unwrap();
        assert!(r.tag.is_none());
        assert_eq!(r.digest.unwrap().as_str(), d);
        let r = parse_ref(&format!("localhost:5000/app:v1@{d}")).unwrap();
        assert_eq!(r.tag.unwrap().as_str(), "v1");
        for bad in [
            "app:1.0",
            "127.0.0.1:5000/app",
            "127.0.0.1:5000/App:1",
            "127.0.0.1:5000/app@sha256:abc",
            "127.0.0.1:5000/app:bad tag",
            "",
        ] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }
}
