//! `baton verify` as a binary against a real registry: exit 0 verified, 1 not verified, 2 bad input.

#[path = "support/registry.rs"]
mod registry;
#[path = "support/signing.rs"]
mod signing;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry::{Login, TestRegistry, TokenServer};
use signing::*;

const REPO: &str = "deploy/app";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn baton_verify(args: &[&str]) -> Run {
    baton_verify_with(args, &[], None)
}

/// An empty directory used as DOCKER_CONFIG, so that no test reads the machine user's logins.
fn no_docker_config() -> &'static str {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path().to_str().unwrap()
}

/// Runs `baton verify` with extra environment variables and, optionally, text on stdin.
/// BATON_* and DOCKER_CONFIG of the test's own environment are never passed on.
fn baton_verify_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.arg("verify").args(args).env_remove("RUST_LOG").env("DOCKER_CONFIG", no_docker_config());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("BATON_")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run baton");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().expect("run baton");
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

    // Without --allow-http-registry the registry is spoken to over HTTPS and cannot be reached;
    // the message names the flag.
    let r = baton_verify(&[&tag_ref, "--key", &key_file]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("could not be reached"), "{}", r.stderr);
    assert!(r.stderr.contains("if this registry speaks plain HTTP, add --allow-http-registry"), "{}", r.stderr);
    let tls_detail = regex::Regex::new(r"could not be reached: .*\(the TLS").unwrap();
    insta::assert_snapshot!(
        "verify_cli_plain_http",
        tls_detail.replace(&redact(&r.stderr), "could not be reached: [tls error] (the TLS")
    );
}

/// A signed artifact in a registry that wants a login: (registry, image, digest, key file).
async fn signed_behind_login(login: Login, repo: &str, dir: &Path) -> (TestRegistry, String, String, String) {
    let reg = TestRegistry::start_with(None, login).await;
    let image = format!("{}/{repo}", reg.host());
    let digest = reg.push_artifact(repo, "1.0.0", format!("manifests of {repo}").as_bytes(), &[]).await;
    let key = Key::generate();
    let key_file = write(dir, &format!("{}.pub", repo.replace('/', "-")), &key.public_pem());
    push_signatures(&reg, repo, &digest, &[SigLayer::signed(&key, payload(&image, &digest))]).await;
    (reg, image, digest, key_file)
}

fn docker_config_dir(dir: &Path, name: &str, json: &str) -> String {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("config.json"), json).unwrap();
    d.display().to_string()
}

fn basic_auths(host: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)
}

/// A `docker-credential-baton-test` helper in its own directory (to put first on PATH): answers
/// `get` for `host` with the test user, "credentials not found" for anything else, and appends
/// what it was given on stdin to `asked`.
fn credential_helper(dir: &Path, host: &str, asked: &Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("helper-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
[ "$1" = get ] || exit 1
url=$(cat)
printf '%s\n' "$url" >> '{asked}'
if [ "$url" = '{host}' ]; then
  printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{password}"}}\n' "$url"
else
  echo "credentials not found in native keychain"
  exit 1
fi
"#,
        asked = asked.display(),
        user = registry::USERNAME,
        password = registry::PASSWORD,
    );
    let path = bin.join("docker-credential-baton-test");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// No secret in any line baton printed, including its logs at the most verbose level.
fn assert_no_secret(what: &str, r: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !r.stderr.contains(secret) && !r.stdout.contains(secret),
            "{what}: a secret was printed:\n{}",
            r.stderr
        );
    }
}

/// (name, flags, environment, stdin) of one way to give credentials.
type Source<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, Option<String>);

#[tokio::test]
async fn verify_with_each_credential_source_htpasswd() {
    let dir = tempfile::tempdir().unwrap();
    let login = Login::Htpasswd { username: registry::USERNAME.into(), password: registry::PASSWORD.into() };
    let (reg, image, digest, key_file) = signed_behind_login(login, "private/app", dir.path()).await;
    let host = reg.host();
    let tag_ref = format!("{image}:1.0.0");
    let good = basic_auths(&host, registry::USERNAME, registry::PASSWORD);
    let auth_file = write(dir.path(), "auth.json", &good);
    let settings = write(
        dir.path(),
        "baton.toml",
        &format!("[registry]\nhosts = [\"{host}\"]\ninsecure_hosts = [\"{host}\"]\nauth_file = \"{auth_file}\"\n"),
    );
    let docker_auths = docker_config_dir(dir.path(), "docker-auths", &good);
    let asked = dir.path().join("helper-asked.txt");
    let path = credential_helper(dir.path(), &host, &asked);
    let docker_helper =
        docker_config_dir(dir.path(), "docker-helper", &format!(r#"{{"credHelpers": {{"{host}": "baton-test"}}}}"#));
    let docker_store = docker_config_dir(dir.path(), "docker-store", r#"{"credsStore": "baton-test"}"#);
    let base = ["--key", key_file.as_str(), "--allow-http-registry"];
    let trace = ("RUST_LOG", "trace");

    // Each source alone verifies (exit 0), and no secret is printed even at trace level.
    let sources: Vec<Source> = vec![
        (
            "--registry-password-stdin",
            vec!["--registry-username", registry::USERNAME, "--registry-password-stdin"],
            vec![trace],
            Some(format!("{}\n", registry::PASSWORD)),
        ),
        (
            "BATON_REGISTRY_PASSWORD",
            vec!["--registry-username", registry::USERNAME],
            vec![trace, ("BATON_REGISTRY_PASSWORD", registry::PASSWORD)],
            None,
        ),
        ("--config registry.auth_file", vec!["--config", settings.as_str()], vec![trace], None),
        ("BATON_REGISTRY__AUTH_FILE", vec![], vec![trace, ("BATON_REGISTRY__AUTH_FILE", auth_file.as_str())], None),
        ("DOCKER_CONFIG auths", vec![], vec![trace, ("DOCKER_CONFIG", docker_auths.as_str())], None),
        (
            "DOCKER_CONFIG credHelpers",
            vec![],
            vec![trace, ("DOCKER_CONFIG", docker_helper.as_str()), ("PATH", path.as_str())],
            None,
        ),
        (
            "DOCKER_CONFIG credsStore",
            vec![],
            vec![trace, ("DOCKER_CONFIG", docker_store.as_str()), ("PATH", path.as_str())],
            None,
        ),
    ];
    for (name, flags, env, stdin) in &sources {
        let mut args = vec![tag_ref.as_str()];
        args.extend(base);
        args.extend(flags.iter().copied());
        let r = baton_verify_with(&args, env, stdin.as_deref());
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert_eq!(r.stdout, format!("{digest}\n"), "{name}");
        assert!(r.stderr.contains("TRACE") || r.stderr.contains("DEBUG"), "{name}: logs were on");
        assert_no_secret(name, &r, &[registry::PASSWORD]);
    }
    // The helper was asked for the registry's host, as Docker passes it.
    let asked = std::fs::read_to_string(&asked).unwrap();
    assert_eq!(asked, format!("{host}\n{host}\n"));

    // Flags come before the auth file; the auth file before Docker's config.
    let wrong = basic_auths(&host, registry::USERNAME, "wrong-password");
    let wrong_dir = docker_config_dir(dir.path(), "docker-wrong", &wrong);
    let r = baton_verify_with(
        &[&tag_ref, "--key", &key_file, "--config", &settings],
        &[("DOCKER_CONFIG", &wrong_dir)],
        None,
    );
    assert_eq!(r.code, 0, "auth file before Docker config: {}", r.stderr);

    // 1 with a message: a wrong password (from each kind of source), anonymous.
    let mut messages = Vec::new();
    for (name, flags, env, stdin) in [
        (
            "wrong password on stdin",
            vec!["--registry-username", registry::USERNAME, "--registry-password-stdin"],
            vec![],
            Some("wrong-password\n"),
        ),
        ("wrong password in DOCKER_CONFIG", vec![], vec![("DOCKER_CONFIG", wrong_dir.as_str())], None),
        ("anonymous", vec![], vec![], None),
    ] {
        let mut args = vec![tag_ref.as_str()];
        args.extend(base);
        args.extend(flags);
        let r = baton_verify_with(&args, &env, stdin);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{name}");
        messages.push(format!("{name}: {}", redact(&r.stderr).replace(&wrong_dir, "[docker-config]")));
    }
    insta::assert_snapshot!("verify_cli_htpasswd_refusals", messages.join("\n"));

    // 2: a username without a password, and a password flag that does not exist.
    let r = baton_verify(&[&tag_ref, "--key", &key_file, "--registry-username", "u"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    insta::assert_snapshot!("verify_cli_username_without_password", r.stderr);
    let r = baton_verify(&[&tag_ref, "--key", &key_file, "--registry-password", "x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test]
async fn verify_with_token_auth() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(&["public/app"]);
    let reg = TestRegistry::start_with(None, Login::Token(tokens.clone())).await;
    let host = reg.host();
    let th = tokens.host();
    let mut refs = Vec::new();
    for repo in ["public/app", "private/app"] {
        let image = format!("{host}/{repo}");
        let digest = reg.push_artifact(repo, "1.0.0", repo.as_bytes(), &[]).await;
        let key = Key::generate();
        let key_file = write(dir.path(), &format!("{}.pub", repo.replace('/', "-")), &key.public_pem());
        push_signatures(&reg, repo, &digest, &[SigLayer::signed(&key, payload(&image, &digest))]).await;
        refs.push((format!("{image}:1.0.0"), digest, key_file));
    }
    let (public_ref, public_digest, public_key) = &refs[0];
    let (private_ref, private_digest, private_key) = &refs[1];
    // The token service is on its own port: listed in registry.hosts so credentials may go there.
    let settings = write(
        dir.path(),
        "baton.toml",
        &format!("[registry]\nhosts = [\"{host}\", \"{th}\"]\ninsecure_hosts = [\"{host}\", \"{th}\"]\n"),
    );
    let trace = ("RUST_LOG", "trace");

    // A public repository, anonymously, with no settings at all.
    let r = baton_verify_with(&[public_ref, "--key", public_key, "--allow-http-registry"], &[trace], None);
    assert_eq!((r.code, r.stdout.as_str()), (0, format!("{public_digest}\n").as_str()), "{}", r.stderr);

    // A private one with credentials, the settings naming the token service.
    let user = ["--registry-username", registry::USERNAME, "--registry-password-stdin"];
    let stdin = format!("{}\n", registry::PASSWORD);
    let mut args = vec![private_ref.as_str(), "--key", private_key, "--config", &settings];
    args.extend(user);
    let r = baton_verify_with(&args, &[trace], Some(&stdin));
    assert_eq!((r.code, r.stdout.as_str()), (0, format!("{private_digest}\n").as_str()), "{}", r.stderr);
    let mut secrets: Vec<String> = vec![registry::PASSWORD.into()];
    secrets.extend(tokens.issued.lock().unwrap().iter().cloned());
    assert_no_secret("token auth", &r, &secrets.iter().map(String::as_str).collect::<Vec<_>>());
    // An identity token from DOCKER_CONFIG.
    let docker = docker_config_dir(
        dir.path(),
        "docker-identity",
        &format!(r#"{{"auths": {{"{host}": {{"identitytoken": "{}"}}}}}}"#, registry::REFRESH_TOKEN),
    );
    let r = baton_verify_with(
        &[private_ref, "--key", private_key, "--config", &settings],
        &[trace, ("DOCKER_CONFIG", &docker)],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_secret("identity token", &r, &[registry::REFRESH_TOKEN]);

    let names = |m: &str| redact(&m.replace(&th, "[token-service]").replace(&host, "[registry]"));
    let mut messages = Vec::new();
    // Anonymous on the private repository.
    let r = baton_verify(&[private_ref, "--key", private_key, "--config", &settings]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    messages.push(format!("anonymous: {}", names(&r.stderr)));
    // A wrong password.
    let mut args = vec![private_ref.as_str(), "--key", private_key, "--config", &settings];
    args.extend(user);
    let r = baton_verify_with(&args, &[], Some("wrong-password"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    messages.push(format!("wrong password: {}", names(&r.stderr)));
    // Without settings, the token service's host is not one baton sends credentials to.
    let before = tokens.requests.lock().unwrap().iter().filter(|r| r.login != "anonymous").count();
    let mut args = vec![private_ref.as_str(), "--key", private_key, "--allow-http-registry"];
    args.extend(user);
    let r = baton_verify_with(&args, &[], Some(&stdin));
    assert_eq!(r.code, 1, "{}", r.stderr);
    messages.push(format!("token service not in registry.hosts: {}", names(&r.stderr)));
    let after = tokens.requests.lock().unwrap().iter().filter(|r| r.login != "anonymous").count();
    assert_eq!(before, after, "credentials reached a token service outside registry.hosts");
    insta::assert_snapshot!("verify_cli_token_refusals", messages.join("\n"));
}

#[test]
fn verify_timeout_bounds_a_black_hole() {
    let (_hole, host) = registry::black_hole();
    let dir = tempfile::tempdir().unwrap();
    let key_file = write(dir.path(), "cosign.pub", &Key::generate().public_pem());
    let reference = format!("{host}/app:1.0.0");
    let started = Instant::now();
    let r = baton_verify(&[&reference, "--key", &key_file, "--allow-http-registry", "--timeout", "2s"]);
    let spent = started.elapsed();
    println!("verify --timeout 2s against a black hole: exit {} after {spent:?}: {}", r.code, r.stderr);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(spent >= Duration::from_secs(2) && spent < Duration::from_millis(3500), "{spent:?}");
    // The message states the time really spent.
    let said: f64 =
        regex::Regex::new(r"gave up after (\d+\.\d)s").unwrap().captures(&r.stderr).expect("time in the message")[1]
            .parse()
            .unwrap();
    assert!((2.0..=spent.as_secs_f64() + 0.1).contains(&said), "said {said}s, measured {spent:?}");
    let msg =
        regex::Regex::new(r"after \d+\.\ds").unwrap().replace(&r.stderr, "after [time]").replace(&host, "[registry]");
    insta::assert_snapshot!("verify_cli_black_hole", msg);

    // The default is 30s; a bad --timeout is a usage error.
    let r = baton_verify(&[&reference, "--key", &key_file, "--timeout", "soon"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--timeout"), "{}", r.stderr);
}

#[test]
fn help_says_where_credentials_are_looked_for() {
    let out = Command::new(env!("CARGO_BIN_EXE_baton")).args(["verify", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--registry-username",
        "--registry-password-stdin",
        "BATON_REGISTRY_PASSWORD",
        "--registry-token",
        "--config",
        "--timeout",
        "registry.auth_file",
        "$DOCKER_CONFIG/config.json",
        "~/.docker/config.json",
        "docker-credential-<name> get",
        "anonymous",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}:\n{help}");
    }
    assert!(!help.contains("--registry-password "), "no password flag:\n{help}");
}

#[tokio::test]
async fn a_multi_arch_tag_is_verified_by_the_index_signature() {
    let reg = TestRegistry::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let repo = "deploy/multi";
    let image = format!("{}/{repo}", reg.host());
    let key = Key::generate();
    let key_file = write(dir.path(), "cosign.pub", &key.public_pem());

    // The index is signed (as `cosign sign` of a multi-arch tag signs it): verified, and the
    // digest printed is the index's.
    let (index, _) = reg.push_multi_arch(repo, "1.0.0", registry::OCI_INDEX_TYPE).await;
    push_signatures(&reg, repo, &index, &[SigLayer::signed(&key, payload(&image, &index))]).await;
    let r = baton_verify(&[&format!("{image}:1.0.0"), "--key", &key_file, "--allow-http-registry"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, format!("{index}\n").as_str()), "{}", r.stderr);

    // Only a child is signed: the tag (the index) is not verified, as cosign refuses it too.
    let (list, children) = reg.push_multi_arch(repo, "2.0.0", registry::DOCKER_LIST_TYPE).await;
    push_signatures(&reg, repo, &children[0], &[SigLayer::signed(&key, payload(&image, &children[0]))]).await;
    let r = baton_verify(&[&format!("{image}:2.0.0"), "--key", &key_file, "--allow-http-registry"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&list), "{}", r.stderr);
    insta::assert_snapshot!("verify_cli_child_only_signature", redact(&r.stderr));
    // …while the signed child by its own digest is.
    let r = baton_verify(&[&format!("{image}@{}", children[0]), "--key", &key_file, "--allow-http-registry"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
