//! A Tavdun service run as a real process (a `tavdun-worker` node, a `tavdun-relayer`): its
//! config written, started, watched through its log and its HTTP port, stopped with SIGTERM,
//! killed with SIGKILL and started again on the same config and log. Shared by the worker's
//! end-to-end tests and the fault drills.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::grpc_url;

pub struct Service {
    pub name: String,
    binary: PathBuf,
    config: PathBuf,
    log: PathBuf,
    /// Where it serves HTTP (a node's `/metrics` and `/health`, the relayer's API).
    pub port: u16,
    pub child: Child,
}

/// A free loopback port (free when asked; the service binds it shortly after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Writes a worker node's config in `dir` (its deployment is `dir/deployment.json`) and
/// starts `binary` (a `tavdun-worker`) on it, logging to `dir/<name>.log`. `extra` is more
/// TOML: a `[bond]`, `roles`, `[faults]`.
pub fn start_worker(binary: &Path, dir: &Path, name: &str, account: &str, extra: &str) -> Service {
    let port = free_port();
    let text = format!(
        r#"deployment = "{deployment}"
grpc_url = "{grpc}"
account = "{account}"
accounts = "{accounts}"
max_batch = 4
poll_interval_ms = 300
cache_dir = "{cache}"
metrics_addr = "127.0.0.1:{port}"
backend = "flex"
{extra}
"#,
        deployment = dir.join("deployment.json").display(),
        grpc = grpc_url(),
        accounts = crate::accounts_file().display(),
        cache = dir.join(format!("cache-{name}")).display(),
    );
    Service::start(binary, dir, name, port, &text)
}

impl Service {
    /// Writes `config` to `dir/<name>.toml` and starts `binary --config` on it.
    pub fn start(binary: &Path, dir: &Path, name: &str, port: u16, config: &str) -> Service {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = spawn(binary, &path, &log);
        Service {
            name: name.into(),
            binary: binary.into(),
            config: path,
            log,
            port,
            child,
        }
    }

    /// Starts the process again on the same config, appending to the same log.
    pub fn restart(&mut self) {
        self.child = spawn(&self.binary, &self.config, &self.log);
    }

    /// Same config, faults removed: the operator restarts the node after a crash.
    pub fn restart_without_faults(&mut self) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let kept = text
            .split("[faults]")
            .next()
            .unwrap_or_default()
            .to_string();
        std::fs::write(&self.config, kept).unwrap();
        self.restart();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = reqwest::get(format!("{}{path}", self.url())).await.ok()?;
        Some((r.status().as_u16(), r.text().await.ok()?))
    }

    /// A counter or gauge of `/metrics`, summed over its label sets.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics").await.unwrap_or_default();
        metric(&text, name)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Dies as a machine losing power would: SIGKILL, then reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

fn spawn(binary: &Path, config: &Path, log: &Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(binary)
        .arg("--config")
        .arg(config)
        .env("TAVDUN_WORKER_ALLOW_FAULTS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()))
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A counter or gauge of an OpenMetrics text, summed over its label sets.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The last lines of every service's log, for a failure message.
pub fn logs(services: &[&Service]) -> String {
    services
        .iter()
        .map(|s| format!("\n--- {} ---\n{}", s.name, tail(&s.log_text(), 60)))
        .collect()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
