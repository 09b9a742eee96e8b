//! The worker's one configuration: a TOML file, overridden by `TAVDUN_WORKER_*` environment
//! variables, loaded and validated once. Errors name the field at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tavdun_engine::BackendChoice;
use tavdun_sdk::amount::parse_trn;
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::KeySource;

use crate::error::{Result, WorkerError};

/// The environment variable that must be `1` for a `[faults]` section to be accepted: fault
/// injection exists for tests, and a config file alone must never turn a node into a liar.
pub const ALLOW_FAULTS_ENV: &str = "TAVDUN_WORKER_ALLOW_FAULTS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Claims jobs, runs them and posts results.
    Execute,
    /// Re-executes others' posted results and challenges mismatches.
    Verify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// As written in the file; [`WorkerConfig::load`] turns it into checked values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The deployment file written by `tavdun deploy` (contract addresses, models).
    pub deployment: Option<PathBuf>,
    /// gRPC endpoint; defaults to the deployment's.
    pub grpc_url: Option<String>,
    /// Gas price in the chain's fee denom, e.g. `"0.025"` (default: the local network's).
    pub gas_price: Option<String>,
    /// The operator key. Prefer `$TAVDUN_WORKER_MNEMONIC` to writing it in a file.
    pub mnemonic: Option<String>,
    /// A test account of `accounts` (localnet only).
    pub account: Option<String>,
    pub accounts: Option<PathBuf>,
    pub roles: Option<Vec<Role>>,
    /// Model ids or names (from the deployment) to serve; all of the deployment's by default.
    pub models: Option<Vec<String>>,
    /// Most jobs claimed and run in one batch (and posted in one transaction).
    pub max_batch: Option<u32>,
    /// Smallest fee, in TRN, worth claiming a job for.
    pub min_fee: Option<String>,
    pub poll_interval_ms: Option<u64>,
    /// Where verified model weights are kept between runs.
    pub cache_dir: Option<PathBuf>,
    /// Prometheus `/metrics` and `/health`; `"off"` disables them.
    pub metrics_addr: Option<String>,
    /// `auto`, `wgpu` or `flex` (overrides `$TAVDUN_ENGINE_BACKEND`).
    pub backend: Option<String>,
    /// Share of others' results the verifier re-executes, in (0, 1].
    pub verify_sample: Option<f64>,
    pub log_format: Option<LogFormat>,
    pub bond: Option<BondConfig>,
    pub faults: Option<FaultConfig>,
}

/// Stake to hold: bonded (with the engine's hardware declared) or topped up on start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BondConfig {
    /// In TRN, e.g. `"100"`.
    pub amount: String,
    /// The highest tier the hardware is declared fit for.
    #[serde(default = "one")]
    pub max_tier: u8,
}

fn one() -> u8 {
    1
}

/// Wrong behaviour on purpose, for end-to-end tests of the dispute game.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// Posts a wrong activation at this 1-based layer (and reveals the same lie if challenged).
    pub wrong_output_layer: Option<u32>,
    /// Graph models: posts one wrong element in the node of this name, e.g. `"l3.ffn_in"`
    /// or `"pool"` (and reveals the same lie if challenged). Later nodes stay as computed.
    pub wrong_node: Option<String>,
    /// Never answers a challenge.
    #[serde(default)]
    pub withhold_reveal: bool,
    /// Dies by SIGKILL right after its first claim is included, before running the batch.
    #[serde(default)]
    pub crash_after_claim: bool,
}

impl FaultConfig {
    pub fn any(&self) -> bool {
        self.wrong_output_layer.is_some()
            || self.wrong_node.is_some()
            || self.withhold_reveal
            || self.crash_after_claim
    }
}

/// Checked configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub deployment: PathBuf,
    pub grpc_url: Option<String>,
    pub gas_price: Option<String>,
    pub key: KeySource,
    pub roles: Vec<Role>,
    pub models: Vec<String>,
    pub max_batch: u32,
    /// Micro-TRN.
    pub min_fee: u128,
    pub poll_interval: Duration,
    pub cache_dir: PathBuf,
    pub metrics_addr: Option<SocketAddr>,
    pub backend: Option<BackendChoice>,
    pub verify_sample: f64,
    pub log_format: LogFormat,
    /// Micro-TRN and max tier.
    pub bond: Option<(u128, u8)>,
    pub faults: FaultConfig,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> WorkerError {
    WorkerError::Config {
        field,
        reason: reason.into(),
    }
}

impl WorkerConfig {
    /// Reads `path` (when given), applies the environment, validates.
    pub fn load(path: Option<&Path>) -> Result<WorkerConfig> {
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| WorkerError::Io {
                    what: format!("reading {}", p.display()),
                    source: e,
                })?;
                toml::from_str(&text).map_err(|e| WorkerError::Config {
                    field: "config file",
                    reason: format!("{}: {e}", p.display()),
                })?
            }
            None => FileConfig::default(),
        };
        WorkerConfig::from_file(file, |k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// `env` looks up an environment variable (a parameter so tests need not set globals).
    pub fn from_file(mut f: FileConfig, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| env(&format!("TAVDUN_WORKER_{name}"));
        if let Some(v) = var("DEPLOYMENT") {
            f.deployment = Some(v.into());
        }
        if let Some(v) = var("GRPC_URL") {
            f.grpc_url = Some(v);
        }
        if let Some(v) = var("GAS_PRICE") {
            f.gas_price = Some(v);
        }
        if let Some(v) = var("MNEMONIC") {
            f.mnemonic = Some(v);
        }
        if let Some(v) = var("ACCOUNT") {
            f.account = Some(v);
        }
        if let Some(v) = var("METRICS_ADDR") {
            f.metrics_addr = Some(v);
        }
        if let Some(v) = var("CACHE_DIR") {
            f.cache_dir = Some(v.into());
        }
        if let Some(v) = var("MODELS") {
            f.models = Some(v.split(',').map(|s| s.trim().to_string()).collect());
        }
        if let Some(v) = var("ROLES") {
            let roles = v
                .split(',')
                .map(|r| match r.trim() {
                    "execute" => Ok(Role::Execute),
                    "verify" => Ok(Role::Verify),
                    other => Err(invalid("roles", format!("unknown role `{other}`"))),
                })
                .collect::<Result<Vec<_>>>()?;
            f.roles = Some(roles);
        }
        if let Some(v) = var("MAX_BATCH") {
            f.max_batch = Some(
                v.parse()
                    .map_err(|_| invalid("max_batch", "not a number"))?,
            );
        }
        if let Some(v) = var("LOG_FORMAT") {
            f.log_format = Some(match v.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => return Err(invalid("log_format", "takes `text` or `json`")),
            });
        }

        let key =
            match (f.mnemonic, f.account) {
                (Some(m), None) => KeySource::Mnemonic(m),
                (None, Some(name)) => KeySource::TestAccount {
                    name,
                    accounts: f
                        .accounts
                        .unwrap_or_else(|| PathBuf::from(TestAccounts::DEFAULT_PATH)),
                },
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "mnemonic",
                        "give a mnemonic or a test account, not both",
                    ))
                }
                (None, None) => return Err(invalid(
                    "mnemonic",
                    "no key: set $TAVDUN_WORKER_MNEMONIC (or `account` for a localnet test key)",
                )),
            };
        let roles = f.roles.unwrap_or_else(|| vec![Role::Execute]);
        if roles.is_empty() {
            return Err(invalid("roles", "give at least one of `execute`, `verify`"));
        }
        let max_batch = f.max_batch.unwrap_or(16);
        if !(1..=256).contains(&max_batch) {
            return Err(invalid("max_batch", "must be 1..=256"));
        }
        let min_fee = match f.min_fee {
            Some(s) => parse_trn(&s).map_err(|e| invalid("min_fee", e.to_string()))?,
            None => 0,
        };
        let poll_ms = f.poll_interval_ms.unwrap_or(500);
        if !(100..=60_000).contains(&poll_ms) {
            return Err(invalid("poll_interval_ms", "must be 100..=60000"));
        }
        let metrics_addr = match f.metrics_addr.as_deref().unwrap_or("127.0.0.1:9400") {
            "off" => None,
            a => Some(
                a.parse()
                    .map_err(|_| invalid("metrics_addr", format!("`{a}` is not host:port")))?,
            ),
        };
        let backend = f
            .backend
            .map(|b| BackendChoice::parse(&b).map_err(|e| invalid("backend", e.to_string())))
            .transpose()?;
        let verify_sample = f.verify_sample.unwrap_or(1.0);
        if !(verify_sample > 0.0 && verify_sample <= 1.0) {
            return Err(invalid("verify_sample", "must be in (0, 1]"));
        }
        let bond = f
            .bond
            .map(|b| -> Result<(u128, u8)> {
                let amount =
                    parse_trn(&b.amount).map_err(|e| invalid("bond.amount", e.to_string()))?;
                if b.max_tier == 0 {
                    return Err(invalid("bond.max_tier", "must be at least 1"));
                }
                Ok((amount, b.max_tier))
            })
            .transpose()?;
        let faults = f.faults.unwrap_or_default();
        if faults.any() && env(ALLOW_FAULTS_ENV).as_deref() != Some("1") {
            return Err(invalid(
                "faults",
                format!("fault injection is for tests only; set {ALLOW_FAULTS_ENV}=1 to allow it"),
            ));
        }
        if faults.wrong_output_layer == Some(0) {
            return Err(invalid(
                "faults.wrong_output_layer",
                "layers are numbered from 1",
            ));
        }
        let cache_dir = f.cache_dir.unwrap_or_else(|| {
            env("HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".cache/tavdun/weights")
        });
        Ok(WorkerConfig {
            deployment: f
                .deployment
                .unwrap_or_else(|| PathBuf::from("localnet/data/deployment.json")),
            grpc_url: f.grpc_url,
            gas_price: f.gas_price,
            key,
            roles,
            models: f.models.unwrap_or_default(),
            max_batch,
            min_fee,
            poll_interval: Duration::from_millis(poll_ms),
            cache_dir,
            metrics_addr,
            backend,
            verify_sample,
            log_format: f.log_format.unwrap_or_default(),
            bond,
            faults,
        })
    }

    pub fn executes(&self) -> bool {
        self.roles.contains(&Role::Execute)
    }

    pub fn verifies(&self) -> bool {
        self.roles.contains(&Role::Verify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str, vars: &[(&str, &str)]) -> Result<WorkerConfig> {
        let file: FileConfig = toml::from_str(toml_text).expect("test TOML parses");
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WorkerConfig::from_file(file, |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn field(r: Result<WorkerConfig>) -> &'static str {
        match r {
            Err(WorkerError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_env_overrides() {
        let c = parse(
            "account = \"worker1\"\nmin_fee = \"0.25\"\n",
            &[
                ("TAVDUN_WORKER_ROLES", "execute, verify"),
                ("TAVDUN_WORKER_METRICS_ADDR", "off"),
                ("TAVDUN_WORKER_GAS_PRICE", "0.025"),
            ],
        )
        .unwrap();
        assert!(c.executes() && c.verifies());
        assert_eq!(c.gas_price.as_deref(), Some("0.025"));
        assert_eq!(c.min_fee, 250_000);
        assert_eq!(c.max_batch, 16);
        assert_eq!(c.metrics_addr, None);
        assert!(matches!(c.key, KeySource::TestAccount { ref name, .. } if name == "worker1"));
        assert_eq!(c.faults, FaultConfig::default());
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let c = parse(include_str!("../worker.example.toml"), &[]).unwrap();
        assert!(c.executes() && c.verifies());
        assert_eq!(c.bond, Some((100_000_000, 1)));
        assert_eq!(c.min_fee, 10_000);
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(field(parse("", &[])), "mnemonic");
        assert_eq!(
            field(parse("account = \"a\"\nmnemonic = \"m\"", &[])),
            "mnemonic"
        );
        assert_eq!(field(parse("account = \"a\"\nroles = []", &[])), "roles");
        assert_eq!(
            field(parse("account = \"a\"\nmax_batch = 0", &[])),
            "max_batch"
        );
        assert_eq!(
            field(parse("account = \"a\"\nmin_fee = \"-1\"", &[])),
            "min_fee"
        );
        assert_eq!(
            field(parse("account = \"a\"\nmetrics_addr = \"x\"", &[])),
            "metrics_addr"
        );
        assert_eq!(
            field(parse("account = \"a\"\nverify_sample = 0.0", &[])),
            "verify_sample"
        );
        assert_eq!(
            field(parse("account = \"a\"\nbackend = \"tpu\"", &[])),
            "backend"
        );
        assert_eq!(
            field(parse("account = \"a\"\n[bond]\namount = \"ten\"", &[])),
            "bond.amount"
        );
        assert_eq!(
            field(parse("account = \"a\"", &[("TAVDUN_WORKER_ROLES", "mine")])),
            "roles"
        );
    }

    #[test]
    fn faults_are_refused_unless_allowed_by_the_environment() {
        let text = "account = \"a\"\n[faults]\nwithhold_reveal = true\n";
        assert_eq!(field(parse(text, &[])), "faults");
        assert_eq!(field(parse(text, &[(ALLOW_FAULTS_ENV, "yes")])), "faults");
        let c = parse(text, &[(ALLOW_FAULTS_ENV, "1")]).unwrap();
        assert!(c.faults.withhold_reveal);
        let node = "account = \"a\"\n[faults]\nwrong_node = \"l3.ffn_in\"\n";
        assert_eq!(field(parse(node, &[])), "faults");
        let c = parse(node, &[(ALLOW_FAULTS_ENV, "1")]).unwrap();
        assert_eq!(c.faults.wrong_node.as_deref(), Some("l3.ffn_in"));
        let zero = "account = \"a\"\n[faults]\nwrong_output_layer = 0\n";
        assert_eq!(
            field(parse(zero, &[(ALLOW_FAULTS_ENV, "1")])),
            "faults.wrong_output_layer"
        );
    }
}
