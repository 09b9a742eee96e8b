//! A job's input: read from a file or from values, quantised with the model's input spec,
//! checked against the model's input size.

use std::path::Path;

use tavdun_core::bytes::to_i8;
use tavdun_market_api::ModelInfo;
use thiserror::Error;

/// Why an input was refused; the relayer answers these with 400, the CLI with its message.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InputError {
    #[error("model {model} takes {expected} input values; got {found}")]
    WrongLength {
        model: String,
        expected: usize,
        found: usize,
    },
    #[error("expected a JSON array of numbers: {0}")]
    NotNumbers(String),
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
}

/// Where a job's input comes from.
pub enum InputSource<'a> {
    /// A file of raw int8 bytes, or of a JSON array of real numbers (`*.json`).
    File(&'a Path),
    /// A JSON array of real numbers.
    Json(&'a str),
    /// Real numbers, already parsed.
    Values(&'a [f32]),
    /// Raw int8 bytes, already decoded.
    Raw(&'a [u8]),
}

/// The int8 input for `model`, quantising real numbers with the model's input spec.
pub fn read_input(model: &ModelInfo, source: InputSource<'_>) -> Result<Vec<i8>, InputError> {
    let quant = &model.spec.input.quant;
    let floats = |text: &str| -> Result<Vec<f32>, InputError> {
        serde_json::from_str(text).map_err(|e| InputError::NotNumbers(e.to_string()))
    };
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| InputError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let values: Vec<i8> = match source {
        InputSource::Json(text) => quant.quantize(&floats(text)?),
        InputSource::File(path) if path.extension().is_some_and(|e| e == "json") => {
            quant.quantize(&floats(&String::from_utf8_lossy(&read(path)?))?)
        }
        InputSource::File(path) => to_i8(&read(path)?),
        InputSource::Values(values) => quant.quantize(values),
        InputSource::Raw(bytes) => to_i8(bytes),
    };
    if values.len() != model.input_len as usize {
        return Err(InputError::WrongLength {
            model: model.spec.name.clone(),
            expected: model.input_len as usize,
            found: values.len(),
        });
    }
    Ok(values)
}
