//! What the relayer's HTTP tests share: a real relayer served on a loopback port, test keys,
//! typed error checks and a server-sent-events reader.

#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tavdun_relayer::config::{ApiKeyConfig, BlobsConfig, JobsConfig};
use tavdun_relayer::error::{ErrorBody, ErrorCode};
use tavdun_relayer::{Config, Relayer};
use tavdun_testkit as testkit;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A key with room for every test.
pub const KEY: &str = "test-key-with-a-large-quota";
/// One job per hour, at most 0.02 TRN each.
pub const TIGHT_KEY: &str = "test-key-with-a-tight-quota";
pub const MAX_BLOB: u64 = 64 * 1024;
pub const MAX_JOB_BODY: u64 = 16 * 1024;

/// A fresh directory under the system temp dir, removed on drop.
pub use tavdun_testkit::TempDir;

/// The relayer's settings for a test: the `relayer` test account, blobs under `dir`.
pub fn config(dir: &Path, deployment: &Path, grpc_url: &str) -> Config {
    let key = |name: &str, key: &str, jobs, max_fee: Option<&str>| ApiKeyConfig {
        name: name.into(),
        key: key.into(),
        jobs_per_window: jobs,
        window_secs: 3600,
        max_fee: max_fee.map(Into::into),
        max_spend_per_window: None,
    };
    Config {
        deployment: deployment.to_path_buf(),
        grpc_url: Some(grpc_url.into()),
        test_account: Some("relayer".into()),
        accounts: testkit::repo().join("localnet/accounts.json"),
        blobs: BlobsConfig {
            dir: dir.join("blobs"),
            max_bytes: MAX_BLOB,
            ..BlobsConfig::default()
        },
        jobs: JobsConfig {
            max_body_bytes: MAX_JOB_BODY,
            poll_interval_ms: 250,
            ..JobsConfig::default()
        },
        api_keys: vec![
            key("tests", KEY, 1000, None),
            key("tight", TIGHT_KEY, 1, Some("0.02")),
        ],
        ..Config::default()
    }
}

/// A relayer serving on a loopback port of its own until dropped.
pub struct Server {
    pub url: String,
    pub http: reqwest::Client,
    pub address: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let relayer = Relayer::new(config).expect("the test config is valid");
        let address = relayer.address();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            relayer.serve(listener, shutdown).await.unwrap();
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Server {
            url,
            http,
            address,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.http.put(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }

    pub fn head(&self, path: &str) -> RequestBuilder {
        self.http.head(format!("{}{path}", self.url))
    }

    /// Stops serving: open event streams end and the server task returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the relayer stops within 10 s")
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends `request` and checks that it failed with `status` and the typed error `code`;
/// returns the error's message.
pub async fn expect_error(request: RequestBuilder, status: u16, code: ErrorCode) -> String {
    let response = request.send().await.unwrap();
    let got = response.status();
    let text = response.text().await.unwrap();
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a typed error ({e}): {got} {text}"));
    assert_eq!(
        (got, body.error.code),
        (StatusCode::from_u16(status).unwrap(), code),
        "{text}"
    );
    assert!(!body.error.message.is_empty());
    body.error.message
}

pub async fn json(response: Response, status: u16) -> Value {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got.as_u16(), status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Sends `request` and reads server-sent events until the stream closes or `limit` passes.
pub async fn read_events(request: RequestBuilder, limit: Duration) -> Vec<SseEvent> {
    // The client's whole-request timeout would cut a long stream short.
    let request = request.timeout(limit + Duration::from_secs(10));
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
    assert_eq!(content_type, "text/event-stream");
    let mut events = Vec::new();
    let mut buffer = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                };
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().into();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                    }
                }
                // Keep-alive comments carry no data.
                if !event.data.is_empty() {
                    events.push(event);
                }
            }
        }
    };
    let _ = tokio::time::timeout(limit, read).await;
    events
}
