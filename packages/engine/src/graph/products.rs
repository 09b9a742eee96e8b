//! Exact integer matrix products on either backend, by one of two strategies that give the
//! same bytes: burn's int32 matmul, or f32 matmuls over slices of the inner dimension short
//! enough that every partial sum stays below 2^24 (exact in f32 in any order), whose results
//! are converted back and added in int32.
//!
//! The f32 strategy only ever multiplies integers of magnitude at most 2,048 (int8 values, and
//! probabilities split into two 7-bit halves), which tf32 (a GPU's f32 matmul with a 10-bit
//! mantissa) holds exactly too; nothing is staged in f16.

use burn::tensor::{FloatDType, IntDType, Tensor};

use super::ints::Ints;

/// How a graph's integer products are accumulated, and so which kernels run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductStrategy {
    /// burn ops on the device; products by burn's int32 matmul.
    Int,
    /// burn ops on the device; products by f32 matmuls over inner slices whose partial sums
    /// stay below 2^24, summed in int32.
    FloatSlices,
    /// The engine's CPU kernels (CPU backend only): core's arithmetic row by row, int8
    /// products (AMX and AVX-512 VNNI where the CPU has them, else AVX2); version 1 chains
    /// run on them too.
    CpuInt8,
}

impl ProductStrategy {
    pub fn name(self) -> &'static str {
        match self {
            ProductStrategy::Int => "burn ops, int32 matmul",
            ProductStrategy::FloatSlices => "burn ops, f32 matmul slices",
            ProductStrategy::CpuInt8 => crate::host::gemm::kernel_name(),
        }
    }
}

/// The two product strategies of burn ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BurnProducts {
    Int,
    FloatSlices,
}

impl ProductStrategy {
    /// The burn product strategy, for strategies that run burn ops.
    pub(crate) fn burn(self) -> Option<BurnProducts> {
        match self {
            ProductStrategy::Int => Some(BurnProducts::Int),
            ProductStrategy::FloatSlices => Some(BurnProducts::FloatSlices),
            ProductStrategy::CpuInt8 => None,
        }
    }
}

/// Largest f32-exact integer bound: every partial sum of a slice stays below it.
const F32_EXACT: u64 = 1 << 24;

/// A constant right operand (weights), uploaded once in the form the strategy multiplies.
#[derive(Clone)]
pub(crate) enum Operand<const D: usize> {
    Int(Ints<D>),
    Float(Tensor<D>),
}

impl<const D: usize> Operand<D> {
    pub(crate) fn new(values: Ints<D>, strategy: BurnProducts) -> Operand<D> {
        match strategy {
            BurnProducts::Int => Operand::Int(values),
            BurnProducts::FloatSlices => Operand::Float(values.cast(FloatDType::F32)),
        }
    }

    fn into_float(self) -> Tensor<D> {
        match self {
            Operand::Int(t) => t.cast(FloatDType::F32),
            Operand::Float(t) => t,
        }
    }
}

/// `lhs @ rhs` exactly, for `lhs` `[.., m, k]` and `rhs` `[.., k, n]`, where any
/// `max_slice` consecutive terms of a dot product sum to less than 2^24 in magnitude (the
/// caller's bound). The f32 strategy multiplies slices of `k` that long.
pub(crate) fn product<const D: usize>(
    lhs: Ints<D>,
    rhs: Operand<D>,
    max_slice: usize,
    strategy: BurnProducts,
) -> Ints<D> {
    match (strategy, rhs) {
        (BurnProducts::Int, Operand::Int(rhs)) => lhs.matmul(rhs),
        (BurnProducts::Int, Operand::Float(rhs)) => lhs.matmul(rhs.cast(IntDType::I32)),
        (BurnProducts::FloatSlices, rhs) => {
            let k = lhs.dims()[D - 1];
            let lhs = lhs.cast(FloatDType::F32);
            let rhs = rhs.into_float();
            let part = |start: usize, len: usize| {
                lhs.clone()
                    .narrow(D - 1, start, len)
                    .matmul(rhs.clone().narrow(D - 2, start, len))
                    .cast(IntDType::I32)
            };
            let slice = max_slice.clamp(1, k.max(1));
            if slice >= k {
                return lhs.clone().matmul(rhs.clone()).cast(IntDType::I32);
            }
            let mut sum = part(0, slice);
            let mut start = slice;
            while start < k {
                let len = slice.min(k - start);
                sum = sum.add(part(start, len));
                start += len;
            }
            sum
        }
    }
}

/// The longest slice of products of magnitude at most `term_bound` each whose sum stays
/// below 2^24.
pub(crate) fn slice_for(term_bound: u64) -> usize {
    ((F32_EXACT - 1) / term_bound.max(1)) as usize
}
