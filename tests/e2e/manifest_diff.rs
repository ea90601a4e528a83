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
