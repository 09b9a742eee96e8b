//! The one deployment file that every Tavdun program reads: where the contracts are.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{read, CliError, Result};

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
            return Err(CliError::NoDeployment(path.to_path_buf()));
        }
        serde_json::from_slice(&read(path)?).map_err(|e| CliError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let write = |source| CliError::Write {
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

    pub fn model(&self, name_or_id: &str) -> Option<&DeployedModel> {
        self.models
            .iter()
            .find(|m| m.name == name_or_id || m.model_id == name_or_id)
    }
}
