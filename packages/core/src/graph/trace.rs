//! Commitments of version 2: each node's output is a Merkle tree of its rows, and a result
//! commits to the job input and the list of node roots through one trace root.
//!
//! - row leaf: `sha256("tavdun/row/v2" || u32be(node) || u32be(row) || u32be(len) || values)`,
//!   each value big-endian in its node's type (1 byte for int8, 2 for int16);
//! - node root: the version 1 Merkle tree ([`MerkleTree`]) over the row leaves, in row order;
//! - input hash: `sha256("tavdun/input/v2" || u32be(n) || ids as u32be || mask bytes)`;
//! - trace root: `sha256("tavdun/trace/v2" || input hash || u32be(count) || node roots)`.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::exec::{TokenInput, Trace};
use super::spec::DType;
use crate::commit::{Hash, MerkleTree, Proof};

const ROW_TAG: &[u8] = b"tavdun/row/v2";
const INPUT_TAG: &[u8] = b"tavdun/input/v2";
const TRACE_TAG: &[u8] = b"tavdun/trace/v2";

/// The leaf hash of row `row` of node `node`. Values are within `dtype`'s range (checked by
/// whoever built them), so the narrowing below is exact. They come as a trace holds them
/// (`i16`) or as they travel on chain (`i32`).
pub fn row_hash<V: RowValue>(node: u32, row: u32, dtype: DType, values: &[V]) -> Hash {
    let mut h = Sha256::new();
    h.update(ROW_TAG);
    h.update(node.to_be_bytes());
    h.update(row.to_be_bytes());
    h.update((values.len() as u32).to_be_bytes());
    h.update(encode_values(dtype, values));
    h.finalize().into()
}

/// Values of a node's type as bytes: one per int8, two big-endian per int16 (the bytes a row
/// leaf hashes, and how a result's output and a revealed row travel on chain). Values are
/// within `dtype`'s range (checked by whoever built them), so the narrowing is exact.
pub fn encode_values<V: RowValue>(dtype: DType, values: &[V]) -> Vec<u8> {
    match dtype {
        DType::I8 => values.iter().map(|&v| v.into() as i8 as u8).collect(),
        DType::I16 => values
            .iter()
            .flat_map(|&v| (v.into() as i16).to_be_bytes())
            .collect(),
    }
}

/// A trace's values (rows, runs) as the `i32` a row travels as and core's arithmetic takes.
pub fn widened(values: &[i16]) -> Vec<i32> {
    values.iter().map(|&v| i32::from(v)).collect()
}

/// A node's value as a trace holds it (`i16`, which every node type fits) or as a row travels
/// on chain (`i32`).
pub trait RowValue: Copy + Into<i32> {}

impl RowValue for i16 {}
impl RowValue for i32 {}

/// The inverse of [`encode_values`]; `None` when the length is not a whole number of values.
pub fn decode_values(dtype: DType, bytes: &[u8]) -> Option<Vec<i32>> {
    match dtype {
        DType::I8 => Some(bytes.iter().map(|&b| i32::from(b as i8)).collect()),
        DType::I16 => bytes.len().is_multiple_of(2).then(|| {
            bytes
                .chunks_exact(2)
                .map(|c| i32::from(i16::from_be_bytes([c[0], c[1]])))
                .collect()
        }),
    }
}

/// A list of hashes as one byte string (32 bytes each): how node roots and row leaves travel
/// on chain, a third smaller than hex in JSON.
pub fn concat_hashes(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// The inverse of [`concat_hashes`]; `None` when the length is not a multiple of 32.
pub fn split_hashes(bytes: &[u8]) -> Option<Vec<Hash>> {
    bytes.len().is_multiple_of(32).then(|| {
        bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect()
    })
}

/// The row tree of one node's output.
pub fn node_tree<V: RowValue>(node: u32, dtype: DType, width: u32, values: &[V]) -> MerkleTree {
    run_tree(node, 0, dtype, width, values)
}

/// The tree of the rows `values` holds, the first of them row `first` of `node`. For a run
/// ([`run_len`]) its root is the run's root in the node's row tree.
pub fn run_tree<V: RowValue>(
    node: u32,
    first: u32,
    dtype: DType,
    width: u32,
    values: &[V],
) -> MerkleTree {
    let rows = values
        .chunks(width.max(1) as usize)
        .enumerate()
        .map(|(r, row)| row_hash(node, first + r as u32, dtype, row))
        .collect();
    MerkleTree::new(rows)
}

/// How many rows of a node a dispute shows together: a run of `2^k` rows that starts at a
/// multiple of `2^k`, whose root is a node `k` levels up in the node's row tree
/// ([`MerkleTree::level`]), so the tree of the run roots has the node's root. The challenger
/// shows one root per run (32 bytes each), the worker the values of the one run where the two
/// first differ (`row_bytes` a row); `k` makes the two together smallest (the shorter run on a
/// tie), which keeps both near `2 * sqrt(32 * rows * row_bytes)` bytes whatever the node's
/// shape: about 5 KB for a 128-token attention node of 1,536 rows of 128 int8 values, where
/// the rows' leaves alone would be 49 KB.
pub fn run_len(rows: u32, row_bytes: u32) -> u32 {
    let rows = u64::from(rows.max(1));
    let cost = |len: u64| rows.div_ceil(len) * 32 + len.min(rows) * u64::from(row_bytes);
    let (mut best, mut len) = (1u64, 2u64);
    // At most 33 steps: `len` doubles up to the first power of two that covers every row.
    while len / 2 < rows {
        if cost(len) < cost(best) {
            best = len;
        }
        len *= 2;
    }
    best as u32
}

pub fn input_hash(input: &TokenInput) -> Hash {
    let mut h = Sha256::new();
    h.update(INPUT_TAG);
    h.update((input.ids.len() as u32).to_be_bytes());
    for id in &input.ids {
        h.update(id.to_be_bytes());
    }
    h.update(&input.mask);
    h.finalize().into()
}

pub fn trace_root(input: &TokenInput, node_roots: &[Hash]) -> Hash {
    let mut h = Sha256::new();
    h.update(TRACE_TAG);
    h.update(input_hash(input));
    h.update((node_roots.len() as u32).to_be_bytes());
    for root in node_roots {
        h.update(root);
    }
    h.finalize().into()
}

/// The first node whose roots differ: every input of that node is an earlier node, whose
/// roots agree, so the dispute is about that node's op alone. `None` when the lists agree
/// (lists of different lengths differ at the shorter one's end).
pub fn first_divergence(ours: &[Hash], theirs: &[Hash]) -> Option<usize> {
    ours.iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .or_else(|| (ours.len() != theirs.len()).then(|| ours.len().min(theirs.len())))
}

/// One row of one node, with its Merkle proof against that node's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProvenRow {
    pub node: u32,
    pub row: u32,
    pub values: Vec<i32>,
    pub proof: Proof,
}

impl Trace {
    /// Every node's row tree, in node order.
    pub fn node_trees(&self) -> Vec<MerkleTree> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, t)| node_tree(i as u32, t.dtype, t.width, &t.values))
            .collect()
    }

    pub fn node_roots(&self) -> Vec<Hash> {
        self.node_trees().iter().map(MerkleTree::root).collect()
    }

    /// The roots of node `node`'s runs ([`run_len`]): what a challenger of that node shows.
    pub fn node_runs(&self, trees: &[MerkleTree], node: usize) -> Option<Vec<Hash>> {
        let k = self.nodes.get(node)?.run_len().trailing_zeros();
        Some(trees.get(node)?.level(k).to_vec())
    }

    /// Row `row` of node `node` with its proof; `None` out of range.
    pub fn proven_row(&self, trees: &[MerkleTree], node: usize, row: u32) -> Option<ProvenRow> {
        let t = self.nodes.get(node)?;
        Some(ProvenRow {
            node: node as u32,
            row,
            values: widened(t.row(row)?),
            proof: trees.get(node)?.proof(row)?,
        })
    }

    /// This trace with one element of `node` (a third of the way in) moved to the far end of
    /// its type's range, so it certainly differs, and every other node as it was: what a
    /// worker that lies at that node posts (fault injection, tests of the dispute game).
    /// Deterministic, so a liar reveals the very rows it committed to. `None` out of range.
    pub fn with_wrong_element(&self, node: u32) -> Option<Trace> {
        let mut lie = self.clone();
        let t = lie.nodes.get_mut(node as usize)?;
        let at = t.values.len() / 3;
        let v = t.values.get_mut(at)?;
        // Both ends of either type fit `i16`.
        *v = if *v > 0 { t.dtype.min() } else { t.dtype.max() } as i16;
        Some(lie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_hashes_round_trip_through_their_bytes() {
        let i16s = [i32::from(i16::MIN), -1, 0, 1, i32::from(i16::MAX)];
        let bytes = encode_values(DType::I16, &i16s);
        assert_eq!(bytes.len(), 10);
        assert_eq!(
            decode_values(DType::I16, &bytes).as_deref(),
            Some(&i16s[..])
        );
        assert_eq!(decode_values(DType::I16, &bytes[..9]), None);
        let i8s = [-128, -1, 0, 127];
        assert_eq!(
            decode_values(DType::I8, &encode_values(DType::I8, &i8s)).as_deref(),
            Some(&i8s[..])
        );
        let hashes = [[1u8; 32], [2u8; 32]];
        let joined = concat_hashes(&hashes);
        assert_eq!(split_hashes(&joined).as_deref(), Some(&hashes[..]));
        assert_eq!(split_hashes(&joined[1..]), None);
    }

    #[test]
    fn a_levels_nodes_are_the_roots_of_its_runs_and_make_the_same_root() {
        for n in [0usize, 1, 2, 3, 5, 8, 13, 16, 17, 31, 40] {
            let leaves: Vec<Hash> = (0..n).map(|i| [i as u8; 32]).collect();
            let tree = MerkleTree::new(leaves.clone());
            for k in 0..7u32 {
                let level = tree.level(k);
                assert_eq!(
                    MerkleTree::new(level.to_vec()).root(),
                    tree.root(),
                    "n {n} k {k}"
                );
                if n > 0 {
                    let len = 1usize << k;
                    assert_eq!(level.len(), n.div_ceil(len), "n {n} k {k}");
                    for (i, root) in level.iter().enumerate() {
                        let run = &leaves[i * len..((i + 1) * len).min(n)];
                        assert_eq!(
                            *root,
                            MerkleTree::new(run.to_vec()).root(),
                            "n {n} k {k} run {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn runs_balance_the_challengers_roots_against_the_revealed_rows() {
        // MiniLM's attention scores at 128 tokens: 12 heads x 128 rows of 128 int8 values.
        assert_eq!(run_len(1_536, 128), 16);
        // Its feed-forward product at 128 tokens: 128 rows of 1,536 int8 values.
        assert_eq!(run_len(128, 1_536), 2);
        // Rows wider than 32 rows' roots: one row at a time, as before.
        assert_eq!(run_len(8, 4_096), 1);
        assert_eq!(run_len(1, 1), 1);
        assert_eq!(run_len(0, 1), 1);
        // Tiny rows: one run holds the whole node.
        assert_eq!(run_len(5, 1), 8);
        for rows in [1u32, 7, 100, 1_536, 65_536] {
            for row_bytes in [1u32, 16, 128, 1_536, 8_192] {
                let len = run_len(rows, row_bytes);
                assert!(len.is_power_of_two());
                let bytes = |len: u32| rows.div_ceil(len) * 32 + len.min(rows) * row_bytes;
                assert!(bytes(len) <= bytes(1), "rows {rows} x {row_bytes} B: {len}");
            }
        }
    }

    #[test]
    fn a_wrong_element_changes_only_its_node() {
        let model = crate::synthetic::random_encoder(5).unwrap();
        let input = crate::synthetic::random_token_input(&model.plan, 5);
        let honest = crate::graph::forward(&model, &input).unwrap();
        let lie = honest.with_wrong_element(2).unwrap();
        assert_eq!(
            first_divergence(&honest.node_roots(), &lie.node_roots()),
            Some(2)
        );
        assert_eq!(
            lie.nodes
                .iter()
                .zip(&honest.nodes)
                .filter(|(a, b)| a != b)
                .count(),
            1
        );
        assert_eq!(
            lie,
            honest.with_wrong_element(2).unwrap(),
            "the same lie each time"
        );
        assert!(honest
            .with_wrong_element(honest.nodes.len() as u32)
            .is_none());
    }
}
