//! `/v1/models`: what can be submitted, and how to shape its input.

use axum::extract::State as Extract;
use axum::Json;

use crate::error::{ApiError, ErrorBody};
use crate::state::State;
use crate::views::{ModelList, ModelView};

/// Every model registered with the market.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "models",
    responses(
        (status = 200, description = "The registered models", body = ModelList),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    )
)]
pub async fn list_models(Extract(state): Extract<State>) -> Result<Json<ModelList>, ApiError> {
    let models = state.catalog.models().await?;
    Ok(Json(ModelList {
        models: models.into_iter().map(ModelView::from).collect(),
    }))
}
