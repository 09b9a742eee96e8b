//! Any bytes: the spec parser either refuses them with a typed error or accepts a spec whose
//! canonical form parses back to the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tavdun_core::ModelSpec;

fuzz_target!(|data: &[u8]| {
    if let Ok((spec, plan)) = ModelSpec::from_json(data) {
        let (again, again_plan) = ModelSpec::from_json(&spec.canonical_json())
            .expect("a canonical spec must parse");
        assert_eq!(spec, again);
        assert_eq!(plan, again_plan);
    }
});
