//! Reads of the market contract, with "no such thing" told apart from a failing chain.

use std::collections::HashMap;
use std::sync::RwLock;

use tavdun_cli::deployment::Deployment;
use tavdun_cli::error::CliError;
use tavdun_cli::jobs;
use tavdun_client::{ChainClient, ClientError};
use tavdun_core::Shape;
use tavdun_market::msg::{ModelsResponse, QueryMsg};
use tavdun_market::state::{Dispute, Job, ModelInfo};

use crate::error::ApiError;

/// Largest page the market answers.
const PAGE: u32 = 50;

pub struct Market {
    pub chain: ChainClient,
    pub deployment: Deployment,
    /// Output shapes by model id. An id hashes the spec, so a cached shape never goes stale.
    shapes: RwLock<HashMap<String, Shape>>,
}

/// A query the contract refused names something that does not exist; only this case is
/// "not found", every other failure is the chain's.
fn refused(e: &CliError) -> bool {
    matches!(e, CliError::Chain(ClientError::Contract { .. }))
}

impl Market {
    pub fn new(chain: ChainClient, deployment: Deployment) -> Market {
        Market {
            chain,
            deployment,
            shapes: RwLock::new(HashMap::new()),
        }
    }

    pub async fn job(&self, job_id: u64) -> Result<Job, ApiError> {
        jobs::job(&self.chain, &self.deployment, job_id)
            .await
            .map_err(|e| {
                if refused(&e) {
                    ApiError::UnknownJob(job_id)
                } else {
                    e.into()
                }
            })
    }

    /// The job's latest dispute, if it was ever challenged.
    pub async fn dispute(&self, job_id: u64) -> Result<Option<Dispute>, ApiError> {
        let query = QueryMsg::Dispute { job_id };
        match self
            .chain
            .query(&self.deployment.market.address, &query)
            .await
        {
            Ok(d) => Ok(Some(d)),
            Err(ClientError::Contract { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn model(&self, model_id: &str) -> Result<ModelInfo, ApiError> {
        jobs::model_info(&self.chain, &self.deployment, model_id)
            .await
            .map_err(|e| {
                if refused(&e) {
                    ApiError::UnknownModel(format!(
                        "no model {model_id} is registered; GET /v1/models lists them"
                    ))
                } else {
                    e.into()
                }
            })
    }

    /// Every registered model, page by page.
    pub async fn models(&self) -> Result<Vec<ModelInfo>, ApiError> {
        let mut all = Vec::new();
        loop {
            let query = QueryMsg::Models {
                start_after: all.last().map(|m: &ModelInfo| m.model_id.clone()),
                limit: Some(PAGE),
            };
            let page: ModelsResponse = self
                .chain
                .query(&self.deployment.market.address, &query)
                .await?;
            let done = page.models.len() < PAGE as usize;
            all.extend(page.models);
            if done {
                return Ok(all);
            }
        }
    }

    /// A model by id, by the name the deployment gave it, or by its spec's name.
    pub async fn find_model(&self, name_or_id: &str) -> Result<ModelInfo, ApiError> {
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
