//! Who signs: one key-source type for every program, and the localnet test accounts read
//! from `localnet/accounts.json` in one place.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tavdun_client::Signer;

use crate::error::{read, Result, SdkError};

/// Where a signing key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A BIP39 mnemonic given directly.
    Mnemonic(String),
    /// A BIP39 mnemonic in this environment variable (read when the key is needed).
    Env(String),
    /// A named test account of a `localnet/accounts.json`-style file (localnet only).
    TestAccount { name: String, accounts: PathBuf },
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            KeySource::Mnemonic(_) => f.write_str("Mnemonic(..)"),
            KeySource::Env(var) => write!(f, "Env({var})"),
            KeySource::TestAccount { name, accounts } => {
                write!(f, "TestAccount({name} in {})", accounts.display())
            }
        }
    }
}

impl KeySource {
    /// A test account of the repository's `localnet/accounts.json`, relative to the working
    /// directory.
    pub fn test_account(name: &str) -> KeySource {
        KeySource::TestAccount {
            name: name.to_string(),
            accounts: PathBuf::from(TestAccounts::DEFAULT_PATH),
        }
    }

    pub fn mnemonic(&self) -> Result<String> {
        match self {
            KeySource::Mnemonic(m) => Ok(m.clone()),
            KeySource::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| SdkError::Key(format!("${var} holds no mnemonic"))),
            KeySource::TestAccount { name, accounts } => TestAccounts::load(accounts)?
                .mnemonic(name)
                .map(str::to_string),
        }
    }

    /// The signer for addresses with bech32 `prefix`.
    pub fn signer(&self, prefix: &str) -> Result<Signer> {
        Ok(Signer::from_mnemonic(&self.mnemonic()?, prefix)?)
    }
}

/// The public test-only keys of the local network.
#[derive(Debug, Clone, Deserialize)]
pub struct TestAccounts {
    accounts: Vec<TestAccount>,
    #[serde(skip)]
    path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
struct TestAccount {
    name: String,
    mnemonic: String,
}

impl TestAccounts {
    /// Where the repository keeps them.
    pub const DEFAULT_PATH: &'static str = "localnet/accounts.json";

    pub fn load(path: &Path) -> Result<TestAccounts> {
        let mut accounts: TestAccounts =
            serde_json::from_slice(&read(path)?).map_err(|e| SdkError::Parse {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        accounts.path = path.to_path_buf();
        Ok(accounts)
    }

    pub fn mnemonic(&self, name: &str) -> Result<&str> {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.mnemonic.as_str())
            .ok_or_else(|| {
                SdkError::Key(format!(
                    "no account named `{name}` in {}",
                    self.path.display()
                ))
            })
    }

    pub fn signer(&self, name: &str, prefix: &str) -> Result<Signer> {
        Ok(Signer::from_mnemonic(self.mnemonic(name)?, prefix)?)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.accounts.iter().map(|a| a.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_accounts() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../localnet/accounts.json")
    }

    #[test]
    fn test_accounts_resolve_by_name() {
        let accounts = TestAccounts::load(&repo_accounts()).unwrap();
        assert!(accounts.names().any(|n| n == "deployer"));
        let a = accounts.signer("worker1", "wasm").unwrap();
        let b = KeySource::TestAccount {
            name: "worker1".into(),
            accounts: repo_accounts(),
        }
        .signer("wasm")
        .unwrap();
        assert_eq!(a.address(), b.address());
        assert!(matches!(accounts.mnemonic("nobody"), Err(SdkError::Key(_))));
    }

    #[test]
    fn key_sources_never_print_secrets() {
        let text = format!("{:?}", KeySource::Mnemonic("secret words".into()));
        assert!(!text.contains("secret"));
    }
}
