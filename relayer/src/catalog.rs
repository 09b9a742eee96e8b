//! The registered models as the API names them: by id, by the name the deployment gave them
//! or by their spec's name; with their output shapes cached (an id hashes the spec, so a
//! cached shape never goes stale).

use std::collections::HashMap;
use std::sync::RwLock;

use tavdun_core::Shape;
use tavdun_sdk::api::ModelInfo;
use tavdun_sdk::{Deployment, MarketClient};

use crate::error::ApiError;

pub struct Catalog {
    market: MarketClient,
    deployment: Deployment,
    shapes: RwLock<HashMap<String, Shape>>,
}

impl Catalog {
    pub fn new(market: MarketClient, deployment: Deployment) -> Catalog {
        Catalog {
            market,
            deployment,
            shapes: RwLock::new(HashMap::new()),
        }
    }

    pub async fn model(&self, model_id: &str) -> Result<ModelInfo, ApiError> {
        self.market.model(model_id).await?.ok_or_else(|| {
            ApiError::UnknownModel(format!(
                "no model {model_id} is registered; GET /v1/models lists them"
            ))
        })
    }

    /// Every registered model.
    pub async fn models(&self) -> Result<Vec<ModelInfo>, ApiError> {
        Ok(self.market.models().await?)
    }

    /// A model by id, by the name the deployment gave it, or by its spec's name.
    pub async fn find(&self, name_or_id: &str) -> Result<ModelInfo, ApiError> {
        let is_id = name_or_id.len() == 64 && name_or_id.bytes().all(|b| b.is_ascii_hexdigit());
        if is_id {
            return self.model(&name_or_id.to_ascii_lowercase()).await;
        }
        if let Some(m) = self.deployment.model(name_or_id) {
            return self.model(&m.model_id).await;
        }
        self.models()
            .await?
            .into_iter()
            .find(|m| m.spec.name == name_or_id)
            .ok_or_else(|| {
                ApiError::UnknownModel(format!(
                    "no model named `{name_or_id}`; GET /v1/models lists the registered ones"
                ))
            })
    }

    pub async fn output_shape(&self, model_id: &str) -> Result<Shape, ApiError> {
        let cached = self
            .shapes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(model_id)
            .copied();
        if let Some(shape) = cached {
            return Ok(shape);
        }
        let shape = output_shape(&self.model(model_id).await?);
        self.shapes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(model_id.to_string(), shape);
        Ok(shape)
    }
}

/// The shape of a model's output. The market validated the spec when it was registered; a
/// spec it cannot plan is read as a flat vector of `output_len` values.
pub fn output_shape(model: &ModelInfo) -> Shape {
    model
        .spec
        .validate()
        .map_or(Shape::Flat(model.output_len), |plan| plan.output())
}
