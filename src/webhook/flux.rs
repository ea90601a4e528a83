//! `POST /webhooks/flux`: events from Flux's notification-controller through a `generic-hmac`
//! Provider (its `internal/notifier/forwarder.go`): the JSON of an `eventv1.Event`, signed with
//! `X-Signature: sha256=<hex HMAC-SHA256 of the body>` under the Provider's `token`.

use super::Received;
use crate::event::Event;
use crate::planner::signals::{flux_signal, FluxEvent};

/// The header notification-controller signs with.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// The body → a Flux event, or ignored when it says nothing about health (`Progressing`,
/// source-controller's `NewArtifact`, …). Malformed bodies are an error with the reason.
pub fn parse(body: &[u8]) -> Result<Received, String> {
    let event: FluxEvent = serde_json::from_slice(body).map_err(|e| format!("malformed Flux event: {e}"))?;
    if event.involved_object.kind.is_empty() || event.involved_object.name.is_empty() {
        return Err("malformed Flux event: involvedObject needs kind and name".into());
    }
    if flux_signal(&event).is_none() {
        return Ok(Received::Ignored(format!(
            "Flux {:?} event with reason {:?} says nothing about health",
            event.severity, event.reason
        )));
    }
    Ok(Received::Event(Box::new(Event::Flux(event))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/data/flux/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn fixtures_parse_into_events() {
        let Received::Event(ev) = parse(&fixture("helmrelease-upgrade-succeeded.json")).unwrap() else { panic!() };
        insta::assert_yaml_snapshot!(ev, @r#"
        Flux:
          involvedObject:
            kind: HelmRelease
            namespace: apps
            name: myapp
            uid: c41e2f0a-9b3d-4e61-8a7c-5d2f1e0b9a38
            apiVersion: helm.toolkit.fluxcd.io/v2
          severity: info
          timestamp: "2026-12-02T04:12:03Z"
          message: Helm upgrade succeeded for release apps/myapp.v7 with chart myapp@0.5.120
          reason: UpgradeSucceeded
          metadata:
            revision: "0.5.120@sha256:3f1a9c0e5b7d2486a0c4e6f8b1d3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f2a4b6"
          reportingController: helm-controller
          reportingInstance: helm-controller-5c8b6d9f7-q8r2w
        "#);
        assert!(matches!(parse(&fixture("kustomization-health-failed.json")), Ok(Received::Event(_))));
    }

    #[test]
    fn progressing_is_ignored_and_garbage_refused() {
        let text = String::from_utf8(fixture("kustomization-succeeded.json")).unwrap();
        let progressing = text.replace("ReconciliationSucceeded", "Progressing");
        assert_eq!(
            parse(progressing.as_bytes()),
            Ok(Received::Ignored("Flux Info event with reason \"Progressing\" says nothing about health".into()))
        );
        let e = parse(b"{\"severity\":\"info\"}").unwrap_err();
        assert!(e.starts_with("malformed Flux event: missing field `involvedObject`"), "{e}");
        let e = parse(text.replace("\"name\":\"myapp-dev\"", "\"name\":\"\"").as_bytes()).unwrap_err();
        assert_eq!(e, "malformed Flux event: involvedObject needs kind and name");
        assert!(parse(b"not json").is_err());
    }
}
