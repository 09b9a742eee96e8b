//! The embedding models' tokenizers, loaded once at start from `embeddings.tokenizers`, each
//! configured under a model's id or its spec's name.

use std::borrow::Cow;
use std::collections::BTreeMap;

use tavdun_sdk::api::GraphModelInfo;
use tavdun_sdk::text::TextTokenizer;

use crate::config::{field, ConfigError, EmbeddingsConfig};
use crate::error::ApiError;

pub struct Tokenizers {
    by_model: BTreeMap<String, TextTokenizer>,
}

impl Tokenizers {
    pub fn new(config: &EmbeddingsConfig) -> Result<Tokenizers, ConfigError> {
        let by_model = config
            .tokenizers
            .iter()
            .map(|(model, path)| {
                let tokenizer = TextTokenizer::from_file(path)
                    .map_err(|e| field(format!("embeddings.tokenizers.{model}"), e.to_string()))?;
                Ok((model.clone(), tokenizer))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Tokenizers { by_model })
    }

    /// The tokenizer of `model` (configured under its id, else its spec's name), truncating
    /// at the model's token limit where that is below the tokenizer's own.
    pub fn for_model(&self, model: &GraphModelInfo) -> Result<Cow<'_, TextTokenizer>, ApiError> {
        let tokenizer = self
            .by_model
            .get(&model.model_id)
            .or_else(|| self.by_model.get(&model.spec.name))
            .ok_or_else(|| {
                let served: Vec<&str> = self.by_model.keys().map(String::as_str).collect();
                ApiError::NoTokenizer(format!(
                    "this relayer has no tokenizer for model `{}` ({}); it embeds with: {}",
                    model.spec.name,
                    model.model_id,
                    if served.is_empty() {
                        "none".to_string()
                    } else {
                        served.join(", ")
                    }
                ))
            })?;
        let max_tokens = model.max_tokens as usize;
        if tokenizer.max_tokens() <= max_tokens {
            return Ok(Cow::Borrowed(tokenizer));
        }
        tokenizer
            .limited_to(max_tokens)
            .map(Cow::Owned)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokenizer_that_does_not_load_names_its_field() {
        let mut config = EmbeddingsConfig::default();
        config.tokenizers.insert(
            "all-minilm-l6-v2".into(),
            "/nonexistent/tokenizer.json".into(),
        );
        match Tokenizers::new(&config).err() {
            Some(ConfigError::Field { field, reason }) => {
                assert_eq!(field, "embeddings.tokenizers.all-minilm-l6-v2");
                assert!(reason.contains("/nonexistent/tokenizer.json"), "{reason}");
            }
            other => panic!("expected a field error, got {other:?}"),
        }
    }
}
