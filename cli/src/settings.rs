//! Where the chain is and who signs: a TOML file, overridden by environment variables,
//! overridden by flags. Loaded and validated once.

use std::path::PathBuf;

use serde::Deserialize;
use tavdun_sdk::client::ChainConfig;
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::KeySource;

use crate::error::{CliError, Result};

/// The settings file (`--config`, `$TAVDUN_CONFIG`, or `./tavdun.toml` when present).
/// Every field is optional; the defaults reach `localnet/start`'s network.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    grpc_url: Option<String>,
    chain_id: Option<String>,
    denom: Option<String>,
    gas_price: Option<String>,
    gas_adjustment: Option<f64>,
    deployment: Option<PathBuf>,
    /// Test accounts (`localnet/accounts.json`) that `--from NAME` picks a mnemonic from.
    accounts: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub chain: ChainConfig,
    pub deployment: PathBuf,
    pub accounts: PathBuf,
    pub key: Option<KeySource>,
}

/// Values given on the command line (they win over env and file).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub grpc_url: Option<String>,
    pub chain_id: Option<String>,
    pub deployment: Option<PathBuf>,
    pub from: Option<String>,
}

/// The environment variable that holds the signing mnemonic.
const MNEMONIC_ENV: &str = "TAVDUN_MNEMONIC";

impl Settings {
    pub fn load(flags: Overrides) -> Result<Settings> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let file_path = flags
            .config
            .or_else(|| env("TAVDUN_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("tavdun.toml")).filter(|p| p.exists()));
        let file = match &file_path {
            Some(path) => {
                let unreadable = |reason: String| CliError::Settings {
                    path: path.clone(),
                    reason,
                };
                let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
                toml::from_str::<FileSettings>(&text).map_err(|e| unreadable(e.to_string()))?
            }
            None => FileSettings::default(),
        };
        let mut chain = ChainConfig::localnet();
        if let Some(v) = flags.grpc_url.or(env("TAVDUN_GRPC_URL")).or(file.grpc_url) {
            chain.grpc_url = v;
        }
        if let Some(v) = flags.chain_id.or(env("TAVDUN_CHAIN_ID")).or(file.chain_id) {
            chain.chain_id = v;
        }
        if let Some(v) = env("TAVDUN_GAS_PRICE").or(file.gas_price) {
            chain.gas_price = v;
        }
        if let Some(v) = file.denom {
            chain.denom = v;
        }
        if let Some(v) = file.gas_adjustment {
            chain.gas_adjustment = v;
        }
        chain.validate()?;
        let deployment = flags
            .deployment
            .or_else(|| env("TAVDUN_DEPLOYMENT").map(PathBuf::from))
            .or(file.deployment)
            .unwrap_or_else(|| PathBuf::from("localnet/data/deployment.json"));
        let accounts = file
            .accounts
            .unwrap_or_else(|| PathBuf::from(TestAccounts::DEFAULT_PATH));
        let key = match (flags.from.or(env("TAVDUN_FROM")), env(MNEMONIC_ENV)) {
            (Some(name), _) => Some(KeySource::TestAccount {
                name,
                accounts: accounts.clone(),
            }),
            (None, Some(_)) => Some(KeySource::Env(MNEMONIC_ENV.to_string())),
            (None, None) => None,
        };
        Ok(Settings {
            chain,
            deployment,
            accounts,
            key,
        })
    }

    pub fn key(&self) -> Result<&KeySource> {
        self.key.as_ref().ok_or(CliError::NoKey)
    }
}
