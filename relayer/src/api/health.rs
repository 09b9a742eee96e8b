//! `/healthz`: whether the relayer can reach its chain.

use axum::extract::State as Extract;
use axum::Json;

use crate::error::{ApiError, ErrorBody};
use crate::state::State;
use crate::views::HealthView;

/// Answers once the chain node answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "Serving", body = HealthView),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    )
)]
pub async fn health(Extract(state): Extract<State>) -> Result<Json<HealthView>, ApiError> {
    Ok(Json(HealthView {
        chain_id: state.deployment.chain_id.clone(),
        chain_height: state.market.chain().latest_height().await?,
        relayer_address: state.market.signer_address()?,
    }))
}
