use std::time::Duration;

use crate::error::{ClientError, Result};

/// How to reach and pay a chain. One struct, validated once.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// gRPC endpoint, e.g. `http://127.0.0.1:9090`.
    pub grpc_url: String,
    pub chain_id: String,
    /// Bech32 prefix of account addresses (`wasm` on wasmd).
    pub prefix: String,
    /// Fee denomination.
    pub denom: String,
    /// Price of one unit of gas in `denom`, as a decimal string (`"0.001"`).
    pub gas_price: String,
    /// Simulated gas is multiplied by this (a margin for state that changes before inclusion).
    pub gas_adjustment: f64,
    pub retry: RetryPolicy,
    /// How long to wait for a broadcast transaction to be included in a block.
    pub inclusion_timeout: Duration,
    /// How often to look for the transaction while waiting.
    pub inclusion_poll: Duration,
}

/// Every external call's timeout and retry policy, in one place.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Timeout of a single gRPC request.
    pub request_timeout: Duration,
    /// Attempts of a call that failed because the node was unreachable.
    pub attempts: u32,
    /// First back-off; doubled after each failure up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Re-signing attempts after an "account sequence mismatch".
    pub sequence_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            request_timeout: Duration::from_secs(10),
            attempts: 8,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            sequence_attempts: 5,
        }
    }
}

impl ChainConfig {
    /// The local network started by `localnet/start`.
    pub fn localnet() -> ChainConfig {
        ChainConfig {
            grpc_url: "http://127.0.0.1:9090".into(),
            chain_id: "tavdun-local".into(),
            prefix: "wasm".into(),
            denom: "stake".into(),
            gas_price: "0.001".into(),
            gas_adjustment: 1.4,
            retry: RetryPolicy::default(),
            inclusion_timeout: Duration::from_secs(30),
            inclusion_poll: Duration::from_millis(250),
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: &str| {
            Err(ClientError::Config {
                field,
                reason: reason.into(),
            })
        };
        if !(self.grpc_url.starts_with("http://") || self.grpc_url.starts_with("https://")) {
            return bad("grpc_url", "must start with http:// or https://");
        }
        if self.chain_id.is_empty() {
            return bad("chain_id", "must not be empty");
        }
        if self.prefix.is_empty() || self.denom.is_empty() {
            return bad("prefix/denom", "must not be empty");
        }
        GasPrice::parse(&self.gas_price)?;
        if !(1.0..=10.0).contains(&self.gas_adjustment) {
            return bad("gas_adjustment", "must be between 1.0 and 10.0");
        }
        if self.retry.attempts == 0 || self.retry.sequence_attempts == 0 {
            return bad("retry", "attempts must be at least 1");
        }
        Ok(())
    }
}

/// A decimal gas price held as `units / 10^scale`, so fees are computed without rounding drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasPrice {
    units: u128,
    scale: u32,
}

impl GasPrice {
    pub fn parse(s: &str) -> Result<GasPrice> {
        let err = || ClientError::Config {
            field: "gas_price",
            reason: format!("`{s}` is not a decimal such as 0.025"),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty()
            || frac.len() > 18
            || !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let units = format!("{int}{frac}").parse::<u128>().map_err(|_| err())?;
        Ok(GasPrice {
            units,
            scale: frac.len() as u32,
        })
    }

    /// The fee for `gas`, rounded up so the node never sees less than its minimum price.
    pub fn fee(&self, gas: u64) -> u128 {
        let div = 10u128.pow(self.scale);
        (u128::from(gas) * self.units).div_ceil(div)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_price_rounds_up() {
        let p = GasPrice::parse("0.001").unwrap();
        assert_eq!(p.fee(200_000), 200);
        assert_eq!(p.fee(200_001), 201);
        assert_eq!(GasPrice::parse("2").unwrap().fee(3), 6);
        assert!(GasPrice::parse("1e-3").is_err());
        assert!(GasPrice::parse("").is_err());
    }

    #[test]
    fn localnet_config_is_valid_and_bad_fields_are_named() {
        ChainConfig::localnet().validate().unwrap();
        let mut c = ChainConfig::localnet();
        c.grpc_url = "127.0.0.1:9090".into();
        assert!(matches!(
            c.validate(),
            Err(ClientError::Config {
                field: "grpc_url",
                ..
            })
        ));
    }
}
