//! The hot paths of one delivery, measured: `cargo bench --bench hot_paths`.
//! - webhook intake: HMAC-SHA256 verification and parsing of a real `pull_request` payload;
//! - pointer editing: `pointer::set` on the largest real-world file of the corpus
//!   (argo-cd's 179 KB Helm values, read in place from ../shared; skipped if absent);
//! - the pipeline parser on the commented example;
//! - the promotion-window decision (#13).

use criterion::{criterion_group, criterion_main, Criterion};

fn intake(c: &mut Criterion) {
    let examples: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../tests/data/webhooks/examples.json")).unwrap();
    let pr = examples.iter().find(|e| e["event"] == "pull_request" && e["action"] == "opened").unwrap();
    let body = serde_json::to_vec(&pr["payload"]).unwrap();
    let secrets = [baton::settings::Secret::new("new-secret"), baton::settings::Secret::new("old-secret")];
    let sig = baton::webhook::signature::sign("old-secret", &body);
    c.bench_function("webhook: verify HMAC over a pull_request payload (2 secrets)", |b| {
        b.iter(|| assert!(baton::webhook::signature::verify(&secrets, Some(&sig), &body)))
    });
    c.bench_function("webhook: parse a pull_request payload", |b| {
        b.iter(|| baton::webhook::github::parse_event("pull_request", &body).unwrap())
    });
}

fn pointer(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/pointers/argoproj__argo-helm__charts__argo-cd__values.yaml"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("pointer corpus not found beside the checkout; pointer benchmark skipped");
        return;
    };
    let sel = baton::pointer::Selector { field: Some("global.image".into()), ..Default::default() };
    let tag = "9.8.7".parse().unwrap();
    let digest = "sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f".parse().unwrap();
    c.bench_function("pointer: set tag+digest in argo-cd values.yaml (179 KB)", |b| {
        b.iter(|| baton::pointer::set(&text, baton::pointer::Format::HelmValues, &sel, &tag, &digest).unwrap())
    });
}

fn pipeline(c: &mut Criterion) {
    let text = include_str!("../examples/baton.yaml");
    c.bench_function("pipeline: parse and validate examples/baton.yaml", |b| {
        b.iter(|| baton::pipeline::parse(text).unwrap())
    });
}

/// #13: the promotion-window decision, per event, for the example (office hours, a
/// weekend deny, a year-end freeze): inside a window, and closed with the next opening 3 weeks
/// away (the longest search).
fn windows(c: &mut Criterion) {
    use baton::windows::{parse_timezone, Windows};
    let w = Windows {
        timezone: parse_timezone("Europe/Berlin").unwrap(),
        allow: vec!["Mon-Thu 09:00-17:00".parse().unwrap()],
        deny: vec!["Fri 15:00 - Mon 08:00".parse().unwrap(), "2026-12-20 - 2027-01-06".parse().unwrap()],
    };
    let open = chrono::DateTime::parse_from_rfc3339("2026-12-02T09:00:00Z").unwrap().to_utc();
    let frozen = chrono::DateTime::parse_from_rfc3339("2026-12-17T17:00:00Z").unwrap().to_utc();
    c.bench_function("windows: state inside an allow window", |b| b.iter(|| w.state(open)));
    c.bench_function("windows: state in a freeze, next opening 3 weeks away", |b| b.iter(|| w.state(frozen)));
}

criterion_group!(benches, intake, pointer, pipeline, windows);
criterion_main!(benches);
