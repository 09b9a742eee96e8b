//! Known-answer vectors of version 2: `vectors/kat-v2.json` holds a small encoder graph that
//! uses every op (embedding, add, dense, requantize, layer_norm, scores, softmax, transpose,
//! context, gelu, mean_pool, l2_norm), its weights, a job input, every node's output and row
//! root, the trace root, every weights leaf hash and root, the model id, and one one-step
//! check per node with its full witness. This test recomputes the file and fails on any
//! difference. Regenerate after a deliberate format change only:
//! `TAVDUN_BLESS=1 cargo test -p tavdun-core --test kat_v2`.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tavdun_core::graph::{
    forward, input_hash, prove_element, trace_root, verify_element, GraphModel, Mult, Op,
    TokenInput,
};
use tavdun_core::synthetic::{random_encoder, random_token_input};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/kat-v2.json");
const ALL_OPS: [&str; 12] = [
    "embedding",
    "add",
    "dense",
    "requantize",
    "layer_norm",
    "scores",
    "softmax",
    "transpose",
    "context",
    "gelu",
    "mean_pool",
    "l2_norm",
];

/// The first seeded encoder with every op, both int8-norm variants, per-column GELU and add
/// multipliers and two layers.
fn kat_model() -> (u64, GraphModel) {
    (1..)
        .map(|seed| (seed, random_encoder(seed).unwrap()))
        .find(|(_, m)| {
            let kinds: BTreeSet<&str> = m.spec.nodes.iter().map(|n| n.op.kind()).collect();
            let int8_norms = m
                .spec
                .nodes
                .iter()
                .filter(|n| {
                    matches!(
                        n.op,
                        Op::LayerNorm {
                            out: tavdun_core::graph::DType::I8,
                            ..
                        }
                    )
                })
                .count();
            let per_column_gelu = m.spec.nodes.iter().any(
                |n| matches!(&n.op, Op::Gelu { requant, .. } if requant.mult == Mult::PerUnit),
            );
            let per_column_add = m.spec.nodes.iter().any(|n| {
                matches!(
                    n.op,
                    Op::Add {
                        per_column: true,
                        ..
                    }
                )
            });
            kinds.len() == ALL_OPS.len()
                && int8_norms > 0
                && per_column_gelu
                && per_column_add
                && m.spec.nodes.len() > 30
        })
        .unwrap()
}

fn kat_input(m: &GraphModel) -> TokenInput {
    // A full-length input with one padded token, so the mask matters.
    let mut input = (0..)
        .map(|s| random_token_input(&m.plan, s))
        .find(|i| i.ids.len() == m.plan.max_tokens as usize)
        .unwrap();
    input.mask = vec![1; input.ids.len()];
    let last = input.mask.len() - 1;
    input.mask[last] = 0;
    input
}

fn generate() -> Value {
    let (seed, m) = kat_model();
    let input = kat_input(&m);
    let trace = forward(&m, &input).unwrap();
    let wtree = m.weights_tree();
    let trees = trace.node_trees();
    let roots: Vec<_> = trees.iter().map(|t| t.root()).collect();
    let nodes: Vec<Value> = m
        .spec
        .nodes
        .iter()
        .zip(&trace.nodes)
        .zip(&roots)
        .map(|((n, t), root)| {
            json!({"name": n.name, "op": n.op.kind(), "rows": t.rows, "width": t.width,
                   "values": t.values, "root": hex::encode(root)})
        })
        .collect();
    let leaves: Vec<String> = m.leaves().map(|l| hex::encode(l.hash())).collect();
    let checks: Vec<Value> = (0..trace.nodes.len())
        .map(|node| {
            let t = &trace.nodes[node];
            let (row, col) = (t.rows / 2, t.width / 2);
            let w =
                prove_element(&m, &wtree, &input, &trace, &trees, node as u32, row, col).unwrap();
            let value = verify_element(
                &m.spec,
                &m.plan,
                &wtree.root(),
                &input,
                &roots,
                node as u32,
                row,
                col,
                &w,
            )
            .unwrap();
            json!({"node": node, "row": row, "col": col, "value": value, "witness": w})
        })
        .collect();
    json!({
        "format": "tavdun-kat/v2",
        "generator": {"random_encoder_seed": seed},
        "rules": {
            "row_hash": "sha256(\"tavdun/row/v2\" || u32be(node) || u32be(row) || u32be(len) || values big-endian in the node's type)",
            "node_root": "Merkle root of the node's row hashes, inner nodes as in v1 (\"tavdun/node/v1\", odd node promoted)",
            "input_hash": "sha256(\"tavdun/input/v2\" || u32be(n) || ids as u32be || mask bytes)",
            "trace_root": "sha256(\"tavdun/trace/v2\" || input_hash || u32be(count) || node roots)",
            "leaf_hash": "sha256(\"tavdun/leaf/v2\" || u32be(node) || u32be(unit) || u32be(len) || weights || u32be(len) || params as i32be)",
            "model_id": "sha256(canonical spec JSON || weights_root)",
            "ops": "packages/core/README.md, section Version 2"
        },
        "spec": m.spec,
        "spec_canonical": String::from_utf8(m.spec.canonical_json()).unwrap(),
        "weights_safetensors_hex": hex::encode(m.to_safetensors()),
        "leaves": leaves,
        "weights_root": hex::encode(wtree.root()),
        "model_id": hex::encode(m.id()),
        "input": {"ids": input.ids, "mask": input.mask, "hash": hex::encode(input_hash(&input))},
        "nodes": nodes,
        "trace_root": hex::encode(trace_root(&input, &roots)),
        "checks": checks,
    })
}

#[test]
fn known_answer_vectors_v2_match() {
    let fresh = generate();
    if std::env::var_os("TAVDUN_BLESS").is_some() {
        std::fs::write(PATH, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(PATH).expect("vectors/kat-v2.json is committed"),
    )
    .expect("vectors/kat-v2.json is valid JSON");
    assert_eq!(
        fresh, committed,
        "known-answer vectors v2 changed: a consensus-breaking change to the graph format"
    );
}

/// The file's own spec, weights and input, read back as another implementation would,
/// reproduce its nodes, roots and id.
#[test]
fn vectors_v2_are_self_consistent() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let weights = hex::decode(v["weights_safetensors_hex"].as_str().unwrap()).unwrap();
    let m = GraphModel::load(v["spec_canonical"].as_str().unwrap().as_bytes(), &weights).unwrap();
    assert_eq!(hex::encode(m.id()), v["model_id"]);
    let kinds: BTreeSet<&str> = m.spec.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ALL_OPS.into_iter().collect());
    let input = TokenInput {
        ids: serde_json::from_value(v["input"]["ids"].clone()).unwrap(),
        mask: serde_json::from_value(v["input"]["mask"].clone()).unwrap(),
    };
    let trace = forward(&m, &input).unwrap();
    for (t, want) in trace.nodes.iter().zip(v["nodes"].as_array().unwrap()) {
        let values: Vec<i16> = serde_json::from_value(want["values"].clone()).unwrap();
        assert_eq!(t.values, values, "node {}", want["name"]);
    }
    assert_eq!(
        hex::encode(trace_root(&input, &trace.node_roots())),
        v["trace_root"]
    );
}
