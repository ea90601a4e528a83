//! The offline trust checks against real Sigstore public-good material: the production
//! `trusted_root.json` (as embedded in sigstore-rs) and a real `cosign sign-blob --bundle`
//! output (from sigstore-rs's test data): the Rekor SET and the Fulcio chain must verify with
//! baton's canonicalization and path building, and fail when anything is changed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use baton::verify::trust::SignedEntry;
use baton::verify::TrustedRoot;

const PUBLIC_GOOD_ROOT: &str = include_str!("data/sigstore/public-good-trusted_root.json");
const BLOB_BUNDLE: &str = include_str!("data/sigstore/cosign-sign-blob-bundle.json");

fn entry(bundle: &serde_json::Value) -> SignedEntry {
    let p = &bundle["rekorBundle"]["Payload"];
    SignedEntry {
        body_b64: p["body"].as_str().unwrap().to_string(),
        integrated_time: p["integratedTime"].as_i64().unwrap(),
        log_index: p["logIndex"].as_i64().unwrap(),
        log_id: p["logID"].as_str().unwrap().to_string(),
        set: B64.decode(bundle["rekorBundle"]["SignedEntryTimestamp"].as_str().unwrap()).unwrap(),
    }
}

fn leaf_der(bundle: &serde_json::Value) -> Vec<u8> {
    let pem_text = B64.decode(bundle["cert"].as_str().unwrap()).unwrap();
    pem::parse(pem_text).unwrap().into_contents()
}

#[test]
fn public_good_set_and_chain_verify_offline() {
    let root = TrustedRoot::from_json(PUBLIC_GOOD_ROOT.as_bytes()).unwrap();
    let bundle: serde_json::Value = serde_json::from_str(BLOB_BUNDLE).unwrap();
    let e = entry(&bundle);
    root.verify_set(&e).unwrap();
    let body = e.body().unwrap();
    assert_eq!(body["kind"], "hashedrekord");

    let leaf = leaf_der(&bundle);
    root.verify_chain(&leaf, &[], e.integrated_time).unwrap();
    // Fulcio certificates live ten minutes: an hour later the same certificate is not valid.
    let err = root.verify_chain(&leaf, &[], e.integrated_time + 3600).unwrap_err();
    assert!(err.contains("not valid at the signature's integration time"), "{err}");
}

#[test]
fn public_good_set_rejects_any_change() {
    let root = TrustedRoot::from_json(PUBLIC_GOOD_ROOT.as_bytes()).unwrap();
    let bundle: serde_json::Value = serde_json::from_str(BLOB_BUNDLE).unwrap();
    let good = entry(&bundle);

    let mut e = good.clone();
    e.integrated_time += 1;
    assert!(root.verify_set(&e).unwrap_err().contains("does not verify"));
    let mut e = good.clone();
    e.log_index += 1;
    assert!(root.verify_set(&e).is_err());
    let mut e = good.clone();
    e.body_b64 = B64.encode(b"{}");
    assert!(root.verify_set(&e).is_err());
    let mut e = good.clone();
    e.log_id = "00".repeat(32);
    assert!(root.verify_set(&e).unwrap_err().contains("not in the trusted root"));
}

#[test]
fn public_good_certificate_does_not_chain_to_another_root() {
    // A trusted root with only a test CA does not accept a real Fulcio certificate.
    let bundle: serde_json::Value = serde_json::from_str(BLOB_BUNDLE).unwrap();
    let mut root: serde_json::Value = serde_json::from_str(PUBLIC_GOOD_ROOT).unwrap();
    let cas = root["certificateAuthorities"].as_array_mut().unwrap();
    cas.retain(|ca| ca["validFor"]["end"].is_string()); // keep only the 2021–2022 CA
    let root = TrustedRoot::from_json(root.to_string().as_bytes()).unwrap();
    let e = entry(&bundle);
    let err = root.verify_chain(&leaf_der(&bundle), &[], e.integrated_time).unwrap_err();
    assert!(err.contains("no CA of the trusted root was valid") || err.contains("not issued by a CA"), "{err}");
}
