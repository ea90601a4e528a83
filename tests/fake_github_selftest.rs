//! Self-test of the fake GitHub used by baton's integration tests: drives it with reqwest and
//! with a real octocrab App client, and checks the webhooks it sends.

#[path = "support/fake_github/mod.rs"]
mod fake_github;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use fake_github::{FakeGitHub, Fault, FaultMode, PathMatch, RateLimit};
use hmac::{Hmac, Mac};
use octocrab::models::{AppId, InstallationId};
use octocrab::params::repos::Reference;
use serde_json::{json, Value};
use sha2::Sha256;

const REPO: &str = "org/deploy";
const SECRET: &str = "hook-secret";
const KEY: &str = include_str!("data/test-app-key.pem");

fn jwt(app_id: u64) -> String {
    fake_github::install_jwt_crypto_provider();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iat": now - 60, "exp": now + 540, "iss": app_id});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn new(gh: &FakeGitHub) -> Api {
        let http = reqwest::Client::new();
        let inst = gh.installation_id("org");
        let r = http
            .post(format!("{}app/installations/{inst}/access_tokens", gh.url()))
            .bearer_auth(jwt(1))
            .header("user-agent", "selftest")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        let token = v["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("ghs_"));
        Api { base: gh.url(), token, http }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value, reqwest::header::HeaderMap) {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("authorization", format!("token {}", self.token))
            .header("user-agent", "selftest");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        (status, v, headers)
    }

    /// A request whose connection may be dropped: `Err` when no answer came.
    async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, String, reqwest::header::HeaderMap), reqwest::Error> {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("authorization", format!("token {}", self.token))
            .header("user-agent", "selftest");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Ok((status, r.text().await?, headers))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.call("GET", path, None).await;
        (s, v)
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.call("POST", path, Some(body)).await;
        (s, v)
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.call("PUT", path, Some(body)).await;
        (s, v)
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.call("PATCH", path, Some(body)).await;
        (s, v)
    }
}

/// (event, delivery id, signature ok, payload)
type Received = (String, String, bool, Value);

/// A webhook receiver: records every delivery.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(gh: &FakeGitHub) -> Receiver {
        let rx = Receiver::default();
        let got = rx.got.clone();
        let app = axum::Router::new().route(
            "/webhooks/github",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let got = got.clone();
                async move {
                    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                    mac.update(&body);
                    let sig = h("x-hub-signature-256");
                    let ok = sig
                        .strip_prefix("sha256=")
                        .and_then(|x| hex::decode(x).ok())
                        .map(|x| mac.verify_slice(&x).is_ok())
                        .unwrap_or(false);
                    assert_eq!(h("content-type"), "application/json");
                    assert!(h("user-agent").starts_with("GitHub-Hookshot/"));
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    got.lock().unwrap().push((h("x-github-event"), h("x-github-delivery"), ok, v));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        gh.set_webhook_target(&format!("http://{addr}/webhooks/github"), SECRET);
        rx
    }

    fn events(&self) -> Vec<(String, Option<String>)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _, _, v)| (e.clone(), v["action"].as_str().map(str::to_string)))
            .collect()
    }

    fn find(&self, event: &str, action: Option<&str>) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _, _, v)| e == event && v["action"].as_str() == action)
            .map(|(_, _, _, v)| v.clone())
            .collect()
    }
}

async fn setup() -> (FakeGitHub, Receiver) {
    fake_github::install_jwt_crypto_provider();
    let gh = FakeGitHub::start().await;
    gh.add_repo(
        REPO,
        "main",
        &[
            (".baton.yaml", "stages: []\n"),
            ("clusters/dev/myapp.yaml", "tag: 0.1.0\n"),
            ("clusters/prod/myapp.yaml", "tag: 0.0.9\n"),
        ],
    );
    let rx = Receiver::start(&gh).await;
    (gh, rx)
}

async fn idle(gh: &FakeGitHub) {
    assert!(gh.wait_deliveries_idle(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn octocrab_app_flow_ref_tree_commit_pr_merge() {
    let (gh, rx) = setup().await;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap();
    let app = octocrab::Octocrab::builder().base_uri(gh.url()).unwrap().app(AppId(1), key).build().unwrap();
    let crab = app.installation(InstallationId(gh.installation_id("org"))).unwrap();

    let repo = crab.repos("org", "deploy").get().await.unwrap();
    assert_eq!(repo.default_branch.as_deref(), Some("main"));
    let main = crab.repos("org", "deploy").get_ref(&Reference::Branch("main".into())).await.unwrap();
    let main_sha = match main.object {
        octocrab::models::repos::Object::Commit { sha, .. } => sha,
        o => panic!("{o:?}"),
    };
    assert_eq!(Some(main_sha.clone()), gh.branch_sha(REPO, "main"));

    // tree + commit
    let tree: Value = crab
        .post(
            "/repos/org/deploy/git/trees",
            Some(&json!({"base_tree": main_sha, "tree": [{"path": "clusters/dev/myapp.yaml", "mode": "100644", "type": "blob", "content": "tag: 0.2.0\n"}]})),
        )
        .await
        .unwrap();
    let commit: Value = crab
        .post(
            "/repos/org/deploy/git/commits",
            Some(&json!({"message": "promote(dev): myapp 0.2.0\n\nBaton-Stage: dev", "tree": tree["sha"], "parents": [main_sha]})),
        )
        .await
        .unwrap();
    let commit_sha = commit["sha"].as_str().unwrap().to_string();
    assert_eq!(commit_sha.len(), 40);
    let branch = "baton/dev/myapp";
    crab.repos("org", "deploy").create_ref(&Reference::Branch(branch.into()), &commit_sha).await.unwrap();
    // a branch name with slashes is addressable
    let r = crab.repos("org", "deploy").get_ref(&Reference::Branch(branch.into())).await.unwrap();
    assert_eq!(r.ref_field, format!("refs/heads/{branch}"));
    // duplicate ref → 422
    let dup = crab.repos("org", "deploy").create_ref(&Reference::Branch(branch.into()), &commit_sha).await;
    assert!(dup.is_err());

    let pr = crab
        .pulls("org", "deploy")
        .create("promote myapp 0.2.0 to dev", branch, "main")
        .body("body <!-- baton:{} -->")
        .send()
        .await
        .unwrap();
    assert_eq!(pr.head.sha, commit_sha);
    assert_eq!(pr.user.as_ref().unwrap().login, "baton[bot]");
    let files = crab.pulls("org", "deploy").list_files(pr.number).await.unwrap();
    assert_eq!(files.items.len(), 1);
    assert_eq!(files.items[0].filename, "clusters/dev/myapp.yaml");
    // a second PR for the same head → 422
    let again = crab.pulls("org", "deploy").create("again", branch, "main").send().await;
    assert!(again.is_err());

    crab.issues("org", "deploy").add_labels(pr.number, &["baton".into(), "baton:dev".into()]).await.unwrap();
    let c = crab.issues("org", "deploy").create_comment(pr.number, "hello").await.unwrap();
    assert_eq!(c.user.r#type, "Bot");
    let check = crab
        .checks("org", "deploy")
        .create_check_run("baton/policy", &commit_sha)
        .status(octocrab::params::checks::CheckRunStatus::Completed)
        .conclusion(octocrab::params::checks::CheckRunConclusion::Success)
        .output(octocrab::params::checks::CheckRunOutput {
            title: "ok".into(),
            summary: "| a | b |".into(),
            text: None,
            annotations: vec![],
            images: vec![],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    assert_eq!(check.pull_requests.len(), 1);

    // merging with a stale sha → 409; with the head sha → merged
    let stale = crab.pulls("org", "deploy").merge(pr.number).sha(main_sha.clone()).send().await;
    assert!(stale.is_err());
    let merged = crab
        .pulls("org", "deploy")
        .merge(pr.number)
        .sha(commit_sha.clone())
        .method(octocrab::params::pulls::MergeMethod::Squash)
        .send()
        .await
        .unwrap();
    assert!(merged.merged);
    let new_main = gh.branch_sha(REPO, "main").unwrap();
    assert_eq!(merged.sha.as_deref(), Some(new_main.as_str()));
    let c = gh.commit(REPO, &new_main).unwrap();
    assert_eq!(c.parents, vec![main_sha.clone()]);
    assert!(c.message.starts_with("promote myapp 0.2.0 to dev (#1)"));
    let p = gh.pull(REPO, pr.number).unwrap();
    assert!(p.merged && p.state == "closed");
    assert_eq!(p.labels, vec!["baton", "baton:dev"]);

    // read the file back via octocrab's contents API
    let mut content =
        crab.repos("org", "deploy").get_content().path("clusters/dev/myapp.yaml").r#ref("main").send().await.unwrap();
    let items = content.take_items();
    assert_eq!(items[0].decoded_content().as_deref(), Some("tag: 0.2.0\n"));
    let pr_fetched = crab.pulls("org", "deploy").get(pr.number).await.unwrap();
    assert_eq!(pr_fetched.merged, Some(true));

    idle(&gh).await;
    let ev = rx.events();
    for want in [
        ("push", None),
        ("pull_request", Some("opened")),
        ("pull_request", Some("labeled")),
        ("issue_comment", Some("created")),
        ("check_run", Some("created")),
        ("check_run", Some("completed")),
        ("check_suite", Some("completed")),
        ("pull_request", Some("closed")),
    ] {
        assert!(ev.contains(&(want.0.to_string(), want.1.map(str::to_string))), "missing {want:?} in {ev:?}");
    }
    let closed = &rx.find("pull_request", Some("closed"))[0];
    assert_eq!(closed["pull_request"]["merged"], true);
    assert_eq!(closed["pull_request"]["merge_commit_sha"], json!(new_main));
    assert_eq!(closed["sender"]["login"], "baton[bot]");
    assert_eq!(closed["sender"]["type"], "Bot");
    assert_eq!(closed["installation"]["id"], json!(gh.installation_id("org")));
    let pushes = rx.find("push", None);
    let main_push = pushes.iter().find(|p| p["ref"] == "refs/heads/main").unwrap();
    assert_eq!(main_push["after"], json!(new_main));
    assert_eq!(main_push["head_commit"]["modified"], json!(["clusters/dev/myapp.yaml"]));
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

#[tokio::test]
async fn webhooks_are_signed_ordered_and_redeliverable() {
    let (gh, rx) = setup().await;
    gh.add_user("alice");
    gh.set_permission(REPO, "alice", "write");
    let sha =
        gh.push_commit(REPO, "feature", "alice", "bump", &[("clusters/dev/myapp.yaml", Some("tag: 0.3.0\n"))]).await;
    let n = gh.open_pr(REPO, "alice", "feature", "main", "bump dev", "please").await;
    let cid = gh.comment(REPO, n, "alice", "/promote prod").await;
    gh.edit_comment(cid, "alice", "/promote staging").await;
    gh.post_status(REPO, &sha, "ci/build", "success").await;
    gh.post_check_run(REPO, &sha, "e2e / staging", "success", "github-actions").await;
    idle(&gh).await;

    let got = rx.got.lock().unwrap().clone();
    assert!(!got.is_empty());
    assert!(got.iter().all(|(_, _, ok, _)| *ok), "a signature did not verify");
    let order: Vec<(String, Option<String>)> = rx.events();
    let pos = |e: &str, a: Option<&str>| {
        order
            .iter()
            .position(|x| x.0 == e && x.1.as_deref() == a)
            .unwrap_or_else(|| panic!("{e} {a:?} missing from {order:?}"))
    };
    assert!(pos("create", None) < pos("pull_request", Some("opened")));
    assert!(pos("pull_request", Some("opened")) < pos("issue_comment", Some("created")));
    assert!(pos("issue_comment", Some("created")) < pos("issue_comment", Some("edited")));
    assert!(pos("status", None) < pos("check_run", Some("completed")));

    let comment = &rx.find("issue_comment", Some("created"))[0];
    assert_eq!(comment["comment"]["user"]["login"], "alice");
    assert_eq!(comment["comment"]["user"]["type"], "User");
    assert_eq!(comment["issue"]["number"], json!(n));
    assert!(comment["issue"]["pull_request"]["url"].is_string());
    assert_eq!(comment["repository"]["full_name"], REPO);
    let status = &rx.find("status", None)[0];
    assert_eq!(status["sha"], json!(sha));
    assert_eq!(status["branches"][0]["name"], "feature");
    let cr = &rx.find("check_run", Some("completed"))[0];
    assert_eq!(cr["check_run"]["app"]["slug"], "github-actions");
    assert_eq!(cr["check_run"]["pull_requests"][0]["number"], json!(n));
    let suite = &rx.find("check_suite", Some("completed"))[0];
    assert_eq!(suite["check_suite"]["conclusion"], "success");
    assert_eq!(suite["check_suite"]["head_branch"], "feature");

    // redelivery: same id, same body
    let deliveries = gh.deliveries();
    assert!(deliveries.iter().all(|d| d.status == Some(204)));
    let first = deliveries.iter().find(|d| d.event == "issue_comment").unwrap().clone();
    assert!(gh.redeliver(&first.id));
    idle(&gh).await;
    let got = rx.got.lock().unwrap().clone();
    let same: Vec<_> = got.iter().filter(|(_, id, _, _)| *id == first.id).collect();
    assert_eq!(same.len(), 2);
    assert_eq!(same[0].3, same[1].3);
    assert!(gh.deliveries().last().unwrap().redelivery);
}

#[tokio::test]
async fn auth_is_enforced() {
    let (gh, _rx) = setup().await;
    let http = reqwest::Client::new();
    let get = |auth: Option<String>, path: &str| {
        let mut r = http.get(format!("{}{path}", gh.url())).header("user-agent", "t");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = get(Some("token ghs_bogus".into()), "repos/org/deploy").await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Bad credentials");
    assert_eq!(get(None, "repos/org/deploy").await.unwrap().status(), 401);
    // a JWT cannot read repos; an installation token cannot mint tokens
    assert_eq!(get(Some(format!("Bearer {}", jwt(1))), "repos/org/deploy").await.unwrap().status(), 401);
    assert_eq!(get(Some(format!("Bearer {}", jwt(1))), "repos/org/deploy/installation").await.unwrap().status(), 200);
    assert_eq!(get(Some(format!("Bearer {}", jwt(2))), "repos/org/deploy/installation").await.unwrap().status(), 401);
    let api = Api::new(&gh).await;
    assert_eq!(get(Some(format!("Bearer {}", api.token)), "repos/org/deploy").await.unwrap().status(), 200);
    assert_eq!(get(Some(format!("Bearer {}", api.token)), "app/installations").await.unwrap().status(), 401);
    // another owner's repository is invisible to this installation
    gh.add_repo("other/repo", "main", &[("a", "b")]);
    assert_eq!(api.get("repos/other/repo").await.0, 404);
    gh.expire_tokens();
    assert_eq!(api.get("repos/org/deploy").await.0, 401);
}

#[tokio::test]
async fn fail_next_and_rate_limits() {
    let (gh, _rx) = setup().await;
    let api = Api::new(&gh).await;
    gh.fail_next("GET", "/repos/org/deploy/contents/", 502, 2);
    assert_eq!(api.get("repos/org/deploy/contents/.baton.yaml").await.0, 502);
    assert_eq!(api.get("repos/org/deploy").await.0, 200, "other paths unaffected");
    assert_eq!(api.get("repos/org/deploy/contents/.baton.yaml").await.0, 502);
    assert_eq!(api.get("repos/org/deploy/contents/.baton.yaml").await.0, 200);

    gh.rate_limit_next("GET", "/repos/org/deploy", RateLimit::RetryAfter(3), 1);
    let (s, _, h) = api.call("GET", "repos/org/deploy", None).await;
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "3");
    gh.rate_limit_next("POST", "/repos/org/deploy/issues", RateLimit::PrimaryExhausted { reset_in_secs: 30 }, 1);
    let (s, _, h) = api.call("POST", "repos/org/deploy/issues", Some(json!({"title": "x"}))).await;
    assert_eq!(s, 403);
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let reset: i64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!(reset > chrono::Utc::now().timestamp());
    let recorded = gh.requests();
    assert_eq!(recorded.iter().filter(|r| r.status == 502).count(), 2);
}

#[test]
fn fault_path_matching() {
    let rows = [
        ("/repos/org/deploy/pulls", "/repos/org/deploy/pulls", true),
        ("/repos/org/deploy/pulls", "/repos/org/deploy/pulls/3/merge", true),
        ("/repos/org/deploy/pulls", "/repos/org/other/pulls", false),
        ("/repos/*/*/check-runs", "/repos/org/deploy/check-runs", true),
        ("/repos/*/*/check-runs", "/repos/org/deploy/check-runs/5", false),
        ("/repos/*/*/check-runs/**", "/repos/org/deploy/check-runs/5", true),
        ("/repos/*/*/pulls/*/merge", "/repos/org/deploy/pulls/12/merge", true),
        ("/repos/*/*/pulls/*/merge", "/repos/org/deploy/pulls/12", false),
        ("/repos/*/*/issues/*/comments", "/repos/org/deploy/issues/comments/9/reactions", false),
        ("/repos/*/*/issues/*/comments", "/repos/org/deploy/issues/4/comments", true),
    ];
    for (pat, path, want) in rows {
        assert_eq!(PathMatch::parse(pat).matches(path), want, "{pat} vs {path}");
    }
}

/// Every fault mode on a POST that creates an issue: is it applied, and what does the client get?
#[tokio::test]
async fn fault_modes_apply_or_not_and_answer_or_not() {
    let (gh, _rx) = setup().await;
    let api = Api::new(&gh).await;
    let issues = |gh: &FakeGitHub| gh.issues(REPO).iter().filter(|i| !i.is_pull_request).count();
    // (mode, answered status or None for a dropped connection, applied)
    let rows: [(FaultMode, Option<u16>, bool); 6] = [
        (FaultMode::Reject(502), Some(502), false),
        (FaultMode::Reject(500), Some(500), false),
        (FaultMode::ApplyThenStatus(502), Some(502), true),
        (FaultMode::ApplyThenReset, None, true),
        (FaultMode::ResetBefore, None, false),
        (FaultMode::Delay(Duration::from_millis(300)), Some(201), true),
    ];
    for (mode, want_status, applied) in rows {
        let before = issues(&gh);
        gh.inject(Fault::on("POST", "/repos/*/*/issues").mode(mode));
        let started = std::time::Instant::now();
        let got = api.try_call("POST", "repos/org/deploy/issues", Some(json!({"title": "t"})), &[]).await;
        match want_status {
            Some(st) => assert_eq!(got.as_ref().map(|r| r.0).ok(), Some(st), "{mode:?}: {got:?}"),
            None => assert!(got.is_err(), "{mode:?}: the connection must be dropped, got {got:?}"),
        }
        assert_eq!(issues(&gh) - before, applied as usize, "{mode:?} applied?");
        if let FaultMode::Delay(d) = mode {
            assert!(started.elapsed() >= d, "{mode:?} answered after {:?}", started.elapsed());
        }
        assert_eq!(gh.pending_faults(), 0, "{mode:?} fires once");
        // The next request is served normally (on a new connection after a reset).
        assert_eq!(api.try_call("GET", "repos/org/deploy", None, &[]).await.unwrap().0, 200);
    }
    let last = gh.requests().into_iter().filter(|r| r.method == "POST" && r.fault.is_some()).collect::<Vec<_>>();
    assert_eq!(last.len(), 6, "every faulted request is recorded with its fault");
    assert_eq!(last[3].status, 0, "a dropped connection is recorded as status 0");

    // `times` and other methods / paths.
    gh.inject(Fault::on("PATCH", "/repos/*/*/issues/*").mode(FaultMode::ApplyThenStatus(503)).times(2));
    for _ in 0..2 {
        let r = api.try_call("PATCH", "repos/org/deploy/issues/1", Some(json!({"title": "u"})), &[]).await.unwrap();
        assert_eq!(r.0, 503);
    }
    let r = api.try_call("PATCH", "repos/org/deploy/issues/1", Some(json!({"title": "v"})), &[]).await.unwrap();
    assert_eq!(r.0, 200);
}

/// GitHub's conditional requests: a GET answer carries an ETag; `If-None-Match` with it gives
/// 304 and no body, which does not count against the rate limit; a change gives a new ETag.
#[tokio::test]
async fn etags_and_conditional_requests() {
    let (gh, _rx) = setup().await;
    let api = Api::new(&gh).await;
    let (st, body, h) = api.try_call("GET", "repos/org/deploy", None, &[]).await.unwrap();
    assert_eq!(st, 200);
    let etag = h["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let remaining =
        |h: &reqwest::header::HeaderMap| h["x-ratelimit-remaining"].to_str().unwrap().parse::<u64>().unwrap();
    let before = gh.request_counts();

    let (st, text, h2) = api.try_call("GET", "repos/org/deploy", None, &[("if-none-match", &etag)]).await.unwrap();
    assert_eq!((st, text.as_str()), (304, ""), "not modified, no body");
    assert_eq!(h2["etag"].to_str().unwrap(), etag, "the 304 repeats the ETag");
    assert_eq!(remaining(&h2), remaining(&h), "a 304 does not count");
    // The strong form and a list match too (weak comparison).
    let strong = etag.trim_start_matches("W/").to_string();
    let list = format!("\"nope\", {strong}");
    assert_eq!(api.try_call("GET", "repos/org/deploy", None, &[("if-none-match", &list)]).await.unwrap().0, 304);
    let after = gh.request_counts();
    assert_eq!(after.all - before.all, 2);
    assert_eq!(after.counted - before.counted, 0);
    assert_eq!(after.not_modified - before.not_modified, 2);

    // A stale ETag gets the full answer again.
    assert_eq!(
        api.try_call("GET", "repos/org/deploy", None, &[("if-none-match", "W/\"stale\"")]).await.unwrap().0,
        200
    );
    // A change to the resource changes its ETag.
    api.post("repos/org/deploy/issues", json!({"title": "x"})).await;
    let (st, body2, h3) = api.try_call("GET", "repos/org/deploy", None, &[("if-none-match", &etag)]).await.unwrap();
    assert_eq!(st, 200, "the repository changed (open_issues_count)");
    assert_ne!(h3["etag"].to_str().unwrap(), etag);
    assert_ne!(body, body2);
    // Writes carry no ETag and always count.
    let (_, _, h4) = api.call("POST", "repos/org/deploy/issues", Some(json!({"title": "y"}))).await;
    assert!(h4.get("etag").is_none());
    assert_eq!(gh.request_counts().counted - after.counted, 4, "stale GET, two POSTs, changed GET");
}

#[tokio::test]
async fn contents_round_trip_and_conflicts() {
    let (gh, rx) = setup().await;
    let api = Api::new(&gh).await;
    let text = "# ünïcødé\n".to_string() + &"apiVersion: source.toolkit.fluxcd.io/v1beta2\n".repeat(5);
    let (s, v) = api.get("repos/org/deploy/contents/clusters/prod/myapp.yaml?ref=main").await;
    assert_eq!(s, 200);
    let old_sha = v["sha"].as_str().unwrap().to_string();
    assert_eq!(old_sha, "1644c5ffd1feb083edda4fb7c13a8673a1f29371", "git's blob sha");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&text);
    let (s, _) = api
        .put(
            "repos/org/deploy/contents/clusters/prod/myapp.yaml",
            json!({"message": "m", "content": b64, "sha": "0000000000000000000000000000000000000000"}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) =
        api.put("repos/org/deploy/contents/clusters/prod/myapp.yaml", json!({"message": "m", "content": b64})).await;
    assert_eq!(s, 422, "sha required to update");
    let (s, v) = api
        .put(
            "repos/org/deploy/contents/clusters/prod/myapp.yaml",
            json!({"message": "prod bump", "content": b64, "sha": old_sha}),
        )
        .await;
    assert_eq!(s, 200);
    let commit = v["commit"]["sha"].as_str().unwrap().to_string();
    assert_eq!(gh.branch_sha(REPO, "main").as_deref(), Some(commit.as_str()));
    let (s, v) = api.get("repos/org/deploy/contents/clusters/prod/myapp.yaml").await;
    assert_eq!(s, 200);
    let raw = v["content"].as_str().unwrap();
    assert!(raw.lines().all(|l| l.len() <= 60), "wrapped at 60");
    assert!(raw.contains('\n'));
    let decoded = base64::engine::general_purpose::STANDARD.decode(raw.replace('\n', "")).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), text);
    assert_eq!(v["sha"].as_str().unwrap().len(), 40);
    // a missing file is 404; a directory lists entries
    assert_eq!(api.get("repos/org/deploy/contents/nope.yaml").await.0, 404);
    let (s, v) = api.get("repos/org/deploy/contents/clusters").await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 2);
    // create a new file on a branch
    let (s, _) = api
        .put("repos/org/deploy/contents/clusters/prod/FREEZE", json!({"message": "freeze", "content": base64::engine::general_purpose::STANDARD.encode("frozen"), "branch": "main"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(gh.file(REPO, "main", "clusters/prod/FREEZE").as_deref(), Some("frozen"));
    // history filtered by path, newest first
    let (s, v) = api.get("repos/org/deploy/commits?path=clusters/prod/myapp.yaml&per_page=10").await;
    assert_eq!(s, 200);
    let msgs: Vec<&str> = v.as_array().unwrap().iter().map(|c| c["commit"]["message"].as_str().unwrap()).collect();
    assert_eq!(msgs, vec!["prod bump", "Initial commit"]);
    // commit with files
    let (s, v) = api.get(&format!("repos/org/deploy/commits/{commit}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["files"][0]["filename"], "clusters/prod/myapp.yaml");
    assert_eq!(v["files"][0]["status"], "modified");
    idle(&gh).await;
    assert_eq!(rx.find("push", None).len(), 2);
}

#[tokio::test]
async fn refs_fast_forward_and_merge_conflicts() {
    let (gh, rx) = setup().await;
    let api = Api::new(&gh).await;
    let main0 = gh.branch_sha(REPO, "main").unwrap();
    let (s, _) =
        api.post("repos/org/deploy/git/refs", json!({"ref": "refs/heads/baton/prod/myapp", "sha": main0})).await;
    assert_eq!(s, 201);
    // the PR branch changes prod; main then changes prod differently → conflict
    let pr_sha = gh
        .push_commit(
            REPO,
            "baton/prod/myapp",
            "baton[bot]",
            "promote(prod)",
            &[("clusters/prod/myapp.yaml", Some("tag: 0.2.0\n"))],
        )
        .await;
    let n = gh.open_pr(REPO, "baton[bot]", "baton/prod/myapp", "main", "promote", "").await;
    let side =
        gh.push_commit(REPO, "main", "alice", "hotfix", &[("clusters/prod/myapp.yaml", Some("tag: 0.1.1\n"))]).await;
    let (s, v) = api.get(&format!("repos/org/deploy/pulls/{n}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["mergeable"], false);
    let (s, _) =
        api.put(&format!("repos/org/deploy/pulls/{n}/merge"), json!({"sha": pr_sha, "merge_method": "squash"})).await;
    assert_eq!(s, 405);
    // non-fast-forward update refused without force, accepted with it → synchronize
    let (s, v) = api.patch("repos/org/deploy/git/refs/heads/baton/prod/myapp", json!({"sha": side})).await;
    assert_eq!(s, 422);
    assert_eq!(v["message"], "Update is not a fast forward");
    let (s, _) =
        api.patch("repos/org/deploy/git/refs/heads/baton/prod/myapp", json!({"sha": side, "force": true})).await;
    assert_eq!(s, 200);
    let (s, _) = api.patch("repos/org/deploy/git/refs/heads/baton/prod/myapp", json!({"sha": main0})).await;
    assert_eq!(s, 422, "going back is not a fast forward");
    let (s, _) =
        api.patch("repos/org/deploy/git/refs/heads/baton/prod/myapp", json!({"sha": main0, "force": true})).await;
    assert_eq!(s, 200);
    idle(&gh).await;
    assert!(rx.find("pull_request", Some("synchronize")).len() >= 2);
    let s = api.call("DELETE", "repos/org/deploy/git/refs/heads/baton/prod/myapp", None).await.0;
    assert_eq!(s, 204);
    assert_eq!(gh.branch_sha(REPO, "baton/prod/myapp"), None);
    assert_eq!(api.get("repos/org/deploy/git/ref/heads/baton/prod/myapp").await.0, 404);
    // a non-conflicting squash merge applies the PR's change on top of main's other changes
    let b = gh.push_commit(REPO, "b", "alice", "dev bump", &[("clusters/dev/myapp.yaml", Some("tag: 9\n"))]).await;
    let n2 = gh.open_pr(REPO, "alice", "b", "main", "dev", "").await;
    gh.push_commit(REPO, "main", "alice", "other", &[("README.md", Some("hi"))]).await;
    let (s, v) =
        api.put(&format!("repos/org/deploy/pulls/{n2}/merge"), json!({"sha": b, "merge_method": "squash"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(gh.file(REPO, "main", "clusters/dev/myapp.yaml").as_deref(), Some("tag: 9\n"));
    assert_eq!(gh.file(REPO, "main", "README.md").as_deref(), Some("hi"));
    assert_eq!(gh.file(REPO, "main", "clusters/prod/myapp.yaml").as_deref(), Some("tag: 0.1.1\n"));
}

#[tokio::test]
async fn issues_labels_reactions_checks_statuses_permissions() {
    let (gh, rx) = setup().await;
    let api = Api::new(&gh).await;
    gh.add_user("alice");
    gh.set_permission(REPO, "alice", "maintain");
    gh.add_user("bob");
    gh.add_team("org", "sre", &["alice"]);

    let (s, v) = api.get("repos/org/deploy/collaborators/alice/permission").await;
    assert_eq!(s, 200);
    assert_eq!(v["permission"], "write");
    assert_eq!(v["role_name"], "maintain");
    let (_, v) = api.get("repos/org/deploy/collaborators/bob/permission").await;
    assert_eq!(v["permission"], "read");
    assert_eq!(api.get("repos/org/deploy/collaborators/nobody/permission").await.0, 404);
    assert_eq!(api.get("orgs/org/teams/sre/memberships/alice").await.0, 200);
    assert_eq!(api.get("orgs/org/teams/sre/memberships/bob").await.0, 404);

    // labels
    assert_eq!(api.get("repos/org/deploy/labels/baton:rollback").await.0, 404);
    let (s, _) = api.post("repos/org/deploy/labels", json!({"name": "baton:rollback", "color": "d73a4a"})).await;
    assert_eq!(s, 201);
    assert_eq!(api.post("repos/org/deploy/labels", json!({"name": "baton:rollback", "color": "d73a4a"})).await.0, 422);
    assert_eq!(api.get("repos/org/deploy/labels/baton:rollback").await.0, 200);

    // issues + labels + filtering
    let (s, v) =
        api.post("repos/org/deploy/issues", json!({"title": "freeze", "body": "b", "labels": ["baton"]})).await;
    assert_eq!(s, 201);
    let n = v["number"].as_u64().unwrap();
    let (_, v) = api.get("repos/org/deploy/issues?labels=baton&state=open").await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, v) = api.post(&format!("repos/org/deploy/issues/{n}/labels"), json!({"labels": ["baton:rollback"]})).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (s, v, _) = api.call("DELETE", &format!("repos/org/deploy/issues/{n}/labels/baton"), None).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(api.call("DELETE", &format!("repos/org/deploy/issues/{n}/labels/baton"), None).await.0, 404);
    let (s, v) = api.patch(&format!("repos/org/deploy/issues/{n}"), json!({"state": "closed"})).await;
    assert_eq!(s, 200);
    assert_eq!(v["state"], "closed");

    // comments + reactions
    let cid = gh.comment(REPO, n, "alice", "/status").await;
    let (s, _) =
        api.post(&format!("repos/org/deploy/issues/comments/{cid}/reactions"), json!({"content": "eyes"})).await;
    assert_eq!(s, 201);
    let (s, _) =
        api.post(&format!("repos/org/deploy/issues/comments/{cid}/reactions"), json!({"content": "eyes"})).await;
    assert_eq!(s, 200);
    assert_eq!(
        api.post(&format!("repos/org/deploy/issues/comments/{cid}/reactions"), json!({"content": "party"})).await.0,
        422
    );
    assert_eq!(gh.reactions(REPO, cid), vec!["eyes"]);
    let (s, v) = api.post(&format!("repos/org/deploy/issues/{n}/comments"), json!({"body": "done"})).await;
    assert_eq!(s, 201);
    let my = v["id"].as_u64().unwrap();
    let (s, _) = api.patch(&format!("repos/org/deploy/issues/comments/{my}"), json!({"body": "done!"})).await;
    assert_eq!(s, 200);
    let cs = gh.comments(REPO, n);
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[1].author, "baton[bot]");
    assert_eq!(cs[1].body, "done!");

    // check runs: create queued, complete by PATCH; actions validated; filter by name
    let sha = gh.branch_sha(REPO, "main").unwrap();
    let (s, v) = api
        .post(
            "repos/org/deploy/check-runs",
            json!({"name": "baton/verified/dev", "head_sha": sha, "status": "in_progress", "external_id": "k1"}),
        )
        .await;
    assert_eq!(s, 201);
    let id = v["id"].as_u64().unwrap();
    let (s, _) = api
        .post("repos/org/deploy/check-runs", json!({"name": "x", "head_sha": sha, "actions": [{"label": "Promote to production now", "description": "d", "identifier": "promote"}]}))
        .await;
    assert_eq!(s, 422, "label over 20 chars");
    let (s, v) = api
        .patch(&format!("repos/org/deploy/check-runs/{id}"), json!({"conclusion": "success", "output": {"title": "verified", "summary": "ok"}, "actions": [{"label": "Promote to prod", "description": "Open the prod PR", "identifier": "promote:prod"}]}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "completed");
    let (_, v) = api.get(&format!("repos/org/deploy/commits/{sha}/check-runs?check_name=baton/verified/dev")).await;
    assert_eq!(v["total_count"], 1);
    assert_eq!(v["check_runs"][0]["output"]["title"], "verified");
    let run = gh.check_run(REPO, &sha, "baton/verified/dev").unwrap();
    assert_eq!(run.actions[0].identifier, "promote:prod");
    gh.request_action(REPO, id, "promote:prod", "alice").await;
    gh.rerequest_check_run(REPO, id, "alice").await;

    // statuses: latest per context wins in the combined status
    gh.post_status(REPO, &sha, "kustomization/myapp-dev", "pending").await;
    gh.post_status(REPO, &sha, "kustomization/myapp-dev", "success").await;
    let (_, v) = api.get(&format!("repos/org/deploy/commits/{sha}/status")).await;
    assert_eq!(v["state"], "success");
    assert_eq!(v["total_count"], 1);
    let (s, _) = api
        .post(&format!("repos/org/deploy/statuses/{sha}"), json!({"state": "failure", "context": "smoke / dev"}))
        .await;
    assert_eq!(s, 201);
    let (_, v) = api.get("repos/org/deploy/commits/main/status").await;
    assert_eq!(v["state"], "failure");

    idle(&gh).await;
    let ra = rx.find("check_run", Some("requested_action"));
    assert_eq!(ra[0]["requested_action"]["identifier"], "promote:prod");
    assert_eq!(ra[0]["sender"]["login"], "alice");
    assert_eq!(rx.find("check_run", Some("rerequested")).len(), 1);
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

#[tokio::test]
async fn pagination_unknown_routes_and_validator() {
    let (gh, _rx) = setup().await;
    let api = Api::new(&gh).await;
    for i in 0..5 {
        gh.push_commit(REPO, "main", "alice", &format!("c{i}"), &[("f", Some(&i.to_string()))]).await;
    }
    let (s, v, h) = api.call("GET", "repos/org/deploy/commits?per_page=2", None).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let link = h["link"].to_str().unwrap();
    assert!(link.contains("rel=\"next\"") && link.contains("page=2"), "{link}");
    let (_, v, h) = api.call("GET", "repos/org/deploy/commits?per_page=2&page=3", None).await;
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(!h["link"].to_str().unwrap().contains("rel=\"next\""));

    assert_eq!(api.get("repos/org/deploy/deployments").await.0, 404);
    assert_eq!(gh.violations().len(), 1);
    assert!(gh.violations()[0].contains("does not model"));

    gh.set_request_validator(|method, path, body| {
        if method == "POST" && path.ends_with("/issues") && body.and_then(|b| b.get("title")).is_none() {
            return Err("title is required".into());
        }
        Ok(())
    });
    let (s, v) = api.post("repos/org/deploy/issues", json!({"body": "x"})).await;
    assert_eq!(s, 422);
    assert_eq!(v["message"], "openapi: title is required");
    assert_eq!(gh.violations().len(), 2);
    gh.clear_requests();
    api.get("repos/org/deploy").await;
    assert_eq!(gh.requests().len(), 1);
    assert_eq!(gh.count_requests("GET", "/repos/org/deploy"), 1);
}

#[tokio::test]
async fn workflow_dispatch_runs_merge_groups_and_rules() {
    let (gh, rx) = setup().await;
    let api = Api::new(&gh).await;
    let wf = "name: e2e\nrun-name: \"baton ${{ inputs.stage }} ${{ inputs.digest }}\"\non:\n  workflow_dispatch:\n    inputs: {}\n";
    gh.push_commit(
        REPO,
        "main",
        "alice",
        "add e2e",
        &[(".github/workflows/e2e.yml", Some(wf)), (".github/workflows/push.yml", Some("on: push\n"))],
    )
    .await;

    // Unknown workflow: 404; no workflow_dispatch trigger: 422.
    let (s, _) = api.post("repos/org/deploy/actions/workflows/nope.yml/dispatches", json!({"ref": "main"})).await;
    assert_eq!(s, 404);
    let (s, v) = api.post("repos/org/deploy/actions/workflows/push.yml/dispatches", json!({"ref": "main"})).await;
    assert_eq!((s, v["message"].as_str()), (422, Some("Workflow does not have 'workflow_dispatch' trigger")));

    let (s, _, _) = api
        .call(
            "POST",
            "repos/org/deploy/actions/workflows/e2e.yml/dispatches",
            Some(json!({"ref": "main", "inputs": {"stage": "dev", "digest": "sha256:ab"}})),
        )
        .await;
    assert_eq!(s, 204);
    let (s, v) = api
        .post(
            "repos/org/deploy/actions/workflows/e2e.yml/dispatches",
            json!({"ref": "main", "inputs": {"stage": "prod"}, "return_run_details": true}),
        )
        .await;
    assert_eq!(s, 200);
    let second = v["workflow_run_id"].as_u64().unwrap();

    let (s, v) = api.get("repos/org/deploy/actions/workflows/e2e.yml/runs?event=workflow_dispatch&branch=main").await;
    assert_eq!(s, 200);
    assert_eq!(v["total_count"], 2);
    let titles: Vec<&str> =
        v["workflow_runs"].as_array().unwrap().iter().map(|r| r["display_title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["baton prod ", "baton dev sha256:ab"]);
    let (_, v) = api.get("repos/org/deploy/actions/workflows/e2e.yml/runs?created=%3E%3D2999-01-01T00:00:00Z").await;
    assert_eq!(v["total_count"], 0);

    gh.complete_workflow_run(second, "success").await;
    idle(&gh).await;
    let done = rx.find("workflow_run", Some("completed"));
    assert_eq!(done.len(), 1);
    let body = serde_json::to_vec(&done[0]).unwrap();
    let Ok(baton::webhook::Received::Event(ev)) = baton::webhook::github::parse_event("workflow_run", &body) else {
        panic!("baton parses the fake's workflow_run")
    };
    let baton::event::Event::WorkflowRun(run) = *ev else { panic!() };
    assert_eq!(
        (run.run_id, run.workflow_file.as_str(), run.conclusion.as_deref()),
        (second, "e2e.yml", Some("success"))
    );

    // Rules: a merge queue only where required.
    assert_eq!(api.get("repos/org/deploy/rules/branches/main").await.1, json!([]));
    gh.require_merge_queue(REPO, "main");
    assert_eq!(api.get("repos/org/deploy/rules/branches/main").await.1[0]["type"], "merge_queue");

    // A merge group: the queue's merge commit on gh-readonly-queue/…, then merge_group.
    gh.push_commit(REPO, "feature", "alice", "change", &[("README.md", Some("hi\n"))]).await;
    let pr = gh.open_pr(REPO, "alice", "feature", "main", "A change", "").await;
    let head = gh.enqueue_merge_group(REPO, pr).await;
    idle(&gh).await;
    let groups = rx.find("merge_group", Some("checks_requested"));
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["merge_group"]["head_sha"], head.as_str());
    assert_eq!(gh.file(REPO, &head, "README.md").as_deref(), Some("hi\n"));
    let body = serde_json::to_vec(&groups[0]).unwrap();
    assert!(matches!(
        baton::webhook::github::parse_event("merge_group", &body),
        Ok(baton::webhook::Received::Event(_))
    ));
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

/// The merge queue as the fake models it for baton: `PUT …/merge` refused with 405, the GraphQL
/// mutation `enqueuePullRequest` (refusals as GraphQL errors), the `node(id:)` read, and the
/// queue's merge once the group's required checks are green.
#[tokio::test]
async fn enqueue_pull_request_and_the_queue_merge() {
    let (gh, rx) = setup().await;
    let api = Api::new(&gh).await;
    gh.push_commit(REPO, "feature", "alice", "change", &[("README.md", Some("hi\n"))]).await;
    let n = gh.open_pr(REPO, "alice", "feature", "main", "A change", "").await;
    let (_, pr) = api.get(&format!("repos/org/deploy/pulls/{n}")).await;
    let (id, head) = (pr["node_id"].as_str().unwrap().to_string(), pr["head"]["sha"].as_str().unwrap().to_string());
    let mutation = "mutation($pullRequestId: ID!, $expectedHeadOid: GitObjectID!) { enqueuePullRequest(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid}) { mergeQueueEntry { id state } } }";
    let enqueue =
        |id: &str, head: &str| json!({"query": mutation, "variables": {"pullRequestId": id, "expectedHeadOid": head}});
    let read = json!({"query": "query($id: ID!) { node(id: $id) { ... on PullRequest { isInMergeQueue merged mergeQueueEntry { id state } } } }", "variables": {"id": id}});

    // No queue required: refused, as a GraphQL error.
    let (s, v) = api.post("graphql", enqueue(&id, &head)).await;
    assert_eq!((s, v["errors"][0]["type"].as_str()), (200, Some("UNPROCESSABLE")));
    assert_eq!(v["data"]["enqueuePullRequest"], Value::Null);

    gh.require_merge_queue(REPO, "main");
    let (s, v) = api.put(&format!("repos/org/deploy/pulls/{n}/merge"), json!({"sha": head})).await;
    assert_eq!((s, v["message"].as_str()), (405, Some("Changes must be made through the merge queue")));
    let (_, v) = api.post("graphql", enqueue(&id, &"0".repeat(40))).await;
    assert_eq!(v["errors"][0]["message"], "The expected head OID does not match the pull request's head");
    let (_, v) = api.post("graphql", enqueue("PR_nope", &head)).await;
    assert_eq!(v["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(api.post("graphql", read.clone()).await.1["data"]["node"]["isInMergeQueue"], false);

    let (_, v) = api.post("graphql", enqueue(&id, &head)).await;
    assert_eq!(v["data"]["enqueuePullRequest"]["mergeQueueEntry"]["state"], "AWAITING_CHECKS");
    let (_, v) = api.post("graphql", enqueue(&id, &head)).await;
    assert_eq!(v["errors"][0]["message"], "Pull request is already in the merge queue");
    let (_, v) = api.post("graphql", read.clone()).await;
    assert_eq!(
        (v["data"]["node"]["isInMergeQueue"].as_bool(), v["data"]["node"]["merged"].as_bool()),
        (Some(true), Some(false))
    );
    let (_, group) = gh.queued(REPO).remove(0);

    // The queue merges only once the required check is green on the group's head.
    assert_eq!(gh.land_merge_queue(REPO, &["ci"]).await, Vec::<u64>::new());
    gh.post_status(REPO, &group, "ci", "success").await;
    assert_eq!(gh.land_merge_queue(REPO, &["ci"]).await, vec![n]);
    assert_eq!(gh.branch_sha(REPO, "main").as_deref(), Some(group.as_str()));
    let (_, v) = api.post("graphql", read).await;
    assert_eq!(
        (v["data"]["node"]["isInMergeQueue"].as_bool(), v["data"]["node"]["merged"].as_bool()),
        (Some(false), Some(true))
    );
    idle(&gh).await;
    assert_eq!(rx.find("merge_group", Some("checks_requested")).len(), 1);
    assert_eq!(rx.find("merge_group", Some("destroyed"))[0]["reason"], "merged");
    let closed = rx.find("pull_request", Some("closed"));
    assert_eq!(
        (closed[0]["pull_request"]["merged"].as_bool(), closed[0]["pull_request"]["merge_commit_sha"].as_str()),
        (Some(true), Some(group.as_str()))
    );
    assert!(rx.find("push", None).iter().any(|p| p["after"] == group.as_str()));
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}
