//! `baton verify REF [--key FILE] [--certificate-identity-regexp RE --certificate-oidc-issuer URL]
//! [--trusted-root FILE] [--allow-http-registry]`.
//!
//! Prints the verified digest on stdout (and what verified it on stderr). Exit 0 verified, 1 not
//! verified (the reason on stderr), 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::registry::{OciRegistry, RegistrySettings};
use crate::types::{Digest, ImageName, Tag};
use crate::verify::check::{verify_digest, Policy};
use crate::verify::trust::TrustedRoot;
use crate::verify::VerifyError;

#[derive(Debug, Args)]
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
    let host = r.image.host.clone();
    let settings = RegistrySettings {
        hosts: vec![host.clone()],
        insecure_hosts: if args.allow_http_registry { vec![host] } else { vec![] },
        ..RegistrySettings::default()
    };
    let registry = match OciRegistry::new(&settings) {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return not_verified(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let digest = match resolve(&registry, &r).await {
            Ok(d) => d,
            Err(e) => return not_verified(e),
        };
        match verify_digest(&registry, &r.image, &digest, &policies, trust.as_ref()).await {
            Ok(v) => {
                println!("{digest}");
                eprintln!("Verified {}@{digest} by {}", r.image, v.by);
                ExitCode::SUCCESS
            }
            Err(e @ VerifyError::NotSigned(_)) => not_verified(e),
            Err(VerifyError::Rejected(e) | VerifyError::Unavailable(e)) => not_verified(e),
        }
    })
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
