//! The one deployment file that every Tavdun program reads: which chain, where the contracts
//! are, which models were registered.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tavdun_client::ChainConfig;

use crate::error::{read, Result, SdkError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub chain_id: String,
    pub grpc_url: String,
    pub deployer: String,
    pub token: ContractRef,
    pub market: ContractRef,
    pub models: Vec<DeployedModel>,
    /// Chain height when the deployment finished.
    pub height: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractRef {
    pub code_id: u64,
    pub address: String,
    /// sha256 of the uploaded wasm.
    pub checksum: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployedModel {
    pub name: String,
    pub model_id: String,
    pub weights_uri: String,
}

impl Deployment {
    pub fn load(path: &Path) -> Result<Deployment> {
        if !path.exists() {
            return Err(SdkError::NoDeployment(path.to_path_buf()));
        }
        serde_json::from_slice(&read(path)?).map_err(|e| SdkError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let write = |source| SdkError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }

    /// A model by the name it was deployed under, or by its id.
    pub fn model(&self, name_or_id: &str) -> Option<&DeployedModel> {
        self.models
            .iter()
            .find(|m| m.name == name_or_id || m.model_id == name_or_id)
    }

    /// The model id for a deployed name; anything else is taken as an id already.
    pub fn model_id(&self, name_or_id: &str) -> String {
        self.model(name_or_id)
            .map_or_else(|| name_or_id.to_string(), |m| m.model_id.clone())
    }

    /// How to reach this deployment's chain: its endpoint and chain id over `defaults` (the
    /// fee settings and retry policy, which the deployment does not record).
    pub fn chain_config(&self, defaults: ChainConfig) -> ChainConfig {
        ChainConfig {
            grpc_url: self.grpc_url.clone(),
            chain_id: self.chain_id.clone(),
            ..defaults
        }
    }
}
