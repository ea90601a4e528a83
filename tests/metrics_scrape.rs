//! `GET /metrics` after a scenario: the counts match what happened. A test binary of its own,
//! because the metrics registry is process-wide.

#[path = "support/mod.rs"]
mod support;

use support::world::*;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse::<f64>().ok()))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let w = World::start_manual().await;
    w.push("0.5.1").await;
    w.until("a PR", |gh| gh.pulls(REPO).iter().any(|p| p.labels.len() >= 2)).await;
    // A forged delivery and an unknown event.
    assert_eq!(w.baton.post_github("push", "m-1", b"{}", Some("wrong")).await.status(), 401);
    assert_eq!(w.baton.post_github("sponsorship", "m-2", br#"{"action":"created"}"#, Some(SECRET)).await.status(), 200);
    w.settle().await;

    let text = reqwest::get(format!("{}/metrics", w.baton.url)).await.unwrap().text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    assert_eq!(
        value(&text, r#"baton_webhook_deliveries_total{source="github",event="push",outcome="rejected_signature"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"baton_webhook_deliveries_total{source="github",event="sponsorship",outcome="ignored"}"#),
        1.0
    );
    assert!(
        value(&text, r#"baton_webhook_deliveries_total{source="registry",event="push",outcome="accepted"}"#) >= 1.0
    );
    assert_eq!(value(&text, r#"baton_promotions_total{stage="dev",outcome="pull_request"}"#), 1.0);
    assert_eq!(value(&text, r#"baton_signature_verifications_total{outcome="verified"}"#), 1.0);
    assert_eq!(value(&text, r#"baton_github_requests_total{operation="POST pulls",status="201"}"#), 1.0);
    assert!(value(&text, r#"baton_registry_requests_total{outcome="ok"}"#) >= 1.0);
    assert_eq!(value(&text, "baton_queue_depth"), 0.0);
    assert!(value(&text, r#"baton_github_rate_limit_remaining{installation="org"}"#) > 0.0);
    assert!(text.contains("baton_event_handling_seconds_bucket{"), "{text}");
    // Label values are bounded: no SHAs, digests or logins.
    assert!(!regex::Regex::new("[0-9a-f]{40}|sha256:|alice").unwrap().is_match(&text), "{text}");
}
