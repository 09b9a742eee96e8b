//! Exact integer matrix products on the CPU: `out[m][n] = sum_k a[m][k] * w[n][k]` for
//! small left values `a` (int8, or attention's probabilities up to 2^14) and signed 8-bit
//! `w`, accumulated in i32.
//!
//! Integer sums are exact in any order, so the fastest order is allowed: on x86-64 with
//! AVX-512 VNNI, `vpdpbusd` multiplies 64 byte pairs and adds them four by four into 16 i32
//! lanes per instruction (four times an f32 FMA's work); with AVX2 alone (AMD Zen 2 and 3,
//! older Intel), `vpmaddwd` on 16-bit values does 16; elsewhere a portable loop does the
//! same sums. Callers keep every sum below 2^31 in magnitude (core's bounds); partial sums
//! may pass it, but i32 addition wraps modulo 2^32, so the total is exact all the same, and
//! all kernels give the same bytes.
//!
//! `w` is packed once (weights at load, attention operands per job) in the kernels' layout:
//! blocks of [`BLOCK_COLS`] columns, and within a block, for every 4 consecutive `k`, the 4
//! bytes of each column side by side.

use std::borrow::Cow;

/// Output columns per block: three 16-lane vectors.
pub(crate) const BLOCK_COLS: usize = 48;
/// Rows per micro-kernel call of the byte kernels.
const BLOCK_ROWS: usize = 8;

/// The product kernel this CPU runs, for the device report.
pub(crate) fn kernel_name() -> &'static str {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if amx::available() {
        return "CPU kernels, int8 products (AMX, AVX-512 VNNI)";
    }
    #[cfg(target_arch = "x86_64")]
    if vnni::available() {
        return "CPU kernels, int8 products (AVX-512 VNNI)";
    }
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        return "CPU kernels, int8 products (AVX2)";
    }
    "CPU kernels, int8 products (portable)"
}

/// `k` rounded up to the 4 values `vpdpbusd` takes per lane.
pub(crate) fn padded_k(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// `rows` of `k` values each, every one padded with zeros to `padded_k(k)` values: a
/// [`Left`] operand's layout. Borrowed as they are where `k` needs no padding and they lie
/// side by side.
pub(crate) fn padded_rows<'a>(values: &'a [i16], rows: usize, k: usize) -> Cow<'a, [i16]> {
    if padded_k(k) == k {
        return Cow::Borrowed(&values[..rows * k]);
    }
    Cow::Owned(widened_rows(&values[..rows * k], k))
}

/// Every row of `k` values in `values` as i16, padded with zeros to `padded_k(k)` values: a
/// copy in a [`Left`] operand's layout.
pub(crate) fn widened_rows<T: Copy + Into<i16>>(values: &[T], k: usize) -> Vec<i16> {
    let kp = padded_k(k);
    let mut out = vec![0; values.len() / k.max(1) * kp];
    for (dst, row) in out
        .chunks_exact_mut(kp.max(1))
        .zip(values.chunks_exact(k.max(1)))
    {
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = v.into();
        }
    }
    out
}

/// The left operand of [`Packed::product`]: rows of `padded_k(k)` values, held in i16 (the
/// padding's products meet zero weights).
#[derive(Clone, Copy)]
pub(crate) enum Left<'a> {
    /// int8 values, -128..=127: layer inputs, queries.
    Int8(&'a [i16]),
    /// Values 0..=2^14: attention's probabilities.
    Probs(&'a [i16]),
}

impl Left<'_> {
    fn values(&self) -> &[i16] {
        match self {
            Left::Int8(v) | Left::Probs(v) => v,
        }
    }
}

/// A right operand packed for [`Packed::product`]: `n` columns of `k` signed bytes each.
pub(crate) struct Packed {
    k: usize,
    n: usize,
    /// `[n / 48 blocks][k / 4][48 columns][4]`, zero-padded in `n` and `k`.
    data: Vec<i8>,
    /// `sum_k w[n][k]`, for undoing the byte kernels' offset of int8 left values.
    column_sums: Vec<i32>,
}

impl Packed {
    /// Packs `n` rows of `k` values (`w[n][k]`, row-major): a dense layer's weight rows,
    /// keys, or transposed values. Values are int8 (held in i8 or i16 by the caller).
    pub(crate) fn new<T: Copy + Into<i32>>(w: &[T], n: usize, k: usize) -> Packed {
        let kp = padded_k(k);
        let blocks = n.div_ceil(BLOCK_COLS);
        let mut data = vec![0i8; blocks * BLOCK_COLS * kp];
        let mut column_sums = vec![0i32; n];
        for (col, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
            let (block, c) = (col / BLOCK_COLS, col % BLOCK_COLS);
            // The column's quads, `BLOCK_COLS * 4` bytes apart: attention packs a head's keys
            // and values per job, so this loop runs per task.
            let column = data[block * BLOCK_COLS * kp + c * 4..].chunks_mut(BLOCK_COLS * 4);
            for (quad, values) in column.zip(row.chunks(4)) {
                for (d, &v) in quad.iter_mut().zip(values) {
                    let v: i32 = v.into();
                    column_sums[col] += v;
                    // int8 by the caller's contract.
                    *d = v as i8;
                }
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

    /// `out[m][n] = sum_k a[m][k] * w[n][k]` for `rows` rows of `a`. `out` has
    /// `rows * columns()` values, every one written (callers may hand in a dirty buffer).
    /// One thread: callers split their rows (or heads, or jobs) into tasks, so that each
    /// task can finish its rows while they are in its cache.
    pub(crate) fn product(&self, a: Left, rows: usize, out: &mut [i32]) {
        let kp = padded_k(self.k);
        assert!(a.values().len() >= rows * kp && out.len() >= rows * self.n);
        if kp == 0 {
            // Empty sums (validation admits no such layer; the kernels assume a quad).
            out[..rows * self.n].fill(0);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if avx2::available() && !vnni::available() {
            // SAFETY: the CPU has AVX2 (checked above), and the slices hold what the kernel
            // reads and writes (asserted above).
            unsafe { avx2::product(a.values(), rows, &self.data, kp, self.n, out) };
            return;
        }
        self.via_bytes(a, rows, out);
    }

    /// [`Packed::product`] by the byte kernels (AMX, VNNI, portable), which take unsigned
    /// bytes: int8 values plus 128 (the offset undone by the column sums), probabilities as
    /// two bytes `256 * high + low` (two products).
    fn via_bytes(&self, a: Left, rows: usize, out: &mut [i32]) {
        let (kp, n) = (padded_k(self.k), self.n);
        match a {
            Left::Int8(values) => {
                let bytes: Vec<u8> = values[..rows * kp]
                    .iter()
                    .map(|&v| v.wrapping_add(128) as u8)
                    .collect();
                self.bytes(&bytes, rows, out);
                for row in out.chunks_exact_mut(n.max(1)).take(rows) {
                    for (o, &s) in row.iter_mut().zip(&self.column_sums) {
                        *o = o.wrapping_sub(s.wrapping_mul(128));
                    }
                }
            }
            Left::Probs(values) => {
                let values = &values[..rows * kp];
                // 0 <= v <= 2^14: both bytes fit.
                let high = values.iter().map(|&v| (v >> 8) as u8);
                let bytes: Vec<u8> = high.chain(values.iter().map(|&v| v as u8)).collect();
                let mut raw = vec![0; 2 * rows * n];
                self.bytes(&bytes, 2 * rows, &mut raw);
                let (high, low) = raw.split_at(rows * n);
                for ((o, &h), &l) in out.iter_mut().zip(high).zip(low) {
                    *o = h.wrapping_mul(256).wrapping_add(l);
                }
            }
        }
    }

    /// `out[m][n] = sum_k a[m][k] * w[n][k]` for `rows` rows of `a`, each `padded_k(k)`
    /// unsigned bytes.
    fn bytes(&self, a: &[u8], rows: usize, out: &mut [i32]) {
        let kp = padded_k(self.k);
        assert!(a.len() >= rows * kp && out.len() >= rows * self.n);
        let blocks = self.n.div_ceil(BLOCK_COLS);
        // Rows in groups of 16 go to AMX where the CPU has it (whole 64-byte K steps only);
        // the rest to the VNNI or portable micro-kernel.
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        let amx_rows = if kp.is_multiple_of(amx::K_STEP) && amx::available() {
            rows / amx::ROWS * amx::ROWS
        } else {
            0
        };
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        let amx_rows = 0;
        // SAFETY: AMX is enabled for this process when `amx_rows` is not 0 (checked above).
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        let tiles = (amx_rows > 0).then(|| unsafe { amx::Tiles::load() });
        let mut tile = [0i32; BLOCK_ROWS * BLOCK_COLS];
        // Column blocks outside, so a block's packed weights stay in cache for every row.
        for block in 0..blocks {
            let w = &self.data[block * BLOCK_COLS * kp..(block + 1) * BLOCK_COLS * kp];
            let cols = BLOCK_COLS.min(self.n - block * BLOCK_COLS);
            let mut store = |first: usize, tile: &[i32], take: usize| {
                for r in 0..take {
                    let dst = (first + r) * self.n + block * BLOCK_COLS;
                    out[dst..dst + cols].copy_from_slice(&tile[r * BLOCK_COLS..][..cols]);
                }
            };
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            if let Some(tiles) = &tiles {
                let mut wide = [0i32; amx::ROWS * BLOCK_COLS];
                for (g, lhs) in a[..amx_rows * kp].chunks(amx::ROWS * kp).enumerate() {
                    tiles.block(lhs, w, kp, &mut wide);
                    store(g * amx::ROWS, &wide, amx::ROWS);
                }
            }
            for (r0, lhs) in a[amx_rows * kp..rows * kp]
                .chunks(BLOCK_ROWS * kp)
                .enumerate()
            {
                let take = lhs.len() / kp.max(1);
                micro_kernel(lhs, take, w, kp / 4, &mut tile);
                store(amx_rows + r0 * BLOCK_ROWS, &tile, take);
            }
        }
    }
}

/// `tile[r][c] = sum over quads q of the 4 products of row r's bytes 4q..4q+4 and column c`,
/// for the `rows` (at most [`BLOCK_ROWS`]) rows of `lhs`, `quads * 4` bytes each.
fn micro_kernel(
    lhs: &[u8],
    rows: usize,
    w: &[i8],
    quads: usize,
    tile: &mut [i32; BLOCK_ROWS * BLOCK_COLS],
) {
    assert!(rows <= BLOCK_ROWS && lhs.len() >= rows * quads * 4 && w.len() >= quads * 192);
    #[cfg(target_arch = "x86_64")]
    if vnni::available() {
        // SAFETY: the CPU has the features `vnni::kernel` is compiled for (checked above), and
        // the slices hold what it reads (asserted above).
        unsafe {
            match rows {
                8 => vnni::kernel::<8>(lhs, w, quads, tile),
                7 => vnni::kernel::<7>(lhs, w, quads, tile),
                6 => vnni::kernel::<6>(lhs, w, quads, tile),
                5 => vnni::kernel::<5>(lhs, w, quads, tile),
                4 => vnni::kernel::<4>(lhs, w, quads, tile),
                3 => vnni::kernel::<3>(lhs, w, quads, tile),
                2 => vnni::kernel::<2>(lhs, w, quads, tile),
                _ => vnni::kernel::<1>(lhs, w, quads, tile),
            }
        }
        return;
    }
    portable_kernel(lhs, rows, w, quads, tile);
}

fn portable_kernel(
    lhs: &[u8],
    rows: usize,
    w: &[i8],
    quads: usize,
    tile: &mut [i32; BLOCK_ROWS * BLOCK_COLS],
) {
    tile.fill(0);
    for (r, a) in lhs.chunks_exact(quads * 4).take(rows).enumerate() {
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

    /// The micro-kernel on AVX-512 VNNI: `R` rows (at most 8) x 48 columns in `3 R` registers,
    /// `R` a constant so that the accumulators are registers and the row loop unrolls.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and AVX-512 VNNI; `lhs` holds `R` rows of `quads * 4` bytes
    /// and `w` holds `quads * 192`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn kernel<const R: usize>(
        lhs: &[u8],
        w: &[i8],
        quads: usize,
        tile: &mut [i32; BLOCK_ROWS * BLOCK_COLS],
    ) {
        let mut acc = [[_mm512_setzero_si512(); 3]; R];
        let (ap, wp, stride) = (lhs.as_ptr(), w.as_ptr(), quads * 4);
        for q in 0..quads {
            // SAFETY (whole loop): reads stay within `w` (`quads * 192` bytes) and within each
            // of the `R` rows (`quads * 4` bytes), as the caller guarantees.
            let b = wp.add(q * BLOCK_COLS * 4);
            let b0 = _mm512_loadu_si512(b.cast());
            let b1 = _mm512_loadu_si512(b.add(64).cast());
            let b2 = _mm512_loadu_si512(b.add(128).cast());
            for (r, row) in acc.iter_mut().enumerate() {
                let x =
                    _mm512_set1_epi32(ap.add(r * stride + q * 4).cast::<i32>().read_unaligned());
                row[0] = _mm512_dpbusd_epi32(row[0], x, b0);
                row[1] = _mm512_dpbusd_epi32(row[1], x, b1);
                row[2] = _mm512_dpbusd_epi32(row[2], x, b2);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, &vector) in row.iter().enumerate() {
                _mm512_storeu_si512(
                    tile.as_mut_ptr().add(r * BLOCK_COLS + v * 16).cast(),
                    vector,
                );
            }
        }
    }
}

/// AVX2 without VNNI. `vpmaddubsw` (bytes times bytes) adds its products in pairs into i16
/// with saturation, which `255 * -128` twice reaches, so it cannot be used exactly; instead
/// the left values stay 16-bit (as the tensors hold them), the weights are sign-extended to
/// i16, and `vpmaddwd` multiplies 16 pairs into 8 i32 lanes (pair sums at most
/// `2 * 2^14 * 128`, exact). A lane holds half of one column's quad (its first or last two
/// `k`), and the two halves are added when the sums are stored.
///
/// Left values as i16 spare the kernel a widening per row and quad (a quad is one 64-bit
/// broadcast load), and the probabilities need no split into bytes. On AMD Zen 3 this form,
/// with each half-block's rows all in one pass, ran 1.06-1.38x the byte form's speed (one
/// thread, 32 rows of MiniLM's three product shapes, alternated runs; BENCHMARKS.md).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use super::BLOCK_COLS;

    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            std::env::var_os("TAVDUN_ENGINE_NO_AVX2").is_none() && is_x86_feature_detected!("avx2")
        })
    }

    /// Half a block's columns per pass: six vectors of 4 columns x 2 lanes.
    const HALF: usize = BLOCK_COLS / 2;

    /// Where a pass's sums go: `out`'s rows of `n` values, from column `col` on, of which
    /// `real` (at most [`HALF`]) are columns of the product rather than padding.
    struct Sink<'a> {
        out: &'a mut [i32],
        n: usize,
        col: usize,
        real: usize,
    }

    /// [`super::Packed::product`] on AVX2: per column block, per half of it, every row (two
    /// at a time, 12 accumulators: the 16 registers' most with the two rows' inputs and a
    /// widened weight vector), so the half's weights stay in the L1 cache for all rows.
    /// Vectors of padding columns only (past `n`), two at a time, are skipped: attention's
    /// heads of 32 fill two thirds of a block.
    ///
    /// # Safety
    /// The CPU must have AVX2; `a` holds `rows` rows of `kp` values, `data` the packed
    /// blocks of `n` columns by `kp`, and `out` `rows * n` values.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn product(
        a: &[i16],
        rows: usize,
        data: &[i8],
        kp: usize,
        n: usize,
        out: &mut [i32],
    ) {
        let quads = kp / 4;
        for block in 0..n.div_ceil(BLOCK_COLS) {
            let w = &data[block * BLOCK_COLS * kp..(block + 1) * BLOCK_COLS * kp];
            let cols = BLOCK_COLS.min(n - block * BLOCK_COLS);
            for half in 0..2 {
                let real = cols.saturating_sub(half * HALF).min(HALF);
                // Live vectors of this half, rounded up to a pair.
                let live = real.div_ceil(8) * 2;
                let w = &w[half * HALF * 4..];
                let col = block * BLOCK_COLS + half * HALF;
                let mut sink = Sink {
                    out: &mut *out,
                    n,
                    col,
                    real,
                };
                let mut r = 0;
                while r < rows {
                    // SAFETY: the caller's guarantee, for rows `r..r + 2` or `r` alone.
                    unsafe {
                        match (rows - r >= 2, live) {
                            (_, 0) => {}
                            (true, 2) => pass::<2, 2>(a, r, w, quads, &mut sink),
                            (true, 4) => pass::<2, 4>(a, r, w, quads, &mut sink),
                            (true, _) => pass::<2, 6>(a, r, w, quads, &mut sink),
                            (false, 2) => pass::<1, 2>(a, r, w, quads, &mut sink),
                            (false, 4) => pass::<1, 4>(a, r, w, quads, &mut sink),
                            (false, _) => pass::<1, 6>(a, r, w, quads, &mut sink),
                        }
                    }
                    r += 2;
                }
            }
        }
    }

    /// Rows `first..first + P` against the first `V` vectors of a half-block, whose quads
    /// lie `BLOCK_COLS * 4` bytes apart in `w`.
    ///
    /// # Safety
    /// As [`product`], with rows `first..first + P` within `a`.
    #[target_feature(enable = "avx2")]
    unsafe fn pass<const P: usize, const V: usize>(
        a: &[i16],
        first: usize,
        w: &[i8],
        quads: usize,
        sink: &mut Sink,
    ) {
        let stride = quads * 4;
        let (ap, wp) = (a.as_ptr(), w.as_ptr());
        let mut acc = [[_mm256_setzero_si256(); V]; P];
        for q in 0..quads {
            // SAFETY (whole loop): reads stay within `w` (`quads * 192` bytes from the half's
            // start, less its offset) and within each row (`quads * 4` values), as the
            // caller guarantees.
            let mut x = [_mm256_setzero_si256(); P];
            for (i, x) in x.iter_mut().enumerate() {
                let quad = unsafe { ap.add((first + i) * stride + q * 4).cast::<i64>() };
                // The quad's 4 values, repeated: [x0 x1 x2 x3] x 4.
                *x = _mm256_set1_epi64x(unsafe { quad.read_unaligned() });
            }
            let b = unsafe { wp.add(q * BLOCK_COLS * 4) };
            for v in 0..V {
                // 4 columns x 4 `k`, as i16.
                let wv = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(b.add(v * 16).cast()) });
                for (row, &x) in acc.iter_mut().zip(&x) {
                    row[v] = _mm256_add_epi32(row[v], _mm256_madd_epi16(wv, x));
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            let start = (first + i) * sink.n + sink.col;
            for v in 0..V / 2 {
                // Two vectors' column halves added pairwise: columns 0 1 4 5 2 3 6 7 of the
                // pair's 8, put in order by the 64-bit permutation.
                let sums = _mm256_hadd_epi32(row[2 * v], row[2 * v + 1]);
                let sums = _mm256_permute4x64_epi64::<0b11_01_10_00>(sums);
                let c = v * 8;
                if c + 8 <= sink.real {
                    let out = &mut sink.out[start + c..start + c + 8];
                    // SAFETY: 8 values into `out`'s 8.
                    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), sums) };
                } else {
                    // The product's last columns and padding: only the columns go out.
                    let mut last = [0i32; 8];
                    // SAFETY: 8 values into `last`'s 8.
                    unsafe { _mm256_storeu_si256(last.as_mut_ptr().cast(), sums) };
                    let real = sink.real - c;
                    sink.out[start + c..start + c + real].copy_from_slice(&last[..real]);
                }
            }
        }
    }
}

/// Intel AMX: tile registers of 16 rows x 64 bytes; one `tdpbusd` multiplies a 16 x 64
/// tile of unsigned bytes by a 64 x 16 tile of signed bytes (stored as 16 rows of 16 columns
/// x 4 consecutive `k`, the packed layout's own, so a packed block's 48 columns are three
/// tiles at a stride of 192 bytes) into 16 x 16 i32 sums: 16,384 multiply-adds per
/// instruction, 256 times a `vpdpbusd`. Linux hands out the tile state on request only.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx {
    use std::arch::asm;
    use std::arch::x86_64::__cpuid_count;
    use std::marker::PhantomData;
    use std::sync::OnceLock;

    use super::BLOCK_COLS;

    /// Rows of a tile, and bytes of `k` per tile step.
    pub(super) const ROWS: usize = 16;
    pub(super) const K_STEP: usize = 64;

    /// Whether this CPU has AMX-INT8 and Linux granted this process the tile state.
    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            if std::env::var_os("TAVDUN_ENGINE_NO_AMX").is_some() || !super::vnni::available() {
                return false;
            }
            // CPUID leaf 7: EDX bit 24 AMX-TILE, bit 25 AMX-INT8.
            let edx = __cpuid_count(7, 0).edx;
            if edx & (3 << 24) != 3 << 24 {
                return false;
            }
            const SYS_ARCH_PRCTL: i64 = 158;
            const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
            const XFEATURE_XTILEDATA: i64 = 18;
            let status: i64;
            // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM) only asks the kernel to allow the tile
            // state for this process's threads; the syscall clobbers rcx and r11.
            unsafe {
                asm!(
                    "syscall",
                    inlateout("rax") SYS_ARCH_PRCTL => status,
                    in("rdi") ARCH_REQ_XCOMP_PERM,
                    in("rsi") XFEATURE_XTILEDATA,
                    lateout("rcx") _,
                    lateout("r11") _,
                    options(nostack),
                );
            }
            status == 0
        })
    }

    /// The tile configuration: palette 1, tiles 0-6 all 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
    }

    const CONFIG: Config = Config {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        bytes_per_row: [64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };

    /// This thread's tiles, configured by [`CONFIG`] for as long as the value lives (the
    /// configuration is per thread, hence not `Send`), released on drop.
    pub(super) struct Tiles(PhantomData<*const ()>);

    impl Tiles {
        /// # Safety
        /// [`available`] must have returned true.
        pub(super) unsafe fn load() -> Tiles {
            // SAFETY: AMX is enabled (the caller's guarantee); the configuration is valid.
            unsafe {
                asm!(
                    "ldtilecfg [{config}]",
                    config = in(reg) &CONFIG,
                    options(nostack, readonly),
                );
            }
            Tiles(PhantomData)
        }

        /// `out[r][c] = sum_k lhs[r][k] * w[c][k]` for 16 rows of `lhs` (`kp` bytes each)
        /// and one packed block of 48 columns: tiles 0-2 accumulate the three 16-column
        /// thirds, tile 3 holds the rows' next 64 bytes, tiles 4-6 the block's next 64 `k` of
        /// each third.
        pub(super) fn block(
            &self,
            lhs: &[u8],
            w: &[i8],
            kp: usize,
            out: &mut [i32; ROWS * BLOCK_COLS],
        ) {
            assert!(kp.is_multiple_of(K_STEP) && lhs.len() >= ROWS * kp && w.len() >= kp / 4 * 192);
            let quad_row = BLOCK_COLS * 4;
            // SAFETY (all three blocks): the tiles are configured (`self`); every load reads
            // 16 rows of 64 bytes within `lhs` (stride `kp`) or `w` (stride 192), as asserted,
            // and the stores write 16 rows of 64 bytes within `out` (stride 192).
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    options(nostack, nomem),
                );
            }
            for step in 0..kp / K_STEP {
                let a = lhs[step * K_STEP..].as_ptr();
                // 16 quads (64 values of k) per step, each quad a 192-byte row of the block.
                let b = w[step * 16 * quad_row..].as_ptr();
                unsafe {
                    asm!(
                        "tileloadd tmm3, [{a} + {a_stride}*1]",
                        "tileloadd tmm4, [{b} + {b_stride}*1]",
                        "tileloadd tmm5, [{b} + {b_stride}*1 + 64]",
                        "tileloadd tmm6, [{b} + {b_stride}*1 + 128]",
                        "tdpbusd tmm0, tmm3, tmm4",
                        "tdpbusd tmm1, tmm3, tmm5",
                        "tdpbusd tmm2, tmm3, tmm6",
                        a = in(reg) a,
                        a_stride = in(reg) kp,
                        b = in(reg) b,
                        b_stride = in(reg) quad_row,
                        options(nostack, readonly),
                    );
                }
            }
            unsafe {
                asm!(
                    "tilestored [{c} + {stride}*1], tmm0",
                    "tilestored [{c} + {stride}*1 + 64], tmm1",
                    "tilestored [{c} + {stride}*1 + 128], tmm2",
                    c = in(reg) out.as_mut_ptr(),
                    stride = in(reg) BLOCK_COLS * 4,
                    options(nostack),
                );
            }
        }
    }

    impl Drop for Tiles {
        fn drop(&mut self) {
            // SAFETY: the tiles were configured by `load`; releasing them touches no memory.
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[i16], w: &[i8], rows: usize, n: usize, k: usize) -> Vec<i32> {
        let kp = padded_k(k);
        (0..rows)
            .flat_map(|r| {
                (0..n).map(move |c| {
                    let sum: i64 = (0..k)
                        .map(|i| i64::from(a[r * kp + i]) * i64::from(w[c * k + i]))
                        .sum();
                    i32::try_from(sum).expect("the test keeps its sums in i32")
                })
            })
            .collect()
    }

    /// `product` (the kernel this CPU runs) and the byte kernels (on this CPU: VNNI, or the
    /// portable loop), both against the definition.
    fn check(packed: &Packed, a: Left, w: &[i8], rows: usize, what: &str) {
        let want = naive(a.values(), w, rows, packed.n, packed.k);
        let mut out = vec![-1; rows * packed.n];
        packed.product(a, rows, &mut out);
        assert_eq!(out, want, "{what}: product");
        let mut out = vec![-1; rows * packed.n];
        packed.via_bytes(a, rows, &mut out);
        assert_eq!(out, want, "{what}: byte kernels");
        // The AVX2 kernel too where the CPU has it, also on CPUs that prefer VNNI.
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            let mut out = vec![-1; rows * packed.n];
            let kp = padded_k(packed.k);
            // SAFETY: AVX2 is available; `a` holds `rows` rows of `kp`, `out` `rows * n`.
            unsafe { avx2::product(a.values(), rows, &packed.data, kp, packed.n, &mut out) };
            assert_eq!(out, want, "{what}: AVX2 kernel");
        }
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
            // Blocks with padding vectors the AVX2 kernel skips: attention's heads of 32 and
            // 128 keys (a last block of 32), and 20 and 40 columns.
            (10, 32, 128),
            (12, 128, 32),
            (7, 40, 32),
            (5, 20, 9),
            (8, 48, 1030),
            (3, 100, 7),
            // Whole 64-byte K steps and 16-row groups: AMX where the CPU has it, plus tails.
            (40, 100, 256),
            (35, 48, 1536),
        ] {
            let kp = padded_k(k);
            // The extremes of the operands, often side by side: `255 * -128` (the byte
            // kernels' offset form of 127) in both halves of a pair is what saturates
            // `vpmaddubsw`. The padding holds values the products must ignore.
            let int8: Vec<i16> = (0..rows * kp)
                .map(|i| match (i % kp < k, i % 3) {
                    (false, _) => 127,
                    (true, 0) => 127,
                    (true, 1) => -128,
                    _ => next() as i8 as i16,
                })
                .collect();
            let probs: Vec<i16> = (0..rows * kp)
                .map(|i| match (i % kp < k, i % 4) {
                    (false, _) => 1 << 14,
                    (true, 0) => 1 << 14,
                    (true, 1) => 0,
                    (true, 2) => 255,
                    _ => (next() % (1 << 14)) as i16,
                })
                .collect();
            let w: Vec<i8> = (0..n * k)
                .map(|i| match i % 7 {
                    0 | 1 => -128,
                    2 => 127,
                    3 => -127,
                    _ => next() as i8,
                })
                .collect();
            let packed = Packed::new(&w, n, k);
            check(
                &packed,
                Left::Int8(&int8),
                &w,
                rows,
                &format!("int8 {rows}x{n}x{k}"),
            );
            // Probabilities meet at most 512 keys: sums below 2^30.
            if k <= 512 {
                let what = format!("probs {rows}x{n}x{k}");
                check(&packed, Left::Probs(&probs), &w, rows, &what);
            }
            // The first block's real columns, row by row: the micro-kernel this CPU runs
            // (VNNI where it has it) against the portable loop.
            let bytes: Vec<u8> = int8.iter().map(|&v| (v + 128) as u8).collect();
            let cols = n.min(BLOCK_COLS);
            let live = |tile: &[i32], take: usize| -> Vec<i32> {
                tile.chunks_exact(BLOCK_COLS)
                    .take(take)
                    .flat_map(|row| row[..cols].to_vec())
                    .collect()
            };
            for take in 1..=rows.min(BLOCK_ROWS) {
                let mut tile = [0; BLOCK_ROWS * BLOCK_COLS];
                let mut portable = [0; BLOCK_ROWS * BLOCK_COLS];
                let w = &packed.data[..BLOCK_COLS * kp];
                micro_kernel(&bytes, take, w, kp / 4, &mut tile);
                portable_kernel(&bytes, take, w, kp / 4, &mut portable);
                assert_eq!(live(&tile, take), live(&portable, take));
            }
        }
    }

    /// Every left value at an extreme against every weight at one, over a long K: the
    /// largest sums a kernel's partial stages meet.
    #[test]
    fn products_at_the_extremes_throughout_match_the_definition() {
        for weight in [-128i8, 127] {
            let (rows, n) = (9, 50);
            for (value, k) in [(-128i16, 1000), (127, 1000), (1 << 14, 512)] {
                let a = vec![value; rows * padded_k(k)];
                let w = vec![weight; n * k];
                let packed = Packed::new(&w, n, k);
                let left = if value > 127 {
                    Left::Probs(&a)
                } else {
                    Left::Int8(&a)
                };
                let want = i32::from(value) * i32::from(weight) * k as i32;
                check(&packed, left, &w, rows, &format!("{value} x {weight}"));
                let mut out = vec![0; rows * n];
                packed.product(left, rows, &mut out);
                assert_eq!(out, vec![want; rows * n]);
            }
        }
    }

    #[test]
    fn an_empty_sum_is_zero() {
        let packed = Packed::new::<i8>(&[], 3, 0);
        let mut out = vec![-1; 2 * 3];
        packed.product(Left::Int8(&[]), 2, &mut out);
        assert_eq!(out, vec![0; 6]);
    }

    #[test]
    fn padded_rows_borrow_whole_quads_and_pad_the_rest() {
        let values: Vec<i16> = (1..=12).collect();
        assert!(matches!(padded_rows(&values, 3, 4), Cow::Borrowed(v) if v == &values[..]));
        let padded = padded_rows(&values, 2, 6);
        assert_eq!(
            &*padded,
            &[1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0]
        );
        let bytes: [i8; 6] = [-128, 1, 127, -1, 2, 3];
        assert_eq!(widened_rows(&bytes, 3), [-128, 1, 127, 0, -1, 2, 3, 0]);
    }
}
