//! MiniLM (the int8 all-MiniLM-L6-v2 that `scripts/setup` generates) on real sentences:
//! Debian's fortunes, tokenised as a client would. Missing files fail the test, telling what
//! to run; they never skip it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tavdun_core::graph::{GraphModel, TokenInput, Trace};
use tavdun_core::model_dir::load_graph_model;
use tavdun_models::minilm::{self, corpus};
use tavdun_sdk::text::TextTokenizer;

/// The model, read once per test binary.
pub fn model() -> &'static GraphModel {
    static MODEL: OnceLock<GraphModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = minilm::int8_model_dir();
        load_graph_model(&dir).unwrap_or_else(|e| {
            panic!(
                "the MiniLM model in {} does not load ({e:#}): run scripts/setup",
                dir.display()
            )
        })
    })
}

/// Core's traces of the MiniLM case `case` (its jobs always the same), computed once per test
/// binary: every kernel choice of a binary is compared with the same reference, which costs
/// far more than the engine does (core's executor is the plain definition, row by row). A
/// second test asking for a case being computed waits for it.
pub fn reference(case: String, jobs: &[TokenInput]) -> Arc<Vec<Trace>> {
    type Cases = BTreeMap<String, Arc<OnceLock<Arc<Vec<Trace>>>>>;
    static CASES: Mutex<Cases> = Mutex::new(BTreeMap::new());
    let slot = CASES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(case)
        .or_default()
        .clone();
    slot.get_or_init(|| Arc::new(super::graph::reference_traces(model(), jobs)))
        .clone()
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
