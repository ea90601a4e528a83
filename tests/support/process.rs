//! baton as its own process — the binary cargo built, run as `baton serve` or `baton reconcile`
//! with its settings in the environment — for tests that kill it (SIGKILL: nothing drained,
//! nothing flushed, every cache and timer gone) or stop it (SIGTERM: it drains).

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

/// A free loopback port (bound, then released for baton to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `baton serve` running as a child process; its log (stderr) goes to a file.
pub struct BatonProcess {
    child: tokio::process::Child,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

fn command(env: &[(String, String)], args: &[&str], log: &std::path::Path) -> tokio::process::Command {
    // Set for integration tests (the benchmarks that share this support code never run baton).
    let Some(bin) = option_env!("CARGO_BIN_EXE_baton") else {
        panic!("the baton binary is known to integration tests only");
    };
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .kill_on_drop(true);
    cmd
}

impl BatonProcess {
    /// Starts `baton serve` on `port` and waits until it has built its index (it serves
    /// registry pushes through it).
    pub async fn start(env: &[(String, String)], port: u16) -> BatonProcess {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("baton.log");
        let mut env = env.to_vec();
        env.push(("BATON_SERVER__LISTEN".into(), format!("127.0.0.1:{port}")));
        let child = command(&env, &["serve"], &log).spawn().expect("start baton serve");
        let p = BatonProcess { child, url: format!("http://127.0.0.1:{port}"), log, _dir: dir };
        p.wait_log("index built", Duration::from_secs(20)).await;
        p
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle` (panics after `timeout`, showing the log).
    pub async fn wait_log(&self, needle: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.log_text().contains(needle) {
            assert!(tokio::time::Instant::now() < deadline, "baton never logged {needle:?}:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Jobs accepted and not finished (`baton_queue_depth` on /metrics); None when it does not
    /// answer.
    pub async fn queue_depth(&self) -> Option<usize> {
        let text = reqwest::get(format!("{}/metrics", self.url)).await.ok()?.text().await.ok()?;
        text.lines().find_map(|l| l.strip_prefix("baton_queue_depth ")).and_then(|v| v.trim().parse().ok())
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("SIGKILL baton");
    }

    /// SIGTERM, and waits for the exit (30 s at most).
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("running").to_string();
        let st = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        assert!(st.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("baton exits within 30 s of SIGTERM")
            .unwrap()
    }
}

/// One `baton reconcile` pass as a process; its exit status and log.
pub async fn reconcile_once(env: &[(String, String)]) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("reconcile.log");
    let mut child = command(env, &["reconcile"], &log).spawn().expect("start baton reconcile");
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("reconcile finishes within 60 s")
        .unwrap();
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}
