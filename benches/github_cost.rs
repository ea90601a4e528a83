//! GitHub request cost at organisation scale: the fake GitHub counting every request, a real
//! registry, baton in-process; the App installed on N repositories of which one has a
//! `.baton.yaml` (discovery mode: `github.repositories` empty).
//!
//! `cargo run --release --example github_cost` (or without `--release`: the counts are the
//! same). Built by `cargo test --all-targets`, so it cannot rot; not run by CI.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::fake_github::FakeGitHub;
use support::registry::TestRegistry;
use support::world::*;

struct Figures {
    n: usize,
    startup: Count,
    unrelated_push: f64,
    unconfigured_event: Option<f64>,
    promotion: Count,
    promotion_total: Count,
    reconcile_pass: Count,
    reconcile_cli: Count,
}

#[derive(Clone, Copy, Default)]
struct Count {
    /// Requests that count against the rate limit (not 304).
    counted: usize,
    not_modified: usize,
    writes: usize,
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} counted ({} writes) + {} × 304", self.counted, self.writes, self.not_modified)
    }
}

fn count(gh: &FakeGitHub) -> Count {
    let reqs = gh.requests();
    Count {
        counted: reqs.iter().filter(|r| r.status != 304).count(),
        not_modified: reqs.iter().filter(|r| r.status == 304).count(),
        writes: reqs
            .iter()
            .filter(|r| r.method != "GET" && r.path != "/graphql" && !r.path.ends_with("/access_tokens"))
            .count(),
    }
}

/// Requests up to and including the one that labels the new PR (the promotion proper).
fn count_until_labels(gh: &FakeGitHub) -> Count {
    let mut c = Count::default();
    for r in gh.requests() {
        if r.status == 304 {
            c.not_modified += 1;
        } else {
            c.counted += 1;
        }
        if r.method != "GET" && r.path != "/graphql" && !r.path.ends_with("/access_tokens") {
            c.writes += 1;
        }
        if r.method == "POST" && r.path.ends_with("/labels") {
            break;
        }
    }
    c
}

/// Until every webhook the fake sent is answered and baton's queue is empty, twice in a row
/// with nothing new sent in between.
async fn settle(gh: &FakeGitHub, baton: &Baton) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let sent = gh.deliveries().len();
        if gh.wait_deliveries_idle(Duration::ZERO).await
            && baton.queue_depth() == 0
            && gh.wait_deliveries_idle(Duration::ZERO).await
            && gh.deliveries().len() == sent
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "did not settle within 120s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn world(n: usize) -> (FakeGitHub, TestRegistry, Baton) {
    let (gh, registry, listener, mut s) = org_parts((1..n).map(|i| format!("org/app-{i:04}"))).await;
    // Room for the fan-out of one push to every installed repository (what main does).
    s.server.queue_capacity = 10_000;
    let baton = Baton::start_on(listener, s).await;
    (gh, registry, baton)
}

/// What `baton reconcile` does, in a fresh process (no caches).
async fn reconcile_cli(gh: &FakeGitHub, registry: &TestRegistry) {
    let mut s = settings(&gh.url(), Some(&registry.host()));
    s.github.repositories = vec![];
    let mut engine = baton::cli::serve::build_engine(&s).unwrap();
    engine.verifier = Arc::new(TrustAll);
    baton::server::reconcile_all(&engine, &baton::index::Index::new()).await;
}

async fn measure(n: usize) -> Figures {
    let started = Instant::now();
    let (gh, registry, baton) = world(n).await;
    settle(&gh, &baton).await;
    let startup = count(&gh);
    eprintln!("  N={n}: started in {:?}", started.elapsed());

    // 6 pushes of an image no pipeline names.
    gh.clear_requests();
    for tag in ["1.0.0", "1.0.1", "1.0.2", "1.1.0", "1.1.1", "2.0.0"] {
        let digest = format!("sha256:{:064x}", tag.len());
        baton.post_registry(&push_envelope(&registry.host(), "library/webshop", tag, &digest)).await;
    }
    baton.wait_idle().await;
    settle(&gh, &baton).await;
    let unrelated_push = count(&gh).counted as f64 / 6.0;

    // A check run, a status, a push and a comment without a command in up to 20 repositories
    // that have no pipeline.
    let k = (n - 1).min(20);
    let unconfigured_event = if k == 0 {
        None
    } else {
        let mut events = 0;
        let issues: Vec<u64> = {
            let mut v = vec![];
            for i in 1..=k {
                v.push(gh.create_issue(&format!("org/app-{i:04}"), "alice", "a bug", "it breaks").await);
            }
            v
        };
        settle(&gh, &baton).await;
        gh.clear_requests();
        for (i, issue) in (1..=k).zip(issues) {
            let repo = format!("org/app-{i:04}");
            let sha = gh.push_commit(&repo, "main", "alice", "fix", &[("src/lib.rs", Some("fn main() {}\n"))]).await;
            gh.post_status(&repo, &sha, "ci/build", "success").await;
            gh.post_check_run(&repo, &sha, "build", "success", "ci").await;
            gh.comment(&repo, issue, "alice", "thanks, that fixes it").await;
            events += 4;
        }
        gh.wait_deliveries_idle(Duration::from_secs(60)).await;
        baton.wait_idle().await;
        settle(&gh, &baton).await;
        Some(count(&gh).counted as f64 / events as f64)
    };

    // A first-stage promotion (manual dev: the PR stays open).
    gh.clear_requests();
    let digest = registry.push_artifact("deployments/myapp", "0.8.0", b"eight", &[]).await;
    baton.post_registry(&push_envelope(&registry.host(), "deployments/myapp", "0.8.0", &digest)).await;
    assert!(
        gh.wait_until(Duration::from_secs(60), |g| g.pulls(REPO).first().is_some_and(|p| p.labels.len() >= 2)).await
    );
    gh.wait_deliveries_idle(Duration::from_secs(60)).await;
    baton.wait_idle().await;
    settle(&gh, &baton).await;
    let promotion = count_until_labels(&gh);
    let promotion_total = count(&gh);

    // Reconcile of the converged repository: serve's pass (warm caches; the third: the first
    // writes the first stage's verification record, the second reads the check runs that write
    // changed), and the CLI (a fresh process).
    for _ in 0..2 {
        baton::server::reconcile_all(&baton.engine, &baton.index).await;
        settle(&gh, &baton).await;
    }
    gh.clear_requests();
    baton::server::reconcile_all(&baton.engine, &baton.index).await;
    settle(&gh, &baton).await;
    let reconcile_pass = count(&gh);
    if std::env::var_os("GITHUB_COST_VERBOSE").is_some() {
        for r in gh.requests() {
            eprintln!("reconcile pass: {} {} {}", r.method, r.path, r.status);
        }
    }
    gh.clear_requests();
    reconcile_cli(&gh, &registry).await;
    settle(&gh, &baton).await;
    let reconcile_cli = count(&gh);
    Figures {
        n,
        startup,
        unrelated_push,
        unconfigured_event,
        promotion,
        promotion_total,
        reconcile_pass,
        reconcile_cli,
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    support::fake_github::install_jwt_crypto_provider();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut all = vec![];
        for n in [1, 200] {
            all.push(measure(n).await);
        }
        println!("| work | N = 1 | N = 200 | ratio |");
        println!("|---|---|---|---|");
        let row = |name: &str, a: String, b: String, ratio: String| println!("| {name} | {a} | {b} | {ratio} |");
        let ratio =
            |a: f64, b: f64| if a == 0.0 && b == 0.0 { "—".to_string() } else { format!("{:.2}", b / a.max(1e-9)) };
        let (one, two) = (&all[0], &all[1]);
        row("start-up (index build + installations)", one.startup.to_string(), two.startup.to_string(), String::new());
        row(
            "requests per unrelated registry push",
            format!("{:.1}", one.unrelated_push),
            format!("{:.1}", two.unrelated_push),
            ratio(one.unrelated_push, two.unrelated_push),
        );
        row(
            "requests per event in an unconfigured repository",
            "—".into(),
            format!("{:.2}", two.unconfigured_event.unwrap_or_default()),
            String::new(),
        );
        row(
            "first-stage promotion (until the PR is labelled)",
            one.promotion.to_string(),
            two.promotion.to_string(),
            ratio(one.promotion.counted as f64, two.promotion.counted as f64),
        );
        row(
            "first-stage promotion, all follow-ups (policy check, …)",
            one.promotion_total.to_string(),
            two.promotion_total.to_string(),
            ratio(one.promotion_total.counted as f64, two.promotion_total.counted as f64),
        );
        row(
            "reconcile of a converged repository, serve's pass",
            one.reconcile_pass.to_string(),
            two.reconcile_pass.to_string(),
            ratio(one.reconcile_pass.counted as f64, two.reconcile_pass.counted as f64),
        );
        row(
            "reconcile, a fresh `baton reconcile` process",
            one.reconcile_cli.to_string(),
            two.reconcile_cli.to_string(),
            ratio(one.reconcile_cli.counted as f64, two.reconcile_cli.counted as f64),
        );
        let _ = one.n + two.n;

        // Start-up for 1,000 repositories.
        let started = Instant::now();
        let (gh, _registry, baton) = world(1000).await;
        settle(&gh, &baton).await;
        println!("\nstart-up with N = 1000: {} in {:?} (incl. fake set-up)", count(&gh), started.elapsed());
    });
    index_memory();
}

/// RSS growth for an index of 1,000 repositories that all have a pipeline (the worst case).
fn index_memory() {
    use baton::index::{Index, PipelineBlob, RepoPipeline};
    let text = pipeline_yaml("registry.internal:5000", "pull-request", "auto");
    let before = rss_kib();
    let index = Index::new();
    let repos: Vec<baton::types::RepoName> = (0..1000).map(|i| format!("org/app-{i:04}").parse().unwrap()).collect();
    let files = repos
        .iter()
        .map(|r| {
            let t = text.replace("deployments/myapp", &format!("deployments/{}", r.name()));
            (
                r.clone(),
                RepoPipeline::Found {
                    default_branch: Some("main".into()),
                    file: Some(PipelineBlob { oid: r.to_string(), text: Some(t) }),
                },
            )
        })
        .collect();
    index.replace(repos, files);
    let after = rss_kib();
    let (installed, pipelines, images) = index.summary();
    println!(
        "index of {installed} repositories ({pipelines} with a pipeline, {images} images): RSS +{} KiB (from {before} to {after} KiB)",
        after.saturating_sub(before)
    );
}
