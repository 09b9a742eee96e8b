//! The 8x8 handwritten-digits data set (scikit-learn's copy of the UCI test set), its fixed
//! train/test split, and how its pixels become the model's int8 input.

use std::io::Read;

use anyhow::{bail, Context};
use flate2::read::GzDecoder;
use tavdun_core::synthetic::Rng;
use tavdun_core::{forward, InputQuant, Model};

/// Pixels per image: 8 rows of 8, row-major.
pub const PIXELS: usize = 64;
/// Pixel values are counts of set bits in a 4x4 block, so they lie in `0..=16`.
pub const PIXEL_MAX: u8 = 16;
pub const CLASSES: usize = 10;

/// The seed of the train/test shuffle. It is fixed apart from the training seed so that every
/// trained model, and the committed model's test, is judged on the same held-out images.
pub const SPLIT_SEED: u64 = 20_250_601;

/// Where the data lives, relative to the repository root.
pub const DATA_PATH: &str = "models/digits/data/digits.csv.gz";

/// The spec's input quantisation: `q = round(pixel / 0.25) = 4 * pixel`, so every pixel value
/// `0..=16` maps exactly to `0..=64` and the int8 input loses nothing.
pub fn input_quant() -> InputQuant {
    InputQuant {
        scale: "0.25".into(),
        zero_point: 0,
    }
}

/// The power of two that the int8 input carries: `pixel / 16 = q * 2^-INPUT_EXP`. The float
/// model is trained on `pixel / 16`, so quantisation starts from this exponent.
pub const INPUT_EXP: i32 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub pixels: [u8; PIXELS],
    pub label: u8,
}

impl Sample {
    /// The model's input bytes, through the spec's own quantisation (what a client does).
    pub fn int8_input(&self, quant: &InputQuant) -> Vec<i8> {
        let xs: Vec<f32> = self.pixels.iter().map(|&p| f32::from(p)).collect();
        quant.quantize(&xs)
    }

    /// The float model's input: pixels scaled to `[0, 1]`.
    pub fn float_input(&self) -> impl Iterator<Item = f32> + '_ {
        self.pixels
            .iter()
            .map(|&p| f32::from(p) / f32::from(PIXEL_MAX))
    }
}

/// Parses `digits.csv.gz`: one image a line, 64 pixel values then the label.
pub fn parse_csv_gz(gz: &[u8]) -> anyhow::Result<Vec<Sample>> {
    let mut text = String::new();
    GzDecoder::new(gz)
        .read_to_string(&mut text)
        .context("digits data is not a gzipped text file")?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_line(line).with_context(|| format!("digits data line {}", i + 1)))
        .collect()
}

fn parse_line(line: &str) -> anyhow::Result<Sample> {
    let values = line
        .split(',')
        .map(|v| v.trim().parse::<u8>())
        .collect::<Result<Vec<u8>, _>>()
        .context("a value is not a small non-negative integer")?;
    let Some((&label, pixels)) = values.split_last() else {
        bail!("empty line");
    };
    let pixels: [u8; PIXELS] = pixels
        .try_into()
        .with_context(|| format!("expected {PIXELS} pixels, found {}", pixels.len()))?;
    if pixels.iter().any(|&p| p > PIXEL_MAX) {
        bail!("a pixel is above {PIXEL_MAX}");
    }
    if usize::from(label) >= CLASSES {
        bail!("label {label} is not a digit");
    }
    Ok(Sample { pixels, label })
}

/// Reads and parses the data file at `path`.
pub fn load(path: &std::path::Path) -> anyhow::Result<Vec<Sample>> {
    let gz = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_csv_gz(&gz)
}

pub struct Split {
    pub train: Vec<Sample>,
    pub test: Vec<Sample>,
}

/// The fixed held-out split: a Fisher-Yates shuffle of all images driven by core's splitmix64
/// generator seeded with [`SPLIT_SEED`]; the first fifth (rounded down) is the test set, the
/// rest the training set. Integer-only, so it is the same on every platform.
pub fn split(samples: &[Sample]) -> Split {
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut rng = Rng::new(SPLIT_SEED);
    shuffle(&mut order, &mut rng);
    let test_len = samples.len() / 5;
    let pick = |idx: &[usize]| idx.iter().map(|&i| samples[i].clone()).collect();
    Split {
        test: pick(&order[..test_len]),
        train: pick(&order[test_len..]),
    }
}

/// Fisher-Yates with an integer generator: reproducible everywhere.
pub fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.range(0, i as i64) as usize;
        items.swap(i, j);
    }
}

/// The class an int8 model predicts: the index of the largest output, the first on a tie.
pub fn predict(model: &Model, input: &[i8]) -> anyhow::Result<usize> {
    let acts = forward(model, input)?;
    let logits = acts.last().context("the model has no layers")?;
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    Ok(best)
}

/// Share of `samples` the int8 model classifies right, computed with core's reference
/// executor: this is the accuracy that counts, since it is what every node computes.
pub fn int8_accuracy(model: &Model, samples: &[Sample]) -> anyhow::Result<f64> {
    let quant = &model.spec.input.quant;
    let mut correct = 0usize;
    for s in samples {
        if predict(model, &s.int8_input(quant))? == usize::from(s.label) {
            correct += 1;
        }
    }
    Ok(correct as f64 / samples.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pixel: u8, label: u8) -> String {
        let mut v = vec![pixel.to_string(); PIXELS];
        v.push(label.to_string());
        v.join(",")
    }

    #[test]
    fn parses_a_line_and_refuses_bad_ones() {
        let s = parse_line(&line(16, 9)).expect("valid line");
        assert_eq!((s.pixels, s.label), ([16; PIXELS], 9));
        assert!(parse_line(&line(17, 1)).is_err(), "pixel above 16");
        assert!(parse_line(&line(0, 10)).is_err(), "label above 9");
        assert!(parse_line("1,2,3").is_err(), "too few pixels");
        assert!(
            parse_line(&line(0, 1).replace('0', "x")).is_err(),
            "not a number"
        );
    }

    #[test]
    fn pixels_quantise_exactly() {
        let s = Sample {
            pixels: core::array::from_fn(|i| (i % 17) as u8),
            label: 0,
        };
        let q = s.int8_input(&input_quant());
        let expected: Vec<i8> = s.pixels.iter().map(|&p| 4 * p as i8).collect();
        assert_eq!(q, expected);
    }

    #[test]
    fn split_is_a_fixed_partition() {
        let samples: Vec<Sample> = (0..100u8)
            .map(|i| Sample {
                pixels: [i % 17; PIXELS],
                label: i % 10,
            })
            .collect();
        let a = split(&samples);
        let b = split(&samples);
        assert_eq!((a.train.len(), a.test.len()), (80, 20));
        assert_eq!((&a.train, &a.test), (&b.train, &b.test));
        let mut all: Vec<_> = a.train.iter().chain(&a.test).cloned().collect();
        all.sort_by_key(|s| (s.label, s.pixels));
        let mut sorted = samples.clone();
        sorted.sort_by_key(|s| (s.label, s.pixels));
        assert_eq!(all, sorted);
    }
}
