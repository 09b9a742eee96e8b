//! The content-addressed blob store: a blob's name is the sha256 of its bytes, checked when
//! it is written and again every time it is read, so storage that was changed behind the
//! relayer's back is refused rather than served.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

use crate::config::{BlobsConfig, ConfigError};
use crate::error::ApiError;

/// A sha256 as 64 lowercase hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHash(String);

impl BlobHash {
    pub fn of(bytes: &[u8]) -> BlobHash {
        BlobHash(hex::encode(Sha256::digest(bytes)))
    }

    /// Accepts either case; the name is always lowercase.
    pub fn parse(s: &str) -> Result<BlobHash, ApiError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(BlobHash(s.to_ascii_lowercase()))
        } else {
            Err(ApiError::InvalidHash(s.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `sha256/ab/ab12...`: two hex digits of fan-out keep local directories small.
    fn path(&self) -> Path {
        Path::from(format!("sha256/{}/{}", &self.0[..2], self.0))
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    max_bytes: u64,
    timeout: Duration,
}

impl BlobStore {
    pub fn new(config: &BlobsConfig) -> Result<BlobStore, ConfigError> {
        let timeout = Duration::from_secs(config.timeout_secs);
        let store: Arc<dyn ObjectStore> = match &config.s3 {
            Some(s3) => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&s3.bucket)
                    .with_allow_http(s3.allow_http)
                    .with_client_options(ClientOptions::new().with_timeout(timeout));
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                let bucket = builder.build().map_err(|e| ConfigError::Field {
                    field: "blobs.s3".into(),
                    reason: e.to_string(),
                })?;
                match s3.prefix.as_deref().filter(|p| !p.is_empty()) {
                    Some(prefix) => Arc::new(PrefixStore::new(bucket, prefix)),
                    None => Arc::new(bucket),
                }
            }
            None => {
                let field = |e: &dyn fmt::Display| ConfigError::Field {
                    field: "blobs.dir".into(),
                    reason: format!("{}: {e}", config.dir.display()),
                };
                std::fs::create_dir_all(&config.dir).map_err(|e| field(&e))?;
                Arc::new(LocalFileSystem::new_with_prefix(&config.dir).map_err(|e| field(&e))?)
            }
        };
        Ok(BlobStore {
            store,
            max_bytes: config.max_bytes,
            timeout,
        })
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Stores `bytes` under their hash, after checking them against `expected` if given.
    /// Writing a blob that exists rewrites the same bytes, which also repairs a corrupt copy.
    pub async fn put(
        &self,
        bytes: Bytes,
        expected: Option<&BlobHash>,
    ) -> Result<BlobHash, ApiError> {
        let hash = BlobHash::of(&bytes);
        if let Some(expected) = expected.filter(|e| **e != hash) {
            return Err(ApiError::HashMismatch {
                expected: expected.to_string(),
                actual: hash.to_string(),
            });
        }
        self.call(self.store.put(&hash.path(), PutPayload::from_bytes(bytes)))
            .await
            .map_err(|e| not_found_as(e, &hash))?;
        Ok(hash)
    }

    /// The blob's bytes, read whole and checked against its name.
    pub async fn get(&self, hash: &BlobHash) -> Result<Bytes, ApiError> {
        let max = self.max_bytes;
        let bytes = self
            .call(async {
                let object = self.store.get(&hash.path()).await?;
                // Nothing this large was stored here: do not read it into memory.
                if object.meta.size > max {
                    return Ok(None);
                }
                Ok(Some(object.bytes().await?))
            })
            .await
            .map_err(|e| not_found_as(e, hash))?;
        bytes.filter(|b| BlobHash::of(b) == *hash).ok_or_else(|| {
            tracing::error!(%hash, path = %hash.path(), "stored blob does not match its hash");
            ApiError::BlobCorrupted(hash.to_string())
        })
    }

    /// The blob's size as storage reports it (not re-hashed: nothing is served).
    pub async fn size(&self, hash: &BlobHash) -> Result<u64, ApiError> {
        let meta = self
            .call(self.store.head(&hash.path()))
            .await
            .map_err(|e| not_found_as(e, hash))?;
        Ok(meta.size)
    }

    async fn call<T>(
        &self,
        call: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Store(e)),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        }
    }
}

enum StoreError {
    Store(object_store::Error),
    Timeout(Duration),
}

fn not_found_as(e: StoreError, hash: &BlobHash) -> ApiError {
    match e {
        StoreError::Store(object_store::Error::NotFound { .. }) => {
            ApiError::UnknownBlob(hash.to_string())
        }
        StoreError::Store(e) => ApiError::Storage(e.to_string()),
        StoreError::Timeout(t) => ApiError::Storage(format!("no answer within {t:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_64_hex_digits_in_lowercase() {
        let h = BlobHash::of(b"abc");
        assert_eq!(
            h.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(BlobHash::parse(&h.as_str().to_uppercase()).unwrap(), h);
        for bad in ["", "ab", &"g".repeat(64), &"a".repeat(65)] {
            assert!(matches!(
                BlobHash::parse(bad),
                Err(ApiError::InvalidHash(_))
            ));
        }
    }

    #[tokio::test]
    async fn s3_buckets_are_configured_without_touching_the_network() {
        let config = BlobsConfig {
            s3: Some(crate::config::S3Config {
                bucket: "tavdun-blobs".into(),
                region: Some("us-east-1".into()),
                endpoint: Some("http://127.0.0.1:9".into()),
                prefix: Some("blobs".into()),
                allow_http: true,
            }),
            ..BlobsConfig::default()
        };
        let store = BlobStore::new(&config).unwrap();
        assert_eq!(store.store.to_string(), "PrefixObjectStore(blobs)");
        let mut config = config;
        if let Some(s3) = config.s3.as_mut() {
            s3.prefix = None;
        }
        let store = BlobStore::new(&config).unwrap();
        assert_eq!(store.store.to_string(), "AmazonS3(tavdun-blobs)");
    }
}
