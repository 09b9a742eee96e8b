//! A job with its output decoded: what the CLI prints, the relayer serves and the demo shows.

use serde::Serialize;
use tavdun_market_api::Job;

#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub job: Job,
    /// The output as int8 values, once posted.
    pub output: Option<Vec<i8>>,
    /// Index of the largest output value (the first on a tie): a classifier's prediction.
    pub argmax: Option<usize>,
}

impl JobView {
    pub fn new(job: Job) -> JobView {
        let output = job.result.as_ref().map(|r| r.output_values());
        let argmax = output.as_deref().and_then(argmax);
        JobView {
            job,
            output,
            argmax,
        }
    }
}

/// Index of the largest value, the first one on a tie.
pub fn argmax(values: &[i8]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(super::argmax(&[1, 7, 7, -3]), Some(1));
        assert_eq!(super::argmax(&[]), None);
    }
}
