//! Test signing: P-256 keys, cosign simplesigning payloads and `.sig` manifests built exactly as
//! cosign builds them, a test Fulcio CA issuing certificates with the Fulcio issuer extensions,
//! a test Rekor key producing signed entry timestamps, and a Sigstore `trusted_root.json`.
//!
//! Include it with `#[path = "support/signing.rs"] mod signing;` next to `registry.rs`.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use sha2::Digest as _;

use super::registry::{sha256, TestRegistry, OCI_MANIFEST_TYPE};

pub const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const WORKFLOW: &str = "https://github.com/org/deployment/.github/workflows/build.yml@refs/heads/main";

/// A P-256 key pair.
#[derive(Clone)]
pub struct Key {
    pub signing: SigningKey,
}

impl Key {
    pub fn generate() -> Key {
        Key { signing: SigningKey::random(&mut rand_core::OsRng) }
    }
    /// PEM `PUBLIC KEY`, as `cosign generate-key-pair` writes `cosign.pub`.
    pub fn public_pem(&self) -> String {
        self.signing.verifying_key().to_public_key_pem(LineEnding::LF).unwrap()
    }
    /// DER SubjectPublicKeyInfo.
    pub fn public_der(&self) -> Vec<u8> {
        self.signing.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec()
    }
    /// ASN.1 DER ECDSA-SHA256 signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.signing.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }
    fn rcgen(&self) -> rcgen::KeyPair {
        let der = self.signing.to_pkcs8_der().unwrap();
        rcgen::KeyPair::try_from(der.as_bytes()).unwrap()
    }
}

/// The simplesigning payload cosign signs for `image@digest`.
pub fn payload(image: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": image},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

/// One layer of a `.sig` manifest.
#[derive(Clone, Default)]
pub struct SigLayer {
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    pub certificate_pem: Option<String>,
    pub chain_pem: Option<String>,
    pub bundle: Option<String>,
}

impl SigLayer {
    /// A key-based signature of `payload`.
    pub fn signed(key: &Key, payload: Vec<u8>) -> SigLayer {
        SigLayer { signature: key.sign(&payload), payload, ..SigLayer::default() }
    }
}

/// `sha256-<hex>.sig`.
pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// Pushes the `.sig` manifest of `digest` (config `{}` and one blob per layer), as cosign does.
pub async fn push_signatures(reg: &TestRegistry, repo: &str, digest: &str, layers: &[SigLayer]) -> String {
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    reg.push_blob(repo, config).await;
    let mut descriptors = Vec::new();
    for l in layers {
        reg.push_blob(repo, &l.payload).await;
        let mut ann = serde_json::Map::new();
        ann.insert("dev.cosignproject.cosign/signature".into(), B64.encode(&l.signature).into());
        if let Some(c) = &l.certificate_pem {
            ann.insert("dev.sigstore.cosign/certificate".into(), c.clone().into());
        }
        if let Some(c) = &l.chain_pem {
            ann.insert("dev.sigstore.cosign/chain".into(), c.clone().into());
        }
        if let Some(b) = &l.bundle {
            ann.insert("dev.sigstore.cosign/bundle".into(), b.clone().into());
        }
        descriptors.push(serde_json::json!({
            "mediaType": SIMPLESIGNING,
            "size": l.payload.len(),
            "digest": sha256(&l.payload),
            "annotations": ann,
        }));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": sha256(config)},
        "layers": descriptors,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    reg.push_manifest(repo, &sig_tag(digest), OCI_MANIFEST_TYPE, &bytes).await
}

/// A test Fulcio: a self-signed root and an intermediate, both P-256.
pub struct Ca {
    pub root_key: Key,
    pub root_der: Vec<u8>,
    pub intermediate_key: Key,
    pub intermediate_der: Vec<u8>,
    pub intermediate_pem: String,
    intermediate_params: rcgen::CertificateParams,
}

fn ca_params(cn: &str) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::OrganizationName, "baton-test");
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(2010, 1, 1);
    p.not_after = rcgen::date_time_ymd(2100, 1, 1);
    p
}

/// DER of a UTF8String.
fn der_utf8(s: &str) -> Vec<u8> {
    assert!(s.len() < 128);
    let mut out = vec![0x0c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

/// What a leaf certificate says.
pub struct Identity<'a> {
    pub issuer: &'a str,
    pub subject_uri: Option<&'a str>,
    pub subject_email: Option<&'a str>,
    /// Add the v1 (raw) issuer extension.
    pub v1: bool,
    /// Add the v2 (UTF8String) issuer extension.
    pub v2: bool,
}

impl<'a> Identity<'a> {
    pub fn workflow(issuer: &'a str, uri: &'a str) -> Identity<'a> {
        Identity { issuer, subject_uri: Some(uri), subject_email: None, v1: true, v2: true }
    }
}

/// A Fulcio-style leaf certificate and its key.
pub struct Leaf {
    pub key: Key,
    pub der: Vec<u8>,
    pub pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let root_key = Key::generate();
        let root_params = ca_params(&format!("{name} root"));
        let root_rc = root_key.rcgen();
        let root = root_params.self_signed(&root_rc).unwrap();
        let root_issuer = rcgen::Issuer::new(root_params, root_rc);
        let intermediate_key = Key::generate();
        let intermediate_params = ca_params(&format!("{name} intermediate"));
        let intermediate = intermediate_params.signed_by(&intermediate_key.rcgen(), &root_issuer).unwrap();
        Ca {
            root_key,
            root_der: root.der().to_vec(),
            intermediate_key,
            intermediate_der: intermediate.der().to_vec(),
            intermediate_pem: intermediate.pem(),
            intermediate_params,
        }
    }

    /// Issues a code-signing leaf (valid 2020–2100) with the Fulcio issuer extension(s).
    pub fn issue(&self, id: &Identity<'_>) -> Leaf {
        let key = Key::generate();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2100, 1, 1);
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        if let Some(uri) = id.subject_uri {
            p.subject_alt_names.push(rcgen::SanType::URI(uri.try_into().unwrap()));
        }
        if let Some(email) = id.subject_email {
            p.subject_alt_names.push(rcgen::SanType::Rfc822Name(email.try_into().unwrap()));
        }
        if id.v1 {
            p.custom_extensions.push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
                id.issuer.as_bytes().to_vec(),
            ));
        }
        if id.v2 {
            p.custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 8], der_utf8(id.issuer)));
        }
        let issuer = rcgen::Issuer::from_params(&self.intermediate_params, self.intermediate_key.rcgen());
        let cert = p.signed_by(&key.rcgen(), &issuer).unwrap();
        Leaf { key, der: cert.der().to_vec(), pem: cert.pem() }
    }
}

/// A test Rekor: its key signs entry timestamps.
pub struct Rekor {
    pub key: Key,
}

impl Rekor {
    pub fn new() -> Rekor {
        Rekor { key: Key::generate() }
    }
    /// The log ID: sha256 of the DER public key, hex.
    pub fn log_id(&self) -> String {
        hex::encode(sha2::Sha256::digest(self.key.public_der()))
    }
    /// A `hashedrekord` 0.0.1 entry body for this payload, signature and certificate.
    pub fn hashedrekord(payload: &[u8], signature: &[u8], cert_pem: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha2::Sha256::digest(payload))}},
                "signature": {"content": B64.encode(signature), "publicKey": {"content": B64.encode(cert_pem)}},
            },
        }))
        .unwrap()
    }
    /// The SET over the canonical JSON of `{body, integratedTime, logID, logIndex}`.
    pub fn set(&self, body_b64: &str, integrated_time: i64, log_index: i64) -> Vec<u8> {
        let canonical = format!(
            r#"{{"body":{},"integratedTime":{integrated_time},"logID":"{}","logIndex":{log_index}}}"#,
            serde_json::to_string(body_b64).unwrap(),
            self.log_id()
        );
        self.key.sign(canonical.as_bytes())
    }
    /// The `dev.sigstore.cosign/bundle` annotation for an entry with this body.
    pub fn bundle(&self, body: &[u8], integrated_time: i64) -> String {
        let body_b64 = B64.encode(body);
        let set = self.set(&body_b64, integrated_time, 42);
        serde_json::to_string(&serde_json::json!({
            "SignedEntryTimestamp": B64.encode(set),
            "Payload": {"body": body_b64, "integratedTime": integrated_time, "logIndex": 42, "logID": self.log_id()},
        }))
        .unwrap()
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A keyless `.sig` layer: `leaf` signs `payload`; the Rekor entry records exactly that.
pub fn keyless_layer(ca: &Ca, rekor: &Rekor, leaf: &Leaf, payload: Vec<u8>) -> SigLayer {
    let signature = leaf.key.sign(&payload);
    let body = Rekor::hashedrekord(&payload, &signature, &leaf.pem);
    SigLayer {
        bundle: Some(rekor.bundle(&body, now())),
        certificate_pem: Some(leaf.pem.clone()),
        chain_pem: Some(ca.intermediate_pem.clone()),
        signature,
        payload,
    }
}

/// A Sigstore `trusted_root.json` with these CAs (chains, intermediate first) and Rekor key.
pub fn trusted_root(cas: &[&Ca], rekor: &Rekor) -> String {
    let authorities: Vec<_> = cas
        .iter()
        .map(|ca| {
            serde_json::json!({
                "subject": {"organization": "baton-test", "commonName": "test fulcio"},
                "uri": "https://fulcio.test",
                "certChain": {"certificates": [
                    {"rawBytes": B64.encode(&ca.intermediate_der)},
                    {"rawBytes": B64.encode(&ca.root_der)},
                ]},
                "validFor": {"start": "2010-01-01T00:00:00Z"},
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": B64.encode(rekor.key.public_der()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2010-01-01T00:00:00Z"},
            },
            "logId": {"keyId": B64.encode(hex::decode(rekor.log_id()).unwrap())},
        }],
        "certificateAuthorities": authorities,
        "ctlogs": [],
        "timestampAuthorities": [],
    }))
    .unwrap()
}

/// A cosign 3 Sigstore bundle (v0.3, DSSE in-toto statement of the cosign sign predicate).
pub fn dsse_bundle(digest: &str, signer: &Key, cert: Option<(&Leaf, &Rekor)>) -> Vec<u8> {
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "image", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    }))
    .unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, statement.len()).into_bytes();
    pae.extend_from_slice(&statement);
    let sig = signer.sign(&pae);
    let mut material = serde_json::json!({"publicKey": {"hint": "test"}});
    if let Some((leaf, rekor)) = cert {
        let body = serde_json::to_vec(&serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": "00"},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha2::Sha256::digest(&statement))},
                "signatures": [{"signature": B64.encode(&sig), "verifier": B64.encode(&leaf.pem)}],
            },
        }))
        .unwrap();
        let body_b64 = B64.encode(&body);
        let t = now();
        let set = rekor.set(&body_b64, t, 42);
        material = serde_json::json!({
            "certificate": {"rawBytes": B64.encode(&leaf.der)},
            "tlogEntries": [{
                "logIndex": "42",
                "logId": {"keyId": B64.encode(hex::decode(rekor.log_id()).unwrap())},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": t.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": B64.encode(set)},
                "canonicalizedBody": body_b64,
            }],
        });
    }
    serde_json::to_vec(&serde_json::json!({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": B64.encode(&statement),
            "payloadType": payload_type,
            "signatures": [{"sig": B64.encode(&sig), "keyid": ""}],
        },
    }))
    .unwrap()
}

/// Attaches `bundle` to `digest` as an OCI referrer the way cosign 3 does, plus the referrers
/// tag `sha256-<hex>` index (Docker Distribution has no referrers API).
pub async fn push_bundle_referrer(reg: &TestRegistry, repo: &str, digest: &str, subject_size: usize, bundle: &[u8]) {
    let empty = b"{}";
    reg.push_blob(repo, empty).await;
    reg.push_blob(repo, bundle).await;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_TYPE,
        "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": sha256(empty)},
        "layers": [{"mediaType": BUNDLE_TYPE, "size": bundle.len(), "digest": sha256(bundle)}],
        "subject": {"mediaType": OCI_MANIFEST_TYPE, "size": subject_size, "digest": digest},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
    }))
    .unwrap();
    let manifest_digest = sha256(&manifest);
    reg.push_manifest(repo, &manifest_digest, OCI_MANIFEST_TYPE, &manifest).await;
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": OCI_MANIFEST_TYPE, "artifactType": BUNDLE_TYPE, "size": manifest.len(), "digest": manifest_digest}],
    }))
    .unwrap();
    reg.push_manifest(repo, &digest.replace(':', "-"), "application/vnd.oci.image.index.v1+json", &index).await;
}
