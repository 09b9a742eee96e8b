//! `tavdun-relayer --config relayer.toml`: serves the relayer until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use tavdun_relayer::{Config, Relayer, StartError};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
tavdun-relayer: HTTP gateway and blob store for the Tavdun market

usage: tavdun-relayer [--config FILE]

      --config FILE  TOML settings (see relayer/relayer.example.toml)
                     [env: TAVDUN_RELAYER_CONFIG]; TAVDUN_RELAYER_* variables override
                     them. Without a file, the defaults reach localnet/start's network.
  -h, --help         this text
  -V, --version      the version";

/// The one option the relayer takes; a service needs no argument-parsing framework.
struct Args {
    config: Option<PathBuf>,
}

impl Args {
    /// `Err` carries what to print and the exit code.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, (String, u8)> {
        let mut config = std::env::var_os("TAVDUN_RELAYER_CONFIG").map(PathBuf::from);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--config" => match args.next() {
                    Some(path) => config = Some(path.into()),
                    None => return Err((format!("--config needs a FILE\n\n{USAGE}"), 2)),
                },
                "-h" | "--help" => return Err((USAGE.to_string(), 0)),
                "-V" | "--version" => {
                    return Err((format!("tavdun-relayer {}", env!("CARGO_PKG_VERSION")), 0))
                }
                other => match other.strip_prefix("--config=") {
                    Some(path) => config = Some(path.into()),
                    None => return Err((format!("unknown argument `{other}`\n\n{USAGE}"), 2)),
                },
            }
        }
        Ok(Args { config })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err((text, code)) => {
            if code == 0 {
                println!("{text}");
            } else {
                eprintln!("{text}");
            }
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(args).await {
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
