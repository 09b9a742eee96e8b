//! Known-answer vectors: `vectors/kat-v1.json` holds a small conv model, its input, every
//! layer's bytes and hash, every leaf hash, the weights root, the model id and sample proofs,
//! for any other implementation to check itself against. This test recomputes the file from
//! the committed spec and weights and fails on any difference.
//! To regenerate after a deliberate format change:
//! `TAVDUN_BLESS=1 cargo test -p tavdun-core --test kat -- --test-threads 1`.

mod kat_common;

use kat_common::{check_or_bless, hex, seeded_weights, v1_vectors};
use serde_json::Value;
use tavdun_core::synthetic::Rng;
use tavdun_core::{
    activation_hash, forward, InputQuant, InputSpec, Layer, LayerWeights, Model, ModelSpec,
    SPEC_VERSION,
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
    let weights = seeded_weights(&plan, 42, 500);
    Model::new(spec, plan, weights).unwrap()
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
    v1_vectors(&m, &input)
}

#[test]
fn known_answer_vectors_match() {
    check_or_bless(PATH, &generate());
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
