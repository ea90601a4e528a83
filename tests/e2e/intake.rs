//! Webhook intake: signatures, rotation, size limit, unknown events,
//! malformed payloads, and every example payload GitHub publishes.

use std::collections::BTreeMap;

use crate::support::world::*;

async fn baton() -> Baton {
    // No GitHub or registry behind it: these tests are about the HTTP answers only. The fake
    // address is unroutable on purpose; accepted events fail in the background, harmlessly.
    Baton::start_without_github(settings("http://127.0.0.1:9/", None)).await
}

#[tokio::test]
async fn signatures_are_checked_before_anything_else() {
    let b = baton().await;
    let body = br#"{"zen":"Design for failure.","hook_id":1}"#;
    assert_eq!(b.post_github("ping", "d1", body, Some(SECRET)).await.status(), 200);
    // The previous secret still works while it is being rotated out.
    assert_eq!(b.post_github("ping", "d2", body, Some("previous-secret")).await.status(), 200);
    assert_eq!(b.post_github("ping", "d3", body, Some("wrong")).await.status(), 401);
    assert_eq!(b.post_github("ping", "d4", body, None).await.status(), 401);
    // A malformed body with a bad signature is a 401, not a 400: nothing is parsed first.
    assert_eq!(b.post_github("pull_request", "d5", b"{not json", Some("wrong")).await.status(), 401);
    // A signature over other bytes.
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/github", b.url))
        .header("x-github-event", "ping")
        .header("x-hub-signature-256", baton::webhook::signature::sign(SECRET, b"other"))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn unknown_events_are_acknowledged_and_malformed_ones_refused() {
    let b = baton().await;
    let r = b.post_github("sponsorship", "u1", br#"{"action":"created"}"#, Some(SECRET)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("ignored"));
    let r = b.post_github("pull_request", "m1", br#"{"action":"opened","number":1}"#, Some(SECRET)).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("malformed pull_request payload"));
    let r = b.post_github("issue_comment", "m2", b"[1,2,3]", Some(SECRET)).await;
    assert_eq!(r.status(), 400);
    let r = b.post_github("", "m3", b"{}", Some(SECRET)).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let b = baton().await;
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let r = b.post_github("push", "big", &big, Some(SECRET)).await;
    assert_eq!(r.status(), 413);
    // Without a Content-Length (chunked), the limit is enforced while streaming.
    let stream = futures::stream::iter((0..27).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024])));
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/github", b.url))
        .header("x-github-event", "push")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn duplicate_deliveries_are_dropped() {
    let b = baton().await;
    let body = include_bytes!("../data/registry/distribution-push.json");
    let _ = body; // (the registry envelope is exercised in first_promotion)
    let pr = serde_json::json!({
        "action": "synchronize", "number": 7,
        "repository": {"full_name": REPO},
        "pull_request": {"number": 7, "user": {"login": "alice"},
            "head": {"ref": "feature", "sha": "a".repeat(40)}, "base": {"ref": "main", "sha": "b".repeat(40)}}
    })
    .to_string();
    assert_eq!(b.post_github("pull_request", "dup-1", pr.as_bytes(), Some(SECRET)).await.status(), 202);
    let r = b.post_github("pull_request", "dup-1", pr.as_bytes(), Some(SECRET)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("duplicate"));
}

#[tokio::test]
async fn registry_endpoint_needs_the_bearer_token() {
    let b = baton().await;
    let env = push_envelope("127.0.0.1:5000", "deployments/myapp", "1.0.0", &format!("sha256:{}", "a".repeat(64)));
    let r = reqwest::Client::new().post(format!("{}/webhooks/registry", b.url)).body(env.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/registry", b.url))
        .bearer_auth("not-the-token-at-all")
        .body(env.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(b.post_registry(&env).await.status(), 202);
    assert_eq!(b.post_registry("{\"nonsense\": true}").await.status(), 400);
    // A blob push only: acknowledged, ignored.
    let blob = r#"{"events":[{"action":"push","target":{"mediaType":"application/octet-stream","repository":"x","digest":"sha256:aa"}}]}"#;
    assert_eq!(b.post_registry(blob).await.status(), 200);
    // The real envelope Docker Distribution sent in the registry harness's self-test.
    let real = include_str!("../data/registry/distribution-push.json");
    assert!(b.post_registry(real).await.status().is_success());
}

#[tokio::test]
async fn health_and_readiness() {
    let b = baton().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = reqwest::get(format!("{}{path}", b.url)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}

/// Every example payload in @octokit/webhooks-examples gets a 2xx or a deliberate 4xx, never a
/// 5xx (and baton does not fall over).
#[tokio::test]
async fn every_published_example_payload_gets_a_deliberate_answer() {
    let b = baton().await;
    let examples: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../data/webhooks/examples.json")).expect("vendored examples");
    assert!(examples.len() > 100, "{} examples", examples.len());
    let mut by_status: BTreeMap<(String, u16), usize> = BTreeMap::new();
    for (i, ex) in examples.iter().enumerate() {
        let event = ex["event"].as_str().unwrap();
        let body = serde_json::to_vec(&ex["payload"]).unwrap();
        let r = b.post_github(event, &format!("example-{i}"), &body, Some(SECRET)).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(status < 500, "{event} example {i}: {status} {text}");
        if status >= 400 {
            panic!("{event}/{} example {i} was refused ({status}): {text}", ex["action"]);
        }
        *by_status.entry((event.to_string(), status)).or_default() += 1;
    }
    // The events baton handles are parsed, not just acknowledged.
    for handled in ["pull_request", "issue_comment", "check_run", "status", "push"] {
        assert!(by_status.contains_key(&(handled.to_string(), 202)), "{handled} was never accepted: {by_status:?}");
    }
    let r = reqwest::get(format!("{}/healthz", b.url)).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A full queue answers 503 (so GitHub's redelivery or the registry retries later) instead of
/// buffering without bound or blocking the sender.
#[tokio::test]
async fn a_full_queue_answers_503() {
    let mut s = settings("http://127.0.0.1:9/", None);
    s.server.queue_capacity = 1;
    s.server.concurrency = 1;
    let b = Baton::start_without_github(s).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let pr = serde_json::json!({
            "action": "synchronize", "number": i,
            "repository": {"full_name": REPO},
            "pull_request": {"number": i, "user": {"login": "alice"},
                "head": {"ref": "feature", "sha": "a".repeat(40)}, "base": {"ref": "main", "sha": "b".repeat(40)}}
        })
        .to_string();
        statuses.push(
            b.post_github("pull_request", &format!("q-{i}"), pr.as_bytes(), Some(SECRET)).await.status().as_u16(),
        );
    }
    assert!(statuses.iter().all(|s| *s == 202 || *s == 503), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    // A refused delivery was not recorded as seen: its redelivery is accepted once there is room.
    let refused = statuses.iter().position(|s| *s == 503).unwrap();
    b.wait_idle().await;
    let pr = serde_json::json!({
        "action": "synchronize", "number": refused,
        "repository": {"full_name": REPO},
        "pull_request": {"number": refused, "user": {"login": "alice"},
            "head": {"ref": "feature", "sha": "a".repeat(40)}, "base": {"ref": "main", "sha": "b".repeat(40)}}
    })
    .to_string();
    let again = b.post_github("pull_request", &format!("q-{refused}"), pr.as_bytes(), Some(SECRET)).await;
    assert_eq!(again.status(), 202);
}
