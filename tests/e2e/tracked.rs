//! A tracked channel tag (#13, item 2), end to end with the real registry and real signatures:
//! every new digest `:main` points at is a version named after its source revision
//! (`main-1a2b3c4`); the first stage's PR is updated in place to the newest; later stages
//! promote the digest the earlier stage verified, never the tag; a re-push of an older digest
//! is not a version. Pointers in all four formats (flux-oci and yaml-path `{revision}` through
//! webhooks, helm-values and kustomize-image through `reconcile`).

use crate::support::signing::{payload, push_signatures, Key, SigLayer};
use crate::support::world::*;

const IMAGE_REPO: &str = "deployments/myapp";
const DEV: &str = "clusters/dev/myapp.yaml";
const STAGING: &str = "clusters/staging/app.yaml";
const ZERO: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// `first`: the first stage's name (each test its own, so that the counters they read, labelled
/// by stage, are theirs alone).
fn pipeline(host: &str, first: &str, dev_format: &str, staging_pointer: &str, dev_promotion: &str) -> String {
    format!(
        r#"artifacts:
  myapp:
    image: {host}/{IMAGE_REPO}
    track: main
    verify:
      - key: .baton/keys/deploy.pub
stages:
  - name: {first}
    pointers:
      - file: {DEV}
        format: {dev_format}
        artifact: myapp
    promotion: {dev_promotion}
    verification:
      checks: ["kustomization/myapp-dev"]
  - name: staging
    from: {first}
    promotion: auto
    pointers:
      - {staging_pointer}
    verification: {{ checks: ["e2e / staging"] }}
"#
    )
}

const DEV_FLUX: &str = r#"apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: myapp
  namespace: flux-system
spec:
  interval: 1m
  url: oci://registry.internal/deployments/myapp
  ref:
    tag: main # tracked
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
"#;

/// The `n`th build of `main`: its source revision is `n` repeated, built at minute `n`.
fn revision(n: u32) -> String {
    n.to_string().repeat(40)
}

/// Pushes build `n` to `:main` and signs it with `key`; returns its digest.
async fn push_main(w: &World, key: &Key, n: u32) -> String {
    let created = format!("2026-12-01T10:{n:02}:00Z");
    let digest = w
        .registry
        .push_artifact(
            IMAGE_REPO,
            "main",
            format!("manifests of build {n}").as_bytes(),
            &[
                ("org.opencontainers.image.revision", &revision(n)),
                ("org.opencontainers.image.source", "https://github.com/org/myapp"),
                ("org.opencontainers.image.created", &created),
            ],
        )
        .await;
    let image = format!("{}/{IMAGE_REPO}", w.registry.host());
    push_signatures(&w.registry, IMAGE_REPO, &digest, &[SigLayer::signed(key, payload(&image, &digest))]).await;
    digest
}

/// `main-nnnnnnn`.
fn name(n: u32) -> String {
    format!("main-{}", &revision(n)[..7])
}

/// How many tracked digests baton ignored as older in `stage` (its counter).
fn ignored_older(stage: &str) -> u64 {
    let text = baton::metrics::render();
    text.lines()
        .filter(|l| l.starts_with("baton_promotions_total{") || l.starts_with("promotions_total{"))
        .filter(|l| l.contains(&format!("stage=\"{stage}\"")) && l.contains("outcome=\"older\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_pushed_three_times_updates_one_pr_and_staging_gets_the_verified_digest() {
    let key = Key::generate();
    let staging_pointer = r#"{ file: clusters/staging/app.yaml, format: yaml-path, artifact: myapp, field: spec.image, template: "{repository}:{revision}@{digest}" }"#;
    let w = World::start_signed_files(
        &key.public_pem(),
        |host| pipeline(host, "dev", "flux-oci", staging_pointer, "manual"),
        |host| {
            vec![
                (DEV.to_string(), DEV_FLUX.to_string()),
                (
                    STAGING.to_string(),
                    format!("spec:\n  # the app's image, bumped by baton\n  image: {host}/{IMAGE_REPO}:main-0000000@{ZERO}\n"),
                ),
            ]
        },
        true,
    )
    .await;

    // Three builds of main: one dev PR, updated in place to the newest.
    let mut digests = Vec::new();
    for n in 1..=3 {
        digests.push(push_main(&w, &key, n).await);
        let title = format!("promote myapp {} to dev", name(n));
        w.until(&title, |gh| gh.pulls(REPO).iter().any(|p| p.title == title)).await;
    }
    w.settle().await;
    let prs = w.prs("dev");
    assert_eq!(prs.len(), 1, "one PR, updated in place: {prs:#?}");
    let pr = &prs[0];
    assert_eq!(pr.title, format!("promote myapp {} to dev", name(3)));
    let body = pr.body.clone().unwrap_or_default();
    assert!(body.contains(&format!("| Digest | `{}` |", digests[2])), "{body}");
    assert!(body.contains("| Channel tag | `main` (tracked"), "{body}");
    assert!(body.contains(&format!("\"name\":\"{}\"", name(3))), "{body}");
    let text = w.gh.file(REPO, "baton/dev/myapp", DEV).unwrap();
    assert_eq!(text, DEV_FLUX.replace(ZERO, &digests[2]), "flux-oci keeps `tag: main` beside the third digest");
    let commit = w.gh.commit(REPO, &pr.head_sha).unwrap();
    assert!(commit.message.starts_with(&format!("promote(dev): myapp {}\n", name(3))), "{}", commit.message);
    assert!(commit.message.contains("Baton-Track: main\n"), "{}", commit.message);
    let policy = w.policy(&pr.head_sha).await;
    assert_eq!(policy.conclusion.as_deref(), Some("success"), "{:?}", policy.summary);
    assert!(
        policy.summary.clone().unwrap_or_default().contains("is a digest of the tracked channel tag main"),
        "{:?}",
        policy.summary
    );

    // Merged; then main moves on to a fourth build before dev verifies the third.
    let dev_bump = w.gh.merge_pr(REPO, pr.number, "alice").await;
    w.settle().await;
    digests.push(push_main(&w, &key, 4).await);
    let fourth = format!("promote myapp {} to dev", name(4));
    w.until(&fourth, |gh| gh.pulls(REPO).iter().any(|p| p.title == fourth && p.state == "open")).await;
    w.gh.post_status(REPO, &dev_bump, "kustomization/myapp-dev", "success").await;

    // staging receives what dev verified: the third digest, named after its revision.
    let staging_title = format!("promote myapp {} to staging", name(3));
    w.until(&staging_title, |gh| gh.pulls(REPO).iter().any(|p| p.title == staging_title && p.merged)).await;
    let staging = w.gh.file(REPO, "main", STAGING).unwrap();
    assert_eq!(
        staging,
        format!(
            "spec:\n  # the app's image, bumped by baton\n  image: {}/{IMAGE_REPO}:{}@{}\n",
            w.registry.host(),
            name(3),
            digests[2]
        )
    );
    let staging_pr = w.prs("staging").pop().unwrap();
    assert!(staging_pr.body.unwrap_or_default().contains("| Verified in | `dev` |"));

    // A re-push of the second build's digest to :main is not a new version: dev's open PR (the
    // fourth build) is left as it is. The signal that the push was handled: baton counted it.
    let open = w.open_pr("dev").unwrap();
    let before = (open.title.clone(), open.body.clone(), open.head_sha.clone());
    let ignored = ignored_older("dev");
    let again = push_main(&w, &key, 2).await;
    assert_eq!(again, digests[1], "the same build, the same digest");
    w.settle().await;
    assert_eq!(ignored_older("dev"), ignored + 1, "the older digest was judged and ignored");
    let open = w.open_pr("dev").unwrap();
    assert_eq!((open.title.clone(), open.body.clone(), open.head_sha.clone()), before);
    assert_eq!(w.prs("dev").len(), 2);
    assert_eq!(w.gh.file(REPO, "baton/dev/myapp", DEV).unwrap(), DEV_FLUX.replace(ZERO, &digests[3]));
    assert_eq!(w.gh.file(REPO, "main", STAGING).unwrap(), staging, "staging still runs the verified digest");

    // `/diff staging` names the tracked versions (not semver) and does not fail.
    let issue = open.number;
    w.gh.add_user("carol");
    w.gh.set_permission(REPO, "carol", "write");
    let id = w.gh.comment(REPO, issue, "carol", "/diff staging").await;
    let key_text = format!("baton:reply:{id}");
    w.until("the /diff reply", |gh| gh.comments(REPO, issue).iter().any(|c| c.body.contains(&key_text))).await;
    let reply = w.gh.comments(REPO, issue).into_iter().find(|c| c.body.contains(&key_text)).unwrap().body;
    assert!(reply.contains(&format!("staging already runs `{}`: nothing would change", name(3))), "{reply}");
    // `/diff dev` (a first stage, no version): what `:main` points at now, by name.
    let id = w.gh.comment(REPO, issue, "carol", "/diff dev").await;
    let key_text = format!("baton:reply:{id}");
    w.until("the /diff dev reply", |gh| gh.comments(REPO, issue).iter().any(|c| c.body.contains(&key_text))).await;
    let reply = w.gh.comments(REPO, issue).into_iter().find(|c| c.body.contains(&key_text)).unwrap().body;
    assert!(
        reply.contains(&format!("What moving **dev** from `{}` to `{}` would change", name(3), name(2))),
        "{reply}"
    );
    // `/promote dev` without a version takes what `:main` points at, the older build: refused.
    let id = w.gh.comment(REPO, issue, "carol", "/promote dev").await;
    let key_text = format!("baton:reply:{id}");
    w.until("the /promote dev reply", |gh| gh.comments(REPO, issue).iter().any(|c| c.body.contains(&key_text))).await;
    let reply = w.gh.comments(REPO, issue).into_iter().find(|c| c.body.contains(&key_text)).unwrap().body;
    assert!(
        reply.contains(&format!("`main` points at {} ", name(2)))
            && reply.contains(&format!("not newer than {}", name(4))),
        "{reply}"
    );
    assert_eq!(w.open_pr("dev").map(|p| p.head_sha), Some(before.2.clone()), "dev's PR unchanged");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_resolves_main_now_in_helm_values_and_kustomize_image() {
    let key = Key::generate();
    let staging_pointer = r#"{ file: clusters/staging/kustomization.yaml, format: kustomize-image, artifact: myapp }"#;
    let values = format!(
        "image:\n  repository: registry.internal/deployments/myapp\n  tag: main\n  digest: {ZERO}\nreplicas: 2\n"
    );
    let kustomization = |host: &str, digest: &str| {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\nimages:\n  - name: {host}/{IMAGE_REPO}\n    newTag: main\n    digest: {digest}\n"
        )
    };
    let (v, k) = (values.clone(), kustomization);
    let w = World::start_signed_files(
        &key.public_pem(),
        |host| pipeline(host, "qa", "helm-values", staging_pointer, "auto"),
        move |host| {
            vec![(DEV.to_string(), v.clone()), ("clusters/staging/kustomization.yaml".to_string(), k(host, ZERO))]
        },
        false,
    )
    .await;
    let repo: baton::types::RepoName = REPO.parse().unwrap();

    // Two builds while baton heard nothing: reconcile resolves :main now (the second).
    push_main(&w, &key, 1).await;
    let second = push_main(&w, &key, 2).await;
    w.baton.engine.reconcile(&repo).await.unwrap();
    let prs = w.prs("qa");
    assert_eq!(prs.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), [format!("promote myapp {} to qa", name(2))]);
    // qa is automatic: its PR merged (policy green), the pointer keeps `tag: main`.
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(w.gh.file(REPO, "main", DEV).unwrap(), values.replace(ZERO, &second));

    // The first build re-pushed: reconcile finds :main older than what qa runs, nothing moves.
    let before = w.gh.branch_sha(REPO, "main");
    let ignored = ignored_older("qa");
    push_main(&w, &key, 1).await;
    w.baton.engine.reconcile(&repo).await.unwrap();
    assert_eq!(ignored_older("qa"), ignored + 1);
    assert_eq!(w.gh.branch_sha(REPO, "main"), before);
    assert_eq!(w.prs("qa").len(), 1);

    // qa verifies the second build; staging's kustomization gets its digest beside `newTag: main`.
    let dev_bump = w.prs("qa")[0].merge_commit_sha.clone().expect("qa merged");
    w.gh.post_check_run(REPO, &dev_bump, "kustomization/myapp-dev", "success", "flux").await;
    w.baton.engine.reconcile(&repo).await.unwrap();
    let staging = w.prs("staging");
    assert_eq!(staging.len(), 1, "{staging:#?}");
    assert_eq!(staging[0].title, format!("promote myapp {} to staging", name(2)));
    let text = w.gh.file(REPO, &staging[0].head_sha, "clusters/staging/kustomization.yaml").unwrap();
    assert_eq!(text, kustomization(&w.registry.host(), &second));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_without_a_version_takes_the_digest_the_first_stage_verified_not_the_newest() {
    let key = Key::generate();
    let staging_pointer = r#"{ file: clusters/staging/app.yaml, format: yaml-path, artifact: myapp, field: spec.image, template: "{repository}@{digest}" }"#;
    let w = World::start_signed_files(
        &key.public_pem(),
        |host| {
            pipeline(host, "int", "flux-oci", staging_pointer, "auto").replace(
                "    promotion: auto\n    pointers:\n      - { file: clusters/staging",
                "    promotion: manual\n    pointers:\n      - { file: clusters/staging",
            )
        },
        |host| {
            vec![
                (DEV.to_string(), DEV_FLUX.to_string()),
                (STAGING.to_string(), format!("spec:\n  image: {host}/{IMAGE_REPO}@{ZERO}\n")),
            ]
        },
        true,
    )
    .await;
    assert!(w.gh.file(REPO, "main", ".baton.yaml").unwrap().contains("promotion: manual"), "staging is manual");

    // Build 1 merges into int (automatic) and int verifies it.
    let first = push_main(&w, &key, 1).await;
    let title = format!("promote myapp {} to int", name(1));
    w.until(&title, |gh| gh.pulls(REPO).iter().any(|p| p.title == title && p.merged)).await;
    let bump = w.prs("int").pop().unwrap().merge_commit_sha.unwrap();
    w.gh.post_status(REPO, &bump, "kustomization/myapp-dev", "success").await;
    w.until("baton/verified/int", |gh| {
        gh.check_run(REPO, &bump, "baton/verified/int").is_some_and(|c| c.conclusion.as_deref() == Some("success"))
    })
    .await;
    // Build 2 merges into int too, not verified there yet; staging (manual) has no PR.
    let title = format!("promote myapp {} to int", name(2));
    push_main(&w, &key, 2).await;
    w.until(&title, |gh| gh.pulls(REPO).iter().any(|p| p.title == title && p.merged)).await;
    w.settle().await;
    assert!(w.prs("staging").is_empty());

    // `/promote staging`: the newest version int verified, build 1, by its digest.
    w.gh.add_user("carol");
    w.gh.set_permission(REPO, "carol", "write");
    let issue = w.gh.create_issue(REPO, "alice", "releases", "").await;
    let id = w.gh.comment(REPO, issue, "carol", "/promote staging").await;
    let key_text = format!("baton:reply:{id}");
    w.until("the /promote reply", |gh| gh.comments(REPO, issue).iter().any(|c| c.body.contains(&key_text))).await;
    let staging = w.prs("staging");
    assert_eq!(staging.len(), 1, "{staging:#?}");
    assert_eq!(staging[0].title, format!("promote myapp {} to staging", name(1)));
    let text = w.gh.file(REPO, &staging[0].head_sha, STAGING).unwrap();
    assert_eq!(text, format!("spec:\n  image: {}/{IMAGE_REPO}@{first}\n", w.registry.host()));
    let reply = w.gh.comments(REPO, issue).into_iter().find(|c| c.body.contains(&key_text)).unwrap().body;
    assert!(reply.contains(&format!("#{}", staging[0].number)), "{reply}");

    // `/status` names int's tracked version; `/rollback int` goes back to the build it ran before.
    let ask = |body: &'static str| {
        let w = &w;
        async move {
            let id = w.gh.comment(REPO, issue, "carol", body).await;
            let key_text = format!("baton:reply:{id}");
            w.until(body, |gh| gh.comments(REPO, issue).iter().any(|c| c.body.contains(&key_text))).await;
            w.gh.comments(REPO, issue).into_iter().find(|c| c.body.contains(&key_text)).unwrap().body
        }
    };
    let status = ask("/status").await;
    assert!(status.contains(&name(2)), "{status}");
    let rollback = ask("/rollback int").await;
    let title = format!("rollback myapp to {} in int", name(1));
    assert!(w.gh.pulls(REPO).iter().any(|p| p.title == title), "{rollback}");
    w.assert_no_violations();
}
