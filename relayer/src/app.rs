//! The relayer as a value: its routes, and serving them until told to stop.

use std::future::Future;
use std::sync::Arc;

use axum::http::{header, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tavdun_sdk::client::{ChainClient, ClientError, Wallet};
use tavdun_sdk::{Deployment, MarketClient, SdkError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{blobs, embeddings, events, health, jobs, models};
use crate::catalog::Catalog;
use crate::config::{Config, ConfigError};
use crate::error::ApiError;
use crate::keys::Keys;
use crate::openapi::ApiDoc;
use crate::state::{AppState, State};
use crate::store::BlobStore;
use crate::tokenizers::Tokenizers;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Deployment(#[source] SdkError),
    #[error("the relayer's account: {0}")]
    Account(#[source] SdkError),
    #[error(transparent)]
    Chain(#[from] ClientError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

pub struct Relayer {
    state: State,
}

impl Relayer {
    /// Reads the deployment and the account, opens the blob store, loads the tokenizers. Nothing is asked of the
    /// chain yet: the client connects on first use and retries while the node is down.
    pub fn new(config: Config) -> Result<Relayer, StartError> {
        config.validate()?;
        let deployment = Deployment::load(&config.deployment).map_err(StartError::Deployment)?;
        let chain = ChainClient::new(config.chain(&deployment))?;
        let signer = config
            .key()?
            .signer(&chain.config().prefix)
            .map_err(StartError::Account)?;
        let wallet = Wallet::new(chain.clone(), signer)?;
        let market = MarketClient::new(chain.clone(), &deployment);
        let state = AppState {
            blobs: BlobStore::new(&config.blobs)?,
            keys: Keys::new(&config.api_keys)?,
            tokenizers: Tokenizers::new(&config.embeddings)?,
            catalog: Catalog::new(market.clone(), deployment.clone()),
            market: market.with_wallet(wallet),
            deployment,
            config,
            shutdown: CancellationToken::new(),
        };
        Ok(Relayer {
            state: Arc::new(state),
        })
    }

    /// The account that pays for submitted jobs.
    pub fn address(&self) -> String {
        self.state.market.signer_address().unwrap_or_default()
    }

    /// Every route, and `/openapi.json` describing them.
    pub fn router(&self) -> Router {
        let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .routes(routes!(blobs::put_blob))
            .routes(routes!(blobs::get_blob, blobs::head_blob))
            .routes(routes!(jobs::submit_job))
            .routes(routes!(jobs::get_job))
            .routes(routes!(events::job_events))
            .routes(routes!(embeddings::create_embeddings))
            .routes(routes!(models::list_models))
            .routes(routes!(health::health))
            .split_for_parts();
        // Rendered once: the document only changes with the code.
        let document = api.to_pretty_json().unwrap_or_default();
        router
            .route(
                "/openapi.json",
                get(
                    move || async move { ([(header::CONTENT_TYPE, "application/json")], document) },
                ),
            )
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(CatchPanicLayer::custom(|_| {
                ApiError::Internal("the request handler panicked".into()).into_response()
            }))
            .layer(TraceLayer::new_for_http())
            .with_state(self.state.clone())
    }

    /// Serves until `shutdown` completes, then ends open event streams and waits for the
    /// requests in flight.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let token = self.state.shutdown.clone();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                token.cancel();
            })
            .await
            .map_err(StartError::Serve)
    }
}

async fn not_found(uri: Uri) -> Response {
    ApiError::NotFound(format!("no route {}; /openapi.json lists them", uri.path())).into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    ApiError::MethodNotAllowed(method.to_string()).into_response()
}
