//! The safety net: after an edit, both texts are parsed by an independent YAML parser
//! (`serde_yaml_ng`, libyaml-based) and must be equal once the intended changes are applied to
//! the original's documents.

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::edit::{Change, Seg};
use super::PointerError;

fn docs(text: &str) -> Result<Vec<Value>, String> {
    serde_yaml_ng::Deserializer::from_str(text).map(|d| Value::deserialize(d).map_err(|e| e.to_string())).collect()
}

fn key_matches(k: &Value, want: &str) -> bool {
    match k {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        Value::Bool(b) => b.to_string() == want,
        _ => false,
    }
}

fn untag(v: &mut Value) -> &mut Value {
    match v {
        Value::Tagged(t) => untag(&mut t.value),
        other => other,
    }
}

fn apply(doc: &mut Value, path: &[Seg], value: Option<&str>) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty path".into());
    };
    let mut cur = untag(doc);
    for seg in parents {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Mapping(m)) => {
                let key = match m.iter().find(|(key, _)| key_matches(key, k)) {
                    Some((key, _)) => key.clone(),
                    // A new mapping on the way to a new value (flux `spec.ref`).
                    None if value.is_some() => {
                        m.insert(Value::String(k.clone()), Value::Mapping(Default::default()));
                        Value::String(k.clone())
                    }
                    None => return Err(format!("no key {k:?}")),
                };
                untag(m.get_mut(&key).ok_or_else(|| format!("no key {k:?}"))?)
            }
            (Seg::Index(i), Value::Sequence(s)) => untag(s.get_mut(*i).ok_or_else(|| format!("no index {i}"))?),
            _ => return Err("path does not match the document".into()),
        };
    }
    match (last, cur, value) {
        (Seg::Key(k), Value::Mapping(m), v) => {
            let existing = m.iter().find(|(key, _)| key_matches(key, k)).map(|(key, _)| key.clone());
            match (existing, v) {
                (Some(key), Some(v)) => {
                    m.insert(key, Value::String(v.to_string()));
                }
                (None, Some(v)) => {
                    m.insert(Value::String(k.clone()), Value::String(v.to_string()));
                }
                (Some(key), None) => {
                    m.shift_remove(&key);
                }
                (None, None) => {}
            }
            Ok(())
        }
        (Seg::Index(i), Value::Sequence(s), Some(v)) if *i < s.len() => {
            s[*i] = Value::String(v.to_string());
            Ok(())
        }
        _ => Err("path does not match the document".into()),
    }
}

/// Checks that `new` differs from `old` only by `changes`.
pub(crate) fn verify(old: &str, new: &str, changes: &[Change]) -> Result<(), PointerError> {
    let mut want = docs(old)
        .map_err(|e| PointerError::Unsafe(format!("cannot check the edit: the original does not parse: {e}")))?;
    let got = docs(new)
        .map_err(|e| PointerError::Unsafe(format!("the edited file would not parse ({e}); nothing written")))?;
    if want.len() != got.len() {
        return Err(PointerError::Unsafe(format!(
            "the edit would change the number of documents ({} → {}); nothing written",
            want.len(),
            got.len()
        )));
    }
    for c in changes {
        let doc = want
            .get_mut(c.doc)
            .ok_or_else(|| PointerError::Unsafe("internal error: change in a missing document".into()))?;
        apply(doc, &c.path, c.value.as_deref())
            .map_err(|e| PointerError::Unsafe(format!("internal error while checking the edit: {e}")))?;
    }
    if want != got {
        return Err(PointerError::Unsafe(
            "the edit would change more than the pointer's tag and digest; nothing written".into(),
        ));
    }
    // The edited text must also still parse with the parser that located the pointer.
    super::tree::parse(new)?;
    Ok(())
}
