//! The registry's login handshake, decided here rather than in oci-client (which sends
//! credentials to whatever token realm a registry names, and logs the token it gets back):
//!
//! 1. `GET /v2/` answers 200 (open), or 401 with a `WWW-Authenticate` challenge: `Basic` (the
//!    registry checks user and password itself, e.g. Docker Distribution with htpasswd) or
//!    `Bearer realm=…,service=…` (Docker Distribution's token auth, used by GHCR, Docker Hub,
//!    Harbor, Quay, …).
//! 2. For `Bearer`, a token is asked of the realm for `scope=repository:<name>:pull` (Docker's
//!    token spec): `GET` with Basic credentials (or none), or an OAuth2 `POST` with
//!    `grant_type=refresh_token` for an identity token. The answer carries `token` or
//!    `access_token`, and `expires_in` (60 s when absent, as the spec says).
//!
//! Credentials go only to a realm that [`realm_trust`] accepts: on a host in `registry.hosts`,
//! or on the registry's documented auth host (Docker Hub's `auth.docker.io`), over HTTPS unless
//! the realm's host is listed in `registry.insecure_hosts`. An anonymous token request may go to
//! any realm the registry names (it carries nothing secret).

use std::time::Duration;

use super::HostPolicy;

/// What `GET /v2/` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// No login needed (or none asked for).
    Open,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Reads a `WWW-Authenticate` header: a Bearer challenge with a realm wins over Basic; a
/// header baton cannot read is treated as Basic (as oci-client does).
pub fn parse_challenge(header: &str) -> Challenge {
    let Ok(challenges) = http_auth::parse_challenges(header) else {
        return Challenge::Basic;
    };
    for c in &challenges {
        if c.scheme.eq_ignore_ascii_case("bearer") {
            let param =
                |name: &str| c.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_unescaped());
            if let Some(realm) = param("realm") {
                return Challenge::Bearer { realm, service: param("service") };
            }
        }
    }
    Challenge::Basic
}

/// Auth hosts that registries document as theirs, though not their own host.
const DOCUMENTED_AUTH_HOSTS: &[(&str, &str)] = &[
    ("docker.io", "auth.docker.io"),
    ("index.docker.io", "auth.docker.io"),
    ("registry-1.docker.io", "auth.docker.io"),
];

/// The documented auth host of `registry_host`, if it has one besides itself.
pub fn documented_auth_host(registry_host: &str) -> Option<&'static str> {
    DOCUMENTED_AUTH_HOSTS.iter().find(|(r, _)| r.eq_ignore_ascii_case(registry_host)).map(|(_, a)| *a)
}

/// Whether credentials may be sent to a token realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmTrust {
    Trusted,
    /// Not a URL baton can use at all.
    Invalid(String),
    /// The realm's host (`host[:port]`) is neither allowed nor the registry's auth host.
    ForeignHost(String),
    /// Plain HTTP to a host not listed in `registry.insecure_hosts`.
    PlainHttp(String),
}

/// The realm's `host[:port]` as `registry.hosts` spells hosts (port only when explicit).
fn realm_host(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Pure: may credentials for `registry_host` be sent to `realm`?
pub fn realm_trust(registry_host: &str, realm: &str, policy: &HostPolicy) -> RealmTrust {
    let Ok(url) = url::Url::parse(realm) else {
        return RealmTrust::Invalid(format!("the token realm {realm:?} is not a URL"));
    };
    let Some(host) = realm_host(&url) else {
        return RealmTrust::Invalid(format!("the token realm {realm:?} has no host"));
    };
    let allowed = policy.check(&host).is_ok()
        || documented_auth_host(registry_host).is_some_and(|a| a.eq_ignore_ascii_case(&host));
    if !allowed {
        return RealmTrust::ForeignHost(host);
    }
    match url.scheme() {
        "https" => RealmTrust::Trusted,
        "http" if policy.is_insecure(&host) => RealmTrust::Trusted,
        "http" => RealmTrust::PlainHttp(host),
        other => RealmTrust::Invalid(format!("the token realm uses {other}:, not https:")),
    }
}

/// A token service's answer (Docker token spec, and the OAuth2 form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAnswer {
    pub token: String,
    pub expires_in: Duration,
}

/// Parses a token answer: `token` or `access_token`, `expires_in` seconds (default 60).
pub fn parse_token_answer(body: &[u8]) -> Result<TokenAnswer, String> {
    #[derive(serde::Deserialize)]
    struct Body {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<u64>,
    }
    let b: Body = serde_json::from_slice(body).map_err(|_| "the token service's answer is not JSON".to_string())?;
    let token = b
        .token
        .filter(|t| !t.is_empty())
        .or(b.access_token.filter(|t| !t.is_empty()))
        .ok_or("the token service's answer has no token")?;
    Ok(TokenAnswer { token, expires_in: Duration::from_secs(b.expires_in.filter(|s| *s > 0).unwrap_or(60)) })
}

/// `repository:<name>:pull`.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistrySettings;

    #[test]
    fn challenges() {
        let rows = [
            (
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull""#,
                Challenge::Bearer { realm: "https://ghcr.io/token".into(), service: Some("ghcr.io".into()) },
            ),
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#,
                Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                },
            ),
            (r#"Basic realm="basic-realm""#, Challenge::Basic),
            (
                r#"Basic realm="x", Bearer realm="https://r/token""#,
                Challenge::Bearer { realm: "https://r/token".into(), service: None },
            ),
            (r#"Bearer service="no-realm""#, Challenge::Basic),
            ("garbage ,,, ==", Challenge::Basic),
        ];
        for (header, want) in rows {
            assert_eq!(parse_challenge(header), want, "{header}");
        }
    }

    #[test]
    fn realms() {
        let policy = HostPolicy::new(&RegistrySettings {
            hosts: vec![
                "ghcr.io".into(),
                "registry.internal:5000".into(),
                "auth.internal:5001".into(),
                "docker.io".into(),
            ],
            insecure_hosts: vec!["registry.internal:5000".into(), "auth.internal:5001".into()],
            ..RegistrySettings::default()
        })
        .unwrap();
        let rows = [
            ("ghcr.io", "https://ghcr.io/token", RealmTrust::Trusted),
            ("ghcr.io", "https://GHCR.io/token?x=1", RealmTrust::Trusted),
            ("ghcr.io", "https://evil.example/token", RealmTrust::ForeignHost("evil.example".into())),
            ("ghcr.io", "https://ghcr.io:8443/token", RealmTrust::ForeignHost("ghcr.io:8443".into())),
            ("ghcr.io", "http://ghcr.io/token", RealmTrust::PlainHttp("ghcr.io".into())),
            ("docker.io", "https://auth.docker.io/token", RealmTrust::Trusted),
            ("ghcr.io", "https://auth.docker.io/token", RealmTrust::ForeignHost("auth.docker.io".into())),
            ("registry.internal:5000", "http://auth.internal:5001/token", RealmTrust::Trusted),
            ("registry.internal:5000", "http://registry.internal:5000/auth", RealmTrust::Trusted),
            (
                "registry.internal:5000",
                "http://auth.internal:5002/token",
                RealmTrust::ForeignHost("auth.internal:5002".into()),
            ),
            ("ghcr.io", "ftp://ghcr.io/token", RealmTrust::Invalid("the token realm uses ftp:, not https:".into())),
        ];
        for (registry, realm, want) in rows {
            assert_eq!(realm_trust(registry, realm, &policy), want, "{registry} → {realm}");
        }
        assert!(matches!(realm_trust("ghcr.io", "/token", &policy), RealmTrust::Invalid(_)));
    }

    #[test]
    fn token_answers() {
        let a = parse_token_answer(br#"{"token":"t1","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(a, TokenAnswer { token: "t1".into(), expires_in: Duration::from_secs(300) });
        let a = parse_token_answer(br#"{"access_token":"t2"}"#).unwrap();
        assert_eq!(a, TokenAnswer { token: "t2".into(), expires_in: Duration::from_secs(60) });
        assert!(parse_token_answer(br#"{"token":""}"#).is_err());
        let err = parse_token_answer(b"secret-ish garbage").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(pull_scope("org/app"), "repository:org/app:pull");
    }
}
