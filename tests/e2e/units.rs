//! Release units (#13): baton promotes a group's members as one unit — one PR per stage, verified
//! as one, carried downstream as exactly the verified digests, rolled back as one, one row in
//! `/status` — and in `baton/policy` a human PR that moves only part of a group fails the
//! whole-unit rule, naming the members left behind; one that moves the whole unit passes it.

use crate::support::world::*;

const MEMBERS: [&str; 3] = ["api", "web", "worker"];

fn pipeline(host: &str) -> String {
    unit_pipeline(host, "any", "auto")
}

/// The three members in `{host}/org/<member>`, group `platform` with `when`, dev (checks
/// `kustomization/platform-dev`) → staging (checks `e2e / staging`).
fn unit_pipeline(host: &str, when: &str, staging: &str) -> String {
    let mut s = String::from("artifacts:\n");
    for m in MEMBERS {
        s.push_str(&format!(
            "  {m}:\n    image: {host}/org/{m}\n    tags: '^\\d+\\.\\d+\\.\\d+$'\n    verify: [{{ key: .baton/keys/deploy.pub }}]\n"
        ));
    }
    s.push_str(&format!("groups:\n  platform: {{ artifacts: [api, web, worker], when: {when} }}\nstages:\n"));
    for (stage, from, check) in [("dev", None, "kustomization/platform-dev"), ("staging", Some("dev"), "e2e / staging")]
    {
        s.push_str(&format!("  - name: {stage}\n    verification: {{ checks: [\"{check}\"] }}\n"));
        if let Some(f) = from {
            s.push_str(&format!("    from: {f}\n    promotion: {staging}\n"));
        }
        s.push_str("    pointers:\n");
        for m in MEMBERS {
            s.push_str(&format!("      - {{ file: clusters/{stage}/{m}.yaml, format: flux-oci, artifact: {m} }}\n"));
        }
    }
    s
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A Flux OCIRepository pointer at `tag@digest`.
fn pointer(tag: &str, digest: &str) -> String {
    DEV_POINTER
        .replace("\"0.5.0\"", &format!("\"{tag}\""))
        .replace("sha256:0000000000000000000000000000000000000000000000000000000000000000", digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_pr_moving_only_part_of_a_unit_fails_policy() {
    let w = World::start_custom(pipeline, true).await;
    // dev runs the unit (api 1.1.0, web 2.1.0, worker 0.2.0); staging the one before.
    let dev = [("1.1.0", digest('a')), ("2.1.0", digest('b')), ("0.2.0", digest('c'))];
    let staging = [("1.0.0", digest('d')), ("2.0.0", digest('e')), ("0.1.0", digest('f'))];
    let mut files: Vec<(String, String)> = Vec::new();
    for (i, m) in MEMBERS.iter().enumerate() {
        files.push((format!("clusters/dev/{m}.yaml"), pointer(dev[i].0, &dev[i].1)));
        files.push((format!("clusters/staging/{m}.yaml"), pointer(staging[i].0, &staging[i].1)));
    }
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    w.gh.push_commit(REPO, "main", "sre", "the platform unit", &refs).await;

    // Only api moves to dev's version: web and worker are left behind.
    let api = pointer(dev[0].0, &dev[0].1);
    let (_, sha) = w.human_pr("only-api", &[("clusters/staging/api.yaml", Some(&api))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    let summary = check.summary.unwrap_or_default();
    assert!(summary.contains("| ❌ moves `api` of group `platform` without `web`, `worker` |"), "{summary}");
    assert!(
        summary.contains(
            "- **whole unit** in `clusters/staging/api.yaml` (staging): moves `api` of group `platform` without `web`, `worker`. Let baton promote the whole unit, or set `groups: { partial: allow }` on staging."
        ),
        "{summary}"
    );

    // The whole unit, exactly dev's digests: the whole-unit rule passes on every row.
    let whole: Vec<(String, String)> = MEMBERS
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("clusters/staging/{m}.yaml"), pointer(dev[i].0, &dev[i].1)))
        .collect();
    let refs: Vec<(&str, Option<&str>)> = whole.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let (_, sha) = w.human_pr("whole-unit", &refs).await;
    let summary = w.policy(&sha).await.summary.unwrap_or_default();
    let members: Vec<(baton::types::ArtifactName, baton::types::Digest)> =
        MEMBERS.iter().zip(&dev).map(|(m, (_, d))| (m.parse().unwrap(), d.parse().unwrap())).collect();
    let id = baton::units::UnitId::of(members.iter().map(|(a, d)| (a, d)));
    assert_eq!(summary.matches(&format!("| ✅ platform {id} |")).count(), 3, "{summary}");
    w.assert_no_violations();
}

/// The unit id of these members' digests.
fn unit_id(members: &[(&str, &String)]) -> baton::units::UnitId {
    let parsed: Vec<(baton::types::ArtifactName, baton::types::Digest)> =
        members.iter().map(|(m, d)| (m.parse().unwrap(), d.parse().unwrap())).collect();
    baton::units::UnitId::of(parsed.iter().map(|(a, d)| (a, d)))
}

/// Pushes `tag` of member `m` to the registry; its digest.
async fn push_member(w: &World, m: &str, tag: &str) -> String {
    w.registry.push_artifact(&format!("org/{m}"), tag, format!("{m} manifests of {tag}").as_bytes(), &[]).await
}

/// The registry holds api 1.0.0, web 2.0.0, worker 0.1.0, and dev and staging run them (one
/// commit). Returns each member's (tag, digest).
async fn unit_world(when: &str) -> (World, Vec<(String, String)>) {
    unit_world_with(when, "auto").await
}

/// [`unit_world`] with staging's `promotion` (`auto` or `manual`).
async fn unit_world_with(when: &str, staging: &str) -> (World, Vec<(String, String)>) {
    let (when, staging) = (when.to_string(), staging.to_string());
    let w = World::start_custom(move |host| unit_pipeline(host, &when, &staging), true).await;
    let mut unit = Vec::new();
    for (m, tag) in MEMBERS.iter().zip(["1.0.0", "2.0.0", "0.1.0"]) {
        unit.push((tag.to_string(), push_member(&w, m, tag).await));
    }
    w.settle().await;
    let mut files: Vec<(String, String)> = Vec::new();
    for stage in ["dev", "staging"] {
        for (m, (tag, digest)) in MEMBERS.iter().zip(&unit) {
            files.push((format!("clusters/{stage}/{m}.yaml"), pointer(tag, digest)));
        }
    }
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    w.gh.push_commit(REPO, "main", "sre", "the platform unit", &refs).await;
    w.settle().await;
    w.gh.add_user("bob");
    w.gh.set_permission(REPO, "bob", "write");
    (w, unit)
}

fn unit_prs(w: &World, stage: &str) -> Vec<crate::support::fake_github::Pull> {
    let prefix = format!("baton/{stage}/");
    w.gh.pulls(REPO).into_iter().filter(|p| p.head_ref.starts_with(&prefix)).collect()
}

/// `tag@digest` of a member's pointer at `git_ref` (a branch or sha).
fn member_at(w: &World, git_ref: &str, stage: &str, m: &str) -> String {
    let text = w.gh.file(REPO, git_ref, &format!("clusters/{stage}/{m}.yaml")).expect("pointer file");
    baton::pointer::get(&text, baton::pointer::Format::FluxOci, &baton::pointer::Selector::default())
        .unwrap()
        .to_string()
}

fn verified(w: &World, sha: &str, stage: &str) -> Option<crate::support::fake_github::CheckRun> {
    w.gh.check_run(REPO, sha, &format!("baton/verified/{stage}")).filter(|c| c.conclusion.as_deref() == Some("success"))
}

/// Posts a command and waits for baton's reply.
async fn say(w: &World, issue: u64, body: &str) -> String {
    let before = w.gh.comments(REPO, issue).len();
    let id = w.gh.comment(REPO, issue, "bob", body).await;
    w.until(&format!("an answer to {body:?}"), |gh| {
        let r = gh.reactions(REPO, id);
        r.iter().any(|x| x == "rocket" || x == "confused") && gh.comments(REPO, issue).len() > before + 1
    })
    .await;
    w.gh.comments(REPO, issue).into_iter().rev().find(|c| c.author == "baton[bot]").unwrap().body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_version_moves_the_unit_through_dev_and_staging_as_one() {
    let (w, unit) = unit_world("any").await;
    let api = push_member(&w, "api", "1.1.0").await;

    // One dev PR moves the whole unit: api's new version, web and worker as they are.
    w.until("dev's unit PR merged", |_| unit_prs(&w, "dev").iter().any(|p| p.merged)).await;
    let dev = unit_prs(&w, "dev");
    assert_eq!(dev.len(), 1, "one PR for the unit: {:?}", dev.iter().map(|p| &p.head_ref).collect::<Vec<_>>());
    assert_eq!(dev[0].head_ref, "baton/dev/platform");
    assert_eq!(dev[0].title, "promote platform (api 1.1.0, web 2.0.0, worker 0.1.0) to dev");
    let body = dev[0].body.clone().unwrap_or_default();
    let id = unit_id(&[("api", &api), ("web", &unit[1].1), ("worker", &unit[2].1)]);
    assert!(body.contains(&format!("Promotes release unit **platform** (`{id}`) to **dev**, as one.")), "{body}");
    let bump = w.gh.branch_sha(REPO, "main").unwrap();
    let message = w.gh.commit(REPO, &dev[0].head_sha).unwrap().message;
    assert!(message.contains(&format!("Baton-Unit: platform/{id}\n")), "{message}");
    assert!(message.contains(&format!("Baton-Member: api 1.1.0@{api}\n")), "{message}");
    assert_eq!(member_at(&w, "main", "dev", "api"), format!("1.1.0@{api}"));
    // The squash commit on main keeps the unit's trailers.
    let merged = w.gh.commit(REPO, &bump).unwrap().message;
    assert!(merged.contains(&format!("Baton-Unit: platform/{id}\n")), "{merged}");

    // The tag is pushed again with other content before dev verifies: staging must get the
    // digest dev runs and verified, never what the tag names now.
    let repushed = w.registry.push_artifact("org/api", "1.1.0", b"api manifests of 1.1.0, rebuilt", &[]).await;
    assert_ne!(repushed, api);
    w.settle().await;
    assert_eq!(unit_prs(&w, "dev").len(), 1, "a re-pushed tag is not a new unit");

    // Verified as one, on the unit's bump commit.
    w.until("dev's record waiting", |gh| gh.check_run(REPO, &bump, "baton/verified/dev").is_some()).await;
    w.gh.post_status(REPO, &bump, "kustomization/platform-dev", "success").await;
    w.until("dev verified", |_| verified(&w, &bump, "dev").is_some()).await;
    assert_eq!(
        verified(&w, &bump, "dev").unwrap().title.as_deref(),
        Some("platform (api 1.1.0, web 2.0.0, worker 0.1.0) is verified in dev")
    );

    // One staging PR with exactly the digests dev verified.
    w.until("staging's unit PR", |_| !unit_prs(&w, "staging").is_empty()).await;
    w.settle().await;
    let staging = unit_prs(&w, "staging");
    assert_eq!(staging.len(), 1);
    assert_eq!(staging[0].head_ref, "baton/staging/platform");
    assert_eq!(staging[0].title, "promote platform (api 1.1.0, web 2.0.0, worker 0.1.0) to staging");
    for (m, want) in
        MEMBERS.iter().zip([format!("1.1.0@{api}"), format!("2.0.0@{}", unit[1].1), format!("0.1.0@{}", unit[2].1)])
    {
        assert_eq!(member_at(&w, &staging[0].head_sha, "staging", m), want, "{m} in staging's PR");
    }
    let body = staging[0].body.clone().unwrap_or_default();
    assert!(body.contains("Verified in `dev` as this exact set of digests."), "{body}");
    // What changes: the member that moves (api), not the ones that stay.
    let changes = &body[body.find("### What changes").expect("a What changes section")..];
    assert!(changes.contains("`api`") && !changes.contains("`web`"), "{changes}");

    // /diff of the unit stage: member by member, what moving to dev's unit would change.
    let issue = w.gh.create_issue(REPO, "bob", "what would staging get?", "").await;
    let reply = say(&w, issue, "/diff staging").await;
    assert!(
        reply.contains("What moving **staging** to platform (api 1.1.0, web 2.0.0, worker 0.1.0) would change:"),
        "{reply}"
    );
    let refused = say(&w, issue, "/diff staging 1.1.0").await;
    assert!(refused.contains("Use `/diff staging` without a version to compare the whole unit."), "{refused}");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_all_waits_until_every_member_is_new() {
    let (w, _) = unit_world("all").await;
    push_member(&w, "api", "1.1.0").await;
    w.settle().await;
    push_member(&w, "web", "2.1.0").await;
    w.settle().await;
    assert!(unit_prs(&w, "dev").is_empty(), "worker has no new version yet: no unit");
    push_member(&w, "worker", "0.2.0").await;
    w.until("dev's unit PR", |_| !unit_prs(&w, "dev").is_empty()).await;
    w.settle().await;
    let dev = unit_prs(&w, "dev");
    assert_eq!(dev.len(), 1);
    assert_eq!(dev[0].title, "promote platform (api 1.1.0, web 2.1.0, worker 0.2.0) to dev");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_the_previous_unit_in_one_pr_and_status_shows_the_unit() {
    let (w, unit) = unit_world("any").await;
    // staging moves to the next unit (api and web new) in one commit.
    let api = push_member(&w, "api", "1.1.0").await;
    let web = push_member(&w, "web", "2.1.0").await;
    w.settle().await;
    // (dev got its own unit PR from those pushes; staging is moved by hand here.)
    let next = [pointer("1.1.0", &api), pointer("2.1.0", &web)];
    w.gh.push_commit(
        REPO,
        "main",
        "sre",
        "staging: the next platform unit",
        &[("clusters/staging/api.yaml", Some(&next[0])), ("clusters/staging/web.yaml", Some(&next[1]))],
    )
    .await;
    w.settle().await;
    let issue = w.gh.create_issue(REPO, "bob", "staging is broken", "").await;

    let status = say(&w, issue, "/status").await;
    let id = unit_id(&[("api", &api), ("web", &web), ("worker", &unit[2].1)]);
    assert!(
        status.contains(&format!(
            "| `staging` | `platform (unit)` | `api 1.1.0, web 2.1.0, worker 0.1.0` | `unit {id}` |"
        )),
        "{status}"
    );
    assert_eq!(status.matches("| `staging` |").count(), 1, "one row for the unit: {status}");

    let reply = say(&w, issue, "/rollback staging").await;
    w.settle().await;
    let staging = unit_prs(&w, "staging");
    assert_eq!(staging.len(), 1, "one PR rolls the whole unit back");
    let pr = &staging[0];
    assert!(
        reply.contains(&format!("#{} moves staging to platform (api 1.0.0, web 2.0.0, worker 0.1.0)", pr.number)),
        "{reply}"
    );
    assert_eq!(pr.title, "rollback platform to (api 1.0.0, web 2.0.0, worker 0.1.0) in staging");
    assert!(pr.labels.contains(&"baton:rollback".to_string()), "{:?}", pr.labels);
    for (m, (tag, digest)) in MEMBERS.iter().zip(&unit) {
        assert_eq!(member_at(&w, &pr.head_sha, "staging", m), format!("{tag}@{digest}"), "{m} in the rollback");
    }
    let message = w.gh.commit(REPO, &pr.head_sha).unwrap().message;
    assert!(message.contains(&format!("Baton-Rejected: 1.1.0@{api}\n")), "{message}");
    assert!(message.contains(&format!("Baton-Rejected: 2.1.0@{web}\n")), "{message}");
    assert!(!message.contains("Baton-Rejected: 0.1.0@"), "worker did not move: {message}");

    // A version names one artifact: refused on a unit stage, with what to do instead.
    let refused = say(&w, issue, "/rollback staging 1.0.0").await;
    assert!(refused.contains("staging runs release unit `platform`, which moves as one"), "{refused}");
    w.assert_no_violations();
}

/// The example's group: `api` has release tags, `worker` tracks its `main` channel tag.
fn mixed_pipeline(host: &str) -> String {
    format!(
        "artifacts:\n  api:\n    image: {host}/org/api\n    tags: '^\\d+\\.\\d+\\.\\d+$'\n    verify: [{{ key: .baton/keys/deploy.pub }}]\n  worker:\n    image: {host}/org/worker\n    track: main\n    verify: [{{ key: .baton/keys/deploy.pub }}]\ngroups:\n  platform: {{ artifacts: [api, worker] }}\nstages:\n  - name: dev\n    pointers:\n      - {{ file: clusters/dev/api.yaml, format: flux-oci, artifact: api }}\n      - {{ file: clusters/dev/worker.yaml, format: flux-oci, artifact: worker }}\n"
    )
}

async fn push_main(w: &World, build: u32, revision: &str) -> String {
    w.registry
        .push_artifact(
            "org/worker",
            "main",
            format!("worker build {build}").as_bytes(),
            &[("org.opencontainers.image.revision", revision)],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracked_member_moves_its_unit_by_digest_and_updates_the_pr_in_place() {
    let w = World::start_custom(mixed_pipeline, true).await;
    let api = push_member(&w, "api", "1.0.0").await;
    let first = push_main(&w, 1, "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    w.settle().await;
    w.gh.push_commit(
        REPO,
        "main",
        "sre",
        "the platform unit",
        &[
            ("clusters/dev/api.yaml", Some(&pointer("1.0.0", &api))),
            ("clusters/dev/worker.yaml", Some(&pointer("main", &first))),
        ],
    )
    .await;
    w.settle().await;

    // A new digest of `main`: the unit moves, named after the build's source revision.
    let second = push_main(&w, 2, "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").await;
    w.until("dev's unit PR", |_| !unit_prs(&w, "dev").is_empty()).await;
    w.settle().await;
    let pr = unit_prs(&w, "dev").remove(0);
    assert_eq!(pr.head_ref, "baton/dev/platform");
    assert_eq!(pr.title, "promote platform (api 1.0.0, worker main-2222222) to dev");
    assert_eq!(member_at(&w, &pr.head_sha, "dev", "worker"), format!("main@{second}"));
    let text = w.gh.file(REPO, &pr.head_sha, "clusters/dev/worker.yaml").unwrap();
    assert!(
        text.contains("tag: \"main\"") || text.contains("tag: main"),
        "the channel tag stays beside the digest: {text}"
    );

    // The next digest: the same PR, updated in place (dev is auto: it may have merged; then a
    // second PR is the next unit on the same branch).
    let third = push_main(&w, 3, "3333333ccccccccccccccccccccccccccccccccc").await;
    w.until("the unit moved on to the third build", |_| {
        unit_prs(&w, "dev").iter().any(|p| p.title == "promote platform (api 1.0.0, worker main-3333333) to dev")
    })
    .await;
    w.settle().await;
    let open: Vec<_> = unit_prs(&w, "dev").into_iter().filter(|p| p.state == "open").collect();
    assert!(open.len() <= 1, "one open unit PR at most");
    let newest = unit_prs(&w, "dev").into_iter().find(|p| p.title.contains("main-3333333")).unwrap();
    assert_eq!(member_at(&w, &newest.head_sha, "dev", "worker"), format!("main@{third}"));
    assert!(unit_prs(&w, "dev").iter().all(|p| p.head_ref == "baton/dev/platform"));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_carrying_a_unit_dev_verified_passes_after_dev_moved_on() {
    let (w, unit) = unit_world_with("any", "manual").await;
    // dev verifies the unit with api 1.1.0 …
    let api = push_member(&w, "api", "1.1.0").await;
    w.until("dev runs api 1.1.0", |_| member_at(&w, "main", "dev", "api") == format!("1.1.0@{api}")).await;
    w.settle().await;
    let verified_bump = w.gh.branch_sha(REPO, "main").unwrap();
    w.gh.post_status(REPO, &verified_bump, "kustomization/platform-dev", "success").await;
    w.until("dev verified", |_| verified(&w, &verified_bump, "dev").is_some()).await;
    // … then moves on to api 1.2.0 (not verified yet).
    let newer = push_member(&w, "api", "1.2.0").await;
    w.until("dev runs api 1.2.0", |_| member_at(&w, "main", "dev", "api") == format!("1.2.0@{newer}")).await;
    w.settle().await;

    // A PR moving staging to the unit dev verified (api 1.1.0 with web and worker as they
    // were) is a whole unit, though dev runs another one now.
    let (_, sha) = w.human_pr("staging-u1", &[("clusters/staging/api.yaml", Some(&pointer("1.1.0", &api)))]).await;
    let check = w.policy(&sha).await;
    let summary = check.summary.clone().unwrap_or_default();
    let id = unit_id(&[("api", &api), ("web", &unit[1].1), ("worker", &unit[2].1)]);
    assert!(summary.contains(&format!("| ✅ platform {id} |")), "{summary}");
    assert_eq!(check.conclusion.as_deref(), Some("success"), "{summary}");

    // The newer api that dev has not verified is still not a unit staging may take.
    let (_, sha) = w.human_pr("staging-u2", &[("clusters/staging/api.yaml", Some(&pointer("1.2.0", &newer)))]).await;
    assert_eq!(w.policy(&sha).await.conclusion.as_deref(), Some("failure"));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_another_member_never_brings_back_a_rolled_back_one() {
    let (w, _) = unit_world("any").await;
    let api = push_member(&w, "api", "1.1.0").await;
    w.until("dev runs api 1.1.0", |_| member_at(&w, "main", "dev", "api") == format!("1.1.0@{api}")).await;
    let web = push_member(&w, "web", "2.1.0").await;
    w.until("dev runs web 2.1.0", |_| member_at(&w, "main", "dev", "web") == format!("2.1.0@{web}")).await;
    w.settle().await;

    // web 2.1.0 is rolled back in dev: the unit before it comes back in one PR, which merges.
    let issue = w.gh.create_issue(REPO, "bob", "web 2.1.0 is broken", "").await;
    let reply = say(&w, issue, "/rollback dev").await;
    assert!(reply.contains("moves dev to platform (api 1.1.0, web 2.0.0, worker 0.1.0)"), "{reply}");
    w.until("dev runs web 2.0.0 again", |_| member_at(&w, "main", "dev", "web").starts_with("2.0.0@")).await;
    w.settle().await;

    // worker's new version makes a unit with web as it runs, not the rolled-back 2.1.0.
    push_member(&w, "worker", "0.2.0").await;
    w.until("the next unit", |_| {
        unit_prs(&w, "dev").iter().any(|p| p.title == "promote platform (api 1.1.0, web 2.0.0, worker 0.2.0) to dev")
    })
    .await;
    w.assert_no_violations();
}
