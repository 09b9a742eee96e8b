//! The README's 32-bit recipes, written here with 32-bit integers (and f32) only, agree with
//! core's reference arithmetic over the whole proven range of each op: what a WGSL engine
//! without i64 must do, checked.

use proptest::prelude::*;
use tavdun_core::graph::arith::{
    dot_i8, exp_poly, gelu_product, isqrt, requant, softmax_row, NormRow, Normalised, PROB_BITS,
};
use tavdun_core::graph::DType;

/// Requantisation in i32: below shift 16 the product fits (validation's rule); from 16 on,
/// `acc = h * 2^16 + l` and the rounding term `2^(s-1) = r_hi * 2^16 + r_lo`.
fn requant32(acc: i32, mult: i32, shift: u32, out: DType) -> i32 {
    let y = if shift < 16 {
        let half = if shift == 0 { 0 } else { 1 << (shift - 1) };
        (acc * mult + half) >> shift
    } else {
        let (h, l) = (acc >> 16, acc & 0xffff);
        let (r_hi, r_lo) = if shift == 16 {
            (0, 1 << 15)
        } else {
            (1 << (shift - 17), 0)
        };
        (h * mult + ((l * mult + r_lo) >> 16) + r_hi) >> (shift - 16)
    };
    y.clamp(out.min(), out.max())
}

/// `floor(e * 2^14 / sum)` for `e <= sum < 2^31`: binary long division in u32.
fn prob32(e: u32, sum: u32) -> u32 {
    let (mut q, mut r) = (e / sum, e % sum);
    for _ in 0..PROB_BITS {
        r <<= 1;
        q <<= 1;
        if r >= sum {
            r -= sum;
            q |= 1;
        }
    }
    q
}

/// A dense dot product as f32 partial sums of at most 1024 products (each sum below 2^24, so
/// exact in any order), added in i32.
fn dot_f32_chunks(a: &[i8], b: &[i8]) -> i32 {
    a.chunks(1024)
        .zip(b.chunks(1024))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(&p, &q)| f32::from(p) * f32::from(q))
                .sum::<f32>() as i32
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn requant_splits_exactly(acc in -(1i64 << 31) + 1..(1i64 << 31), mult in 1u32..32768, shift in 16u32..=46) {
        prop_assert_eq!(requant32(acc as i32, mult as i32, shift, DType::I16), requant(acc, mult, shift, DType::I16));
        prop_assert_eq!(requant32(acc as i32, mult as i32, shift, DType::I8), requant(acc, mult, shift, DType::I8));
    }

    #[test]
    fn requant_below_16_fits_when_admissible(acc in -(1i64 << 16)..(1i64 << 16), mult in 1u32..16384, shift in 0u32..16) {
        prop_assume!(tavdun_core::graph::requant_admissible(acc.unsigned_abs(), mult, shift));
        prop_assert_eq!(requant32(acc as i32, mult as i32, shift, DType::I16), requant(acc, mult, shift, DType::I16));
    }

    #[test]
    fn softmax_probabilities_divide_exactly_in_u32(logits in proptest::collection::vec(-32768i32..32768, 1..512), keep in any::<u64>()) {
        let mask: Vec<u8> = (0..logits.len()).map(|u| u8::from(u == 0 || (keep >> (u % 64)) & 1 == 1)).collect();
        let probs = softmax_row(&logits, &mask);
        let max = logits.iter().zip(&mask).filter(|(_, &m)| m == 1).map(|(&l, _)| l).max().unwrap();
        let exps: Vec<u32> = logits.iter().zip(&mask).map(|(&l, &m)| if m == 1 { exp_poly(l - max) } else { 0 }).collect();
        prop_assert!(exps.iter().all(|&e| e < 1 << 22));
        let sum: u32 = exps.iter().sum();
        prop_assert!(u64::from(sum) < 1 << 31);
        for (p, e) in probs.iter().zip(&exps) {
            prop_assert_eq!(*p as u32, prob32(*e, sum));
        }
        prop_assert!(probs.iter().sum::<i32>() <= 1 << 14);
    }

    #[test]
    fn dense_sums_are_exact_in_f32_chunks(a in proptest::collection::vec(-127i8..=127, 1..4096), seed in any::<u64>()) {
        let mut rng = tavdun_core::synthetic::Rng::new(seed);
        let b: Vec<i8> = rng.int8s(a.len());
        prop_assert_eq!(dot_f32_chunks(&a, &b), dot_i8(&a, &b));
    }

    #[test]
    fn gelu_fits_i32(x in -32768i32..32768) {
        let z = (x * 46341) >> 16;
        let t = z.abs().min(453) - 453;
        let l = 1024 - ((t * t * 296) >> 16);
        let y = x * (1024 + z.signum() * l);
        prop_assert_eq!(i64::from(y), gelu_product(x));
    }

    #[test]
    fn isqrt_is_the_floor_of_the_square_root(v in any::<u32>()) {
        let r = u64::from(isqrt(v));
        prop_assert!(r * r <= u64::from(v) && (r + 1) * (r + 1) > u64::from(v));
    }

    /// LayerNorm's normalised values stay within the bound validation assumes, even next to
    /// an outlier, and its mean is a floor division that i32 division reproduces.
    #[test]
    fn normalised_values_are_bounded(row in proptest::collection::vec(-32768i32..32768, 1..512), outlier in any::<bool>()) {
        let mut row = row;
        if outlier {
            row[0] = 32767;
        }
        let norm = NormRow::of(&row);
        for &d in &norm.centred {
            let q = norm.norm.scaled(d, 15);
            prop_assert!(q.abs() <= (1 << 15) + (1 << 7), "q = {}", q);
        }
        let sum: i32 = row.iter().sum();
        let w = row.len() as i32;
        let floor = if sum % w != 0 && sum < 0 { sum / w - 1 } else { sum / w };
        prop_assert_eq!(row[0] - floor, norm.centred[0]);
        let l2 = Normalised::of(&row);
        prop_assert!(row.iter().all(|&x| l2.scaled(x, 14).abs() <= (1 << 14) + (1 << 6)));
    }
}
