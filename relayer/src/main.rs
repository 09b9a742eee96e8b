//! `tavdun-relayer --config relayer.toml`: serves the relayer until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use tavdun_relayer::{Config, Relayer, StartError};
use tavdun_sdk::service::ServiceCli;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

const CLI: ServiceCli = ServiceCli {
    name: "tavdun-relayer",
    version: env!("CARGO_PKG_VERSION"),
    config_env: "TAVDUN_RELAYER_CONFIG",
    takes_json: false,
    usage: "\
tavdun-relayer: HTTP gateway and blob store for the Tavdun market

usage: tavdun-relayer [--config FILE]

  -c, --config FILE  TOML settings (see relayer/relayer.example.toml)
                     [env: TAVDUN_RELAYER_CONFIG]; TAVDUN_RELAYER_* variables override
                     them. Without a file, the defaults reach localnet/start's network.
  -h, --help         this text
  -V, --version      the version",
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = match CLI.parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(code) => return code,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(args.config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tavdun-relayer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config_file: Option<PathBuf>) -> Result<(), StartError> {
    let config = Config::load(config_file.as_deref())?;
    let address = config.listen;
    let relayer = Relayer::new(config)?;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Listen { address, source })?;
    tracing::info!(%address, account = %relayer.address(), "relayer listening");
    relayer.serve(listener, stopped()).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("stopping: finishing requests in flight");
}
