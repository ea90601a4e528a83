//! The REST surface: one fallback handler that records the request, runs the OpenAPI validator,
//! checks authentication, applies injected faults, then routes on the decoded path segments.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use super::faults::{self, FaultMode};
use super::payloads as p;
use super::state::{err, ApiError, ApiResult, CheckInput, GitUser, RecordedRequestRec, State};
use super::RateLimit;
use super::Shared;

/// Serves the fake on `listener` until the task is aborted (connections go with it). Plain hyper
/// rather than `axum::serve`, because a fault may have to drop a connection without answering.
pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let sh = shared.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let sh = sh.clone();
                async move { handle(sh, req.map(Body::new)).await }
            });
            // An `Err` from the service makes hyper close the connection without a response.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

/// The connection is dropped without an answer.
#[derive(Debug)]
pub struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset (injected)")
    }
}

impl std::error::Error for Reset {}

pub struct Resp {
    pub(super) status: u16,
    pub(super) body: Option<Value>,
    pub(super) headers: Vec<(String, String)>,
}

fn ok(v: Value) -> ApiResult<Resp> {
    Ok(Resp { status: 200, body: Some(v), headers: vec![] })
}
fn created(v: Value) -> ApiResult<Resp> {
    Ok(Resp { status: 201, body: Some(v), headers: vec![] })
}
fn no_content() -> ApiResult<Resp> {
    Ok(Resp { status: 204, body: None, headers: vec![] })
}

fn error_body(status: u16, msg: &str) -> Value {
    let doc = "https://docs.github.com/rest";
    if let Some(rest) = msg.strip_prefix("Validation Failed: ") {
        json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "custom", "message": rest}], "documentation_url": doc, "status": status.to_string()})
    } else {
        json!({"message": msg, "documentation_url": doc, "status": status.to_string()})
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fault_response(mode: FaultMode) -> Option<Resp> {
    Some(match mode {
        FaultMode::Reject(st) => {
            Resp { status: st, body: Some(json!({"message": "Server Error (injected)"})), headers: vec![] }
        }
        FaultMode::RateLimited(RateLimit::RetryAfter(secs)) => Resp {
            status: 429,
            body: Some(
                json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
            ),
            headers: vec![("retry-after".into(), secs.to_string())],
        },
        FaultMode::RateLimited(RateLimit::PrimaryExhausted { reset_in_secs }) => Resp {
            status: 403,
            body: Some(
                json!({"message": "API rate limit exceeded for installation.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
            ),
            headers: vec![
                ("x-ratelimit-limit".into(), "5000".into()),
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-used".into(), "5000".into()),
                ("x-ratelimit-reset".into(), (chrono::Utc::now().timestamp() + reset_in_secs as i64).to_string()),
                ("x-ratelimit-resource".into(), "core".into()),
            ],
        },
        _ => return None,
    })
}

/// GitHub's ETags are weak validators of the JSON body (`W/"…"`).
fn etag_of(body: &Value) -> String {
    format!("W/\"{}\"", super::sha1::sha1_hex(&serde_json::to_vec(body).unwrap_or_default()))
}

/// `If-None-Match` with the weak comparison RFC 9110 prescribes for GET (`*` matches anything).
fn none_match(header: Option<&str>, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header.is_some_and(|h| h.split(',').any(|t| t.trim() == "*" || strip(t) == strip(etag)))
}

async fn handle(sh: Arc<Shared>, req: Request) -> Result<Response, Reset> {
    let method = req.method().as_str().to_string();
    let uri = req.uri().clone();
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    let headers = req.headers().clone();
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20).await.unwrap_or_default();
    let parsed: Result<Option<Value>, String> = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(None)
    } else {
        serde_json::from_slice(&bytes).map(Some).map_err(|e| e.to_string())
    };
    let path_and_query = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let validator = sh.validator.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let validation = match (&parsed, validator) {
        (Ok(body), Some(v)) => v(&method, &path_and_query, body.as_ref()).err(),
        _ => None,
    };
    let fault = sh.with(|s| faults::take(&mut s.faults, &method, &path, &String::from_utf8_lossy(&bytes)));
    if let Some(FaultMode::Delay(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let resp = sh.with(|s| {
        s.api_calls += 1;
        let body = parsed.clone().ok().flatten();
        let mut resp = if let Err(e) = &parsed {
            Resp { status: 400, body: Some(error_body(400, &format!("Problems parsing JSON: {e}"))), headers: vec![] }
        } else if let Some(reason) = &validation {
            s.violations.push(format!("{method} {path_and_query}: openapi: {reason}"));
            Resp { status: 422, body: Some(json!({"message": format!("openapi: {reason}")})), headers: vec![] }
        } else if let Some(r) = fault.and_then(fault_response) {
            r
        } else if fault == Some(FaultMode::ResetBefore) {
            Resp { status: 0, body: None, headers: vec![] }
        } else {
            match route(s, &method, &path, query.as_deref(), &headers, body.as_ref()) {
                Ok(r) => r,
                Err(ApiError(status, msg)) => {
                    let mut r = Resp { status, body: Some(error_body(status, &msg)), headers: vec![] };
                    if status == 401 {
                        r.body = Some(json!({"message": msg, "documentation_url": "https://docs.github.com/rest", "status": "401"}));
                    }
                    r
                }
            }
        };
        if method == "GET" && resp.status == 200 {
            if let Some(b) = &resp.body {
                let etag = etag_of(b);
                if none_match(headers.get("if-none-match").and_then(|v| v.to_str().ok()), &etag) {
                    resp.status = 304;
                    resp.body = None;
                    s.not_modified += 1;
                }
                resp.headers.push(("etag".into(), etag));
            }
        }
        if let Some(FaultMode::ApplyThenStatus(st)) = fault {
            resp = Resp { status: st, body: Some(json!({"message": "Server Error (injected)"})), headers: vec![] };
        }
        if resp.status != 304 {
            s.counted_calls += 1;
        }
        if !resp.headers.iter().any(|(k, _)| k == "x-ratelimit-remaining") {
            let remaining = s.rate_limit.saturating_sub(s.counted_calls).to_string();
            resp.headers.push(("x-ratelimit-limit".into(), s.rate_limit.to_string()));
            resp.headers.push(("x-ratelimit-remaining".into(), remaining));
            resp.headers.push(("x-ratelimit-reset".into(), s.rate_reset.to_string()));
            resp.headers.push(("x-ratelimit-used".into(), s.counted_calls.to_string()));
            resp.headers.push(("x-ratelimit-resource".into(), "core".into()));
        }
        let reset = matches!(fault, Some(FaultMode::ResetBefore | FaultMode::ApplyThenReset | FaultMode::ApplyThenHold));
        s.requests.push(RecordedRequestRec {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body,
            status: if reset { 0 } else { resp.status },
            fault,
        });
        resp
    });
    if fault == Some(FaultMode::ApplyThenHold) {
        // Applied and recorded; the client never hears back (it is killed meanwhile).
        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
        return Err(Reset);
    }
    if matches!(fault, Some(FaultMode::ResetBefore | FaultMode::ApplyThenReset)) {
        return Err(Reset);
    }
    let mut builder = Response::builder()
        .status(resp.status)
        .header("x-github-request-id", format!("FAKE:{:X}", rand_u64()))
        .header("x-github-api-version-selected", "2022-11-28");
    for (k, v) in &resp.headers {
        builder = builder.header(k, v);
    }
    Ok(match resp.body {
        Some(b) => builder
            .header("content-type", "application/json; charset=utf-8")
            .body(Body::from(serde_json::to_vec(&b).unwrap_or_default()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0),
    );
    h.finish()
}

fn random_token() -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::from("ghs_");
    let mut x = rand_u64();
    for i in 0..36 {
        if i % 10 == 0 {
            x ^= rand_u64();
        }
        out.push(alphabet[(x % 62) as usize] as char);
        x /= 62;
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    }
    out
}

// ------------------------------------------------------------------------------ auth

enum Caller {
    App,
    Installation { id: u64, owner: String },
}

fn bad_credentials<T>() -> ApiResult<T> {
    err(401, "Bad credentials")
}

fn authenticate(s: &mut State, headers: &http::HeaderMap, app_route: bool) -> ApiResult<Caller> {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return err(401, "Requires authentication");
    };
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .or_else(|| h.strip_prefix("token "))
        .unwrap_or("")
        .trim()
        .to_string();
    if app_route {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return err(401, "A JSON web token could not be decoded");
        }
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1].trim_end_matches('='))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .ok_or_else(|| ApiError(401, "A JSON web token could not be decoded".into()))?;
        let iss = match &payload["iss"] {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        if iss != Some(s.app_id) {
            return err(401, "'Issuer' claim ('iss') must be an Integer");
        }
        let now = chrono::Utc::now().timestamp();
        let exp = payload["exp"].as_i64().unwrap_or(0);
        if exp <= now {
            return err(401, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
        }
        if exp > now + 600 + 60 {
            return err(401, "'Expiration time' claim ('exp') is too far in the future");
        }
        return Ok(Caller::App);
    }
    let Some(t) = s.tokens.get(&token) else {
        return bad_credentials();
    };
    if t.expires_at <= s.now() {
        return bad_credentials();
    }
    let id = t.installation;
    let owner = s.installations.iter().find(|(_, v)| **v == id).map(|(k, _)| k.clone()).unwrap_or_default();
    Ok(Caller::Installation { id, owner })
}

// ------------------------------------------------------------------------------ helpers

type Query = HashMap<String, String>;

fn parse_query(q: Option<&str>) -> Query {
    q.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

fn bstr<'a>(b: Option<&'a Value>, k: &str) -> Option<&'a str> {
    b.and_then(|b| b.get(k)).and_then(Value::as_str)
}

fn need_str<'a>(b: Option<&'a Value>, k: &str) -> ApiResult<&'a str> {
    bstr(b, k).ok_or_else(|| ApiError(422, format!("Invalid request.\n\n\"{k}\" wasn't supplied.")))
}

/// Slices `items` by `per_page`/`page` and adds GitHub's `Link` header.
fn paginate(s: &State, items: Vec<Value>, q: &Query, path: &str) -> (Vec<Value>, Vec<(String, String)>) {
    let per_page = q.get("per_page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let page = q.get("page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let mut links = vec![];
    let link = |n: usize| {
        let mut qq: BTreeMap<&str, String> = q.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        qq.insert("page", n.to_string());
        qq.insert("per_page", per_page.to_string());
        let qs: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(qq.iter()).finish();
        format!("{}{}?{qs}", s.base_url, path.trim_start_matches('/'))
    };
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link(page - 1)));
        links.push(format!("<{}>; rel=\"first\"", link(1)));
    }
    let headers = if links.is_empty() { vec![] } else { vec![("link".to_string(), links.join(", "))] };
    (slice, headers)
}

fn ok_paged(s: &State, items: Vec<Value>, q: &Query, path: &str) -> ApiResult<Resp> {
    let (slice, headers) = paginate(s, items, q, path);
    Ok(Resp { status: 200, body: Some(Value::Array(slice)), headers })
}

fn parse_num(x: &str) -> ApiResult<u64> {
    x.parse().map_err(|_| ApiError(404, "Not Found".into()))
}

// ------------------------------------------------------------------------------ router

fn route(
    s: &mut State,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
    body: Option<&Value>,
) -> ApiResult<Resp> {
    let segs_owned: Vec<String> =
        path.trim_start_matches('/').trim_end_matches('/').split('/').map(percent_decode).collect();
    let segs: Vec<&str> = segs_owned.iter().map(String::as_str).collect();
    let q = parse_query(query);
    let app_route = matches!(
        segs.as_slice(),
        ["app", ..] | ["repos", _, _, "installation"] | ["orgs", _, "installation"] | ["users", _, "installation"]
    );
    let caller = authenticate(s, headers, app_route)?;

    let actor = s.bot_login();
    let base = s.base_url.clone();
    match (method, segs.as_slice()) {
        // ---------------------------------------------------------------- app
        ("GET", ["app"]) => {
            let (id, slug) = (s.app_id, s.app_slug.clone());
            ok(p::app(&base, id, &slug))
        }
        ("GET", ["app", "installations"]) => {
            let owners: Vec<String> = s.installations.keys().cloned().collect();
            let v: Vec<Value> = owners.iter().map(|o| installation(s, o)).collect();
            ok_paged(s, v, &q, path)
        }
        ("GET", ["app", "installations", id]) => {
            let id = parse_num(id)?;
            let owner = s
                .installations
                .iter()
                .find(|(_, v)| **v == id)
                .map(|(k, _)| k.clone())
                .ok_or_else(|| ApiError(404, "Not Found".into()))?;
            ok(installation(s, &owner))
        }
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            let id = parse_num(id)?;
            if !s.installations.values().any(|v| *v == id) {
                return err(404, "Not Found");
            }
            let token = random_token();
            let expires = s.now() + chrono::Duration::hours(1);
            s.tokens.insert(token.clone(), super::state::TokenRec { installation: id, expires_at: expires });
            created(json!({
                "token": token, "expires_at": p::ts(&expires),
                "permissions": {"checks": "write", "contents": "write", "issues": "write", "pull_requests": "write", "statuses": "write", "metadata": "read", "members": "read"},
                "repository_selection": "all",
            }))
        }
        ("GET", ["repos", o, r, "installation"]) => {
            s.repo(&format!("{o}/{r}"))?;
            ok(installation(s, o))
        }
        ("GET", ["orgs", o, "installation"]) | ("GET", ["users", o, "installation"]) => {
            if !s.installations.contains_key(*o) {
                return err(404, "Not Found");
            }
            ok(installation(s, o))
        }
        (_, ["app", ..]) => unknown(s, method, path),
        _ => {
            let Caller::Installation { owner, .. } = caller else {
                return err(401, "A JSON web token cannot be used for this endpoint; use an installation access token");
            };
            installation_routes(s, method, path, &segs, &q, body, &owner, &actor, &base)
        }
    }
}

fn installation(s: &mut State, owner: &str) -> Value {
    let id = s.installation_for_owner(owner);
    let uid = s.ensure_user(owner);
    let base = s.base_url.clone();
    json!({
        "id": id, "account": p::user(&base, owner, uid), "app_id": s.app_id, "app_slug": s.app_slug,
        "target_id": uid, "target_type": "Organization",
        "access_tokens_url": format!("{base}app/installations/{id}/access_tokens"),
        "repositories_url": format!("{base}installation/repositories"),
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{id}"),
        "permissions": {"checks": "write", "contents": "write", "issues": "write", "pull_requests": "write", "statuses": "write", "metadata": "read", "members": "read"},
        "events": ["check_run", "check_suite", "issue_comment", "pull_request", "push", "status"],
        "repository_selection": s.repository_selection(owner), "single_file_name": null, "single_file_paths": [],
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "suspended_at": null, "suspended_by": null,
    })
}

fn unknown(s: &mut State, method: &str, path: &str) -> ApiResult<Resp> {
    s.violations.push(format!("{method} {path}: baton called an endpoint the fake does not model"));
    err(404, "Not Found")
}

#[allow(clippy::too_many_arguments)]
fn installation_routes(
    s: &mut State,
    method: &str,
    path: &str,
    segs: &[&str],
    q: &Query,
    body: Option<&Value>,
    inst_owner: &str,
    actor: &str,
    base: &str,
) -> ApiResult<Resp> {
    match (method, segs) {
        ("POST", ["graphql"]) => {
            let query = bstr(body, "query").unwrap_or_default().to_string();
            let variables = body.and_then(|b| b.get("variables")).cloned().unwrap_or(Value::Null);
            if super::graphql::is_listing(&query) {
                return ok(super::graphql::answer_listing(s, &query, &variables, inst_owner));
            }
            ok(super::graphql::answer(s, &query, &variables, inst_owner))
        }
        ("GET", ["installation", "repositories"]) => {
            let names: Vec<String> =
                s.repos.values().map(|r| r.full_name()).filter(|n| s.installation_sees(inst_owner, n)).collect();
            let all: Vec<Value> = names.iter().map(|n| repo_json(s, n)).collect();
            let total = all.len();
            let (slice, headers) = paginate(s, all, q, path);
            let selection = s.repository_selection(inst_owner);
            Ok(Resp {
                status: 200,
                body: Some(json!({"total_count": total, "repository_selection": selection, "repositories": slice})),
                headers,
            })
        }
        ("GET", ["rate_limit"]) => {
            let reset = chrono::Utc::now().timestamp() + 3600;
            let core = json!({"limit": s.rate_limit, "used": s.counted_calls, "remaining": s.rate_limit.saturating_sub(s.counted_calls), "reset": reset});
            ok(json!({"resources": {"core": core, "search": core, "graphql": core}, "rate": core}))
        }
        ("GET", ["orgs", org, "teams", slug, "memberships", user]) => {
            if *org != inst_owner {
                return err(404, "Not Found");
            }
            let Some(members) = s.teams.get(&(org.to_string(), slug.to_string())) else {
                return err(404, "Not Found");
            };
            if !members.iter().any(|m| m.eq_ignore_ascii_case(user)) {
                return err(404, "Not Found");
            }
            ok(json!({"url": format!("{base}teams/1/memberships/{user}"), "role": "member", "state": "active"}))
        }
        ("GET", ["orgs", org, "teams", slug, "members"]) => {
            let Some(members) = s.teams.get(&(org.to_string(), slug.to_string())).cloned() else {
                return err(404, "Not Found");
            };
            let v: Vec<Value> = members.iter().map(|m| s.user_json(m)).collect();
            ok_paged(s, v, q, path)
        }
        ("GET", ["users", login]) => {
            if !s.users.contains_key(*login) {
                return err(404, "Not Found");
            }
            ok(s.user_json(login))
        }
        (_, ["repos", o, r, rest @ ..]) => {
            let full = format!("{o}/{r}");
            if *o != inst_owner || !s.repos.contains_key(&full) {
                if !s.repos.contains_key(&full) && *o == inst_owner {
                    return err(404, "Not Found");
                }
                return err(404, "Not Found");
            }
            repo_routes(s, method, path, &full, rest, q, body, actor, base)
        }
        _ => unknown(s, method, path),
    }
}

fn repo_json(s: &mut State, full: &str) -> Value {
    let owner = s.repos[full].owner.clone();
    let oid = s.ensure_user(&owner);
    p::repo(&s.base_url, &s.repos[full], oid)
}

fn resolve_or(s: &State, full: &str, r: &str, status: u16) -> ApiResult<String> {
    State::resolve(&s.repos[full], r).ok_or_else(|| ApiError(status, format!("No commit found for SHA: {r}")))
}

#[allow(clippy::too_many_arguments)]
fn repo_routes(
    s: &mut State,
    method: &str,
    path: &str,
    full: &str,
    rest: &[&str],
    q: &Query,
    body: Option<&Value>,
    actor: &str,
    base: &str,
) -> ApiResult<Resp> {
    if let Some(r) = super::actions::routes(s, method, full, rest, q, body) {
        return r;
    }
    match (method, rest) {
        ("GET", []) => ok(repo_json(s, full)),
        ("GET", ["branches", b @ ..]) if !b.is_empty() => {
            let b = b.join("/");
            let sha = s.repos[full]
                .refs
                .get(&format!("refs/heads/{b}"))
                .cloned()
                .ok_or_else(|| ApiError(404, "Branch not found".into()))?;
            let c = s.repos[full].commits[&sha].clone();
            let commit = p::repo_commit(base, &s.repos[full], &c, None);
            ok(
                json!({"name": b, "commit": commit, "protected": false, "_links": {"self": format!("{base}repos/{full}/branches/{b}"), "html": format!("https://github.com/{full}/tree/{b}")}, "protection_url": format!("{base}repos/{full}/branches/{b}/protection")}),
            )
        }
        // ------------------------------------------------------------ refs
        ("GET", ["git", "ref", r @ ..]) if !r.is_empty() => {
            let name = format!("refs/{}", r.join("/"));
            let sha = s.repos[full].refs.get(&name).cloned().ok_or_else(|| ApiError(404, "Not Found".into()))?;
            ok(ref_json(base, full, &name, &sha))
        }
        ("GET", ["git", "refs", r @ ..]) | ("GET", ["git", "matching-refs", r @ ..]) => {
            let prefix = if r.is_empty() { "refs/".to_string() } else { format!("refs/{}", r.join("/")) };
            let exact = rest[1] == "refs" && !r.is_empty();
            if exact {
                if let Some(sha) = s.repos[full].refs.get(&prefix).cloned() {
                    return ok(ref_json(base, full, &prefix, &sha));
                }
            }
            let v: Vec<Value> = s.repos[full]
                .refs
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| ref_json(base, full, k, v))
                .collect();
            if v.is_empty() && exact {
                return err(404, "Not Found");
            }
            ok_paged(s, v, q, path)
        }
        ("POST", ["git", "refs"]) => {
            let name = need_str(body, "ref")?.to_string();
            let sha = need_str(body, "sha")?.to_string();
            if !name.starts_with("refs/")
                || name.matches('/').count() < 2
                || name.ends_with('/')
                || name.contains("..")
                || name.contains(' ')
            {
                return err(422, "Reference name is invalid");
            }
            if !s.repos[full].commits.contains_key(&sha) {
                return err(422, "Object does not exist");
            }
            if s.repos[full].refs.contains_key(&name) {
                return err(422, "Reference already exists");
            }
            s.set_ref(full, &name, Some(&sha), actor, false);
            created(ref_json(base, full, &name, &sha))
        }
        ("PATCH", ["git", "refs", r @ ..]) if !r.is_empty() => {
            let name = format!("refs/{}", r.join("/"));
            let sha = need_str(body, "sha")?.to_string();
            let force = body.and_then(|b| b.get("force")).and_then(Value::as_bool).unwrap_or(false);
            let Some(old) = s.repos[full].refs.get(&name).cloned() else {
                return err(422, "Reference does not exist");
            };
            if !s.repos[full].commits.contains_key(&sha) {
                return err(422, "Object does not exist");
            }
            let ff = State::ancestors(&s.repos[full], &sha).contains(&old);
            if !ff && !force {
                return err(422, "Update is not a fast forward");
            }
            s.set_ref(full, &name, Some(&sha), actor, !ff);
            ok(ref_json(base, full, &name, &sha))
        }
        ("DELETE", ["git", "refs", r @ ..]) if !r.is_empty() => {
            let name = format!("refs/{}", r.join("/"));
            if !s.repos[full].refs.contains_key(&name) {
                return err(422, "Reference does not exist");
            }
            if name == format!("refs/heads/{}", s.repos[full].default_branch) {
                return err(422, "Cannot delete the default branch");
            }
            s.set_ref(full, &name, None, actor, false);
            no_content()
        }
        // ------------------------------------------------------------ git data
        ("POST", ["git", "blobs"]) => {
            let content = need_str(body, "content")?;
            let text = match bstr(body, "encoding").unwrap_or("utf-8") {
                "base64" => decode_b64(content)?,
                _ => content.to_string(),
            };
            let sha = State::put_blob(s.repos.get_mut(full).unwrap(), &text);
            created(json!({"sha": sha, "url": format!("{base}repos/{full}/git/blobs/{sha}")}))
        }
        ("GET", ["git", "blobs", sha]) => {
            let c = s.repos[full].blobs.get(*sha).cloned().ok_or_else(|| ApiError(404, "Not Found".into()))?;
            ok(
                json!({"sha": sha, "node_id": p::node_id("Blob", 1), "size": c.len(), "url": format!("{base}repos/{full}/git/blobs/{sha}"), "content": p::b64_wrapped(&c), "encoding": "base64"}),
            )
        }
        ("GET", ["git", "trees", r]) => {
            let repo = &s.repos[full];
            let tree_sha = if repo.trees.contains_key(*r) {
                r.to_string()
            } else {
                let c = State::resolve(repo, r).ok_or_else(|| ApiError(404, "Not Found".into()))?;
                repo.commits[&c].tree.clone()
            };
            ok(tree_json(s, full, &tree_sha))
        }
        ("POST", ["git", "trees"]) => {
            let repo = s.repos.get_mut(full).unwrap();
            let mut tree = match bstr(body, "base_tree") {
                Some(bt) => match repo.trees.get(bt) {
                    Some(t) => t.clone(),
                    None => match repo.commits.get(bt) {
                        Some(c) => repo.trees[&c.tree].clone(),
                        None => return err(422, "Invalid request.\n\nbase_tree is not a valid tree oid"),
                    },
                },
                None => BTreeMap::new(),
            };
            let entries = body
                .and_then(|b| b.get("tree"))
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError(422, "Invalid request.\n\n\"tree\" wasn't supplied.".into()))?;
            for e in entries {
                let path = e
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError(422, "Invalid request.\n\n\"path\" wasn't supplied.".into()))?;
                if path.starts_with('/')
                    || path.ends_with('/')
                    || path.split('/').any(|c| c.is_empty() || c == "." || c == "..")
                {
                    return err(422, format!("tree.path contains a malformed path component: {path}"));
                }
                let kind = e.get("type").and_then(Value::as_str).unwrap_or("blob");
                let mode = e.get("mode").and_then(Value::as_str).unwrap_or("100644");
                if !["100644", "100755", "040000", "160000", "120000"].contains(&mode) {
                    return err(422, format!("Invalid request.\n\nmode {mode} is not valid"));
                }
                match (e.get("content"), e.get("sha")) {
                    (Some(Value::String(c)), None) => {
                        let b = State::put_blob(repo, c);
                        tree.insert(path.to_string(), b);
                    }
                    (None, Some(Value::Null)) => {
                        if kind == "tree" {
                            let pre = format!("{path}/");
                            tree.retain(|k, _| !k.starts_with(&pre));
                        } else {
                            tree.remove(path);
                        }
                    }
                    (None, Some(Value::String(sha))) => {
                        if !repo.blobs.contains_key(sha) {
                            return err(422, format!("GitRPC::BadObjectState: {sha} is not a blob"));
                        }
                        tree.insert(path.to_string(), sha.clone());
                    }
                    _ => return err(422, "Must supply either tree.sha or tree.content (exactly one)"),
                }
            }
            let sha = State::put_tree(repo, tree);
            Ok(Resp { status: 201, ..resp_of(tree_json(s, full, &sha)) })
        }
        ("POST", ["git", "commits"]) => {
            let message = need_str(body, "message")?.to_string();
            let tree = need_str(body, "tree")?.to_string();
            let parents: Vec<String> = body
                .and_then(|b| b.get("parents"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if !s.repos[full].trees.contains_key(&tree) {
                return err(422, "Tree SHA does not exist");
            }
            for par in &parents {
                if !s.repos[full].commits.contains_key(par) {
                    return err(422, "Parent SHA does not exist or is not a commit object");
                }
            }
            let default = s.git_user_for(actor);
            let gu = |k: &str, d: &GitUser| -> ApiResult<GitUser> {
                match body.and_then(|b| b.get(k)).filter(|v| !v.is_null()) {
                    None => Ok(d.clone()),
                    Some(v) => {
                        let name = v.get("name").and_then(Value::as_str).ok_or_else(|| {
                            ApiError(422, format!("Invalid request.\n\n\"name\" wasn't supplied in {k}."))
                        })?;
                        let email = v.get("email").and_then(Value::as_str).ok_or_else(|| {
                            ApiError(422, format!("Invalid request.\n\n\"email\" wasn't supplied in {k}."))
                        })?;
                        let date = match v.get("date").and_then(Value::as_str) {
                            Some(d) => chrono::DateTime::parse_from_rfc3339(d)
                                .map_err(|_| ApiError(422, "Invalid request.\n\ndate is not a timestamp".into()))?
                                .with_timezone(&chrono::Utc),
                            None => d.date,
                        };
                        Ok(GitUser { name: name.into(), email: email.into(), date })
                    }
                }
            };
            let author = gu("author", &default)?;
            let committer = gu("committer", &author)?;
            let sha = s.put_commit(full, &tree, parents, &message, author, committer, Some(actor.to_string()));
            let c = s.repos[full].commits[&sha].clone();
            created(p::git_commit(base, full, &c))
        }
        ("GET", ["git", "commits", sha]) => {
            let c = s.repos[full].commits.get(*sha).cloned().ok_or_else(|| ApiError(404, "Not Found".into()))?;
            ok(p::git_commit(base, full, &c))
        }
        // ------------------------------------------------------------ contents
        ("GET", ["contents", pth @ ..]) => {
            let pth = pth.join("/");
            let at = q.get("ref").cloned().unwrap_or_else(|| s.repos[full].default_branch.clone());
            let sha = State::resolve(&s.repos[full], &at)
                .ok_or_else(|| ApiError(404, format!("No commit found for the ref {at}")))?;
            let tree = State::tree_of(&s.repos[full], &sha);
            if let Some(blob) = tree.get(&pth) {
                let c = s.repos[full].blobs[blob].clone();
                return ok(p::content_file(base, full, &pth, &at, blob, Some(&c), c.len()));
            }
            let prefix = if pth.is_empty() { String::new() } else { format!("{pth}/") };
            let mut entries: BTreeMap<String, Value> = BTreeMap::new();
            for (k, b) in &tree {
                if let Some(rest) = k.strip_prefix(&prefix) {
                    match rest.split_once('/') {
                        Some((dir, _)) => {
                            let dp = format!("{prefix}{dir}");
                            entries.entry(dp.clone()).or_insert_with(|| p::content_dir(base, full, &dp, &at));
                        }
                        None => {
                            let size = s.repos[full].blobs[b].len();
                            entries.insert(k.clone(), p::content_file(base, full, k, &at, b, None, size));
                        }
                    }
                }
            }
            if entries.is_empty() && !pth.is_empty() {
                return err(404, "Not Found");
            }
            ok(Value::Array(entries.into_values().collect()))
        }
        ("PUT", ["contents", pth @ ..]) if !pth.is_empty() => {
            let pth = pth.join("/");
            let message = need_str(body, "message")?.to_string();
            let content = decode_b64(need_str(body, "content")?)?;
            let branch =
                bstr(body, "branch").map(str::to_string).unwrap_or_else(|| s.repos[full].default_branch.clone());
            let Some(tip) = s.repos[full].refs.get(&format!("refs/heads/{branch}")).cloned() else {
                return err(404, format!("Branch {branch} not found"));
            };
            let existing = State::tree_of(&s.repos[full], &tip).get(&pth).cloned();
            match (&existing, bstr(body, "sha")) {
                (Some(_), None) => return err(422, "Invalid request.\n\n\"sha\" wasn't supplied."),
                (Some(e), Some(given)) if e != given => return err(409, format!("{pth} does not match {given}")),
                (None, Some(given)) => return err(409, format!("{pth} does not match {given}")),
                _ => {}
            }
            let sha = s.commit_files(full, &branch, actor, &message, &[(pth.clone(), Some(content.clone()))])?;
            let c = s.repos[full].commits[&sha].clone();
            let blob = super::sha1::blob_sha(&content);
            let v = json!({"content": p::content_file(base, full, &pth, &branch, &blob, None, content.len()), "commit": p::git_commit(base, full, &c)});
            if existing.is_some() {
                ok(v)
            } else {
                created(v)
            }
        }
        ("DELETE", ["contents", pth @ ..]) if !pth.is_empty() => {
            let pth = pth.join("/");
            let message = need_str(body, "message")?.to_string();
            let given = need_str(body, "sha")?.to_string();
            let branch =
                bstr(body, "branch").map(str::to_string).unwrap_or_else(|| s.repos[full].default_branch.clone());
            let Some(tip) = s.repos[full].refs.get(&format!("refs/heads/{branch}")).cloned() else {
                return err(404, format!("Branch {branch} not found"));
            };
            match State::tree_of(&s.repos[full], &tip).get(&pth) {
                None => return err(404, "Not Found"),
                Some(e) if *e != given => return err(409, format!("{pth} does not match {given}")),
                _ => {}
            }
            let sha = s.commit_files(full, &branch, actor, &message, &[(pth, None)])?;
            let c = s.repos[full].commits[&sha].clone();
            ok(json!({"content": null, "commit": p::git_commit(base, full, &c)}))
        }
        // ------------------------------------------------------------ commits
        ("GET", ["commits"]) => {
            let start = q.get("sha").cloned().unwrap_or_default();
            let start = resolve_or(s, full, &start, 404)?;
            let repo = &s.repos[full];
            let filter = q.get("path").cloned();
            let author = q.get("author").cloned();
            let mut list = State::commits_between(repo, None, &start);
            if let Some(fp) = &filter {
                let touches = |tree: &BTreeMap<String, String>| -> Vec<(String, String)> {
                    tree.iter()
                        .filter(|(k, _)| *k == fp || k.starts_with(&format!("{fp}/")))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                list.retain(|c| {
                    let mine = touches(&State::tree_of(repo, &c.sha));
                    if c.parents.is_empty() {
                        return !mine.is_empty();
                    }
                    c.parents.iter().all(|par| touches(&State::tree_of(repo, par)) != mine)
                });
            }
            if let Some(a) = &author {
                list.retain(|c| c.login.as_deref() == Some(a.as_str()) || &c.author.email == a);
            }
            let v: Vec<Value> = list.iter().map(|c| p::repo_commit(base, repo, c, None)).collect();
            ok_paged(s, v, q, path)
        }
        ("GET", ["commits", r @ ..]) if !r.is_empty() => {
            let last = *r.last().unwrap();
            let sub = ["check-runs", "status", "statuses", "pulls", "check-suites"];
            if r.len() >= 2 && sub.contains(&last) {
                let reference = r[..r.len() - 1].join("/");
                return commit_sub(s, path, full, &reference, last, q, base);
            }
            let reference = r.join("/");
            let sha = resolve_or(s, full, &reference, 422)?;
            let repo = &s.repos[full];
            let c = repo.commits[&sha].clone();
            let parent_tree = c.parents.first().map(|p| State::tree_of(repo, p)).unwrap_or_default();
            let files = s.diff_json(repo, &parent_tree, &State::tree_of(repo, &sha), &sha);
            ok(p::repo_commit(base, repo, &c, Some(files)))
        }
        ("GET", ["compare", spec @ ..]) if !spec.is_empty() => {
            let spec = spec.join("/");
            let (b, h) = spec
                .split_once("...")
                .or_else(|| spec.split_once(".."))
                .ok_or_else(|| ApiError(404, "Not Found".into()))?;
            let bs = State::resolve(&s.repos[full], b).ok_or_else(|| ApiError(404, "Not Found".into()))?;
            let hs = State::resolve(&s.repos[full], h).ok_or_else(|| ApiError(404, "Not Found".into()))?;
            let repo = &s.repos[full];
            let mb = State::merge_base(repo, &bs, &hs)
                .ok_or_else(|| ApiError(404, "No common ancestor between base and head".into()))?;
            let ahead = State::commits_between(repo, Some(&bs), &hs);
            let behind = State::commits_between(repo, Some(&hs), &bs);
            let status = match (ahead.len(), behind.len()) {
                (0, 0) => "identical",
                (_, 0) => "ahead",
                (0, _) => "behind",
                _ => "diverged",
            };
            let files = s.diff_json(repo, &State::tree_of(repo, &mb), &State::tree_of(repo, &hs), &hs);
            let commits: Vec<Value> = ahead.iter().rev().map(|c| p::repo_commit(base, repo, c, None)).collect();
            ok(json!({
                "url": format!("{base}repos/{full}/compare/{spec}"),
                "html_url": format!("https://github.com/{full}/compare/{spec}"),
                "permalink_url": format!("https://github.com/{full}/compare/{bs}...{hs}"),
                "diff_url": format!("https://github.com/{full}/compare/{spec}.diff"),
                "patch_url": format!("https://github.com/{full}/compare/{spec}.patch"),
                "base_commit": p::repo_commit(base, repo, &repo.commits[&bs], None),
                "merge_base_commit": p::repo_commit(base, repo, &repo.commits[&mb], None),
                "status": status, "ahead_by": ahead.len(), "behind_by": behind.len(),
                "total_commits": ahead.len(), "commits": commits, "files": files,
            }))
        }
        // ------------------------------------------------------------ pulls
        ("GET", ["pulls"]) => {
            let state = q.get("state").map(String::as_str).unwrap_or("open");
            let owner = s.repos[full].owner.clone();
            let head = q.get("head").and_then(|h| h.split_once(':').map(|(o, b)| (o.to_string(), b.to_string())));
            let base_f = q.get("base").cloned();
            let mut nums: Vec<u64> = s.repos[full]
                .issues
                .values()
                .filter(|i| i.pr.is_some())
                .filter(|i| state == "all" || i.state == state)
                .filter(|i| match &head {
                    Some((o, b)) => o.eq_ignore_ascii_case(&owner) && &i.pr.as_ref().unwrap().head_ref == b,
                    None => true,
                })
                .filter(|i| base_f.as_ref().map(|b| &i.pr.as_ref().unwrap().base_ref == b).unwrap_or(true))
                .map(|i| i.number)
                .collect();
            let asc = q.get("direction").map(|d| d == "asc").unwrap_or(false);
            if !asc {
                nums.reverse();
            }
            let v: Vec<Value> = nums.iter().map(|n| s.pull_json(full, *n)).collect();
            ok_paged(s, v, q, path)
        }
        ("POST", ["pulls"]) => {
            let title = need_str(body, "title")?.to_string();
            let head = need_str(body, "head")?;
            let basebr = need_str(body, "base")?.to_string();
            let head = match head.split_once(':') {
                Some((o, b)) => {
                    if !o.eq_ignore_ascii_case(&s.repos[full].owner) {
                        return err(422, "Validation Failed: head is invalid (forks are not modelled)");
                    }
                    b.to_string()
                }
                None => head.to_string(),
            };
            let draft = body.and_then(|b| b.get("draft")).and_then(Value::as_bool).unwrap_or(false);
            let n = s.open_pull(full, actor, &head, &basebr, &title, bstr(body, "body"), draft)?;
            created(s.pull_json(full, n))
        }
        ("GET", ["pulls", n]) => {
            let n = parse_num(n)?;
            s.pr(full, n)?;
            let mut v = s.pull_json(full, n);
            if s.repos[full].issues[&n].state == "open" {
                let clean = s.pr_merge_tree(full, n)?.is_ok();
                v["mergeable"] = json!(clean);
                v["mergeable_state"] = json!(if clean { "clean" } else { "dirty" });
            }
            ok(v)
        }
        ("PATCH", ["pulls", n]) => {
            let n = parse_num(n)?;
            s.pr(full, n)?;
            update_issue(s, full, n, body, actor)?;
            if let Some(b) = bstr(body, "base") {
                let tip = s.repos[full]
                    .refs
                    .get(&format!("refs/heads/{b}"))
                    .cloned()
                    .ok_or_else(|| ApiError(422, "Validation Failed: base is invalid".into()))?;
                let i = s.repos.get_mut(full).unwrap().issues.get_mut(&n).unwrap();
                let pr = i.pr.as_mut().unwrap();
                pr.base_ref = b.to_string();
                pr.base_sha = tip;
                s.emit_pull(full, n, "edited", actor, json!({"changes": {"base": {}}}));
            }
            ok(s.pull_json(full, n))
        }
        ("GET", ["pulls", n, "files"]) => {
            let n = parse_num(n)?;
            let (_, pr) = s.pr(full, n)?;
            let pr = pr.clone();
            let repo = &s.repos[full];
            let base_tip =
                repo.refs.get(&format!("refs/heads/{}", pr.base_ref)).cloned().unwrap_or(pr.base_sha.clone());
            let mb = State::merge_base(repo, &base_tip, &pr.head_sha).unwrap_or(base_tip);
            let files =
                s.diff_json(repo, &State::tree_of(repo, &mb), &State::tree_of(repo, &pr.head_sha), &pr.head_sha);
            ok_paged(s, files, q, path)
        }
        ("GET", ["pulls", n, "commits"]) => {
            let n = parse_num(n)?;
            let (_, pr) = s.pr(full, n)?;
            let pr = pr.clone();
            let repo = &s.repos[full];
            let mb = State::merge_base(repo, &pr.base_sha, &pr.head_sha);
            let v: Vec<Value> = State::commits_between(repo, mb.as_deref(), &pr.head_sha)
                .iter()
                .rev()
                .map(|c| p::repo_commit(base, repo, c, None))
                .collect();
            ok_paged(s, v, q, path)
        }
        ("GET", ["pulls", n, "merge"]) => {
            let n = parse_num(n)?;
            let (_, pr) = s.pr(full, n)?;
            if pr.merged {
                no_content()
            } else {
                err(404, "Not Found")
            }
        }
        ("PUT", ["pulls", n, "merge"]) => {
            let n = parse_num(n)?;
            let (_, pr) = s.pr(full, n)?;
            if s.merge_queue_branches.contains(&(full.to_string(), pr.base_ref.clone())) {
                // What GitHub answers when the base branch's rules require a merge queue.
                return err(405, "Changes must be made through the merge queue");
            }
            let method = bstr(body, "merge_method").unwrap_or("merge");
            let sha = s.merge_pull(
                full,
                n,
                actor,
                bstr(body, "sha"),
                method,
                bstr(body, "commit_title"),
                bstr(body, "commit_message"),
            )?;
            ok(json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}))
        }
        ("PUT", ["pulls", n, "update-branch"]) => {
            let n = parse_num(n)?;
            let (issue, pr) = s.pr(full, n)?;
            let (issue, pr) = (issue.clone(), pr.clone());
            if issue.state != "open" {
                return err(422, "Validation Failed: pull request is closed");
            }
            if let Some(e) = bstr(body, "expected_head_sha") {
                if e != pr.head_sha {
                    return err(422, "expected head sha didn't match current head ref.");
                }
            }
            let repo = &s.repos[full];
            let base_tip = repo.refs[&format!("refs/heads/{}", pr.base_ref)].clone();
            if State::ancestors(repo, &pr.head_sha).contains(&base_tip) {
                return err(422, "There are no new commits on the base branch.");
            }
            let mb = State::merge_base(repo, &base_tip, &pr.head_sha);
            let mbt = mb.map(|m| State::tree_of(repo, &m)).unwrap_or_default();
            let merged =
                State::merge_trees(&mbt, &State::tree_of(repo, &pr.head_sha), &State::tree_of(repo, &base_tip))
                    .map_err(|_| ApiError(422, "merge conflict between base and head".into()))?;
            let tree = State::put_tree(s.repos.get_mut(full).unwrap(), merged);
            let user = s.git_user_for(actor);
            let msg = format!("Merge branch '{}' into {}", pr.base_ref, pr.head_ref);
            let sha = s.put_commit(
                full,
                &tree,
                vec![pr.head_sha.clone(), base_tip],
                &msg,
                user.clone(),
                user,
                Some(actor.to_string()),
            );
            s.set_ref(full, &format!("refs/heads/{}", pr.head_ref), Some(&sha), actor, false);
            Ok(Resp {
                status: 202,
                body: Some(
                    json!({"message": "Updating pull request branch.", "url": format!("https://github.com/{full}/pull/{n}")}),
                ),
                headers: vec![],
            })
        }
        // ------------------------------------------------------------ issues
        ("GET", ["issues"]) => {
            let state = q.get("state").map(String::as_str).unwrap_or("open");
            let labels: Vec<String> = q
                .get("labels")
                .map(|l| l.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
                .unwrap_or_default();
            let creator = q.get("creator").cloned();
            let mut nums: Vec<u64> = s.repos[full]
                .issues
                .values()
                .filter(|i| state == "all" || i.state == state)
                .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x.eq_ignore_ascii_case(l))))
                .filter(|i| creator.as_ref().map(|c| &i.author == c).unwrap_or(true))
                .map(|i| i.number)
                .collect();
            if q.get("direction").map(|d| d != "asc").unwrap_or(true) {
                nums.reverse();
            }
            let v: Vec<Value> = nums.iter().map(|n| s.issue_json(full, *n)).collect();
            ok_paged(s, v, q, path)
        }
        ("POST", ["issues"]) => {
            let title = need_str(body, "title")?.to_string();
            let labels: Vec<String> = body
                .and_then(|b| b.get("labels"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let n = create_issue(s, full, actor, &title, bstr(body, "body"), &labels)?;
            created(s.issue_json(full, n))
        }
        ("GET", ["issues", "comments", id]) => {
            let id = parse_num(id)?;
            match s.comments.get(&id) {
                Some(c) if c.repo == full => ok(s.comment_json(id)),
                _ => err(404, "Not Found"),
            }
        }
        ("PATCH", ["issues", "comments", id]) => {
            let id = parse_num(id)?;
            if s.comments.get(&id).map(|c| c.repo != full).unwrap_or(true) {
                return err(404, "Not Found");
            }
            let b = need_str(body, "body")?.to_string();
            s.edit_comment(id, &b, actor)?;
            ok(s.comment_json(id))
        }
        ("DELETE", ["issues", "comments", id]) => {
            let id = parse_num(id)?;
            if s.comments.get(&id).map(|c| c.repo != full).unwrap_or(true) {
                return err(404, "Not Found");
            }
            s.emit_comment(id, "deleted", actor, json!({}));
            s.comments.remove(&id);
            no_content()
        }
        ("GET", ["issues", "comments", id, "reactions"]) => {
            let id = parse_num(id)?;
            let c = s
                .comments
                .get(&id)
                .filter(|c| c.repo == full)
                .cloned()
                .ok_or_else(|| ApiError(404, "Not Found".into()))?;
            let now = s.now();
            let v: Vec<Value> =
                c.reactions.iter().map(|(rid, content, login)| reaction_json(s, *rid, content, login, now)).collect();
            ok_paged(s, v, q, path)
        }
        ("POST", ["issues", "comments", id, "reactions"]) => {
            let id = parse_num(id)?;
            let content = need_str(body, "content")?.to_string();
            if !["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"].contains(&content.as_str()) {
                return err(422, format!("Validation Failed: content {content} is not a valid reaction"));
            }
            if s.comments.get(&id).map(|c| c.repo != full).unwrap_or(true) {
                return err(404, "Not Found");
            }
            let now = s.now();
            if let Some((rid, _, _)) =
                s.comments[&id].reactions.iter().find(|(_, c, l)| *c == content && l == actor).cloned()
            {
                return ok(reaction_json(s, rid, &content, actor, now));
            }
            let rid = s.next_id();
            s.comments.get_mut(&id).unwrap().reactions.push((rid, content.clone(), actor.to_string()));
            created(reaction_json(s, rid, &content, actor, now))
        }
        ("GET", ["issues", "comments"]) => {
            // List issue comments for a repository: `since` keeps those updated at or after it;
            // `sort` created|updated (default created), `direction` asc|desc (default asc).
            let since = match q.get("since") {
                Some(t) => Some(
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map_err(|_| ApiError(422, "Validation Failed: since is not an ISO 8601 timestamp".into()))?
                        .with_timezone(&chrono::Utc),
                ),
                None => None,
            };
            let by_updated = q.get("sort").map(String::as_str) == Some("updated");
            let mut list: Vec<(chrono::DateTime<chrono::Utc>, u64)> = s
                .comments
                .values()
                .filter(|c| c.repo == full && since.is_none_or(|t| c.updated_at >= t))
                .map(|c| (if by_updated { c.updated_at } else { c.created_at }, c.id))
                .collect();
            list.sort();
            if q.get("direction").map(String::as_str) == Some("desc") {
                list.reverse();
            }
            let v: Vec<Value> = list.iter().map(|(_, id)| s.comment_json(*id)).collect();
            ok_paged(s, v, q, path)
        }
        ("GET", ["issues", n]) => {
            let n = parse_num(n)?;
            if !s.repos[full].issues.contains_key(&n) {
                return err(404, "Not Found");
            }
            ok(s.issue_json(full, n))
        }
        ("PATCH", ["issues", n]) => {
            let n = parse_num(n)?;
            if !s.repos[full].issues.contains_key(&n) {
                return err(404, "Not Found");
            }
            update_issue(s, full, n, body, actor)?;
            if let Some(ls) = body.and_then(|b| b.get("labels")).and_then(Value::as_array) {
                let want: Vec<String> = ls
                    .iter()
                    .filter_map(|v| v.as_str().or_else(|| v.get("name").and_then(Value::as_str)).map(str::to_string))
                    .collect();
                set_labels(s, full, n, &want, actor)?;
            }
            ok(s.issue_json(full, n))
        }
        ("GET", ["issues", n, "comments"]) => {
            let n = parse_num(n)?;
            if !s.repos[full].issues.contains_key(&n) {
                return err(404, "Not Found");
            }
            let ids: Vec<u64> = s.comments.values().filter(|c| c.repo == full && c.issue == n).map(|c| c.id).collect();
            let v: Vec<Value> = ids.iter().map(|id| s.comment_json(*id)).collect();
            ok_paged(s, v, q, path)
        }
        ("POST", ["issues", n, "comments"]) => {
            let n = parse_num(n)?;
            let b = need_str(body, "body")?.to_string();
            let id = s.add_comment(full, n, actor, &b)?;
            created(s.comment_json(id))
        }
        ("GET", ["issues", n, "labels"]) => {
            let n = parse_num(n)?;
            let names = s.repos[full].issues.get(&n).ok_or_else(|| ApiError(404, "Not Found".into()))?.labels.clone();
            let v = p::labels_of(base, &s.repos[full], &names);
            ok_paged(s, v, q, path)
        }
        ("POST", ["issues", n, "labels"]) | ("PUT", ["issues", n, "labels"]) => {
            let n = parse_num(n)?;
            let arr = match body {
                Some(Value::Array(a)) => a.clone(),
                Some(b) => b
                    .get("labels")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(|| ApiError(422, "Invalid request.\n\n\"labels\" wasn't supplied.".into()))?,
                None => vec![],
            };
            let names: Vec<String> = arr
                .iter()
                .filter_map(|v| v.as_str().or_else(|| v.get("name").and_then(Value::as_str)).map(str::to_string))
                .collect();
            if method == "PUT" {
                set_labels(s, full, n, &names, actor)?;
            } else {
                s.add_labels(full, n, &names, actor)?;
            }
            let names = s.repos[full].issues[&n].labels.clone();
            ok(Value::Array(p::labels_of(base, &s.repos[full], &names)))
        }
        ("DELETE", ["issues", n, "labels", name @ ..]) if !name.is_empty() => {
            let n = parse_num(n)?;
            s.remove_label(full, n, &name.join("/"), actor)?;
            let names = s.repos[full].issues[&n].labels.clone();
            ok(Value::Array(p::labels_of(base, &s.repos[full], &names)))
        }
        // ------------------------------------------------------------ labels
        ("GET", ["labels"]) => {
            let v: Vec<Value> = s.repos[full].labels.values().map(|l| p::label(base, full, l)).collect();
            ok_paged(s, v, q, path)
        }
        ("GET", ["labels", name @ ..]) if !name.is_empty() => {
            let name = name.join("/");
            let l = s.repos[full]
                .labels
                .values()
                .find(|l| l.name.eq_ignore_ascii_case(&name))
                .cloned()
                .ok_or_else(|| ApiError(404, "Not Found".into()))?;
            ok(p::label(base, full, &l))
        }
        ("POST", ["labels"]) => {
            let name = need_str(body, "name")?.to_string();
            if s.repos[full].labels.values().any(|l| l.name.eq_ignore_ascii_case(&name)) {
                return Err(ApiError(422, "Validation Failed: already_exists".into()));
            }
            let color = bstr(body, "color").unwrap_or("ededed").trim_start_matches('#').to_string();
            if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
                return err(422, "Validation Failed: color is invalid");
            }
            let mut l = s.ensure_label(full, &name);
            l.color = color;
            l.description = bstr(body, "description").map(str::to_string);
            s.repos.get_mut(full).unwrap().labels.insert(name.clone(), l.clone());
            created(p::label(base, full, &l))
        }
        ("PATCH", ["labels", name @ ..]) if !name.is_empty() => {
            let name = name.join("/");
            let repo = s.repos.get_mut(full).unwrap();
            let key = repo
                .labels
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&name))
                .cloned()
                .ok_or_else(|| ApiError(404, "Not Found".into()))?;
            let l = repo.labels.get_mut(&key).unwrap();
            if let Some(c) = bstr(body, "color") {
                l.color = c.trim_start_matches('#').to_string();
            }
            if let Some(d) = bstr(body, "description") {
                l.description = Some(d.to_string());
            }
            let l = l.clone();
            ok(p::label(base, full, &l))
        }
        // ------------------------------------------------------------ checks
        ("POST", ["check-runs"]) => {
            let input = CheckInput::from_json(body.unwrap_or(&Value::Null))?;
            let slug = s.app_slug.clone();
            let id = s.create_check_run(full, &slug, input, actor)?;
            created(s.check_run_json(id))
        }
        ("PATCH", ["check-runs", id]) => {
            let id = parse_num(id)?;
            let input = CheckInput::from_json(body.unwrap_or(&Value::Null))?;
            if input.head_sha.is_some() {
                return err(422, "Invalid request.\n\nhead_sha cannot be updated.");
            }
            let slug = s.app_slug.clone();
            s.update_check_run(full, id, &slug, input, actor)?;
            ok(s.check_run_json(id))
        }
        ("GET", ["check-runs", id]) => {
            let id = parse_num(id)?;
            match s.check_runs.get(&id) {
                Some(c) if c.repo == full => ok(s.check_run_json(id)),
                _ => err(404, "Not Found"),
            }
        }
        ("POST", ["check-runs", id, "rerequest"]) => {
            let id = parse_num(id)?;
            if s.check_runs.get(&id).map(|c| c.repo != full).unwrap_or(true) {
                return err(404, "Not Found");
            }
            Ok(Resp { status: 201, body: Some(json!({})), headers: vec![] })
        }
        ("GET", ["check-suites", id]) => {
            let id = parse_num(id)?;
            match s.suites.get(&id) {
                Some(c) if c.repo == full => ok(s.suite_json(id)),
                _ => err(404, "Not Found"),
            }
        }
        ("POST", ["statuses", sha]) => {
            let state = need_str(body, "state")?.to_string();
            let context = bstr(body, "context").unwrap_or("default").to_string();
            let id =
                s.add_status(full, sha, &state, &context, bstr(body, "description"), bstr(body, "target_url"), actor)?;
            let st = s.repos[full].statuses.iter().find(|x| x.id == id).cloned().unwrap();
            created(s.status_json(&st))
        }
        // ------------------------------------------------------------ permissions
        ("GET", ["collaborators", user, "permission"]) => {
            if !s.users.contains_key(*user) {
                return err(404, "Not Found");
            }
            let role = s.repos[full].permissions.get(*user).cloned().unwrap_or_else(|| "read".into());
            let permission = match role.as_str() {
                "admin" => "admin",
                "maintain" | "write" => "write",
                "triage" | "read" => "read",
                _ => "none",
            };
            let mut u = s.user_json(user);
            let has = |set: &[&str]| set.contains(&role.as_str());
            let (admin, maintain, push, triage) = (
                has(&["admin"]),
                has(&["admin", "maintain"]),
                has(&["admin", "maintain", "write"]),
                has(&["admin", "maintain", "write", "triage"]),
            );
            u["permissions"] =
                json!({"admin": admin, "maintain": maintain, "push": push, "triage": triage, "pull": role != "none"});
            u["role_name"] = json!(role);
            ok(json!({"permission": permission, "role_name": role, "user": u}))
        }
        ("GET", ["collaborators", user]) => match s.repos[full].permissions.get(*user) {
            Some(r) if r != "none" => no_content(),
            _ => err(404, "Not Found"),
        },
        _ => unknown(s, method, path),
    }
}

fn commit_sub(
    s: &mut State,
    path: &str,
    full: &str,
    reference: &str,
    what: &str,
    q: &Query,
    base: &str,
) -> ApiResult<Resp> {
    let sha = resolve_or(s, full, reference, 422)?;
    match what {
        "check-runs" => {
            let name = q.get("check_name").cloned();
            let status = q.get("status").cloned();
            let app_id = q.get("app_id").and_then(|a| a.parse::<u64>().ok());
            let latest = q.get("filter").map(|f| f != "all").unwrap_or(true);
            let mut runs: Vec<(u64, String, String)> = s
                .check_runs
                .values()
                .filter(|c| c.repo == full && c.head_sha == sha)
                .filter(|c| name.as_ref().map(|n| &c.name == n).unwrap_or(true))
                .filter(|c| status.as_ref().map(|st| &c.status == st).unwrap_or(true))
                .map(|c| (c.id, c.name.clone(), c.app_slug.clone()))
                .collect();
            if let Some(a) = app_id {
                runs.retain(|(_, _, slug)| s.apps.get(slug) == Some(&a));
            }
            runs.sort_by_key(|(id, _, _)| std::cmp::Reverse(*id));
            if latest {
                let mut seen = std::collections::HashSet::new();
                runs.retain(|(_, n, slug)| seen.insert((n.clone(), slug.clone())));
            }
            let total = runs.len();
            let all: Vec<Value> = runs.iter().map(|(id, _, _)| s.check_run_json(*id)).collect();
            let (slice, headers) = paginate(s, all, q, path);
            Ok(Resp { status: 200, body: Some(json!({"total_count": total, "check_runs": slice})), headers })
        }
        "check-suites" => {
            let ids: Vec<u64> =
                s.suites.values().filter(|x| x.repo == full && x.head_sha == sha).map(|x| x.id).collect();
            let v: Vec<Value> = ids.iter().map(|id| s.suite_json(*id)).collect();
            ok(json!({"total_count": v.len(), "check_suites": v}))
        }
        "statuses" => {
            let mut sts: Vec<_> = s.repos[full].statuses.iter().filter(|x| x.sha == sha).cloned().collect();
            sts.reverse();
            let v: Vec<Value> = sts.iter().map(|x| s.status_json(x)).collect();
            ok_paged(s, v, q, path)
        }
        "status" => {
            let mut latest: BTreeMap<String, super::state::StatusRec> = BTreeMap::new();
            for st in s.repos[full].statuses.iter().filter(|x| x.sha == sha) {
                latest.insert(st.context.clone(), st.clone());
            }
            let states: Vec<&str> = latest.values().map(|x| x.state.as_str()).collect();
            let state = if states.iter().any(|x| *x == "error" || *x == "failure") {
                "failure"
            } else if states.is_empty() || states.contains(&"pending") {
                "pending"
            } else {
                "success"
            };
            let v: Vec<Value> = latest.values().cloned().collect::<Vec<_>>().iter().map(|x| s.status_json(x)).collect();
            let repo = repo_json(s, full);
            ok(json!({
                "state": state, "sha": sha, "total_count": v.len(), "statuses": v, "repository": repo,
                "commit_url": format!("{base}repos/{full}/commits/{sha}"),
                "url": format!("{base}repos/{full}/commits/{sha}/status"),
            }))
        }
        _ => {
            // pulls associated with a commit
            let repo = &s.repos[full];
            let mut nums = vec![];
            for i in repo.issues.values() {
                let Some(pr) = &i.pr else { continue };
                let hit = pr.head_sha == sha
                    || pr.merge_commit_sha.as_deref() == Some(sha.as_str())
                    || (i.state == "open" && {
                        let mb = State::merge_base(repo, &pr.base_sha, &pr.head_sha);
                        State::commits_between(repo, mb.as_deref(), &pr.head_sha).iter().any(|c| c.sha == sha)
                    });
                if hit {
                    nums.push(i.number);
                }
            }
            let v: Vec<Value> = nums.iter().map(|n| s.pull_json(full, *n)).collect();
            ok_paged(s, v, q, path)
        }
    }
}

fn resp_of(v: Value) -> Resp {
    Resp { status: 200, body: Some(v), headers: vec![] }
}

fn decode_b64(s: &str) -> ApiResult<String> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| ApiError(422, "Invalid request.\n\ncontent is not valid Base64".into()))?;
    String::from_utf8(bytes).map_err(|_| ApiError(422, "content is not UTF-8 (binary files are not modelled)".into()))
}

fn ref_json(base: &str, full: &str, name: &str, sha: &str) -> Value {
    json!({
        "ref": name, "node_id": p::node_id("Ref", name.len() as u64),
        "url": format!("{base}repos/{full}/git/{name}"),
        "object": {"sha": sha, "type": "commit", "url": format!("{base}repos/{full}/git/commits/{sha}")},
    })
}

fn tree_json(s: &State, full: &str, tree_sha: &str) -> Value {
    let base = &s.base_url;
    let repo = &s.repos[full];
    let entries: Vec<Value> = repo.trees[tree_sha]
        .iter()
        .map(|(path, b)| json!({"path": path, "mode": "100644", "type": "blob", "sha": b, "size": repo.blobs.get(b).map(|c| c.len()).unwrap_or(0), "url": format!("{base}repos/{full}/git/blobs/{b}")}))
        .collect();
    json!({"sha": tree_sha, "url": format!("{base}repos/{full}/git/trees/{tree_sha}"), "tree": entries, "truncated": false})
}

fn reaction_json(s: &mut State, id: u64, content: &str, login: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    let u = s.user_json(login);
    json!({"id": id, "node_id": p::node_id("Reaction", id), "user": u, "content": content, "created_at": p::ts(&at)})
}

pub fn create_issue(
    s: &mut State,
    full: &str,
    author: &str,
    title: &str,
    body: Option<&str>,
    labels: &[String],
) -> ApiResult<u64> {
    if title.trim().is_empty() {
        return err(422, "Validation Failed: title cannot be blank");
    }
    s.repo(full)?;
    let number = s.repos[full].issues.len() as u64 + 1;
    let id = s.next_id();
    let now = s.now();
    s.ensure_user(author);
    s.repos.get_mut(full).unwrap().issues.insert(
        number,
        super::state::IssueRec {
            id,
            number,
            title: title.into(),
            body: body.map(str::to_string),
            state: "open".into(),
            state_reason: None,
            author: author.into(),
            labels: vec![],
            created_at: now,
            updated_at: now,
            closed_at: None,
            pr: None,
        },
    );
    s.emit_issue(full, number, "opened", author, json!({}));
    if !labels.is_empty() {
        s.add_labels(full, number, labels, author)?;
    }
    Ok(number)
}

fn set_labels(s: &mut State, full: &str, n: u64, want: &[String], actor: &str) -> ApiResult<()> {
    let have = s.repos[full].issues.get(&n).ok_or_else(|| ApiError(404, "Not Found".into()))?.labels.clone();
    for h in &have {
        if !want.iter().any(|w| w.eq_ignore_ascii_case(h)) {
            s.remove_label(full, n, h, actor)?;
        }
    }
    s.add_labels(full, n, want, actor)
}

/// title/body/state edits shared by PATCH issues/{n} and PATCH pulls/{n}, with GitHub's events.
fn update_issue(s: &mut State, full: &str, n: u64, body: Option<&Value>, actor: &str) -> ApiResult<()> {
    let now = s.now();
    let is_pr = s.repos[full].issues[&n].pr.is_some();
    if let Some(b) = bstr(body, "body") {
        if b.chars().count() > 65536 {
            return err(422, "Validation Failed: body is too long (maximum is 65536 characters)");
        }
    }
    let mut changes = serde_json::Map::new();
    {
        let i = s.repos.get_mut(full).unwrap().issues.get_mut(&n).unwrap();
        if let Some(t) = bstr(body, "title") {
            if t.trim().is_empty() {
                return err(422, "Validation Failed: title cannot be blank");
            }
            if t != i.title {
                changes.insert("title".into(), json!({"from": i.title}));
                i.title = t.to_string();
            }
        }
        if let Some(b) = body.and_then(|b| b.get("body")) {
            let nb = b.as_str().map(str::to_string);
            if nb != i.body {
                changes.insert("body".into(), json!({"from": i.body}));
                i.body = nb;
            }
        }
        if !changes.is_empty() {
            i.updated_at = now;
        }
    }
    if !changes.is_empty() {
        if is_pr {
            s.emit_pull(full, n, "edited", actor, json!({"changes": changes}));
        } else {
            s.emit_issue(full, n, "edited", actor, json!({"changes": changes}));
        }
    }
    if let Some(st) = bstr(body, "state") {
        let cur = s.repos[full].issues[&n].state.clone();
        if st != "open" && st != "closed" {
            return err(422, "Validation Failed: state is not included in the list");
        }
        if st != cur {
            if st == "open" && is_pr {
                let i = &s.repos[full].issues[&n];
                let pr = i.pr.as_ref().unwrap();
                if pr.merged {
                    return err(422, "Validation Failed: state cannot be changed. The pull request has been merged.");
                }
                let head = s.repos[full].refs.get(&format!("refs/heads/{}", pr.head_ref)).cloned();
                match head {
                    Some(h) => {
                        s.repos.get_mut(full).unwrap().issues.get_mut(&n).unwrap().pr.as_mut().unwrap().head_sha = h
                    }
                    None => {
                        return err(422, "Validation Failed: state cannot be changed. The head branch was deleted.")
                    }
                }
            }
            let i = s.repos.get_mut(full).unwrap().issues.get_mut(&n).unwrap();
            i.state = st.to_string();
            i.updated_at = now;
            i.closed_at = if st == "closed" { Some(now) } else { None };
            i.state_reason = if st == "closed" {
                Some(bstr(body, "state_reason").unwrap_or("completed").to_string())
            } else {
                Some("reopened".into())
            };
            let action = if st == "closed" { "closed" } else { "reopened" };
            if is_pr {
                s.emit_pull(full, n, action, actor, json!({}));
            } else {
                s.emit_issue(full, n, action, actor, json!({}));
            }
        }
    }
    Ok(())
}
