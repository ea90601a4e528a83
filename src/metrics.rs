//! Prometheus metrics (`GET /metrics`, text format) through prometheus-client. Label values
//! are bounded: event names, outcomes, operation classes and status codes — never SHAs, user
//! names or repository paths.

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub source: String,
    pub event: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PromotionLabels {
    pub stage: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstallationLabels {
    pub installation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: String,
}

pub struct Metrics {
    pub registry: Registry,
    pub deliveries: Family<DeliveryLabels, Counter>,
    pub queue_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub handling_seconds: Family<EventLabels, Histogram>,
    pub github_requests: Family<RequestLabels, Counter>,
    pub github_rate_limit_remaining: Family<InstallationLabels, Gauge<f64, AtomicU64>>,
    pub registry_requests: Family<OutcomeLabels, Counter>,
    pub verifications: Family<OutcomeLabels, Counter>,
    pub promotions: Family<PromotionLabels, Counter>,
    pub reconcile_passes: Family<OutcomeLabels, Counter>,
    pub index_installed: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub index_pipelines: Gauge<i64, std::sync::atomic::AtomicI64>,
}

pub fn get() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let mut registry = Registry::with_prefix("baton");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by source (github, registry), event and outcome",
            deliveries.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Events queued or being handled", queue_depth.clone());
        let handling_seconds = Family::<EventLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register("event_handling_seconds", "Time to handle one queued event", handling_seconds.clone());
        let github_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "github_requests",
            "GitHub API requests by operation and HTTP status",
            github_requests.clone(),
        );
        let github_rate_limit_remaining = Family::<InstallationLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "github_rate_limit_remaining",
            "The x-ratelimit-remaining GitHub last reported, per installation (by account login; `app` for \
             the App's own requests); absent until known",
            github_rate_limit_remaining.clone(),
        );
        let registry_requests = Family::<OutcomeLabels, Counter>::default();
        registry.register("registry_requests", "OCI registry requests by outcome", registry_requests.clone());
        let verifications = Family::<OutcomeLabels, Counter>::default();
        registry.register("signature_verifications", "Signature verifications by outcome", verifications.clone());
        let promotions = Family::<PromotionLabels, Counter>::default();
        registry.register("promotions", "Promotions by stage and outcome", promotions.clone());
        let reconcile_passes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "reconcile_passes",
            "Reconcile passes of baton serve by outcome (done, stopped_budget)",
            reconcile_passes.clone(),
        );
        let index_installed = Gauge::default();
        registry.register(
            "index_repositories",
            "Repositories the index knows the App is installed on",
            index_installed.clone(),
        );
        let index_pipelines = Gauge::default();
        registry.register(
            "index_pipelines",
            "Repositories in the index that have a pipeline file",
            index_pipelines.clone(),
        );
        Metrics {
            registry,
            reconcile_passes,
            index_installed,
            index_pipelines,
            deliveries,
            queue_depth,
            handling_seconds,
            github_requests,
            github_rate_limit_remaining,
            registry_requests,
            verifications,
            promotions,
        }
    })
}

/// The index's size after a build or an update.
pub fn index(index: &crate::index::Index) {
    let (installed, pipelines, _) = index.summary();
    get().index_installed.set(installed as i64);
    get().index_pipelines.set(pipelines as i64);
}

/// The text exposition.
pub fn render() -> String {
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &get().registry);
    out
}

pub fn delivery(source: &str, event: &str, outcome: &str) {
    get()
        .deliveries
        .get_or_create(&DeliveryLabels { source: source.into(), event: bounded_event(event), outcome: outcome.into() })
        .inc();
}

/// Event names come from a header: keep only well-formed ones, and cap their number.
fn bounded_event(event: &str) -> String {
    if event.len() <= 40 && event.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        event.to_string()
    } else {
        "other".to_string()
    }
}

/// A bounded operation class for a GitHub API path: `/repos/o/r/git/refs/heads/x` → `git/refs`.
pub fn operation(method: &http::Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let class = match segs.as_slice() {
        ["repos", _, _] => "repo".to_string(),
        ["repos", _, _, "git", kind, ..] => format!("git/{kind}"),
        ["repos", _, _, "issues", "comments", _, "reactions"] => "reactions".to_string(),
        ["repos", _, _, "commits", _, leaf @ ("check-runs" | "status" | "statuses" | "pulls")] => {
            format!("commits/{leaf}")
        }
        ["repos", _, _, first, rest @ ..] => {
            let leaf = rest.iter().rev().copied().find(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()));
            match (*first, leaf) {
                ("pulls" | "issues", Some(l @ ("labels" | "comments" | "merge" | "files" | "update-branch"))) => {
                    format!("{first}/{l}")
                }
                _ => first.to_string(),
            }
        }
        ["app", ..] => "app".to_string(),
        ["orgs", _, "teams", ..] => "teams".to_string(),
        [first, ..] => first.to_string(),
        [] => "root".to_string(),
    };
    let class: String = class.chars().take(40).collect();
    format!("{method} {class}")
}

pub fn github_request(method: &http::Method, path: &str, status: &str) {
    get()
        .github_requests
        .get_or_create(&RequestLabels { operation: operation(method, path), status: status.into() })
        .inc();
}

/// The remaining budget of one installation (label: its account login, bounded by the number of
/// installations).
pub fn github_rate_limit(installation: &str, remaining: u64) {
    get()
        .github_rate_limit_remaining
        .get_or_create(&InstallationLabels { installation: installation.chars().take(40).collect() })
        .set(remaining as f64);
}

pub fn registry_request(outcome: &str) {
    get().registry_requests.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
}

pub fn reconcile_pass(outcome: &str) {
    get().reconcile_passes.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
}

pub fn verification(outcome: &str) {
    get().verifications.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
}

pub fn promotion(stage: &str, outcome: &str) {
    get().promotions.get_or_create(&PromotionLabels { stage: stage.into(), outcome: outcome.into() }).inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_is_absent_until_known_then_per_installation() {
        // No lib test makes GitHub requests, so nothing has set it yet.
        let series = |text: &str| {
            text.lines()
                .filter(|l| l.starts_with("baton_github_rate_limit_remaining"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(series(&render()), Vec::<String>::new(), "not 0 at start: absent");
        github_rate_limit("octo-org", 4321);
        assert_eq!(series(&render()), vec![r#"baton_github_rate_limit_remaining{installation="octo-org"} 4321.0"#]);
    }

    #[test]
    fn operations_are_bounded() {
        let get = http::Method::GET;
        assert_eq!(operation(&get, "/repos/o/r/git/ref/heads/baton/dev/x"), "GET git/ref");
        assert_eq!(operation(&get, "/repos/o/r/contents/a/b.yaml?ref=main"), "GET contents");
        assert_eq!(operation(&http::Method::POST, "/repos/o/r/issues/12/labels"), "POST issues/labels");
        assert_eq!(operation(&get, "/repos/o/r/commits/abc/check-runs"), "GET commits/check-runs");
        assert_eq!(operation(&http::Method::PUT, "/repos/o/r/pulls/3/merge"), "PUT pulls/merge");
        assert_eq!(operation(&http::Method::POST, "/app/installations/5/access_tokens"), "POST app");
    }
}
