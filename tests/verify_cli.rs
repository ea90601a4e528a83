//! `baton verify` as a binary against a real registry: exit 0 verified, 1 not verified, 2 bad input.

#[path = "support/registry.rs"]
mod registry;
#[path = "support/signing.rs"]
mod signing;

use std::path::Path;
use std::process::Command;

use registry::TestRegistry;
use signing::*;

const REPO: &str = "deploy/app";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn baton_verify(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("verify")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run baton");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn redact(msg: &str) -> String {
    let msg = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap().replace_all(msg, "[registry]");
    let msg = regex::Regex::new(r"sha256:[0-9a-f]{64}").unwrap().replace_all(&msg, "[digest]");
    let msg = regex::Regex::new(r"/tmp/\.tmp[A-Za-z0-9]+").unwrap().replace_all(&msg, "[tmp]");
    msg.into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn verify_cli_exit_codes() {
    let reg = TestRegistry::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/{REPO}", reg.host());
    let digest = reg.push_artifact(REPO, "1.0.0", b"manifests v1", &[]).await;
    let unsigned = reg.push_artifact(REPO, "0.9.0", b"manifests v0.9", &[]).await;

    let key = Key::generate();
    let key_file = write(dir.path(), "cosign.pub", &key.public_pem());
    let other_key = write(dir.path(), "other.pub", &Key::generate().public_pem());

    let k_ca = Ca::new("fulcio");
    let rekor = Rekor::new();
    let leaf = k_ca.issue(&Identity::workflow(GITHUB_ISSUER, WORKFLOW));
    let root = write(dir.path(), "trusted_root.json", &trusted_root(&[&k_ca], &rekor));
    push_signatures(
        &reg,
        REPO,
        &digest,
        &[
            SigLayer::signed(&key, payload(&image, &digest)),
            keyless_layer(&k_ca, &rekor, &leaf, payload(&image, &digest)),
        ],
    )
    .await;
    let tag_ref = format!("{image}:1.0.0");
    let digest_ref = format!("{image}@{digest}");
    let workflow_re = r"https://github\.com/org/deployment/\.github/workflows/build\.yml@refs/heads/main";

    // 0: verified, by key (tag or digest), by identity.
    let r = baton_verify(&[&tag_ref, "--key", &key_file, "--allow-http-registry"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{digest}\n"));
    assert_eq!(redact(&r.stderr), "Verified [registry]/deploy/app@[digest] by key [tmp]/cosign.pub\n");
    let r = baton_verify(&[&digest_ref, "--key", &key_file, "--allow-http-registry"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, format!("{digest}\n").as_str()), "{}", r.stderr);
    let r = baton_verify(&[
        &format!("{image}:1.0.0@{digest}"),
        "--certificate-identity-regexp",
        workflow_re,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--trusted-root",
        &root,
        "--allow-http-registry",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        redact(&r.stderr),
        format!("Verified [registry]/deploy/app@[digest] by keyless {GITHUB_ISSUER} {WORKFLOW}\n")
    );

    // 1: not verified, with the reason.
    let mut failures = Vec::new();
    for (name, args) in [
        ("wrong key", vec![tag_ref.clone(), "--key".into(), other_key.clone()]),
        ("unsigned", vec![format!("{image}:0.9.0"), "--key".into(), key_file.clone()]),
        (
            "wrong identity",
            vec![
                tag_ref.clone(),
                "--certificate-identity-regexp".into(),
                "https://github.com/org/other/.*".into(),
                "--certificate-oidc-issuer".into(),
                GITHUB_ISSUER.into(),
                "--trusted-root".into(),
                root.clone(),
            ],
        ),
        ("tag and digest disagree", vec![format!("{image}:1.0.0@{unsigned}"), "--key".into(), key_file.clone()]),
        ("missing tag", vec![format!("{image}:2.0.0"), "--key".into(), key_file.clone()]),
    ] {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.push("--allow-http-registry");
        let r = baton_verify(&args);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{name}");
        failures.push(format!("{name}: {}", redact(&r.stderr)));
    }
    insta::assert_snapshot!("verify_cli_not_verified", failures.join("\n"));

    // 2: bad input.
    let mut bad = Vec::new();
    for (name, args) in [
        ("unparseable ref", vec!["not a ref".to_string(), "--key".into(), key_file.clone()]),
        ("no tag or digest", vec![image.clone(), "--key".into(), key_file.clone()]),
        ("missing key file", vec![tag_ref.clone(), "--key".into(), "/nonexistent/cosign.pub".into()]),
        ("not a key", vec![tag_ref.clone(), "--key".into(), root.clone()]),
        ("no key or identity", vec![tag_ref.clone()]),
        (
            "invalid regex",
            vec![
                tag_ref.clone(),
                "--certificate-identity-regexp".into(),
                "(".into(),
                "--certificate-oidc-issuer".into(),
                GITHUB_ISSUER.into(),
                "--trusted-root".into(),
                root.clone(),
            ],
        ),
        (
            "keyless without trusted root",
            vec![
                tag_ref.clone(),
                "--certificate-identity-regexp".into(),
                ".*".into(),
                "--certificate-oidc-issuer".into(),
                GITHUB_ISSUER.into(),
            ],
        ),
        (
            "bad trusted root",
            vec![
                tag_ref.clone(),
                "--certificate-identity-regexp".into(),
                ".*".into(),
                "--certificate-oidc-issuer".into(),
                GITHUB_ISSUER.into(),
                "--trusted-root".into(),
                key_file.clone(),
            ],
        ),
    ] {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.push("--allow-http-registry");
        let r = baton_verify(&args);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        bad.push(format!("{name}: {}", redact(&r.stderr)));
    }
    insta::assert_snapshot!("verify_cli_bad_input", bad.join("\n"));
    // Only one of the identity flags: a usage error from clap.
    let r = baton_verify(&[&tag_ref, "--certificate-oidc-issuer", GITHUB_ISSUER]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--certificate-identity-regexp"), "{}", r.stderr);

    // Without --allow-http-registry the registry is spoken to over HTTPS and cannot be reached.
    let r = baton_verify(&[&tag_ref, "--key", &key_file]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("could not be reached"), "{}", r.stderr);
}
