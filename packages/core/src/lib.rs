//! Tavdun core: the single source of truth for what a model computes.
//!
//! - [`spec`]: the version 1 model spec (`spec.json`), its canonical form and its validation;
//! - [`graph`]: version 2, graph models over token sequences (transformers): spec, integer
//!   ops, row commitments and the one-step check;
//! - [`any_spec`]: a spec of either version, by its `version` field;
//! - [`weights`]: weights checked against a spec, and the `weights.safetensors` format;
//! - [`exec`]: the integer reference executor and the one-step check [`exec::eval_unit`];
//! - [`commit`]: activation hashes, the weights Merkle tree and `model_id`.
//!
//! No I/O and no floating point on the verification path (clients' [`spec::InputQuant`] takes
//! `f32` inputs but quantises them exactly in integers); builds for `wasm32-unknown-unknown`.
// schemars derives name `std` and prelude types, so the schema feature (off chain, and in
// contracts, which link std anyway) builds with std.
#![cfg_attr(not(feature = "schema"), no_std)]
extern crate alloc;

pub mod any_spec;
pub mod bytes;
pub mod commit;
pub mod error;
pub mod exec;
pub mod graph;
pub mod quant;
pub mod spec;
pub mod synthetic;
pub mod weights;

pub use any_spec::{AnySpec, AnySpecError};
pub use commit::{
    activation_hash, activation_hashes, model_id, model_id_of, Hash, HexHash, Leaf, MerkleTree,
    Proof,
};
pub use error::{EvalError, Loc, ModelError, ProofError, SpecError, WeightsError};
pub use exec::{eval_unit, forward, requantize};
pub use spec::{InputQuant, InputSpec, Layer, LayerPlan, ModelSpec, Plan, Shape, SPEC_VERSION};
pub use weights::{LayerWeights, Model};

impl Model {
    /// The weights tree of this model: one leaf per (layer, output unit), in tree order.
    pub fn weights_tree(&self) -> MerkleTree {
        MerkleTree::new(self.leaves().map(|l| l.hash()).collect())
    }

    /// `sha256(canonical spec || weights_root)`.
    pub fn id(&self) -> Hash {
        model_id(&self.spec, &self.weights_tree().root())
    }
}
