//! MiniLM (the int8 all-MiniLM-L6-v2 that `scripts/setup` generates) on real sentences:
//! Debian's fortunes, tokenised as a client would. Missing files fail the test, telling what
//! to run; they never skip it.

use std::path::Path;

use tavdun_core::graph::{GraphModel, TokenInput};
use tavdun_models::minilm::{self, corpus, tokenize::TextTokenizer};
use tavdun_models::read_graph_model;

pub fn model() -> GraphModel {
    let dir = minilm::int8_model_dir();
    read_graph_model(&dir).unwrap_or_else(|e| {
        panic!(
            "the MiniLM model in {} does not load ({e:#}): run scripts/setup",
            dir.display()
        )
    })
}

/// `count` job inputs, job `j` of `lengths[j % lengths.len()]` tokens (`0`: the sentence's own
/// length): fortunes in corpus order from `first`, joined until long enough, cut to the length
/// with `[SEP]` kept last. Every token is kept (clients do not pad).
pub fn sentences(count: usize, lengths: &[usize], first: usize) -> Vec<TokenInput> {
    let tokenizer_path = minilm::wheel_model_dir().join("tokenizer.json");
    let tokenizer = TextTokenizer::from_file(&tokenizer_path)
        .unwrap_or_else(|e| panic!("{}: {e:#}: run scripts/setup", tokenizer_path.display()));
    let all = corpus::sentences(Path::new(corpus::FORTUNES_DIR))
        .unwrap_or_else(|e| panic!("{e:#}: run scripts/setup"));
    let mut next = first;
    (0..count)
        .map(|j| {
            let want = lengths[j % lengths.len()];
            let mut text = String::new();
            let mut input = tokenizer.encode("").expect("tokenises");
            // A sentence adds at least one token: 128 of them reach any length.
            for _ in 0..minilm::MAX_TOKENS {
                text.push_str(&all[next % all.len()]);
                text.push(' ');
                next += 1;
                input = tokenizer.encode(&text).expect("tokenises");
                if want == 0 || input.ids.len() >= want {
                    break;
                }
            }
            if want > 0 {
                let sep = input.ids[input.ids.len() - 1];
                input.ids.truncate(want - 1);
                input.ids.push(sep);
                input.mask = vec![1; want];
            }
            input
        })
        .collect()
}
