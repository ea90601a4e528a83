//! YAML files as Kubernetes documents: identified by apiVersion/kind/namespace/name,
//! re-serialized canonically (mapping keys sorted, one formatting) so that key order, quoting
//! and indentation do not show as changes. Secret `data`/`stringData` values are masked here,
//! before any text exists that could carry them.

use std::collections::BTreeSet;

use serde::Deserialize as _;
use serde_yaml_ng::{Mapping, Value};

/// What identifies a Kubernetes object across versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// `apps/v1`: part of the identity (sorted last), not of the display.
    pub api_version: String,
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// One YAML document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// None for documents that are not Kubernetes objects (no kind or name).
    pub id: Option<ObjectId>,
    /// The document, keys sorted, Secret values masked.
    pub value: Value,
}

/// What masked Secret values look like; the compare step turns a changed value into
/// [`MASK_CHANGED`] on the new side so the diff shows that it changed, never what it is.
pub const MASK: &str = "<masked>";
pub const MASK_CHANGED: &str = "<masked, changed>";

/// Does this file name look like YAML (or JSON, which is YAML)?
pub fn is_yaml_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.ends_with(".yaml") || p.ends_with(".yml") || p.ends_with(".json")
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn object_id(v: &Value) -> Option<ObjectId> {
    let kind = str_at(v, "kind")?.to_string();
    let meta = v.get("metadata")?;
    let name = str_at(meta, "name")?.to_string();
    Some(ObjectId {
        kind,
        name,
        namespace: str_at(meta, "namespace").map(str::to_string),
        api_version: str_at(v, "apiVersion").unwrap_or_default().to_string(),
    })
}

/// Sorts mapping keys recursively (by their canonical text, so non-string keys work too).
fn sorted(v: Value) -> Value {
    match v {
        Value::Mapping(m) => {
            let mut entries: Vec<(String, Value, Value)> =
                m.into_iter().map(|(k, v)| (serde_yaml_ng::to_string(&k).unwrap_or_default(), k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Mapping(entries.into_iter().map(|(_, k, v)| (k, v)).collect::<Mapping>())
        }
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(sorted).collect()),
        Value::Tagged(t) => {
            let t = *t;
            Value::Tagged(Box::new(serde_yaml_ng::value::TaggedValue { tag: t.tag, value: sorted(t.value) }))
        }
        other => other,
    }
}

/// Is this document a Secret (any apiVersion: `v1` in practice)?
pub fn is_secret(v: &Value) -> bool {
    str_at(v, "kind") == Some("Secret")
}

/// The values under `data` and `stringData` of a Secret, by (field, key): kept only long
/// enough to tell whether a value changed, never rendered.
pub fn secret_values(v: &Value) -> Vec<((String, String), Value)> {
    let mut out = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Mapping(m)) = v.get(field) {
            for (k, val) in m {
                let key =
                    k.as_str().map(str::to_string).unwrap_or_else(|| serde_yaml_ng::to_string(k).unwrap_or_default());
                out.push(((field.to_string(), key), val.clone()));
            }
        }
    }
    out
}

/// Replaces every Secret value with `mask(field, key)`.
pub fn mask_secret(v: &mut Value, mask: impl Fn(&str, &str) -> &'static str) {
    for field in ["data", "stringData"] {
        if let Some(Value::Mapping(m)) = v.get_mut(field) {
            for (k, val) in m.iter_mut() {
                let key = k.as_str().map(str::to_string).unwrap_or_default();
                *val = Value::String(mask(field, &key).to_string());
            }
        } else if let Some(other) = v.get_mut(field) {
            // `data: !!str …` or a sequence: not a Secret shape, but never show it.
            if !other.is_null() {
                *other = Value::String(MASK.to_string());
            }
        }
    }
}

/// Parses every document of a YAML file. Empty documents are dropped. Secret values are kept
/// here (the compare step needs them to tell changed from unchanged) and masked by it.
pub fn parse(text: &str) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(de).map_err(|e| crate::types::shorten_to(&e.to_string(), 160))?;
        if value.is_null() {
            continue;
        }
        let id = object_id(&value);
        docs.push(Document { id, value: sorted(value) });
    }
    Ok(docs)
}

/// The canonical text of one document.
pub fn to_text(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_else(|e| format!("# cannot re-serialize this document: {e}\n"))
}

/// Every string under a key named `image` (at any depth): container image references.
pub fn images(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, val) in m {
                if k.as_str() == Some("image") {
                    if let Some(s) = val.as_str() {
                        out.insert(s.trim().to_string());
                    }
                }
                images(val, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| images(x, out)),
        Value::Tagged(t) => images(&t.value, out),
        _ => {}
    }
}

/// Splits an image reference into (repository, the rest: `:tag`, `@digest` or both).
pub fn split_image(reference: &str) -> (&str, &str) {
    let (before_digest, _) = reference.split_once('@').unwrap_or((reference, ""));
    let last_slash = before_digest.rfind('/').map_or(0, |i| i + 1);
    let repo_end = match before_digest[last_slash..].find(':') {
        Some(i) => last_slash + i,
        None => before_digest.len(),
    };
    reference.split_at(repo_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let table = [
            ("ghcr.io/org/myapp:1.4.2", ("ghcr.io/org/myapp", ":1.4.2")),
            ("registry:5000/app", ("registry:5000/app", "")),
            ("registry:5000/app:v1@sha256:abc", ("registry:5000/app", ":v1@sha256:abc")),
            ("nginx@sha256:abc", ("nginx", "@sha256:abc")),
            ("nginx", ("nginx", "")),
        ];
        for (input, want) in table {
            assert_eq!(split_image(input), want, "{input}");
        }
    }

    #[test]
    fn documents_are_canonical() {
        let a = parse(
            "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: web, namespace: prod}\nspec: {replicas: 2}\n",
        )
        .unwrap();
        let b = parse("---\napiVersion: \"apps/v1\"\nkind: Deployment\nmetadata:\n  namespace: prod\n  name: web\nspec:\n    replicas: 2\n---\n")
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].id.as_ref().unwrap().to_string(), "Deployment/web");
        assert_eq!(a[0].id.as_ref().unwrap().namespace.as_deref(), Some("prod"));
        assert!(parse("a: [").is_err());
        assert_eq!(parse("just: data").unwrap()[0].id, None);
    }

    #[test]
    fn finds_images_at_any_depth() {
        let docs = parse(
            "spec:\n  template:\n    spec:\n      containers:\n        - image: ghcr.io/org/app:1.0\n      initContainers:\n        - image: busybox:1.36\nimage: top:1\n",
        )
        .unwrap();
        let mut out = BTreeSet::new();
        images(&docs[0].value, &mut out);
        assert_eq!(out.into_iter().collect::<Vec<_>>(), ["busybox:1.36", "ghcr.io/org/app:1.0", "top:1"]);
    }
}
