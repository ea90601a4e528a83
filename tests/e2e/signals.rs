//! Verification signals as deployers really report them (issue #10): Flux's commit statuses on
//! the artifact's source commit or a later tip, check patterns with `min`, stale statuses,
//! Flux events posted to `/webhooks/flux`, timeouts, verification workflows, `baton/policy` on
//! every PR and merge groups.

use crate::support::world::*;

const FLUX_OK: &str = include_str!("../data/flux/kustomization-succeeded.json");

/// Flux's generic-hmac intake: 401 without a valid X-Signature (checked before parsing), 400 for
/// a body that is no Flux event, 200 "ignored" for events that say nothing about health, 202
/// for the rest; the previous key still works while it is rotated out.
#[tokio::test]
async fn flux_events_need_a_valid_signature() {
    let b = Baton::start(settings("http://127.0.0.1:9/", None)).await;
    assert_eq!(b.post_flux(FLUX_OK, None).await.status(), 401);
    assert_eq!(b.post_flux(FLUX_OK, Some("wrong")).await.status(), 401);
    assert_eq!(b.post_flux("{not json", Some("wrong")).await.status(), 401);
    let r = b.post_flux("{\"severity\":\"info\"}", Some(FLUX_SECRET)).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().starts_with("malformed Flux event: missing field `involvedObject`"));
    let progressing = FLUX_OK.replace("ReconciliationSucceeded", "Progressing");
    let r = b.post_flux(&progressing, Some(FLUX_SECRET)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "ignored: Flux Info event with reason \"Progressing\" says nothing about health\n"
    );
    let r = b.post_flux(FLUX_OK, Some("previous-flux-token")).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.unwrap(), "accepted (1 jobs)\n");
    // notification-controller retries with the same body: a duplicate.
    let r = b.post_flux(FLUX_OK, Some(FLUX_SECRET)).await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (200, "duplicate delivery\n"));
}
