//! Models, inputs and the bit-exactness check shared by the per-backend test files.

pub mod graph;
pub mod graph_suite;
pub mod minilm;

use tavdun_core::synthetic::{self, Rng};
use tavdun_core::{
    forward, InputQuant, InputSpec, Layer, LayerWeights, Model, ModelSpec, SPEC_VERSION,
};
use tavdun_engine::{AdapterChoice, BackendChoice, Engine, EngineConfig, LoadedModel};

pub const BATCHES: [usize; 3] = [1, 7, 64];

/// An engine on exactly the backend asked for: a missing adapter fails the test, it never
/// skips it. `TAVDUN_ENGINE_ADAPTER` picks the wgpu adapter (default: wgpu's choice).
pub fn engine(backend: BackendChoice) -> Engine {
    engine_with(backend, |_| {})
}

/// [`engine`] with settings changed by `change`.
pub fn engine_with(backend: BackendChoice, change: impl FnOnce(&mut EngineConfig)) -> Engine {
    let adapter = std::env::var("TAVDUN_ENGINE_ADAPTER")
        .map(|a| AdapterChoice::parse(&a).expect("TAVDUN_ENGINE_ADAPTER"))
        .unwrap_or_default();
    let mut config = EngineConfig {
        backend,
        adapter,
        ..EngineConfig::default()
    };
    change(&mut config);
    let engine = Engine::new(config).unwrap_or_else(|e| panic!("{backend:?} engine: {e}"));
    eprintln!("engine: {}", engine.device_report());
    engine
}

pub fn inputs(model: &Model, count: usize, seed: u64) -> Vec<Vec<i8>> {
    (0..count)
        .map(|j| synthetic::input(model.plan.input.len(), seed * 1000 + j as u64))
        .collect()
}

/// Runs `jobs` as one batch and compares every layer of every job with the reference.
pub fn assert_exact(loaded: &LoadedModel, model: &Model, jobs: &[Vec<i8>], what: &str) {
    let got = loaded
        .run(jobs)
        .unwrap_or_else(|e| panic!("{what}: engine failed: {e}"));
    assert_eq!(got.len(), jobs.len(), "{what}: one result per job");
    for (j, (job, acts)) in jobs.iter().zip(&got).enumerate() {
        let want = forward(model, job).expect("reference forward");
        assert_eq!(acts.len(), want.len(), "{what}: job {j}: layer count");
        for (layer, (a, w)) in acts.iter().zip(&want).enumerate() {
            if a != w {
                let at = a.iter().zip(w).position(|(x, y)| x != y);
                panic!(
                    "{what}: batch {}, job {j}, layer {layer} ({:?}) differs at {at:?}: \
                     engine {:?} reference {:?}",
                    jobs.len(),
                    model.spec.layers[layer],
                    at.map(|i| a[i]),
                    at.map(|i| w[i]),
                );
            }
        }
    }
}

/// Loads `model` and checks it at batch sizes 1, 7 and 64.
pub fn check_model(engine: &Engine, model: &Model, what: &str) {
    let loaded = engine
        .load(model)
        .unwrap_or_else(|e| panic!("{what}: load: {e}"));
    for (i, &batch) in BATCHES.iter().enumerate() {
        assert_exact(&loaded, model, &inputs(model, batch, i as u64), what);
    }
}

/// Seeded random valid models of every layer kind: about a third dense-only, the rest
/// conv/pool/flatten stacks followed by dense layers.
pub fn check_random_models(engine: &Engine, count: u64) {
    let mut kinds = [0usize; 2];
    for seed in 0..count {
        let model = synthetic::random_model(seed).expect("random model");
        let image = model.plan.input.dims().len() == 3;
        kinds[usize::from(image)] += 1;
        check_model(engine, &model, &format!("random model {seed}"));
    }
    assert!(
        kinds[0] > 0 && kinds[1] > 0,
        "both model kinds ran: {kinds:?}"
    );
}

fn spec(name: &str, input: Vec<u32>, layers: Vec<Layer>) -> ModelSpec {
    ModelSpec {
        version: SPEC_VERSION,
        name: name.into(),
        input: InputSpec {
            shape: input,
            quant: InputQuant {
                scale: "0.0625".into(),
                zero_point: 0,
            },
        },
        layers,
    }
}

fn random_weights(model_spec: ModelSpec, seed: u64) -> Model {
    let plan = model_spec.validate().expect("valid spec");
    let mut rng = Rng::new(seed);
    let weights = plan
        .layers
        .iter()
        .map(|lp| {
            (lp.leaves > 0).then(|| {
                let bound = lp.max_bias.min(1 << 12) as i64;
                LayerWeights {
                    weight: (0..lp.leaves as usize * lp.fan_in as usize)
                        .map(|_| rng.range(-127, 127) as i8)
                        .collect(),
                    bias: (0..lp.leaves)
                        .map(|_| rng.range(-bound, bound) as i32)
                        .collect(),
                }
            })
        })
        .collect();
    Model::new(model_spec, plan, weights).expect("valid weights")
}

/// A digits-sized image model: 1x8x8 -> conv 3x3 (16, pad 1) -> max-pool 2 -> conv 3x3 (32)
/// -> flatten -> dense 64 -> dense 10.
pub fn conv_digits_like() -> Model {
    let layers = vec![
        Layer::Conv2d {
            filters: 16,
            kernel: 3,
            stride: 1,
            padding: 1,
            shift: 9,
            relu: true,
        },
        Layer::Maxpool2d { size: 2, stride: 2 },
        Layer::Conv2d {
            filters: 32,
            kernel: 3,
            stride: 1,
            padding: 0,
            shift: 11,
            relu: true,
        },
        Layer::Flatten,
        Layer::Dense {
            units: 64,
            shift: 11,
            relu: true,
        },
        Layer::Dense {
            units: 10,
            shift: 10,
            relu: false,
        },
    ];
    random_weights(spec("digits-like", vec![1, 8, 8], layers), 8)
}

/// A larger image: 3x24x20 -> conv 3x3 (8, pad 1, 480 positions) -> conv 5x5 (4, stride 2,
/// pad 2) -> max-pool 3 (stride 2) -> flatten -> dense 10: convolutions over more output
/// positions than the CPU kernels take per task, in tiles that end mid-row.
pub fn conv_large_image() -> Model {
    let layers = vec![
        Layer::Conv2d {
            filters: 8,
            kernel: 3,
            stride: 1,
            padding: 1,
            shift: 8,
            relu: true,
        },
        Layer::Conv2d {
            filters: 4,
            kernel: 5,
            stride: 2,
            padding: 2,
            shift: 10,
            relu: false,
        },
        Layer::Maxpool2d { size: 3, stride: 2 },
        Layer::Flatten,
        Layer::Dense {
            units: 10,
            shift: 9,
            relu: false,
        },
    ];
    random_weights(spec("large-image", vec![3, 24, 20], layers), 11)
}

/// Accumulators at the edge of f32's exact range: fan-in 1024, |w| = 127, inputs -128 or 127,
/// biases at the largest magnitude validation allows.
pub fn worst_case() -> (Model, Vec<Vec<i8>>) {
    let model_spec = spec(
        "worst-case",
        vec![1024],
        vec![Layer::Dense {
            units: 8,
            shift: 16,
            relu: false,
        }],
    );
    let plan = model_spec.validate().expect("valid spec");
    let max_bias = plan.layers[0].max_bias as i32;
    let weight = (0..8 * 1024)
        .map(|i| if (i / 1024) % 2 == 0 { 127 } else { -127 })
        .collect();
    let bias = (0..8)
        .map(|u| if u % 4 < 2 { max_bias } else { -max_bias })
        .collect();
    let weights = vec![Some(LayerWeights { weight, bias })];
    let model = Model::new(model_spec, plan, weights).expect("valid weights");
    let jobs = vec![
        vec![-128; 1024],
        vec![127; 1024],
        (0..1024)
            .map(|i| if i % 2 == 0 { -128 } else { 127 })
            .collect(),
    ];
    (model, jobs)
}

pub fn bench_mlp() -> Model {
    synthetic::mlp("bench-mlp", &[784, 512, 256, 10], 7).expect("bench model")
}

/// The shipped digits classifier (`models/digits`), trained with burn and quantised to int8.
pub fn digits() -> Model {
    Model::load(
        include_bytes!("../../../../models/digits/spec.json"),
        include_bytes!("../../../../models/digits/weights.safetensors"),
    )
    .expect("models/digits loads")
}

/// The digits model's shipped example image, quantised as a client would.
pub fn digits_example(model: &Model) -> Vec<i8> {
    let pixels: Vec<f32> =
        serde_json::from_slice(include_bytes!("../../../../models/digits/example.json"))
            .expect("example.json is a list of numbers");
    model.spec.input.quant.quantize(&pixels)
}

/// The digits model at batch sizes 1, 7 and 64 of random images, plus its real example.
pub fn check_digits(engine: &Engine) {
    let model = digits();
    check_model(engine, &model, "digits");
    let loaded = engine.load(&model).expect("digits loads");
    let example = digits_example(&model);
    assert_eq!(example.len(), 64);
    assert_exact(&loaded, &model, &[example], "digits example");
}
