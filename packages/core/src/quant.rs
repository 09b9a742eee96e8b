//! Client-side input quantisation. Clients call it; the chain and the verifiers only ever see
//! the int8 bytes it yields. It does no floating-point arithmetic on the value: an input is
//! taken as the decimal it prints as (the shortest decimal that reads back as the same `f32`,
//! so `0.7f32` is the decimal 0.7 its writer meant), the spec's `scale` is an exact decimal,
//! and `x / scale` is compared with each rounding threshold exactly, in integers.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::spec::InputQuant;

/// Largest |round(x / scale)| worth telling apart: past 384, `q + zero_point` saturates
/// whatever the zero point (|zero_point| <= 128).
const MAGNITUDE_CAP: u32 = 384;

impl InputQuant {
    /// The scale as a number, for display and dequantisation only. Validation guarantees it
    /// is a positive decimal.
    pub fn scale_value(&self) -> f64 {
        self.scale.parse::<f64>().unwrap_or(1.0)
    }

    /// `q = clamp(round(x / scale) + zero_point, -128, 127)`, rounding half away from zero on
    /// the exact quotient of the decimals `x` and `scale`; `+inf` gives 127, `-inf` gives
    /// -128, NaN gives the zero point.
    pub fn quantize(&self, xs: &[f32]) -> Vec<i8> {
        let scale = Decimal::parse(&self.scale).unwrap_or_else(Decimal::one);
        let zp = i32::from(self.zero_point);
        xs.iter()
            .map(|&x| {
                let q = if x.is_nan() {
                    zp
                } else if x.is_infinite() {
                    if x > 0.0 {
                        i32::MAX
                    } else {
                        i32::MIN
                    }
                } else {
                    // `Display` of a finite f32 is its shortest round-trip decimal, without
                    // an exponent, so it always parses.
                    let value = Decimal::parse(&x.to_string()).unwrap_or_else(Decimal::zero);
                    let magnitude = value.round_quotient(&scale) as i32;
                    (if value.negative {
                        -magnitude
                    } else {
                        magnitude
                    })
                    .saturating_add(zp)
                };
                q.clamp(-128, 127) as i8
            })
            .collect()
    }

    /// The real value an int8 stands for.
    pub fn dequantize(&self, q: i8) -> f64 {
        (f64::from(q) - f64::from(self.zero_point)) * self.scale_value()
    }
}

/// `(-1)^negative * digits / 10^frac`, exactly.
struct Decimal {
    negative: bool,
    digits: Big,
    frac: u32,
}

impl Decimal {
    fn one() -> Decimal {
        Decimal {
            negative: false,
            digits: Big::from_u64(1),
            frac: 0,
        }
    }

    fn zero() -> Decimal {
        Decimal {
            negative: false,
            digits: Big::from_u64(0),
            frac: 0,
        }
    }

    /// Reads `-?[0-9]+(\.[0-9]+)?`; anything else is `None`.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digit = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digit(int) || !digit(frac) || (body.contains('.') && frac.is_empty())
        {
            return None;
        }
        let mut digits = Big::from_u64(0);
        for b in int.bytes().chain(frac.bytes()) {
            digits.mul_add_small(10, u32::from(b - b'0'));
        }
        Some(Decimal {
            negative,
            digits,
            frac: frac.len() as u32,
        })
    }

    /// `round(|self| / scale)` with ties away from zero, capped at [`MAGNITUDE_CAP`]: the
    /// largest `k` with `|self| >= (k - 1/2) * scale`, found by bisection (the condition is
    /// monotone in `k`).
    fn round_quotient(&self, scale: &Decimal) -> u32 {
        let (mut lo, mut hi) = (0u32, MAGNITUDE_CAP);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.reaches(scale, mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// `X / 10^a >= (k - 1/2) * D / 10^p`, i.e. `2 * X * 10^p >= (2k - 1) * D * 10^a`.
    fn reaches(&self, scale: &Decimal, k: u32) -> bool {
        if k == 0 {
            return true;
        }
        let mut left = self.digits.clone();
        left.mul_add_small(2, 0);
        let mut right = scale.digits.clone();
        right.mul_add_small(2 * k - 1, 0);
        for _ in 0..scale.frac {
            left.mul_add_small(10, 0);
        }
        for _ in 0..self.frac {
            right.mul_add_small(10, 0);
        }
        left.cmp(&right) != Ordering::Less
    }
}

/// A non-negative integer of any size, little-endian 32-bit limbs: enough arithmetic for the
/// comparisons above (an f32 prints as at most
/// about 85 digits, a scale has at most 32).
#[derive(Clone)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        Big(alloc::vec![v as u32, (v >> 32) as u32])
    }

    /// `self = self * mul + add`.
    fn mul_add_small(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn significant(&self) -> &[u32] {
        let len = self.0.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
        &self.0[..len]
    }

    fn cmp(&self, other: &Big) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len()
            .cmp(&b.len())
            .then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quant(scale: &str, zero_point: i8) -> InputQuant {
        InputQuant {
            scale: scale.into(),
            zero_point,
        }
    }

    #[test]
    fn rounds_on_the_exact_quotient() {
        // 0.7 / 0.2 = 3.5 exactly, a tie: away from zero. Float division gave 3.4999999.
        assert_eq!(quant("0.2", 0).quantize(&[0.7, -0.7]), [4, -4]);
        assert_eq!(quant("0.2", 0).quantize(&[0.75]), [4]); // 3.75
        assert_eq!(quant("0.1", 0).quantize(&[0.3, 0.25, -0.25]), [3, 3, -3]);
        assert_eq!(quant("0.25", 0).quantize(&[0.625]), [3]); // 2.5 exactly: away from zero
        assert_eq!(quant("0.25", 0).quantize(&[-0.625]), [-3]);
        assert_eq!(quant("0.5", 0).quantize(&[0.25, -0.25]), [1, -1]);
    }

    #[test]
    fn infinities_saturate_to_their_own_end() {
        let q = quant("0.1", 5);
        assert_eq!(q.quantize(&[f32::INFINITY, f32::NEG_INFINITY]), [127, -128]);
        assert_eq!(q.quantize(&[f32::NAN]), [5]);
        assert_eq!(q.quantize(&[f32::MAX, f32::MIN]), [127, -128]);
        assert_eq!(q.quantize(&[f32::from_bits(1), -f32::from_bits(1)]), [5, 5]);
        assert_eq!(
            quant("0.000000000000000000000000000001", -128).quantize(&[1e-30, 2.5e-30]),
            [-127, -125]
        );
    }
}
