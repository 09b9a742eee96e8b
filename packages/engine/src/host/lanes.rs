//! Row ops over whole rows, written for the compiler's vectoriser. Each runs inside
//! [`vectorised`], which compiles it for the widest vector unit the CPU has (AVX-512 or AVX2
//! on x86-64, chosen at run time by pulp). Core's arithmetic is restated where its own form
//! does not vectorise, each time with the bounds that make the restatement exact: LayerNorm
//! whole (core's `NormRow` allocates per row, and its i64 output step fits i32 within
//! validation's bounds), GELU's product in i32, requantisation in f64 ([`Requant`]: AVX2 has
//! no i64 multiplication or arithmetic shift), and the two divisions by a row's own value
//! (LayerNorm's by sigma, softmax's by the sum of its exponentials) in f64 by [`Divisor`].
//! The proofs are at each; the tests below hold each against core's own functions.
//!
//! Every function is `#[inline(always)]` and every closure passed to [`vectorised`] too: code
//! compiled outside the dispatched function gets no wider instructions.

use std::mem::MaybeUninit;

use tavdun_core::graph::arith::{
    exp_poly, isqrt, round_shift, GELU_A, GELU_CLIP, GELU_INV_SQRT2, NORM_BITS, PROB_BITS,
};
use tavdun_core::graph::plan::norm_bits;
use tavdun_core::graph::DType;

/// Runs `f` compiled for the best vector instructions this CPU has.
#[inline(always)]
pub(crate) fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// Where a row op writes: a node's output rows, not yet written (they are not zeroed first:
/// at batch 32 that pass alone costs more than some ops), in the trace's `i16`. Every function
/// here writes every element of its `dst`, whose length it asserts against its inputs', with
/// a value its arithmetic clamped to the node's type, so the narrowing is exact.
pub(crate) type Dst = [MaybeUninit<i16>];

/// Requantisation, core's `clamp(round_shift(acc * mult, shift))`, in f64: AVX2 has vector
/// f64 multiplication, rounding and conversion, but neither the i64 multiplication nor the
/// arithmetic i64 shift that core's form needs, so that form stays scalar.
///
/// Exact under validation's bounds (`|acc| < 2^31`, `1 <= mult < 2^15`, `shift <= 46`):
/// `scale = mult * 2^-shift` is exact; `acc * scale` is `acc * mult` (below 2^46) scaled by a
/// power of two, so exact; adding 1/2 gives a value of at most 48 significant bits (bits
/// from below 2^47 down to 2^-shift or 2^-1), so exact; and `floor` of that is round_shift's
/// `floor((acc * mult + 2^(shift-1)) / 2^shift)` (for shift 0, `floor(v + 1/2) = v`).
#[derive(Clone, Copy)]
pub(crate) struct Requant {
    lo: f64,
    hi: f64,
}

impl Requant {
    pub(crate) fn new(out: DType) -> Requant {
        Requant {
            lo: out.min().into(),
            hi: out.max().into(),
        }
    }

    /// `mult * 2^-shift`, the factor [`Requant::apply`] takes.
    pub(crate) fn scale(mult: u32, shift: u32) -> f64 {
        f64::from(mult) / (1u64 << shift) as f64
    }

    #[inline(always)]
    fn apply(self, acc: f64, scale: f64) -> i16 {
        // Compared by hand: `f64::max` and `min` also handle NaN (none arises here), which
        // costs a compare and a blend per vector.
        let v = (acc * scale + 0.5).floor();
        let v = if v > self.lo { v } else { self.lo };
        let v = if v < self.hi { v } else { self.hi };
        // SAFETY: `v` is an integer within the output type's range, which is within `i16`.
        unsafe { v.to_int_unchecked::<i32>() as i16 }
    }
}

/// Dense's epilogue: rows of raw products into their output, unit `u` of a row becoming
/// `requant(raw + offsets[u], mults[u])`, with `scales[u]` from [`Requant::scale`].
#[inline(always)]
pub(crate) fn requant_rows(
    raw: &[i32],
    offsets: &[f64],
    scales: &[f64],
    out: DType,
    dst: &mut Dst,
) {
    let units = offsets.len();
    assert!(
        raw.len() == dst.len() && scales.len() == units && raw.len().is_multiple_of(units.max(1))
    );
    let requant = Requant::new(out);
    let rows = raw.chunks_exact(units.max(1));
    for (raw, dst) in rows.zip(dst.chunks_exact_mut(units.max(1))) {
        for (((d, &v), &offset), &scale) in dst.iter_mut().zip(raw).zip(offsets).zip(scales) {
            d.write(requant.apply(f64::from(v) + offset, scale));
        }
    }
}

/// `requant(x, mult)` of every value, `scale` from [`Requant::scale`].
#[inline(always)]
pub(crate) fn requant_values(x: &[i16], scale: f64, out: DType, dst: &mut Dst) {
    assert_eq!(x.len(), dst.len());
    let requant = Requant::new(out);
    for (d, &v) in dst.iter_mut().zip(x) {
        d.write(requant.apply(v.into(), scale));
    }
}

/// Add of two rows: `clamp(round_shift(a * a_mult + b * b_mult))`, the multipliers of each
/// column (`mults` as wide as the row) or one pair for all (`mults` of length 1).
#[inline(always)]
pub(crate) fn add_row(
    a: &[i16],
    b: &[i16],
    mults: &[(i64, i64)],
    shift: u32,
    out: DType,
    dst: &mut Dst,
) {
    assert!(a.len() == dst.len() && b.len() == dst.len());
    let (lo, hi) = (i64::from(out.min()), i64::from(out.max()));
    let one = |x: i16, y: i16, (am, bm): (i64, i64)| {
        round_shift(i64::from(x) * am + i64::from(y) * bm, shift).clamp(lo, hi) as i16
    };
    if let [pair] = mults {
        for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
            d.write(one(x, y, *pair));
        }
    } else {
        assert_eq!(mults.len(), dst.len());
        for (((d, &x), &y), &pair) in dst.iter_mut().zip(a).zip(b).zip(mults) {
            d.write(one(x, y, pair));
        }
    }
}

/// GELU of one row, unit `u` requantised by `scales[u]` (from [`Requant::scale`]).
#[inline(always)]
pub(crate) fn gelu_row(x: &[i16], scales: &[f64], out: DType, dst: &mut Dst) {
    assert!(x.len() == dst.len() && scales.len() == dst.len());
    let requant = Requant::new(out);
    for ((d, &v), &scale) in dst.iter_mut().zip(x).zip(scales) {
        d.write(requant.apply(gelu_product(v).into(), scale));
    }
}

/// Core's `gelu_product` of an `i16` input in i32, which it fits (AVX2 has no i64
/// multiplication): `|x| * 46341 < 2^31`, `t * t * 296 <= 453^2 * 296 < 2^26`, and
/// `|x| * (1024 + erf) <= 2^15 * 2048 = 2^26`. Arithmetic shifts floor as core's do.
#[inline(always)]
fn gelu_product(x: i16) -> i32 {
    let x = i32::from(x);
    let z = (x * GELU_INV_SQRT2 as i32) >> 16;
    let t = z.abs().min(GELU_CLIP) - GELU_CLIP;
    let l = 1024 - ((t * t * GELU_A as i32) >> 16);
    // `signum` by comparisons: LLVM does not vectorise `i32::signum`.
    let erf = (i32::from(z > 0) - i32::from(z < 0)) * l;
    x * (1024 + erf)
}

/// LayerNorm of one row, [`tavdun_core::graph::arith::NormRow`]'s `of` and `output` restated
/// without a buffer per row: `d_i = x_i - floor(mean)` (recomputed on each pass: cheaper than
/// storing it), the pre-shift `k` and `sigma = isqrt(sum e_i^2)` of
/// [`tavdun_core::graph::arith::Normalised`], then `clamp(round_shift(q_i * gamma_i +
/// beta_i))` with `q_i = sign(d_i) floor(|d_i| 2^(15-k) / sigma)`.
#[inline(always)]
pub(crate) fn layer_norm_row(
    x: &[i16],
    gamma: &[i32],
    beta: &[i32],
    shift: u32,
    out: DType,
    dst: &mut Dst,
) {
    assert!(x.len() == dst.len() && gamma.len() == dst.len() && beta.len() == dst.len());
    let width = x.len().max(1);
    // At most 4096 values (`MAX_ROW`) of `i16`: the sum is below 2^27.
    let sum: i32 = x.iter().map(|&v| i32::from(v)).sum();
    let mean = sum.div_euclid(width as i32);
    let peak = x
        .iter()
        .map(|&v| (i32::from(v) - mean).unsigned_abs())
        .max()
        .unwrap_or(0);
    let pre_shift = (u32::BITS - peak.leading_zeros()).saturating_sub(norm_bits(x.len() as u32));
    let rounding = (1u32 << pre_shift) >> 1;
    // Each term is at most 2^(2B) and there are `width` of them: the sum fits u32 (core).
    let squares: u32 = x
        .iter()
        .map(|&v| {
            let e = ((i32::from(v) - mean).unsigned_abs() + rounding) >> pre_shift;
            e * e
        })
        .sum();
    let sigma = isqrt(squares);
    let up = NORM_BITS.saturating_sub(pre_shift);
    // 0 for every element when sigma is 0 (the divisor 1 only keeps the lanes defined).
    let live = i32::from(sigma != 0);
    let divisor = Divisor::new(sigma.max(1));
    let (lo, hi) = (out.min(), out.max());
    // Core's `round_shift` in i32, which holds it: validation bounds `|q * gamma + beta| +
    // 2^(shift-1)` below 2^31 (with `shift <= 29`), and AVX2 has no i64 multiplication or
    // arithmetic shift.
    let half = (1i32 << shift) >> 1;
    for (((d, &v), &g), &b) in dst.iter_mut().zip(x).zip(gamma).zip(beta) {
        let c = i32::from(v) - mean;
        // `|c| << up` is below 2^30 and the quotient at most 2^15 + 2^7 (core's bounds).
        let q = divisor.quotient((c.unsigned_abs() << up) as i32, 1.0) * live;
        let q = if c < 0 { -q } else { q };
        d.write(((q * g + b + half) >> shift).clamp(lo, hi) as i16);
    }
}

/// `floor(n / d)` of integers by a row's own divisor, vectorisable: a multiplication by the
/// f64 reciprocal, then one correction.
///
/// Exact for `n < 2^36` with a quotient below 2^16 (LayerNorm: `n < 2^30`, `d < 2^16`;
/// softmax: `n = e * 2^14 < 2^36`, `d < 2^31`, quotient at most 2^14). `n * (1/d)` in f64 is
/// `n / d` within a relative 2^-52, so within 2^-36 absolutely; a quotient that is not an
/// integer is at least `1 / d > 2^-31` below the next integer, so the truncation is the
/// integer quotient, or one less when `n / d` is an integer `m` and the product lands just
/// under it. Then `r = n - t d` (exact: integers below 2^53) is `d` instead of 0, which the
/// correction catches.
#[derive(Clone, Copy)]
struct Divisor {
    d: f64,
    inverse: f64,
}

impl Divisor {
    #[inline(always)]
    fn new(d: u32) -> Divisor {
        let d = f64::from(d);
        Divisor {
            d,
            inverse: 1.0 / d,
        }
    }

    /// `floor(n / d)` for `n = x * unit`, `0 <= x < 2^31` and `unit` a power of two (so
    /// `n` is exact in f64). The integers cross to and from f64 as i32, without saturation:
    /// AVX2 converts vectors of i32 but of no unsigned or 64-bit integer, and a saturating
    /// conversion, so either would leave the loop scalar.
    #[inline(always)]
    fn quotient(self, x: i32, unit: f64) -> i32 {
        let n = f64::from(x) * unit;
        let t = (n * self.inverse).trunc();
        let t = if n - t * self.d >= self.d { t + 1.0 } else { t };
        // SAFETY: `t` is an integer from 0 to 2^16 (above), so finite and within i32.
        unsafe { t.to_int_unchecked::<i32>() }
    }
}

/// Softmax of one row of logits ([`tavdun_core::graph::arith::softmax_row`]): the kept
/// positions are those where `mask` is 1 (none past its end). The exponentials (below 2^22)
/// do not fit the output's `i16`, so they are computed twice, for their sum and for each
/// quotient: cheaper than a buffer per row. Every loop is arithmetic without a select on the
/// mask, which LLVM does not vectorise through `exp_poly`'s division (measured: the loops
/// stayed scalar): a masked position's logit is lowered by [`MASK_DROP`] instead, which puts
/// it below every kept logit and its exponential at 0.
#[inline(always)]
pub(crate) fn softmax_row(logits: &[i16], mask: &[u8], dst: &mut Dst) {
    assert_eq!(logits.len(), dst.len());
    let kept = mask.len().min(logits.len());
    let (logits_kept, mask) = (&logits[..kept], &mask[..kept]);
    let lowered = |l: i16, m: u8| i32::from(l) - (i32::from(m != 1) << MASK_DROP);
    let max = logits_kept
        .iter()
        .zip(mask)
        .map(|(&l, &m)| lowered(l, m))
        .fold(i32::MIN, i32::max);
    // A kept logit is at least `i16::MIN`, a masked one at most `i16::MAX - 2^18`: nothing
    // is kept when the largest is below `i16::MIN`, and then every probability is 0.
    if max < i32::from(i16::MIN) {
        for d in dst.iter_mut() {
            d.write(0);
        }
        return;
    }
    // Kept: `l - max` in `[-2^16, 0]`. Masked: below `-2^17` (at most `2^16 - 2^18`), where
    // `exp_poly` is 0 (`2^17` is 184 halvings of `EXP_LN2 = 710`, and it is 0 from 32), and
    // at least `-2^16 - 2^18`, where nothing in it overflows.
    let exp = |l: i16, m: u8| exp_poly(lowered(l, m) - max);
    // At most 512 terms below 2^22 (core's bounds): the sum fits u32, and a u64 sum would
    // leave the loop scalar.
    let sum: u32 = logits_kept.iter().zip(mask).map(|(&l, &m)| exp(l, m)).sum();
    // `e * 2^14` is below 2^36 and `sum` below 2^31 (core's bounds); the kept maximum's
    // exponential makes it at least 1.
    let divisor = Divisor::new(sum);
    let unit = f64::from(1u32 << PROB_BITS);
    let (dst_kept, rest) = dst.split_at_mut(kept);
    for ((d, &l), &m) in dst_kept.iter_mut().zip(logits_kept).zip(mask) {
        // `e` is below 2^22 and the quotient at most 2^14.
        d.write(divisor.quotient(exp(l, m) as i32, unit) as i16);
    }
    for d in rest {
        d.write(0);
    }
}

/// How far (a power of two) a masked position's logit is lowered: below every kept logit,
/// with room for `l - max` to stay far below `-2^17` (see [`softmax_row`]).
const MASK_DROP: u32 = 18;

/// Writes `values` (all of `dst`).
#[inline(always)]
pub(crate) fn copy_row(values: &[i16], dst: &mut Dst) {
    assert_eq!(values.len(), dst.len());
    for (d, &v) in dst.iter_mut().zip(values) {
        d.write(v);
    }
}

/// A vector of `len` values to be written once each by row ops, without zeroing it first.
pub(crate) fn unwritten(len: usize) -> Vec<MaybeUninit<i16>> {
    let mut values = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit` values need no initialisation.
    unsafe { values.set_len(len) };
    values
}

/// The values of [`unwritten`] once every one has been written.
///
/// # Safety
/// Every element of `values` must have been written.
pub(crate) unsafe fn written(values: Vec<MaybeUninit<i16>>) -> Vec<i16> {
    let mut values = std::mem::ManuallyDrop::new(values);
    let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: `MaybeUninit<i16>` has the layout of `i16`, the allocation is handed over whole,
    // and the caller guarantees every value is initialised.
    unsafe { Vec::from_raw_parts(ptr.cast::<i16>(), len, capacity) }
}

#[cfg(test)]
mod tests {
    //! Each row op against core's own function on rows that reach its bounds; the exactness
    //! suites (tests/flex.rs) check whole nodes and MiniLM as well.

    use super::*;
    use tavdun_core::graph::arith::{
        gelu_product as core_gelu_product, requant, softmax_row as core_softmax, NormRow,
    };
    use tavdun_core::graph::spec::limits::{MAX_NORM_BETA, MAX_NORM_GAMMA, MAX_NORM_SHIFT};
    use tavdun_core::graph::widened;

    /// `width` outputs of `f`, started from a value no op writes, so that a missed element
    /// shows (and is still initialised memory).
    fn outputs(width: usize, f: impl FnOnce(&mut Dst)) -> Vec<i32> {
        let mut values = vec![MaybeUninit::new(i16::MIN + 7); width];
        vectorised(
            #[inline(always)]
            || f(&mut values),
        );
        // SAFETY: every element was initialised above.
        let values = unsafe { written(values) };
        widened(&values)
    }

    /// `width` values of `rng.edgy(lo, hi)` (within `i16`, as a trace holds them).
    fn row(rng: &mut Rng, width: usize, lo: i16, hi: i16) -> Vec<i16> {
        (0..width)
            .map(|_| rng.edgy(lo.into(), hi.into()) as i16)
            .collect()
    }

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n.max(1)
        }

        /// Mostly uniform in `lo..=hi`, often exactly an end.
        fn edgy(&mut self, lo: i32, hi: i32) -> i32 {
            match self.below(8) {
                0 => lo,
                1 => hi,
                _ => lo + self.below((i64::from(hi) - i64::from(lo) + 1) as u64) as i32,
            }
        }
    }

    #[test]
    fn layer_norm_rows_match_core() {
        let mut rng = Rng(3);
        for case in 0..3000 {
            let width = [1, 2, 3, 17, 384, 1536, 4096][case % 7];
            let (lo, hi) = match rng.below(4) {
                0 => (-128, 127),
                1 => (-32768, 32767),
                2 => (0, 0),
                _ => (-3, 3),
            };
            let x = row(&mut rng, width, lo, hi);
            // Validation's ranges: the row op's i32 arithmetic relies on them.
            let (g, b) = (MAX_NORM_GAMMA as i32, MAX_NORM_BETA as i32);
            let gamma: Vec<i32> = (0..width).map(|_| rng.edgy(-g, g)).collect();
            let beta: Vec<i32> = (0..width).map(|_| rng.edgy(-b, b)).collect();
            let shift = rng.edgy(0, MAX_NORM_SHIFT as i32) as u32;
            let out = [DType::I8, DType::I16][case % 2];
            let got = outputs(
                width,
                #[inline(always)]
                |dst| layer_norm_row(&x, &gamma, &beta, shift, out, dst),
            );
            let norm = NormRow::of(&widened(&x));
            let want: Vec<i32> = (0..width)
                .map(|i| norm.output(i, gamma[i], beta[i], shift, out))
                .collect();
            assert_eq!(got, want, "case {case}");
        }
    }

    #[test]
    fn softmax_rows_match_core() {
        let mut rng = Rng(5);
        for case in 0..3000 {
            let width = [1, 2, 8, 100, 128, 512][case % 6];
            let logits = row(&mut rng, width, i16::MIN, i16::MAX);
            // Kept is 1 only; some rows keep nothing.
            let mask: Vec<u8> = (0..width - rng.below(2) as usize * width / 3)
                .map(|_| match (case % 7, rng.below(8)) {
                    (0, _) | (_, 0) => 0,
                    (_, 1) => [2, 255][case % 2],
                    _ => 1,
                })
                .collect();
            let got = outputs(
                width,
                #[inline(always)]
                |dst| softmax_row(&logits, &mask, dst),
            );
            assert_eq!(got, core_softmax(&widened(&logits), &mask), "case {case}");
        }
    }

    #[test]
    fn gelu_add_and_requant_rows_match_core() {
        let mut rng = Rng(9);
        for case in 0..2000 {
            let width = [1, 5, 384, 1536][case % 4];
            let x = row(&mut rng, width, i16::MIN, i16::MAX);
            let y = row(&mut rng, width, i16::MIN, i16::MAX);
            let raw = widened(&x);
            let mults: Vec<u32> = (0..width).map(|_| rng.edgy(1, 32767) as u32).collect();
            let offsets: Vec<i64> = (0..width)
                .map(|_| i64::from(rng.edgy(-(1 << 30), 1 << 30)))
                .collect();
            let pairs: Vec<(i64, i64)> = (0..[1, width][case % 2])
                .map(|_| {
                    (
                        i64::from(rng.edgy(-32768, 32767)),
                        i64::from(rng.edgy(-32768, 32767)),
                    )
                })
                .collect();
            let (shift, out) = (rng.below(32) as u32, [DType::I8, DType::I16][case % 2]);
            let scales: Vec<f64> = mults.iter().map(|&m| Requant::scale(m, shift)).collect();
            let gelu = outputs(
                width,
                #[inline(always)]
                |dst| gelu_row(&x, &scales, out, dst),
            );
            let add = outputs(
                width,
                #[inline(always)]
                |dst| add_row(&x, &y, &pairs, shift, out, dst),
            );
            let offsets_f64: Vec<f64> = offsets.iter().map(|&o| o as f64).collect();
            let dense = outputs(
                width,
                #[inline(always)]
                |dst| requant_rows(&raw, &offsets_f64, &scales, out, dst),
            );
            let plain = outputs(
                width,
                #[inline(always)]
                |dst| requant_values(&x, scales[0], out, dst),
            );
            for i in 0..width {
                let (am, bm) = pairs[i % pairs.len()];
                let want_add = round_shift(i64::from(x[i]) * am + i64::from(y[i]) * bm, shift)
                    .clamp(out.min().into(), out.max().into())
                    as i32;
                assert_eq!(
                    gelu[i],
                    requant(core_gelu_product(raw[i]), mults[i], shift, out)
                );
                assert_eq!(add[i], want_add, "case {case}");
                let sum = i64::from(raw[i]) + offsets[i];
                assert_eq!(dense[i], requant(sum, mults[i], shift, out));
                assert_eq!(plain[i], requant(raw[i].into(), mults[0], shift, out));
            }
        }
    }

    #[test]
    fn gelu_product_in_i32_is_cores_on_every_i16() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(
                i64::from(gelu_product(x)),
                core_gelu_product(x.into()),
                "x = {x}"
            );
        }
    }

    /// The f64 form against core's i64 one at the bounds validation allows: `|acc|` up to
    /// `2^31 - 1`, multipliers 1 to `2^15 - 1`, every shift to 46, both output types.
    #[test]
    fn requantisation_in_f64_is_cores_within_validations_bounds() {
        let mut rng = Rng(11);
        for shift in 0..=46 {
            for case in 0..400 {
                let acc = match case % 5 {
                    0 => i64::from(i32::MAX),
                    1 => -i64::from(i32::MAX),
                    // Half-way between two outputs (for multiplier 1), below 2^31.
                    2 if (1..=30).contains(&shift) => {
                        (i64::from(rng.edgy(-(1 << 30), 1 << 30)) >> shift << shift)
                            + (1 << (shift - 1))
                    }
                    _ => rng.edgy(i32::MIN + 1, i32::MAX).into(),
                };
                let mult = match case % 3 {
                    0 => 32767,
                    1 => 1,
                    _ => rng.edgy(1, 32767) as u32,
                };
                let out = [DType::I8, DType::I16][case % 2];
                let got = outputs(
                    1,
                    #[inline(always)]
                    |dst| {
                        requant_rows(
                            &[0],
                            &[acc as f64],
                            &[Requant::scale(mult, shift)],
                            out,
                            dst,
                        )
                    },
                );
                assert_eq!(
                    got[0],
                    requant(acc, mult, shift, out),
                    "acc {acc} mult {mult} shift {shift}"
                );
            }
        }
    }
}
