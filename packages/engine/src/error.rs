//! What can go wrong when choosing a device, loading a model or running a batch.

use tavdun_core::graph::GraphEvalError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    /// wgpu was required (`backend = wgpu`) but no adapter could be opened.
    #[error(
        "no wgpu adapter for {selector}: {reason}; install a Vulkan driver (Debian: \
         mesa-vulkan-drivers libvulkan1) or choose the CPU backend"
    )]
    NoAdapter { selector: String, reason: String },

    /// A configuration value (or the environment variable that set it) is not understood.
    #[error("invalid engine setting {field} = {value:?}: {expected}")]
    Config {
        field: &'static str,
        value: String,
        expected: &'static str,
    },

    /// A dense or conv layer came without weights (a `Model` built around its checks).
    #[error("layer {layer} has no weights")]
    MissingWeights { layer: usize },

    /// One job's input does not have the length the model's input shape asks for.
    #[error("job {job}: input has {found} bytes, the model takes {expected}")]
    InputLen {
        job: usize,
        found: usize,
        expected: usize,
    },

    /// The backend failed while running or reading back a batch.
    #[error("backend failure on {backend}: {message}")]
    Backend {
        backend: &'static str,
        message: String,
    },

    /// A read-back tensor held a value that no int8 layer can produce; the backend broke the
    /// exactness contract and its output must not be posted.
    #[error("layer {layer}: backend produced {value}, which is not an int8 integer")]
    NotInt8 { layer: usize, value: f32 },

    /// A graph node's weights are not of its op's kind (a `GraphModel` built around its
    /// checks).
    #[error("graph node {node}: weights do not fit its op")]
    GraphWeights { node: String },

    /// One job's token input does not fit the graph model (length, ids, mask).
    #[error("job {job}: {source}")]
    GraphInput {
        job: usize,
        #[source]
        source: GraphEvalError,
    },

    /// A node's read-back data does not have the batch's shape.
    #[error("graph node {node}: read-back failed: {reason}")]
    ReadBack { node: usize, reason: &'static str },

    /// A node's read-back value is outside its type: the backend broke the exactness contract
    /// and the trace must not be posted.
    #[error("graph node {node}: backend produced {value}, outside the node's type")]
    OutOfRange { node: usize, value: i32 },
}
