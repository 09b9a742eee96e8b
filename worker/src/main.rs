//! `tavdun-worker --config worker.toml`: runs a node until SIGTERM or Ctrl-C, then finishes
//! the batch in hand, posts it, and exits.

use std::process::ExitCode;

use tavdun_sdk::service::ServiceCli;
use tavdun_worker::config::LogFormat;
use tavdun_worker::{run, CancellationToken, WorkerConfig};
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

const CLI: ServiceCli = ServiceCli {
    name: "tavdun-worker",
    version: env!("CARGO_PKG_VERSION"),
    config_env: "TAVDUN_WORKER_CONFIG",
    takes_json: true,
    usage: "\
tavdun-worker: a Tavdun worker node (claims, runs and verifies inference jobs)

usage: tavdun-worker [--config FILE] [--json]

  -c, --config FILE  TOML configuration [env: TAVDUN_WORKER_CONFIG]; every key can also
                     come from a TAVDUN_WORKER_* variable (see worker/README.md)
      --json         log as JSON lines
  -h, --help         this text
  -V, --version      the version",
};

fn main() -> ExitCode {
    // Each batch's traces (up to a GB for MiniLM) reuse the memory of the batch before.
    tavdun_engine::retain_freed_memory();
    let args = match CLI.parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let config = match WorkerConfig::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tavdun-worker: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if args.json || config.log_format == LogFormat::Json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tavdun-worker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: finishing the batch in hand"),
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: finishing the batch in hand"),
            }
            stop.cancel();
        });
        run(config, shutdown).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "worker stopped");
            eprintln!("tavdun-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
