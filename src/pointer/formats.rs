//! The four pointer formats: how each one finds its pointer in the tree, reads it, and edits it.

use regex::Regex;

use super::edit::{render, Change, Editor, NewStyle, Seg};
use super::tree::{Kind, Node, Tree};
use super::{Current, Format, PointerError, Selector};
use crate::types::{Digest, Tag};

fn not_found(msg: impl Into<String>) -> PointerError {
    PointerError::NotFound(msg.into())
}

fn unsafe_(msg: impl Into<String>) -> PointerError {
    PointerError::Unsafe(msg.into())
}

/// A step of a user-given field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldSeg {
    Key(String),
    /// `[n]`: a sequence index.
    Index(usize),
    /// `n` between dots: an index into a sequence, or a key in a mapping.
    Number(String, usize),
}

/// Parses `a.b[0].c` / `a.b.0.c`.
fn parse_field(field: &str) -> Result<Vec<FieldSeg>, PointerError> {
    let bad = || {
        not_found(format!(
            "invalid field path {field:?}: expected dotted keys such as image or spec.containers[0].image"
        ))
    };
    if field.is_empty() {
        return Err(bad());
    }
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() && (out.is_empty() || rest.is_empty()) {
            return Err(bad());
        }
        if !name.is_empty() {
            match name.parse::<usize>() {
                Ok(n) if name.bytes().all(|b| b.is_ascii_digit()) => out.push(FieldSeg::Number(name.to_string(), n)),
                _ => out.push(FieldSeg::Key(name.to_string())),
            }
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let n: usize = rest[1..close].parse().map_err(|_| bad())?;
            out.push(FieldSeg::Index(n));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    Ok(out)
}

/// A node found by a path, with the nodes leading to it and the concrete path.
struct Found<'t> {
    doc: usize,
    node: &'t Node,
    /// The mapping or sequence that holds `node` (the document root holds itself).
    parent: &'t Node,
    chain: Vec<&'t Node>,
    path: Vec<Seg>,
}

/// Walks `field` in `root`; on failure, says how far it got.
fn walk<'t>(doc: usize, root: &'t Node, field: &[FieldSeg]) -> Result<Found<'t>, (usize, String)> {
    let mut cur = root;
    let mut parent = root;
    let mut chain = vec![root];
    let mut path = Vec::new();
    let mut shown = String::new();
    for (depth, seg) in field.iter().enumerate() {
        let here = if shown.is_empty() { "the document".to_string() } else { format!("`{shown}`") };
        let next = match (&cur.kind, seg) {
            (Kind::Map { .. }, FieldSeg::Key(k) | FieldSeg::Number(k, _)) => {
                let v = cur.get(k).ok_or_else(|| (depth, format!("{here} has no key `{k}`")))?;
                path.push(Seg::Key(k.clone()));
                if !shown.is_empty() {
                    shown.push('.');
                }
                shown.push_str(k);
                v
            }
            (Kind::Seq { items, .. }, FieldSeg::Index(i) | FieldSeg::Number(_, i)) => {
                let v = items
                    .get(*i)
                    .ok_or_else(|| (depth, format!("{here} has {} item(s), no index {i}", items.len())))?;
                path.push(Seg::Index(*i));
                shown.push_str(&format!("[{i}]"));
                v
            }
            (Kind::Alias, _) => return Err((depth, format!("{here} is an alias (*…); baton does not follow aliases"))),
            (_, FieldSeg::Key(k)) => {
                return Err((depth, format!("{here} is {}, not a mapping with key `{k}`", cur.describe())))
            }
            (_, _) => return Err((depth, format!("{here} is {}, not a sequence", cur.describe()))),
        };
        parent = cur;
        cur = next;
        chain.push(cur);
    }
    Ok(Found { doc, node: cur, parent, chain, path })
}

/// Finds `field` in exactly one document of the file.
fn find_unique<'t>(tree: &'t Tree, field: &str) -> Result<Found<'t>, PointerError> {
    let segs = parse_field(field)?;
    let mut hits = Vec::new();
    let mut best: Option<(usize, String)> = None;
    for (i, root) in tree.docs.iter().enumerate() {
        match walk(i, root, &segs) {
            Ok(f) => hits.push(f),
            Err((depth, msg)) => {
                if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                    best = Some((depth, msg));
                }
            }
        }
    }
    match hits.len() {
        1 => Ok(hits.pop().expect("one hit")),
        0 => {
            let why = best.map(|(_, m)| format!(": {m}")).unwrap_or_default();
            Err(not_found(format!("field `{field}` not found{why}")))
        }
        n => Err(PointerError::Ambiguous(format!(
            "field `{field}` exists in {n} documents of the file; cannot tell which one to use"
        ))),
    }
}

/// A scalar's value as an optional string (empty and null mean "not set").
fn scalar_value(node: Option<&Node>) -> Option<String> {
    match node.map(|n| &n.kind) {
        Some(Kind::Scalar { value, style, .. }) => {
            let null = *style == saphyr_parser::ScalarStyle::Plain
                && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
            (!null && !value.is_empty()).then(|| value.clone())
        }
        _ => None,
    }
}

fn is_flow(node: &Node) -> bool {
    matches!(node.kind, Kind::Map { flow: true, .. } | Kind::Seq { flow: true, .. })
}

// ---------------------------------------------------------------- flux-oci

fn flux_doc<'t>(tree: &'t Tree, sel: &Selector) -> Result<(usize, &'t Node), PointerError> {
    let repos: Vec<(usize, &Node)> = tree
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.get("kind").and_then(Node::scalar) == Some("OCIRepository")
                && d.get("apiVersion")
                    .and_then(Node::scalar)
                    .is_some_and(|v| v.starts_with("source.toolkit.fluxcd.io/"))
        })
        .collect();
    let name_of =
        |d: &Node| d.get("metadata").and_then(|m| m.get("name")).and_then(Node::scalar).unwrap_or("").to_string();
    let names = || repos.iter().map(|(_, d)| format!("`{}`", name_of(d))).collect::<Vec<_>>().join(", ");
    if repos.is_empty() {
        return Err(not_found(
            "no Flux OCIRepository (kind: OCIRepository, apiVersion: source.toolkit.fluxcd.io/*) in the file",
        ));
    }
    let chosen: Vec<&(usize, &Node)> = match &sel.name {
        Some(n) => repos.iter().filter(|(_, d)| name_of(d) == *n).collect(),
        None => repos.iter().collect(),
    };
    match (chosen.len(), &sel.name) {
        (1, _) => Ok(*chosen[0]),
        (0, Some(n)) => Err(not_found(format!("no OCIRepository named `{n}` in the file (it has {})", names()))),
        (_, Some(n)) => Err(PointerError::Ambiguous(format!("{} OCIRepositories are named `{n}`", chosen.len()))),
        (_, None) => Err(PointerError::Ambiguous(format!(
            "the file has {} OCIRepositories ({}): choose one with --name",
            chosen.len(),
            names()
        ))),
    }
}

fn flux_get(tree: &Tree, sel: &Selector) -> Result<Current, PointerError> {
    let (_, doc) = flux_doc(tree, sel)?;
    let r = doc.get("spec").and_then(|s| s.get("ref"));
    Ok(Current {
        tag: scalar_value(r.and_then(|r| r.get("tag"))),
        digest: scalar_value(r.and_then(|r| r.get("digest"))),
    })
}

fn flux_set(ed: &mut Editor, sel: &Selector, tag: &Tag, digest: &Digest) -> Result<(), PointerError> {
    let (i, doc) = flux_doc(ed.tree, sel)?;
    let spec =
        doc.get("spec").filter(|s| s.is_map()).ok_or_else(|| not_found("the OCIRepository has no spec mapping"))?;
    ed.check_not_aliased(&[doc, spec], "spec")?;
    let base = vec![Seg::Key("spec".into()), Seg::Key("ref".into())];
    match spec.entry("ref") {
        Some((_, _, r)) if r.is_map() => {
            ed.check_not_aliased(&[r], "spec.ref")?;
            set_pair(ed, i, &base, r, ("tag", "digest"), tag, digest, Some("semver"), &[])
        }
        Some(_) => Err(unsafe_("spec.ref of the OCIRepository is not a mapping; fix it by hand")),
        None => {
            // Add `ref:` with tag and digest after `url:` (or the last one-line entry).
            let Kind::Map { entries, flow: false } = &spec.kind else {
                return Err(unsafe_("spec of the OCIRepository is a flow mapping without ref; add ref by hand"));
            };
            let anchor = entries
                .iter()
                .find(|(k, v)| k.scalar() == Some("url") && ed.can_anchor(spec, k, v))
                .or_else(|| entries.iter().rev().find(|(k, v)| ed.can_anchor(spec, k, v)))
                .ok_or_else(|| unsafe_("cannot find where to add spec.ref; add it by hand"))?;
            let step = child_indent_step(doc, spec);
            let items = [
                ("tag", render(tag.as_str(), NewStyle::Plain, false)?),
                ("digest", render(digest.as_str(), NewStyle::Plain, false)?),
            ];
            ed.insert_block_after(spec, &anchor.0, &anchor.1, "ref", step, &items)?;
            // verify() creates the missing `ref` mapping on the way to these leaves.
            ed.record(Change {
                doc: i,
                path: [base.clone(), vec![Seg::Key("tag".into())]].concat(),
                value: Some(tag.to_string()),
            });
            ed.record(Change {
                doc: i,
                path: [base, vec![Seg::Key("digest".into())]].concat(),
                value: Some(digest.to_string()),
            });
            Ok(())
        }
    }
}

/// The indentation step of the file, from the spec mapping's position under `spec:`.
fn child_indent_step(doc: &Node, spec: &Node) -> usize {
    doc.entry("spec").map(|(_, k, _)| spec.col.saturating_sub(k.col)).filter(|s| *s > 0).unwrap_or(2)
}

// ---------------------------------------------------------------- shared tag/digest pair

/// Sets `keys.0` (tag) and `keys.1` (digest) in the mapping `map` at `base` in document `doc`.
/// A missing digest goes right after the tag, a missing tag right before the digest; when
/// both are missing, `replace_key` (flux's `semver`) is replaced by them, or they go after the
/// first of `anchors` present (or the last one-line entry).
#[allow(clippy::too_many_arguments)]
fn set_pair(
    ed: &mut Editor,
    doc: usize,
    base: &[Seg],
    map: &Node,
    keys: (&str, &str),
    tag: &Tag,
    digest: &Digest,
    replace_key: Option<&str>,
    anchors: &[&str],
) -> Result<(), PointerError> {
    let Kind::Map { entries, flow } = &map.kind else {
        return Err(unsafe_("expected a mapping"));
    };
    let flow = *flow;
    let path = |k: &str| {
        let mut p = base.to_vec();
        p.push(Seg::Key(k.to_string()));
        p
    };
    let change = |k: &str, v: &str| Change { doc, path: path(k), value: Some(v.to_string()) };
    let t = map.entry(keys.0);
    let d = map.entry(keys.1);
    match (t, d) {
        (Some((_, _, tv)), Some((_, _, dv))) => {
            ed.replace(tv, tag.as_str(), flow, change(keys.0, tag.as_str()))?;
            ed.replace(dv, digest.as_str(), flow, change(keys.1, digest.as_str()))?;
        }
        (Some((_, tk, tv)), None) => {
            ed.replace(tv, tag.as_str(), flow, change(keys.0, tag.as_str()))?;
            let v = render(digest.as_str(), if flow { NewStyle::Double } else { NewStyle::like(tv) }, flow)?;
            ed.insert_after(map, tk, tv, &[(keys.1, v)])?;
            ed.record(change(keys.1, digest.as_str()));
        }
        (None, Some((_, dk, dv))) => {
            ed.replace(dv, digest.as_str(), flow, change(keys.1, digest.as_str()))?;
            let v = render(tag.as_str(), NewStyle::like(dv), flow)?;
            ed.insert_before(map, dk, dv, &[(keys.0, v)])?;
            ed.record(change(keys.0, tag.as_str()));
        }
        (None, None) => {
            let replaced = replace_key.and_then(|k| map.entry(k)).filter(|(_, k, v)| !flow && ed.can_anchor(map, k, v));
            if let Some((_, rk, rv)) = replaced {
                let style = NewStyle::like(rv);
                let items =
                    [(keys.0, render(tag.as_str(), style, flow)?), (keys.1, render(digest.as_str(), style, flow)?)];
                ed.replace_entry(map, rk, rv, &items)?;
                ed.record(Change { doc, path: path(rk.scalar().unwrap_or_default()), value: None });
            } else {
                let anchor = anchors
                    .iter()
                    .filter_map(|a| map.entry(a))
                    .map(|(_, k, v)| (k, v))
                    .find(|(k, v)| ed.can_anchor(map, k, v))
                    .or_else(|| entries.iter().rev().map(|(k, v)| (k, v)).find(|(k, v)| ed.can_anchor(map, k, v)))
                    .ok_or_else(|| {
                        unsafe_(format!("cannot find where to add `{}` and `{}`; add them by hand", keys.0, keys.1))
                    })?;
                let style = if flow { NewStyle::Double } else { NewStyle::Plain };
                let items =
                    [(keys.0, render(tag.as_str(), style, flow)?), (keys.1, render(digest.as_str(), style, flow)?)];
                ed.insert_after(map, anchor.0, anchor.1, &items)?;
            }
            ed.record(change(keys.0, tag.as_str()));
            ed.record(change(keys.1, digest.as_str()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- helm-values

fn helm_map<'t>(tree: &'t Tree, sel: &Selector) -> Result<(Found<'t>, String), PointerError> {
    let field = sel.field.clone().unwrap_or_else(|| "image".to_string());
    let f = find_unique(tree, &field)?;
    if !f.node.is_map() {
        return Err(not_found(format!(
            "`{field}` is {}, not a mapping with tag and digest (for a single `repo:tag@digest` value use --format yaml-path)",
            f.node.describe()
        )));
    }
    Ok((f, field))
}

fn helm_get(tree: &Tree, sel: &Selector) -> Result<Current, PointerError> {
    let (f, _) = helm_map(tree, sel)?;
    Ok(Current { tag: scalar_value(f.node.get("tag")), digest: scalar_value(f.node.get("digest")) })
}

fn helm_set(ed: &mut Editor, sel: &Selector, tag: &Tag, digest: &Digest) -> Result<(), PointerError> {
    let (f, field) = helm_map(ed.tree, sel)?;
    ed.check_not_aliased(&f.chain, &format!("`{field}`"))?;
    set_pair(
        ed,
        f.doc,
        &f.path,
        f.node,
        ("tag", "digest"),
        tag,
        digest,
        None,
        &["repository", "image", "name", "registry"],
    )
}

// ---------------------------------------------------------------- kustomize-image

fn kustomize_entry<'t>(tree: &'t Tree, sel: &Selector) -> Result<Found<'t>, PointerError> {
    let image = sel
        .image
        .as_deref()
        .ok_or_else(|| not_found("kustomize-image needs --image NAME (the images[].name to edit)"))?;
    let mut hits = Vec::new();
    let mut names = Vec::new();
    for (i, root) in tree.docs.iter().enumerate() {
        let Some(images) = root.get("images") else {
            continue;
        };
        let Kind::Seq { items, .. } = &images.kind else {
            continue;
        };
        for (j, item) in items.iter().enumerate() {
            let name = item.get("name").and_then(Node::scalar);
            if let Some(n) = name {
                names.push(n.to_string());
            }
            if name == Some(image) {
                hits.push(Found {
                    doc: i,
                    node: item,
                    parent: images,
                    chain: vec![root, images, item],
                    path: vec![Seg::Key("images".into()), Seg::Index(j)],
                });
            }
        }
    }
    match hits.len() {
        1 => Ok(hits.pop().expect("one hit")),
        0 if names.is_empty() => Err(not_found("no kustomize images: list in the file")),
        0 => Err(not_found(format!(
            "no images[] entry named `{image}` (the file has {} entries; names must match exactly)",
            names.len()
        ))),
        n => Err(PointerError::Ambiguous(format!("{n} images[] entries are named `{image}`"))),
    }
}

fn kustomize_get(tree: &Tree, sel: &Selector) -> Result<Current, PointerError> {
    let f = kustomize_entry(tree, sel)?;
    Ok(Current { tag: scalar_value(f.node.get("newTag")), digest: scalar_value(f.node.get("digest")) })
}

fn kustomize_set(ed: &mut Editor, sel: &Selector, tag: &Tag, digest: &Digest) -> Result<(), PointerError> {
    let f = kustomize_entry(ed.tree, sel)?;
    ed.check_not_aliased(&f.chain, "the images[] entry")?;
    set_pair(ed, f.doc, &f.path, f.node, ("newTag", "digest"), tag, digest, None, &["newName", "name"])
}

// ---------------------------------------------------------------- yaml-path

const TAG_RE: &str = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}";
const DIGEST_RE: &str = r"sha256:[0-9a-f]{64}";

/// Checks a template's placeholders.
fn check_template(t: &str) -> Result<(), PointerError> {
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let close = rest[i..].find('}').ok_or_else(|| unsafe_(format!("template {t:?}: unclosed `{{`")))?;
        let name = &rest[i + 1..i + close];
        if !matches!(name, "tag" | "digest" | "repository" | "revision") {
            return Err(unsafe_(format!(
                "template {t:?}: unknown placeholder {{{name}}} (use {{repository}}, {{tag}}, {{revision}}, {{digest}})"
            )));
        }
        rest = &rest[i + close + 1..];
    }
    if !t.contains("{tag}") && !t.contains("{digest}") {
        return Err(unsafe_(format!("template {t:?} has neither {{tag}} nor {{digest}}")));
    }
    Ok(())
}

/// Reads a `[repository[:tag]]@digest` / `repository:tag` / `tag` value.
fn parse_reference(v: &str) -> (Option<String>, Option<String>, Option<String>) {
    let digest_re = Regex::new(&format!("^{DIGEST_RE}$")).expect("static regex");
    let tag_re = Regex::new(&format!("^{TAG_RE}$")).expect("static regex");
    let (left, digest) = match v.rsplit_once('@') {
        Some((l, d)) if digest_re.is_match(d) => (l, Some(d.to_string())),
        _ => (v, None),
    };
    if left.is_empty() {
        return (None, None, digest);
    }
    let last_slash = left.rfind('/').map_or(0, |i| i + 1);
    match left[last_slash..].rfind(':') {
        Some(c) => {
            let (repo, tag) = (&left[..last_slash + c], &left[last_slash + c + 1..]);
            (Some(repo.to_string()), tag_re.is_match(tag).then(|| tag.to_string()), digest)
        }
        None if left.contains('/') => (Some(left.to_string()), None, digest),
        None => (None, tag_re.is_match(left).then(|| left.to_string()), digest),
    }
}

fn template_regex(t: &str, image: Option<&str>) -> Regex {
    let mut re = String::from("^");
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        re.push_str(&regex::escape(&rest[..i]));
        let close = rest[i..].find('}').map_or(rest.len(), |c| i + c);
        match &rest[i + 1..close] {
            "tag" => re.push_str(&format!("(?P<tag>{TAG_RE})")),
            // A tracked version's name (`main-1a2b3c4`): tag text, not the version's tag.
            "revision" => re.push_str(&format!("(?P<revision>{TAG_RE})")),
            "digest" => re.push_str(&format!("(?P<digest>{DIGEST_RE})")),
            _ => match image {
                Some(img) => re.push_str(&regex::escape(img)),
                None => re.push_str(".+?"),
            },
        }
        rest = &rest[(close + 1).min(rest.len())..];
    }
    re.push_str(&regex::escape(rest));
    re.push('$');
    Regex::new(&re).expect("escaped template regex")
}

fn yaml_path_found<'t>(tree: &'t Tree, sel: &Selector) -> Result<(Found<'t>, String), PointerError> {
    let field = sel.field.clone().ok_or_else(|| not_found("yaml-path needs --field PATH (the scalar to edit)"))?;
    let f = find_unique(tree, &field)?;
    match &f.node.kind {
        Kind::Scalar { .. } => Ok((f, field)),
        _ => Err(not_found(format!("`{field}` is {}, not a scalar", f.node.describe()))),
    }
}

fn yaml_path_get(tree: &Tree, sel: &Selector) -> Result<Current, PointerError> {
    let (f, field) = yaml_path_found(tree, sel)?;
    let value = f.node.scalar().unwrap_or_default();
    match &sel.template {
        Some(t) => {
            check_template(t)?;
            let caps = template_regex(t, sel.image.as_deref())
                .captures(value)
                .ok_or_else(|| not_found(format!("`{field}` is {value:?}, which does not match the template {t:?}")))?;
            Ok(Current {
                tag: caps.name("tag").map(|m| m.as_str().to_string()),
                digest: caps.name("digest").map(|m| m.as_str().to_string()),
            })
        }
        None => {
            let (_, tag, digest) = parse_reference(value);
            Ok(Current { tag, digest })
        }
    }
}

fn yaml_path_set(
    ed: &mut Editor,
    sel: &Selector,
    tag: &Tag,
    digest: &Digest,
    revision: Option<&str>,
) -> Result<(), PointerError> {
    let (f, field) = yaml_path_found(ed.tree, sel)?;
    ed.check_not_aliased(&f.chain, &format!("`{field}`"))?;
    let current = f.node.scalar().unwrap_or_default();
    let (repo_in_file, _, _) = parse_reference(current);
    let template = match &sel.template {
        Some(t) => {
            check_template(t)?;
            t.clone()
        }
        // A `repo:tag@digest` value keeps its repository; a bare `tag@digest` stays bare.
        None if repo_in_file.is_some() => "{repository}:{tag}@{digest}".to_string(),
        None => "{tag}@{digest}".to_string(),
    };
    let repository = sel.image.clone().or(repo_in_file);
    if template.contains("{repository}") && repository.is_none() {
        return Err(unsafe_(format!("template {template:?} uses {{repository}}: give --image")));
    }
    let value = template
        .replace("{repository}", repository.as_deref().unwrap_or_default())
        .replace("{tag}", tag.as_str())
        .replace("{revision}", revision.unwrap_or(tag.as_str()))
        .replace("{digest}", digest.as_str());
    let flow = is_flow(f.parent);
    ed.replace(f.node, &value, flow, Change { doc: f.doc, path: f.path.clone(), value: Some(value.clone()) })
}

// ---------------------------------------------------------------- dispatch

pub(crate) fn get(tree: &Tree, format: Format, sel: &Selector) -> Result<Current, PointerError> {
    match format {
        Format::FluxOci => flux_get(tree, sel),
        Format::HelmValues => helm_get(tree, sel),
        Format::KustomizeImage => kustomize_get(tree, sel),
        Format::YamlPath => yaml_path_get(tree, sel),
    }
}

pub(crate) fn set(
    ed: &mut Editor,
    format: Format,
    sel: &Selector,
    tag: &Tag,
    digest: &Digest,
    revision: Option<&str>,
) -> Result<(), PointerError> {
    match format {
        Format::FluxOci => flux_set(ed, sel, tag, digest),
        Format::HelmValues => helm_set(ed, sel, tag, digest),
        Format::KustomizeImage => kustomize_set(ed, sel, tag, digest),
        Format::YamlPath => yaml_path_set(ed, sel, tag, digest, revision),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths() {
        assert_eq!(
            parse_field("a.b[0].c").unwrap(),
            vec![FieldSeg::Key("a".into()), FieldSeg::Key("b".into()), FieldSeg::Index(0), FieldSeg::Key("c".into())]
        );
        assert_eq!(parse_field("a.5").unwrap(), vec![FieldSeg::Key("a".into()), FieldSeg::Number("5".into(), 5)]);
        for bad in ["", "a..b", "a[", "a[x]", "a[0]b", ".a", "[0]"] {
            assert!(parse_field(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(parse_reference(&format!("1.2@{d}")), (None, Some("1.2".into()), Some(d.clone())));
        assert_eq!(
            parse_reference(&format!("ghcr.io/a/b:1.2@{d}")),
            (Some("ghcr.io/a/b".into()), Some("1.2".into()), Some(d.clone()))
        );
        assert_eq!(parse_reference(&format!("a/b@{d}")), (Some("a/b".into()), None, Some(d.clone())));
        assert_eq!(parse_reference("localhost:5000/a"), (Some("localhost:5000/a".into()), None, None));
        assert_eq!(parse_reference("1.0"), (None, Some("1.0".into()), None));
    }
}
