//! Pointer text for a version of a tracked channel tag (#13), in all four formats: flux-oci,
//! helm-values and kustomize-image keep `main` as the tag beside the digest; yaml-path templates
//! render `{revision}` as the version's name (`main-1a2b3c4`).

use baton::pointer::{get, set_tracked, Format, Selector};
use baton::types::{Digest, Tag};

const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn files() -> Vec<(&'static str, Format, Selector, String)> {
    vec![
        (
            "flux-oci",
            Format::FluxOci,
            Selector::default(),
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  interval: 5m\n  url: oci://ghcr.io/org/app\n  ref:\n    tag: main # tracked\n    digest: {OLD}\n"
            ),
        ),
        (
            "helm-values",
            Format::HelmValues,
            Selector { field: Some("image".into()), ..Selector::default() },
            format!("image:\n  repository: ghcr.io/org/app\n  tag: main\n  digest: \"{OLD}\"\nreplicas: 2\n"),
        ),
        (
            "kustomize-image",
            Format::KustomizeImage,
            Selector { image: Some("ghcr.io/org/app".into()), ..Selector::default() },
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\nimages:\n  - name: ghcr.io/org/app\n    newTag: main\n    digest: {OLD}\n"
            ),
        ),
        (
            "yaml-path ({repository}:{revision}@{digest})",
            Format::YamlPath,
            Selector {
                field: Some("spec.image".into()),
                image: Some("ghcr.io/org/app".into()),
                template: Some("{repository}:{revision}@{digest}".into()),
                ..Selector::default()
            },
            format!("spec:\n  image: ghcr.io/org/app:main-0000000@{OLD}  # bumped by baton\n"),
        ),
        (
            "yaml-path ({repository}@{digest})",
            Format::YamlPath,
            Selector {
                field: Some("spec.image".into()),
                image: Some("ghcr.io/org/app".into()),
                template: Some("{repository}@{digest}".into()),
                ..Selector::default()
            },
            format!("spec:\n  image: 'ghcr.io/org/app@{OLD}'\n"),
        ),
    ]
}

#[test]
fn tracked_versions_in_every_format() {
    let tag: Tag = "main".parse().unwrap();
    let digest: Digest = NEW.parse().unwrap();
    let mut out = String::new();
    for (what, format, sel, text) in files() {
        let new = set_tracked(&text, format, &sel, &tag, &digest, Some("main-1a2b3c4"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let cur = get(&new, format, &sel).unwrap();
        assert_eq!(cur.digest.as_deref(), Some(NEW), "{what}: reads back the new digest");
        out.push_str(&format!("# {what}\n{new}\n"));
    }
    insta::assert_snapshot!(out);
}
