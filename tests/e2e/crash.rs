//! A crash at any point of a promotion converges (issue #12, item 5). baton runs as its own
//! process (`baton serve`, the binary cargo built, verifying cosign signatures for real). For each
//! write a step of the routine path makes, the fake GitHub applies that write and holds its
//! answer; the test SIGKILLs baton right then (nothing drained, every cache and timer gone),
//! starts a fresh `baton serve` on the same address, runs one `baton reconcile`, and lets the
//! routine path go on with its next events. The end state must be exactly the one an
//! uninterrupted run gives: the same PRs (one per stage branch, titles, labels, merged), one
//! `baton/verified/<stage>` per bump, one reply to the command (same text), the same pointer
//! files, no issue, no request GitHub would reject.

use std::time::Duration;

use crate::faults::endpoint_of;
use crate::support::fake_github::{FakeGitHub, Fault, FaultMode};
use crate::support::process::{free_port, reconcile_once, BatonProcess};
use crate::support::registry::{sha256, TestRegistry};
use crate::support::signing::{payload, push_signatures, Key, SigLayer};
use crate::support::world::*;

const IMAGE_REPO: &str = "deployments/myapp";
const PROD: &str = "clusters/prod/myapp.yaml";
const FILES: &[&str] = &["clusters/dev/myapp.yaml", "clusters/staging/values.yaml", PROD];

/// The steps of the routine path, each an event and what it ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A signed push of 0.5.1 → dev's PR, its policy check, baton merges it.
    Push,
    /// dev's Flux status on the bump → `baton/verified/dev` → staging's PR, merged.
    DevVerified,
    /// staging's e2e check → `baton/verified/staging`.
    StagingVerified,
    /// `/promote prod` by an approver → 👀, prod's PR, the reply, merged.
    PromoteProd,
}

const STEPS: [Step; 4] = [Step::Push, Step::DevVerified, Step::StagingVerified, Step::PromoteProd];

/// A world whose baton is a process: the fake GitHub, the real registry notifying baton's port,
/// the signing key in the repository.
struct ProcWorld {
    gh: FakeGitHub,
    registry: TestRegistry,
    key: Key,
    env: Vec<(String, String)>,
    port: u16,
    baton: BatonProcess,
    /// The issue `/promote prod` was posted on, and its comment.
    issue: Option<u64>,
    command: Option<u64>,
}

impl ProcWorld {
    async fn start() -> ProcWorld {
        ProcWorld::start_with(&[]).await
    }

    /// With more (or other) settings in baton's environment.
    async fn start_with(extra: &[(&str, &str)]) -> ProcWorld {
        let gh = FakeGitHub::start().await;
        gh.set_app(APP_ID, "baton");
        gh.set_request_validator(validate_request);
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let registry = TestRegistry::start(Some((format!("{url}/webhooks/registry"), REGISTRY_TOKEN.into()))).await;
        let host = registry.host();
        let key = Key::generate();
        let pipeline = pipeline_yaml(&host, "pull-request", "auto")
            + "  - name: prod\n    from: staging\n    approvers: [\"@carol\"]\n"
            + "    pointers: [{ file: clusters/prod/myapp.yaml, format: flux-oci, artifact: myapp }]\n";
        gh.add_repo(
            REPO,
            "main",
            &[
                (".baton.yaml", &pipeline),
                (".baton/keys/deploy.pub", &key.public_pem()),
                ("clusters/dev/myapp.yaml", DEV_POINTER),
                ("clusters/staging/values.yaml", STAGING_VALUES),
                (PROD, DEV_POINTER),
            ],
        );
        gh.set_webhook_target(&format!("{url}/webhooks/github"), SECRET);
        gh.add_user("carol");
        gh.set_permission(REPO, "carol", "write");
        let mut env: Vec<(String, String)> =
            settings_env(&gh.url(), Some(&host)).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        env.push(("BATON_RECONCILE__INTERVAL_SECS".into(), "0".into()));
        env.push(("BATON_LOG__FORMAT".into(), "text".into()));
        env.push(("BATON_LOG__LEVEL".into(), "info,baton=debug".into()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let baton = BatonProcess::start(&env, port).await;
        ProcWorld { gh, registry, key, env, port, baton, issue: None, command: None }
    }

    /// Signs 0.5.1 first, then pushes its tag: baton verifies at once (no wait to time).
    async fn push_signed(&self, tag: &str) -> String {
        let annotations = [
            ("org.opencontainers.image.revision", "0123456789abcdef0123456789abcdef01234567"),
            ("org.opencontainers.image.source", "https://github.com/org/myapp"),
        ];
        let content = format!("manifests of {tag}");
        let (manifest, _) = self.registry.artifact_manifest(content.as_bytes(), &annotations);
        let digest = sha256(&manifest);
        let image = format!("{}/{IMAGE_REPO}", self.registry.host());
        push_signatures(&self.registry, IMAGE_REPO, &digest, &[SigLayer::signed(&self.key, payload(&image, &digest))])
            .await;
        let pushed = self.registry.push_artifact(IMAGE_REPO, tag, content.as_bytes(), &annotations).await;
        assert_eq!(pushed, digest);
        digest
    }

    /// What `World::settle` waits for, with baton's queue read from its /metrics.
    async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let (events, pending) = self.registry.notifications().await;
            let sent = self.gh.deliveries().len();
            if pending == 0
                && self.gh.wait_deliveries_idle(Duration::ZERO).await
                && self.baton.queue_depth().await == Some(0)
                && self.gh.wait_deliveries_idle(Duration::ZERO).await
                && self.gh.deliveries().len() == sent
                && self.registry.notifications().await == (events, 0)
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the world did not settle within 120s; baton's log:\n{}",
                self.baton.log_text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn until(&self, what: &str, cond: impl Fn(&FakeGitHub) -> bool) {
        if !self.gh.wait_until(Duration::from_secs(120), cond).await {
            panic!("timed out waiting for: {what}; baton's log:\n{}", self.baton.log_text());
        }
    }

    fn merged(&self, stage: &str) -> Option<String> {
        let branch = format!("baton/{stage}/myapp");
        self.gh.pulls(REPO).into_iter().find(|p| p.head_ref == branch && p.merged).and_then(|p| p.merge_commit_sha)
    }

    /// Sends the step's event.
    async fn trigger(&mut self, step: Step) {
        match step {
            Step::Push => {
                self.push_signed("0.5.1").await;
            }
            Step::DevVerified => {
                let dev = self.merged("dev").expect("dev merged");
                self.gh.post_status(REPO, &dev, "kustomization/myapp-dev", "success").await;
            }
            Step::StagingVerified => {
                let staging = self.merged("staging").expect("staging merged");
                self.gh.post_check_run(REPO, &staging, "e2e / staging", "success", "github-actions").await;
            }
            Step::PromoteProd => {
                let issue = self.gh.create_issue(REPO, "alice", "releases", "").await;
                self.issue = Some(issue);
                self.command = Some(self.gh.comment(REPO, issue, "carol", "/promote prod").await);
            }
        }
    }

    /// Waits for what the step ends with.
    async fn finished(&self, step: Step) {
        match step {
            Step::Push => self.until("dev merged", |_| self.merged("dev").is_some()).await,
            Step::DevVerified => self.until("staging merged", |_| self.merged("staging").is_some()).await,
            Step::StagingVerified => {
                let staging = self.merged("staging").expect("staging merged");
                // The record, not a neutralised twin ("Duplicate", `#duplicate` external id) that
                // two evaluations recording the bump at once leave as the newest of the name.
                self.until("staging verified", |gh| {
                    gh.check_runs(REPO, &staging).iter().any(|c| {
                        c.name == "baton/verified/staging"
                            && c.conclusion.as_deref() == Some("success")
                            && !c.external_id.as_deref().is_some_and(|e| e.ends_with("#duplicate"))
                    })
                })
                .await
            }
            Step::PromoteProd => self.until("prod merged", |_| self.merged("prod").is_some()).await,
        }
        self.settle().await;
    }

    /// SIGKILL, a fresh `baton serve` on the same address, one `baton reconcile`.
    async fn crash_and_recover(&mut self) {
        self.baton.kill().await;
        self.gh.clear_faults();
        self.baton = BatonProcess::start(&self.env, self.port).await;
        let (status, log) = reconcile_once(&self.env).await;
        assert!(status.success(), "baton reconcile: {status}\n{log}");
    }

    /// The end state, as text: what an uninterrupted run and every crashed run must share.
    fn state(&self) -> String {
        let mut out = vec![];
        for stage in ["dev", "staging", "prod"] {
            let branch = format!("baton/{stage}/myapp");
            for p in self.gh.pulls(REPO).into_iter().filter(|p| p.head_ref == branch) {
                let mut labels = p.labels.clone();
                labels.sort();
                out.push(format!(
                    "{stage} PR: {} [{}] merged={} by={:?}",
                    p.title,
                    labels.join(","),
                    p.merged,
                    p.merged_by
                ));
            }
        }
        for stage in ["dev", "staging"] {
            let name = format!("baton/verified/{stage}");
            let Some(bump) = self.merged(stage) else {
                out.push(format!("no {stage} bump"));
                continue;
            };
            // A restarted baton's event and `reconcile` may record one bump at the same moment,
            // as two replicas do: the twin is neutralised ("Duplicate", `#duplicate` external id)
            // and the oldest is the record, so only live records are compared.
            let live = |c: &&crate::support::fake_github::CheckRun| {
                !c.external_id.as_deref().is_some_and(|e| e.ends_with("#duplicate"))
            };
            for c in self.gh.check_runs(REPO, &bump).iter().filter(|c| c.name == name).filter(live) {
                out.push(format!("{name}: {} {:?} {:?}", c.status, c.conclusion, c.title));
            }
        }
        let issue = self.issue.expect("the command was posted");
        for c in self.gh.comments(REPO, issue).into_iter().filter(|c| c.author == "baton[bot]") {
            out.push(format!("reply: {}", c.body));
        }
        for i in self.gh.issues(REPO).into_iter().filter(|i| !i.is_pull_request && i.number != issue) {
            out.push(format!("issue: {}", i.title));
        }
        for f in FILES {
            out.push(format!("{f}:\n{}", self.gh.file(REPO, "main", f).unwrap_or_default()));
        }
        for v in self.gh.violations() {
            out.push(format!("violation: {v}"));
        }
        // Ids differ between runs (the fake numbers comments and check runs from one counter);
        // the reply's key must name the command.
        let key = baton::receipts::reply_key(self.command.expect("the command was posted"));
        out.join("\n").replace(&self.registry.host(), "<registry>").replace(&key, "<!-- baton:reply:<the command> -->")
    }
}

/// What an uninterrupted run gives: its end state, and the write endpoints (method, path
/// pattern) each step made, in the order it first made them — the points a crash is tried at.
struct Uninterrupted {
    state: String,
    writes: Vec<(Step, Vec<(&'static str, &'static str)>)>,
}

/// Computed once per test binary.
async fn uninterrupted() -> &'static Uninterrupted {
    static RUN: tokio::sync::OnceCell<Uninterrupted> = tokio::sync::OnceCell::const_new();
    RUN.get_or_init(|| async {
        let mut w = ProcWorld::start().await;
        let mut writes = vec![];
        for step in STEPS {
            w.gh.clear_requests();
            w.trigger(step).await;
            w.finished(step).await;
            let mut endpoints: Vec<(&str, &str)> = vec![];
            for r in w.gh.write_requests() {
                let e = endpoint_of(&r.method, &r.path).unwrap_or_else(|| {
                    panic!("{step:?}: a write the crash test does not cover: {} {}", r.method, r.path)
                });
                if !endpoints.contains(&e) {
                    endpoints.push(e);
                }
            }
            writes.push((step, endpoints));
        }
        Uninterrupted { state: w.state(), writes }
    })
    .await
}

/// One run of the routine path with baton killed right after GitHub applied the first write to
/// `(method, path)` of `crash_in`. Returns the end state.
async fn crashed_run(crash_in: Step, method: &str, path: &str) -> String {
    let mut w = ProcWorld::start().await;
    for step in STEPS {
        if step != crash_in {
            w.trigger(step).await;
            w.finished(step).await;
            continue;
        }
        w.gh.inject(Fault::on(method, path).mode(FaultMode::ApplyThenHold));
        w.trigger(step).await;
        let held = |gh: &FakeGitHub| gh.requests().iter().any(|r| r.fault == Some(FaultMode::ApplyThenHold));
        w.until(&format!("{method} {path} applied and held"), held).await;
        w.crash_and_recover().await;
        w.finished(step).await;
    }
    w.state()
}

async fn crash_matrix(step: Step) {
    let run = uninterrupted().await;
    let want = &run.state;
    let writes = &run.writes.iter().find(|(s, _)| *s == step).expect("every step ran").1;
    assert!(!writes.is_empty(), "{step:?} writes nothing");
    let mut diverged = vec![];
    for (method, path) in writes {
        let got = crashed_run(step, method, path).await;
        let row = format!("{step:?}: SIGKILL after {method} {path}");
        if got == *want {
            eprintln!("{row} → converged");
        } else {
            eprintln!("{row} → diverged");
            diverged.push(format!("{row}:\n--- uninterrupted\n{want}\n--- after the crash\n{got}"));
        }
    }
    assert!(diverged.is_empty(), "{}", diverged.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_each_write_of_the_dev_promotion_converges() {
    crash_matrix(Step::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_each_write_of_dev_verification_and_staging_promotion_converges() {
    crash_matrix(Step::DevVerified).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_each_write_of_staging_verification_converges() {
    crash_matrix(Step::StagingVerified).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_each_write_of_a_promote_command_converges() {
    crash_matrix(Step::PromoteProd).await;
}

/// SIGTERM drains and reports what it leaves to timers (issue #12, item 5). When the signal
/// arrives, one job is in flight (the promotion of a signed 0.5.1, its branch creation slowed)
/// and one is queued behind it (an unsigned 0.5.2, pushed while the first runs). The drain
/// finishes both: 0.5.1's PR is opened and labelled, and 0.5.2's wait for a late signature
/// (120 s) is armed — and left to a timer, which the log names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_queue_and_reports_what_it_leaves_to_timers() {
    let mut w = ProcWorld::start_with(&[("BATON_VERIFY__SIGNATURE_WAIT_SECS", "120")]).await;
    w.gh.inject(Fault::on("POST", "/repos/*/*/git/refs").mode(FaultMode::Delay(Duration::from_secs(2))));
    w.push_signed("0.5.1").await;
    w.until("0.5.1's branch being created", |gh| gh.pending_faults() == 0).await;
    w.registry
        .push_artifact(
            IMAGE_REPO,
            "0.5.2",
            b"manifests of 0.5.2",
            &[("org.opencontainers.image.source", "https://github.com/org/myapp")],
        )
        .await;
    // baton has accepted 0.5.2's notification (the registry has nothing pending).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.registry.notifications().await.1 != 0 {
        assert!(tokio::time::Instant::now() < deadline, "0.5.2's notification not delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(w.gh.pulls(REPO).is_empty(), "SIGTERM arrives while 0.5.1's promotion is in flight");

    let status = w.baton.terminate().await;
    assert!(status.success(), "{status}");
    let log = w.baton.log_text();
    assert!(log.contains("shutting down: no new deliveries; draining the queue"), "{log}");
    let pr =
        w.gh.pulls(REPO).into_iter().find(|p| p.head_ref == "baton/dev/myapp").expect("the drained job opened the PR");
    assert_eq!(pr.title, "promote myapp 0.5.1 to dev");
    assert_eq!(pr.labels, ["baton", "baton:dev"]);
    let after: Vec<&str> = log.lines().skip_while(|l| !l.contains("drained; timers left")).collect();
    assert!(after.first().is_some_and(|l| l.contains("timers=1")), "{log}");
    let left: Vec<&&str> = after.iter().filter(|l| l.contains("left to a timer")).collect();
    assert_eq!(left.len(), 1, "{log}");
    assert!(left[0].contains("timer=myapp deployments/myapp:0.5.2 waiting since"), "{}", left[0]);
    assert!(!log.contains("queue not drained"), "{log}");
}
