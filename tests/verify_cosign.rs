//! Signature verification against a real registry (Docker Distribution) with real signatures
//! made here: cosign `.sig` manifests (key and keyless) and Sigstore bundle referrers.

#[path = "support/registry.rs"]
mod registry;
#[path = "support/signing.rs"]
mod signing;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use baton::github::{FileContent, GitHubError, RepoFiles, Result as GhResult};
use baton::pipeline::{Artifact, VerifyEntry};
use baton::registry::{OciRegistry, RegistrySettings};
use baton::types::{Digest, ImageName, RepoName};
use baton::verify::{verify_digest, CosignVerifier, Policy, TrustedRoot, Verifier, VerifyContext, VerifyError};
use registry::TestRegistry;
use signing::*;

const REPO: &str = "deploy/app";
const KEY_PATH: &str = ".baton/keys/deploy.pub";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Serves key files from a map; every other operation fails.
struct KeyFiles(HashMap<String, String>);

#[async_trait]
impl RepoFiles for KeyFiles {
    async fn file(&self, _: &RepoName, path: &str, at: &str) -> GhResult<FileContent> {
        assert_eq!(at, COMMIT, "keys are read at the verified commit");
        match self.0.get(path) {
            Some(text) => Ok(FileContent { path: path.into(), sha: "blob".into(), text: text.clone() }),
            None => Err(GitHubError::NotFound(path.into())),
        }
    }
}

struct Env {
    reg: TestRegistry,
    client: Arc<OciRegistry>,
    image: ImageName,
    digest: Digest,
}

impl Env {
    async fn new() -> Env {
        let reg = TestRegistry::start(None).await;
        let digest = reg.push_artifact(REPO, "1.0.0", b"manifests v1", &[]).await.parse().unwrap();
        let client = Arc::new(
            OciRegistry::new(&RegistrySettings {
                hosts: vec![reg.host()],
                insecure_hosts: vec![reg.host()],
                timeout_secs: 10,
                ..RegistrySettings::default()
            })
            .unwrap(),
        );
        let image = format!("{}/{REPO}", reg.host()).parse().unwrap();
        Env { reg, client, image, digest }
    }

    fn image_ref(&self) -> String {
        self.image.to_string()
    }

    fn payload(&self) -> Vec<u8> {
        payload(&self.image_ref(), self.digest.as_str())
    }

    async fn sign(&self, layers: &[SigLayer]) {
        push_signatures(&self.reg, REPO, self.digest.as_str(), layers).await;
    }

    async fn check(&self, policies: &[Policy], trust: Option<&TrustedRoot>) -> Result<String, VerifyError> {
        verify_digest(&self.client, &self.image, &self.digest, policies, trust).await.map(|v| v.by)
    }

    /// Through `CosignVerifier`, with key files served by a fake GitHub.
    async fn verifier(
        &self,
        entries: Vec<VerifyEntry>,
        files: &[(&str, String)],
        trust: Option<TrustedRoot>,
    ) -> Result<String, VerifyError> {
        let github = Arc::new(KeyFiles(files.iter().map(|(p, t)| (p.to_string(), t.clone())).collect()));
        let verifier = CosignVerifier::new(self.client.clone(), github, Ok(trust.map(Arc::new)));
        let artifact = Artifact {
            name: "app".parse().unwrap(),
            image: self.image.clone(),
            tags: regex::Regex::new(r"^\d+\.\d+\.\d+$").unwrap(),
            track: None,
            verify: entries,
        };
        let repo: RepoName = "org/deployment".parse().unwrap();
        let ctx = VerifyContext { repo: &repo, commit: COMMIT, artifact: &artifact, digest: &self.digest };
        verifier.verify(&ctx).await.map(|v| v.by)
    }
}

fn key_entry() -> VerifyEntry {
    VerifyEntry::Key { path: KEY_PATH.parse().unwrap() }
}

fn keyless_entry(issuer: &str, subject: &str) -> VerifyEntry {
    VerifyEntry::Keyless { issuer: issuer.into(), subject: regex::Regex::new(subject).unwrap() }
}

fn workflow_re() -> &'static str {
    r"^https://github\.com/org/deployment/\.github/workflows/build\.yml@refs/heads/main$"
}

fn keyless(issuer: &str) -> Policy {
    Policy::keyless(issuer, workflow_re()).unwrap()
}

/// Message with the run-specific parts (registry port, digests) replaced, for snapshots.
fn redact(msg: &str) -> String {
    let msg = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap().replace_all(msg, "[registry]");
    let msg = regex::Regex::new(r"sha256:[0-9a-f]{64}").unwrap().replace_all(&msg, "[digest]");
    regex::Regex::new(r"sha256:[0-9a-f]{12}").unwrap().replace_all(&msg, "[short-digest]").into_owned()
}

fn rejected(r: Result<String, VerifyError>) -> String {
    match r {
        Err(VerifyError::Rejected(m)) => redact(&m),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

struct Keyless {
    ca: Ca,
    rekor: Rekor,
}

impl Keyless {
    fn new() -> Keyless {
        Keyless { ca: Ca::new("fulcio"), rekor: Rekor::new() }
    }
    fn trust(&self) -> TrustedRoot {
        TrustedRoot::from_json(trusted_root(&[&self.ca], &self.rekor).as_bytes()).unwrap()
    }
    fn leaf(&self) -> Leaf {
        self.ca.issue(&Identity::workflow(GITHUB_ISSUER, WORKFLOW))
    }
}

// ---------------------------------------------------------------------------------------------
// Key-based

#[tokio::test]
async fn key_good_signature_verifies() {
    let env = Env::new().await;
    let key = Key::generate();
    env.sign(&[SigLayer::signed(&key, env.payload())]).await;
    let by = env.verifier(vec![key_entry()], &[(KEY_PATH, key.public_pem())], None).await.unwrap();
    assert_eq!(by, "key .baton/keys/deploy.pub");
    // The same through the shared check with a local key.
    let policy = Policy::key("cosign.pub", key.public_pem().as_bytes()).unwrap();
    assert_eq!(env.check(&[policy], None).await.unwrap(), "key cosign.pub");
}

#[tokio::test]
async fn key_any_of_several_signatures_and_entries() {
    let env = Env::new().await;
    let (other, key) = (Key::generate(), Key::generate());
    env.sign(&[SigLayer::signed(&other, env.payload()), SigLayer::signed(&key, env.payload())]).await;
    let entries = vec![keyless_entry(GITHUB_ISSUER, workflow_re()), key_entry()];
    let by = env.verifier(entries, &[(KEY_PATH, key.public_pem())], None).await.unwrap();
    assert_eq!(by, "key .baton/keys/deploy.pub");
}

#[tokio::test]
async fn key_wrong_key_is_rejected() {
    let env = Env::new().await;
    env.sign(&[SigLayer::signed(&Key::generate(), env.payload())]).await;
    let msg = rejected(env.verifier(vec![key_entry()], &[(KEY_PATH, Key::generate().public_pem())], None).await);
    insta::assert_snapshot!(msg, @"no valid signature for [registry]/deploy/app@[digest]: .sig signature 1 with key .baton/keys/deploy.pub: the signature does not verify under this key");
}

#[tokio::test]
async fn unsigned_is_not_signed() {
    let env = Env::new().await;
    let key = Key::generate();
    match env.verifier(vec![key_entry()], &[(KEY_PATH, key.public_pem())], None).await {
        Err(VerifyError::NotSigned(m)) => assert_eq!(redact(&m), "[registry]/deploy/app@[digest]"),
        other => panic!("expected NotSigned, got {other:?}"),
    }
    // A .sig manifest with no signature layers is no signature either.
    env.sign(&[]).await;
    assert!(matches!(
        env.check(&[Policy::key("k", key.public_pem().as_bytes()).unwrap()], None).await,
        Err(VerifyError::NotSigned(_))
    ));
}

#[tokio::test]
async fn signature_copied_from_another_digest_is_rejected() {
    let env = Env::new().await;
    let key = Key::generate();
    let other = env.reg.push_artifact(REPO, "0.9.0", b"manifests v0.9", &[]).await;
    // A genuine signature of the other digest, attached to ours.
    env.sign(&[SigLayer::signed(&key, payload(&env.image_ref(), &other))]).await;
    let msg = rejected(env.verifier(vec![key_entry()], &[(KEY_PATH, key.public_pem())], None).await);
    insta::assert_snapshot!(msg, @"no valid signature for [registry]/deploy/app@[digest]: .sig signature 1: the signature is for [digest], not for [digest]");
}

#[tokio::test]
async fn tampered_payload_is_rejected() {
    let env = Env::new().await;
    let key = Key::generate();
    let mut layer = SigLayer::signed(&key, env.payload());
    // Same digest named, different bytes (an added optional field): the signature no longer holds.
    let mut v: serde_json::Value = serde_json::from_slice(&layer.payload).unwrap();
    v["optional"] = serde_json::json!({"tampered": "yes"});
    layer.payload = serde_json::to_vec(&v).unwrap();
    env.sign(&[layer]).await;
    let msg = rejected(env.verifier(vec![key_entry()], &[(KEY_PATH, key.public_pem())], None).await);
    insta::assert_snapshot!(msg, @"no valid signature for [registry]/deploy/app@[digest]: .sig signature 1 with key .baton/keys/deploy.pub: the signature does not verify under this key");
}

#[tokio::test]
async fn no_entries_and_missing_key_files_fail() {
    let env = Env::new().await;
    let key = Key::generate();
    env.sign(&[SigLayer::signed(&key, env.payload())]).await;
    let msg = rejected(env.verifier(vec![], &[], None).await);
    insta::assert_snapshot!(msg, @"[registry]/deploy/app@[digest]: no verify entries are configured, so no signature can be accepted");
    let msg = rejected(env.verifier(vec![key_entry()], &[], None).await);
    insta::assert_snapshot!(msg, @"[registry]/deploy/app@[digest]: key .baton/keys/deploy.pub: the file does not exist in org/deployment at 0123456789ab");
    let msg = rejected(env.verifier(vec![key_entry()], &[(KEY_PATH, "not a key".into())], None).await);
    insta::assert_snapshot!(msg, @"[registry]/deploy/app@[digest]: key .baton/keys/deploy.pub: .baton/keys/deploy.pub is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
    assert!(matches!(env.check(&[], None).await, Err(VerifyError::Rejected(_))));
}

// ---------------------------------------------------------------------------------------------
// Keyless

#[tokio::test]
async fn keyless_good_identity_verifies() {
    let env = Env::new().await;
    let k = Keyless::new();
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &k.leaf(), env.payload())]).await;
    let by = env.verifier(vec![keyless_entry(GITHUB_ISSUER, workflow_re())], &[], Some(k.trust())).await.unwrap();
    assert_eq!(by, format!("keyless {GITHUB_ISSUER} {WORKFLOW}"));
}

#[tokio::test]
async fn keyless_v1_only_and_email_subjects() {
    let env = Env::new().await;
    let k = Keyless::new();
    let leaf = k.ca.issue(&Identity {
        issuer: "https://accounts.example.com",
        subject_uri: None,
        subject_email: Some("release@example.com"),
        v1: true,
        v2: false,
    });
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &leaf, env.payload())]).await;
    let p = Policy::keyless("https://accounts.example.com", r"release@example\.com").unwrap();
    assert_eq!(
        env.check(&[p], Some(&k.trust())).await.unwrap(),
        "keyless https://accounts.example.com release@example.com"
    );
    // Anchored: a pattern matching only part of the subject is not enough.
    let p = Policy::keyless("https://accounts.example.com", r"release@example").unwrap();
    assert!(env.check(&[p], Some(&k.trust())).await.is_err());
}

#[tokio::test]
async fn keyless_wrong_subject_is_rejected() {
    let env = Env::new().await;
    let k = Keyless::new();
    let leaf = k.ca.issue(&Identity::workflow(
        GITHUB_ISSUER,
        "https://github.com/evil/fork/.github/workflows/build.yml@refs/heads/main",
    ));
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &leaf, env.payload())]).await;
    let msg = rejected(env.verifier(vec![keyless_entry(GITHUB_ISSUER, workflow_re())], &[], Some(k.trust())).await);
    insta::assert_snapshot!(msg);
}

#[tokio::test]
async fn keyless_wrong_issuer_is_rejected() {
    let env = Env::new().await;
    let k = Keyless::new();
    let leaf = k.ca.issue(&Identity::workflow("https://token.evil.example", WORKFLOW));
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &leaf, env.payload())]).await;
    let msg = rejected(env.verifier(vec![keyless_entry(GITHUB_ISSUER, workflow_re())], &[], Some(k.trust())).await);
    insta::assert_snapshot!(msg);
    // Both issuer extensions must agree with the configured issuer.
    let leaf = k.ca.issue(&Identity { v2: false, ..Identity::workflow("https://token.evil.example", WORKFLOW) });
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &leaf, env.payload())]).await;
    assert!(env.check(&[keyless(GITHUB_ISSUER)], Some(&k.trust())).await.is_err());
}

#[tokio::test]
async fn keyless_untrusted_ca_is_rejected() {
    let env = Env::new().await;
    let k = Keyless::new();
    let rogue = Ca::new("rogue");
    // Same identity, same Rekor, but issued by a CA that is not in the trusted root.
    let leaf = rogue.issue(&Identity::workflow(GITHUB_ISSUER, WORKFLOW));
    env.sign(&[keyless_layer(&rogue, &k.rekor, &leaf, env.payload())]).await;
    let msg = rejected(env.verifier(vec![keyless_entry(GITHUB_ISSUER, workflow_re())], &[], Some(k.trust())).await);
    insta::assert_snapshot!(msg);
}

#[tokio::test]
async fn keyless_legit_certificate_on_payload_signed_by_another_key_is_rejected() {
    let env = Env::new().await;
    let k = Keyless::new();
    let leaf = k.leaf();
    let attacker = Key::generate();
    let trust = k.trust();

    // (a) The legitimate certificate and Rekor bundle (of a genuine signature by the leaf key
    // over another artifact's payload), with our payload signed by the attacker's key.
    let other = env.reg.push_artifact(REPO, "0.9.0", b"manifests v0.9", &[]).await;
    let genuine = keyless_layer(&k.ca, &k.rekor, &leaf, payload(&env.image_ref(), &other));
    let forged = SigLayer { payload: env.payload(), signature: attacker.sign(&env.payload()), ..genuine.clone() };
    env.sign(&[forged]).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&trust)).await);
    insta::assert_snapshot!("keyless_foreign_signature_logged_entry_mismatch", msg);

    // (b) Even with a (validly signed) log entry that records the attacker's signature next to
    // the legitimate certificate, the signature must verify under the certificate's key.
    let signature = attacker.sign(&env.payload());
    let body = Rekor::hashedrekord(&env.payload(), &signature, &leaf.pem);
    let forged = SigLayer {
        payload: env.payload(),
        signature,
        certificate_pem: Some(leaf.pem.clone()),
        chain_pem: Some(k.ca.intermediate_pem.clone()),
        bundle: Some(k.rekor.bundle(&body, now())),
    };
    env.sign(&[forged]).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&trust)).await);
    insta::assert_snapshot!(msg, @r"no valid signature for [registry]/deploy/app@[digest]: .sig signature 1 with keyless https://token.actions.githubusercontent.com ^https://github\.com/org/deployment/\.github/workflows/build\.yml@refs/heads/main$: the signature was not made by the certificate's key");
}

#[tokio::test]
async fn keyless_needs_a_valid_signed_entry_timestamp() {
    let env = Env::new().await;
    let k = Keyless::new();
    let leaf = k.leaf();
    let trust = k.trust();

    let mut no_bundle = keyless_layer(&k.ca, &k.rekor, &leaf, env.payload());
    no_bundle.bundle = None;
    env.sign(&[no_bundle]).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&trust)).await);
    assert!(msg.ends_with("the signature has no Rekor bundle (signed entry timestamp), which keyless needs"), "{msg}");

    // A SET made by a key that is not the trusted Rekor key (same log ID claimed).
    let mut layer = keyless_layer(&k.ca, &k.rekor, &leaf, env.payload());
    let impostor = Rekor { key: Key::generate() };
    let mut bundle: serde_json::Value = serde_json::from_str(layer.bundle.as_deref().unwrap()).unwrap();
    let body_b64 = bundle["Payload"]["body"].as_str().unwrap().to_string();
    let t = bundle["Payload"]["integratedTime"].as_i64().unwrap();
    let set = {
        use base64::Engine as _;
        let canonical =
            format!(r#"{{"body":"{body_b64}","integratedTime":{t},"logID":"{}","logIndex":42}}"#, k.rekor.log_id());
        base64::engine::general_purpose::STANDARD.encode(impostor.key.sign(canonical.as_bytes()))
    };
    bundle["SignedEntryTimestamp"] = set.into();
    layer.bundle = Some(bundle.to_string());
    env.sign(&[layer.clone()]).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&trust)).await);
    assert!(msg.ends_with("the Rekor signed entry timestamp does not verify under the log's key"), "{msg}");

    // Logged when the certificate (valid 2020–2100) was not valid: Fulcio certificates live for
    // minutes, so a signature logged outside that window is not trusted.
    let mut layer = keyless_layer(&k.ca, &k.rekor, &leaf, env.payload());
    let body = Rekor::hashedrekord(&layer.payload, &layer.signature, &leaf.pem);
    layer.bundle = Some(k.rekor.bundle(&body, 1_500_000_000)); // 2017
    env.sign(&[layer.clone()]).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&trust)).await);
    assert!(msg.ends_with("the certificate was not valid at the signature's integration time 1500000000"), "{msg}");
    // Before the CA's (and log key's) validFor in the trusted root.
    layer.bundle = Some(k.rekor.bundle(&body, 1_000_000_000)); // 2001
    env.sign(&[layer]).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&trust)).await);
    assert!(msg.contains("outside the validity of the log key in the trusted root"), "{msg}");
}

#[tokio::test]
async fn keyless_without_trusted_root_fails_saying_what_to_configure() {
    let env = Env::new().await;
    let k = Keyless::new();
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &k.leaf(), env.payload())]).await;
    let msg = rejected(env.verifier(vec![keyless_entry(GITHUB_ISSUER, workflow_re())], &[], None).await);
    assert!(msg.contains("configure verify.trusted_root"), "{msg}");
    // Key entries still work without one.
    let key = Key::generate();
    env.sign(&[SigLayer::signed(&key, env.payload())]).await;
    let entries = vec![keyless_entry(GITHUB_ISSUER, workflow_re()), key_entry()];
    assert_eq!(
        env.verifier(entries, &[(KEY_PATH, key.public_pem())], None).await.unwrap(),
        "key .baton/keys/deploy.pub"
    );
}

#[tokio::test]
async fn empty_issuer_or_subject_never_passes() {
    assert!(Policy::keyless("", "x").is_err());
    assert!(Policy::keyless(GITHUB_ISSUER, "").is_err());
    assert!(Policy::keyless(GITHUB_ISSUER, "(").is_err());
    let env = Env::new().await;
    let k = Keyless::new();
    env.sign(&[keyless_layer(&k.ca, &k.rekor, &k.leaf(), env.payload())]).await;
    let msg = rejected(env.verifier(vec![keyless_entry("", ".*")], &[], Some(k.trust())).await);
    assert!(msg.contains("a keyless entry needs a non-empty issuer"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Sigstore bundles as OCI referrers (cosign 3)

#[tokio::test]
async fn bundle_referrer_with_key_verifies() {
    let env = Env::new().await;
    let key = Key::generate();
    let (manifest, _) = env.reg.artifact_manifest(b"manifests v1", &[]);
    let bundle = dsse_bundle(env.digest.as_str(), &key, None);
    push_bundle_referrer(&env.reg, REPO, env.digest.as_str(), manifest.len(), &bundle).await;
    let by = env.verifier(vec![key_entry()], &[(KEY_PATH, key.public_pem())], None).await.unwrap();
    assert_eq!(by, "key .baton/keys/deploy.pub");
    let msg = rejected(env.verifier(vec![key_entry()], &[(KEY_PATH, Key::generate().public_pem())], None).await);
    insta::assert_snapshot!(msg, @"no valid signature for [registry]/deploy/app@[digest]: bundle referrer [short-digest] with key .baton/keys/deploy.pub: the signature does not verify under this key");
}

#[tokio::test]
async fn bundle_referrer_keyless_verifies_and_checks_subject_digest() {
    let env = Env::new().await;
    let k = Keyless::new();
    let leaf = k.leaf();
    let (manifest, _) = env.reg.artifact_manifest(b"manifests v1", &[]);
    let bundle = dsse_bundle(env.digest.as_str(), &leaf.key, Some((&leaf, &k.rekor)));
    push_bundle_referrer(&env.reg, REPO, env.digest.as_str(), manifest.len(), &bundle).await;
    let by = env.check(&[keyless(GITHUB_ISSUER)], Some(&k.trust())).await.unwrap();
    assert_eq!(by, format!("keyless {GITHUB_ISSUER} {WORKFLOW}"));
    // Signed by another key than the certificate's.
    let attacker = Key::generate();
    let forged = dsse_bundle(env.digest.as_str(), &attacker, Some((&leaf, &k.rekor)));
    push_bundle_referrer(&env.reg, REPO, env.digest.as_str(), manifest.len(), &forged).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&k.trust())).await);
    assert!(msg.ends_with("the signature was not made by the certificate's key"), "{msg}");

    // A statement about another digest, attached to ours.
    let other = env.reg.push_artifact(REPO, "0.9.0", b"manifests v0.9", &[]).await;
    let copied = dsse_bundle(&other, &leaf.key, Some((&leaf, &k.rekor)));
    push_bundle_referrer(&env.reg, REPO, env.digest.as_str(), manifest.len(), &copied).await;
    let msg = rejected(env.check(&[keyless(GITHUB_ISSUER)], Some(&k.trust())).await);
    insta::assert_snapshot!(msg, @"no valid signature for [registry]/deploy/app@[digest]: bundle referrer [short-digest]: the signed statement's subject is not [digest]");
}

#[test]
fn trusted_root_errors_name_the_problem() {
    assert!(TrustedRoot::from_json(b"{}").unwrap_err().contains("certificateAuthorities"));
    assert!(TrustedRoot::from_json(b"not json").unwrap_err().contains("not a Sigstore trusted_root.json"));
    let k = Keyless::new();
    let mut v: serde_json::Value = serde_json::from_str(&trusted_root(&[&k.ca], &k.rekor)).unwrap();
    v["tlogs"] = serde_json::json!([]);
    assert!(TrustedRoot::from_json(v.to_string().as_bytes()).unwrap_err().contains("tlogs"));
    let e = TrustedRoot::from_file(std::path::Path::new("/nonexistent/trusted_root.json")).unwrap_err();
    assert!(e.contains("cannot read the trusted root"), "{e}");
}

#[tokio::test]
async fn a_verification_is_bounded_by_one_deadline() {
    // A registry that accepts connections and never answers; 1s per request, 2s in all.
    let (_hole, host) = registry::black_hole();
    let client = Arc::new(
        OciRegistry::new(&RegistrySettings {
            hosts: vec![host.clone()],
            insecure_hosts: vec![host.clone()],
            timeout_secs: 1,
            deadline_secs: 2,
            ..RegistrySettings::default()
        })
        .unwrap(),
    );
    let key = Key::generate();
    let github = Arc::new(KeyFiles([(KEY_PATH.to_string(), key.public_pem())].into_iter().collect()));
    let verifier = CosignVerifier::new(client, github, Ok(None));
    let image: ImageName = format!("{host}/{REPO}").parse().unwrap();
    let artifact = Artifact {
        name: "app".parse().unwrap(),
        image,
        tags: regex::Regex::new(r"^\d+\.\d+\.\d+$").unwrap(),
        track: None,
        verify: vec![key_entry()],
    };
    let repo: RepoName = "org/deployment".parse().unwrap();
    let digest = Digest::of(b"x");
    let ctx = VerifyContext { repo: &repo, commit: COMMIT, artifact: &artifact, digest: &digest };
    let started = std::time::Instant::now();
    let err = verifier.verify(&ctx).await.unwrap_err();
    let spent = started.elapsed();
    println!("verification against a black hole, timeout 1s, deadline 2s: {err} (measured {spent:?})");
    assert!(spent >= std::time::Duration::from_secs(2) && spent < std::time::Duration::from_millis(2600), "{spent:?}");
    let VerifyError::Unavailable(text) = &err else { panic!("expected Unavailable, got {err:?}") };
    let said: f64 =
        regex::Regex::new(r"gave up after (\d+\.\d)s").unwrap().captures(text).expect("time in the message")[1]
            .parse()
            .unwrap();
    assert!((2.0..=spent.as_secs_f64() + 0.1).contains(&said), "said {said}s, measured {spent:?}");
    let text = regex::Regex::new(r"after \d+\.\ds").unwrap().replace_all(text, "after [time]").into_owned();
    insta::assert_snapshot!("verification_deadline", redact(&text.replace(&host, "[registry]")));
}
