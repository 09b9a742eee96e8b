//! Bit-exactness of the wgpu backend against `tavdun_core::forward`. CI runs these on Mesa's
//! lavapipe; without any adapter they fail: an engine that silently skipped its GPU tests
//! would let a broken GPU path ship.

mod common;

crate::testgen_graph!(
    wgpu_int,
    tavdun_engine::BackendChoice::Wgpu,
    tavdun_engine::ProductChoice::Int
);
crate::testgen_graph!(
    wgpu_f32,
    tavdun_engine::BackendChoice::Wgpu,
    tavdun_engine::ProductChoice::FloatSlices
);
crate::testgen_minilm!(
    wgpu_minilm,
    tavdun_engine::BackendChoice::Wgpu,
    tavdun_engine::ProductChoice::Auto
);

use common::*;
use tavdun_engine::{Backend, BackendChoice};

#[test]
fn wgpu_adapter_is_found_and_described() {
    let engine = engine(BackendChoice::Wgpu);
    let report = engine.device_report();
    assert_eq!(report.backend, Backend::Wgpu);
    assert!(!report.adapter.is_empty());
    assert!(report.max_buffer_bytes.is_some_and(|b| b > 0));
}

#[test]
fn random_models_match_the_reference() {
    check_random_models(&engine(BackendChoice::Wgpu), 16);
}

#[test]
fn conv_model_matches_the_reference() {
    check_model(
        &engine(BackendChoice::Wgpu),
        &conv_digits_like(),
        "conv model",
    );
}

#[test]
fn large_image_convolutions_match_the_reference() {
    check_model(
        &engine(BackendChoice::Wgpu),
        &conv_large_image(),
        "large image",
    );
}

#[test]
fn bench_mlp_matches_the_reference() {
    check_model(&engine(BackendChoice::Wgpu), &bench_mlp(), "784-512-256-10");
}

#[test]
fn worst_case_accumulators_are_exact() {
    let (model, jobs) = worst_case();
    let loaded = engine(BackendChoice::Wgpu).load(&model).unwrap();
    assert_exact(&loaded, &model, &jobs, "worst case");
}

#[test]
fn digits_model_matches_the_reference() {
    check_digits(&engine(BackendChoice::Wgpu));
}
