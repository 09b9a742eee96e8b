//! Tavdun's shipped models: the digits classifier (trained with burn, quantised to the spec)
//! and the seeded synthetic benchmark models. Binaries: `train-digits`
//! (feature `train`), `gen-synthetic`.

pub mod digits;
pub mod minilm;
pub mod quantize;
#[cfg(feature = "train")]
pub mod train;

use tavdun_core::graph::GraphModel;
use tavdun_core::Model;

/// The model id and weights root, hex-encoded, as the README and the chain show them.
pub fn describe(model: &Model) -> (String, String) {
    (
        hex::encode(model.id()),
        hex::encode(model.weights_tree().root()),
    )
}

/// A graph model's id and weights root, hex-encoded.
pub fn describe_graph(model: &GraphModel) -> (String, String) {
    (
        hex::encode(model.id()),
        hex::encode(model.weights_tree().root()),
    )
}
