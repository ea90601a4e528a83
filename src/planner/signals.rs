//! Verification signals as deployers really report them (pure, no I/O).
//!
//! - [`CheckPattern`]: a `verification.checks` entry, an exact name or a pattern where `*` stands
//!   for any characters except `/` (Flux's GitHub provider appends the first 8 characters of the
//!   Provider's UID: `kustomization/myapp-dev/0c9c2e41`).
//! - [`commit_from_revision`]: the commit a Flux revision names, in the formats Flux accepts
//!   (`main@sha1:<sha>`, `sha1:<sha>`, the older `main/<sha>`, a bare sha).
//! - [`source_commit`], [`timed_out`]: which extra commit counts, and when silence is a failure.
//! - [`flux_signal`]: a Flux notification-controller event (generic / generic-hmac provider) →
//!   the commit status baton records for it (`flux/<kind>/<namespace>/<name>`), or nothing.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::pipeline::SignalSource;
use crate::types::{Digest, RepoName, StageName};

/// A git commit id: 40 lowercase hex characters (SHA-1, what GitHub uses).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitSha(String);

impl CommitSha {
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| CommitSha(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a check pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("must not be empty")]
    Empty,
    #[error("must be on one line, without control characters")]
    Control,
    #[error("`**` is not a pattern: `*` already matches any characters except `/`")]
    DoubleStar,
}

/// A check name or a pattern with `*` (any characters except `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckPattern(String);

impl CheckPattern {
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s.chars().any(char::is_control) {
            return Err(PatternError::Control);
        }
        if s.contains("**") {
            return Err(PatternError::DoubleStar);
        }
        Ok(CheckPattern(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Without `*`: an exact name.
    pub fn is_exact(&self) -> bool {
        !self.0.contains('*')
    }

    /// Whether a status context or check-run name matches (case-sensitive, as GitHub keeps it).
    pub fn matches(&self, name: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = name.strip_prefix(first) else { return false };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
        for part in middle {
            // Leftmost match inside the current segment run (a `*` never crosses a `/`).
            let Some(i) = find_within_segment(rest, part) else { return false };
            rest = &rest[i + part.len()..];
        }
        // The last literal must end the name, and what the final `*` covers has no `/`.
        match rest.len().checked_sub(last.len()) {
            Some(cut) if rest.ends_with(last) && rest.is_char_boundary(cut) => !rest[..cut].contains('/'),
            _ => false,
        }
    }
}

/// The first position where `part` starts such that the text skipped holds no `/`.
fn find_within_segment(text: &str, part: &str) -> Option<usize> {
    let limit = text.find('/').unwrap_or(text.len());
    if part.is_empty() {
        return Some(0);
    }
    text.match_indices(part).map(|(i, _)| i).find(|&i| i <= limit)
}

impl fmt::Display for CheckPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `verification.checks` entry: every match must be green, and at least `min` must exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequirement {
    pub pattern: CheckPattern,
    pub min: u32,
}

impl CheckRequirement {
    pub fn new(pattern: CheckPattern) -> Self {
        CheckRequirement { pattern, min: 1 }
    }
}

/// The commit a Flux revision names, as Flux's notification-controller reads it: the text after
/// the last `:` or `/` (or `@`), which must be a 40-hex SHA-1. Accepts `main@sha1:<sha>`,
/// `refs/heads/main@sha1:<sha>`, `sha1:<sha>`, `main/<sha>` (Flux < 2.0) and a bare sha.
pub fn commit_from_revision(revision: &str) -> Option<CommitSha> {
    let revision = revision.trim();
    // `<ref>@<algo>:<hash>` (Flux ≥ 2.0) or `<algo>:<hash>`; only sha1 names a GitHub commit.
    let hashed = revision.rsplit_once('@').map_or(revision, |(_, h)| h);
    let hash = match hashed.split_once(':') {
        Some(("sha1", hash)) => hash,
        Some(_) => return None,
        // `<branch>/<sha>` (Flux < 2.0) or a bare sha.
        None => hashed.rsplit('/').next().unwrap_or(hashed),
    };
    CommitSha::parse(hash)
}

/// The digest a revision names: `<tag>@sha256:<hex>` (an OCIRepository artifact) or
/// `sha256:<hex>`; `None` for git revisions and chart versions.
pub fn digest_from_revision(revision: &str) -> Option<Digest> {
    let at = revision.rfind("sha256:")?;
    let head = &revision[..at];
    if !(head.is_empty() || head.ends_with('@')) {
        return None;
    }
    revision[at..].parse().ok()
}

// ------------------------------------------------------------------------------ requirements

/// Whether a stage waiting for signals has waited longer than its `timeout`.
pub fn timed_out(bumped_at: Option<DateTime<Utc>>, timeout: Option<std::time::Duration>, now: DateTime<Utc>) -> bool {
    match (bumped_at, timeout.and_then(|t| chrono::Duration::from_std(t).ok())) {
        (Some(at), Some(t)) => now >= at + t,
        _ => false,
    }
}

/// `30m`, `1h30m`, `45s`: a duration as `.baton.yaml` writes it.
pub fn duration_text(d: std::time::Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, n) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if secs >= n {
            out.push_str(&format!("{}{unit}", secs / n));
            secs %= n;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Whether `org.opencontainers.image.source` names `repo` on GitHub (`https://github.com/o/r`,
/// with `.git`, a trailing `/`, `git@github.com:o/r.git`; case-insensitive like GitHub).
pub fn source_is_repo(source: &str, repo: &RepoName) -> bool {
    let s = source.trim();
    let path = s
        .strip_prefix("https://github.com/")
        .or_else(|| s.strip_prefix("http://github.com/"))
        .or_else(|| s.strip_prefix("git@github.com:"))
        .or_else(|| s.strip_prefix("ssh://git@github.com/"))
        .or_else(|| s.strip_prefix("git+https://github.com/"));
    let Some(path) = path else { return false };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    path.eq_ignore_ascii_case(repo.as_str())
}

/// The artifact's source commit S, when signals on it count for this stage: V's
/// `org.opencontainers.image.revision` (in a format Flux accepts) if V's
/// `org.opencontainers.image.source` names this repository or the stage sets
/// `source: commit-of-artifact`.
pub fn source_commit(
    annotations: &BTreeMap<String, String>,
    repo: &RepoName,
    setting: SignalSource,
) -> Option<CommitSha> {
    let revision = annotations.get("org.opencontainers.image.revision")?;
    let ours = match setting {
        SignalSource::CommitOfArtifact => true,
        SignalSource::SameRepository => {
            annotations.get("org.opencontainers.image.source").is_some_and(|s| source_is_repo(s, repo))
        }
    };
    if ours {
        commit_from_revision(revision)
    } else {
        None
    }
}

/// A stage running a version, as the Flux event router sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningStage<'a> {
    pub stage: &'a StageName,
    pub checks: &'a [CheckRequirement],
    pub digest: &'a Digest,
    pub bump_sha: &'a str,
    pub bumped_at: Option<DateTime<Utc>>,
}

/// The bump commits a Flux signal is recorded on: those of stages whose checks match its
/// context, when the event is not older than the bump and, if its revision names a digest,
/// names the one the stage runs.
pub fn flux_targets<'a>(signal: &FluxSignal, stages: &[RunningStage<'a>]) -> Vec<(&'a StageName, &'a str)> {
    stages
        .iter()
        .filter(|s| s.checks.iter().any(|c| c.pattern.matches(&signal.context)))
        .filter(|s| s.bumped_at.is_none_or(|b| signal.at >= b))
        .filter(|s| signal.digest.as_ref().is_none_or(|d| d == s.digest))
        .map(|s| (s.stage, s.bump_sha))
        .collect()
}

// ------------------------------------------------------------------------------ Flux events

/// Flux's `event.Event` (fluxcd/pkg `apis/event/v1beta1`), as notification-controller forwards it
/// to a `generic` / `generic-hmac` provider: metadata keys arrive without their API-group
/// prefix (`revision`, `token`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    pub involved_object: FluxObject,
    pub severity: Severity,
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub reporting_controller: String,
    #[serde(default)]
    pub reporting_instance: Option<String>,
}

/// A Kubernetes `ObjectReference` (the fields Flux fills in).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxObject {
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
}

/// `info`, `error` or `trace` (notification-controller only forwards the first two to alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Error,
    Trace,
    #[serde(other)]
    Other,
}

/// What a deployer said about a version in a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FluxState {
    Success,
    Failure,
}

/// The commit status baton records for a Flux event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluxSignal {
    /// `flux/<kind>/<namespace>/<name>`, kind lower-cased.
    pub context: String,
    pub state: FluxState,
    /// The reason in words, as Flux's own GitHub provider writes it ("health check failed").
    pub description: String,
    /// The digest the event's revision names, when it names one (OCI sources).
    pub digest: Option<Digest>,
    pub at: DateTime<Utc>,
}

/// Reasons of `info` events that mean "this revision is applied and healthy" (kustomize-controller
/// and helm-controller v2). Others (`Progressing`, `DependencyNotReady`, source-controller's
/// `NewArtifact`, a `RollbackSucceeded` that means the upgrade did not stay) say nothing about it.
const SUCCESS_REASONS: &[&str] = &["ReconciliationSucceeded", "InstallSucceeded", "UpgradeSucceeded", "TestSucceeded"];

/// The status baton records for an event, or `None` when the event says nothing about health.
pub fn flux_signal(event: &FluxEvent) -> Option<FluxSignal> {
    let state = match event.severity {
        Severity::Info if SUCCESS_REASONS.contains(&event.reason.as_str()) => FluxState::Success,
        Severity::Error => FluxState::Failure,
        _ => return None,
    };
    let o = &event.involved_object;
    let context = format!("flux/{}/{}/{}", o.kind.to_lowercase(), o.namespace, o.name);
    Some(FluxSignal {
        context,
        state,
        description: describe_reason(&event.reason),
        digest: event.metadata.get("revision").and_then(|r| digest_from_revision(r)),
        at: event.timestamp,
    })
}

/// `HealthCheckFailed` → `health check failed` (Flux's GitHub provider does the same).
fn describe_reason(reason: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in reason.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_lowercase());
    }
    // GitHub limits a status description to 140 characters.
    out.chars().take(140).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn patterns_match_names() {
        let rows: &[(&str, &str, bool)] = &[
            ("smoke / dev", "smoke / dev", true),
            ("smoke / dev", "smoke / dev2", false),
            ("kustomization/myapp-dev/*", "kustomization/myapp-dev/0c9c2e41", true),
            ("kustomization/myapp-dev/*", "kustomization/myapp-dev/", true),
            ("kustomization/myapp-dev/*", "kustomization/myapp-dev/0c9c2e41/x", false),
            ("kustomization/myapp-dev/*", "kustomization/myapp-dev", false),
            ("kustomization/myapp-dev/*", "kustomization/myapp-devx/0c9c2e41", false),
            ("kustomization/myapp-*/*", "kustomization/myapp-dev/0c9c2e41", true),
            ("kustomization/myapp-*/*", "kustomization/myapp-dev/eu/0c9c2e41", false),
            ("kustomization/*", "kustomization/flux-system/0c9c2e41", false),
            ("*", "continuous-delivery", true),
            ("*", "continuous-delivery/myapp", false),
            ("continuous-delivery/*", "continuous-delivery/myapp-dev", true),
            ("e2e-*-dev", "e2e-eu-dev", true),
            ("e2e-*-dev", "e2e-eu/x-dev", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "abbc", true),
            ("a*b*c", "aXc", false),
            ("Kustomization/*", "kustomization/x", false),
            ("ü*/x", "üü/x", true),
        ];
        for (pattern, name, want) in rows {
            let p = CheckPattern::parse(pattern).unwrap();
            assert_eq!(p.matches(name), *want, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn patterns_refused() {
        assert_eq!(CheckPattern::parse(""), Err(PatternError::Empty));
        assert_eq!(CheckPattern::parse("a\nb"), Err(PatternError::Control));
        assert_eq!(CheckPattern::parse("a/**"), Err(PatternError::DoubleStar));
        assert!(CheckPattern::parse("smoke / dev").unwrap().is_exact());
        assert!(!CheckPattern::parse("a/*").unwrap().is_exact());
    }

    #[test]
    fn revisions_name_commits_as_flux_reads_them() {
        let upper = SHA.to_uppercase();
        let rows: Vec<(String, Option<&str>)> = vec![
            (format!("main@sha1:{SHA}"), Some(SHA)),
            (format!("refs/heads/main@sha1:{SHA}"), Some(SHA)),
            (format!("v1.2.3@sha1:{SHA}"), Some(SHA)),
            (format!("sha1:{SHA}"), Some(SHA)),
            (format!("main/{SHA}"), Some(SHA)),
            (SHA.to_string(), Some(SHA)),
            (format!("main@sha1:{upper}"), Some(SHA)),
            (format!("main@sha256:{SHA}"), None),
            (format!("md5:{SHA}"), None),
            (format!("main@sha1:{}", &SHA[..39]), None),
            ("0.5.120@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(), None),
            ("main".into(), None),
            (String::new(), None),
        ];
        for (revision, want) in rows {
            assert_eq!(commit_from_revision(&revision).as_ref().map(CommitSha::as_str), want, "{revision}");
        }
    }

    #[test]
    fn revisions_name_digests() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let rows: Vec<(String, bool)> = vec![
            (format!("0.5.120@sha256:{hex}"), true),
            (format!("latest@sha256:{hex}"), true),
            (format!("sha256:{hex}"), true),
            (format!("main@sha1:{SHA}"), false),
            ("0.5.120".into(), false),
            (format!("xsha256:{hex}"), false),
            (format!("0.5.120@sha256:{}", &hex[..63]), false),
        ];
        for (revision, some) in rows {
            let got = digest_from_revision(&revision);
            assert_eq!(got.is_some(), some, "{revision}");
            if let Some(d) = got {
                assert_eq!(d.as_str(), format!("sha256:{hex}"));
            }
        }
    }

    fn event(kind: &str, severity: Severity, reason: &str, revision: Option<&str>) -> FluxEvent {
        FluxEvent {
            involved_object: FluxObject {
                kind: kind.into(),
                namespace: "flux-system".into(),
                name: "myapp-dev".into(),
                uid: None,
                api_version: None,
            },
            severity,
            timestamp: "2026-12-02T04:00:00Z".parse().unwrap(),
            message: String::new(),
            reason: reason.into(),
            metadata: revision.map(|r| ("revision".to_string(), r.to_string())).into_iter().collect(),
            reporting_controller: "kustomize-controller".into(),
            reporting_instance: None,
        }
    }

    #[test]
    fn flux_events_become_statuses() {
        let digest_rev = "0.5.120@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        type Want<'a> = Option<(&'a str, FluxState, &'a str, bool)>;
        let rows: Vec<(FluxEvent, Want)> = vec![
            (
                event("Kustomization", Severity::Info, "ReconciliationSucceeded", Some(digest_rev)),
                Some((
                    "flux/kustomization/flux-system/myapp-dev",
                    FluxState::Success,
                    "reconciliation succeeded",
                    true,
                )),
            ),
            (
                event("HelmRelease", Severity::Info, "UpgradeSucceeded", Some("0.5.120")),
                Some(("flux/helmrelease/flux-system/myapp-dev", FluxState::Success, "upgrade succeeded", false)),
            ),
            (
                event("HelmRelease", Severity::Info, "InstallSucceeded", None),
                Some(("flux/helmrelease/flux-system/myapp-dev", FluxState::Success, "install succeeded", false)),
            ),
            (
                event("Kustomization", Severity::Error, "HealthCheckFailed", Some(digest_rev)),
                Some(("flux/kustomization/flux-system/myapp-dev", FluxState::Failure, "health check failed", true)),
            ),
            (event("Kustomization", Severity::Info, "Progressing", Some(digest_rev)), None),
            (event("HelmRelease", Severity::Info, "RollbackSucceeded", None), None),
            (event("OCIRepository", Severity::Info, "NewArtifact", Some(digest_rev)), None),
            (event("Kustomization", Severity::Trace, "ReconciliationSucceeded", None), None),
        ];
        for (ev, want) in rows {
            let got = flux_signal(&ev);
            let got = got.as_ref().map(|s| (s.context.as_str(), s.state, s.description.as_str(), s.digest.is_some()));
            assert_eq!(got, want, "{} {}", ev.involved_object.kind, ev.reason);
        }
    }

    #[test]
    fn flux_fixtures_parse() {
        for (file, context, state) in [
            ("kustomization-succeeded.json", "flux/kustomization/apps/myapp-dev", Some(FluxState::Success)),
            ("kustomization-health-failed.json", "flux/kustomization/apps/myapp-dev", Some(FluxState::Failure)),
            ("helmrelease-upgrade-succeeded.json", "flux/helmrelease/apps/myapp", Some(FluxState::Success)),
        ] {
            let path = format!("{}/tests/data/flux/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let ev: FluxEvent = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            let s = flux_signal(&ev);
            assert_eq!(s.as_ref().map(|s| s.context.as_str()), state.map(|_| context), "{file}");
            assert_eq!(s.map(|s| s.state), state, "{file}");
        }
    }

    #[test]
    fn timeouts_and_durations() {
        let at: DateTime<Utc> = "2026-12-02T04:00:00Z".parse().unwrap();
        let m30 = Some(std::time::Duration::from_secs(1800));
        assert!(!timed_out(Some(at), m30, at + chrono::Duration::minutes(29)));
        assert!(timed_out(Some(at), m30, at + chrono::Duration::minutes(30)));
        assert!(!timed_out(Some(at), None, at + chrono::Duration::days(30)));
        assert!(!timed_out(None, m30, at));
        let rows = [(1800, "30m"), (5400, "1h30m"), (45, "45s"), (86_400, "1d"), (0, "0s"), (3661, "1h1m1s")];
        for (secs, want) in rows {
            assert_eq!(duration_text(std::time::Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn the_source_commit_counts_when_the_artifact_comes_from_this_repository() {
        let repo: RepoName = "org/deploy".parse().unwrap();
        let ann = |source: &str, revision: &str| -> BTreeMap<String, String> {
            [("org.opencontainers.image.source", source), ("org.opencontainers.image.revision", revision)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let rev = format!("main@sha1:{SHA}");
        let rows: Vec<(BTreeMap<String, String>, SignalSource, bool)> = vec![
            (ann("https://github.com/org/deploy", &rev), SignalSource::SameRepository, true),
            (ann("https://github.com/Org/Deploy.git", &rev), SignalSource::SameRepository, true),
            (ann("git@github.com:org/deploy.git", &rev), SignalSource::SameRepository, true),
            (ann("https://github.com/org/deploy/", SHA), SignalSource::SameRepository, true),
            (ann("https://github.com/org/myapp", &rev), SignalSource::SameRepository, false),
            (ann("https://github.com/org/deploy-other", &rev), SignalSource::SameRepository, false),
            (ann("https://gitlab.com/org/deploy", &rev), SignalSource::SameRepository, false),
            (ann("", &rev), SignalSource::SameRepository, false),
            (ann("https://github.com/org/myapp", &rev), SignalSource::CommitOfArtifact, true),
            (ann("", &rev), SignalSource::CommitOfArtifact, true),
            (ann("https://github.com/org/deploy", "main"), SignalSource::SameRepository, false),
            (ann("https://github.com/org/deploy", ""), SignalSource::CommitOfArtifact, false),
        ];
        for (a, setting, want) in rows {
            let got = source_commit(&a, &repo, setting);
            assert_eq!(got.is_some(), want, "{a:?} {setting:?}");
            if let Some(c) = got {
                assert_eq!(c.as_str(), SHA);
            }
        }
    }

    fn req(pattern: &str, min: u32) -> CheckRequirement {
        CheckRequirement { pattern: CheckPattern::parse(pattern).unwrap(), min }
    }

    #[test]
    fn flux_signals_go_to_the_stages_they_concern() {
        let (dev, staging, prod): (StageName, StageName, StageName) =
            ("dev".parse().unwrap(), "staging".parse().unwrap(), "prod".parse().unwrap());
        let d1: Digest = format!("sha256:{}", "1".repeat(64)).parse().unwrap();
        let d2: Digest = format!("sha256:{}", "2".repeat(64)).parse().unwrap();
        let checks_dev = [req("flux/kustomization/apps/myapp-dev", 1)];
        let checks_any = [req("flux/helmrelease/apps/*", 1)];
        let bump: DateTime<Utc> = "2026-12-02T04:00:00Z".parse().unwrap();
        let stages = [
            RunningStage { stage: &dev, checks: &checks_dev, digest: &d1, bump_sha: "b-dev", bumped_at: Some(bump) },
            RunningStage {
                stage: &staging,
                checks: &checks_any,
                digest: &d1,
                bump_sha: "b-staging",
                bumped_at: Some(bump),
            },
            RunningStage { stage: &prod, checks: &checks_any, digest: &d2, bump_sha: "b-prod", bumped_at: Some(bump) },
        ];
        let signal = |context: &str, digest: Option<&Digest>, at: &str| FluxSignal {
            context: context.into(),
            state: FluxState::Success,
            description: String::new(),
            digest: digest.cloned(),
            at: at.parse().unwrap(),
        };
        let after = "2026-12-02T04:05:00Z";
        let rows: Vec<(FluxSignal, Vec<&str>)> = vec![
            (signal("flux/kustomization/apps/myapp-dev", Some(&d1), after), vec!["b-dev"]),
            (signal("flux/kustomization/apps/myapp-dev", Some(&d2), after), vec![]),
            (signal("flux/kustomization/apps/myapp-dev", Some(&d1), "2026-12-02T03:59:59Z"), vec![]),
            // A HelmRelease from a Git source names a chart version: time and name decide.
            (signal("flux/helmrelease/apps/myapp", None, after), vec!["b-staging", "b-prod"]),
            (signal("flux/helmrelease/apps/myapp", Some(&d2), after), vec!["b-prod"]),
            (signal("flux/kustomization/apps/other", None, after), vec![]),
        ];
        for (sig, want) in rows {
            let got: Vec<&str> = flux_targets(&sig, &stages).into_iter().map(|(_, b)| b).collect();
            assert_eq!(got, want, "{} {:?}", sig.context, sig.digest);
        }
    }
}
