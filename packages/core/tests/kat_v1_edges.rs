//! Version 1 known-answer vectors for the cases `kat-v1.json` never reaches:
//! `vectors/kat-v1-edges.json` holds a two-channel conv with stride 2 and padding, max
//! pooling whose windows drop the last row and column and see only negative values, dense
//! layers with shift 1 (every odd accumulator is a rounding tie, negative ones included) and
//! inputs at -128 and 127. Same format as `kat-v1.json`, plus the dense accumulators at ties.
//! Regenerate only after a deliberate format change: `TAVDUN_BLESS=1 cargo test -p
//! tavdun-core --test kat_v1_edges`.

mod kat_common;

use kat_common::{check_or_bless, seeded_weights, v1_vectors};
use serde_json::{json, Value};
use tavdun_core::synthetic::Rng;
use tavdun_core::{
    forward, InputQuant, InputSpec, Layer, LayerWeights, Model, ModelSpec, SPEC_VERSION,
};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/kat-v1-edges.json");

fn edge_model() -> Model {
    let spec = ModelSpec {
        version: SPEC_VERSION,
        name: "kat-v1-edges".into(),
        input: InputSpec {
            shape: vec![2, 5, 5],
            quant: InputQuant {
                scale: "0.5".into(),
                zero_point: 3,
            },
        },
        layers: vec![
            Layer::Conv2d {
                filters: 3,
                kernel: 3,
                stride: 2,
                padding: 1,
                shift: 1,
                relu: false,
            },
            // [3, 3, 3]: a 2x2 window at stride 2 drops the last row and column.
            Layer::Maxpool2d { size: 2, stride: 2 },
            Layer::Flatten,
            Layer::Dense {
                units: 6,
                shift: 1,
                relu: false,
            },
            Layer::Dense {
                units: 3,
                shift: 1,
                relu: true,
            },
        ],
    };
    let plan = spec.validate().unwrap();
    // Small odd and even biases: accumulators of both parities and signs.
    let weights = seeded_weights(&plan, 2024, 9);
    Model::new(spec, plan, weights).unwrap()
}

fn edge_input() -> Vec<i8> {
    let mut input = Rng::new(11).int8s(50);
    input[0] = -128;
    input[1] = 127;
    input[24] = -128;
    input
}

/// Accumulators of a dense layer: `bias + sum w * x`, recomputed here independently.
fn dense_accs(lw: &LayerWeights, x: &[i8]) -> Vec<i64> {
    lw.bias
        .iter()
        .enumerate()
        .map(|(u, &b)| {
            let row = &lw.weight[u * x.len()..(u + 1) * x.len()];
            i64::from(b)
                + row
                    .iter()
                    .zip(x)
                    .map(|(&w, &v)| i64::from(w) * i64::from(v))
                    .sum::<i64>()
        })
        .collect()
}

fn generate() -> Value {
    let m = edge_model();
    let input = edge_input();
    let mut v = v1_vectors(&m, &input);
    let acts = forward(&m, &input).unwrap();
    let mut ties = Vec::new();
    for layer in [3usize, 4] {
        let lw = m.weights[layer].as_ref().unwrap();
        for (unit, acc) in dense_accs(lw, &acts[layer - 1]).into_iter().enumerate() {
            if acc % 2 != 0 {
                ties.push(
                    json!({"layer": layer, "unit": unit, "acc": acc, "value": acts[layer][unit]}),
                );
            }
        }
    }
    v["format"] = json!("tavdun-kat/v1-edges");
    v["ties"] = json!(ties);
    v
}

#[test]
fn edge_vectors_match() {
    check_or_bless(PATH, &generate());
}

/// The file exercises what it claims: ties of both signs, each rounded up (toward +inf).
#[test]
fn edge_vectors_hit_ties_of_both_signs() {
    let v = generate();
    let ties = v["ties"].as_array().unwrap();
    let acc = |t: &Value| t["acc"].as_i64().unwrap();
    assert!(ties.iter().any(|t| acc(t) < 0) && ties.iter().any(|t| acc(t) > 0));
    for t in ties {
        let expected = (acc(t) + 1).div_euclid(2).clamp(-128, 127);
        let relu = t["layer"] == 4;
        let expected = if relu { expected.max(0) } else { expected };
        assert_eq!(t["value"].as_i64().unwrap(), expected, "{t}");
    }
    let pooled = &v["activations"][1]["bytes_hex"];
    assert_eq!(
        pooled.as_str().unwrap().len(),
        3 * 2,
        "[3, 1, 1] after the pool"
    );
}
