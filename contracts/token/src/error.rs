use cosmwasm_std::StdError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Base(#[from] cw20_base::ContractError),

    #[error("a cap needs a minter: without one nobody could ever mint up to it")]
    CapWithoutMinter,

    #[error("cannot migrate from contract {found}; this code is {expected}")]
    WrongContract { found: String, expected: String },

    #[error("cannot migrate from version {found} to the older or equal {current}")]
    NotNewer { found: String, current: String },
}
