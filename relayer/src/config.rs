//! The relayer's one configuration: a TOML file, overridden by `TAVDUN_RELAYER_*` variables,
//! loaded and validated once. Every default reaches the network `localnet/start` runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tavdun_sdk::amount::parse_trn;
use tavdun_sdk::client::{ChainConfig, RetryPolicy};
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::{Deployment, KeySource};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("config: {field}: {reason}")]
    Field { field: String, reason: String },
}

pub(crate) fn field(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Not `Debug`: it holds the mnemonic and the API keys, which must never reach a log.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds (`TAVDUN_RELAYER_LISTEN`).
    pub listen: SocketAddr,
    /// The deployment file `tavdun deploy` wrote (`TAVDUN_RELAYER_DEPLOYMENT`).
    pub deployment: PathBuf,
    /// gRPC endpoint of a chain node (`TAVDUN_RELAYER_GRPC_URL`); defaults to the deployment's.
    pub grpc_url: Option<String>,
    /// Mnemonic of the account that pays for submitted jobs (`TAVDUN_RELAYER_MNEMONIC`).
    pub mnemonic: Option<String>,
    /// Or the name of a test account in `accounts`, for local networks only.
    pub test_account: Option<String>,
    pub accounts: PathBuf,
    pub blobs: BlobsConfig,
    pub jobs: JobsConfig,
    pub embeddings: EmbeddingsConfig,
    pub api_keys: Vec<ApiKeyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    /// Local directory of the blob store (`TAVDUN_RELAYER_BLOBS_DIR`); unused when `s3` is set.
    pub dir: PathBuf,
    /// Largest blob accepted. Blobs are hashed whole before they are stored or served, so this
    /// also bounds the memory one transfer takes.
    pub max_bytes: u64,
    /// Timeout of one storage call.
    pub timeout_secs: u64,
    pub s3: Option<S3Config>,
}

/// An S3-compatible bucket (AWS, MinIO, R2, ...). Credentials come from the usual `AWS_*`
/// environment variables, never from this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: Option<String>,
    /// For S3-compatible services, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Key prefix inside the bucket.
    pub prefix: Option<String>,
    #[serde(default)]
    pub allow_http: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Deadline of a job whose request names none: unclaimed by then, its fee is refunded.
    pub default_deadline_secs: u64,
    pub max_deadline_secs: u64,
    /// Largest `POST /v1/jobs` body.
    pub max_body_bytes: u64,
    /// How often an event stream re-reads its job from the chain.
    pub poll_interval_ms: u64,
}

/// `POST /v1/embeddings`: which models it serves (the ones with a tokenizer here) and how
/// long a request may wait for its jobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// Texts one request may embed; each is one job, paid and counted against the key's quota.
    pub max_inputs: u32,
    /// How long a request waits for its jobs to be posted (or finalised) before it answers
    /// `wait_timeout` with the job ids (the jobs stay paid and on chain).
    pub wait_timeout_secs: u64,
    /// Each embedding model's `tokenizer.json`, under the model's id or its spec's name
    /// (`"all-minilm-l6-v2"`). Loaded at start: a missing or invalid file stops the relayer.
    pub tokenizers: BTreeMap<String, PathBuf>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Who holds the key; shown in logs, never the key itself.
    pub name: String,
    /// The secret sent as `Authorization: Bearer <key>` (at least 16 characters).
    pub key: String,
    /// Jobs this key may submit in any `window_secs`.
    pub jobs_per_window: u32,
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// Largest fee of one job, in TRN (`"0.5"`).
    pub max_fee: Option<String>,
    /// TRN this key may spend in any `window_secs`.
    pub max_spend_per_window: Option<String>,
}

fn default_window_secs() -> u64 {
    3600
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            deployment: PathBuf::from("localnet/data/deployment.json"),
            grpc_url: None,
            mnemonic: None,
            test_account: None,
            accounts: PathBuf::from(TestAccounts::DEFAULT_PATH),
            blobs: BlobsConfig::default(),
            jobs: JobsConfig::default(),
            embeddings: EmbeddingsConfig::default(),
            api_keys: Vec::new(),
        }
    }
}

impl Default for BlobsConfig {
    fn default() -> BlobsConfig {
        BlobsConfig {
            dir: PathBuf::from("localnet/data/relayer/blobs"),
            max_bytes: 64 << 20,
            timeout_secs: 30,
            s3: None,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> JobsConfig {
        JobsConfig {
            default_deadline_secs: 3600,
            max_deadline_secs: 7 * 24 * 3600,
            max_body_bytes: 1 << 20,
            poll_interval_ms: 1000,
        }
    }
}

impl Default for EmbeddingsConfig {
    fn default() -> EmbeddingsConfig {
        EmbeddingsConfig {
            max_inputs: 32,
            wait_timeout_secs: 300,
            tokenizers: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads `path` (or starts from the defaults), applies the environment, validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => Config::from_toml(path)?,
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn from_toml(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Overrides from `TAVDUN_RELAYER_*` variables, read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = var("TAVDUN_RELAYER_LISTEN") {
            self.listen = v.parse().map_err(|e| {
                field(
                    "TAVDUN_RELAYER_LISTEN",
                    format!("`{v}` is not an address such as 127.0.0.1:8080: {e}"),
                )
            })?;
        }
        if let Some(v) = var("TAVDUN_RELAYER_DEPLOYMENT") {
            self.deployment = PathBuf::from(v);
        }
        if let Some(v) = var("TAVDUN_RELAYER_GRPC_URL") {
            self.grpc_url = Some(v);
        }
        if let Some(v) = var("TAVDUN_RELAYER_MNEMONIC") {
            // A mnemonic from the environment wins over a test account named in the file.
            self.mnemonic = Some(v);
            self.test_account = None;
        }
        if let Some(v) = var("TAVDUN_RELAYER_BLOBS_DIR") {
            self.blobs.dir = PathBuf::from(v);
        }
        Ok(())
    }

    /// The account that pays for jobs; [`Config::validate`] made sure there is exactly one.
    pub fn key(&self) -> Result<KeySource, ConfigError> {
        match (&self.mnemonic, &self.test_account) {
            (Some(mnemonic), None) => Ok(KeySource::Mnemonic(mnemonic.clone())),
            (None, Some(name)) => Ok(KeySource::TestAccount {
                name: name.clone(),
                accounts: self.accounts.clone(),
            }),
            _ => Err(field(
                "mnemonic",
                "give exactly one of `mnemonic` and `test_account`",
            )),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.mnemonic, &self.test_account) {
            (None, None) => {
                return Err(field(
                    "mnemonic",
                    "the relayer needs an account to pay for jobs: set TAVDUN_RELAYER_MNEMONIC \
                     or `test_account` (a name in `accounts`, for local networks)",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(field(
                    "test_account",
                    "give either `mnemonic` or `test_account`, not both",
                ))
            }
            _ => {}
        }
        if let Some(url) = &self.grpc_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(field("grpc_url", "must start with http:// or https://"));
            }
        }
        if self.blobs.max_bytes == 0 {
            return Err(field("blobs.max_bytes", "must be at least 1"));
        }
        if self.blobs.timeout_secs == 0 {
            return Err(field("blobs.timeout_secs", "must be at least 1"));
        }
        if let Some(s3) = &self.blobs.s3 {
            if s3.bucket.is_empty() {
                return Err(field("blobs.s3.bucket", "must not be empty"));
            }
        }
        let jobs = &self.jobs;
        if jobs.default_deadline_secs == 0 || jobs.default_deadline_secs > jobs.max_deadline_secs {
            return Err(field(
                "jobs.default_deadline_secs",
                format!(
                    "must be between 1 and jobs.max_deadline_secs ({})",
                    jobs.max_deadline_secs
                ),
            ));
        }
        if jobs.max_body_bytes == 0 {
            return Err(field("jobs.max_body_bytes", "must be at least 1"));
        }
        if jobs.poll_interval_ms < 100 {
            return Err(field("jobs.poll_interval_ms", "must be at least 100"));
        }
        let embeddings = &self.embeddings;
        if embeddings.max_inputs == 0 {
            return Err(field("embeddings.max_inputs", "must be at least 1"));
        }
        if embeddings.wait_timeout_secs == 0 {
            return Err(field("embeddings.wait_timeout_secs", "must be at least 1"));
        }
        for (i, key) in self.api_keys.iter().enumerate() {
            let at = |name: &str| format!("api_keys[{i}].{name}");
            if key.name.is_empty() {
                return Err(field(at("name"), "must not be empty"));
            }
            if key.key.chars().count() < 16 {
                return Err(field(at("key"), "must be at least 16 characters"));
            }
            if self.api_keys[..i].iter().any(|k| k.key == key.key) {
                return Err(field(at("key"), "is the same as an earlier key's"));
            }
            if key.window_secs == 0 {
                return Err(field(at("window_secs"), "must be at least 1"));
            }
            for (name, amount) in [
                ("max_fee", &key.max_fee),
                ("max_spend_per_window", &key.max_spend_per_window),
            ] {
                if let Some(amount) = amount {
                    parse_trn(amount).map_err(|e| field(at(name), e.to_string()))?;
                }
            }
        }
        Ok(())
    }

    /// The chain client's settings: the node from the config or the deployment, and a retry
    /// policy short enough that an HTTP caller hears of an unreachable node within ~30 s.
    pub fn chain(&self, deployment: &Deployment) -> ChainConfig {
        let mut chain = deployment.chain_config(ChainConfig {
            retry: RetryPolicy {
                request_timeout: Duration::from_secs(8),
                attempts: 3,
                ..RetryPolicy::default()
            },
            ..ChainConfig::localnet()
        });
        if let Some(url) = &self.grpc_url {
            chain.grpc_url = url.clone();
        }
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        toml::from_str(text).unwrap()
    }

    fn error_field(config: &Config) -> String {
        match config.validate() {
            Err(ConfigError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("relayer.example.toml");
        let config = Config::from_toml(&path).unwrap();
        config.validate().unwrap();
        assert_eq!(config.test_account.as_deref(), Some("relayer"));
        assert!(!config.api_keys.is_empty());
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = parse("test_account = \"relayer\"\nlisten = \"127.0.0.1:1\"");
        config
            .apply_env(|name| match name {
                "TAVDUN_RELAYER_LISTEN" => Some("0.0.0.0:9999".into()),
                "TAVDUN_RELAYER_MNEMONIC" => Some("abandon ...".into()),
                "TAVDUN_RELAYER_GRPC_URL" => Some("http://node:9090".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.grpc_url.as_deref(), Some("http://node:9090"));
        assert!(config.mnemonic.is_some() && config.test_account.is_none());
        config.validate().unwrap();

        let bad = config.apply_env(|name| (name == "TAVDUN_RELAYER_LISTEN").then(|| "x".into()));
        assert!(
            matches!(bad, Err(ConfigError::Field { field, .. }) if field == "TAVDUN_RELAYER_LISTEN")
        );
    }

    #[test]
    fn invalid_fields_are_named() {
        assert_eq!(error_field(&parse("")), "mnemonic");
        let key = |extra: &str| {
            parse(&format!(
                "test_account = \"relayer\"\n[[api_keys]]\nname = \"a\"\nkey = \"0123456789abcdef\"\njobs_per_window = 1\n{extra}"
            ))
        };
        key("").validate().unwrap();
        assert_eq!(
            error_field(&key("max_fee = \"1.2.3\"")),
            "api_keys[0].max_fee"
        );
        assert_eq!(
            error_field(&key("window_secs = 0")),
            "api_keys[0].window_secs"
        );
        let short = parse(
            "test_account = \"relayer\"\n[[api_keys]]\nname = \"a\"\nkey = \"short\"\njobs_per_window = 1",
        );
        assert_eq!(error_field(&short), "api_keys[0].key");
        let mut config = key("");
        config.blobs.max_bytes = 0;
        assert_eq!(error_field(&config), "blobs.max_bytes");
        let mut config = key("");
        config.embeddings.max_inputs = 0;
        assert_eq!(error_field(&config), "embeddings.max_inputs");
        let embeddings = key("[embeddings]\nwait_timeout_secs = 0");
        assert_eq!(error_field(&embeddings), "embeddings.wait_timeout_secs");
        assert!(matches!(
            toml::from_str::<Config>("lisen = \"x\""),
            Err(e) if e.to_string().contains("lisen")
        ));
    }
}
