//! The fuzz targets' properties (see `fuzz/`), run on random and mutated inputs in every test
//! run, since cargo-fuzz itself needs a nightly toolchain.

use proptest::prelude::*;
use tavdun_core::synthetic;
use tavdun_core::{forward, Model, ModelSpec};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn spec_parser_never_panics_and_round_trips(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4)) {
        let mut bytes = synthetic::random_model(seed).unwrap().spec.canonical_json();
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if let Ok((spec, plan)) = ModelSpec::from_json(&bytes) {
            let (again, again_plan) = ModelSpec::from_json(&spec.canonical_json()).unwrap();
            prop_assert_eq!(spec, again);
            prop_assert_eq!(plan, again_plan);
        }
    }

    #[test]
    fn weights_loader_never_panics(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let m = synthetic::random_model(seed).unwrap();
        let mut bytes = m.to_safetensors();
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if cut % 4 == 0 {
            bytes.truncate(cut % bytes.len());
        }
        if let Ok(loaded) = Model::from_safetensors(m.spec.clone(), m.plan.clone(), &bytes) {
            let input = synthetic::input(loaded.plan.input.len(), seed);
            prop_assert!(forward(&loaded, &input).is_ok());
            let again = Model::from_safetensors(m.spec.clone(), m.plan.clone(), &loaded.to_safetensors()).unwrap();
            prop_assert_eq!(loaded, again);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Version 2: mutated graph specs either parse to a spec that round-trips or are refused,
    /// never a panic; mutated weights either load (and run) or are refused.
    #[test]
    fn graph_spec_and_weights_never_panic(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        use tavdun_core::graph::{forward, GraphModel, GraphSpec};
        let m = synthetic::random_encoder(seed % 64).unwrap();
        let mut spec = m.spec.canonical_json();
        for &(at, b) in &flips {
            let i = at % spec.len();
            spec[i] = b;
        }
        if let Ok((parsed, plan)) = GraphSpec::from_json(&spec) {
            let (again, again_plan) = GraphSpec::from_json(&parsed.canonical_json()).unwrap();
            prop_assert_eq!(parsed, again);
            prop_assert_eq!(plan, again_plan);
        }
        let mut bytes = m.to_safetensors();
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if cut % 4 == 0 {
            bytes.truncate(cut % bytes.len());
        }
        if let Ok(loaded) = GraphModel::from_safetensors(m.spec.clone(), m.plan.clone(), &bytes) {
            let input = synthetic::random_token_input(&loaded.plan, seed);
            prop_assert!(forward(&loaded, &input).is_ok());
        }
    }
}
