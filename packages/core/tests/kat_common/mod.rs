//! The version 1 known-answer format, shared by `kat.rs` and `kat_v1_edges.rs`.

use serde_json::{json, Value};
use tavdun_core::synthetic::Rng;
use tavdun_core::{activation_hash, eval_unit, forward, LayerWeights, Model, Plan};

/// Seeded weights for every weighted layer: int8 weights in [-127, 127], then biases in
/// `[-bias, bias]`, layer by layer.
pub fn seeded_weights(plan: &Plan, seed: u64, bias: i64) -> Vec<Option<LayerWeights>> {
    let mut rng = Rng::new(seed);
    plan.layers
        .iter()
        .map(|lp| {
            (lp.leaves > 0).then(|| LayerWeights {
                weight: (0..lp.leaves * lp.fan_in)
                    .map(|_| rng.range(-127, 127) as i8)
                    .collect(),
                bias: (0..lp.leaves)
                    .map(|_| rng.range(-bias, bias) as i32)
                    .collect(),
            })
        })
        .collect()
}

pub fn hex(h: [u8; 32]) -> String {
    hex::encode(h)
}

/// int8 bytes as two's-complement hex, the form every language can decode.
pub fn hex8(v: &[i8]) -> String {
    hex::encode(v.iter().map(|&b| b as u8).collect::<Vec<u8>>())
}

pub fn v1_vectors(m: &Model, input: &[i8]) -> Value {
    let acts = forward(m, input).unwrap();
    let tree = m.weights_tree();
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex(sha2::Sha256::digest(b).into())
    };
    let weights: Vec<Value> = m
        .weights
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            w.as_ref()
                .map(|w| json!({"layer": i, "weight_hex": hex8(&w.weight), "bias": w.bias}))
        })
        .collect();
    let leaves: Vec<Value> = m
        .leaves()
        .enumerate()
        .map(|(i, l)| json!({"index": i, "layer": l.layer, "unit": l.unit, "hash": hex(l.hash())}))
        .collect();
    let activations: Vec<Value> = acts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({"k": i + 1, "bytes_hex": hex8(a), "hash": hex(activation_hash(i as u32 + 1, a))})
        })
        .collect();
    let proofs: Vec<Value> = [0u32, 3, m.plan.total_leaves - 1]
        .iter()
        .map(|&i| json!({"leaf_index": i, "proof": tree.proof(i).unwrap()}))
        .collect();
    // One-step checks: one value of each layer, from that layer's input and the unit's leaf.
    let checks: Vec<Value> = (0..m.plan.layers.len())
        .map(|layer| {
            let unit = (m.plan.layers[layer].output.len() / 2) as u32;
            let x = if layer == 0 { input } else { &acts[layer - 1] };
            let leaf = m.plan.leaf_unit(layer, unit).and_then(|l| m.leaf(layer, l));
            let y = eval_unit(&m.spec, &m.plan, layer, x, unit, leaf.as_ref()).unwrap();
            json!({"layer": layer, "unit": unit, "leaf_index": leaf.map(|l| m.plan.leaf_index(layer, l.unit)), "value": y})
        })
        .collect();
    json!({
        "format": "tavdun-kat/v1",
        "rules": {
            "requantize": "y = clamp(floor((acc + 2^(shift-1)) / 2^shift), -128, 127), then max(y, 0) if relu; shift 0 leaves acc unchanged",
            "activation_hash": "sha256(\"tavdun/act/v1\" || u32be(k) || u32be(len) || bytes); k = 0 is the input",
            "leaf_hash": "sha256(\"tavdun/leaf/v1\" || u32be(layer) || u32be(unit) || u32be(len) || weights as bytes || i32be(bias))",
            "node_hash": "sha256(\"tavdun/node/v1\" || left || right); an odd node at the end of a level is promoted unchanged",
            "model_id": "sha256(canonical spec JSON || weights_root)",
            "layout": "activations [c, h, w] are channel-major: index (c * h + y) * w + x; conv filters [filters, c, k, k]"
        },
        "spec": m.spec,
        "spec_canonical": String::from_utf8(m.spec.canonical_json()).unwrap(),
        "weights": weights,
        "weights_safetensors_sha256": sha(&m.to_safetensors()),
        "leaves": leaves,
        "weights_root": hex(tree.root()),
        "model_id": hex(m.id()),
        "input_hex": hex8(input),
        "input_hash": hex(activation_hash(0, input)),
        "activations": activations,
        "proofs": proofs,
        "eval_unit": checks,
    })
}

/// Writes `fresh` to `path` under `TAVDUN_BLESS`, then requires the committed file to equal it.
pub fn check_or_bless(path: &str, fresh: &Value) {
    if std::env::var_os("TAVDUN_BLESS").is_some() {
        let text = serde_json::to_string_pretty(fresh).unwrap() + "\n";
        std::fs::write(path, text).unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .expect("the vectors file is committed and valid JSON");
    assert_eq!(
        fresh, &committed,
        "known-answer vectors changed: a consensus-breaking change to the model format"
    );
}
