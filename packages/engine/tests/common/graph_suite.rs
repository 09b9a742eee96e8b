//! The exactness suite of graph models (version 2), one copy per backend and kernel choice:
//! every test here is generated into `tests/flex.rs` and `tests/wgpu.rs` by `testgen_graph!`
//! and `testgen_minilm!`, as burn generates its tensor tests for every backend, so no backend
//! can be tested differently from another.

/// Generates the graph suite as module `$name` for one backend and product choice.
#[macro_export]
macro_rules! testgen_graph {
    ($name:ident, $backend:expr, $products:expr) => {
        mod $name {
            use super::common::engine_with;
            use super::common::graph::*;
            use tavdun_core::graph::TokenInput;
            use tavdun_core::synthetic::{random_encoder, random_token_input};
            use tavdun_engine::{Engine, EngineError, ProductChoice};

            const BACKEND: tavdun_engine::BackendChoice = $backend;
            const PRODUCTS: ProductChoice = $products;

            fn engine() -> Engine {
                engine_with(BACKEND, |c| c.products = PRODUCTS)
            }

            /// Every one-op graph of `op`, a few seeds, in batches that pad.
            fn check_op(op: &str) {
                let engine = engine();
                for seed in 0..6 {
                    let model = op_model(op, seed);
                    let loaded = engine.load_graph(&model).expect("loads");
                    let jobs = random_inputs(&model, 5, seed);
                    assert_graph_exact(&loaded, &model, &jobs, &format!("{op}, seed {seed}"));
                }
            }

            #[test]
            fn op_embedding_matches_core() {
                check_op("embedding");
            }

            #[test]
            fn op_add_matches_core() {
                check_op("add");
            }

            #[test]
            fn op_dense_matches_core() {
                check_op("dense");
            }

            #[test]
            fn op_requantize_matches_core() {
                check_op("requantize");
            }

            #[test]
            fn op_layer_norm_matches_core() {
                check_op("layer_norm");
            }

            #[test]
            fn op_scores_matches_core() {
                check_op("scores");
            }

            #[test]
            fn op_softmax_matches_core() {
                check_op("softmax");
            }

            #[test]
            fn op_transpose_matches_core() {
                check_op("transpose");
            }

            #[test]
            fn op_context_matches_core() {
                check_op("context");
            }

            #[test]
            fn op_gelu_matches_core() {
                check_op("gelu");
            }

            #[test]
            fn op_mean_pool_matches_core() {
                check_op("mean_pool");
            }

            #[test]
            fn op_l2_norm_matches_core() {
                check_op("l2_norm");
            }

            #[test]
            fn every_op_has_a_test() {
                assert_eq!(OPS.len(), 12);
                for op in OPS {
                    let model = op_model(op, 0);
                    assert!(model.spec.nodes.iter().any(|n| n.op.kind() == op), "{op}");
                }
            }

            #[test]
            fn widest_dense_with_extreme_values_is_exact() {
                let (model, jobs) = widest_dense();
                let loaded = engine().load_graph(&model).expect("loads");
                assert_graph_exact(&loaded, &model, &jobs, "fan-in 4096");
            }

            #[test]
            fn softmax_over_the_longest_input_is_exact() {
                let (model, jobs) = longest_softmax();
                let loaded = engine().load_graph(&model).expect("loads");
                assert_graph_exact(&loaded, &model, &jobs, "512 tokens");
            }

            /// Seeded encoders with every op wired as in BERT, jobs of mixed lengths.
            #[test]
            fn random_encoders_match_core() {
                let engine = engine();
                for seed in 0..12 {
                    let model = random_encoder(seed).expect("random encoder");
                    let loaded = engine.load_graph(&model).expect("loads");
                    let jobs: Vec<TokenInput> = (0..6)
                        .map(|j| random_token_input(&model.plan, seed * 100 + j))
                        .collect();
                    assert_graph_exact(&loaded, &model, &jobs, &format!("encoder {seed}"));
                }
            }

            #[test]
            fn a_job_does_not_depend_on_its_batch_mates() {
                let model = op_model("context", 3);
                let loaded = engine().load_graph(&model).expect("loads");
                let jobs = random_inputs(&model, 6, 9);
                let together = loaded.run(&jobs).expect("batch");
                for (j, job) in jobs.iter().enumerate() {
                    let alone = loaded.run(std::slice::from_ref(job)).expect("alone");
                    assert_eq!(alone[0], together[j], "job {j}");
                }
            }

            #[test]
            fn passes_split_by_size_and_budget_give_the_same_bytes() {
                let model = random_encoder(5).expect("random encoder");
                let jobs: Vec<TokenInput> = (0..11)
                    .map(|j| random_token_input(&model.plan, 700 + j))
                    .collect();
                let engine = engine_with(BACKEND, |c| {
                    c.products = PRODUCTS;
                    c.max_batch = 3;
                    c.pass_elements = 40;
                });
                let loaded = engine.load_graph(&model).expect("loads");
                assert_graph_exact(&loaded, &model, &jobs, "passes of at most 3 jobs");
                assert!(loaded.run(&[]).expect("no jobs").is_empty());
            }

            #[test]
            fn bad_inputs_are_typed_errors() {
                let model = random_encoder(1).expect("random encoder");
                let loaded = engine().load_graph(&model).expect("loads");
                let good = random_token_input(&model.plan, 1);
                let vocab = model.plan.vocab;
                let too_long = model.plan.max_tokens as usize + 1;
                let bad = [
                    TokenInput {
                        ids: vec![],
                        mask: vec![],
                    },
                    TokenInput {
                        ids: vec![vocab],
                        mask: vec![1],
                    },
                    TokenInput {
                        ids: vec![0, 0],
                        mask: vec![1, 2],
                    },
                    TokenInput {
                        ids: vec![0, 0],
                        mask: vec![1],
                    },
                    TokenInput {
                        ids: vec![0; too_long],
                        mask: vec![1; too_long],
                    },
                ];
                for input in bad {
                    match loaded.run(&[good.clone(), input.clone()]) {
                        Err(EngineError::GraphInput { job: 1, .. }) => {}
                        other => panic!("{input:?}: expected a typed input error, got {other:?}"),
                    }
                }
            }

            #[test]
            fn the_device_report_names_the_graph_kernels() {
                let engine = engine();
                let report = engine.device_report();
                assert!(
                    report.to_string().contains(report.graph_products.name()),
                    "{report}"
                );
                let loaded = engine.load_graph(&op_model("dense", 1)).expect("loads");
                assert_eq!(loaded.product_strategy(), report.graph_products);
            }
        }
    };
}

/// Generates MiniLM on real sentences as module `$name` for one backend and product choice.
#[macro_export]
macro_rules! testgen_minilm {
    ($name:ident, $backend:expr, $products:expr) => {
        mod $name {
            use super::common::graph::assert_traces_match;
            use super::common::{engine_with, minilm};

            /// Real sentences through MiniLM: `batch` jobs of the given lengths (0: the
            /// sentence's own), in one call.
            fn check_minilm(batch: usize, lengths: &[usize], first: usize) {
                let model = minilm::model();
                let jobs = minilm::sentences(batch, lengths, first);
                let engine = engine_with($backend, |c| c.products = $products);
                let loaded = engine.load_graph(model).expect("loads");
                let started = std::time::Instant::now();
                let got = loaded.run(&jobs).expect("runs");
                eprintln!(
                    "MiniLM batch {batch} ({:?} tokens): {:.2} s on the engine",
                    jobs.iter().map(|j| j.ids.len()).collect::<Vec<_>>(),
                    started.elapsed().as_secs_f64()
                );
                let want = minilm::reference(format!("{batch} {lengths:?} {first}"), &jobs);
                let what = format!("MiniLM batch {batch}");
                assert_traces_match(model, &jobs, &got, &want, &what);
            }

            #[test]
            fn minilm_batch_1_matches_core() {
                for (i, length) in [8, 100, 128].into_iter().enumerate() {
                    check_minilm(1, &[length], 40 * i);
                }
            }

            #[test]
            fn minilm_batch_7_matches_core() {
                check_minilm(7, &[8, 100, 128, 0], 200);
            }

            #[test]
            fn minilm_batch_32_matches_core() {
                check_minilm(32, &[128, 100, 8, 0], 400);
            }
        }
    };
}
