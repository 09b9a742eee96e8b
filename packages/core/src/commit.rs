//! Commitments: activation hashes, the weights Merkle tree and `model_id`.
//!
//! Every hash is sha256 over a domain tag and length-prefixed fields (integers big-endian),
//! so an activation, a leaf and an inner node can never be mistaken for one another.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ProofError;
use crate::spec::ModelSpec;

pub type Hash = [u8; 32];

const ACT_TAG: &[u8] = b"tavdun/act/v1";
const LEAF_TAG: &[u8] = b"tavdun/leaf/v1";
const NODE_TAG: &[u8] = b"tavdun/node/v1";

/// `h_k = sha256("tavdun/act/v1" || k || len || bytes)`; `k = 0` is the job input.
pub fn activation_hash(k: u32, bytes: &[i8]) -> Hash {
    let mut h = Sha256::new();
    h.update(ACT_TAG);
    h.update(k.to_be_bytes());
    h.update((bytes.len() as u32).to_be_bytes());
    for chunk in bytes.chunks(4096) {
        h.update(crate::bytes::from_i8(chunk));
    }
    h.finalize().into()
}

/// `[h_1 .. h_n]` for the activations a forward pass returned (layer outputs, in order).
pub fn activation_hashes(activations: &[Vec<i8>]) -> Vec<Hash> {
    activations
        .iter()
        .enumerate()
        .map(|(i, a)| activation_hash(i as u32 + 1, a))
        .collect()
}

/// `model_id = sha256(canonical spec || weights_root)`.
pub fn model_id(spec: &ModelSpec, weights_root: &Hash) -> Hash {
    model_id_of(&spec.canonical_json(), weights_root)
}

/// `sha256(canonical spec bytes || weights_root)`, for a spec of either version.
pub fn model_id_of(canonical_spec: &[u8], weights_root: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(canonical_spec);
    h.update(weights_root);
    h.finalize().into()
}

/// One leaf of the weights tree: output unit `unit` of layer `layer` (a dense row or a conv
/// filter, flattened `[channels, k, k]`) and its bias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Leaf {
    pub layer: u32,
    pub unit: u32,
    pub weights: Vec<i8>,
    pub bias: i32,
}

impl Leaf {
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(LEAF_TAG);
        h.update(self.layer.to_be_bytes());
        h.update(self.unit.to_be_bytes());
        h.update((self.weights.len() as u32).to_be_bytes());
        h.update(crate::bytes::from_i8(&self.weights));
        h.update(self.bias.to_be_bytes());
        h.finalize().into()
    }
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(NODE_TAG);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A binary Merkle tree over leaf hashes. A level with an odd count promotes its last node
/// unchanged (no duplication, so no two leaf lists share a root).
#[derive(Debug, Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

/// Inclusion proof of leaf `index`: the sibling hashes from the leaf up, skipping levels where
/// the node was promoted. The tree size is not part of the proof: the verifier takes it from
/// the model's plan, so a prover cannot pick one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Proof {
    pub index: u32,
    /// Hex-encoded sibling hashes.
    pub siblings: Vec<HexHash>,
}

/// A 32-byte hash written as 64 lowercase hex digits in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HexHash(pub Hash);

impl Serialize for HexHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = alloc::string::String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(HexHash(out))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for HexHash {
    fn schema_name() -> alloc::string::String {
        "HexHash".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        <alloc::string::String as schemars::JsonSchema>::json_schema(gen)
    }
}

impl MerkleTree {
    pub fn new(leaf_hashes: Vec<Hash>) -> MerkleTree {
        let mut levels = alloc::vec![leaf_hashes];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = &levels[levels.len() - 1];
            let above = below
                .chunks(2)
                .filter_map(|pair| match pair {
                    [l, r] => Some(node(l, r)),
                    [only] => Some(*only),
                    _ => None,
                })
                .collect();
            levels.push(above);
        }
        MerkleTree { levels }
    }

    /// The root; for an empty tree, the hash of nothing under the node tag.
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|l| l.first()) {
            Some(root) => *root,
            None => Sha256::digest(NODE_TAG).into(),
        }
    }

    /// The nodes `k` levels above the leaves: the roots of the aligned runs of `2^k` leaves
    /// (the last run may be shorter), in order. The tree of this list has the same root,
    /// since every level pairs its nodes the same way; past the top, the root alone.
    pub fn level(&self, k: u32) -> &[Hash] {
        let top = self.levels.len() - 1;
        &self.levels[(k as usize).min(top)]
    }

    /// The leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        &self.levels[0]
    }

    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    pub fn proof(&self, index: u32) -> Option<Proof> {
        let leaves = self.len();
        if index as usize >= leaves {
            return None;
        }
        let mut siblings = Vec::new();
        let mut i = index as usize;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(s) = level.get(i ^ 1) {
                siblings.push(HexHash(*s));
            }
            i /= 2;
        }
        Some(Proof { index, siblings })
    }
}

impl Proof {
    /// [`Proof::verify`] of a proof that must be of position `index`: a proof of another
    /// position is refused even where it would hold (the position is the caller's claim,
    /// whether or not the leaf hash also names it).
    pub fn verify_at(
        &self,
        index: u32,
        root: &Hash,
        leaf: &Hash,
        leaves: u32,
    ) -> Result<(), ProofError> {
        if self.index != index {
            return Err(ProofError::RootMismatch);
        }
        self.verify(root, leaf, leaves)
    }

    /// Checks that `leaf` sits at `self.index` of the tree of `leaves` leaves whose root is
    /// `root`. Work is bounded by the tree's depth (at most 32 steps for a `u32` size).
    pub fn verify(&self, root: &Hash, leaf: &Hash, leaves: u32) -> Result<(), ProofError> {
        if self.index >= leaves {
            return Err(ProofError::IndexOutOfRange {
                index: self.index,
                leaves,
            });
        }
        let expected = proof_len(self.index, leaves);
        if self.siblings.len() != expected {
            return Err(ProofError::Length {
                index: self.index,
                leaves,
                found: self.siblings.len(),
                expected,
            });
        }
        let mut acc = *leaf;
        let mut siblings = self.siblings.iter();
        let (mut i, mut n) = (self.index, leaves);
        while n > 1 {
            if (i ^ 1) < n {
                // `proof_len` counted exactly these steps, so a sibling is always there.
                let Some(HexHash(s)) = siblings.next() else {
                    return Err(ProofError::RootMismatch);
                };
                acc = if i % 2 == 0 {
                    node(&acc, s)
                } else {
                    node(s, &acc)
                };
            }
            i /= 2;
            n = n.div_ceil(2);
        }
        if &acc == root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        }
    }
}

/// Number of siblings on the path of leaf `index` in a tree of `leaves` leaves.
fn proof_len(mut index: u32, mut leaves: u32) -> usize {
    let mut len = 0;
    while leaves > 1 {
        if (index ^ 1) < leaves {
            len += 1;
        }
        index /= 2;
        leaves = leaves.div_ceil(2);
    }
    len
}

const TRACE_TAG: &[u8] = b"tavdun/trace/v1";
const RESULT_TAG: &[u8] = b"tavdun/result/v1";
const CHALLENGE_TAG: &[u8] = b"tavdun/challenge/v1";

/// `sha256("tavdun/trace/v1" || h_1 || ... || h_k)`: the hashes of every layer but the last,
/// which a worker posts so that its result stays one commitment whatever the depth.
pub fn trace_prefix(hashes: &[Hash]) -> Hash {
    let mut h = Sha256::new();
    h.update(TRACE_TAG);
    for x in hashes {
        h.update(x);
    }
    h.finalize().into()
}

/// A result's commitment to `[h_1 .. h_n]`:
/// `sha256("tavdun/result/v1" || u32be(n) || trace_prefix(h_1 .. h_{n-1}) || h_n)`. The
/// contract computes `h_n` from the posted output itself, so the output is bound to the
/// commitment without the list travelling.
pub fn result_commitment(layers: u32, prefix: &Hash, last: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(RESULT_TAG);
    h.update(layers.to_be_bytes());
    h.update(prefix);
    h.update(last);
    h.finalize().into()
}

/// [`result_commitment`] of a whole list; `None` for an empty one.
pub fn hashes_commitment(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(result_commitment(
        hashes.len() as u32,
        &trace_prefix(rest),
        last,
    ))
}

/// What a challenger commits to before showing its hashes:
/// `sha256("tavdun/challenge/v1" || u32be(len) || challenger || u64be(job_id) ||
/// hashes_commitment(hashes) || salt)`. The challenger's address is inside, so nobody else
/// can open it.
pub fn challenge_commitment(challenger: &str, job_id: u64, hashes: &[Hash], salt: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(CHALLENGE_TAG);
    h.update((challenger.len() as u32).to_be_bytes());
    h.update(challenger.as_bytes());
    h.update(job_id.to_be_bytes());
    h.update(hashes_commitment(hashes).unwrap_or([0; 32]));
    h.update(salt);
    h.finalize().into()
}

const SALT_TAG: &[u8] = b"tavdun/salt/v1";

/// The salt a challenger uses for a job's result: derived rather than random, so that a
/// restarted verifier can still open what it committed. It need not be secret: what keeps a
/// challenge from being copied is the challenger's address inside the commitment and the
/// order in which commitments land, not the salt.
pub fn challenge_salt(challenger: &str, job_id: u64, result: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(SALT_TAG);
    h.update((challenger.len() as u32).to_be_bytes());
    h.update(challenger.as_bytes());
    h.update(job_id.to_be_bytes());
    h.update(result);
    h.finalize().into()
}
