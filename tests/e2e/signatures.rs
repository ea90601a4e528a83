//! The promotion path enforces signatures: real cosign signatures made here,
//! verified by baton against the key in the deployment repository.

use crate::support::signing::{payload, push_signatures, Key, SigLayer};
use crate::support::world::*;

const IMAGE_REPO: &str = "deployments/myapp";

async fn sign(w: &World, key: &Key, digest: &str) {
    let image = format!("{}/{IMAGE_REPO}", w.registry.host());
    push_signatures(&w.registry, IMAGE_REPO, digest, &[SigLayer::signed(key, payload(&image, digest))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_versions_are_promoted_and_rejections_are_explained() {
    let key = Key::generate();
    let w = World::start_signed(&key.public_pem()).await;

    // Signed by the repository's key: a PR, and a green policy check that says by which key.
    let digest = w.push("0.5.1").await;
    sign(&w, &key, &digest).await;
    w.until("a PR for the signed version", |gh| gh.pulls(REPO).iter().any(|p| p.title == "promote myapp 0.5.1 to dev"))
        .await;
    let pr = w.prs("dev").pop().unwrap();
    assert!(pr.body.clone().unwrap_or_default().contains("| Signature | verified (key .baton/keys/deploy.pub) |"));
    let check = w.policy(&pr.head_sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{:?}", check.summary);

    // Signed by someone else's key: no PR; one baton:rejected issue that says why.
    let other = Key::generate();
    let forged = w.push("0.5.2").await;
    sign(&w, &other, &forged).await;
    w.until("a baton:rejected issue", |gh| {
        gh.issues(REPO).iter().any(|i| i.labels.iter().any(|l| l == "baton:rejected"))
    })
    .await;
    // Unsigned: rejected after the bounded wait for a late signature.
    let unsigned = w.push("0.5.3").await;
    w.until("two baton:rejected issues", |gh| {
        gh.issues(REPO).iter().filter(|i| i.labels.iter().any(|l| l == "baton:rejected")).count() == 2
    })
    .await;
    // The same push notified again: still one issue per version.
    w.baton.post_registry(&push_envelope(&w.registry.host(), IMAGE_REPO, "0.5.3", &unsigned)).await;
    w.settle().await;
    let rejected: Vec<_> =
        w.gh.issues(REPO).into_iter().filter(|i| i.labels.iter().any(|l| l == "baton:rejected")).collect();
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    let forged_issue = rejected.iter().find(|i| i.title.contains("0.5.2")).unwrap();
    let body = forged_issue.body.clone().unwrap_or_default();
    assert!(body.contains(&forged) && body.contains("key .baton/keys/deploy.pub"), "{body}");
    let unsigned_issue = rejected.iter().find(|i| i.title.contains("0.5.3")).unwrap();
    assert!(unsigned_issue.body.clone().unwrap_or_default().contains("no signature"), "{:?}", unsigned_issue.body);
    // Nothing was proposed for them.
    let titles: Vec<String> = w.gh.pulls(REPO).iter().map(|p| p.title.clone()).collect();
    assert_eq!(titles, ["promote myapp 0.5.1 to dev"]);
    w.assert_no_violations();
}
