//! The offline Sigstore trust material: a `trusted_root.json` (the Sigstore format, as written
//! by `cosign trusted-root create` or fetched from Sigstore's TUF repository) holding the Fulcio
//! CA certificates and the Rekor public keys, each with its validity window. Nothing here talks
//! to the network.
//!
//! - [`TrustedRoot::verify_set`] checks a Rekor signed entry timestamp (SET): an ECDSA (or other
//!   supported) signature by the transparency log's key over the canonical JSON (RFC 8785) of
//!   `{body, integratedTime, logID, logIndex}`.
//! - [`TrustedRoot::verify_chain`] checks that a certificate chains to a trusted Fulcio CA (with
//!   rustls-webpki), with the code-signing extended key usage, at the log's integration time
//!   (Fulcio certificates live for minutes; the SET proves when the signature was logged).

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::Deserialize;
use sigstore::crypto::{CosignVerificationKey, Signature};

/// The DER content of the code-signing key purpose, 1.3.6.1.5.5.7.3.3 (RFC 5280 §4.2.1.12).
const ID_KP_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A time window in Unix seconds; `None` ends are open.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start: Option<i64>,
    end: Option<i64>,
}

impl Window {
    fn contains(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

struct CertificateAuthority {
    /// DER certificates, the issuing (most specific) one first and the root last.
    chain: Vec<Vec<u8>>,
    valid: Window,
}

struct TransparencyLog {
    /// The log ID (sha256 of the log's public key) in lowercase hex.
    key_id: String,
    key: CosignVerificationKey,
    valid: Window,
}

/// The parsed trust material. Cheap to share behind an `Arc`.
pub struct TrustedRoot {
    cas: Vec<CertificateAuthority>,
    tlogs: Vec<TransparencyLog>,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoot")
            .field("certificate_authorities", &self.cas.len())
            .field("tlogs", &self.tlogs.iter().map(|t| t.key_id.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// A Rekor signed entry timestamp with what it signs.
#[derive(Debug, Clone)]
pub struct SignedEntry {
    /// The entry body, base64 as Rekor returns it.
    pub body_b64: String,
    pub integrated_time: i64,
    pub log_index: i64,
    /// Log ID in lowercase hex.
    pub log_id: String,
    /// The signature bytes of the SET.
    pub set: Vec<u8>,
}

impl SignedEntry {
    /// The decoded entry body (a Rekor entry as JSON).
    pub fn body(&self) -> Result<serde_json::Value, String> {
        let bytes = B64.decode(self.body_b64.trim()).map_err(|_| "the Rekor entry body is not base64".to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| "the Rekor entry body is not JSON".to_string())
    }
}

// The Sigstore `TrustedRoot` in its protobuf JSON form; unknown fields (ctlogs,
// timestampAuthorities, mediaType, …) are ignored: the format grows.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    #[serde(default)]
    base_url: Option<String>,
    public_key: Option<RawPublicKey>,
    log_id: Option<RawLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    raw_bytes: Option<String>,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: Option<String>,
    cert_chain: Option<RawChain>,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawRange {
    start: Option<String>,
    end: Option<String>,
}

fn parse_time(s: &str, what: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|_| format!("{what}: {s:?} is not an RFC 3339 time"))
}

fn parse_window(r: Option<&RawRange>, what: &str) -> Result<Window, String> {
    let Some(r) = r else { return Ok(Window::default()) };
    Ok(Window {
        start: r.start.as_deref().map(|s| parse_time(s, what)).transpose()?,
        end: r.end.as_deref().map(|s| parse_time(s, what)).transpose()?,
    })
}

impl TrustedRoot {
    /// Reads and parses a `trusted_root.json`.
    pub fn from_file(path: &Path) -> Result<TrustedRoot, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the trusted root {}: {e}", path.display()))?;
        TrustedRoot::from_json(&bytes).map_err(|e| format!("the trusted root {}: {e}", path.display()))
    }

    /// Parses a `trusted_root.json`. At least one CA and one transparency log are required.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, String> {
        let raw: RawRoot =
            serde_json::from_slice(bytes).map_err(|e| format!("not a Sigstore trusted_root.json: {e}"))?;
        let mut cas = Vec::new();
        for (i, ca) in raw.certificate_authorities.iter().enumerate() {
            let what = format!("certificateAuthorities[{i}] ({})", ca.uri.as_deref().unwrap_or("no uri"));
            let chain = ca
                .cert_chain
                .as_ref()
                .map(|c| {
                    c.certificates
                        .iter()
                        .map(|c| {
                            B64.decode(c.raw_bytes.trim()).map_err(|_| format!("{what}: a certificate is not base64"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default();
            if chain.is_empty() {
                return Err(format!("{what} has no certificates"));
            }
            for der in &chain {
                webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice()))
                    .map_err(|e| format!("{what}: a certificate cannot be parsed: {e}"))?;
            }
            cas.push(CertificateAuthority { chain, valid: parse_window(ca.valid_for.as_ref(), &what)? });
        }
        let mut tlogs = Vec::new();
        for (i, log) in raw.tlogs.iter().enumerate() {
            let what = format!("tlogs[{i}] ({})", log.base_url.as_deref().unwrap_or("no baseUrl"));
            let pk = log.public_key.as_ref().ok_or_else(|| format!("{what} has no publicKey"))?;
            let der =
                pk.raw_bytes.as_deref().ok_or_else(|| format!("{what} has no publicKey.rawBytes")).and_then(|b| {
                    B64.decode(b.trim()).map_err(|_| format!("{what}: publicKey.rawBytes is not base64"))
                })?;
            let key = CosignVerificationKey::try_from_der(&der)
                .map_err(|e| format!("{what}: unsupported or malformed public key: {e}"))?;
            let key_id =
                log.log_id.as_ref().ok_or_else(|| format!("{what} has no logId")).and_then(|l| {
                    B64.decode(l.key_id.trim()).map_err(|_| format!("{what}: logId.keyId is not base64"))
                })?;
            tlogs.push(TransparencyLog {
                key_id: hex::encode(key_id),
                key,
                valid: parse_window(pk.valid_for.as_ref(), &what)?,
            });
        }
        if cas.is_empty() {
            return Err("it lists no certificateAuthorities (Fulcio CAs)".into());
        }
        if tlogs.is_empty() {
            return Err("it lists no tlogs (Rekor public keys)".into());
        }
        Ok(TrustedRoot { cas, tlogs })
    }

    /// Verifies a Rekor signed entry timestamp with the key of the log it names, which must
    /// have been valid at the entry's integration time.
    pub fn verify_set(&self, entry: &SignedEntry) -> Result<(), String> {
        let log = self.tlogs.iter().find(|l| l.key_id.eq_ignore_ascii_case(&entry.log_id)).ok_or_else(|| {
            format!(
                "the Rekor bundle names transparency log {} which is not in the trusted root",
                shorten(&entry.log_id)
            )
        })?;
        if !log.valid.contains(entry.integrated_time) {
            return Err(format!(
                "the Rekor entry's integration time {} is outside the validity of the log key in the trusted root",
                entry.integrated_time
            ));
        }
        let payload = serde_json::json!({
            "body": entry.body_b64,
            "integratedTime": entry.integrated_time,
            "logID": entry.log_id,
            "logIndex": entry.log_index,
        });
        let canonical = serde_json_canonicalizer::to_vec(&payload)
            .map_err(|e| format!("cannot canonicalize the Rekor bundle payload: {e}"))?;
        log.key
            .verify_signature(Signature::Raw(&entry.set), &canonical)
            .map_err(|_| "the Rekor signed entry timestamp does not verify under the log's key".to_string())
    }

    /// Verifies that `leaf` chains to one of the trusted CAs (valid at `at`), for code signing,
    /// with every certificate of the path valid at `at` (Unix seconds). `intermediates` are
    /// untrusted extra certificates that may help build the path.
    pub fn verify_chain(&self, leaf: &[u8], intermediates: &[Vec<u8>], at: i64) -> Result<(), String> {
        let at_u = u64::try_from(at).map_err(|_| format!("integration time {at} is negative"))?;
        leaf_is_for_code_signing(leaf)?;
        let leaf = CertificateDer::from(leaf);
        let ee =
            webpki::EndEntityCert::try_from(&leaf).map_err(|e| format!("the certificate cannot be parsed: {e}"))?;
        let active: Vec<&CertificateAuthority> = self.cas.iter().filter(|ca| ca.valid.contains(at)).collect();
        if active.is_empty() {
            return Err(format!("no CA of the trusted root was valid at the signature's integration time {at}"));
        }
        let mut anchors: Vec<TrustAnchor<'_>> = Vec::new();
        let mut inter: Vec<CertificateDer<'_>> = Vec::new();
        for ca in &active {
            let (root, rest) = ca.chain.split_last().expect("chains are non-empty");
            let anchor = webpki::anchor_from_trusted_cert(&CertificateDer::from(root.as_slice()))
                .map_err(|e| format!("a trusted root certificate cannot be parsed: {e}"))?
                .to_owned();
            anchors.push(anchor);
            inter.extend(rest.iter().map(|c| CertificateDer::from(c.as_slice())));
        }
        inter.extend(intermediates.iter().map(|c| CertificateDer::from(c.as_slice())));
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &inter,
            UnixTime::since_unix_epoch(Duration::from_secs(at_u)),
            // The leaf's EKU is checked above; CA certificates may omit the extension.
            webpki::KeyUsage::required_if_present(ID_KP_CODE_SIGNING),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| match e {
            webpki::Error::UnknownIssuer => "the certificate was not issued by a CA in the trusted root".to_string(),
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                format!("the certificate was not valid at the signature's integration time {at}")
            }
            webpki::Error::RequiredEkuNotFoundContext(_) => "the certificate is not for code signing".to_string(),
            other => format!("the certificate chain does not verify: {other}"),
        })
    }
}

/// The leaf must carry the extended key usage extension with code signing (as Fulcio's do).
fn leaf_is_for_code_signing(der: &[u8]) -> Result<(), String> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| format!("the certificate cannot be parsed: {e}"))?;
    let code_signing = x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    let eku = x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.29.37");
    let ok =
        cert.tbs_certificate.extensions.as_deref().unwrap_or_default().iter().filter(|e| e.extn_id == eku).any(|e| {
            x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                .is_ok_and(|usages| usages.0.contains(&code_signing))
        });
    if ok {
        Ok(())
    } else {
        Err("the certificate is not for code signing".into())
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}
