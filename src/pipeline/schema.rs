//! `baton schema`: the JSON Schema (draft 2020-12) of `.baton.yaml`, for editors
//! (yaml-language-server: completion, hover, diagnostics).
//!
//! The schema is rendered from the tables in `spec.rs`, the same ones the validator takes its
//! keys, required keys, enumeration words and per-format pointer rules from, so the two cannot
//! disagree on the shape of the file. Every mapping is `additionalProperties: false` (unknown
//! keys are errors), every key has a description, strings carry the patterns of their kinds, and
//! the per-format pointer rules become `if`/`then` blocks.
//!
//! The schema checks the shape only: a file it accepts can still be refused by
//! `baton check-config` (unknown `from`, cycles, duplicate stages or pointers, regular
//! expressions that do not compile, a soak longer than 30 days, …). It is also slightly stricter
//! about YAML scalars than baton: `name: 123` is a number to an editor, and the schema asks for a
//! string, while baton reads every scalar as text.

use serde_json::{json, Map, Value};

use super::spec::{self, MapSpec, Need, Rule, Str, Ty, SELECTOR_KEYS};

/// The JSON Schema dialect of the output.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The JSON Schema of `.baton.yaml`.
pub fn json_schema() -> Value {
    let mut defs = Map::new();
    for m in spec::MAPS.iter().filter(|m| m.id != spec::TOP.id) {
        defs.insert(m.id.into(), Value::Object(map_schema(m)));
    }
    for s in Str::ALL {
        defs.insert(s.id().into(), str_schema(s));
    }
    let mut root = Map::new();
    root.insert("$schema".into(), DIALECT.into());
    root.insert("title".into(), ".baton.yaml".into());
    root.extend(map_schema(&spec::TOP));
    root.insert("$defs".into(), Value::Object(defs));
    Value::Object(root)
}

/// The schema as `baton schema` prints it: pretty JSON and a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a JSON value always serializes");
    text.push('\n');
    text
}

fn reference(id: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{id}") })
}

fn str_schema(s: Str) -> Value {
    let mut v = json!({
        "type": "string",
        "description": s.description(),
        "minLength": 1,
        "pattern": s.pattern(),
    });
    if let Some(max) = s.max_length() {
        v["maxLength"] = max.into();
    }
    v
}

fn ty_schema(ty: &Ty) -> Value {
    match ty {
        Ty::Str(s) => reference(s.id()),
        Ty::Enum(words) => json!({ "type": "string", "enum": words }),
        Ty::List { items, min_items, unique } => {
            let mut v = json!({ "type": "array", "items": ty_schema(items) });
            if *min_items > 0 {
                v["minItems"] = (*min_items).into();
            }
            if *unique {
                v["uniqueItems"] = true.into();
            }
            v
        }
        Ty::Map(m) => reference(m.id),
        Ty::OneOf(tys) => json!({ "oneOf": tys.iter().map(ty_schema).collect::<Vec<_>>() }),
        Ty::Int { min } => json!({ "type": "integer", "minimum": min }),
        Ty::Scalars => json!({
            "type": "object",
            "additionalProperties": { "type": ["string", "number", "boolean"] },
        }),
        Ty::Named { names, values, min } => json!({
            "type": "object",
            "minProperties": min,
            "propertyNames": reference(names.id()),
            "additionalProperties": reference(values.id),
        }),
    }
}

/// Keys that must be absent (`"key": false`).
fn forbidden<'a>(keys: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Object(keys.into_iter().map(|k| (k.to_string(), Value::Bool(false))).collect())
}

fn map_schema(m: &MapSpec) -> Map<String, Value> {
    let mut properties = Map::new();
    for k in m.keys {
        let mut v = ty_schema(&k.ty);
        v["description"] = k.description.into();
        properties.insert(k.name.into(), v);
    }
    let required: Vec<&str> = m.keys.iter().filter(|k| k.need != Need::Optional).map(|k| k.name).collect();
    let mut out = Map::new();
    out.insert("description".into(), m.description.into());
    out.insert("type".into(), "object".into());
    out.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        out.insert("required".into(), json!(required));
    }
    out.insert("additionalProperties".into(), false.into());
    let mut all_of = Vec::new();
    for rule in m.rules {
        match rule {
            Rule::ExactlyOneGroup(groups) => {
                let one_of: Vec<Value> = groups
                    .iter()
                    .map(|group| {
                        let others = groups.iter().filter(|g| *g != group).flat_map(|g| g.iter().copied());
                        json!({ "required": group, "properties": forbidden(others) })
                    })
                    .collect();
                all_of.push(json!({ "oneOf": one_of }));
            }
            Rule::AtLeastOne(keys) => {
                let any_of: Vec<Value> = keys.iter().map(|k| json!({ "required": [k] })).collect();
                all_of.push(json!({ "anyOf": any_of }));
            }
            Rule::PerFormat(rules) => {
                for r in *rules {
                    let refused = SELECTOR_KEYS.iter().copied().filter(|k| !r.takes.contains(k));
                    let mut then = json!({ "description": r.description, "properties": forbidden(refused) });
                    if !r.requires.is_empty() {
                        then["required"] = json!(r.requires.iter().map(|(k, _)| *k).collect::<Vec<_>>());
                    }
                    all_of.push(json!({
                        "if": { "properties": { "format": { "const": r.format } }, "required": ["format"] },
                        "then": then,
                    }));
                }
            }
        }
    }
    if !all_of.is_empty() {
        out.insert("allOf".into(), Value::Array(all_of));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pointer::Format;

    #[test]
    fn tables_agree_with_the_types() {
        let formats: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(formats, spec::FORMATS);
        let ruled: Vec<&str> = spec::FORMAT_RULES.iter().map(|r| r.format).collect();
        assert_eq!(ruled, spec::FORMATS);
        for r in spec::FORMAT_RULES {
            for k in r.takes.iter().chain(r.requires.iter().map(|(k, _)| k)) {
                assert!(SELECTOR_KEYS.contains(k), "{}: {k} is no selector key", r.format);
            }
        }
        for k in SELECTOR_KEYS {
            assert!(spec::POINTER.key(k).is_some_and(|k| k.need == Need::Optional), "{k}");
        }
        for m in spec::MAPS {
            assert!(!m.description.is_empty() && m.keys.iter().all(|k| !k.description.is_empty()), "{}", m.id);
        }
    }

    #[test]
    fn patterns_compile_as_rust_regexes() {
        for s in Str::ALL {
            regex::Regex::new(s.pattern()).unwrap_or_else(|e| panic!("{}: {e}", s.id()));
        }
    }
}
