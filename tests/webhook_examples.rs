//! `parse_event` on every vendored GitHub example payload (tests/data/webhooks/examples.json,
//! from @octokit/webhooks-examples) of the events baton reads: the parsed fields are
//! snapshot-tested, not only the HTTP answer.

use baton::webhook::github::parse_event;
use baton::webhook::Received;
use serde_json::{json, Value};

const HANDLED: [&str; 8] =
    ["pull_request", "check_run", "check_suite", "status", "issue_comment", "push", "package", "registry_package"];

#[test]
fn parsed_example_payloads() {
    let examples: Vec<Value> =
        serde_json::from_str(include_str!("data/webhooks/examples.json")).expect("vendored examples");
    let mut parsed = Vec::new();
    let mut events = std::collections::BTreeSet::new();
    for (i, ex) in examples.iter().enumerate() {
        let event = ex["event"].as_str().expect("event name");
        if !HANDLED.contains(&event) {
            continue;
        }
        let body = serde_json::to_vec(&ex["payload"]).expect("payload");
        let outcome = match parse_event(event, &body) {
            Ok(Received::Event(e)) => {
                events.insert(event);
                json!({ "event": e })
            }
            Ok(Received::Ignored(why)) => json!({ "ignored": why }),
            Err(e) => json!({ "error": e }),
        };
        parsed.push(
            json!({ "example": format!("{i} {event}/{}", ex["action"].as_str().unwrap_or("-")), "parsed": outcome }),
        );
    }
    // Every event kind baton acts on yields at least one parsed event.
    for kind in ["pull_request", "check_run", "check_suite", "status", "issue_comment", "push"] {
        assert!(events.contains(kind), "no {kind} example was parsed into an event: {events:?}");
    }
    insta::assert_yaml_snapshot!(parsed);
}
