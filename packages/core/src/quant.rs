//! Client-side input quantisation. This is the only floating point in the crate and it is off
//! the verification path: the chain and the verifiers only ever see the int8 bytes it yields.

use alloc::vec::Vec;

use crate::spec::InputQuant;

impl InputQuant {
    /// The scale as a number. Validation guarantees it is a positive decimal.
    pub fn scale_value(&self) -> f64 {
        self.scale.parse::<f64>().unwrap_or(1.0)
    }

    /// `q = clamp(round(x / scale) + zero_point, -128, 127)`, rounding half away from zero;
    /// NaN maps to the zero point.
    pub fn quantize(&self, xs: &[f32]) -> Vec<i8> {
        let scale = self.scale_value();
        xs.iter()
            .map(|&x| {
                let v = f64::from(x) / scale;
                // `as` truncates toward zero and saturates (NaN becomes 0): no libm needed.
                let q = if v >= 0.0 { v + 0.5 } else { v - 0.5 } as i64;
                (q + i64::from(self.zero_point)).clamp(-128, 127) as i8
            })
            .collect()
    }

    /// The real value an int8 stands for.
    pub fn dequantize(&self, q: i8) -> f64 {
        (f64::from(q) - f64::from(self.zero_point)) * self.scale_value()
    }
}
