//! Clients' tokenisation (feature `text`): text to a graph model's job input (token ids and
//! attention mask) with the model's own `tokenizer.json` (for MiniLM: BERT WordPiece,
//! lower-case, `[CLS] ... [SEP]`, at most 128 tokens). No padding: a job's length is its real
//! token count, so no work is spent on padding. Text longer than the truncation length is cut
//! by the tokenizer itself (the special tokens kept), as the model's own pipeline does.

use std::path::{Path, PathBuf};

use tavdun_core::graph::TokenInput;
use thiserror::Error;
use tokenizers::Tokenizer;

#[derive(Debug, Error)]
pub enum TextError {
    #[error("cannot load the tokenizer {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("the tokenizer {path} sets no truncation length: a job's token count must be bounded")]
    Unbounded { path: PathBuf },
    #[error("cannot tokenise the text: {0}")]
    Encode(String),
    #[error("cannot limit the tokenizer to {max_tokens} tokens: {reason}")]
    Limit { max_tokens: usize, reason: String },
}

#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, keeping its truncation (which must be set) and dropping its
    /// fixed padding.
    pub fn from_file(path: &Path) -> Result<TextTokenizer, TextError> {
        let mut inner = Tokenizer::from_file(path).map_err(|e| TextError::Load {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        inner.with_padding(None);
        if inner.get_truncation().is_none() {
            return Err(TextError::Unbounded {
                path: path.to_path_buf(),
            });
        }
        Ok(TextTokenizer { inner })
    }

    /// The most tokens [`encode`](Self::encode) returns (special tokens included).
    pub fn max_tokens(&self) -> usize {
        self.inner.get_truncation().map_or(0, |t| t.max_length)
    }

    /// This tokenizer truncating at `max_tokens` when that is below its own length (a model
    /// that takes fewer tokens than its tokenizer's pipeline).
    pub fn limited_to(&self, max_tokens: usize) -> Result<TextTokenizer, TextError> {
        let mut limited = self.clone();
        if let Some(mut truncation) = self.inner.get_truncation().cloned() {
            if truncation.max_length > max_tokens {
                truncation.max_length = max_tokens;
                limited
                    .inner
                    .with_truncation(Some(truncation))
                    .map_err(|e| TextError::Limit {
                        max_tokens,
                        reason: e.to_string(),
                    })?;
            }
        }
        Ok(limited)
    }

    /// The job input for `text`, truncated to [`max_tokens`](Self::max_tokens).
    pub fn encode(&self, text: &str) -> Result<TokenInput, TextError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| TextError::Encode(e.to_string()))?;
        Ok(TokenInput {
            ids: enc.get_ids().to_vec(),
            mask: enc.get_attention_mask().iter().map(|&m| m as u8).collect(),
        })
    }
}
