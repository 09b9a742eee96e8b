//! Models the node serves, of either spec version: weights fetched by URI, verified against
//! the weights root the market registered, cached on disk under that root, and loaded on the
//! engine once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tavdun_core::graph::{GraphModel, TokenInput, Trace};
use tavdun_core::{Hash, HexHash, Leaf, MerkleTree, Model, Proof};
use tavdun_engine::{Activations, Engine, LoadedGraph, LoadedModel};
use tavdun_sdk::MarketClient;
use tracing::info;

use crate::error::{Result, WorkerError};
use crate::fetch::Fetcher;

pub struct ServedModel {
    model: Model,
    tree: MerkleTree,
    loaded: LoadedModel,
}

impl ServedModel {
    /// Every layer's output for each input, on the engine. The engine blocks its thread for
    /// the whole batch, so the runtime is told to move other tasks (metrics, signals) away.
    pub fn run(&self, inputs: &[Vec<i8>]) -> Result<Vec<Activations>> {
        Ok(tokio::task::block_in_place(|| self.loaded.run(inputs))?)
    }

    /// The Merkle leaf behind output `unit` of 1-based `layer` and its proof against the
    /// weights root; `None` for layers without weights.
    pub fn leaf_and_proof(&self, layer: u32, unit: u32) -> Option<(Leaf, Proof)> {
        let core_layer = layer.checked_sub(1)? as usize;
        let leaf_unit = self.model.plan.leaf_unit(core_layer, unit)?;
        let index = self.model.plan.leaf_index(core_layer, leaf_unit)?;
        Some((
            self.model.leaf(core_layer, leaf_unit)?,
            self.tree.proof(index)?,
        ))
    }
}

/// A graph (version 2) model: the model itself (a dispute's witness is proven against its
/// weights), its weights tree, and its copy on the engine.
pub struct ServedGraph {
    pub model: GraphModel,
    pub weights_tree: MerkleTree,
    loaded: LoadedGraph,
}

impl ServedGraph {
    /// Every node's output for each job, on the engine (which blocks its thread, as
    /// [`ServedModel::run`] says).
    pub fn run(&self, inputs: &[TokenInput]) -> Result<Vec<Trace>> {
        Ok(tokio::task::block_in_place(|| self.loaded.run(inputs))?)
    }
}

/// A served model of either version.
#[derive(Clone)]
pub enum Served {
    Chain(Arc<ServedModel>),
    Graph(Arc<ServedGraph>),
}

pub struct ModelStore {
    engine: Engine,
    fetcher: Fetcher,
    cache_dir: PathBuf,
    models: HashMap<String, Served>,
}

impl ModelStore {
    pub fn new(engine: Engine, fetcher: Fetcher, cache_dir: PathBuf) -> ModelStore {
        ModelStore {
            engine,
            fetcher,
            cache_dir,
            models: HashMap::new(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The model, loaded on first use: a version 1 model if the market has one of this id,
    /// else a graph model.
    pub async fn get(&mut self, market: &MarketClient, model_id: &str) -> Result<Served> {
        if let Some(m) = self.models.get(model_id) {
            return Ok(m.clone());
        }
        let served = match market.model(model_id).await? {
            Some(info) => {
                let model = self
                    .weights(model_id, &info.weights_root, &info.weights_uri, |bytes| {
                        let plan = info.spec.validate().map_err(|e| e.to_string())?;
                        let model = Model::from_safetensors(info.spec.clone(), plan, bytes)
                            .map_err(|e| e.to_string())?;
                        let root = model.weights_tree().root();
                        Ok((model, root))
                    })
                    .await?;
                let loaded = self.engine.load(&model)?;
                log_loaded(&info.spec.name, model_id, loaded.load_time());
                Served::Chain(Arc::new(ServedModel {
                    tree: model.weights_tree(),
                    model,
                    loaded,
                }))
            }
            None => {
                let info = market.require_graph_model(model_id).await?;
                let model = self
                    .weights(model_id, &info.weights_root, &info.weights_uri, |bytes| {
                        let plan = info.spec.validate().map_err(|e| e.to_string())?;
                        let model = GraphModel::from_safetensors(info.spec.clone(), plan, bytes)
                            .map_err(|e| e.to_string())?;
                        let root = model.weights_tree().root();
                        Ok((model, root))
                    })
                    .await?;
                let loaded = self.engine.load_graph(&model)?;
                log_loaded(&info.spec.name, model_id, loaded.load_time());
                Served::Graph(Arc::new(ServedGraph {
                    weights_tree: model.weights_tree(),
                    model,
                    loaded,
                }))
            }
        };
        self.models.insert(model_id.to_string(), served.clone());
        Ok(served)
    }

    /// A version 1 model; an error if `model_id` is a graph model.
    pub async fn chain(
        &mut self,
        market: &MarketClient,
        model_id: &str,
    ) -> Result<Arc<ServedModel>> {
        match self.get(market, model_id).await? {
            Served::Chain(m) => Ok(m),
            Served::Graph(_) => Err(WorkerError::Model {
                model_id: model_id.to_string(),
                reason: "a graph model, not a version 1 model".into(),
            }),
        }
    }

    /// A graph model; an error if `model_id` is a version 1 model.
    pub async fn graph(
        &mut self,
        market: &MarketClient,
        model_id: &str,
    ) -> Result<Arc<ServedGraph>> {
        match self.get(market, model_id).await? {
            Served::Graph(m) => Ok(m),
            Served::Chain(_) => Err(WorkerError::Model {
                model_id: model_id.to_string(),
                reason: "a version 1 model, not a graph model".into(),
            }),
        }
    }

    /// Weights whose Merkle root is the registered one, from the cache or the model's URI:
    /// `parse` reads a model from the bytes and returns it with its weights root.
    async fn weights<M>(
        &self,
        model_id: &str,
        root: &HexHash,
        uri: &str,
        parse: impl Fn(&[u8]) -> std::result::Result<(M, Hash), String>,
    ) -> Result<M> {
        let cached = self
            .cache_dir
            .join(format!("{}.safetensors", hex::encode(root.0)));
        let verified = |bytes: &[u8]| -> Result<M> {
            let (model, found) = parse(bytes).map_err(|reason| WorkerError::Model {
                model_id: model_id.to_string(),
                reason,
            })?;
            if found != root.0 {
                return Err(WorkerError::WeightsMismatch {
                    model_id: model_id.to_string(),
                    uri: uri.to_string(),
                });
            }
            Ok(model)
        };
        // A cache entry that no longer verifies (disk damage, a hand edit) is fetched again.
        if let Ok(bytes) = tokio::fs::read(&cached).await {
            if let Ok(model) = verified(&bytes) {
                return Ok(model);
            }
        }
        let bytes = self.fetcher.get(uri).await?;
        let model = verified(&bytes)?;
        cache_file(&cached, &bytes)
            .await
            .map_err(|source| WorkerError::Io {
                what: format!("caching weights in {}", self.cache_dir.display()),
                source,
            })?;
        info!(model_id, uri, "weights fetched and verified");
        Ok(model)
    }
}

fn log_loaded(name: &str, model_id: &str, load_time: std::time::Duration) {
    info!(
        model = %name,
        model_id,
        load_ms = load_time.as_millis() as u64,
        "model loaded on the engine"
    );
}

/// Writes `bytes` to `path` whole or not at all: through a temporary file beside it, renamed
/// into place, and removed when the write fails (a full disk would otherwise keep a partial
/// file, and the space it took, for good).
async fn cache_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension("tmp");
    let written = match tokio::fs::write(&tmp, bytes).await {
        Ok(()) => tokio::fs::rename(&tmp, path).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

#[cfg(test)]
mod tests {
    use super::cache_file;

    #[tokio::test]
    async fn a_failed_cache_write_leaves_no_file_behind() {
        let dir = std::env::temp_dir().join(format!("tavdun-cache-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("root.safetensors");
        cache_file(&path, b"weights").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"weights");
        assert!(!path.with_extension("tmp").exists());

        // A write that fails half way (here the rename, onto a directory that is not
        // empty): the cache keeps nothing of it.
        let blocked = dir.join("blocked.safetensors");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(cache_file(&blocked, b"weights").await.is_err());
        assert!(
            !blocked.with_extension("tmp").exists(),
            "the partial file is gone"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
