//! Request (and response / webhook payload) validation against GitHub's published REST
//! API description, vendored as `tests/data/openapi/api.github.com.subset.json` by
//! `scripts/refresh-test-data.sh`.
//!
//! The fake GitHub calls [`OpenApi::validate_request`] (or [`OpenApi::match_request`],
//! which also returns the decoded path and query parameters so it can route on the
//! operation id) for every request baton makes, so a request that GitHub would reject
//! fails the test with a message naming the operation and the problem.
//!
//! GitHub's description is OpenAPI 3.0.3. At load time the schemas are converted to JSON
//! Schema 2020-12 (`nullable: true` becomes a `"null"` type / enum member / `anyOf`
//! branch) and validated with the `jsonschema` crate, with `format` assertions on (e.g.
//! `date-time`) and unknown formats (e.g. `int64`) ignored.
//!
//! Self-contained (std, serde_json, jsonschema) so any test binary can include it with
//! `#[path = "support/openapi.rs"] mod openapi;`.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};

/// Location of the vendored description, relative to `CARGO_MANIFEST_DIR`.
pub const SUBSET_PATH: &str = "tests/data/openapi/api.github.com.subset.json";

/// Base URI under which the converted description is registered as a schema resource.
const DOC_URI: &str = "https://baton.invalid/github-openapi.json";

/// Path parameters that take the rest of the path (may contain `/`) although the
/// description does not mark them `x-multi-segment` (it does for `{ref}` in git refs,
/// commits, and for `{branch}` / `{commit_sha}`). GitHub routes
/// `/repos/o/r/contents/a/b/c.yaml` and `/repos/o/r/compare/main...feature/x` this way.
const EXTRA_MULTI_SEGMENT: &[(&str, &str)] =
    &[("/repos/{owner}/{repo}/contents/{path}", "path"), ("/repos/{owner}/{repo}/compare/{basehead}", "basehead")];

/// A request that matched an operation of the description.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedRequest {
    /// GitHub's operationId, e.g. `git/create-ref`.
    pub operation_id: &'static str,
    /// The path template, e.g. `/repos/{owner}/{repo}/git/refs/{ref}`.
    pub template: &'static str,
    /// Upper-case HTTP method.
    pub method: String,
    /// Percent-decoded path parameters (`ref` → `heads/main`, `path` → `a/b/c.yaml`).
    pub path_params: BTreeMap<String, String>,
    /// Percent-decoded query parameters; repeated keys keep every value in order.
    pub query: BTreeMap<String, Vec<String>>,
}

impl MatchedRequest {
    /// The decoded path parameter `name`; panics if the template has no such parameter.
    pub fn param(&self, name: &str) -> &str {
        self.path_params.get(name).unwrap_or_else(|| panic!("{} has no path parameter {name}", self.template))
    }

    /// The last value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).and_then(|v| v.last()).map(String::as_str)
    }
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param { name: String, multi: bool },
}

#[derive(Debug)]
struct Param {
    name: String,
    required: bool,
    /// JSON pointer (into the converted document) of the parameter's schema.
    schema_ptr: String,
    /// The (converted, `$ref`-resolved one level) schema, for type coercion.
    schema: Value,
}

#[derive(Debug)]
struct Body {
    required: bool,
    /// JSON pointer of the `application/json` schema, if the operation accepts JSON.
    json_schema_ptr: Option<String>,
    content_types: Vec<String>,
}

#[derive(Debug)]
struct Operation {
    id: &'static str,
    method: String,
    template: &'static str,
    segments: Vec<Segment>,
    path_params: Vec<Param>,
    query_params: Vec<Param>,
    body: Option<Body>,
    /// Pointer to `paths/<template>/<method>`.
    op_ptr: String,
}

/// GitHub's REST API description (the vendored subset), ready to validate requests.
pub struct OpenApi {
    doc: Value,
    operations: Vec<Operation>,
    registry: jsonschema::Registry,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi").field("operations", &self.operations.len()).finish_non_exhaustive()
    }
}

impl OpenApi {
    /// Loads `tests/data/openapi/api.github.com.subset.json` once per test binary.
    pub fn load() -> &'static OpenApi {
        static API: OnceLock<OpenApi> = OnceLock::new();
        API.get_or_init(|| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SUBSET_PATH);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
            OpenApi::from_document(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
    }

    /// Builds a validator from an OpenAPI 3.0 document (GitHub's dialect). Strings such as
    /// operation ids are leaked, so build only a handful of these per process.
    pub fn from_document(mut doc: Value) -> Result<OpenApi, String> {
        convert_openapi30_schemas(&mut doc);
        let mut operations = Vec::new();
        let paths = doc.get("paths").and_then(Value::as_object).ok_or("document has no `paths`")?;
        for (template, item) in paths {
            let item_obj = item.as_object().ok_or("path item is not an object")?;
            let template: &'static str = leak(template.clone());
            let item_ptr = format!("/paths/{}", escape_pointer(template));
            for (method, op) in item_obj {
                if !is_http_method(method) {
                    continue;
                }
                let op_ptr = format!("{item_ptr}/{method}");
                operations.push(build_operation(
                    &doc,
                    template,
                    method,
                    op,
                    item_obj.get("parameters"),
                    &item_ptr,
                    op_ptr,
                )?);
            }
        }
        let resource = jsonschema::Draft::Draft202012.create_resource(doc.clone());
        let registry = jsonschema::Registry::options()
            .draft(jsonschema::Draft::Draft202012)
            .build([(DOC_URI, resource)])
            .map_err(|e| format!("registering the description as a schema resource: {e}"))?;
        Ok(OpenApi { doc, operations, registry, validators: Mutex::new(HashMap::new()) })
    }

    /// The converted description (JSON Schema 2020-12 schemas inside an OpenAPI shell).
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// `(METHOD, template, operationId)` of every operation in the description.
    pub fn operations(&self) -> Vec<(&str, &'static str, &'static str)> {
        self.operations.iter().map(|o| (o.method.as_str(), o.template, o.id)).collect()
    }

    /// Checks a request as GitHub would and returns its operationId, or a human-readable
    /// reason naming the operation and the problem.
    ///
    /// `path_and_query` is e.g. `/repos/o/r/contents/a/b.yaml?ref=main` (an absolute URL
    /// is accepted too; scheme and host are ignored). `body` is the parsed JSON body, if
    /// any; `Some(Value::Null)` counts as "no body" for operations that take none.
    pub fn validate_request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<&'static str, String> {
        self.match_request(method, path_and_query, body).map(|m| m.operation_id)
    }

    /// Like [`validate_request`](Self::validate_request), but returns the matched operation
    /// with its decoded path and query parameters (handy for routing in the fake GitHub).
    pub fn match_request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<MatchedRequest, String> {
        let method = method.to_ascii_uppercase();
        let (path, query) = split_target(path_and_query);
        let (op, path_params) = self.route(&method, path)?;
        let ctx = format!("{} ({} {})", op.id, op.method, op.template);
        let mut problems = Vec::new();

        // Path parameters: decoded values must match their schema (integers etc.).
        for p in &op.path_params {
            match path_params.get(&p.name) {
                Some(v) => {
                    if let Err(e) = self.check_param_value(p, std::slice::from_ref(v)) {
                        problems.push(format!("path parameter `{}`: {e}", p.name));
                    }
                }
                None => problems.push(format!("path parameter `{}` missing", p.name)),
            }
        }

        // Query parameters.
        let query = match parse_query(query) {
            Ok(q) => q,
            Err(e) => return Err(format!("{ctx}: {e}")),
        };
        for (name, values) in &query {
            match op.query_params.iter().find(|p| &p.name == name) {
                None => {
                    let known: Vec<&str> = op.query_params.iter().map(|p| p.name.as_str()).collect();
                    problems.push(format!(
                        "unknown query parameter `{name}` (accepted: {})",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ));
                }
                Some(p) => {
                    if let Err(e) = self.check_param_value(p, values) {
                        problems.push(format!("query parameter `{name}`: {e}"));
                    }
                }
            }
        }
        for p in op.query_params.iter().filter(|p| p.required) {
            if !query.contains_key(&p.name) {
                problems.push(format!("required query parameter `{}` missing", p.name));
            }
        }

        // Body.
        let body = body.filter(|b| !b.is_null() || op.body.is_some());
        match (&op.body, body) {
            (None, Some(b)) => {
                problems.push(format!("operation takes no request body, got {}", truncate(&b.to_string(), 120)))
            }
            (Some(spec), None) if spec.required => {
                problems.push("request body is required but none was sent".to_string())
            }
            (Some(spec), Some(b)) => match &spec.json_schema_ptr {
                Some(ptr) => {
                    if let Err(errs) = self.validate_at(ptr, b) {
                        problems.push(format!("request body invalid: {errs}"));
                    }
                }
                None => problems.push(format!(
                    "operation does not take a JSON body (content types: {})",
                    spec.content_types.join(", ")
                )),
            },
            _ => {}
        }

        if problems.is_empty() {
            Ok(MatchedRequest { operation_id: op.id, template: op.template, method, path_params, query })
        } else {
            Err(format!("{ctx}: {}", problems.join("; ")))
        }
    }

    /// Validates a response body the fake GitHub is about to send for `operation_id` with
    /// HTTP `status` against the documented `application/json` schema. Statuses the
    /// description does not document (and documented ones without a JSON body, such as
    /// 204) are an error unless `body` is `None`.
    pub fn validate_response(&self, operation_id: &str, status: u16, body: Option<&Value>) -> Result<(), String> {
        let op = self
            .operations
            .iter()
            .find(|o| o.id == operation_id)
            .ok_or_else(|| format!("unknown operationId `{operation_id}`"))?;
        let ctx = format!("{} ({} {}) response {status}", op.id, op.method, op.template);
        let responses_ptr = format!("{}/responses", op.op_ptr);
        let responses = self
            .doc
            .pointer(&responses_ptr)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{ctx}: operation documents no responses"))?;
        let key = status.to_string();
        let Some(resp) = responses.get(&key) else {
            let documented: Vec<&str> = responses.keys().map(String::as_str).collect();
            return Err(format!("{ctx}: status not documented (documented: {})", documented.join(", ")));
        };
        let (resp, resp_ptr) = resolve_ref(&self.doc, resp, format!("{responses_ptr}/{key}"));
        let schema_ptr = resp
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|m| m.get("schema"))
            .map(|_| format!("{resp_ptr}/content/application~1json/schema"));
        match (schema_ptr, body) {
            (None, None) => Ok(()),
            (None, Some(b)) => {
                Err(format!("{ctx}: documented without a JSON body, got {}", truncate(&b.to_string(), 120)))
            }
            (Some(_), None) => Err(format!("{ctx}: a JSON body is documented, none given")),
            (Some(ptr), Some(b)) => self.validate_at(&ptr, b).map_err(|e| format!("{ctx}: {e}")),
        }
    }

    /// Validates a webhook payload against the `x-webhooks` schema for `event` (the
    /// `X-GitHub-Event` header) and the payload's `action`. Returns the x-webhooks key,
    /// e.g. `pull-request-opened`. Only events listed in `WEBHOOK_EVENTS` of
    /// `scripts/openapi_subset.py` are vendored.
    pub fn validate_webhook(&self, event: &str, payload: &Value) -> Result<&'static str, String> {
        let hooks = self.doc.get("x-webhooks").and_then(Value::as_object).ok_or("description has no x-webhooks")?;
        let event_key = event.replace('_', "-");
        let key = match payload.get("action").and_then(Value::as_str) {
            Some(action) => format!("{event_key}-{}", action.replace('_', "-")),
            None => event_key.clone(),
        };
        let key = if hooks.contains_key(&key) {
            key
        } else if hooks.contains_key(&event_key) {
            event_key
        } else {
            return Err(format!("no webhook schema `{key}` for event `{event}` (not vendored or unknown action)"));
        };
        let (key, _) = hooks.get_key_value(&key).expect("checked above");
        let key: &'static str = leak_cached(key);
        let ptr = format!("/x-webhooks/{}/post/requestBody/content/application~1json/schema", escape_pointer(key));
        self.validate_at(&ptr, payload).map(|()| key).map_err(|e| format!("webhook {key}: {e}"))
    }

    // ---------------------------------------------------------------------------------

    fn route(&self, method: &str, path: &str) -> Result<(&Operation, BTreeMap<String, String>), String> {
        if !path.starts_with('/') {
            return Err(format!("request path `{path}` does not start with `/`"));
        }
        let segs: Vec<&str> = path[1..].split('/').collect();
        let mut best: Option<(usize, &Operation, Captures)> = None;
        let mut path_matches: Vec<&Operation> = Vec::new();
        for op in &self.operations {
            let mut captures = Vec::new();
            if !match_segments(&op.segments, &segs, &mut captures) {
                continue;
            }
            path_matches.push(op);
            if op.method != method {
                continue;
            }
            let literals = op.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
            if best.as_ref().is_none_or(|(n, _, _)| literals > *n) {
                best = Some((literals, op, captures));
            }
        }
        let Some((_, op, captures)) = best else {
            if path_matches.is_empty() {
                return Err(format!(
                    "{method} {path}: no operation in GitHub's REST description matches this path \
                     (GitHub would answer 404)"
                ));
            }
            let mut allowed: Vec<String> =
                path_matches.iter().map(|o| format!("{} {}", o.method, o.template)).collect();
            allowed.sort();
            allowed.dedup();
            return Err(format!(
                "{method} {path}: no {method} operation for this path (GitHub has: {})",
                allowed.join(", ")
            ));
        };
        let mut params = BTreeMap::new();
        for (name, parts) in captures {
            let mut decoded = Vec::with_capacity(parts.len());
            for part in parts {
                decoded.push(
                    percent_decode(part, false).map_err(|e| {
                        format!("{} ({} {}): path parameter `{name}`: {e}", op.id, op.method, op.template)
                    })?,
                );
            }
            params.insert(name, decoded.join("/"));
        }
        Ok((op, params))
    }

    fn check_param_value(&self, p: &Param, values: &[String]) -> Result<(), String> {
        let is_array = schema_types(&p.schema).contains(&"array");
        if !is_array && values.len() > 1 {
            return Err(format!("given {} times, expected once", values.len()));
        }
        let instance = if is_array {
            let item_schema = p.schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array(values.iter().flat_map(|v| v.split(',')).map(|v| coerce(v, &item_schema)).collect())
        } else {
            coerce(&values[0], &p.schema)
        };
        if let Some(s) = instance.as_str() {
            if s.is_empty() && schema_types(&p.schema) != ["string"] {
                return Err("empty value".to_string());
            }
        }
        self.validate_at(&p.schema_ptr, &instance)
    }

    /// Validates `instance` against the schema at JSON pointer `ptr` of the document.
    fn validate_at(&self, ptr: &str, instance: &Value) -> Result<(), String> {
        let validator = self.validator(ptr)?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path.to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                format!("at {at}: {}", truncate(&e.to_string(), 300))
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn validator(&self, ptr: &str) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(v) = self.validators.lock().unwrap().get(ptr) {
            return Ok(v.clone());
        }
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("{DOC_URI}#{}", fragment_encode(ptr)),
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(self.registry.clone())
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&schema)
            .map_err(|e| format!("compiling schema at {ptr}: {e}"))?;
        let validator = Arc::new(validator);
        self.validators.lock().unwrap().insert(ptr.to_string(), validator.clone());
        Ok(validator)
    }
}

// ---------------------------------------------------------------------------------------
// Loading

fn build_operation(
    doc: &Value,
    template: &'static str,
    method: &str,
    op: &Value,
    item_params: Option<&Value>,
    item_ptr: &str,
    op_ptr: String,
) -> Result<Operation, String> {
    let id: &'static str = leak(
        op.get("operationId")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{method} {template}: no operationId"))?
            .to_string(),
    );

    // Parameters: path-item level ones, overridden by operation level ones (name + in).
    let mut raw: Vec<(Value, String)> = Vec::new();
    for (list, base) in
        [(item_params, format!("{item_ptr}/parameters")), (op.get("parameters"), format!("{op_ptr}/parameters"))]
    {
        if let Some(Value::Array(items)) = list {
            for (i, p) in items.iter().enumerate() {
                let (p, ptr) = resolve_ref(doc, p, format!("{base}/{i}"));
                let key = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
                raw.retain(|(q, _)| key(q) != key(p));
                raw.push((p.clone(), ptr));
            }
        }
    }

    let mut path_params = Vec::new();
    let mut query_params = Vec::new();
    let mut multi_names = Vec::new();
    for (p, ptr) in raw {
        let name =
            p.get("name").and_then(Value::as_str).ok_or_else(|| format!("{id}: parameter without name"))?.to_string();
        let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
        let schema_ptr = format!("{ptr}/schema");
        let schema = doc
            .pointer(&schema_ptr)
            .map(|s| resolve_ref(doc, s, String::new()).0.clone())
            .unwrap_or_else(|| serde_json::json!({}));
        let param = Param {
            name: name.clone(),
            required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
            schema_ptr,
            schema,
        };
        match location {
            "path" => {
                if p.get("x-multi-segment").and_then(Value::as_bool) == Some(true) {
                    multi_names.push(name);
                }
                path_params.push(param);
            }
            "query" => query_params.push(param),
            _ => {} // headers and cookies are not checked
        }
    }
    for (t, n) in EXTRA_MULTI_SEGMENT {
        if *t == template {
            multi_names.push((*n).to_string());
        }
    }

    let segments = template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if !path_params.iter().any(|p| p.name == name) {
                    return Err(format!("{id}: template parameter {{{name}}} is not declared"));
                }
                Ok(Segment::Param { name: name.to_string(), multi: multi_names.iter().any(|m| m == name) })
            } else if s.contains('{') {
                Err(format!("{id}: unsupported template segment `{s}`"))
            } else {
                Ok(Segment::Literal(s.to_string()))
            }
        })
        .collect::<Result<Vec<_>, String>>()?;

    let body = match op.get("requestBody") {
        None => None,
        Some(rb) => {
            let (rb, rb_ptr) = resolve_ref(doc, rb, format!("{op_ptr}/requestBody"));
            let content = rb.get("content").and_then(Value::as_object);
            let content_types = content.map(|c| c.keys().cloned().collect()).unwrap_or_default();
            let json_schema_ptr = content
                .and_then(|c| c.get("application/json"))
                .and_then(|m| m.get("schema"))
                .map(|_| format!("{rb_ptr}/content/application~1json/schema"));
            Some(Body {
                required: rb.get("required").and_then(Value::as_bool).unwrap_or(false),
                json_schema_ptr,
                content_types,
            })
        }
    };

    Ok(Operation {
        id,
        method: method.to_ascii_uppercase(),
        template,
        segments,
        path_params,
        query_params,
        body,
        op_ptr,
    })
}

/// Follows a local `$ref` chain; returns the target and its JSON pointer (or `ptr`
/// unchanged when `v` is not a reference).
fn resolve_ref<'a>(doc: &'a Value, mut v: &'a Value, mut ptr: String) -> (&'a Value, String) {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => match doc.pointer(&r[1..]) {
                Some(t) => {
                    ptr = r[1..].to_string();
                    v = t;
                }
                None => break,
            },
            _ => break,
        }
    }
    (v, ptr)
}

/// Rewrites OpenAPI 3.0 schema idioms into JSON Schema 2020-12, in place, across the
/// whole document. Example values are left alone.
fn convert_openapi30_schemas(v: &mut Value) {
    convert_node(v, false);
}

/// `in_name_map`: `v` is a map from names to schemas (`properties`, `components/schemas`,
/// ...), so its keys are never keywords and `example(s)` entries must be converted too.
fn convert_node(v: &mut Value, in_name_map: bool) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if !in_name_map && (k == "example" || k == "examples") {
                    continue; // example values, not schemas
                }
                let name_map = !in_name_map
                    && matches!(k.as_str(), "properties" | "patternProperties" | "$defs" | "definitions" | "schemas");
                convert_node(child, name_map);
            }
            if in_name_map {
                return;
            }
            match map.get("nullable") {
                Some(Value::Bool(true)) => {
                    map.remove("nullable");
                    make_nullable(map);
                }
                Some(Value::Bool(false)) => {
                    map.remove("nullable");
                }
                _ => {}
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| convert_node(i, false)),
        _ => {}
    }
}

fn make_nullable(map: &mut Map<String, Value>) {
    let null = Value::String("null".into());
    match map.get_mut("type") {
        Some(Value::String(t)) => {
            let t = Value::String(std::mem::take(t));
            map.insert("type".into(), Value::Array(vec![t, null.clone()]));
        }
        Some(Value::Array(ts)) => {
            if !ts.contains(&null) {
                ts.push(null.clone());
            }
        }
        _ => {
            // No `type` (e.g. `allOf: [{$ref}]`, `anyOf`, bare `$ref`): wrap everything.
            let inner = std::mem::take(map);
            map.insert("anyOf".into(), serde_json::json!([Value::Object(inner), {"type": "null"}]));
            return;
        }
    }
    if let Some(Value::Array(e)) = map.get_mut("enum") {
        if !e.contains(&Value::Null) {
            e.push(Value::Null);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Matching and decoding

/// Raw (still percent-encoded) segments captured per path parameter.
type Captures<'p> = Vec<(String, Vec<&'p str>)>;

fn match_segments<'p>(tpl: &[Segment], segs: &[&'p str], captures: &mut Captures<'p>) -> bool {
    match tpl.split_first() {
        None => segs.is_empty(),
        Some((Segment::Literal(l), rest)) => {
            !segs.is_empty() && segs[0] == l && match_segments(rest, &segs[1..], captures)
        }
        Some((Segment::Param { name, multi }, rest)) => {
            let max = if *multi { segs.len() } else { segs.len().min(1) };
            // Greedy: try the longest capture first; the caller prefers templates with
            // more literal segments, so `commits/{ref}/status` still wins over
            // `commits/{ref}` for `.../commits/main/status`.
            for n in (1..=max).rev() {
                if segs[..n].iter().any(|s| s.is_empty()) {
                    continue;
                }
                let mark = captures.len();
                captures.push((name.clone(), segs[..n].to_vec()));
                if match_segments(rest, &segs[n..], captures) {
                    return true;
                }
                captures.truncate(mark);
            }
            false
        }
    }
}

fn split_target(target: &str) -> (&str, &str) {
    let mut t = target;
    if let Some(i) = t.find("://") {
        t = &t[i + 3..];
        t = t.find('/').map_or("/", |j| &t[j..]);
    }
    let t = t.split('#').next().unwrap_or_default();
    match t.split_once('?') {
        Some((p, q)) => (p, q),
        None => (t, ""),
    }
}

fn parse_query(q: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k, true).map_err(|e| format!("query key `{k}`: {e}"))?;
        let v = percent_decode(v, true).map_err(|e| format!("query parameter `{k}`: {e}"))?;
        out.entry(k).or_default().push(v);
    }
    Ok(out)
}

fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent-encoding in `{s}`"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` does not decode to UTF-8"))
}

/// Turns a query/path string into the JSON value its schema expects, so that e.g.
/// `per_page=abc` fails an `integer` schema while `per_page=30` passes.
fn coerce(raw: &str, schema: &Value) -> Value {
    for t in schema_types(schema) {
        match t {
            "integer" => {
                if let Ok(i) = raw.parse::<i64>() {
                    return Value::from(i);
                }
            }
            "number" => {
                if let Some(n) = raw.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    return Value::Number(n);
                }
            }
            "boolean" => match raw {
                "true" => return Value::Bool(true),
                "false" => return Value::Bool(false),
                _ => {}
            },
            "null" if raw == "null" => return Value::Null,
            _ => {}
        }
    }
    Value::String(raw.to_string())
}

fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_http_method(m: &str) -> bool {
    matches!(m, "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace")
}

/// Percent-encodes a JSON pointer for use as a URI fragment (RFC 6901 §6).
fn fragment_encode(ptr: &str) -> String {
    let mut out = String::with_capacity(ptr.len());
    for b in ptr.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Leaks each distinct string once (for webhook keys returned as `&'static str`).
fn leak_cached(s: &str) -> &'static str {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    if let Some(v) = cache.get(s) {
        return v;
    }
    let v = leak(s.to_string());
    cache.insert(s.to_string(), v);
    v
}
