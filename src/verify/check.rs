//! The check itself, shared by [`super::CosignVerifier`] and `baton verify`: find the signatures
//! of one digest in the registry, and accept the digest only if at least one of them verifies
//! under at least one [`Policy`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use regex::Regex;
use sha2::Digest as _;
use sigstore::crypto::{CosignVerificationKey, Signature};
use x509_cert::der::{Decode as _, Encode as _};

use super::trust::{SignedEntry, TrustedRoot};
use super::{Verified, VerifyError};
use crate::registry::{OciRegistry, RegistryError};
use crate::types::{Digest, ImageName};

/// Media type of a cosign signature layer in a `.sig` manifest.
pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The base64 signature over the layer's payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The PEM signing certificate (keyless).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The PEM intermediate certificates (keyless).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The Rekor bundle: `{"SignedEntryTimestamp": …, "Payload": {body, integratedTime, logIndex, logID}}`.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// artifactType (and layer media type) of a Sigstore bundle attached as an OCI referrer.
pub const SIGSTORE_BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The `critical.type` of a cosign simplesigning payload.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";
/// The in-toto predicate type of a cosign 3 image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const IN_TOTO_STATEMENT_TYPES: [&str; 2] = ["https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"];

/// Fulcio's OIDC issuer extensions: v1 holds the raw string, v2 a DER UTF8String.
const FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const SUBJECT_ALT_NAME: &str = "2.5.29.17";

/// At most this many signatures of one digest are examined (`.sig` layers plus referrers).
const MAX_SIGNATURES: usize = 32;

/// One accepted signer: a public key, or a keyless identity (certificate issuer and subject).
pub enum Policy {
    /// `name` says where the key came from (`.baton/keys/deploy.pub`).
    Key { name: String, key: CosignVerificationKey },
    /// `subject` is anchored (`^(?:…)$`) whatever the caller gave; `pattern` is what was given.
    Keyless { issuer: String, subject: Regex, pattern: String },
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Policy {
    /// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo): ECDSA P-256/P-384/P-521, Ed25519 or RSA.
    pub fn key(name: impl Into<String>, pem_text: &[u8]) -> Result<Policy, String> {
        let name = name.into();
        let pem =
            pem::parse(pem_text).map_err(|_| format!("{name} is not a PEM public key (-----BEGIN PUBLIC KEY-----)"))?;
        if pem.tag() != "PUBLIC KEY" {
            return Err(format!("{name} holds a PEM {:?}, not a PUBLIC KEY", pem.tag()));
        }
        let key = CosignVerificationKey::try_from_der(pem.contents())
            .map_err(|e| format!("{name} is not a supported public key: {e}"))?;
        Ok(Policy::Key { name, key })
    }

    /// A keyless identity; `subject` is a regular expression, anchored here.
    pub fn keyless(issuer: &str, subject: &str) -> Result<Policy, String> {
        if issuer.trim().is_empty() {
            return Err("a keyless entry needs a non-empty issuer".into());
        }
        if subject.trim().is_empty() {
            return Err("a keyless entry needs a non-empty subject".into());
        }
        let invalid = |e: regex::Error| {
            let first = e.to_string().lines().last().unwrap_or_default().trim_start_matches("error: ").to_string();
            format!("the subject pattern {subject:?} is not a valid regular expression: {first}")
        };
        Regex::new(subject).map_err(invalid)?;
        let anchored = Regex::new(&format!("^(?:{subject})$")).map_err(invalid)?;
        Ok(Policy::Keyless { issuer: issuer.to_string(), subject: anchored, pattern: subject.to_string() })
    }

    /// `key .baton/keys/deploy.pub` / `keyless https://issuer ^subject-pattern$`.
    pub fn describe(&self) -> String {
        match self {
            Policy::Key { name, .. } => format!("key {name}"),
            Policy::Keyless { issuer, pattern, .. } => format!("keyless {issuer} {pattern}"),
        }
    }
}

/// What the Rekor entry must contain for the signature at hand.
#[derive(Clone, Copy)]
enum EntryKind {
    /// `hashedrekord` 0.0.1: sha256 of the payload, the signature, the certificate.
    HashedRekord,
    /// `dsse` 0.0.1: sha256 of the DSSE payload, the signatures with their certificates.
    Dsse,
}

/// One signature found in the registry, parsed but not yet trusted.
struct Material {
    /// Where it came from, for messages (`.sig signature 1`, `bundle referrer sha256:…`).
    origin: String,
    /// Whether what is signed is exactly the digest being verified (policy-independent).
    binding: Result<(), String>,
    /// The bytes the signature is over (the payload, or the DSSE pre-authentication encoding).
    message: Vec<u8>,
    /// sha256 hex of the payload, as the Rekor entry records it.
    payload_sha256: String,
    signatures: Vec<Vec<u8>>,
    /// The signing certificate (DER), if any, or why it could not be read.
    certificate: Option<Result<Vec<u8>, String>>,
    chain: Vec<Vec<u8>>,
    /// The Rekor signed entry timestamp, if any, or why it could not be read.
    entry: Option<Result<SignedEntry, String>>,
    kind: EntryKind,
}

impl Material {
    fn broken(origin: String, reason: String) -> Material {
        Material {
            origin,
            binding: Err(reason),
            message: Vec::new(),
            payload_sha256: String::new(),
            signatures: Vec::new(),
            certificate: None,
            chain: Vec::new(),
            entry: None,
            kind: EntryKind::HashedRekord,
        }
    }
}

/// A registry read that failed in a way worth retrying (unreachable, refused credentials).
struct Io(String);

fn io_or<T>(e: RegistryError, bad: impl FnOnce(String) -> T) -> Result<T, Io> {
    if e.is_transient() {
        Err(Io(e.to_string()))
    } else {
        Ok(bad(e.to_string()))
    }
}

/// Verifies that `digest` of `image` carries a signature accepted by one of `policies`.
///
/// Fails closed: no policies, no signatures, or any doubt is an error. `NotSigned` when there is
/// no signature at all, `Unavailable` when the registry could not be read completely and nothing
/// verified, `Rejected` (naming what failed for each signature and policy) otherwise.
pub async fn verify_digest(
    registry: &OciRegistry,
    image: &ImageName,
    digest: &Digest,
    policies: &[Policy],
    trust: Option<&TrustedRoot>,
) -> Result<Verified, VerifyError> {
    if policies.is_empty() {
        return Err(VerifyError::Rejected(
            "no verify entries are configured, so no signature can be accepted".to_string(),
        ));
    }
    let mut failures: Vec<String> = Vec::new();
    let mut io: Vec<String> = Vec::new();
    let mut seen = 0usize;

    for source in [Source::SigTag, Source::Referrers] {
        let materials = match source {
            Source::SigTag => sig_tag_materials(registry, image, digest).await,
            Source::Referrers => referrer_materials(registry, image, digest).await,
        };
        let materials = match materials {
            Ok(m) => m,
            Err(Io(e)) => {
                io.push(e);
                continue;
            }
        };
        for m in materials {
            if seen >= MAX_SIGNATURES {
                break;
            }
            seen += 1;
            if let Err(reason) = &m.binding {
                failures.push(format!("{}: {reason}", m.origin));
                continue;
            }
            for policy in policies {
                match check(&m, policy, trust) {
                    Ok(by) => return Ok(Verified { by }),
                    Err(reason) => failures.push(format!("{} with {}: {reason}", m.origin, policy.describe())),
                }
            }
        }
    }
    if !io.is_empty() {
        return Err(VerifyError::Unavailable(format!(
            "cannot read the signatures of {image}@{digest}: {}",
            io.join("; ")
        )));
    }
    if seen == 0 {
        return Err(VerifyError::NotSigned(format!("{image}@{digest}")));
    }
    failures.dedup();
    Err(VerifyError::Rejected(format!("no valid signature for {image}@{digest}: {}", failures.join("; "))))
}

#[derive(Clone, Copy)]
enum Source {
    SigTag,
    Referrers,
}

/// The cosign tag of a digest: `sha256-<hex>.sig`.
pub fn sig_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// Signatures in the cosign `.sig` manifest (one per simplesigning layer).
async fn sig_tag_materials(registry: &OciRegistry, image: &ImageName, digest: &Digest) -> Result<Vec<Material>, Io> {
    let tag = sig_tag(digest);
    let manifest = match registry.fetch_manifest(image, &tag).await {
        Ok(m) => m,
        Err(RegistryError::TagNotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return io_or(e, |r| vec![Material::broken(tag.clone(), r)]),
    };
    let value: serde_json::Value = match serde_json::from_slice(&manifest.bytes) {
        Ok(v) => v,
        Err(_) => return Ok(vec![Material::broken(tag, "the manifest is not JSON".into())]),
    };
    let layers = value.get("layers").and_then(|l| l.as_array()).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        if layer.get("mediaType").and_then(|m| m.as_str()) != Some(SIMPLESIGNING_MEDIA_TYPE) {
            continue;
        }
        let origin = format!(".sig signature {}", i + 1);
        out.push(simplesigning_material(registry, image, digest, origin, layer).await?);
        if out.len() >= MAX_SIGNATURES {
            break;
        }
    }
    Ok(out)
}

fn annotation<'a>(layer: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    layer.get("annotations").and_then(|a| a.get(key)).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty())
}

async fn simplesigning_material(
    registry: &OciRegistry,
    image: &ImageName,
    digest: &Digest,
    origin: String,
    layer: &serde_json::Value,
) -> Result<Material, Io> {
    let broken = |reason: String| Ok(Material::broken(origin.clone(), reason));
    let Some(layer_digest) = layer.get("digest").and_then(|d| d.as_str()).and_then(|d| d.parse::<Digest>().ok()) else {
        return broken("the signature layer has no valid sha256 digest".into());
    };
    let payload = match registry.fetch_blob(image, &layer_digest).await {
        Ok(p) => p,
        Err(e) => return io_or(e, |r| Material::broken(origin.clone(), format!("the payload cannot be read: {r}"))),
    };
    if layer.get("size").and_then(|s| s.as_u64()) != Some(payload.len() as u64) {
        return broken("the payload's size differs from its descriptor".into());
    }
    let Some(signature) = annotation(layer, SIGNATURE_ANNOTATION) else {
        return broken(format!("the layer has no {SIGNATURE_ANNOTATION} annotation"));
    };
    let Ok(signature) = B64.decode(signature.trim()) else {
        return broken("the signature annotation is not base64".into());
    };
    let certificate = annotation(layer, CERTIFICATE_ANNOTATION).map(|pem| {
        first_certificate(pem.as_bytes()).map_err(|e| format!("the certificate annotation cannot be read: {e}"))
    });
    let chain = match annotation(layer, CHAIN_ANNOTATION).map(|p| all_certificates(p.as_bytes())).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return broken(format!("the certificate chain annotation cannot be read: {e}")),
    };
    let entry = annotation(layer, BUNDLE_ANNOTATION).map(parse_rekor_bundle);
    Ok(Material {
        origin,
        binding: simplesigning_binding(&payload, digest),
        payload_sha256: hex::encode(sha2::Sha256::digest(&payload)),
        message: payload,
        signatures: vec![signature],
        certificate,
        chain,
        entry,
        kind: EntryKind::HashedRekord,
    })
}

/// The payload must be a cosign simplesigning document naming exactly `digest`.
fn simplesigning_binding(payload: &[u8], digest: &Digest) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| "the signed payload is not JSON".to_string())?;
    let critical = v.get("critical").ok_or("the signed payload has no \"critical\" section")?;
    let signed = critical
        .get("image")
        .and_then(|i| i.get("docker-manifest-digest"))
        .and_then(|d| d.as_str())
        .ok_or("the signed payload names no critical.image.docker-manifest-digest")?;
    if signed != digest.as_str() {
        return Err(format!("the signature is for {}, not for {digest}", shorten(signed)));
    }
    let kind = critical.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if kind != COSIGN_SIGNATURE_TYPE {
        return Err(format!(
            "the signed payload's critical.type is {:?}, not {COSIGN_SIGNATURE_TYPE:?}",
            shorten(kind)
        ));
    }
    Ok(())
}

/// `{"SignedEntryTimestamp": b64, "Payload": {"body", "integratedTime", "logIndex", "logID"}}`.
fn parse_rekor_bundle(text: &str) -> Result<SignedEntry, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| "the Rekor bundle is not JSON".to_string())?;
    let set =
        v.get("SignedEntryTimestamp").and_then(|s| s.as_str()).ok_or("the Rekor bundle has no SignedEntryTimestamp")?;
    let set = B64.decode(set.trim()).map_err(|_| "the Rekor bundle's SignedEntryTimestamp is not base64")?;
    let p = v.get("Payload").ok_or("the Rekor bundle has no Payload")?;
    Ok(SignedEntry {
        body_b64: p.get("body").and_then(|b| b.as_str()).ok_or("the Rekor bundle has no Payload.body")?.to_string(),
        integrated_time: int_field(p, "integratedTime")?,
        log_index: int_field(p, "logIndex")?,
        log_id: p.get("logID").and_then(|b| b.as_str()).ok_or("the Rekor bundle has no Payload.logID")?.to_string(),
        set,
    })
}

/// An integer that protobuf JSON may write as a string.
fn int_field(v: &serde_json::Value, key: &str) -> Result<i64, String> {
    match v.get(key) {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("the Rekor entry has no integer {key}"))
}

fn first_certificate(pem_text: &[u8]) -> Result<Vec<u8>, String> {
    all_certificates(pem_text)?.into_iter().next().ok_or_else(|| "no CERTIFICATE block".to_string())
}

fn all_certificates(pem_text: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem::parse_many(pem_text).map_err(|_| "not PEM".to_string())?;
    Ok(blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE").map(|b| b.into_contents()).collect())
}

/// Sigstore bundles attached to the digest as OCI referrers (cosign 3's default).
async fn referrer_materials(registry: &OciRegistry, image: &ImageName, digest: &Digest) -> Result<Vec<Material>, Io> {
    let referrers = match registry.referrers(image, digest, Some(SIGSTORE_BUNDLE_MEDIA_TYPE)).await {
        Ok(r) => r,
        Err(RegistryError::TagNotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return io_or(e, |r| vec![Material::broken("the referrers of the digest".into(), r)]),
    };
    let mut out = Vec::new();
    for r in referrers.into_iter().take(MAX_SIGNATURES) {
        let origin = format!("bundle referrer {}", r.digest.short());
        let manifest = match registry.fetch_manifest(image, r.digest.as_str()).await {
            Ok(m) => m,
            Err(e) => {
                out.push(io_or(e, |r| Material::broken(origin.clone(), r))?);
                continue;
            }
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&manifest.bytes) else {
            out.push(Material::broken(origin, "the referrer manifest is not JSON".into()));
            continue;
        };
        let subject = value.get("subject").and_then(|s| s.get("digest")).and_then(|d| d.as_str());
        if subject != Some(digest.as_str()) {
            out.push(Material::broken(origin, format!("the referrer's subject is not {digest}")));
            continue;
        }
        let layer = value.get("layers").and_then(|l| l.as_array()).and_then(|l| {
            l.iter().find(|l| l.get("mediaType").and_then(|m| m.as_str()) == Some(SIGSTORE_BUNDLE_MEDIA_TYPE))
        });
        let Some(layer_digest) =
            layer.and_then(|l| l.get("digest")).and_then(|d| d.as_str()).and_then(|d| d.parse::<Digest>().ok())
        else {
            out.push(Material::broken(origin, "the referrer has no Sigstore bundle layer".into()));
            continue;
        };
        let bundle = match registry.fetch_blob(image, &layer_digest).await {
            Ok(b) => b,
            Err(e) => {
                out.push(io_or(e, |r| Material::broken(origin.clone(), format!("the bundle cannot be read: {r}")))?);
                continue;
            }
        };
        out.push(bundle_material(origin, &bundle, digest));
    }
    Ok(out)
}

/// DSSE pre-authentication encoding: what a DSSE signature is over.
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A Sigstore bundle (v0.1–v0.3) holding a DSSE envelope with a cosign signing statement.
fn bundle_material(origin: String, bundle: &[u8], digest: &Digest) -> Material {
    match parse_bundle(&origin, bundle, digest) {
        Ok(m) => m,
        Err(reason) => Material::broken(origin, reason),
    }
}

fn parse_bundle(origin: &str, bundle: &[u8], digest: &Digest) -> Result<Material, String> {
    let v: serde_json::Value = serde_json::from_slice(bundle).map_err(|_| "the bundle is not JSON".to_string())?;
    let media_type = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    if !media_type.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(format!("the bundle's mediaType {:?} is not a Sigstore bundle", shorten(media_type)));
    }
    let Some(envelope) = v.get("dsseEnvelope") else {
        return Err(
            "the bundle holds no DSSE envelope (a bare message signature does not name the image digest)".into()
        );
    };
    let payload_type = envelope.get("payloadType").and_then(|p| p.as_str()).unwrap_or("");
    let payload = envelope
        .get("payload")
        .and_then(|p| p.as_str())
        .and_then(|p| B64.decode(p.trim()).ok())
        .ok_or("the DSSE envelope has no base64 payload")?;
    let signatures: Vec<Vec<u8>> = envelope
        .get("signatures")
        .and_then(|s| s.as_array())
        .map(|a| a.iter().filter_map(|s| s.get("sig")?.as_str()).filter_map(|s| B64.decode(s.trim()).ok()).collect())
        .unwrap_or_default();
    if signatures.is_empty() {
        return Err("the DSSE envelope has no signatures".into());
    }
    let binding = if payload_type != IN_TOTO_PAYLOAD_TYPE {
        Err(format!("the DSSE payload type is {:?}, not {IN_TOTO_PAYLOAD_TYPE:?}", shorten(payload_type)))
    } else {
        statement_binding(&payload, digest)
    };
    let material = v.get("verificationMaterial");
    let raw =
        |c: &serde_json::Value| c.get("rawBytes").and_then(|r| r.as_str()).and_then(|r| B64.decode(r.trim()).ok());
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let certificate = if let Some(c) = material.and_then(|m| m.get("certificate")) {
        Some(raw(c).ok_or_else(|| "the bundle's certificate is not base64".to_string()))
    } else if let Some(certs) = material
        .and_then(|m| m.get("x509CertificateChain"))
        .and_then(|c| c.get("certificates"))
        .and_then(|c| c.as_array())
    {
        let mut all = certs.iter().map(|c| raw(c).ok_or_else(|| "a bundle certificate is not base64".to_string()));
        let first = all.next();
        chain = all.collect::<Result<_, _>>()?;
        first
    } else {
        None
    };
    let entries = material.and_then(|m| m.get("tlogEntries")).and_then(|t| t.as_array()).cloned().unwrap_or_default();
    let entry = if entries.is_empty() {
        None
    } else {
        Some(entries.iter().find_map(|e| bundle_entry(e).transpose()).unwrap_or_else(|| {
            Err("the bundle's transparency log entries carry no signed entry timestamp (inclusion proofs without one, as Rekor v2 writes, are not supported)".to_string())
        }))
    };
    Ok(Material {
        origin: origin.to_string(),
        binding,
        message: dsse_pae(payload_type, &payload),
        payload_sha256: hex::encode(sha2::Sha256::digest(&payload)),
        signatures,
        certificate,
        chain,
        entry,
        kind: EntryKind::Dsse,
    })
}

/// One `tlogEntries[]` item as a [`SignedEntry`]; `None` when it has no inclusion promise.
fn bundle_entry(e: &serde_json::Value) -> Result<Option<SignedEntry>, String> {
    let Some(set) = e.get("inclusionPromise").and_then(|p| p.get("signedEntryTimestamp")).and_then(|s| s.as_str())
    else {
        return Ok(None);
    };
    let set = B64.decode(set.trim()).map_err(|_| "the signed entry timestamp is not base64")?;
    let body = e
        .get("canonicalizedBody")
        .and_then(|b| b.as_str())
        .and_then(|b| B64.decode(b.trim()).ok())
        .ok_or("the transparency log entry has no base64 canonicalizedBody")?;
    let log_id = e
        .get("logId")
        .and_then(|l| l.get("keyId"))
        .and_then(|k| k.as_str())
        .and_then(|k| B64.decode(k.trim()).ok())
        .ok_or("the transparency log entry has no base64 logId.keyId")?;
    Ok(Some(SignedEntry {
        body_b64: B64.encode(body),
        integrated_time: int_field(e, "integratedTime")?,
        log_index: int_field(e, "logIndex")?,
        log_id: hex::encode(log_id),
        set,
    }))
}

/// The in-toto statement must be a cosign signing statement whose subject includes `digest`.
fn statement_binding(payload: &[u8], digest: &Digest) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| "the signed statement is not JSON".to_string())?;
    let kind = v.get("_type").and_then(|t| t.as_str()).unwrap_or("");
    if !IN_TOTO_STATEMENT_TYPES.contains(&kind) {
        return Err(format!("the signed document is not an in-toto statement (_type {:?})", shorten(kind)));
    }
    let predicate = v.get("predicateType").and_then(|t| t.as_str()).unwrap_or("");
    if predicate != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "the bundle is an attestation of type {:?}, not a cosign signature ({COSIGN_SIGN_PREDICATE})",
            shorten(predicate)
        ));
    }
    let names_digest = v.get("subject").and_then(|s| s.as_array()).is_some_and(|subjects| {
        subjects
            .iter()
            .any(|s| s.get("digest").and_then(|d| d.get("sha256")).and_then(|h| h.as_str()) == Some(digest.hex()))
    });
    if !names_digest {
        return Err(format!("the signed statement's subject is not {digest}"));
    }
    Ok(())
}

/// Checks one (bound) signature against one policy; `Ok` carries [`Verified::by`].
fn check(m: &Material, policy: &Policy, trust: Option<&TrustedRoot>) -> Result<String, String> {
    match policy {
        Policy::Key { name, key } => {
            if any_verifies(key, &m.signatures, &m.message) {
                Ok(format!("key {name}"))
            } else {
                Err("the signature does not verify under this key".into())
            }
        }
        Policy::Keyless { issuer, subject, pattern } => check_keyless(m, issuer, subject, pattern, trust),
    }
}

fn any_verifies(key: &CosignVerificationKey, signatures: &[Vec<u8>], message: &[u8]) -> bool {
    signatures.iter().any(|s| key.verify_signature(Signature::Raw(s), message).is_ok())
}

fn check_keyless(
    m: &Material,
    want_issuer: &str,
    want_subject: &Regex,
    pattern: &str,
    trust: Option<&TrustedRoot>,
) -> Result<String, String> {
    let trust = trust.ok_or(
        "keyless verification needs a Sigstore trusted root: configure verify.trusted_root (baton verify: --trusted-root FILE)",
    )?;
    let cert_der = m.certificate.as_ref().ok_or("the signature carries no certificate")?.clone()?;
    let cert =
        x509_cert::Certificate::from_der(&cert_der).map_err(|e| format!("the certificate cannot be parsed: {e}"))?;
    let identity = fulcio_identity(&cert)?;
    if identity.issuers.is_empty() {
        return Err("the certificate has no Fulcio OIDC issuer extension".into());
    }
    if let Some(other) = identity.issuers.iter().find(|i| i.as_str() != want_issuer) {
        return Err(format!("the certificate's issuer is {:?}, not {want_issuer:?}", shorten(other)));
    }
    let Some(subject) = identity.subjects.iter().find(|s| want_subject.is_match(s)) else {
        return Err(match identity.subjects.as_slice() {
            [] => "the certificate has no URI or email subject".into(),
            subjects => format!(
                "the certificate's subject {} does not match {}",
                subjects.iter().map(|s| format!("{:?}", shorten(s))).collect::<Vec<_>>().join(", "),
                pattern
            ),
        });
    };
    let entry = m
        .entry
        .as_ref()
        .ok_or("the signature has no Rekor bundle (signed entry timestamp), which keyless needs")?
        .clone()?;
    trust.verify_set(&entry)?;
    entry_matches(&entry, m, &cert_der)?;
    trust.verify_chain(&cert_der, &m.chain, entry.integrated_time)?;
    let key = CosignVerificationKey::try_from(&cert.tbs_certificate.subject_public_key_info)
        .map_err(|e| format!("the certificate's key is not supported: {e}"))?;
    if !any_verifies(&key, &m.signatures, &m.message) {
        return Err("the signature was not made by the certificate's key".into());
    }
    Ok(format!("keyless {want_issuer} {subject}"))
}

struct Identity {
    issuers: Vec<String>,
    subjects: Vec<String>,
}

/// The Fulcio issuer extensions (every one present) and the URI/email SANs of a certificate.
fn fulcio_identity(cert: &x509_cert::Certificate) -> Result<Identity, String> {
    let mut issuers = Vec::new();
    let mut subjects = Vec::new();
    for ext in cert.tbs_certificate.extensions.as_deref().unwrap_or_default() {
        let oid = ext.extn_id.to_string();
        let value = ext.extn_value.as_bytes();
        if oid == FULCIO_ISSUER_V1 {
            let s = std::str::from_utf8(value).map_err(|_| "the certificate's issuer (v1) is not UTF-8".to_string())?;
            issuers.push(s.to_string());
        } else if oid == FULCIO_ISSUER_V2 {
            let s = x509_cert::der::asn1::Utf8StringRef::from_der(value)
                .map_err(|_| "the certificate's issuer (v2) is not a UTF8String".to_string())?;
            issuers.push(s.as_str().to_string());
        } else if oid == SUBJECT_ALT_NAME {
            let san = x509_cert::ext::pkix::SubjectAltName::from_der(value)
                .map_err(|_| "the certificate's subject alternative names cannot be parsed".to_string())?;
            for name in san.0 {
                match name {
                    x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(u) => {
                        subjects.push(u.as_str().to_string())
                    }
                    x509_cert::ext::pkix::name::GeneralName::Rfc822Name(e) => subjects.push(e.as_str().to_string()),
                    _ => {}
                }
            }
        }
    }
    Ok(Identity { issuers, subjects })
}

/// The Rekor entry must record this payload, this signature and this certificate.
fn entry_matches(entry: &SignedEntry, m: &Material, cert_der: &[u8]) -> Result<(), String> {
    let mismatch = |what: &str| Err(format!("the Rekor entry is for a different {what}"));
    let body = entry.body()?;
    let kind = body.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let spec = body.get("spec").ok_or("the Rekor entry has no spec")?;
    let b64 = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).and_then(|s| B64.decode(s.trim()).ok());
    let same_cert = |v: Option<&serde_json::Value>| {
        b64(v).and_then(|pem| first_certificate(&pem).ok()).is_some_and(|der| der == cert_der)
    };
    let sha256_is = |h: Option<&serde_json::Value>| {
        h.is_some_and(|h| {
            h.get("algorithm").and_then(|a| a.as_str()) == Some("sha256")
                && h.get("value").and_then(|v| v.as_str()) == Some(m.payload_sha256.as_str())
        })
    };
    match m.kind {
        EntryKind::HashedRekord => {
            if kind != "hashedrekord" {
                return Err(format!("the Rekor entry is of kind {:?}, not hashedrekord", shorten(kind)));
            }
            if !sha256_is(spec.get("data").and_then(|d| d.get("hash"))) {
                return mismatch("payload");
            }
            let sig = spec.get("signature");
            if !b64(sig.and_then(|s| s.get("content"))).is_some_and(|s| m.signatures.contains(&s)) {
                return mismatch("signature");
            }
            if !same_cert(sig.and_then(|s| s.get("publicKey")).and_then(|k| k.get("content"))) {
                return mismatch("certificate");
            }
        }
        EntryKind::Dsse => {
            if kind != "dsse" {
                return Err(format!("the Rekor entry is of kind {:?}, not dsse", shorten(kind)));
            }
            if !sha256_is(spec.get("payloadHash")) {
                return mismatch("payload");
            }
            let sigs = spec.get("signatures").and_then(|s| s.as_array()).cloned().unwrap_or_default();
            let found = sigs.iter().any(|s| {
                b64(s.get("signature")).is_some_and(|sig| m.signatures.contains(&sig)) && same_cert(s.get("verifier"))
            });
            if !found {
                return mismatch("signature or certificate");
            }
        }
    }
    // The certificate must encode to what was logged; re-encoding guards against BER tricks.
    let reencoded = x509_cert::Certificate::from_der(cert_der).and_then(|c| c.to_der()).map_err(|e| e.to_string())?;
    if reencoded != cert_der {
        return Err("the certificate is not in canonical DER".into());
    }
    Ok(())
}

fn shorten(s: &str) -> String {
    crate::types::shorten_to(s, 120)
}
