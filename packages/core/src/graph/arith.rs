//! The integer primitives of version 2: every value an op computes goes through these, in the
//! forward pass and in the one-step check alike. The bounds quoted are proven by validation
//! (`plan.rs`) for every admissible input; the README says how a 32-bit implementation
//! reproduces each one.
//!
//! The small ones are `#[inline]`: the engine's CPU kernels call them per element inside
//! loops compiled for wider vector units than this crate's, and a call across crates would
//! stop those loops from vectorising.

use super::plan::norm_bits;
use super::spec::DType;

/// `clamp(floor((acc * mult + 2^(shift-1)) / 2^shift), out)`; no rounding term at shift 0.
#[inline]
pub fn requant(acc: i64, mult: u32, shift: u32, out: DType) -> i32 {
    round_shift(acc * i64::from(mult), shift).clamp(out.min().into(), out.max().into()) as i32
}

/// `floor((v + 2^(shift-1)) / 2^shift)`: an arithmetic shift is floor division by 2^shift,
/// negative values included.
#[inline]
pub fn round_shift(v: i64, shift: u32) -> i64 {
    if shift == 0 {
        v
    } else {
        (v + (1i64 << (shift - 1))) >> shift
    }
}

/// `sum_i a_i * b_i` of int8 values, exact in i32: callers' bounds (fan-in <= 4096) keep it
/// below 2^27.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// `sum_i a_i * b_i` of values held in i32 (int8 or int16 elements): exact in i64.
pub fn dot(a: &[i32], b: &[i32]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i64::from(x) * i64::from(y))
        .sum()
}

/// `floor(sqrt(v))`, bit by bit: 16 steps for any `u32`.
#[inline]
pub fn isqrt(v: u32) -> u32 {
    let mut root = 0u32;
    let mut rest = v;
    let mut bit = 1u32 << 30;
    while bit > 0 {
        if rest >= root + bit {
            rest -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// A row scaled to unit L2 norm, the core of LayerNorm and L2 normalisation.
///
/// With `B = norm_bits(width)`, the row `d` is brought to `B` bits for its sum of squares:
/// `k = max(0, bitlen(max |d_i|) - B)`, `e_i = (|d_i| + 2^(k-1)) >> k` (no rounding term
/// when `k = 0`), so `v = sum e_i^2 <= width * 2^(2B) <= 2^31`, and `sigma = isqrt(v)`, which
/// approximates `||d|| / 2^k`. Then [`Normalised::scaled`] is
/// `sign(d_i) * floor(|d_i| * 2^(bits - k) / sigma)` (0 when sigma is 0): `d_i / ||d||` in
/// units of 2^-bits, from the unshifted `d_i`, so small values keep their precision next to
/// an outlier. `|d_i| < 2^(B + k)`, so the numerator is below `2^(B + bits) <= 2^30`; and
/// `sigma >= e_max >= 2^(B-1) - 1/2` when `k > 0`, so `|result| <= 2^bits + 2^(bits-8)`.
#[derive(Debug, Clone, Copy)]
pub struct Normalised {
    pre_shift: u32,
    sigma: u32,
}

impl Normalised {
    pub fn of(d: &[i32]) -> Normalised {
        let width = d.len() as u32;
        let peak = d.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        let bitlen = u32::BITS - peak.leading_zeros();
        let pre_shift = bitlen.saturating_sub(norm_bits(width));
        let rounding = if pre_shift == 0 {
            0
        } else {
            1 << (pre_shift - 1)
        };
        // Each term is at most 2^(2B) and there are `width` of them: the sum fits u32.
        let v: u32 = d
            .iter()
            .map(|&x| {
                let e = (x.unsigned_abs() + rounding) >> pre_shift;
                e * e
            })
            .sum();
        Normalised {
            pre_shift,
            sigma: isqrt(v),
        }
    }

    /// `d_i / ||d||` in units of 2^-bits (`bits` <= 15; validation keeps `pre_shift` <= 8).
    pub fn scaled(&self, d_i: i32, bits: u32) -> i32 {
        if self.sigma == 0 {
            return 0;
        }
        let numerator = d_i.unsigned_abs() << bits.saturating_sub(self.pre_shift);
        let q = (numerator / self.sigma) as i32;
        if d_i < 0 {
            -q
        } else {
            q
        }
    }
}

/// One row of a LayerNorm input, centred: `mean = floor(sum x / width)`, `d_i = x_i - mean`.
#[derive(Debug, Clone)]
pub struct NormRow {
    pub centred: alloc::vec::Vec<i32>,
    pub norm: Normalised,
}

/// LayerNorm's `q_i` unit: `q_i = d_i / ||d|| * 2^15`, i.e. `n_i * 2^15 / sqrt(width)` for the
/// usual normalised value `n_i`.
pub const NORM_BITS: u32 = 15;
/// L2 normalisation's output unit: `y_i = x_i / ||x|| * 2^14`.
pub const L2_BITS: u32 = 14;

impl NormRow {
    pub fn of(x: &[i32]) -> NormRow {
        let width = x.len().max(1) as i64;
        let sum: i64 = x.iter().map(|&v| i64::from(v)).sum();
        let mean = sum.div_euclid(width) as i32;
        let centred: alloc::vec::Vec<i32> = x.iter().map(|&v| v - mean).collect();
        let norm = Normalised::of(&centred);
        NormRow { centred, norm }
    }

    /// Output `i`: `clamp(floor((q_i * gamma + beta + 2^(shift-1)) / 2^shift), out)`.
    pub fn output(&self, i: usize, gamma: i32, beta: i32, shift: u32, out: DType) -> i32 {
        let q = self.norm.scaled(self.centred[i], NORM_BITS);
        let v = i64::from(q) * i64::from(gamma) + i64::from(beta);
        round_shift(v, shift).clamp(out.min().into(), out.max().into()) as i32
    }
}

/// Softmax logits are in units of 2^-10 and probabilities in units of 2^-14.
pub const LOGIT_BITS: u32 = 10;
pub const PROB_BITS: u32 = 14;
/// I-BERT's exp on `x <= 0` with input unit 2^-10: `x = -z * ln2 + p`, `p` in `(-ln2, 0]`,
/// `exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344`, scaled by `1 / (0.3585 * 2^-20)`:
/// `ln2 = round(0.693147 * 1024)`, `b = floor(1.353 * 1024)`, `c = floor(0.344 * 2^20 / 0.3585)`.
pub const EXP_LN2: i32 = 710;
pub const EXP_B: i32 = 1385;
pub const EXP_C: i32 = 1_006_163;

/// `exp(d * 2^-10)` for `d <= 0`, in units of `0.3585 * 2^-20` (below 2^22).
#[inline]
pub fn exp_poly(d: i32) -> u32 {
    let neg = d.unsigned_abs();
    let z = neg / EXP_LN2 as u32;
    let p = d + (z * EXP_LN2 as u32) as i32;
    let poly = ((p + EXP_B) * (p + EXP_B) + EXP_C) as u32;
    if z >= 32 {
        0
    } else {
        poly >> z
    }
}

/// Softmax of one row of logits over the positions the mask keeps: `m = max` of the kept
/// logits, `e_u = exp_poly(l_u - m)` (0 where masked), `p_u = floor(e_u * 2^14 / sum e)`.
/// All zeros when the mask keeps nothing.
pub fn softmax_row(logits: &[i32], mask: &[u8]) -> alloc::vec::Vec<i32> {
    let kept = |u: usize| mask.get(u).copied() == Some(1);
    let max = (0..logits.len())
        .filter(|&u| kept(u))
        .map(|u| logits[u])
        .max();
    let Some(max) = max else {
        return alloc::vec![0; logits.len()];
    };
    let exps: alloc::vec::Vec<u32> = (0..logits.len())
        .map(|u| {
            if kept(u) {
                exp_poly(logits[u] - max)
            } else {
                0
            }
        })
        .collect();
    // At most 512 terms below 2^22: below 2^31. The kept maximum gives a non-zero sum.
    let sum: u64 = exps.iter().map(|&e| u64::from(e)).sum();
    exps.iter()
        .map(|&e| ((u64::from(e) << PROB_BITS) / sum) as i32)
        .collect()
}

/// GELU's input unit is 2^-8 and its product `x * (1024 + erf)` stands for
/// `gelu(x) = x * (1 + erf) / 2` in units of 2^-19.
pub const GELU_BITS: u32 = 8;
/// `1 / sqrt(2)` as `46341 / 2^16`; I-BERT's erf clip `round(1.769 * 256)` and its
/// coefficient `round(0.2888 * 1024)`.
pub const GELU_INV_SQRT2: i64 = 46_341;
pub const GELU_CLIP: i32 = 453;
pub const GELU_A: i64 = 296;

/// `x * (1024 + erf(x / sqrt(2)))` for `x` in units of 2^-8, with I-BERT's
/// `erf(z) ~ sign(z) * (1 - 0.2888 * (min(|z|, 1.769) - 1.769)^2)`:
/// `z = floor(x * 46341 / 2^16)`, `t = min(|z|, 453) - 453`,
/// `erf = sign(z) * (1024 - floor(t^2 * 296 / 2^16))` (units of 2^-10). Magnitude at most
/// `2^15 * 2048 = 2^26`.
#[inline]
pub fn gelu_product(x: i32) -> i64 {
    let z = (i64::from(x) * GELU_INV_SQRT2) >> 16;
    let t = i64::from((z.unsigned_abs().min(GELU_CLIP as u64)) as i32 - GELU_CLIP);
    let l = 1024 - ((t * t * GELU_A) >> 16);
    let erf = z.signum() * l;
    i64::from(x) * (1024 + erf)
}

/// Mean of the kept values, rounded half away from zero: `sign(s) * floor((2|s| + c) / 2c)`
/// with `s` the sum over kept positions and `c` their count; 0 when nothing is kept.
pub fn masked_mean(values: &[i32], mask: &[u8]) -> i32 {
    let (sum, count) = values
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m == 1)
        .fold((0i64, 0i64), |(s, c), (&v, _)| (s + i64::from(v), c + 1));
    if count == 0 {
        return 0;
    }
    let magnitude = (2 * sum.abs() + count) / (2 * count);
    (sum.signum() * magnitude) as i32
}
