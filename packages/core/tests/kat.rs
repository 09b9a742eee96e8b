//! Known-answer vectors: `vectors/kat-v1.json` holds a small conv model, its input, every
//! layer's bytes and hash, every leaf hash, the weights root, the model id and sample proofs,
//! for any other implementation to check itself against. This test recomputes the file from
//! the committed spec and weights and fails on any difference.
//! To regenerate after a deliberate format change:
//! `TAVDUN_BLESS=1 cargo test -p tavdun-core --test kat -- --test-threads 1`.

use serde_json::{json, Value};
use tavdun_core::synthetic::Rng;
use tavdun_core::{
    activation_hash, eval_unit, forward, InputQuant, InputSpec, Layer, LayerWeights, Model,
    ModelSpec, SPEC_VERSION,
};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/kat-v1.json");

fn kat_model() -> Model {
    let spec = ModelSpec {
        version: SPEC_VERSION,
        name: "kat-v1".into(),
        input: InputSpec {
            shape: vec![1, 4, 4],
            quant: InputQuant {
                scale: "0.0625".into(),
                zero_point: -8,
            },
        },
        layers: vec![
            Layer::Conv2d {
                filters: 2,
                kernel: 3,
                stride: 1,
                padding: 1,
                shift: 8,
                relu: true,
            },
            Layer::Maxpool2d { size: 2, stride: 2 },
            Layer::Flatten,
            Layer::Dense {
                units: 4,
                shift: 8,
                relu: true,
            },
            Layer::Dense {
                units: 3,
                shift: 7,
                relu: false,
            },
        ],
    };
    let plan = spec.validate().unwrap();
    let mut rng = Rng::new(42);
    let weights = plan
        .layers
        .iter()
        .map(|lp| {
            (lp.leaves > 0).then(|| LayerWeights {
                weight: (0..lp.leaves * lp.fan_in)
                    .map(|_| rng.range(-127, 127) as i8)
                    .collect(),
                bias: (0..lp.leaves)
                    .map(|_| rng.range(-500, 500) as i32)
                    .collect(),
            })
        })
        .collect();
    Model::new(spec, plan, weights).unwrap()
}

fn hex(h: [u8; 32]) -> String {
    hex::encode(h)
}

/// int8 bytes as two's-complement hex, the form every language can decode.
fn hex8(v: &[i8]) -> String {
    hex::encode(v.iter().map(|&b| b as u8).collect::<Vec<u8>>())
}

fn unhex8(v: &Value) -> Vec<i8> {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .into_iter()
        .map(|b| b as i8)
        .collect()
}

fn generate() -> Value {
    let m = kat_model();
    let input: Vec<i8> = Rng::new(7).int8s(16);
    let acts = forward(&m, &input).unwrap();
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
            let x = if layer == 0 { &input } else { &acts[layer - 1] };
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
        "input_hex": hex8(&input),
        "input_hash": hex(activation_hash(0, &input)),
        "activations": activations,
        "proofs": proofs,
        "eval_unit": checks,
    })
}

#[test]
fn known_answer_vectors_match() {
    let fresh = generate();
    if std::env::var_os("TAVDUN_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
        std::fs::write(PATH, text).unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap())
        .expect("vectors/kat-v1.json is committed and valid JSON");
    assert_eq!(
        fresh, committed,
        "known-answer vectors changed: a consensus-breaking change to the model format"
    );
}

/// The file's own spec and weights, read back as another implementation would, reproduce
/// its root and id: the vectors are self-consistent, not just equal to this build's output.
#[test]
fn vectors_are_self_consistent() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let (spec, plan) =
        ModelSpec::from_json(v["spec_canonical"].as_str().unwrap().as_bytes()).unwrap();
    let mut weights = vec![None; plan.layers.len()];
    for w in v["weights"].as_array().unwrap() {
        let layer = w["layer"].as_u64().unwrap() as usize;
        weights[layer] = Some(LayerWeights {
            weight: unhex8(&w["weight_hex"]),
            bias: serde_json::from_value(w["bias"].clone()).unwrap(),
        });
    }
    let m = Model::new(spec, plan, weights).unwrap();
    assert_eq!(hex(m.weights_tree().root()), v["weights_root"]);
    assert_eq!(hex(m.id()), v["model_id"]);
    let input = unhex8(&v["input_hex"]);
    assert_eq!(hex(activation_hash(0, &input)), v["input_hash"]);
    let acts = forward(&m, &input).unwrap();
    assert_eq!(acts.len(), v["activations"].as_array().unwrap().len());
    for (a, want) in acts.iter().zip(v["activations"].as_array().unwrap()) {
        assert_eq!(a, &unhex8(&want["bytes_hex"]));
    }
}
