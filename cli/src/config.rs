//! Where the chain is and who signs: a TOML file, overridden by environment variables,
//! overridden by flags. Loaded and validated once.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tavdun_client::{ChainConfig, Signer};

use crate::error::{read, CliError, Result};

/// The settings file (`--config`, `$TAVDUN_CONFIG`, or `./tavdun.toml` when present).
/// Every field is optional; the defaults reach `localnet/start`'s network.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub grpc_url: Option<String>,
    pub chain_id: Option<String>,
    pub denom: Option<String>,
    pub gas_price: Option<String>,
    pub gas_adjustment: Option<f64>,
    pub deployment: Option<PathBuf>,
    /// Test accounts (`localnet/accounts.json`) that `--from NAME` picks a mnemonic from.
    pub accounts: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub chain: ChainConfig,
    pub deployment: PathBuf,
    pub accounts: PathBuf,
    /// A mnemonic, or the name of a test account.
    pub key: Option<KeySource>,
}

#[derive(Debug, Clone)]
pub enum KeySource {
    Mnemonic(String),
    TestAccount(String),
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

impl Settings {
    pub fn load(flags: &Overrides) -> Result<Settings> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let file_path = flags
            .config
            .clone()
            .or_else(|| env("TAVDUN_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("tavdun.toml")).filter(|p| p.exists()));
        let file =
            match &file_path {
                Some(p) => toml::from_str::<FileConfig>(&String::from_utf8_lossy(&read(p)?))
                    .map_err(|e| CliError::Parse {
                        path: p.clone(),
                        reason: e.to_string(),
                    })?,
                None => FileConfig::default(),
            };
        let mut chain = ChainConfig::localnet();
        if let Some(v) = flags
            .grpc_url
            .clone()
            .or(env("TAVDUN_GRPC_URL"))
            .or(file.grpc_url)
        {
            chain.grpc_url = v;
        }
        if let Some(v) = flags
            .chain_id
            .clone()
            .or(env("TAVDUN_CHAIN_ID"))
            .or(file.chain_id)
        {
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
            .clone()
            .or_else(|| env("TAVDUN_DEPLOYMENT").map(PathBuf::from))
            .or(file.deployment)
            .unwrap_or_else(|| PathBuf::from("localnet/data/deployment.json"));
        let accounts = file
            .accounts
            .unwrap_or_else(|| PathBuf::from("localnet/accounts.json"));
        let key = match (
            flags.from.clone().or(env("TAVDUN_FROM")),
            env("TAVDUN_MNEMONIC"),
        ) {
            (Some(name), _) => Some(KeySource::TestAccount(name)),
            (None, Some(m)) => Some(KeySource::Mnemonic(m)),
            (None, None) => None,
        };
        Ok(Settings {
            chain,
            deployment,
            accounts,
            key,
        })
    }

    pub fn signer(&self) -> Result<Signer> {
        let phrase = match self.key.as_ref().ok_or(CliError::NoKey)? {
            KeySource::Mnemonic(m) => m.clone(),
            KeySource::TestAccount(name) => test_mnemonic(&self.accounts, name)?,
        };
        Ok(Signer::from_mnemonic(&phrase, &self.chain.prefix)?)
    }
}

/// The mnemonic of a named account in a `localnet/accounts.json`-style file.
pub fn test_mnemonic(accounts: &Path, name: &str) -> Result<String> {
    let doc: serde_json::Value =
        serde_json::from_slice(&read(accounts)?).map_err(|e| CliError::Parse {
            path: accounts.to_path_buf(),
            reason: e.to_string(),
        })?;
    doc["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == name)
        .and_then(|a| a["mnemonic"].as_str())
        .map(str::to_string)
        .ok_or_else(|| CliError::Config {
            field: "from",
            reason: format!("no account named `{name}` in {}", accounts.display()),
        })
}
