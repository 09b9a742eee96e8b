//! The committed models are what their files, their READMEs and their generators say.
//! No training here: these checks read the committed files and run core's executor.

use std::path::{Path, PathBuf};

use tavdun_core::model_dir::{load_model, SPEC_FILE, WEIGHTS_FILE};
use tavdun_core::synthetic;
use tavdun_models::{describe, digits};

/// The committed digits model. Retraining changes it; then update this, the README and the
/// reports together.
const DIGITS_ID: &str = "195b123b87a373c33a385dac21d2f274599fcbaa51a7d8aed97a3aaec9978e95";
const BENCH_MLP_ID: &str = "ea4d1bfa57e945a5462367ab9a7e364fe2a9c67ec9e30d9a32064feb743635eb";

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The files are exactly what core writes for the model they load as: the spec in canonical
/// form and the weights in core's own layout, so their bytes determine the model id.
fn assert_files_canonical(dir: &Path) -> tavdun_core::Model {
    let model = load_model(dir).expect("committed model loads");
    assert_eq!(read(dir.join(SPEC_FILE)), model.spec.canonical_json());
    assert_eq!(read(dir.join(WEIGHTS_FILE)), model.to_safetensors());
    model
}

fn assert_readme_names(dir: &Path, id: &str, root: &str) {
    let readme = String::from_utf8(read(dir.join("README.md"))).expect("README is UTF-8");
    assert!(readme.contains(id), "README must state the model id {id}");
    assert!(
        readme.contains(root),
        "README must state the weights root {root}"
    );
}

#[test]
fn digits_model_is_the_committed_one() {
    let dir = models_dir().join("digits");
    let model = assert_files_canonical(&dir);
    let (id, root) = describe(&model);
    assert_eq!(id, DIGITS_ID);
    assert_readme_names(&dir, &id, &root);
    assert_eq!(model.spec.input.quant, digits::input_quant());
}

#[test]
fn digits_int8_accuracy_on_held_out_split_is_at_least_95_percent() {
    let model = load_model(&models_dir().join("digits")).expect("committed model loads");
    let samples = digits::load(&models_dir().join("digits/data/digits.csv.gz")).expect("data");
    assert_eq!(samples.len(), 1797);
    let split = digits::split(&samples);
    assert_eq!((split.train.len(), split.test.len()), (1438, 359));
    let accuracy = digits::int8_accuracy(&model, &split.test).expect("forward");
    assert!(accuracy >= 0.95, "int8 test accuracy {accuracy}");
}

#[test]
fn bench_mlp_is_what_gen_synthetic_writes() {
    let dir = models_dir().join("bench-mlp");
    let model = assert_files_canonical(&dir);
    let generated = synthetic::mlp("bench-mlp", &[784, 512, 256, 10], 1).expect("generates");
    assert_eq!(model, generated);
    let (id, root) = describe(&model);
    assert_eq!(id, BENCH_MLP_ID);
    assert_readme_names(&dir, &id, &root);
}
