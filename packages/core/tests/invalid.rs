//! Every kind of invalid spec or weight set is refused with the error that names its cause.

use proptest::prelude::*;
use tavdun_core::synthetic;
use tavdun_core::{
    Layer, LayerWeights, Loc, Model, ModelError, ModelSpec, SpecError, WeightsError,
};

fn valid(seed: u64) -> Model {
    synthetic::random_model(seed).unwrap()
}

/// Index of the first dense layer (every random model has one).
fn first_dense(spec: &ModelSpec) -> usize {
    spec.layers
        .iter()
        .position(|l| matches!(l, Layer::Dense { .. }))
        .unwrap()
}

fn set_dense(spec: &mut ModelSpec, i: usize, f: impl FnOnce(&mut u32, &mut u32)) {
    if let Layer::Dense { units, shift, .. } = &mut spec.layers[i] {
        f(units, shift);
    }
}

/// One way to break a valid spec, and the error it must produce.
fn break_spec(spec: &mut ModelSpec, how: u8) -> SpecError {
    let d = first_dense(spec);
    match how {
        0 => {
            spec.version = 2;
            SpecError::UnsupportedVersion {
                found: 2,
                supported: 1,
            }
        }
        1 => {
            spec.name = "Digits!".into();
            SpecError::Name {
                reason: "may hold only a-z, 0-9, '.', '_' and '-'",
            }
        }
        2 => {
            spec.input.quant.scale = "0.000".into();
            SpecError::Scale {
                reason: "must be greater than zero",
            }
        }
        3 => {
            spec.input.quant.scale = "1e-3".into();
            SpecError::Scale {
                reason: "must be a decimal such as \"0.125\"",
            }
        }
        4 => {
            spec.input.shape = vec![3, 3];
            SpecError::Shape {
                at: Loc::Input,
                field: "shape",
                reason: "must be [n] or [channels, height, width]",
            }
        }
        5 => {
            spec.layers.clear();
            SpecError::NoLayers
        }
        6 => {
            let last = spec.layers.last().unwrap().clone();
            while spec.layers.len() <= 32 {
                spec.layers.push(last.clone());
            }
            SpecError::TooManyLayers {
                count: spec.layers.len(),
                max: 32,
            }
        }
        7 => {
            set_dense(spec, d, |units, _| *units = 0);
            SpecError::Zero {
                at: Loc::Layer(d),
                field: "units",
            }
        }
        8 => {
            set_dense(spec, d, |units, _| *units = 5000);
            SpecError::TooLarge {
                at: Loc::Layer(d),
                field: "units",
                value: 5000,
                max: 4096,
            }
        }
        9 => {
            set_dense(spec, d, |_, shift| *shift = 25);
            SpecError::TooLarge {
                at: Loc::Layer(d),
                field: "shift",
                value: 25,
                max: 24,
            }
        }
        10 => {
            // A dense layer straight after an image input.
            spec.input.shape = vec![1, 4, 4];
            spec.layers = vec![Layer::Dense {
                units: 2,
                shift: 0,
                relu: false,
            }];
            SpecError::InputRank {
                at: Loc::Layer(0),
                expected: "[n] (add a flatten layer first)",
                found: vec![1, 4, 4],
            }
        }
        11 => {
            spec.input.shape = vec![16];
            spec.layers.insert(0, Layer::Flatten);
            SpecError::InputRank {
                at: Loc::Layer(0),
                expected: "[c, h, w]",
                found: vec![16],
            }
        }
        12 => {
            spec.input.shape = vec![1, 4, 4];
            spec.layers = vec![
                Layer::Conv2d {
                    filters: 1,
                    kernel: 5,
                    stride: 1,
                    padding: 0,
                    shift: 0,
                    relu: false,
                },
                Layer::Flatten,
            ];
            SpecError::WindowTooLarge {
                at: Loc::Layer(0),
                field: "kernel",
                window: 5,
                extent: 4,
            }
        }
        13 => {
            spec.input.shape = vec![1, 4, 4];
            spec.layers = vec![Layer::Conv2d {
                filters: 1,
                kernel: 3,
                stride: 1,
                padding: 3,
                shift: 0,
                relu: false,
            }];
            SpecError::TooLarge {
                at: Loc::Layer(0),
                field: "padding",
                value: 3,
                max: 2,
            }
        }
        14 => {
            // 1100 * 127 * 128 = 17,881,600 >= 2^24.
            spec.input.shape = vec![1100];
            spec.layers = vec![Layer::Dense {
                units: 1,
                shift: 0,
                relu: false,
            }];
            SpecError::ExactnessBound {
                at: Loc::Layer(0),
                worst_case: 1100 * 127 * 128,
                limit: 1 << 24,
            }
        }
        15 => {
            spec.input.shape = vec![1, 4, 4];
            spec.layers = vec![Layer::Maxpool2d { size: 2, stride: 2 }, Layer::Flatten];
            SpecError::NoWeightedLayer
        }
        _ => {
            spec.input.shape = vec![1, 2048, 1024];
            SpecError::TooLarge {
                at: Loc::Input,
                field: "shape",
                value: 2048 * 1024,
                max: 1 << 20,
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_broken_spec_is_refused_with_its_error(seed in any::<u64>(), how in 0u8..17) {
        let mut spec = valid(seed).spec;
        let expected = break_spec(&mut spec, how);
        prop_assert_eq!(spec.validate(), Err(expected.clone()));
        // The same refusal comes back through the JSON parser.
        let json = serde_json::to_vec(&spec).unwrap();
        prop_assert_eq!(ModelSpec::from_json(&json).map(|_| ()), Err(expected));
    }

    /// Parsing the canonical form gives the same spec back, whatever the key order was.
    #[test]
    fn canonical_json_round_trips(seed in any::<u64>()) {
        let spec = valid(seed).spec;
        let canonical = spec.canonical_json();
        let (parsed, _) = ModelSpec::from_json(&canonical).unwrap();
        prop_assert_eq!(&parsed, &spec);
        let shuffled: serde_json::Value = serde_json::from_slice(&canonical).unwrap();
        let pretty = serde_json::to_vec_pretty(&shuffled).unwrap();
        let (reparsed, _) = ModelSpec::from_json(&pretty).unwrap();
        prop_assert_eq!(reparsed.canonical_json(), canonical);
    }

    #[test]
    fn broken_weights_are_refused(seed in any::<u64>(), how in 0u8..5) {
        let m = valid(seed);
        let d = first_dense(&m.spec);
        let mut w = m.weights.clone();
        let lp = &m.plan.layers[d];
        let expected = {
            let lw: &mut LayerWeights = w[d].as_mut().unwrap();
            match how {
                0 => {
                    lw.weight[0] = -128;
                    WeightsError::WeightRange { layer: d, index: 0 }
                }
                1 => {
                    let bias = lp.max_bias as i32 + 1;
                    lw.bias[0] = -bias;
                    WeightsError::BiasRange { layer: d, unit: 0, bias: -bias, max: lp.max_bias }
                }
                2 => {
                    lw.weight.pop();
                    WeightsError::WeightLen {
                        layer: d,
                        found: lw.weight.len(),
                        expected: lw.weight.len() + 1,
                    }
                }
                3 => {
                    lw.bias.push(0);
                    WeightsError::BiasLen { layer: d, found: lw.bias.len(), expected: lw.bias.len() - 1 }
                }
                _ => {
                    w[d] = None;
                    WeightsError::Missing { name: format!("layers.{d}.weight") }
                }
            }
        };
        prop_assert_eq!(Model::new(m.spec.clone(), m.plan.clone(), w), Err(expected));
    }
}

#[test]
fn unknown_fields_and_bad_json_are_refused() {
    let m = valid(1);
    let mut v: serde_json::Value = serde_json::from_slice(&m.spec.canonical_json()).unwrap();
    v["layers"][0]["bogus"] = 1.into();
    let err = ModelSpec::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        matches!(&err, SpecError::Json(msg) if msg.contains("bogus")),
        "{err}"
    );
    assert!(matches!(
        ModelSpec::from_json(b"{\"version\":1"),
        Err(SpecError::Json(_))
    ));
}

#[test]
fn safetensors_round_trip_and_refusals() {
    let m = valid(7);
    let bytes = m.to_safetensors();
    let spec_json = m.spec.canonical_json();
    assert_eq!(Model::load(&spec_json, &bytes).unwrap(), m);
    assert!(matches!(
        Model::load(&spec_json, &bytes[..bytes.len() - 1]),
        Err(ModelError::Weights(WeightsError::Format(_)))
    ));
    // Weights of another model do not fit this spec.
    let other = synthetic::mlp("other", &[3, 2], 1).unwrap();
    let err = Model::load(&spec_json, &other.to_safetensors()).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::Weights(
                WeightsError::Missing { .. }
                    | WeightsError::Shape { .. }
                    | WeightsError::Unexpected { .. }
            )
        ),
        "{err}"
    );
}
