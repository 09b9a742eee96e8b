//! Real English sentences for calibration and accuracy: Debian's `fortunes` package
//! (`apt-get install fortunes`, installed by `scripts/setup`). Never generated text.

use std::path::Path;

use anyhow::Context;

/// Where Debian installs the fortune files.
pub const FORTUNES_DIR: &str = "/usr/share/games/fortunes";
/// The files read, in this order: quotations and aphorisms in plain English prose.
pub const FILES: [&str; 5] = ["people", "wisdom", "science", "literature", "fortunes"];
/// A kept fortune has this many words.
const WORDS: std::ops::RangeInclusive<usize> = 5..=40;

/// Every fortune of [`FILES`] that is plain prose of 5 to 40 words, attribution lines
/// (`-- Author`) dropped and whitespace collapsed; duplicates dropped; in file order.
pub fn sentences(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for name in FILES {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (install Debian's fortunes package: scripts/setup does)",
                path.display()
            )
        })?;
        let text = String::from_utf8_lossy(&bytes);
        for fortune in text.split("\n%\n") {
            let prose: Vec<&str> = fortune
                .lines()
                .take_while(|l| !l.trim_start().starts_with("--"))
                .collect();
            let joined = prose.join(" ");
            let words: Vec<&str> = joined.split_whitespace().collect();
            let plain = joined
                .chars()
                .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace());
            let has_dialogue = prose.iter().any(|l| l.contains(':') && l.len() < 20);
            if !plain || has_dialogue || !WORDS.contains(&words.len()) {
                continue;
            }
            let sentence = words.join(" ");
            if seen.insert(sentence.clone()) {
                out.push(sentence);
            }
        }
    }
    Ok(out)
}

/// Calibration sentences: every 16th, at most `count`. Disjoint from [`evaluation`].
pub fn calibration(all: &[String], count: usize) -> Vec<String> {
    all.iter().step_by(16).take(count).cloned().collect()
}

/// Evaluation sentences: the first `count` that are not calibration sentences.
pub fn evaluation(all: &[String], count: usize) -> Vec<String> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| i % 16 != 0)
        .map(|(_, s)| s.clone())
        .take(count)
        .collect()
}
