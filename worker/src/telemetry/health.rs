//! `/metrics` (Prometheus) and `/health` on the operator's metrics address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, WorkerError};
use crate::telemetry::metrics::Metrics;

/// What `/health` reports: healthy while polls of the chain keep succeeding.
pub struct Health {
    address: String,
    /// A poll older than this makes the node unhealthy.
    stale_after: Duration,
    state: Mutex<HealthState>,
}

#[derive(Default)]
struct HealthState {
    last_ok: Option<Instant>,
    height: u64,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct HealthReport {
    status: &'static str,
    address: String,
    height: u64,
    seconds_since_last_poll: Option<u64>,
    last_error: Option<String>,
}

impl Health {
    pub fn new(address: String, poll_interval: Duration) -> Health {
        Health {
            address,
            stale_after: (poll_interval * 10).max(Duration::from_secs(10)),
            state: Mutex::new(HealthState::default()),
        }
    }

    pub fn poll_ok(&self, height: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.last_ok = Some(Instant::now());
        s.height = height;
        s.last_error = None;
    }

    pub fn poll_failed(&self, error: String) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.last_error = Some(error);
    }

    fn report(&self) -> (StatusCode, Json<HealthReport>) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let age = s.last_ok.map(|t| t.elapsed());
        let healthy = age.is_some_and(|a| a <= self.stale_after);
        let report = HealthReport {
            status: if healthy { "ok" } else { "unhealthy" },
            address: self.address.clone(),
            height: s.height,
            seconds_since_last_poll: age.map(|a| a.as_secs()),
            last_error: s.last_error.clone(),
        };
        let code = if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (code, Json(report))
    }
}

struct Shared {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// Binds now (so a taken port stops the node at start), serves until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await.map_err(|e| WorkerError::Io {
        what: format!("binding the metrics address {addr}"),
        source: e,
    })?;
    let bound = listener.local_addr().map_err(|e| WorkerError::Io {
        what: "reading the metrics address".into(),
        source: e,
    })?;
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/health", get(health_report))
        .with_state(Arc::new(Shared { metrics, health }));
    tokio::spawn(async move {
        let stop = shutdown.clone();
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(bound)
}

async fn metrics_text(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

async fn health_report(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    s.health.report()
}
