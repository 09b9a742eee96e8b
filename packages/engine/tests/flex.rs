//! Bit-exactness of the CPU backend (flex) against `tavdun_core::forward`.

mod common;

crate::testgen_graph!(
    cpu_int8,
    tavdun_engine::BackendChoice::Cpu,
    tavdun_engine::ProductChoice::CpuInt8
);
crate::testgen_graph!(
    flex_int,
    tavdun_engine::BackendChoice::Cpu,
    tavdun_engine::ProductChoice::Int
);
crate::testgen_graph!(
    flex_f32,
    tavdun_engine::BackendChoice::Cpu,
    tavdun_engine::ProductChoice::FloatSlices
);
crate::testgen_minilm!(
    cpu_int8_minilm,
    tavdun_engine::BackendChoice::Cpu,
    tavdun_engine::ProductChoice::CpuInt8
);
crate::testgen_minilm!(
    flex_int_minilm,
    tavdun_engine::BackendChoice::Cpu,
    tavdun_engine::ProductChoice::Int
);
crate::testgen_minilm!(
    flex_f32_minilm,
    tavdun_engine::BackendChoice::Cpu,
    tavdun_engine::ProductChoice::FloatSlices
);

use common::*;
use tavdun_engine::{Backend, BackendChoice, EngineConfig, EngineError};

#[test]
fn random_models_match_the_reference() {
    check_random_models(&engine(BackendChoice::Cpu), 48);
}

#[test]
fn conv_model_matches_the_reference() {
    check_model(
        &engine(BackendChoice::Cpu),
        &conv_digits_like(),
        "conv model",
    );
}

#[test]
fn bench_mlp_matches_the_reference() {
    check_model(&engine(BackendChoice::Cpu), &bench_mlp(), "784-512-256-10");
}

#[test]
fn worst_case_accumulators_are_exact() {
    let (model, jobs) = worst_case();
    let loaded = engine(BackendChoice::Cpu).load(&model).unwrap();
    assert_exact(&loaded, &model, &jobs, "worst case");
}

#[test]
fn long_job_lists_are_split_into_passes_with_the_same_bytes() {
    let model = conv_digits_like();
    let config = EngineConfig {
        backend: BackendChoice::Cpu,
        max_batch: 5,
        ..EngineConfig::default()
    };
    let loaded = tavdun_engine::Engine::new(config)
        .unwrap()
        .load(&model)
        .unwrap();
    assert_exact(
        &loaded,
        &model,
        &inputs(&model, 12, 3),
        "12 jobs in passes of 5",
    );
    assert!(loaded.run::<Vec<i8>>(&[]).unwrap().is_empty());
}

#[test]
fn wrong_input_length_is_a_typed_error() {
    let model = bench_mlp();
    let loaded = engine(BackendChoice::Cpu).load(&model).unwrap();
    let jobs = vec![vec![0i8; 784], vec![0i8; 783]];
    match loaded.run(&jobs) {
        Err(EngineError::InputLen {
            job: 1,
            found: 783,
            expected: 784,
        }) => {}
        other => panic!("expected an input length error, got {other:?}"),
    }
}

#[test]
fn cpu_backend_describes_its_device() {
    let engine = engine(BackendChoice::Cpu);
    let report = engine.device_report();
    assert_eq!(report.backend, Backend::Flex);
    assert!(report.cpu_threads >= 1 && !report.adapter.is_empty());
    assert!(report.to_string().contains("flex"), "{report}");
}

#[test]
fn digits_model_matches_the_reference() {
    check_digits(&engine(BackendChoice::Cpu));
}
