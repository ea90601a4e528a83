//! Process settings: `config/default.toml` (compiled in, so the binary runs from
//! anywhere), an optional `--config FILE`, and `BATON_<SECTION>__<KEY>` environment variables.
//! Lists are comma-separated in the environment. Secrets are never printed: `Debug` redacts them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::registry::RegistrySettings;
use crate::types::RepoName;

/// The defaults, compiled into the binary.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

/// Keys that hold lists, so that they can be set from the environment.
const LIST_KEYS: &[&str] = &[
    "webhooks.github_secrets",
    "webhooks.registry_tokens",
    "webhooks.flux_secrets",
    "github.repositories",
    "registry.hosts",
    "registry.insecure_hosts",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub webhooks: WebhookSettings,
    pub github: GitHubSettings,
    pub reconcile: ReconcileSettings,
    pub registry: RegistrySettings,
    pub verify: crate::verify::VerifySettings,
    pub commands: CommandSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// How far back `reconcile` looks for unanswered commands, in seconds.
    pub replay_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub queue_capacity: usize,
    pub concurrency: usize,
    pub dedup_window_secs: u64,
    pub shutdown_grace_secs: u64,
}

/// A secret string: compared and used, never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub github_secrets: Vec<Secret>,
    pub registry_tokens: Vec<Secret>,
    /// HMAC keys of Flux notification-controller `generic-hmac` providers (`POST /webhooks/flux`).
    pub flux_secrets: Vec<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubSettings {
    pub api_url: String,
    pub app_id: u64,
    pub private_key_file: String,
    pub repositories: Vec<RepoName>,
    pub config_cache_secs: u64,
    pub max_retries: u32,
    pub max_rate_limit_wait_secs: u64,
    /// Bytes of GET answers (with their ETags) kept per installation for conditional requests.
    pub conditional_cache_bytes: usize,
}

/// The reconcile pass inside `baton serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// Seconds between passes; 0: no pass.
    pub interval_secs: u64,
    /// Stop a pass when an installation's remaining rate budget is below this.
    pub budget_floor: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then `file`, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(f) = file {
            if !f.exists() {
                return Err(SettingsError::Invalid(format!("settings file {} does not exist", f.display())));
            }
            builder = builder.add_source(config::File::from(PathBuf::from(f)).format(config::FileFormat::Toml));
        }
        // Lists are split here rather than by the config crate's `try_parsing`, which would
        // also turn a secret such as "12345" into a number.
        let mut scalars = std::collections::HashMap::new();
        let mut lists = Vec::new();
        // Only `BATON_<SECTION>__<KEY>` names settings; other BATON_ variables (such as
        // `baton verify`'s BATON_REGISTRY_PASSWORD) are not settings.
        for (k, v) in env.into_iter().filter(|(k, _)| k.starts_with("BATON_") && k.contains("__")) {
            let key = k["BATON_".len()..].to_lowercase().replace("__", ".");
            if LIST_KEYS.contains(&key.as_str()) {
                let items: Vec<String> =
                    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
                lists.push((key, items));
            } else {
                scalars.insert(k, v);
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix("BATON").prefix_separator("_").separator("__").source(Some(scalars)),
        );
        for (key, items) in lists {
            builder = builder.set_override(key, items).map_err(|e| SettingsError::Invalid(e.to_string()))?;
        }
        let cfg = builder.build().map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let settings: Settings = cfg.try_deserialize().map_err(|e| SettingsError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |k: &str, why: &str| Err(SettingsError::Invalid(format!("{k}: {why}")));
        if self.server.queue_capacity == 0 {
            return bad("server.queue_capacity", "must be at least 1");
        }
        if self.server.concurrency == 0 {
            return bad("server.concurrency", "must be at least 1");
        }
        if url::Url::parse(&self.github.api_url).map(|u| !matches!(u.scheme(), "http" | "https")).unwrap_or(true) {
            return bad("github.api_url", "must be an http(s) URL");
        }
        if self.webhooks.github_secrets.iter().any(|s| s.expose().is_empty()) {
            return bad("webhooks.github_secrets", "an empty secret would accept unsigned deliveries");
        }
        if self.webhooks.flux_secrets.iter().any(|s| s.expose().is_empty()) {
            return bad("webhooks.flux_secrets", "an empty secret would accept unsigned Flux events");
        }
        if self.webhooks.registry_tokens.iter().any(|s| s.expose().len() < 16) {
            return bad("webhooks.registry_tokens", "each token must be at least 16 characters");
        }
        for h in &self.registry.insecure_hosts {
            if !self.registry.hosts.contains(h) {
                return bad("registry.insecure_hosts", &format!("{h} is not listed in registry.hosts"));
            }
        }
        if self.github.app_id != 0 && self.github.private_key_file.is_empty() {
            return bad("github.private_key_file", "github.app_id is set, so the App's private key is needed");
        }
        if let Err(e) = self.log.level.parse::<tracing_subscriber::EnvFilter>() {
            return bad("log.level", &e.to_string());
        }
        Ok(())
    }

    /// No App credentials: reads only, writes are logged instead of made.
    pub fn dry_run(&self) -> bool {
        self.github.app_id == 0 || self.github.private_key_file.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_load_and_mean_dry_run() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert!(s.dry_run());
        assert_eq!(s.server.listen.port(), 8080);
        assert!(s.webhooks.github_secrets.is_empty());
    }

    #[test]
    fn environment_overrides_including_lists() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("BATON_GITHUB__APP_ID", "42"),
                ("BATON_GITHUB__PRIVATE_KEY_FILE", "/k.pem"),
                ("BATON_WEBHOOKS__GITHUB_SECRETS", "new,old"),
                ("BATON_GITHUB__REPOSITORIES", "org/a,org/b"),
                ("BATON_REGISTRY__HOSTS", "r.example:5000"),
            ]),
        )
        .unwrap();
        assert_eq!(s.github.app_id, 42);
        assert!(!s.dry_run());
        let secrets: Vec<_> = s.webhooks.github_secrets.iter().map(|s| s.expose()).collect();
        assert_eq!(secrets, ["new", "old"]);
        assert_eq!(s.github.repositories.len(), 2);
        assert_eq!(s.registry.hosts, ["r.example:5000"]);
    }

    #[test]
    fn invalid_settings_name_the_key() {
        let e = Settings::load_with_env(None, env(&[("BATON_SERVER__LISTEN", "nonsense")])).unwrap_err();
        assert!(e.to_string().contains("server.listen") || e.to_string().contains("listen"), "{e}");
        let e = Settings::load_with_env(None, env(&[("BATON_GITHUB__REPOSITORIES", "not-a-repo")])).unwrap_err();
        assert!(e.to_string().contains("repositories"), "{e}");
        let e = Settings::load_with_env(None, env(&[("BATON_SERVER__CONCURRENCY", "0")])).unwrap_err();
        assert!(e.to_string().contains("server.concurrency"), "{e}");
        let e = Settings::load_with_env(None, env(&[("BATON_GITHUB__APP_ID", "7")])).unwrap_err();
        assert!(e.to_string().contains("private_key_file"), "{e}");
    }

    #[test]
    fn variables_that_name_no_setting_are_not_settings() {
        let s = Settings::load_with_env(
            None,
            env(&[("BATON_REGISTRY_PASSWORD", "pw"), ("BATON_REGISTRY__DEADLINE_SECS", "7")]),
        )
        .unwrap();
        assert_eq!(s.registry.deadline_secs, 7);
        assert_eq!(s.registry.timeout_secs, 30);
    }

    #[test]
    fn secrets_are_redacted() {
        let s = Settings::load_with_env(None, env(&[("BATON_WEBHOOKS__GITHUB_SECRETS", "hunter2")])).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
