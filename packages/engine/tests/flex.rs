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
use tavdun_engine::{Backend, BackendChoice, Engine, EngineError, ProductChoice};

/// Version 1 on the CPU runs on the engine's CPU kernels (the default products choice) and on
/// burn's f32 operations on flex (any other choice): every version 1 test runs both.
fn v1_engines(change: impl Fn(&mut tavdun_engine::EngineConfig)) -> [Engine; 2] {
    [
        engine_with(BackendChoice::Cpu, &change),
        engine_with(BackendChoice::Cpu, |c| {
            change(c);
            c.products = ProductChoice::FloatSlices;
        }),
    ]
}

#[test]
fn version_1_runs_on_the_cpu_kernels_by_default_and_on_burn_otherwise() {
    let model = bench_mlp();
    let [kernels, burn] = v1_engines(|_| {});
    let kernels = kernels.load(&model).unwrap();
    assert!(
        kernels.kernels().starts_with("CPU kernels"),
        "{}",
        kernels.kernels()
    );
    assert_eq!(burn.load(&model).unwrap().kernels(), "burn f32 operations");
}

#[test]
fn random_models_match_the_reference() {
    for engine in v1_engines(|_| {}) {
        check_random_models(&engine, 48);
    }
}

#[test]
fn conv_model_matches_the_reference() {
    for engine in v1_engines(|_| {}) {
        check_model(&engine, &conv_digits_like(), "conv model");
    }
}

#[test]
fn large_image_convolutions_match_the_reference() {
    for engine in v1_engines(|_| {}) {
        check_model(&engine, &conv_large_image(), "large image");
    }
}

#[test]
fn bench_mlp_matches_the_reference() {
    for engine in v1_engines(|_| {}) {
        check_model(&engine, &bench_mlp(), "784-512-256-10");
    }
}

#[test]
fn worst_case_accumulators_are_exact() {
    let (model, jobs) = worst_case();
    for engine in v1_engines(|_| {}) {
        assert_exact(&engine.load(&model).unwrap(), &model, &jobs, "worst case");
    }
}

#[test]
fn long_job_lists_are_split_into_passes_with_the_same_bytes() {
    let model = conv_digits_like();
    for engine in v1_engines(|c| c.max_batch = 5) {
        let loaded = engine.load(&model).unwrap();
        assert_exact(
            &loaded,
            &model,
            &inputs(&model, 12, 3),
            "12 jobs in passes of 5",
        );
        assert!(loaded.run::<Vec<i8>>(&[]).unwrap().is_empty());
    }
}

#[test]
fn wrong_input_length_is_a_typed_error() {
    let model = bench_mlp();
    for engine in v1_engines(|_| {}) {
        let loaded = engine.load(&model).unwrap();
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
    for engine in v1_engines(|_| {}) {
        check_digits(&engine);
    }
}
