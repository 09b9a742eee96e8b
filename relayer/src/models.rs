//! `/v1/models`: what can be submitted, and how to shape its input.

use axum::extract::State as Extract;
use axum::Json;
use serde::{Deserialize, Serialize};
use tavdun_cli::amount::format_trn;
use tavdun_core::Shape;
use tavdun_market::state::ModelInfo;
use utoipa::ToSchema;

use crate::app::State;
use crate::error::{ApiError, ErrorBody};
use crate::market::output_shape;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelView {
    pub model_id: String,
    pub name: String,
    /// Inactive models take no new jobs.
    pub active: bool,
    /// Minimum fee in TRN.
    pub min_fee: String,
    pub min_fee_utrn: String,
    /// Workers need at least this tier to serve the model.
    pub min_tier: u8,
    pub layers: u32,
    /// `[n]` or `[channels, height, width]`; `input.values` must hold their product.
    pub input_shape: Vec<u32>,
    /// Real inputs become `clamp(round(x / input_scale) + input_zero_point, -128, 127)`.
    pub input_scale: String,
    pub input_zero_point: i8,
    pub output_shape: Vec<u32>,
    /// A flat output, read as one score per class.
    pub classifier: bool,
    /// Merkle root of the weights, which every dispute checks against.
    pub weights_root: String,
    /// Where workers fetch the weights (a relayer blob URL, for instance).
    pub weights_uri: String,
}

impl From<ModelInfo> for ModelView {
    fn from(m: ModelInfo) -> ModelView {
        let output = output_shape(&m);
        ModelView {
            model_id: m.model_id,
            name: m.spec.name,
            active: m.active,
            min_fee: format_trn(m.min_fee.u128()),
            min_fee_utrn: m.min_fee.to_string(),
            min_tier: m.min_tier,
            layers: m.layers,
            input_shape: m.spec.input.shape,
            input_scale: m.spec.input.quant.scale,
            input_zero_point: m.spec.input.quant.zero_point,
            output_shape: output.dims(),
            classifier: matches!(output, Shape::Flat(_)),
            weights_root: hex::encode(m.weights_root.0),
            weights_uri: m.weights_uri,
        }
    }
}

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
    let models = state.market.models().await?;
    Ok(Json(ModelList {
        models: models.into_iter().map(ModelView::from).collect(),
    }))
}
