//! Any bytes as `weights.safetensors` for a fixed small conv model: refused with a typed error,
//! or loaded into a model whose forward pass runs and whose file round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tavdun_core::{forward, Model, ModelSpec};

const SPEC: &[u8] = br#"{"version":1,"name":"fuzz","input":{"shape":[1,4,4],"quant":{"scale":"1","zero_point":0}},"layers":[{"type":"conv2d","filters":2,"kernel":3,"stride":1,"padding":1,"shift":8,"relu":true},{"type":"maxpool2d","size":2,"stride":2},{"type":"flatten"},{"type":"dense","units":3,"shift":7,"relu":false}]}"#;

fuzz_target!(|data: &[u8]| {
    let (spec, plan) = ModelSpec::from_json(SPEC).expect("the fixed spec is valid");
    if let Ok(model) = Model::from_safetensors(spec, plan, data) {
        forward(&model, &[1; 16]).expect("a loaded model runs");
        let (spec, plan) = ModelSpec::from_json(SPEC).expect("the fixed spec is valid");
        let again = Model::from_safetensors(spec, plan, &model.to_safetensors())
            .expect("a written file loads");
        assert_eq!(model, again);
    }
});
