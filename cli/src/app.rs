//! What every command needs: the settings, the deployment, a market client, the output mode.

use serde::Serialize;
use tavdun_sdk::client::{ChainClient, Wallet};
use tavdun_sdk::{Deployment, MarketClient};

use crate::error::Result;
use crate::settings::Settings;

pub struct App {
    pub settings: Settings,
    /// Print machine-readable JSON instead of text.
    pub json: bool,
}

impl App {
    pub fn chain(&self) -> Result<ChainClient> {
        Ok(ChainClient::new(self.settings.chain.clone())?)
    }

    pub fn deployment(&self) -> Result<Deployment> {
        Ok(Deployment::load(&self.settings.deployment)?)
    }

    /// The signing account's address.
    pub fn signer_address(&self) -> Result<String> {
        let key = self.settings.key()?;
        Ok(key
            .signer(&self.settings.chain.prefix)?
            .address()
            .to_string())
    }

    /// The deployment's market, read-only.
    pub fn market(&self) -> Result<MarketClient> {
        Ok(MarketClient::new(self.chain()?, &self.deployment()?))
    }

    /// The deployment's market, signing with the configured key.
    pub fn signing_market(&self) -> Result<MarketClient> {
        let signer = self.settings.key()?.signer(&self.settings.chain.prefix)?;
        let chain = self.chain()?;
        let wallet = Wallet::new(chain.clone(), signer)?;
        Ok(MarketClient::new(chain, &self.deployment()?).with_wallet(wallet))
    }

    /// Prints `value` as JSON with `--json`, else the text `human` makes of it.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            println!("{}", pretty(value));
        } else {
            println!("{}", human(value));
        }
    }
}

/// Indented JSON, for `--json` and for records without a shorter text form.
pub fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
