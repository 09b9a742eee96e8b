use indicatif::{ProgressBar, ProgressStyle};

/// A step counter on stderr; indicatif draws nothing when stderr is not a terminal, so
/// `--json` output and logs stay clean.
pub struct Progress(ProgressBar);

impl Progress {
    pub fn new(steps: u64) -> Progress {
        let bar = ProgressBar::new(steps);
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(bar)
    }

    /// Shows step `number` (1-based) of `of` as under way.
    pub fn step(&self, number: usize, of: usize, message: &str) {
        self.0.set_length(of as u64);
        self.0.set_position(number.saturating_sub(1) as u64);
        self.0.set_message(message.to_string());
    }

    pub fn message(&self, message: &str) {
        self.0.set_message(message.to_string());
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
