//! Bytes behind a URI: a relayer blob or any HTTP(S) URL, a `file://` URI or a plain path.
//! Callers verify what they get against a hash from the chain; nothing fetched is trusted.

use std::time::Duration;

use crate::error::{Result, WorkerError};

pub struct Fetcher {
    http: reqwest::Client,
    max_bytes: u64,
}

impl Fetcher {
    pub fn new(timeout: Duration, max_bytes: u64) -> Result<Fetcher> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| WorkerError::Fetch {
                uri: "(http client)".into(),
                reason: e.to_string(),
            })?;
        Ok(Fetcher { http, max_bytes })
    }

    pub async fn get(&self, uri: &str) -> Result<Vec<u8>> {
        let fail = |reason: String| WorkerError::Fetch {
            uri: uri.to_string(),
            reason,
        };
        let bytes = if uri.starts_with("http://") || uri.starts_with("https://") {
            let response = self
                .http
                .get(uri)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| fail(e.to_string()))?;
            if response
                .content_length()
                .is_some_and(|n| n > self.max_bytes)
            {
                return Err(fail(format!("larger than {} bytes", self.max_bytes)));
            }
            response
                .bytes()
                .await
                .map_err(|e| fail(e.to_string()))?
                .to_vec()
        } else {
            let path = uri.strip_prefix("file://").unwrap_or(uri);
            let len = tokio::fs::metadata(path)
                .await
                .map_err(|e| fail(e.to_string()))?
                .len();
            if len > self.max_bytes {
                return Err(fail(format!("larger than {} bytes", self.max_bytes)));
            }
            tokio::fs::read(path)
                .await
                .map_err(|e| fail(e.to_string()))?
        };
        if bytes.len() as u64 > self.max_bytes {
            return Err(fail(format!("larger than {} bytes", self.max_bytes)));
        }
        Ok(bytes)
    }
}
