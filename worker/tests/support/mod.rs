//! A `tavdun-worker` process for the end-to-end tests: its config written, started, watched
//! through its log and its metrics, stopped with SIGTERM or killed.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tavdun_testkit as testkit;

pub struct Worker {
    pub name: &'static str,
    config: PathBuf,
    log: PathBuf,
    metrics_port: u16,
    pub child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Writes the node's config and starts `tavdun-worker` on it, logging to `<name>.log`.
pub fn start_worker(dir: &Path, name: &'static str, account: &str, extra: &str) -> Worker {
    let metrics_port = free_port();
    let config = dir.join(format!("{name}.toml"));
    let text = format!(
        r#"deployment = "{deployment}"
grpc_url = "{grpc}"
account = "{account}"
accounts = "{accounts}"
max_batch = 4
poll_interval_ms = 300
cache_dir = "{cache}"
metrics_addr = "127.0.0.1:{metrics_port}"
backend = "flex"
{extra}
"#,
        deployment = dir.join("deployment.json").display(),
        grpc = testkit::grpc_url(),
        accounts = testkit::accounts_file().display(),
        cache = dir.join(format!("cache-{name}")).display(),
    );
    std::fs::write(&config, text).unwrap();
    let log = dir.join(format!("{name}.log"));
    let child = spawn(&config, &log);
    Worker {
        name,
        config,
        log,
        metrics_port,
        child,
    }
}

fn spawn(config: &Path, log: &Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_tavdun-worker"))
        .arg("--config")
        .arg(config)
        .env("TAVDUN_WORKER_ALLOW_FAULTS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("tavdun-worker starts")
}

impl Worker {
    /// Same config, faults removed: the operator restarts the node after a crash.
    pub fn restart_without_faults(&mut self) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let kept: String = text
            .split("[faults]")
            .next()
            .unwrap_or_default()
            .to_string();
        std::fs::write(&self.config, kept).unwrap();
        self.child = spawn(&self.config, &self.log);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.metrics_port);
        let r = reqwest::get(url).await.ok()?;
        Some((r.status().as_u16(), r.text().await.ok()?))
    }

    /// A counter or gauge of `/metrics`, summed over its label sets.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics").await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on a child we started; no memory is involved.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} ignored SIGTERM; log:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of every node's log, for a failure message.
pub fn logs(workers: &[&Worker]) -> String {
    workers
        .iter()
        .map(|w| format!("\n--- {} ---\n{}", w.name, tail(&w.log_text(), 60)))
        .collect()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
