//! What every handler shares: the configuration, the market (paying from the relayer's
//! account), the model catalog, the blob store, the API keys, the tokenizers, and the shutdown signal.

use std::future::Future;
use std::sync::Arc;

use tavdun_sdk::{Deployment, MarketClient};
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::keys::Keys;
use crate::store::BlobStore;
use crate::tokenizers::Tokenizers;

pub type State = Arc<AppState>;

pub struct AppState {
    pub config: Config,
    pub deployment: Deployment,
    /// The market, signing with the funded account that pays for jobs submitted here.
    pub market: MarketClient,
    pub catalog: Catalog,
    pub blobs: BlobStore,
    pub keys: Keys,
    pub tokenizers: Tokenizers,
    /// Cancelled when the server stops, so that open event streams end.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Runs `work` unless the server starts shutting down first.
    pub async fn until_shutdown<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            _ = self.shutdown.cancelled() => None,
            out = work => Some(out),
        }
    }
}
