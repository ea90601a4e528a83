//! The manifest diff against a real registry (docker-registry): Flux-style artifacts built by
//! the test, a container image, hostile archives, and a host that is not configured.

use std::sync::Arc;

use baton::manifest_diff::{render, Differ, Limits};
use baton::registry::{OciRegistry, RegistrySettings};
use baton::types::{Digest, ImageName};

use crate::support::flux_artifacts::*;
use crate::support::registry::TestRegistry;

const REPO: &str = "deployments/myapp";

fn differ(registry: &TestRegistry, limits: Limits) -> Differ {
    let settings = RegistrySettings {
        hosts: vec![registry.host()],
        insecure_hosts: vec![registry.host()],
        ..RegistrySettings::default()
    };
    Differ::new(Arc::new(OciRegistry::new(&settings).unwrap()), limits)
}

fn image(registry: &TestRegistry) -> ImageName {
    format!("{}/{REPO}", registry.host()).parse().unwrap()
}

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

fn heading<'a>(old: &'a str, new: &'a str) -> render::Heading<'a> {
    render::Heading { artifact: "myapp", old, new, more: Some("/diff staging") }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flux_artifacts_from_a_real_registry() {
    let registry = TestRegistry::start(None).await;
    let old = push_flux(&registry, REPO, "0.5.122", &layer_of(&app_files("1.4.2", "aHVudGVyMg==", false)), &[]).await;
    let new =
        push_flux(&registry, REPO, "0.5.123", &layer_of(&app_files("1.4.3", "c3VwZXJzZWNyZXQ=", true)), &[]).await;
    let d = differ(&registry, Limits::default());
    let diff = d.diff(&image(&registry), &digest(&old), &digest(&new)).await;
    let text = render::markdown(&heading("0.5.122", "0.5.123"), &diff, render::PR_BODY_BUDGET);
    assert!(!text.contains("aHVudGVyMg") && !text.contains("c3VwZXJzZWNyZXQ") && !text.contains("YXBw"), "{text}");
    insta::assert_snapshot!(text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_image_has_no_content_diff_and_no_error() {
    let registry = TestRegistry::start(None).await;
    let old = push_image(&registry, REPO, "1.0.0", &[("org.opencontainers.image.version", "1.0.0")], 2).await;
    let new = push_image(&registry, REPO, "1.1.0", &[("org.opencontainers.image.version", "1.1.0")], 3).await;
    let diff = differ(&registry, Limits::default()).diff(&image(&registry), &digest(&old), &digest(&new)).await;
    insta::assert_snapshot!(render::markdown(&heading("1.0.0", "1.1.0"), &diff, render::PR_BODY_BUDGET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_give_one_clear_line() {
    let registry = TestRegistry::start(None).await;
    let good = push_flux(&registry, REPO, "1.0.0", &layer_of(&app_files("1.4.2", "aHVudGVyMg==", false)), &[]).await;
    let limits = Limits { max_entries: 100, max_uncompressed: 8 * 1024 * 1024, ..Limits::default() };
    let d = differ(&registry, limits);
    let mut lines = Vec::new();
    for (tag, layer) in [("2.0.0", traversal_layer()), ("3.0.0", many_entries_layer(150)), ("4.0.0", bomb_layer(16))] {
        let bad = push_flux(&registry, REPO, tag, &layer, &[]).await;
        let diff = d.diff(&image(&registry), &digest(&good), &digest(&bad)).await;
        let text = render::markdown(&heading("1.0.0", tag), &diff, render::PR_BODY_BUDGET);
        assert_eq!(text.lines().count(), 1, "{text}");
        lines.push(text.replace(&bad, "<digest>").replace(digest(&bad).short(), "<short>"));
    }
    insta::assert_snapshot!(lines.join(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_registries_are_read() {
    let registry = TestRegistry::start(None).await;
    let d = differ(&registry, Limits::default());
    let elsewhere: ImageName = "evil.example/deployments/myapp".parse().unwrap();
    let diff = d.diff(&elsewhere, &Digest::of(b"a"), &Digest::of(b"b")).await;
    assert_eq!(diff.unwrap_err().reason, "registry evil.example is not in baton's registry.hosts");
}

// ---------------------------------------------------------------------------------------------
// In promotion PRs and `/diff` replies, with baton running.

use crate::support::world::{pipeline_yaml, push_envelope, World, DEV_POINTER, REPO as DEPLOY};

const SOURCE: &str = "org/myapp";
const DEV: &str = "clusters/dev/myapp.yaml";

/// The source repository with three commits; returns (old revision, new revision).
async fn source_repo(w: &World) -> (String, String) {
    w.gh.add_repo(SOURCE, "main", &[("README.md", "myapp\n")]);
    let old = w.gh.push_commit(SOURCE, "main", "alice", "Release 1.4.2 (#40)", &[("VERSION", Some("1.4.2\n"))]).await;
    w.gh.push_commit(SOURCE, "main", "alice", "Add an egress NetworkPolicy (#41)", &[("np.yaml", Some("np\n"))]).await;
    let new = w.gh.push_commit(SOURCE, "main", "bob", "Release 1.4.3", &[("VERSION", Some("1.4.3\n"))]).await;
    (old, new)
}

fn annotations(revision: &str) -> Vec<(&'static str, String)> {
    vec![
        ("org.opencontainers.image.revision", format!("main@sha1:{revision}")),
        ("org.opencontainers.image.source", format!("https://github.com/{SOURCE}")),
    ]
}

async fn push_with(w: &World, tag: &str, layer: &[u8], revision: &str) -> String {
    let ann = annotations(revision);
    let ann: Vec<(&str, &str)> = ann.iter().map(|(k, v)| (*k, v.as_str())).collect();
    push_flux(&w.registry, REPO, tag, layer, &ann).await
}

/// Pins dev to `tag@digest` on the default branch, as a merged bump would have.
async fn dev_runs(w: &World, tag: &str, digest: &str) {
    let pointer = DEV_POINTER
        .replace("\"0.5.0\"", &format!("\"{tag}\""))
        .replace("sha256:0000000000000000000000000000000000000000000000000000000000000000", digest);
    w.gh.push_commit(DEPLOY, "main", "alice", &format!("dev runs {tag}"), &[(DEV, Some(&pointer))]).await;
}

/// Shas and digests vary per run: replaced by placeholders.
fn stable(text: &str, w: &World) -> String {
    let t = regex::Regex::new("sha256:[0-9a-f]{64}").unwrap().replace_all(text, "sha256:<digest>");
    let t = regex::Regex::new("sha256:[0-9a-f]{12}").unwrap().replace_all(&t, "sha256:<short>");
    let t = regex::Regex::new("[0-9a-f]{40}").unwrap().replace_all(&t, "<sha>");
    let t = regex::Regex::new("`[0-9a-f]{7}`").unwrap().replace_all(&t, "`<short>`");
    let t = regex::Regex::new("`[0-9a-f]{12}`").unwrap().replace_all(&t, "`<sha12>`");
    let t = regex::Regex::new("[0-9a-f]{7}\\.\\.\\.[0-9a-f]{7}").unwrap().replace_all(&t, "<short>...<short>");
    let t = regex::Regex::new("<!-- baton:reply:\\d+ -->").unwrap().replace_all(&t, "<!-- baton:reply:<id> -->");
    t.replace(&w.registry.host(), "<registry>")
}

/// A world whose registry does not notify baton: the test posts the push itself, after the
/// stage's pointer names the old version.
async fn quiet_world() -> World {
    World::start_custom(|host| pipeline_yaml(host, "pull-request", "manual"), false).await
}

async fn promote_to_dev(w: &World, tag: &str, digest: &str) -> String {
    let envelope = push_envelope(&w.registry.host(), REPO, tag, digest);
    assert!(w.baton.post_registry(&envelope).await.status().is_success());
    let title = format!("promote myapp {tag} to dev");
    w.until(&title, |gh| gh.pulls(DEPLOY).iter().any(|p| p.title == title)).await;
    w.baton.wait_idle().await;
    w.gh.pulls(DEPLOY).into_iter().find(|p| p.title == title).unwrap().body.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_pr_shows_the_manifest_diff_and_the_commits_it_brings() {
    let w = quiet_world().await;
    let (old_rev, new_rev) = source_repo(&w).await;
    let old = push_with(&w, "0.5.122", &layer_of(&app_files("1.4.2", "aHVudGVyMg==", false)), &old_rev).await;
    let new = push_with(&w, "0.5.123", &layer_of(&app_files("1.4.3", "c3VwZXJzZWNyZXQ=", true)), &new_rev).await;
    dev_runs(&w, "0.5.122", &old).await;
    w.gh.clear_requests();

    let body = promote_to_dev(&w, "0.5.123", &new).await;
    for secret in ["aHVudGVyMg", "c3VwZXJzZWNyZXQ", "YXBw"] {
        assert!(!body.contains(secret), "a Secret value leaked into the PR body:\n{body}");
    }
    assert!(body.contains("- Images: `ghcr.io/org/myapp:1.4.2` → `1.4.3`"), "{body}");
    assert!(body.contains("- Added: `NetworkPolicy/allow-egress` (shop)"), "{body}");
    assert!(body.contains("(org/myapp#41) — alice"), "{body}");
    // The marker still parses: the section sits before it.
    assert_eq!(baton::render::parse_marker(&body).map(|m| m.tag.to_string()).as_deref(), Some("0.5.123"));
    insta::assert_snapshot!(stable(&body, &w));

    // The promotion's only request beyond the usual: one compare on the source repository.
    let source_requests: Vec<String> =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(&format!("/repos/{SOURCE}")))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
    assert_eq!(source_requests, [format!("GET /repos/{SOURCE}/compare/{old_rev}...{new_rev}")]);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_or_hostile_artifacts_leave_one_line_and_the_promotion_goes_on() {
    let w = quiet_world().await;
    let old = push_flux(&w.registry, REPO, "1.0.0", &layer_of(&app_files("1.4.2", "aHVudGVyMg==", false)), &[]).await;
    dev_runs(&w, "1.0.0", &old).await;
    let mut lines = Vec::new();
    // Each newer version updates the same PR in place.
    for (tag, layer) in [("1.1.0", traversal_layer()), ("1.2.0", many_entries_layer(6_000))] {
        let digest = push_flux(&w.registry, REPO, tag, &layer, &[]).await;
        let body = promote_to_dev(&w, tag, &digest).await;
        let line = body.lines().find(|l| l.starts_with("**Manifest diff**")).unwrap_or_default().to_string();
        assert!(body.contains(&format!("promote myapp {tag}")) || body.contains(tag), "{body}");
        lines.push(stable(&line, &w));
    }
    // A container image: no content diff, no error.
    let running = push_image(&w.registry, REPO, "1.3.0", &[("org.opencontainers.image.version", "1.3.0")], 2).await;
    dev_runs(&w, "1.3.0", &running).await;
    let image = push_image(&w.registry, REPO, "1.4.0", &[("org.opencontainers.image.version", "1.4.0")], 3).await;
    let body = promote_to_dev(&w, "1.4.0", &image).await;
    lines.push(stable(body.lines().find(|l| l.starts_with("**Manifest diff**")).unwrap_or_default(), &w));
    insta::assert_snapshot!(lines.join("\n"));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_diff_replies_with_the_same_diff() {
    let w = World::start_manual().await;
    let (old_rev, new_rev) = source_repo(&w).await;
    let old = push_with(&w, "0.5.122", &layer_of(&app_files("1.4.2", "aHVudGVyMg==", false)), &old_rev).await;
    push_with(&w, "0.5.123", &layer_of(&app_files("1.4.3", "c3VwZXJzZWNyZXQ=", true)), &new_rev).await;
    dev_runs(&w, "0.5.122", &old).await;
    w.gh.add_user("bob");
    w.gh.set_permission(DEPLOY, "bob", "write");
    w.baton.wait_idle().await;
    let issue = w.gh.create_issue(DEPLOY, "bob", "what would 0.5.123 change?", "").await;
    let id = w.gh.comment(DEPLOY, issue, "bob", "/diff dev 0.5.123").await;
    w.until("baton's /diff reply", |gh| gh.reactions(DEPLOY, id).iter().any(|r| r == "rocket" || r == "confused"))
        .await;
    let reply = w.gh.comments(DEPLOY, issue).into_iter().rev().find(|c| c.author == "baton[bot]").unwrap().body;
    assert!(!reply.contains("aHVudGVyMg") && !reply.contains("c3VwZXJzZWNyZXQ"), "{reply}");
    assert_eq!(w.gh.reactions(DEPLOY, id), ["eyes", "rocket"]);
    insta::assert_snapshot!(stable(&reply, &w));

    // `/status` links what dev runs to the commit it was built from.
    let id = w.gh.comment(DEPLOY, issue, "bob", "/status").await;
    w.until("baton's /status reply", |gh| gh.reactions(DEPLOY, id).iter().any(|r| r == "rocket" || r == "confused"))
        .await;
    let status = w.gh.comments(DEPLOY, issue).into_iter().rev().find(|c| c.author == "baton[bot]").unwrap().body;
    let link = format!("| `0.5.122` ([`{}`](https://github.com/{SOURCE}/commit/{old_rev})) |", &old_rev[..12]);
    assert!(status.contains(&link), "{link} not in:\n{status}");
    w.assert_no_violations();
}
