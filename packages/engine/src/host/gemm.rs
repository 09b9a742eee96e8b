//! Exact integer matrix products on the CPU: `out[m][n] = sum_k a[m][k] * w[n][k]` for
//! unsigned 8-bit `a` and signed 8-bit `w`, accumulated in i32.
//!
//! Integer sums are exact in any order, so the fastest order is allowed: on x86-64 with
//! AVX-512 VNNI, `vpdpbusd` multiplies 64 byte pairs and adds them four by four into 16 i32
//! lanes per instruction (four times an f32 FMA's work); elsewhere a portable loop does the
//! same sums. Callers keep every sum below 2^31 (core's bounds), so both give the same bytes.
//!
//! `w` is packed once (weights at load, attention operands per job) in the kernel's layout:
//! blocks of [`BLOCK_COLS`] columns, and within a block, for every 4 consecutive `k`, the 4
//! bytes of each column side by side.

use rayon::prelude::*;

/// Output columns per block: three 16-lane vectors.
pub(crate) const BLOCK_COLS: usize = 48;
/// Rows per micro-kernel call.
const BLOCK_ROWS: usize = 8;

/// The product kernel this CPU runs, for the device report.
pub(crate) fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if vnni::available() {
        return "CPU kernels, int8 products (AVX-512 VNNI)";
    }
    "CPU kernels, int8 products (portable)"
}

/// `k` rounded up to the 4 bytes `vpdpbusd` takes per lane.
pub(crate) fn padded_k(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// A right operand packed for [`Packed::product`]: `n` columns of `k` signed bytes each.
pub(crate) struct Packed {
    k: usize,
    n: usize,
    /// `[n / 48 blocks][k / 4][48 columns][4]`, zero-padded in `n` and `k`.
    data: Vec<i8>,
    /// `sum_k w[n][k]`, for undoing an offset of the left operand.
    column_sums: Vec<i32>,
}

impl Packed {
    /// Packs `n` rows of `k` values (`w[n][k]`, row-major): a dense layer's weight rows,
    /// keys, or transposed values. Values are int8 (held in i32 or i8 by the caller).
    pub(crate) fn new<T: Copy + Into<i32>>(w: &[T], n: usize, k: usize) -> Packed {
        let kp = padded_k(k);
        let blocks = n.div_ceil(BLOCK_COLS);
        let mut data = vec![0i8; blocks * BLOCK_COLS * kp];
        let mut column_sums = vec![0i32; n];
        for (col, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
            let (block, c) = (col / BLOCK_COLS, col % BLOCK_COLS);
            let base = block * BLOCK_COLS * kp;
            for (i, &v) in row.iter().enumerate() {
                let v: i32 = v.into();
                column_sums[col] += v;
                let (quad, lane) = (i / 4, i % 4);
                // int8 by the caller's contract.
                data[base + quad * BLOCK_COLS * 4 + c * 4 + lane] = v as i8;
            }
        }
        Packed {
            k,
            n,
            data,
            column_sums,
        }
    }

    pub(crate) fn columns(&self) -> usize {
        self.n
    }

    pub(crate) fn column_sums(&self) -> &[i32] {
        &self.column_sums
    }

    /// `out[m][n] = sum_k a[m][k] * w[n][k]` for `rows` rows of `a`, each `padded_k(k)` bytes
    /// (the padding's products meet zero weights). `out` has `rows * columns()` values.
    pub(crate) fn product(&self, a: &[u8], rows: usize, out: &mut [i32]) {
        let kp = padded_k(self.k);
        let n = self.n;
        debug_assert!(a.len() >= rows * kp && out.len() >= rows * n);
        // Rows in chunks of whole micro-kernel blocks, one chunk per task.
        let chunk_rows = rows
            .div_ceil(rayon::current_num_threads().max(1))
            .div_ceil(BLOCK_ROWS)
            .max(1)
            * BLOCK_ROWS;
        out[..rows * n]
            .par_chunks_mut(chunk_rows * n)
            .zip(a[..rows * kp].par_chunks(chunk_rows * kp))
            .for_each(|(out, a)| self.product_rows(a, out.len() / n.max(1), out));
    }

    fn product_rows(&self, a: &[u8], rows: usize, out: &mut [i32]) {
        let kp = padded_k(self.k);
        let blocks = self.n.div_ceil(BLOCK_COLS);
        let mut tile = [0i32; BLOCK_ROWS * BLOCK_COLS];
        // Column blocks outside, so a block's packed weights stay in cache for every row.
        for block in 0..blocks {
            let w = &self.data[block * BLOCK_COLS * kp..(block + 1) * BLOCK_COLS * kp];
            let cols = BLOCK_COLS.min(self.n - block * BLOCK_COLS);
            let mut row = 0;
            while row < rows {
                let take = BLOCK_ROWS.min(rows - row);
                let mut lhs = [&[][..]; BLOCK_ROWS];
                for (r, slot) in lhs.iter_mut().enumerate().take(take) {
                    *slot = &a[(row + r) * kp..(row + r + 1) * kp];
                }
                micro_kernel(&lhs[..take], w, kp / 4, &mut tile);
                for r in 0..take {
                    let dst = (row + r) * self.n + block * BLOCK_COLS;
                    out[dst..dst + cols].copy_from_slice(&tile[r * BLOCK_COLS..][..cols]);
                }
                row += take;
            }
        }
    }
}

/// `tile[r][c] = sum over quads q of the 4 products of lhs[r][4q..4q+4] and column c`.
fn micro_kernel(lhs: &[&[u8]], w: &[i8], quads: usize, tile: &mut [i32; BLOCK_ROWS * BLOCK_COLS]) {
    #[cfg(target_arch = "x86_64")]
    if vnni::available() {
        // SAFETY: the CPU has the features `vnni::kernel` is compiled for (checked above),
        // and every slice holds `quads * 4` bytes per row and `quads * 192` packed bytes.
        unsafe { vnni::kernel(lhs, w, quads, tile) };
        return;
    }
    portable_kernel(lhs, w, quads, tile);
}

fn portable_kernel(
    lhs: &[&[u8]],
    w: &[i8],
    quads: usize,
    tile: &mut [i32; BLOCK_ROWS * BLOCK_COLS],
) {
    tile.fill(0);
    for (r, a) in lhs.iter().enumerate() {
        let acc = &mut tile[r * BLOCK_COLS..(r + 1) * BLOCK_COLS];
        for q in 0..quads {
            let quad = &w[q * BLOCK_COLS * 4..(q + 1) * BLOCK_COLS * 4];
            let x = &a[q * 4..q * 4 + 4];
            for (c, lanes) in quad.chunks_exact(4).enumerate() {
                acc[c] += lanes
                    .iter()
                    .zip(x)
                    .map(|(&wv, &xv)| i32::from(wv) * i32::from(xv))
                    .sum::<i32>();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use super::{BLOCK_COLS, BLOCK_ROWS};

    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            std::env::var_os("TAVDUN_ENGINE_NO_VNNI").is_none()
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vnni")
        })
    }

    /// The micro-kernel on AVX-512 VNNI: 8 rows x 48 columns in 24 registers.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and AVX-512 VNNI; every `lhs` row holds `quads * 4` bytes
    /// and `w` holds `quads * 192`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn kernel(
        lhs: &[&[u8]],
        w: &[i8],
        quads: usize,
        tile: &mut [i32; BLOCK_ROWS * BLOCK_COLS],
    ) {
        let rows = lhs.len().min(BLOCK_ROWS);
        let mut acc = [[_mm512_setzero_si512(); 3]; BLOCK_ROWS];
        let mut ptrs = [std::ptr::null::<u8>(); BLOCK_ROWS];
        for (p, a) in ptrs.iter_mut().zip(lhs) {
            *p = a.as_ptr();
        }
        let wp = w.as_ptr();
        for q in 0..quads {
            // SAFETY (whole loop): reads stay within `w` (`quads * 192` bytes) and within each
            // row (`quads * 4` bytes), as the caller guarantees.
            let b = wp.add(q * BLOCK_COLS * 4);
            let b0 = _mm512_loadu_si512(b.cast());
            let b1 = _mm512_loadu_si512(b.add(64).cast());
            let b2 = _mm512_loadu_si512(b.add(128).cast());
            for r in 0..BLOCK_ROWS {
                if r < rows {
                    let x = _mm512_set1_epi32(ptrs[r].add(q * 4).cast::<i32>().read_unaligned());
                    acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, b0);
                    acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, b1);
                    acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], x, b2);
                }
            }
        }
        for (r, row) in acc.iter().enumerate().take(rows) {
            for (v, &vector) in row.iter().enumerate() {
                _mm512_storeu_si512(
                    tile.as_mut_ptr().add(r * BLOCK_COLS + v * 16).cast(),
                    vector,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[u8], w: &[i8], rows: usize, n: usize, k: usize) -> Vec<i32> {
        let kp = padded_k(k);
        (0..rows)
            .flat_map(|r| {
                (0..n).map(move |c| {
                    (0..k)
                        .map(|i| i32::from(a[r * kp + i]) * i32::from(w[c * k + i]))
                        .sum()
                })
            })
            .collect()
    }

    #[test]
    fn products_match_the_definition_on_every_shape_edge() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for &(rows, n, k) in &[
            (1, 1, 1),
            (9, 49, 5),
            (17, 96, 64),
            (8, 48, 1030),
            (3, 100, 7),
        ] {
            let kp = padded_k(k);
            let a: Vec<u8> = (0..rows * kp)
                .map(|i| if i % kp < k { next() as u8 } else { 0 })
                .collect();
            let w: Vec<i8> = (0..n * k)
                .map(|i| match i % 5 {
                    0 => 127,
                    1 => -127,
                    _ => next() as i8,
                })
                .collect();
            let packed = Packed::new(&w, n, k);
            let mut out = vec![0; rows * n];
            packed.product(&a, rows, &mut out);
            assert_eq!(out, naive(&a, &w, rows, n, k), "{rows}x{n}x{k}");
            let mut tile = [0; BLOCK_ROWS * BLOCK_COLS];
            let lhs: Vec<&[u8]> = a.chunks(kp).take(rows.min(BLOCK_ROWS)).collect();
            let mut portable = [0; BLOCK_ROWS * BLOCK_COLS];
            micro_kernel(&lhs, &packed.data[..BLOCK_COLS * kp], kp / 4, &mut tile);
            portable_kernel(&lhs, &packed.data[..BLOCK_COLS * kp], kp / 4, &mut portable);
            assert_eq!(
                tile[..lhs.len() * BLOCK_COLS],
                portable[..lhs.len() * BLOCK_COLS]
            );
        }
    }
}
