//! Graph models (version 2) for the exactness suite: one-op graphs with random shapes,
//! parameters and values that reach every range bound, and the check of an engine's traces
//! against `tavdun_core::graph::forward`, node root by node root.

use tavdun_core::graph::plan::half;
use tavdun_core::graph::{
    forward, requant_admissible, trace_root, DType, EmbeddingIndex, GraphModel, GraphSpec, Mult,
    Node, NodeWeights, Op, Requant, TokenInput, TokenInputSpec, Trace, GRAPH_VERSION,
};
use tavdun_core::synthetic::Rng;
use tavdun_engine::LoadedGraph;

/// Core's reference traces, two jobs at a time (the machines this runs on have two cores).
pub fn reference_traces(model: &GraphModel, jobs: &[TokenInput]) -> Vec<Trace> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|job| forward(model, job).expect("reference forward"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("reference thread"))
            .collect()
    })
}

/// Compares the engine's traces of `jobs` with core's: every value of every node (the first
/// difference named), then every node root and the trace root.
pub fn assert_traces(model: &GraphModel, jobs: &[TokenInput], got: &[Trace], what: &str) {
    assert_traces_match(model, jobs, got, &reference_traces(model, jobs), what);
}

/// [`assert_traces`] against reference traces `want` computed before.
pub fn assert_traces_match(
    model: &GraphModel,
    jobs: &[TokenInput],
    got: &[Trace],
    want: &[Trace],
    what: &str,
) {
    assert_eq!(
        want.len(),
        jobs.len(),
        "{what}: one reference trace per job"
    );
    assert_eq!(got.len(), jobs.len(), "{what}: one trace per job");
    for (j, ((job, g), w)) in jobs.iter().zip(got).zip(want).enumerate() {
        assert_eq!(g.tokens, w.tokens, "{what}: job {j}: token count");
        assert_eq!(g.nodes.len(), w.nodes.len(), "{what}: job {j}: node count");
        for (i, (a, b)) in g.nodes.iter().zip(&w.nodes).enumerate() {
            let node = &model.spec.nodes[i];
            assert_eq!(
                (a.rows, a.width, a.dtype),
                (b.rows, b.width, b.dtype),
                "{what}: job {j} (n = {}), node {i} {}: shape",
                job.ids.len(),
                node.name
            );
            if let Some(at) = a.values.iter().zip(&b.values).position(|(x, y)| x != y) {
                let width = a.width.max(1) as usize;
                panic!(
                    "{what}: batch of {}, job {j} (n = {}), node {i} {} ({}) differs at row {} \
                     column {}: engine {} reference {}",
                    jobs.len(),
                    job.ids.len(),
                    node.name,
                    node.op.kind(),
                    at / width,
                    at % width,
                    a.values[at],
                    b.values[at]
                );
            }
        }
        let roots = g.node_roots();
        assert_eq!(roots, w.node_roots(), "{what}: job {j}: node roots");
        assert_eq!(
            trace_root(job, &roots),
            trace_root(job, &w.node_roots()),
            "{what}: job {j}: trace root"
        );
    }
}

/// Runs `jobs` in one call and checks them against the reference.
pub fn assert_graph_exact(
    loaded: &LoadedGraph,
    model: &GraphModel,
    jobs: &[TokenInput],
    what: &str,
) {
    let got = loaded
        .run(jobs)
        .unwrap_or_else(|e| panic!("{what}: engine failed: {e}"));
    assert_traces(model, jobs, &got, what);
}

/// Every op of version 2, each tested alone after its sources (embedding: the sources'
/// token and position tables themselves).
pub const OPS: [&str; 12] = [
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

/// Table row 0 is all +127 and row 1 all -127, so that inputs holding ids 0 and 1 drive every
/// source to its extremes.
const HIGH_ID: u32 = 0;
const LOW_ID: u32 = 1;

/// A value in `lo..=hi`, at one of the ends a quarter of the time.
fn edgy(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    match rng.range(0, 7) {
        0 => lo,
        1 => hi,
        _ => rng.range(lo, hi),
    }
}

/// An admissible `(mult, shift)` for accumulators up to `acc_bound` that maps a typical
/// accumulator of magnitude `typical` near the top of `out` (so outputs spread over the type,
/// with some saturation), or one of the extremes (multiplier 32767, shift 16, 17 or 46).
/// Per-unit multipliers must be admissible at 32767, the largest a leaf may hold.
fn requant_for(
    rng: &mut Rng,
    acc_bound: u64,
    typical: u64,
    out: DType,
    per_unit: bool,
) -> (u32, u32) {
    for _ in 0..64 {
        let mult = edgy(rng, 1, 32767) as u32;
        let shift = match rng.range(0, 9) {
            0 => 16,
            1 => 17,
            2 => 46,
            _ => {
                let scaled = (typical.max(1) * u64::from(mult)).ilog2() as i64;
                let target = (out.abs_max().ilog2() as i64) - 1;
                (scaled - target + rng.range(-1, 2)).clamp(0, 46) as u32
            }
        };
        let checked = if per_unit { 32767 } else { mult };
        if requant_admissible(acc_bound, checked, shift) {
            return (mult, shift);
        }
    }
    // Always admissible for a validated node: shift 46 takes any |acc| < 2^31.
    (1, 46)
}

fn requant(rng: &mut Rng, acc_bound: u64, typical: u64, out: DType, per_unit: bool) -> Requant {
    let (mult, shift) = requant_for(rng, acc_bound, typical, out, per_unit);
    Requant {
        mult: if per_unit {
            Mult::PerUnit
        } else {
            Mult::PerTensor(mult)
        },
        shift,
        out,
    }
}

fn dtype(rng: &mut Rng) -> DType {
    if rng.range(0, 1) == 0 {
        DType::I8
    } else {
        DType::I16
    }
}

fn node(name: &str, op: Op) -> Node {
    Node {
        name: name.into(),
        op,
    }
}

/// A spec of one op under test after its [`sources`], with weights drawn at random, bounds
/// included.
pub fn op_model(op: &str, seed: u64) -> GraphModel {
    let mut rng = Rng::new(seed.wrapping_mul(0x9e37) ^ 0x0b5e_55ed);
    let heads = rng.range(1, 3) as u32;
    let head_dim = match rng.range(0, 4) {
        0 => 1,
        _ => rng.range(1, 24) as u32,
    };
    let width = match op {
        "scores" | "softmax" | "context" => heads * head_dim,
        "dense" => edgy(&mut rng, 1, 1100) as u32,
        _ => rng.range(1, 70) as u32,
    };
    let max_tokens = rng.range(1, 24) as u32;
    let vocab = rng.range(2, 50) as u32;
    let mut nodes = sources(max_tokens, vocab, width);
    let source = |rng: &mut Rng| -> (&'static str, DType) {
        if rng.range(0, 1) == 0 {
            ("src8", DType::I8)
        } else {
            ("src16", DType::I16)
        }
    };
    let qk_acc = u64::from(head_dim) * 128 * 128;
    match op {
        // The sources' two tables are the op under test.
        "embedding" => {}
        "add" => {
            let (a, ta) = source(&mut rng);
            let (b, tb) = source(&mut rng);
            let shift = edgy(&mut rng, 0, 30) as u32;
            let room = (1u64 << 31) - 1 - half(shift);
            let a_mult = edgy(&mut rng, 1, 32767).min((room / 2 / ta.abs_max()) as i64) as u32;
            let b_mult = edgy(&mut rng, 1, 32767)
                .min(((room - ta.abs_max() * u64::from(a_mult)) / tb.abs_max()) as i64)
                as u32;
            nodes.push(node(
                "op",
                Op::Add {
                    a: a.into(),
                    b: b.into(),
                    a_mult,
                    b_mult,
                    per_column: rng.range(0, 1) == 1,
                    shift,
                    out: dtype(&mut rng),
                },
            ));
        }
        "dense" => {
            let units = edgy(&mut rng, 1, 40) as u32;
            let acc = u64::from(width) * 127 * 128 + (1 << 24);
            let typical = u64::from(width).isqrt() * 64 * 64 + 4096;
            let per_unit = rng.range(0, 1) == 1;
            let out = dtype(&mut rng);
            nodes.push(node(
                "op",
                Op::Dense {
                    input: "src8".into(),
                    units,
                    requant: requant(&mut rng, acc, typical, out, per_unit),
                },
            ));
        }
        "requantize" => {
            let (x, t) = source(&mut rng);
            let out = dtype(&mut rng);
            nodes.push(node(
                "op",
                Op::Requantize {
                    input: x.into(),
                    requant: requant(&mut rng, t.abs_max(), t.abs_max() / 2, out, false),
                },
            ));
        }
        "layer_norm" => {
            let (x, _) = source(&mut rng);
            nodes.push(node(
                "op",
                Op::LayerNorm {
                    input: x.into(),
                    shift: edgy(&mut rng, 0, 29) as u32,
                    out: dtype(&mut rng),
                },
            ));
        }
        "l2_norm" => {
            let (x, _) = source(&mut rng);
            nodes.push(node("op", Op::L2Norm { input: x.into() }));
        }
        "gelu" => {
            let per_unit = rng.range(0, 1) == 1;
            let out = dtype(&mut rng);
            nodes.push(node(
                "op",
                Op::Gelu {
                    input: "src16".into(),
                    requant: requant(&mut rng, 1 << 26, 1 << 24, out, per_unit),
                },
            ));
        }
        "transpose" => {
            let (x, _) = source(&mut rng);
            nodes.push(node("op", Op::Transpose { input: x.into() }));
        }
        "mean_pool" => {
            let (x, _) = source(&mut rng);
            nodes.push(node("op.t", Op::Transpose { input: x.into() }));
            nodes.push(node(
                "op",
                Op::MeanPool {
                    input: "op.t".into(),
                },
            ));
        }
        "scores" | "softmax" | "context" => {
            // Large multipliers saturate the logits, so softmax sees differences of 2^16
            // (exponent shifts far past 32) as well as ties.
            nodes.push(node(
                "op.scores",
                Op::Scores {
                    q: "src8".into(),
                    k: "alt8".into(),
                    heads,
                    requant: requant(&mut rng, qk_acc, qk_acc / 8, DType::I16, false),
                },
            ));
            if op != "scores" {
                nodes.push(node(
                    "op.probs",
                    Op::Softmax {
                        input: "op.scores".into(),
                    },
                ));
            }
            if op == "context" {
                nodes.push(node(
                    "op.v_t",
                    Op::Transpose {
                        input: "alt8".into(),
                    },
                ));
                let out = dtype(&mut rng);
                nodes.push(node(
                    "op",
                    Op::Context {
                        probs: "op.probs".into(),
                        values_t: "op.v_t".into(),
                        heads,
                        requant: requant(&mut rng, 1 << 21, 1 << 19, out, false),
                    },
                ));
            }
        }
        other => panic!("no one-op graph for {other}"),
    }
    let spec = graph_spec(
        &format!("op-{}", op.replace('_', "-")),
        max_tokens,
        vocab,
        nodes,
    );
    with_random_weights(spec, &mut rng)
}

/// Weights for every node of a valid spec, drawn over each parameter's whole admissible range
/// with its ends favoured.
pub fn with_random_weights(spec: GraphSpec, rng: &mut Rng) -> GraphModel {
    let plan = spec
        .validate()
        .unwrap_or_else(|e| panic!("{}: invalid spec: {e}", spec.name));
    let weights = spec
        .nodes
        .iter()
        .zip(&plan.nodes)
        .map(|(node, np)| {
            let units = np.leaves as usize;
            let mut draw = |lo: i64, hi: i64, n: usize| -> Vec<i32> {
                (0..n).map(|_| edgy(rng, lo, hi) as i32).collect()
            };
            match &node.op {
                Op::Embedding { width, index, .. } => {
                    let w = *width as usize;
                    let mut table: Vec<i8> = draw(-127, 127, units * w)
                        .into_iter()
                        .map(|v| v as i8)
                        .collect();
                    if *index == EmbeddingIndex::Token {
                        table[HIGH_ID as usize * w..][..w].fill(127);
                        table[LOW_ID as usize * w..][..w].fill(-127);
                    }
                    NodeWeights::Table { width: w, table }
                }
                Op::Dense { requant, .. } => {
                    let fan_in = plan.nodes[np.inputs[0]].width.fixed as usize;
                    NodeWeights::Dense {
                        fan_in,
                        weight: draw(-127, 127, units * fan_in)
                            .into_iter()
                            .map(|v| v as i8)
                            .collect(),
                        bias: draw(-(1 << 24), 1 << 24, units),
                        mult: (requant.mult == Mult::PerUnit).then(|| draw(1, 32767, units)),
                    }
                }
                Op::LayerNorm { .. } => NodeWeights::Norm {
                    gamma: draw(-32767, 32767, units),
                    beta: draw(-(1 << 29), 1 << 29, units),
                },
                Op::Gelu { .. } if units > 0 => NodeWeights::Mults {
                    mult: draw(1, 32767, units),
                },
                Op::Add { a_mult, b_mult, .. } if units > 0 => NodeWeights::AddMults {
                    a: draw(1, (*a_mult).into(), units),
                    b: draw(1, (*b_mult).into(), units),
                },
                _ => NodeWeights::None,
            }
        })
        .collect();
    GraphModel::new(spec, plan, weights).expect("random weights fit the spec")
}

/// `count` job inputs for `model` of random lengths (the longest always `max_tokens`, so a
/// batch pads), ids favouring the extreme table rows, masks with dropped tokens and now and
/// then none kept.
pub fn random_inputs(model: &GraphModel, count: usize, seed: u64) -> Vec<TokenInput> {
    let mut rng = Rng::new(seed ^ 0x7a7a_0001);
    let max = model.plan.max_tokens as i64;
    let vocab = i64::from(model.plan.vocab);
    (0..count)
        .map(|j| {
            let n = if j == 0 { max } else { rng.range(1, max) } as usize;
            let ids = (0..n)
                .map(|_| match rng.range(0, 3) {
                    0 => HIGH_ID,
                    1 => LOW_ID,
                    _ => rng.range(0, vocab - 1) as u32,
                })
                .collect();
            let mask = match rng.range(0, 9) {
                0 => vec![0; n],
                1 => vec![1; n],
                _ => (0..n).map(|_| u8::from(rng.range(0, 3) > 0)).collect(),
            };
            TokenInput { ids, mask }
        })
        .collect()
}

/// The sources of every test graph: two embeddings of width `width` (rows 0 and 1 of the
/// token table at +127 and -127), `src16` (int16 over its whole range, saturating at both
/// ends), `src8` (int8 over its whole range) and `alt8` (another int8 tensor of that shape).
fn sources(max_tokens: u32, vocab: u32, width: u32) -> Vec<Node> {
    vec![
        node(
            "emb.a",
            Op::Embedding {
                index: EmbeddingIndex::Token,
                rows: vocab,
                width,
            },
        ),
        node(
            "emb.b",
            Op::Embedding {
                index: EmbeddingIndex::Position,
                // Spare position rows beyond `max_tokens` are allowed and never read.
                rows: max_tokens + 2,
                width,
            },
        ),
        // a * 258 + b spans the int16 range and saturates at both ends.
        node(
            "src16",
            Op::Add {
                a: "emb.a".into(),
                b: "emb.b".into(),
                a_mult: 258,
                b_mult: 1,
                per_column: false,
                shift: 0,
                out: DType::I16,
            },
        ),
        node(
            "src8",
            Op::Requantize {
                input: "src16".into(),
                requant: Requant {
                    mult: Mult::PerTensor(1),
                    shift: 8,
                    out: DType::I8,
                },
            },
        ),
        node(
            "alt16",
            Op::Add {
                a: "emb.b".into(),
                b: "emb.a".into(),
                a_mult: 300,
                b_mult: 7,
                per_column: false,
                shift: 1,
                out: DType::I16,
            },
        ),
        node(
            "alt8",
            Op::Requantize {
                input: "alt16".into(),
                requant: Requant {
                    mult: Mult::PerTensor(1),
                    shift: 8,
                    out: DType::I8,
                },
            },
        ),
    ]
}

fn graph_spec(name: &str, max_tokens: u32, vocab: u32, nodes: Vec<Node>) -> GraphSpec {
    GraphSpec {
        version: GRAPH_VERSION,
        name: name.into(),
        input: TokenInputSpec { max_tokens, vocab },
        nodes,
    }
}

/// Dense at the widest row core allows (fan-in 4096: four f32 slices), every weight at +127 or
/// -127, biases at +-2^24 and per-unit multipliers of 32767 above shift 16 (the split
/// recipe); jobs whose inputs are all +127, all -128, or alternate.
pub fn widest_dense() -> (GraphModel, Vec<TokenInput>) {
    const FAN_IN: u32 = 4096;
    let mut nodes = sources(4, 2, FAN_IN);
    nodes.push(node(
        "op",
        Op::Dense {
            input: "src8".into(),
            units: 4,
            requant: Requant {
                mult: Mult::PerUnit,
                shift: 27,
                out: DType::I16,
            },
        },
    ));
    let spec = graph_spec("widest-dense", 4, 2, nodes);
    let mut model = with_random_weights(spec, &mut Rng::new(4096));
    let last = model.weights.len() - 1;
    model.weights[last] = NodeWeights::Dense {
        fan_in: FAN_IN as usize,
        weight: (0..4 * FAN_IN)
            .map(|i| {
                if (i / FAN_IN).is_multiple_of(2) {
                    127
                } else {
                    -127
                }
            })
            .collect(),
        bias: vec![1 << 24, -(1 << 24), -(1 << 24), 1 << 24],
        mult: Some(vec![32767; 4]),
    };
    let model = GraphModel::new(model.spec, model.plan, model.weights).expect("valid weights");
    let jobs = vec![
        TokenInput {
            ids: vec![HIGH_ID; 4],
            mask: vec![1; 4],
        },
        TokenInput {
            ids: vec![LOW_ID; 4],
            mask: vec![1; 4],
        },
        TokenInput {
            ids: vec![HIGH_ID, LOW_ID, HIGH_ID],
            mask: vec![1, 0, 1],
        },
    ];
    (model, jobs)
}

/// Softmax over 512 tokens (core's longest input), where the sum of exponentials is largest
/// (every logit equal: 512 times the peak) and where the logits saturate; then the attention
/// context over the same keys.
pub fn longest_softmax() -> (GraphModel, Vec<TokenInput>) {
    const TOKENS: u32 = 512;
    let mut nodes = sources(TOKENS, 3, 2);
    nodes.push(node(
        "op.scores",
        Op::Scores {
            q: "src8".into(),
            k: "src8".into(),
            heads: 2,
            requant: Requant {
                mult: Mult::PerTensor(32767),
                shift: 16,
                out: DType::I16,
            },
        },
    ));
    nodes.push(node(
        "op.probs",
        Op::Softmax {
            input: "op.scores".into(),
        },
    ));
    nodes.push(node(
        "op.v_t",
        Op::Transpose {
            input: "alt8".into(),
        },
    ));
    nodes.push(node(
        "op",
        Op::Context {
            probs: "op.probs".into(),
            values_t: "op.v_t".into(),
            heads: 2,
            requant: Requant {
                mult: Mult::PerTensor(32767),
                shift: 21,
                out: DType::I8,
            },
        },
    ));
    let spec = graph_spec("longest-softmax", TOKENS, 3, nodes);
    let model = with_random_weights(spec, &mut Rng::new(512));
    let n = TOKENS as usize;
    let mut rng = Rng::new(5120);
    let jobs = vec![
        TokenInput {
            ids: vec![HIGH_ID; n],
            mask: vec![1; n],
        },
        TokenInput {
            ids: (0..n).map(|_| rng.range(0, 2) as u32).collect(),
            mask: (0..n).map(|_| u8::from(rng.range(0, 7) > 0)).collect(),
        },
    ];
    (model, jobs)
}
