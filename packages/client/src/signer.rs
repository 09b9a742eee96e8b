use cosmrs::bip32::DerivationPath;
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::AccountId;

use crate::error::{ClientError, Result};

/// The Cosmos Hub derivation path, which wasmd's keyring uses by default.
pub const HD_PATH: &str = "m/44'/118'/0'/0/0";

/// A key that signs transactions, and the address it controls.
pub struct Signer {
    key: SigningKey,
    address: AccountId,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Signer")
            .field("address", &self.address.to_string())
            .finish()
    }
}

impl Signer {
    /// Derives the key of a 12- or 24-word BIP39 mnemonic at [`HD_PATH`].
    pub fn from_mnemonic(phrase: &str, prefix: &str) -> Result<Signer> {
        let mnemonic = bip39::Mnemonic::parse_normalized(phrase.trim())
            .map_err(|e| ClientError::Mnemonic(e.to_string()))?;
        let words = mnemonic.word_count();
        if words != 12 && words != 24 {
            return Err(ClientError::Mnemonic(format!(
                "{words} words; use a 12- or 24-word mnemonic"
            )));
        }
        let path: DerivationPath = HD_PATH
            .parse()
            .map_err(|e| ClientError::Key(format!("{e}")))?;
        let key = SigningKey::derive_from_path(mnemonic.to_seed(""), &path)
            .map_err(|e| ClientError::Key(e.to_string()))?;
        let address = key
            .public_key()
            .account_id(prefix)
            .map_err(|e| ClientError::Key(e.to_string()))?;
        Ok(Signer { key, address })
    }

    pub fn address(&self) -> &AccountId {
        &self.address
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Address of the `deployer` test account in localnet/accounts.json, as wasmd's own
    /// keyring derives it (`wasmd keys add deployer --recover`).
    const DEPLOYER_ADDRESS: &str = "wasm14m884wafepp6zlgpkd6d9h45jf9q8kwvt5nwqx";

    #[test]
    fn derives_the_address_wasmd_derives() {
        let phrase = "supreme field hold kangaroo zero banana trade easy daring walk print icon";
        let signer = Signer::from_mnemonic(phrase, "wasm").unwrap();
        assert_eq!(signer.address().to_string(), DEPLOYER_ADDRESS);
    }

    #[test]
    fn bad_mnemonics_are_refused() {
        assert!(matches!(
            Signer::from_mnemonic("not a mnemonic", "wasm"),
            Err(ClientError::Mnemonic(_))
        ));
    }
}
