//! `tavdun-relayer --config relayer.toml`: serves the relayer until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tavdun_relayer::{Config, Relayer, StartError};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "tavdun-relayer",
    version,
    about = "HTTP gateway and blob store for the Tavdun market"
)]
struct Args {
    /// TOML settings (see relayer/relayer.example.toml); `TAVDUN_RELAYER_*` variables
    /// override them. Without a file, the defaults reach localnet/start's network.
    #[arg(long, env = "TAVDUN_RELAYER_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tavdun-relayer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), StartError> {
    let config = Config::load(args.config.as_deref())?;
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
