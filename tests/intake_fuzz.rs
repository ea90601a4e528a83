//! No panics on any input. Property tests over the webhook intake's parsers: any
//! bytes, and mutations of real payloads, under every event name baton handles.

use proptest::prelude::*;

const EVENTS: &[&str] = &[
    "pull_request",
    "check_run",
    "check_suite",
    "status",
    "issue_comment",
    "push",
    "package",
    "registry_package",
    "ping",
    "",
];

fn examples() -> &'static [Vec<u8>] {
    static EXAMPLES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let all: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("data/webhooks/examples.json")).expect("vendored examples");
        all.iter().map(|e| serde_json::to_vec(&e["payload"]).unwrap()).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048), event in 0..EVENTS.len()) {
        let _ = baton::webhook::github::parse_event(EVENTS[event], &body);
        let _ = baton::webhook::registry::parse(&body);
    }

    #[test]
    fn mutated_real_payloads_never_panic(which in any::<usize>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), event in 0..EVENTS.len()) {
        let ex = examples();
        let mut body = ex[which % ex.len()].clone();
        for (at, byte) in flips {
            let n = body.len();
            body[at % n] = byte;
        }
        let _ = baton::webhook::github::parse_event(EVENTS[event], &body);
        let _ = baton::webhook::registry::parse(&body);
    }
}
