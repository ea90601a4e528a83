//! Edge cases of pointer get/set. Before/after diffs of a few typical edits are inline insta
//! snapshots (`assert_snapshot!(…, @"…")`).

use super::*;

const D: &str = "sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f";
const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

fn digest() -> Digest {
    D.parse().unwrap()
}

fn helm(field: Option<&str>) -> Selector {
    Selector { field: field.map(str::to_string), ..Selector::default() }
}

fn flux(name: Option<&str>) -> Selector {
    Selector { name: name.map(str::to_string), ..Selector::default() }
}

fn kust(image: &str) -> Selector {
    Selector { image: Some(image.to_string()), ..Selector::default() }
}

fn path(field: &str) -> Selector {
    Selector { field: Some(field.to_string()), ..Selector::default() }
}

fn set_ok(text: &str, format: Format, sel: &Selector, t: &str) -> String {
    let out = set(text, format, sel, &tag(t), &digest()).unwrap_or_else(|e| panic!("set failed: {e}"));
    // Whatever was written reads back as what was set.
    let cur = get(&out, format, sel).unwrap();
    assert_eq!(cur.tag.as_deref(), Some(t), "{out}");
    assert_eq!(cur.digest.as_deref(), Some(D), "{out}");
    out
}

/// A minimal line diff: removed lines with `-`, added with `+`, for snapshots.
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..].iter().rev().zip(b[pre..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut out = String::new();
    for l in &a[pre..a.len() - suf] {
        out.push_str(&format!("-{}", l.replace('\r', "␍")));
    }
    for l in &b[pre..b.len() - suf] {
        out.push_str(&format!("+{}", l.replace('\r', "␍")));
    }
    out
}

const FLUX: &str = "\
---
# yaml-language-server: $schema=x
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: myapp
  namespace: flux-system
spec:
  interval: 5m
  url: oci://registry.internal/deployments/myapp
  ref:
    # pinned by baton
    tag: 0.5.1 # the version
  verify:
    provider: cosign
";

#[test]
fn flux_digest_added_after_tag() {
    let out = set_ok(FLUX, Format::FluxOci, &flux(None), "0.5.2");
    insta::assert_snapshot!(diff(FLUX, &out), @r"
    -    tag: 0.5.1 # the version
    +    tag: 0.5.2 # the version
    +    digest: sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f
    ");
}

#[test]
fn flux_semver_replaced_by_tag_and_digest() {
    let text = FLUX.replace("tag: 0.5.1 # the version", "semver: '>=0.5.0'");
    let out = set_ok(&text, Format::FluxOci, &flux(None), "0.5.2");
    insta::assert_snapshot!(diff(&text, &out), @r"
    -    semver: '>=0.5.0'
    +    tag: '0.5.2'
    +    digest: 'sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f'
    ");
}

#[test]
fn flux_ref_added_when_missing() {
    let text = FLUX.replace("  ref:\n    # pinned by baton\n    tag: 0.5.1 # the version\n", "");
    let out = set_ok(&text, Format::FluxOci, &flux(None), "0.5.2");
    insta::assert_snapshot!(diff(&text, &out), @r"
    +  ref:
    +    tag: 0.5.2
    +    digest: sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f
    ");
}

#[test]
fn flux_tag_inserted_before_digest() {
    let text = FLUX.replace("tag: 0.5.1 # the version", &format!("digest: \"{OLD}\""));
    let out = set_ok(&text, Format::FluxOci, &flux(None), "0.5.2");
    assert!(
        out.contains(&format!("    # pinned by baton\n    tag: \"0.5.2\"\n    digest: \"{D}\"\n  verify:")),
        "{out}"
    );
}

#[test]
fn flux_multi_doc_selection() {
    let two = format!("{FLUX}---\n{}", FLUX.replace("name: myapp", "name: other").trim_start_matches("---\n"));
    match set(&two, Format::FluxOci, &flux(None), &tag("1.0.0"), &digest()) {
        Err(PointerError::Ambiguous(m)) => {
            assert!(m.contains("`myapp`") && m.contains("`other`"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let out = set_ok(&two, Format::FluxOci, &flux(Some("other")), "1.0.0");
    // Only the second document changed.
    assert!(out.starts_with(FLUX), "{out}");
    assert_eq!(get(&out, Format::FluxOci, &flux(Some("myapp"))).unwrap().tag.as_deref(), Some("0.5.1"));
    assert!(matches!(get(&two, Format::FluxOci, &flux(Some("nope"))), Err(PointerError::NotFound(_))));
    // Another kind with the same name is not an OCIRepository.
    let hr = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: myapp\nspec:\n  ref:\n    tag: x\n";
    assert!(matches!(get(hr, Format::FluxOci, &flux(Some("myapp"))), Err(PointerError::NotFound(_))));
}

#[test]
fn crlf_line_endings_kept() {
    let text = "image:\r\n  repository: ghcr.io/org/app\r\n  tag: \"1.0.0\"\r\n  pullPolicy: IfNotPresent\r\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.1.0");
    assert_eq!(
        out,
        format!("image:\r\n  repository: ghcr.io/org/app\r\n  tag: \"1.1.0\"\r\n  digest: \"{D}\"\r\n  pullPolicy: IfNotPresent\r\n")
    );
    insta::assert_snapshot!(diff(text, &out), @r#"
    -  tag: "1.0.0"␍
    +  tag: "1.1.0"␍
    +  digest: "sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f"␍
    "#);
}

#[test]
fn no_trailing_newline_at_eof() {
    let text = "image:\n  tag: 1.0.0";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.1.0");
    assert_eq!(out, format!("image:\n  tag: 1.1.0\n  digest: {D}"));
    let text = "image:\r\n  tag: 1.0.0";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.1.0");
    assert_eq!(out, format!("image:\r\n  tag: 1.1.0\r\n  digest: {D}"));
}

#[test]
fn quoting_styles_kept() {
    let text = format!("a:\n  tag: '1.0'\n  digest: '{OLD}'\nb:\n  tag: \"1.0\"\n  digest: \"{OLD}\"\nc:\n  tag: v1\n  digest: {OLD}\n");
    let out = set_ok(&text, Format::HelmValues, &helm(Some("a")), "2.0.0");
    assert!(out.contains(&format!("  tag: '2.0.0'\n  digest: '{D}'\n")), "{out}");
    let out = set_ok(&text, Format::HelmValues, &helm(Some("b")), "2.0.0");
    assert!(out.contains(&format!("  tag: \"2.0.0\"\n  digest: \"{D}\"\n")), "{out}");
    let out = set_ok(&text, Format::HelmValues, &helm(Some("c")), "2.0.0");
    assert!(out.contains(&format!("  tag: 2.0.0\n  digest: {D}\n")), "{out}");
}

#[test]
fn bitnami_style_empty_digest() {
    let text = "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.29.1-debian-12-r0\n  ## digest comment\n  digest: \"\"\n  pullPolicy: IfNotPresent\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.29.2-debian-12-r0");
    insta::assert_snapshot!(diff(text, &out), @r#"
    -  tag: 1.29.1-debian-12-r0
    -  ## digest comment
    -  digest: ""
    +  tag: 1.29.2-debian-12-r0
    +  ## digest comment
    +  digest: "sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f"
    "#);
}

#[test]
fn null_values_with_trailing_comments() {
    let text = "image:\n  tag:  # @schema type:[string, null]\n  digest: ~ # pin\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "3.0.0");
    assert_eq!(out, format!("image:\n  tag: 3.0.0  # @schema type:[string, null]\n  digest: {D} # pin\n"));
}

#[test]
fn retyped_tags_are_quoted() {
    let text = "image:\n  tag: 1.9\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.10");
    assert_eq!(out, format!("image:\n  tag: \"1.10\"\n  digest: {D}\n"));
    for t in ["true", "10", "1e5", "0x1F", "2024-01-01", "yes", "null", "NO"] {
        let out = set_ok("image:\n  tag: latest\n", Format::HelmValues, &helm(None), t);
        assert!(out.contains(&format!("tag: \"{t}\"\n")), "{out}");
    }
    let out = set_ok("image:\n  tag: '1.9'\n", Format::HelmValues, &helm(None), "1.10");
    assert!(out.contains("tag: '1.10'\n"), "{out}");
}

#[test]
fn flow_mappings() {
    let text = "image: {repository: ghcr.io/org/app, tag: 1.0.0}  # keep\nother: 1\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.1.0");
    assert_eq!(out, format!("image: {{repository: ghcr.io/org/app, tag: 1.1.0, digest: \"{D}\"}}  # keep\nother: 1\n"));
    let text = format!("images: [{{name: app, newTag: v1, digest: \"{OLD}\"}}]\n");
    let out = set_ok(&text, Format::KustomizeImage, &kust("app"), "v2");
    assert_eq!(out, format!("images: [{{name: app, newTag: v2, digest: \"{D}\"}}]\n"));
    let text = "image: {repository: ghcr.io/org/app, digest: \"\"}\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "1.1.0");
    assert_eq!(out, format!("image: {{repository: ghcr.io/org/app, tag: \"1.1.0\", digest: \"{D}\"}}\n"));
}

#[test]
fn kustomize_entries() {
    let text = "\
images:
# frontend
- name: app
  newTag: master
- name: app-other
  newTag: master # keep me
- name: redis
  newName: mirror/redis
";
    let out = set_ok(text, Format::KustomizeImage, &kust("app-other"), "v2");
    insta::assert_snapshot!(diff(text, &out), @r"
    -  newTag: master # keep me
    +  newTag: v2 # keep me
    +  digest: sha256:4ceb1c1537496f1b007c72ef405411a46e3fe450fe864e5ac8f85725ddb5df1f
    ");
    let out = set_ok(text, Format::KustomizeImage, &kust("redis"), "7.2");
    assert!(
        out.ends_with(&format!("- name: redis\n  newName: mirror/redis\n  newTag: \"7.2\"\n  digest: {D}\n")),
        "{out}"
    );
    // Entries on the `- ` line get the key's indentation.
    let text = "images:\n  - name: app\n    newTag: v1\n";
    let out = set_ok(text, Format::KustomizeImage, &kust("app"), "v2");
    assert_eq!(out, format!("images:\n  - name: app\n    newTag: v2\n    digest: {D}\n"));
    let text = "images:\n  - newTag: v1\n    name: app\n";
    let out = set_ok(text, Format::KustomizeImage, &kust("app"), "v2");
    assert_eq!(out, format!("images:\n  - newTag: v2\n    digest: {D}\n    name: app\n"));
    assert!(matches!(get(text, Format::KustomizeImage, &kust("ap")), Err(PointerError::NotFound(_))));
    assert!(matches!(get(text, Format::KustomizeImage, &Selector::default()), Err(PointerError::NotFound(_))));
    let dup = "images:\n- name: a\n  newTag: v1\n- name: a\n  newTag: v2\n";
    assert!(matches!(get(dup, Format::KustomizeImage, &kust("a")), Err(PointerError::Ambiguous(_))));
}

#[test]
fn yaml_path_values() {
    let text = format!("spec:\n  containers:\n  - name: app\n    image: ghcr.io/org/app:1.0@{OLD} # pinned\n");
    let out = set_ok(&text, Format::YamlPath, &path("spec.containers[0].image"), "1.1");
    assert_eq!(out, format!("spec:\n  containers:\n  - name: app\n    image: ghcr.io/org/app:1.1@{D} # pinned\n"));
    // Dotted integer indexes work too.
    let out2 = set_ok(&text, Format::YamlPath, &path("spec.containers.0.image"), "1.1");
    assert_eq!(out, out2);
    // A bare tag@digest value stays bare.
    let text = format!("image:\n  tag: 1.0@{OLD}\n");
    let out = set_ok(&text, Format::YamlPath, &path("image.tag"), "1.1");
    assert_eq!(out, format!("image:\n  tag: 1.1@{D}\n"));
    // A template with {repository} from --image.
    let sel = Selector {
        field: Some("ref".into()),
        image: Some("reg.io/app".into()),
        template: Some("{repository}:{tag}@{digest}".into()),
        ..Selector::default()
    };
    let out = set_ok("ref: x\n", Format::YamlPath, &sel, "2.0");
    assert_eq!(out, format!("ref: reg.io/app:2.0@{D}\n"));
    // Errors.
    assert!(matches!(get(&text, Format::YamlPath, &path("image.nope")), Err(PointerError::NotFound(_))));
    assert!(matches!(get(&text, Format::YamlPath, &path("image")), Err(PointerError::NotFound(_))));
    assert!(matches!(get(&text, Format::YamlPath, &Selector::default()), Err(PointerError::NotFound(_))));
    let bad = Selector { template: Some("{tag}@{evil}".into()), ..path("image.tag") };
    assert!(set(&text, Format::YamlPath, &bad, &tag("1.1"), &digest()).is_err());
}

#[test]
fn injection_attempts_refused() {
    for t in ["1.0\nevil: true", "../../etc/passwd", "1.0 # x", "a: b", "", &"a".repeat(200)] {
        assert!(t.parse::<Tag>().is_err(), "{t:?}");
    }
    for d in ["sha256:1234", "sha512:ab", &format!("{D}\nx: y"), &D.to_uppercase()] {
        assert!(d.parse::<Digest>().is_err(), "{d:?}");
    }
    // A --image carrying a line break cannot reach the file through a template.
    let sel = Selector {
        field: Some("ref".into()),
        image: Some("reg.io/app\nevil: true".into()),
        template: Some("{repository}:{tag}@{digest}".into()),
        ..Selector::default()
    };
    assert!(matches!(set("ref: x\n", Format::YamlPath, &sel, &tag("1.0"), &digest()), Err(PointerError::Unsafe(_))));
    // Structure-like characters are quoted, not interpreted.
    let sel = Selector { field: Some("ref".into()), template: Some("{tag}: #{digest}".into()), ..Selector::default() };
    let out = set("ref: x\n", Format::YamlPath, &sel, &tag("1.0"), &digest()).unwrap();
    assert_eq!(out, format!("ref: \"1.0: #{D}\"\n"));
}

#[test]
fn aliases_refused() {
    let text = "base: &img\n  repository: app\n  tag: v1\nimage: *img\n";
    assert!(matches!(
        set(text, Format::HelmValues, &helm(Some("base")), &tag("v2"), &digest()),
        Err(PointerError::Unsafe(_))
    ));
    assert!(set(text, Format::HelmValues, &helm(Some("image")), &tag("v2"), &digest()).is_err());
    let text = "a:\n  tag: &t v1\nb:\n  tag: *t\n";
    assert!(matches!(
        set(text, Format::HelmValues, &helm(Some("a")), &tag("v2"), &digest()),
        Err(PointerError::Unsafe(_))
    ));
    // Anchors elsewhere in the file do not matter.
    let text = "ports: &p [80]\nother: *p\nimage:\n  tag: v1\n";
    set_ok(text, Format::HelmValues, &helm(None), "v2");
}

#[test]
fn block_scalars_and_tags_refused() {
    let text = "image:\n  tag: |\n    v1\n";
    assert!(matches!(set(text, Format::HelmValues, &helm(None), &tag("v2"), &digest()), Err(PointerError::Unsafe(_))));
    let text = "image:\n  tag: !!str v1\n";
    assert!(matches!(set(text, Format::HelmValues, &helm(None), &tag("v2"), &digest()), Err(PointerError::Unsafe(_))));
}

#[test]
fn block_scalar_holding_yaml_is_not_a_pointer() {
    let text = "patch: |\n  image:\n    tag: fake\nimage:\n  tag: v1\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "v2");
    assert!(out.starts_with("patch: |\n  image:\n    tag: fake\n"), "{out}");
}

#[test]
fn byte_order_mark_and_non_ascii_kept() {
    let text = "\u{feff}# café ☕\nimage:\n  name: ünïcode\n  tag: v1 # ✓\n";
    let out = set_ok(text, Format::HelmValues, &helm(None), "v2");
    assert_eq!(out, format!("\u{feff}# café ☕\nimage:\n  name: ünïcode\n  tag: v2 # ✓\n  digest: {D}\n"));
}

#[test]
fn helm_errors() {
    let text = "image: nginx:1.0\nfoo:\n  bar: 1\n";
    assert!(matches!(get(text, Format::HelmValues, &helm(None)), Err(PointerError::NotFound(_))));
    match get(text, Format::HelmValues, &helm(Some("foo.baz.image"))) {
        Err(PointerError::NotFound(m)) => assert!(m.contains("`foo` has no key `baz`"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(get("a: [", Format::HelmValues, &helm(None)), Err(PointerError::Parse(_))));
    // Present in two documents: ambiguous.
    let two = "image:\n  tag: v1\n---\nimage:\n  tag: v2\n";
    assert!(matches!(get(two, Format::HelmValues, &helm(None)), Err(PointerError::Ambiguous(_))));
    // A mapping without any one-line entry to put the keys next to.
    let text = "image:\n  nested:\n    a: 1\n";
    assert!(matches!(set(text, Format::HelmValues, &helm(None), &tag("v2"), &digest()), Err(PointerError::Unsafe(_))));
}

#[test]
fn get_reports_what_is_there() {
    assert_eq!(get("image:\n  tag: v1\n", Format::HelmValues, &helm(None)).unwrap().to_string(), "v1");
    let cur = get(&format!("image:\n  digest: {OLD}\n  tag: \"\"\n"), Format::HelmValues, &helm(None)).unwrap();
    assert_eq!(cur, Current { tag: None, digest: Some(OLD.into()) });
    assert_eq!(cur.to_string(), format!("@{OLD}"));
    assert_eq!(get("image:\n  x: 1\n", Format::HelmValues, &helm(None)).unwrap(), Current::default());
}

#[test]
fn verification_catches_unintended_changes() {
    use super::edit::{Change, Seg};
    let old = "a:\n  tag: v1\nb: 1\n";
    let change =
        |v: &str| Change { doc: 0, path: vec![Seg::Key("a".into()), Seg::Key("tag".into())], value: Some(v.into()) };
    assert!(verify::verify(old, "a:\n  tag: v2\nb: 1\n", &[change("v2")]).is_ok());
    assert!(matches!(verify::verify(old, "a:\n  tag: v2\nb: 2\n", &[change("v2")]), Err(PointerError::Unsafe(_))));
    assert!(matches!(verify::verify(old, "a:\n  tag: 2\nb: 1\n", &[change("2")]), Err(PointerError::Unsafe(_))));
    assert!(matches!(verify::verify(old, "a:\n  tag: v2\n---\nb: 1\n", &[change("v2")]), Err(PointerError::Unsafe(_))));
    assert!(matches!(verify::verify(old, "a:\n tag: [\n", &[change("v2")]), Err(PointerError::Unsafe(_))));
}

#[test]
fn no_panic_on_truncated_or_odd_input() {
    let sample = format!(
        "\u{feff}---\r\napiVersion: source.toolkit.fluxcd.io/v1\r\nkind: OCIRepository\r\nmetadata: {{name: é}}\r\nspec:\r\n  ref:\r\n    tag: 'a''b' # c\r\n    digest: \"{OLD}\"\r\n---\r\nimage: &x\r\n  tag: |\r\n    v1\r\nother: *x\r\nimages:\r\n- name: app\r\n  newTag:\r\nref: !!str a@{OLD}\r\n"
    );
    let sels = [
        (Format::FluxOci, flux(None)),
        (Format::HelmValues, helm(None)),
        (Format::KustomizeImage, kust("app")),
        (Format::YamlPath, path("ref")),
        (Format::YamlPath, Selector { template: Some("{repository}{".into()), ..path("ref") }),
    ];
    for (i, _) in sample.char_indices() {
        let text = &sample[..i];
        for (format, sel) in &sels {
            let _ = get(text, *format, sel);
            if let Ok(out) = set(text, *format, sel, &tag("1.0"), &digest()) {
                // Whatever is accepted reads back.
                assert_eq!(get(&out, *format, sel).unwrap().digest.as_deref(), Some(D), "{text:?}");
            }
        }
    }
}
