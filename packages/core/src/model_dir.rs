//! A model directory, as shipped under `models/` and written by the model tools:
//! `spec.json` in its canonical form (so the file's bytes are what `model_id` hashes) and
//! `weights.safetensors`. The one reader and writer of that layout, for every program that
//! touches model files (feature `files`; the contract has no files).

use std::path::{Path, PathBuf};
use std::vec::Vec;

use crate::any_spec::{AnySpec, AnySpecError};
use crate::graph::{GraphModel, GraphModelError};
use crate::{Model, ModelError};

pub const SPEC_FILE: &str = "spec.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Why a model directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelDirError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the model in {dir} is not valid: {source}")]
    Model {
        dir: PathBuf,
        #[source]
        source: ModelError,
    },
    #[error("the spec in {dir} is not valid: {source}")]
    Spec {
        dir: PathBuf,
        #[source]
        source: AnySpecError,
    },
    #[error("the graph model in {dir} is not valid: {source}")]
    GraphModel {
        dir: PathBuf,
        #[source]
        source: GraphModelError,
    },
}

/// Where the weights of the model in `dir` are.
pub fn weights_path(dir: &Path) -> PathBuf {
    dir.join(WEIGHTS_FILE)
}

/// The version 1 model in `dir`, its weights checked against its spec.
pub fn load_model(dir: &Path) -> Result<Model, ModelDirError> {
    let (spec, weights) = read_files(dir)?;
    Model::load(&spec, &weights).map_err(|source| ModelDirError::Model {
        dir: dir.to_path_buf(),
        source,
    })
}

/// The graph (version 2) model in `dir`, its weights checked against its spec.
pub fn load_graph_model(dir: &Path) -> Result<GraphModel, ModelDirError> {
    let (spec, weights) = read_files(dir)?;
    GraphModel::load(&spec, &weights).map_err(|source| ModelDirError::GraphModel {
        dir: dir.to_path_buf(),
        source,
    })
}

/// A model directory of either spec version.
pub enum AnyModel {
    Chain(Model),
    Graph(GraphModel),
}

impl AnyModel {
    pub fn name(&self) -> &str {
        match self {
            AnyModel::Chain(m) => &m.spec.name,
            AnyModel::Graph(m) => &m.spec.name,
        }
    }

    pub fn id(&self) -> crate::Hash {
        match self {
            AnyModel::Chain(m) => m.id(),
            AnyModel::Graph(m) => m.id(),
        }
    }
}

/// The model in `dir`, of the version its `spec.json` names.
pub fn load_any(dir: &Path) -> Result<AnyModel, ModelDirError> {
    let (spec, weights) = read_files(dir)?;
    let model_err = |source: ModelError| ModelDirError::Model {
        dir: dir.to_path_buf(),
        source,
    };
    let graph_err = |source: GraphModelError| ModelDirError::GraphModel {
        dir: dir.to_path_buf(),
        source,
    };
    match AnySpec::from_json(&spec).map_err(|source| ModelDirError::Spec {
        dir: dir.to_path_buf(),
        source,
    })? {
        AnySpec::V1 { spec, plan } => Model::from_safetensors(spec, plan, &weights)
            .map(AnyModel::Chain)
            .map_err(|e| model_err(e.into())),
        AnySpec::V2 { spec, plan } => GraphModel::from_safetensors(spec, plan, &weights)
            .map(AnyModel::Graph)
            .map_err(|e| graph_err(e.into())),
    }
}

/// Writes a version 1 model into `dir`, creating it if needed.
pub fn write_model(model: &Model, dir: &Path) -> Result<(), ModelDirError> {
    write_files(dir, &model.spec.canonical_json(), &model.to_safetensors())
}

/// Writes a graph model into `dir`, creating it if needed.
pub fn write_graph_model(model: &GraphModel, dir: &Path) -> Result<(), ModelDirError> {
    write_files(dir, &model.spec.canonical_json(), &model.to_safetensors())
}

fn read_files(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), ModelDirError> {
    let read =
        |path: PathBuf| std::fs::read(&path).map_err(|source| ModelDirError::Read { path, source });
    Ok((read(dir.join(SPEC_FILE))?, read(weights_path(dir))?))
}

fn write_files(dir: &Path, spec: &[u8], weights: &[u8]) -> Result<(), ModelDirError> {
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|source| ModelDirError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| ModelDirError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write(dir.join(SPEC_FILE), spec)?;
    write(weights_path(dir), weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_model_reads_back_and_a_missing_file_is_named() {
        let dir =
            std::env::temp_dir().join(std::format!("tavdun-model-dir-{}", std::process::id()));
        let model = crate::synthetic::random_model(7).unwrap();
        write_model(&model, &dir).unwrap();
        assert_eq!(load_model(&dir).unwrap().id(), model.id());
        assert!(matches!(load_any(&dir), Ok(AnyModel::Chain(m)) if m.id() == model.id()));
        std::fs::remove_file(weights_path(&dir)).unwrap();
        match load_model(&dir) {
            Err(ModelDirError::Read { path, .. }) => assert_eq!(path, weights_path(&dir)),
            other => panic!("expected a read error, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn either_version_loads_as_what_its_spec_says() {
        let dir =
            std::env::temp_dir().join(std::format!("tavdun-model-dir-any-{}", std::process::id()));
        let graph = crate::synthetic::random_encoder(3).unwrap();
        write_graph_model(&graph, &dir).unwrap();
        assert!(matches!(load_any(&dir), Ok(AnyModel::Graph(m)) if m.id() == graph.id()));
        std::fs::write(dir.join(SPEC_FILE), br#"{"version":7}"#).unwrap();
        assert!(matches!(load_any(&dir), Err(ModelDirError::Spec { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
