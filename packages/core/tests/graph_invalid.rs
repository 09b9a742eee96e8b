//! Every rule and range bound of version 2 refuses a spec, weights or an input that breaks
//! it, with the error that names the cause.

use tavdun_core::graph::spec::limits;
use tavdun_core::graph::{
    forward, DType, GraphError, GraphEvalError, GraphModel, GraphSpec, GraphWeightsError, Mult,
    NodeWeights, Op, TokenInput,
};
use tavdun_core::synthetic::random_encoder;
use tavdun_core::AnySpec;

fn base() -> GraphModel {
    random_encoder(7).unwrap()
}

fn index_of(spec: &GraphSpec, kind: &str) -> usize {
    spec.nodes.iter().position(|n| n.op.kind() == kind).unwrap()
}

fn refused(spec: &GraphSpec) -> GraphError {
    spec.validate()
        .expect_err("the broken spec must be refused")
}

fn with(kind: &str, f: impl FnOnce(&mut Op)) -> GraphSpec {
    let mut spec = base().spec;
    let i = index_of(&spec, kind);
    f(&mut spec.nodes[i].op);
    spec
}

fn name_of(kind: &str) -> String {
    let spec = base().spec;
    spec.nodes[index_of(&spec, kind)].name.clone()
}

#[test]
fn the_base_model_is_valid() {
    assert!(base().spec.validate().is_ok());
}

#[test]
fn format_rules() {
    let mut spec = base().spec;
    spec.version = 3;
    assert_eq!(
        refused(&spec),
        GraphError::UnsupportedVersion {
            found: 3,
            supported: 2
        }
    );
    let mut spec = base().spec;
    spec.name = "MiniLM".into();
    assert!(matches!(refused(&spec), GraphError::Name { .. }));
    let mut spec = base().spec;
    spec.nodes[1].name = "bad name".into();
    assert!(matches!(
        refused(&spec),
        GraphError::NodeName { index: 1, .. }
    ));
    let mut spec = base().spec;
    spec.nodes[1].name = spec.nodes[0].name.clone();
    assert!(matches!(refused(&spec), GraphError::DuplicateName { .. }));
    let mut spec = base().spec;
    spec.nodes.clear();
    assert_eq!(refused(&spec), GraphError::NoNodes);
    let mut spec = base().spec;
    let last = spec.nodes.last().unwrap().clone();
    while spec.nodes.len() <= limits::MAX_NODES {
        let mut n = last.clone();
        n.name = format!("extra-{}", spec.nodes.len());
        spec.nodes.push(n);
    }
    assert!(matches!(refused(&spec), GraphError::TooManyNodes { .. }));
    // Topological order: a node may only read earlier nodes.
    let mut spec = base().spec;
    let later = spec.nodes.last().unwrap().name.clone();
    let i = index_of(&spec, "add");
    if let Op::Add { b, .. } = &mut spec.nodes[i].op {
        *b = later;
    }
    assert!(matches!(refused(&spec), GraphError::UnknownInput { .. }));
}

#[test]
fn input_limits() {
    let mut spec = base().spec;
    spec.input.max_tokens = 0;
    assert!(matches!(
        refused(&spec),
        GraphError::Zero {
            field: "max_tokens",
            ..
        }
    ));
    let mut spec = base().spec;
    spec.input.max_tokens = limits::MAX_TOKENS + 1;
    assert!(matches!(
        refused(&spec),
        GraphError::TooLarge {
            field: "max_tokens",
            ..
        }
    ));
    let mut spec = base().spec;
    spec.input.vocab = limits::MAX_TABLE_ROWS + 1;
    assert!(matches!(
        refused(&spec),
        GraphError::TooLarge { field: "vocab", .. }
    ));
}

#[test]
fn embedding_rules() {
    let spec = with("embedding", |op| {
        if let Op::Embedding { rows, .. } = op {
            *rows += 1;
        }
    });
    assert!(matches!(refused(&spec), GraphError::Shape { .. }));
    let spec = with("embedding", |op| {
        if let Op::Embedding { width, .. } = op {
            *width = 5000;
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::TooLarge { field: "width", .. }
    ));
}

#[test]
fn requantisation_bounds() {
    for (mult, reason) in [
        (0, "a multiplier must be in [1, 32767]"),
        (40_000, "a multiplier must be in [1, 32767]"),
    ] {
        let spec = with("scores", |op| {
            if let Op::Scores { requant, .. } = op {
                requant.mult = Mult::PerTensor(mult);
            }
        });
        assert_eq!(
            refused(&spec),
            GraphError::Mult {
                node: name_of("scores"),
                reason
            }
        );
    }
    let spec = with("scores", |op| {
        if let Op::Scores { requant, .. } = op {
            requant.mult = Mult::PerUnit;
        }
    });
    assert!(matches!(refused(&spec), GraphError::Mult { .. }));
    let spec = with("scores", |op| {
        if let Op::Scores { requant, .. } = op {
            requant.shift = limits::MAX_SHIFT + 1;
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::TooLarge {
            field: "requant.shift",
            ..
        }
    ));
    // Below shift 16 the whole product must fit 32 bits: GELU's 2^26 times 2^15 does not.
    let spec = with("gelu", |op| {
        if let Op::Gelu { requant, .. } = op {
            requant.mult = Mult::PerTensor(32_000);
            requant.shift = 8;
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::Bound {
            what: "accumulator * multiplier + rounding",
            ..
        }
    ));
    // A dense node with per-unit multipliers below shift 16.
    let spec = with("dense", |op| {
        if let Op::Dense { requant, .. } = op {
            requant.shift = 15;
        }
    });
    assert!(matches!(refused(&spec), GraphError::Bound { .. }));
}

#[test]
fn op_shape_and_type_rules() {
    let spec = with("add", |op| {
        if let Op::Add { a_mult, b_mult, .. } = op {
            (*a_mult, *b_mult) = (32_767, 32_767);
        }
    });
    // emb.sum adds two int8 tables: within bounds; a residual add of two int16 is not.
    let mut spec2 = base().spec;
    let residual = spec2
        .nodes
        .iter()
        .position(|n| n.name == "l0.attn_sum")
        .unwrap();
    if let Op::Add {
        a_mult,
        b_mult,
        shift,
        ..
    } = &mut spec2.nodes[residual].op
    {
        (*a_mult, *b_mult, *shift) = (32_767, 32_767, 30);
    }
    assert!(spec.validate().is_ok());
    assert!(matches!(refused(&spec2), GraphError::Bound { .. }));
    let spec = with("add", |op| {
        if let Op::Add { b, .. } = op {
            *b = "emb.token".into();
        }
    });
    assert!(spec.validate().is_ok(), "same shapes add");
    let spec = with("layer_norm", |op| {
        if let Op::LayerNorm { shift, .. } = op {
            *shift = limits::MAX_NORM_SHIFT + 1;
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::TooLarge { field: "shift", .. }
    ));
    let spec = with("dense", |op| {
        if let Op::Dense { input, .. } = op {
            *input = "emb.sum".into();
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::InputKind {
            expected: "an int8 tensor",
            ..
        }
    ));
    let spec = with("dense", |op| {
        if let Op::Dense { units, .. } = op {
            *units = 0;
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::Zero { field: "units", .. }
    ));
    let spec = with("scores", |op| {
        if let Op::Scores { requant, .. } = op {
            requant.out = DType::I8;
        }
    });
    assert!(matches!(refused(&spec), GraphError::Shape { .. }));
    let spec = with("scores", |op| {
        if let Op::Scores { heads, .. } = op {
            *heads = 7;
        }
    });
    assert!(matches!(refused(&spec), GraphError::Shape { .. }));
    let spec = with("softmax", |op| {
        if let Op::Softmax { input } = op {
            *input = "emb.sum".into();
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::InputKind {
            expected: "a scores node",
            ..
        }
    ));
    let spec = with("context", |op| {
        if let Op::Context { probs, .. } = op {
            *probs = "emb.sum".into();
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::InputKind {
            expected: "a softmax node",
            ..
        }
    ));
    let spec = with("context", |op| {
        if let Op::Context { heads, .. } = op {
            *heads += 1;
        }
    });
    assert!(matches!(refused(&spec), GraphError::Shape { .. }));
    let spec = with("gelu", |op| {
        if let Op::Gelu { input, .. } = op {
            *input = "emb.token".into();
        }
    });
    assert!(matches!(
        refused(&spec),
        GraphError::InputKind {
            expected: "an int16 tensor",
            ..
        }
    ));
    let spec = with("mean_pool", |op| {
        if let Op::MeanPool { input } = op {
            *input = "emb.sum".into();
        }
    });
    assert!(matches!(refused(&spec), GraphError::Shape { .. }));
    let spec = with("l2_norm", |op| {
        if let Op::L2Norm { input } = op {
            *input = "pool.t".into();
        }
    });
    assert!(matches!(refused(&spec), GraphError::Shape { .. }));
}

fn encoder(heads: u32, max_tokens: u32) -> GraphSpec {
    use tavdun_core::graph::encoder::{encoder_spec, EncoderShape, NodeQuant};
    use tavdun_core::graph::Requant;
    let shape = EncoderShape {
        vocab: 10,
        max_tokens,
        positions: max_tokens,
        width: 64,
        heads,
        ffn: 8,
        layers: 1,
    };
    let quant = |name: &str| {
        Some(if name.ends_with("sum") {
            NodeQuant::Add {
                a_mult: 1,
                b_mult: 1,
                per_column: false,
                shift: 0,
            }
        } else if name.ends_with("norm") {
            NodeQuant::Norm { shift: 0 }
        } else {
            let out = if name.ends_with("scores") || name.ends_with("ffn_in") {
                DType::I16
            } else {
                DType::I8
            };
            NodeQuant::Requant(Requant {
                mult: Mult::PerTensor(1),
                shift: 20,
                out,
            })
        })
    };
    encoder_spec("wide", &shape, &quant)
}

#[test]
fn tensors_at_max_tokens_are_bounded() {
    // Scores are [heads * n, n]: 16 heads at 512 tokens is 2^22 elements, the limit.
    assert!(encoder(16, 512).validate().is_ok());
    assert!(matches!(
        encoder(32, 512).validate(),
        Err(GraphError::TooLarge {
            field: "elements at max_tokens",
            value,
            max,
            ..
        }) if value == 1 << 23 && max == limits::MAX_TENSOR
    ));
}

#[test]
fn weights_are_checked_against_the_bounds() {
    let m = base();
    let reload =
        |weights: Vec<NodeWeights>| GraphModel::new(m.spec.clone(), m.plan.clone(), weights);
    let dense = index_of(&m.spec, "dense");
    let mut w = m.weights.clone();
    if let NodeWeights::Dense { weight, .. } = &mut w[dense] {
        weight[0] = -128;
    }
    assert!(matches!(
        reload(w),
        Err(GraphWeightsError::Range {
            field: "weight",
            ..
        })
    ));
    let mut w = m.weights.clone();
    if let NodeWeights::Dense { bias, .. } = &mut w[dense] {
        bias[0] = (limits::MAX_DENSE_BIAS + 1) as i32;
    }
    assert!(matches!(reload(w), Err(GraphWeightsError::Range { .. })));
    let mut w = m.weights.clone();
    if let NodeWeights::Dense {
        mult: Some(mult), ..
    } = &mut w[dense]
    {
        mult[0] = 0;
    }
    assert!(matches!(reload(w), Err(GraphWeightsError::Range { .. })));
    let norm = index_of(&m.spec, "layer_norm");
    let mut w = m.weights.clone();
    if let NodeWeights::Norm { gamma, .. } = &mut w[norm] {
        gamma[0] = limits::MAX_NORM_GAMMA as i32 + 1;
    }
    assert!(matches!(reload(w), Err(GraphWeightsError::Range { .. })));
    let mut w = m.weights.clone();
    w[norm] = NodeWeights::None;
    assert!(matches!(reload(w), Err(GraphWeightsError::Kind { .. })));
    let mut w = m.weights.clone();
    w.pop();
    assert!(matches!(
        reload(w),
        Err(GraphWeightsError::NodeCount { .. })
    ));
}

#[test]
fn safetensors_round_trip_and_refusals() {
    let m = base();
    let bytes = m.to_safetensors();
    let again = GraphModel::from_safetensors(m.spec.clone(), m.plan.clone(), &bytes).unwrap();
    assert_eq!(again, m);
    let other = random_encoder(8).unwrap();
    assert!(
        GraphModel::from_safetensors(m.spec.clone(), m.plan.clone(), &other.to_safetensors())
            .is_err()
    );
    assert!(matches!(
        GraphModel::from_safetensors(m.spec.clone(), m.plan.clone(), &bytes[..bytes.len() / 2]),
        Err(GraphWeightsError::File(tavdun_core::WeightsError::Format(
            _
        )))
    ));
}

#[test]
fn job_inputs_are_checked() {
    let m = base();
    let ok = TokenInput {
        ids: vec![0; 2],
        mask: vec![1; 2],
    };
    assert!(forward(&m, &ok).is_ok());
    let cases = [
        (
            TokenInput {
                ids: vec![],
                mask: vec![],
            },
            "no tokens",
        ),
        (
            TokenInput {
                ids: vec![0; m.plan.max_tokens as usize + 1],
                mask: vec![1; m.plan.max_tokens as usize + 1],
            },
            "too many",
        ),
        (
            TokenInput {
                ids: vec![m.plan.vocab],
                mask: vec![1],
            },
            "id",
        ),
        (
            TokenInput {
                ids: vec![0],
                mask: vec![2],
            },
            "mask",
        ),
        (
            TokenInput {
                ids: vec![0, 0],
                mask: vec![1],
            },
            "lengths",
        ),
    ];
    for (input, what) in cases {
        let err = forward(&m, &input).unwrap_err();
        let expected = match what {
            "no tokens" | "too many" => matches!(err, GraphEvalError::TokenCount { .. }),
            "id" => matches!(err, GraphEvalError::TokenId { .. }),
            "mask" => matches!(err, GraphEvalError::Mask { .. }),
            _ => matches!(err, GraphEvalError::InputLen { .. }),
        };
        assert!(expected, "{what}: {err}");
    }
}

#[test]
fn any_spec_reads_both_versions() {
    let v2 = base().spec.canonical_json();
    assert!(matches!(AnySpec::from_json(&v2), Ok(AnySpec::V2 { .. })));
    let v1 = tavdun_core::synthetic::random_model(1)
        .unwrap()
        .spec
        .canonical_json();
    let parsed = AnySpec::from_json(&v1).unwrap();
    assert!(matches!(parsed, AnySpec::V1 { .. }));
    assert_eq!(parsed.canonical_json(), v1);
    let v3 = String::from_utf8(v2)
        .unwrap()
        .replacen("\"version\":2", "\"version\":3", 1);
    assert!(matches!(
        AnySpec::from_json(v3.as_bytes()),
        Err(tavdun_core::AnySpecError::UnsupportedVersion(3))
    ));
    assert!(AnySpec::from_json(b"[]").is_err());
}
