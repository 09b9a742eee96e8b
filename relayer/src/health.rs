//! `/healthz`: whether the relayer can reach its chain.

use axum::extract::State as Extract;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::State;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub chain_id: String,
    pub chain_height: u64,
    /// The account that pays for jobs submitted here.
    pub relayer_address: String,
}

/// Answers once the chain node answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "Serving", body = Health),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    )
)]
pub async fn health(Extract(state): Extract<State>) -> Result<Json<Health>, ApiError> {
    Ok(Json(Health {
        chain_id: state.market.deployment.chain_id.clone(),
        chain_height: state.market.chain.latest_height().await?,
        relayer_address: state.wallet.address(),
    }))
}
