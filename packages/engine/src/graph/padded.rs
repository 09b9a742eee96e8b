//! The padded layout of a batch: every job is padded to the batch's longest, `N` tokens.
//!
//! A node's extent is `per_token * n + fixed` (core's `Extent`); for a job of `n` tokens its
//! `per_token` blocks of `n` (a scores node's heads) each take `N` places, then the fixed
//! part follows. Padded places hold values the ops computed from padding (token id 0, mask 0):
//! every op that mixes tokens (softmax, context, mean pool) reads them only through the mask,
//! which drops them as core drops a job's own masked tokens, so a job's values never depend
//! on its batch-mates.

use tavdun_core::graph::{DType, Extent, Tensor};

use crate::error::EngineError;

/// The contiguous runs `(padded start, length)` that hold an extent's `extent.at(n)` values
/// in its padded form (`extent.at(padded)` places), in order.
fn runs(extent: Extent, n: usize, padded: usize) -> impl Iterator<Item = (usize, usize)> {
    let blocks = extent.per_token as usize;
    let fixed = extent.fixed as usize;
    (0..blocks)
        .map(move |block| (block * padded, n))
        .chain((fixed > 0).then_some((blocks * padded, fixed)))
}

/// One node's output for the whole batch as read back: `[batch, rows, width]` at `padded`
/// tokens, row-major.
pub(crate) struct PaddedNode<'a> {
    pub node: usize,
    pub values: &'a [i32],
    pub rows: Extent,
    pub width: Extent,
    pub dtype: DType,
    pub padded: usize,
}

impl PaddedNode<'_> {
    /// Job `job`'s tensor (`n` tokens), as core's reference pass returns it. A value outside
    /// the node's type means the backend broke exactness: an error, never a posted trace.
    pub(crate) fn job_tensor(&self, job: usize, n: usize) -> Result<Tensor, EngineError> {
        let padded_rows = self.rows.at(self.padded as u32) as usize;
        let padded_width = self.width.at(self.padded as u32) as usize;
        let (rows, width) = (self.rows.at(n as u32), self.width.at(n as u32));
        let job_base = job * padded_rows * padded_width;
        let mut values = Vec::with_capacity(rows as usize * width as usize);
        for (row_start, row_len) in runs(self.rows, n, self.padded) {
            for r in row_start..row_start + row_len {
                let row = job_base + r * padded_width;
                for (col_start, col_len) in runs(self.width, n, self.padded) {
                    let start = row + col_start;
                    let part =
                        self.values
                            .get(start..start + col_len)
                            .ok_or(EngineError::ReadBack {
                                node: self.node,
                                reason: "fewer values than the batch's shape",
                            })?;
                    values.extend_from_slice(part);
                }
            }
        }
        if let Some(&value) = values
            .iter()
            .find(|&&v| v < self.dtype.min() || v > self.dtype.max())
        {
            return Err(EngineError::OutOfRange {
                node: self.node,
                value,
            });
        }
        Ok(Tensor::narrowed(rows, width, self.dtype, &values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_blocks_then_the_fixed_part() {
        let heads = Extent {
            per_token: 3,
            fixed: 0,
        };
        assert_eq!(
            runs(heads, 2, 5).collect::<Vec<_>>(),
            [(0, 2), (5, 2), (10, 2)]
        );
        assert_eq!(runs(Extent::fixed(4), 2, 5).collect::<Vec<_>>(), [(0, 4)]);
        let mixed = Extent {
            per_token: 1,
            fixed: 3,
        };
        assert_eq!(runs(mixed, 2, 5).collect::<Vec<_>>(), [(0, 2), (5, 3)]);
    }

    #[test]
    fn a_job_is_cut_out_of_its_padded_rows_and_columns() {
        // Two jobs padded to 3 tokens, a [n, n] node; job 1 has 2 tokens.
        let values: Vec<i32> = (0..18).collect();
        let node = PaddedNode {
            node: 0,
            values: &values,
            rows: Extent::TOKENS,
            width: Extent::TOKENS,
            dtype: DType::I8,
            padded: 3,
        };
        let t = node.job_tensor(1, 2).unwrap();
        assert_eq!((t.rows, t.width), (2, 2));
        assert_eq!(t.values, [9, 10, 12, 13]);
        let short = PaddedNode {
            values: &values[..10],
            ..node
        };
        assert!(matches!(
            short.job_tensor(1, 2),
            Err(EngineError::ReadBack { .. })
        ));
    }
}
