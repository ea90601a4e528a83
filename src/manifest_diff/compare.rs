//! Comparing two versions' content (pure): files added / removed / changed, YAML compared as
//! Kubernetes documents, images whose reference changed, objects added / removed, Secrets
//! masked before any text is produced.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;
use similar::{ChangeTag, TextDiff};

use super::archive::{FileBody, Files};
use super::yaml::{self, ObjectId, MASK, MASK_CHANGED};

/// What one version holds, as far as a diff is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// An artifact whose layers are tar archives (Flux artifacts and the like).
    Files(Files),
    /// A container image: no content diff, only its config labels and layer count.
    Image { labels: BTreeMap<String, String>, layers: usize },
}

impl Content {
    fn kind(&self) -> &'static str {
        match self {
            Content::Files(_) => "an artifact of manifests",
            Content::Image { .. } => "a container image",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Modified,
}

/// One file that differs, with its unified diff (of the canonical text for YAML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    pub path: String,
    pub change: Change,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// Unified diff (hunks only, no `---`/`+++` header); a sentence for binary files.
    pub unified: String,
}

/// The references of one image repository that differ between the versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    pub repository: String,
    pub old: Vec<String>,
    pub new: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesDiff {
    pub files: Vec<FileDiff>,
    pub unchanged: usize,
    pub images: Vec<ImageChange>,
    pub objects_added: Vec<ObjectId>,
    pub objects_removed: Vec<ObjectId>,
}

impl FilesDiff {
    pub fn count(&self, change: Change) -> usize {
        self.files.iter().filter(|f| f.change == change).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentDiff {
    Files(FilesDiff),
    Image {
        labels: Vec<LabelChange>,
        layers: (usize, usize),
    },
    /// One version is an image and the other an artifact of manifests.
    KindChanged {
        old: &'static str,
        new: &'static str,
    },
}

/// Compares two versions' content.
pub fn compare(old: &Content, new: &Content) -> ContentDiff {
    match (old, new) {
        (Content::Files(a), Content::Files(b)) => ContentDiff::Files(compare_files(a, b)),
        (Content::Image { labels: la, layers: na }, Content::Image { labels: lb, layers: nb }) => {
            let keys: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
            let labels = keys
                .into_iter()
                .filter(|k| la.get(*k) != lb.get(*k))
                .map(|k| LabelChange { key: k.clone(), old: la.get(k).cloned(), new: lb.get(k).cloned() })
                .collect();
            ContentDiff::Image { labels, layers: (*na, *nb) }
        }
        _ => ContentDiff::KindChanged { old: old.kind(), new: new.kind() },
    }
}

/// A file ready to compare: its canonical text.
enum Prepared {
    Text(String),
    Binary { digest: String, size: u64 },
}

/// The parsed YAML of one side: per path, its documents (None: not YAML, or not parseable).
type Parsed = BTreeMap<String, Option<Vec<yaml::Document>>>;

fn parse_side(files: &Files) -> Parsed {
    files
        .iter()
        .map(|(path, body)| {
            let docs = match body {
                FileBody::Text(t) if yaml::is_yaml_path(path) => yaml::parse(t).ok(),
                _ => None,
            };
            (path.clone(), docs)
        })
        .collect()
}

type SecretKey = (ObjectId, String, String);

fn secret_values(parsed: &Parsed) -> BTreeMap<SecretKey, Value> {
    let mut out = BTreeMap::new();
    for doc in parsed.values().flatten().flatten() {
        if let (true, Some(id)) = (yaml::is_secret(&doc.value), &doc.id) {
            for ((field, key), v) in yaml::secret_values(&doc.value) {
                out.insert((id.clone(), field, key), v);
            }
        }
    }
    out
}

/// Masks the Secrets of one side. `before`: the old side's values, when masking the new side.
fn mask_side(parsed: &mut Parsed, before: Option<&BTreeMap<SecretKey, Value>>) {
    let values = secret_values(parsed);
    for doc in parsed.values_mut().flatten().flatten() {
        if !yaml::is_secret(&doc.value) {
            continue;
        }
        let id = doc.id.clone();
        yaml::mask_secret(&mut doc.value, |field, key| {
            let (Some(before), Some(id)) = (before, &id) else { return MASK };
            let k = (id.clone(), field.to_string(), key.to_string());
            match (before.get(&k), values.get(&k)) {
                (Some(old), Some(new)) if old != new => MASK_CHANGED,
                _ => MASK,
            }
        });
    }
}

/// The canonical text of a parsed YAML file: documents sorted by identity (objects first,
/// then other documents in file order), keys sorted.
fn canonical(docs: &[yaml::Document]) -> String {
    let mut sorted: Vec<&yaml::Document> = docs.iter().collect();
    sorted.sort_by(|a, b| match (&a.id, &b.id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let texts: Vec<String> = sorted.iter().map(|d| yaml::to_text(&d.value)).collect();
    texts.join("---\n")
}

fn prepare(path: &str, body: &FileBody, docs: Option<&Vec<yaml::Document>>) -> Prepared {
    match (body, docs) {
        (_, Some(docs)) => Prepared::Text(canonical(docs)),
        (FileBody::Text(t), None) => {
            if yaml::is_yaml_path(path) && t.contains("Secret") {
                // Unparseable YAML that may hold a Secret: never show its lines.
                Prepared::Text(format!(
                    "# not shown: this file does not parse as YAML and may hold a Secret (sha256 {})\n",
                    crate::types::Digest::of(t.as_bytes()).short()
                ))
            } else {
                Prepared::Text(t.clone())
            }
        }
        (FileBody::Binary { digest, size }, None) => Prepared::Binary { digest: digest.to_string(), size: *size },
    }
}

fn text_diff(old: &str, new: &str) -> (String, usize, usize) {
    let diff = TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let mut unified = diff.unified_diff();
    unified.context_radius(3).missing_newline_hint(false);
    let mut text = String::new();
    for hunk in unified.iter_hunks() {
        text.push_str(&hunk.to_string());
    }
    (text, added, removed)
}

fn compare_files(old: &Files, new: &Files) -> FilesDiff {
    let mut old_parsed = parse_side(old);
    let mut new_parsed = parse_side(new);
    let old_secrets = secret_values(&old_parsed);
    mask_side(&mut new_parsed, Some(&old_secrets));
    mask_side(&mut old_parsed, None);

    let empty = Prepared::Text(String::new());
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut files = Vec::new();
    let mut unchanged = 0;
    for path in paths {
        let a = old.get(path).map(|b| prepare(path, b, old_parsed[path].as_ref()));
        let b = new.get(path).map(|b| prepare(path, b, new_parsed[path].as_ref()));
        let change = match (&a, &b) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            _ => Change::Modified,
        };
        let (unified, lines_added, lines_removed) = match (a.as_ref().unwrap_or(&empty), b.as_ref().unwrap_or(&empty)) {
            (Prepared::Text(x), Prepared::Text(y)) => {
                if x == y && change == Change::Modified {
                    unchanged += 1;
                    continue;
                }
                text_diff(x, y)
            }
            (Prepared::Binary { digest: d1, size: s1 }, Prepared::Binary { digest: d2, size: s2 }) => {
                if d1 == d2 {
                    unchanged += 1;
                    continue;
                }
                (format!("Binary file changed ({s1} → {s2} bytes)\n"), 0, 0)
            }
            (_, Prepared::Binary { size, .. }) => (format!("Binary file ({size} bytes)\n"), 0, 0),
            (Prepared::Binary { size, .. }, _) => (format!("Binary file ({size} bytes) replaced by text\n"), 0, 0),
        };
        files.push(FileDiff { path: path.clone(), change, lines_added, lines_removed, unified });
    }

    let ids =
        |p: &Parsed| -> BTreeSet<ObjectId> { p.values().flatten().flatten().filter_map(|d| d.id.clone()).collect() };
    let (old_ids, new_ids) = (ids(&old_parsed), ids(&new_parsed));
    let images = |p: &Parsed| -> BTreeMap<String, BTreeSet<String>> {
        let mut refs = BTreeSet::new();
        for d in p.values().flatten().flatten() {
            yaml::images(&d.value, &mut refs);
        }
        let mut by_repo: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in refs {
            by_repo.entry(yaml::split_image(&r).0.to_string()).or_default().insert(r);
        }
        by_repo
    };
    let (old_images, new_images) = (images(&old_parsed), images(&new_parsed));
    let repos: BTreeSet<&String> = old_images.keys().chain(new_images.keys()).collect();
    let none = BTreeSet::new();
    let image_changes = repos
        .into_iter()
        .filter_map(|repo| {
            let a = old_images.get(repo).unwrap_or(&none);
            let b = new_images.get(repo).unwrap_or(&none);
            (a != b).then(|| ImageChange {
                repository: repo.clone(),
                old: a.iter().cloned().collect(),
                new: b.iter().cloned().collect(),
            })
        })
        .collect();
    FilesDiff {
        files,
        unchanged,
        images: image_changes,
        objects_added: new_ids.difference(&old_ids).cloned().collect(),
        objects_removed: old_ids.difference(&new_ids).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Content {
        Content::Files(list.iter().map(|(p, t)| (p.to_string(), FileBody::Text(t.to_string()))).collect())
    }

    fn diff(old: &[(&str, &str)], new: &[(&str, &str)]) -> FilesDiff {
        match compare(&files(old), &files(new)) {
            ContentDiff::Files(d) => d,
            other => panic!("{other:?}"),
        }
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: myapp\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/myapp:1.4.2\n";

    #[test]
    fn formatting_and_key_order_are_not_changes() {
        let reordered = "kind: Deployment\nmetadata: {name: myapp}\napiVersion: \"apps/v1\"\nspec:\n  template:\n    spec:\n      containers:\n      - image: 'ghcr.io/org/myapp:1.4.2'\n        name: app\n";
        let d = diff(&[("deploy.yaml", DEPLOY)], &[("deploy.yaml", reordered)]);
        assert!(d.files.is_empty(), "{d:?}");
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn table() {
        struct Row {
            name: &'static str,
            old: Vec<(&'static str, &'static str)>,
            new: Vec<(&'static str, &'static str)>,
            changes: Vec<(&'static str, Change)>,
            images: Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)>,
            added: Vec<&'static str>,
            removed: Vec<&'static str>,
        }
        let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-egress\n";
        let rows = vec![
            Row {
                name: "image tag",
                old: vec![("deploy.yaml", DEPLOY)],
                new: vec![("deploy.yaml", &*Box::leak(DEPLOY.replace("1.4.2", "1.4.3").into_boxed_str()))],
                changes: vec![("deploy.yaml", Change::Modified)],
                images: vec![("ghcr.io/org/myapp", vec!["ghcr.io/org/myapp:1.4.2"], vec!["ghcr.io/org/myapp:1.4.3"])],
                added: vec![],
                removed: vec![],
            },
            Row {
                name: "object added in a new file",
                old: vec![("deploy.yaml", DEPLOY)],
                new: vec![("deploy.yaml", DEPLOY), ("np.yaml", np)],
                changes: vec![("np.yaml", Change::Added)],
                images: vec![],
                added: vec!["NetworkPolicy/allow-egress"],
                removed: vec![],
            },
            Row {
                name: "object moved between files is neither added nor removed",
                old: vec![("a.yaml", np)],
                new: vec![("b.yaml", np)],
                changes: vec![("a.yaml", Change::Removed), ("b.yaml", Change::Added)],
                images: vec![],
                added: vec![],
                removed: vec![],
            },
            Row {
                name: "file removed",
                old: vec![("deploy.yaml", DEPLOY), ("README.md", "hi\n")],
                new: vec![("README.md", "hi\n")],
                changes: vec![("deploy.yaml", Change::Removed)],
                images: vec![("ghcr.io/org/myapp", vec!["ghcr.io/org/myapp:1.4.2"], vec![])],
                added: vec![],
                removed: vec!["Deployment/myapp"],
            },
            Row {
                name: "plain text files diff as text",
                old: vec![("README.md", "one\ntwo\n")],
                new: vec![("README.md", "one\nthree\n")],
                changes: vec![("README.md", Change::Modified)],
                images: vec![],
                added: vec![],
                removed: vec![],
            },
        ];
        for row in rows {
            let d = diff(&row.old, &row.new);
            let changes: Vec<(&str, Change)> = d.files.iter().map(|f| (f.path.as_str(), f.change)).collect();
            assert_eq!(changes, row.changes, "{}", row.name);
            let images: Vec<(&str, Vec<&str>, Vec<&str>)> = d
                .images
                .iter()
                .map(|i| {
                    (
                        i.repository.as_str(),
                        i.old.iter().map(String::as_str).collect(),
                        i.new.iter().map(String::as_str).collect(),
                    )
                })
                .collect();
            assert_eq!(images, row.images, "{}", row.name);
            let shown = |v: &[ObjectId]| v.iter().map(|o| o.to_string()).collect::<Vec<_>>();
            assert_eq!(shown(&d.objects_added), row.added, "{}", row.name);
            assert_eq!(shown(&d.objects_removed), row.removed, "{}", row.name);
        }
    }

    #[test]
    fn secrets_are_masked_and_changes_still_show() {
        let old = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: aHVudGVyMg==\n  user: YWRtaW4=\nstringData:\n  token: plain-old-token\n";
        let new = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: c3VwZXJzZWNyZXQ=\n  user: YWRtaW4=\n  extra: ZXh0cmE=\nstringData:\n  token: plain-new-token\n";
        let d = diff(&[("secret.yaml", old)], &[("secret.yaml", new)]);
        let text = &d.files[0].unified;
        for secret in ["aHVudGVyMg", "c3VwZXJzZWNyZXQ", "YWRtaW4", "ZXh0cmE", "plain-old-token", "plain-new-token"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn unparseable_yaml_with_a_secret_is_not_shown() {
        let d = diff(&[("s.yaml", "kind: Secret\ndata: {a: b\n")], &[("s.yaml", "kind: Secret\ndata: {a: c\n")]);
        assert!(!d.files[0].unified.contains("a: c"), "{}", d.files[0].unified);
    }

    #[test]
    fn images_and_kinds() {
        let img = |labels: &[(&str, &str)], layers| Content::Image {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            layers,
        };
        assert_eq!(
            compare(&img(&[("a", "1"), ("b", "2")], 3), &img(&[("a", "1"), ("b", "3"), ("c", "4")], 4)),
            ContentDiff::Image {
                labels: vec![
                    LabelChange { key: "b".into(), old: Some("2".into()), new: Some("3".into()) },
                    LabelChange { key: "c".into(), old: None, new: Some("4".into()) },
                ],
                layers: (3, 4)
            }
        );
        assert!(matches!(compare(&img(&[], 1), &files(&[])), ContentDiff::KindChanged { .. }));
    }
}
