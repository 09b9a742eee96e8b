//! Core's integer primitives ([`tavdun_core::graph::arith`]) as burn operations on int32
//! tensors, for a whole batch at once.
//!
//! Each function follows its core counterpart step for step, with the 32-bit recipes of
//! core's README: every intermediate stays below 2^31 in magnitude for every input validation
//! admits, so the same operations are exact on flex and on any wgpu adapter (WGSL has no
//! 64-bit integers). Shifts right are arithmetic (floor division by a power of two) on both
//! backends; integer division is only ever applied to non-negative operands, where truncation
//! and floor agree, or corrected to floor explicitly ([`floor_div`]).

use burn::tensor::{Bool, Int, IntDType, Tensor};
use tavdun_core::graph::arith::{
    EXP_B, EXP_C, EXP_LN2, GELU_A, GELU_CLIP, GELU_INV_SQRT2, PROB_BITS,
};
use tavdun_core::graph::plan::{half, norm_bits};
use tavdun_core::graph::DType;

/// An int32 tensor.
pub(crate) type Ints<const D: usize> = Tensor<D, Int>;

/// A comparison's result as 0 or 1.
pub(crate) fn ones_where<const D: usize>(mask: Tensor<D, Bool>) -> Ints<D> {
    mask.cast(IntDType::I32)
}

fn add_const<const D: usize>(v: Ints<D>, c: i64) -> Ints<D> {
    if c == 0 {
        v
    } else {
        v.add_scalar(c as i32)
    }
}

/// `clamp` to a node type's range.
pub(crate) fn clamp_to<const D: usize>(v: Ints<D>, out: DType) -> Ints<D> {
    v.clamp(out.min(), out.max())
}

/// Core's `round_shift`: `(v + 2^(shift-1)) >> shift`, for `|v| + 2^(shift-1) < 2^31`.
pub(crate) fn round_shift<const D: usize>(v: Ints<D>, shift: u32) -> Ints<D> {
    if shift == 0 {
        v
    } else {
        add_const(v, half(shift) as i64).bitwise_right_shift_scalar(shift as i32)
    }
}

/// `floor(v / divisor)` for a positive divisor, whether the backend's integer division
/// truncates or floors: a negative remainder means it truncated a negative quotient.
pub(crate) fn floor_div<const D: usize>(v: Ints<D>, divisor: u32) -> Ints<D> {
    let d = divisor as i32;
    let q = v.clone().div_scalar(d);
    let r = v.sub(q.clone().mul_scalar(d));
    q.sub(ones_where(r.lower_elem(0)))
}

/// A requantisation multiplier: one for the tensor, or one per output unit (a tensor that
/// broadcasts along the last dimension).
#[expect(
    clippy::large_enum_variant,
    reason = "held once per node of a loaded model, never in a hot collection"
)]
pub(crate) enum Multiplier<const D: usize> {
    Scalar(u32),
    PerUnit(Ints<D>),
}

impl<const D: usize> Multiplier<D> {
    fn times(&self, v: Ints<D>) -> Ints<D> {
        match self {
            Multiplier::Scalar(1) => v,
            Multiplier::Scalar(m) => v.mul_scalar(*m as i32),
            Multiplier::PerUnit(m) => v.mul(m.clone()),
        }
    }
}

/// Core's `requant`: `clamp((acc * mult + 2^(shift-1)) >> shift)` for `|acc| < 2^31`.
/// Below shift 16 validation proved `|acc| * mult + 2^(shift-1) < 2^31`; from 16 on, the
/// README's split keeps every term below 2^31: `acc = h * 2^16 + l`, the rounding term
/// `r_hi * 2^16 + r_lo`, `y = (h * mult + ((l * mult + r_lo) >> 16) + r_hi) >> (shift - 16)`.
pub(crate) fn requant<const D: usize>(
    acc: Ints<D>,
    mult: &Multiplier<D>,
    shift: u32,
    out: DType,
) -> Ints<D> {
    let y = if shift < 16 {
        round_shift(mult.times(acc), shift)
    } else {
        let high = acc.clone().bitwise_right_shift_scalar(16);
        let low = acc.bitwise_and_scalar(0xffff);
        let (r_hi, r_lo) = if shift == 16 {
            (0, 1 << 15)
        } else {
            (1i64 << (shift - 17), 0)
        };
        let low = add_const(mult.times(low), r_lo).bitwise_right_shift_scalar(16);
        add_const(mult.times(high).add(low), r_hi).bitwise_right_shift_scalar((shift - 16) as i32)
    };
    clamp_to(y, out)
}

/// Core's `add`: `clamp((a * m_a + b * m_b + 2^(shift-1)) >> shift)`, in 32 bits by the
/// node's proven bound.
pub(crate) fn add<const D: usize>(
    a: Ints<D>,
    b: Ints<D>,
    a_mult: &Multiplier<D>,
    b_mult: &Multiplier<D>,
    shift: u32,
    out: DType,
) -> Ints<D> {
    clamp_to(
        round_shift(a_mult.times(a).add(b_mult.times(b)), shift),
        out,
    )
}

/// Core's `isqrt` (floor square root, bit by bit) of values in `[0, 2^31)`.
pub(crate) fn isqrt<const D: usize>(v: Ints<D>) -> Ints<D> {
    let mut root = v.zeros_like();
    let mut rest = v;
    for step in (0..16).rev() {
        let bit = 1i32 << (2 * step);
        let trial = root.clone().add_scalar(bit);
        let take = rest.clone().greater_equal(trial.clone());
        rest = rest.clone().mask_where(take.clone(), rest.sub(trial));
        let halved = root.bitwise_right_shift_scalar(1);
        root = halved.clone().mask_where(take, halved.add_scalar(bit));
    }
    root
}

/// Core's `Normalised`, for every row (the last dimension) at once: the pre-shift `k` and
/// `sigma`, each with one value per row (last dimension 1).
pub(crate) struct Normalised<const D: usize> {
    pre_shift: Ints<D>,
    sigma: Ints<D>,
}

/// `Normalised::of` for rows of `width` values whose magnitudes are at most `peak_bound`.
pub(crate) fn normalise<const D: usize>(d: Ints<D>, width: u32, peak_bound: u64) -> Normalised<D> {
    let bits = norm_bits(width);
    let abs = d.abs();
    let peak = abs.clone().max_dim(D - 1);
    // k = max(0, bitlen(peak) - B) counts the thresholds 2^B, 2^(B+1), ... the peak reaches;
    // it reaches none above its bound's bit length.
    let peak_bits = u64::BITS - peak_bound.leading_zeros();
    let mut pre_shift = peak.zeros_like();
    for bit in bits..peak_bits {
        pre_shift = pre_shift.add(ones_where(peak.clone().greater_equal_elem(1i32 << bit)));
    }
    let rounding = peak
        .ones_like()
        .bitwise_left_shift(pre_shift.clone())
        .bitwise_right_shift_scalar(1);
    let e = abs.add(rounding).bitwise_right_shift(pre_shift.clone());
    // v = sum e^2 <= width * 2^(2B) <= 2^31, which may be 2^31 itself: the sum of e^2 - 1
    // is below 2^31, and isqrt(2^31) = isqrt(2^31 - 1), so v is taken at most 2^31 - 1.
    let w = width as i32;
    let v = e
        .square()
        .sub_scalar(1)
        .sum_dim(D - 1)
        .clamp_max(i32::MAX - w)
        .add_scalar(w);
    Normalised {
        pre_shift,
        sigma: isqrt(v),
    }
}

impl<const D: usize> Normalised<D> {
    /// Core's `Normalised::scaled`: `sign(d) * floor(|d| * 2^(bits - k) / sigma)`. Sigma is 0
    /// only when every `d` of the row is 0 (a row with a pre-shift keeps its peak above 0),
    /// so dividing by `max(sigma, 1)` gives core's 0 there.
    pub(crate) fn scaled(&self, d: Ints<D>, bits: u32) -> Ints<D> {
        let up = self
            .pre_shift
            .clone()
            .neg()
            .add_scalar(bits as i32)
            .clamp_min(0);
        let numerator = d.clone().abs().bitwise_left_shift(up);
        numerator.div(self.sigma.clone().clamp_min(1)).mul(d.sign())
    }
}

/// Core's `NormRow` and `NormRow::output`: LayerNorm of every row, with per-column `gamma`
/// and `beta` broadcast along the rows. `peak_bound` bounds `|x - mean|`.
pub(crate) fn layer_norm<const D: usize>(
    x: Ints<D>,
    gamma: &Ints<D>,
    beta: &Ints<D>,
    shift: u32,
    out: DType,
    peak_bound: u64,
) -> Ints<D> {
    let width = x.dims()[D - 1] as u32;
    let mean = floor_div(x.clone().sum_dim(D - 1), width);
    let d = x.sub(mean);
    let q = normalise(d.clone(), width, peak_bound).scaled(d, tavdun_core::graph::arith::NORM_BITS);
    clamp_to(
        round_shift(q.mul(gamma.clone()).add(beta.clone()), shift),
        out,
    )
}

/// Core's `l2_norm` of every row.
pub(crate) fn l2_norm<const D: usize>(x: Ints<D>, peak_bound: u64) -> Ints<D> {
    let width = x.dims()[D - 1] as u32;
    normalise(x.clone(), width, peak_bound).scaled(x, tavdun_core::graph::arith::L2_BITS)
}

/// Core's `gelu_product`: `x * (1024 + erf(x / sqrt 2))` with I-BERT's erf, in 32 bits
/// (`|x * 46341| < 2^31`, `t^2 * 296 < 2^26`, result at most 2^26).
pub(crate) fn gelu_product<const D: usize>(x: Ints<D>) -> Ints<D> {
    let z = x
        .clone()
        .mul_scalar(GELU_INV_SQRT2 as i32)
        .bitwise_right_shift_scalar(16);
    let t = z.clone().abs().clamp_max(GELU_CLIP).sub_scalar(GELU_CLIP);
    let l = t
        .square()
        .mul_scalar(GELU_A as i32)
        .bitwise_right_shift_scalar(16)
        .neg()
        .add_scalar(1024);
    x.mul(z.sign().mul(l).add_scalar(1024))
}

/// Core's `softmax_row` for every row of `logits` (int16 values), over the columns `kept`
/// marks (the job's mask, broadcast to the logits' shape).
pub(crate) fn softmax<const D: usize>(logits: Ints<D>, kept: Tensor<D, Bool>) -> Ints<D> {
    let dropped = kept.bool_not();
    // Below every int16 logit, so a row's maximum is that of its kept logits.
    let max = logits
        .clone()
        .mask_fill(dropped.clone(), i32::from(i16::MIN) - 1)
        .max_dim(D - 1);
    // -d = m - l >= 0 for kept columns (at most 2^16); dropped ones are zeroed below.
    let neg = max.sub(logits).clamp_min(0);
    let z = neg.clone().div_scalar(EXP_LN2);
    let base = z.clone().mul_scalar(EXP_LN2).sub(neg).add_scalar(EXP_B);
    // The polynomial is below 2^22, so a shift by 22 or more already gives core's 0 for
    // z >= 32; capping the shift at 31 keeps it defined on every backend.
    let e = base
        .square()
        .add_scalar(EXP_C)
        .bitwise_right_shift(z.clamp_max(31))
        .mask_fill(dropped, 0);
    // Each e < 2^22 and a row holds at most 512 of them: the sum is below 2^31.
    let sum = e.clone().sum_dim(D - 1);
    exact_fraction(e, sum)
}

/// `floor(e * 2^14 / sum)` for `0 <= e <= sum < 2^31`, `e < 2^22` (0 where `sum` is 0, where
/// every `e` of the row is 0 too). `e * 2^9` fits 31 bits, so one division gives the top
/// digits; the last 5 come from binary long division, comparing `r >= sum - r` instead of
/// doubling `r` (which could pass 2^31).
fn exact_fraction<const D: usize>(e: Ints<D>, sum: Ints<D>) -> Ints<D> {
    const FIRST: u32 = 9;
    let sum = sum.clamp_min(1);
    let scaled = e.bitwise_left_shift_scalar(FIRST as i32);
    let mut q = scaled.clone().div(sum.clone());
    let mut r = scaled.sub(q.clone().mul(sum.clone()));
    for _ in FIRST..PROB_BITS {
        let gap = sum.clone().sub(r.clone());
        let take = r.clone().greater_equal(gap.clone());
        r = r
            .clone()
            .add(r.clone())
            .mask_where(take.clone(), r.sub(gap));
        q = q.mul_scalar(2).add(ones_where(take));
    }
    q
}

/// Core's `masked_mean` over the last dimension: `sign(s) * floor((2|s| + c) / 2c)`, with
/// `kept` the job's mask as 0 or 1, broadcast along the rows.
pub(crate) fn masked_mean<const D: usize>(x: Ints<D>, kept: Ints<D>) -> Ints<D> {
    let sum = x.mul(kept.clone()).sum_dim(D - 1);
    let count = kept.sum_dim(D - 1);
    // No kept token: s = c = 0 and (0 + 0) / 1 is core's 0.
    let magnitude = sum
        .clone()
        .abs()
        .mul_scalar(2)
        .add(count.clone())
        .div(count.mul_scalar(2).clamp_min(1));
    magnitude.mul(sum.sign())
}
