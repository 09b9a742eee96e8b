//! Clients' tokenisation: text to a job input (token ids and attention mask) with the model's
//! own `tokenizer.json` (BERT WordPiece, lower-case, `[CLS] ... [SEP]`, at most 128 tokens).
//! No padding: a job's length is its real token count, so no work is spent on padding.

use std::path::Path;

use anyhow::{anyhow, Context};
use tavdun_core::graph::TokenInput;
use tokenizers::Tokenizer;

use super::MAX_TOKENS;

pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, keeping its truncation (at most [`MAX_TOKENS`]) and dropping
    /// its fixed padding.
    pub fn from_file(path: &Path) -> anyhow::Result<TextTokenizer> {
        let mut inner =
            Tokenizer::from_file(path).map_err(|e| anyhow!("loading {}: {e}", path.display()))?;
        inner.with_padding(None);
        let truncation = inner.get_truncation().map(|t| t.max_length);
        anyhow::ensure!(
            truncation.is_some_and(|m| m <= MAX_TOKENS as usize),
            "{}: expected truncation to at most {MAX_TOKENS} tokens, found {truncation:?}",
            path.display()
        );
        Ok(TextTokenizer { inner })
    }

    /// The job input for `text`.
    pub fn encode(&self, text: &str) -> anyhow::Result<TokenInput> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| anyhow!("tokenising {text:?}: {e}"))
            .context("tokenizer")?;
        Ok(TokenInput {
            ids: enc.get_ids().to_vec(),
            mask: enc.get_attention_mask().iter().map(|&m| m as u8).collect(),
        })
    }
}
