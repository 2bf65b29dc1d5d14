//! The 16-bit twins of the C ABI (`softmax_f16*`, `softmax_bf16*`), called directly for both
//! formats: bit for bit against the Rust API on the same rows (one row, batches with gaps, in
//! place, every algorithm, masked rows, threads), against the `_f32` function on the widened
//! row rounded once, and with every kind of bad argument, after which nothing was written.
//! The C and C++ programs that use them are `c_examples/half.c` and `half.cpp` (run by
//! `tests/c_abi.rs`).

use std::ptr;

use softmax::ffi::*;
use softmax::{bf16, f16, Algorithm, CrossEntropyOptions, Element, Softmax};

const OK: softmax_status = SOFTMAX_STATUS_OK;
const NULL: softmax_status = SOFTMAX_STATUS_NULL_POINTER;
const INVALID: softmax_status = SOFTMAX_STATUS_INVALID_ARGUMENT;

/// A value no operation writes, to see what was left alone (an f16 2.3e-5, a bf16 1.5e13).
const SENTINEL: u16 = 0x5555;

type Row = unsafe extern "C" fn(*const u16, *mut u16, usize) -> softmax_status;
type RowEx = unsafe extern "C" fn(*const u16, *mut u16, usize, u32) -> softmax_status;
type Scaled = unsafe extern "C" fn(*const u16, *mut u16, usize, f32) -> softmax_status;
type Lse = unsafe extern "C" fn(*const u16, usize, *mut f32) -> softmax_status;
type Rows =
    unsafe extern "C" fn(*const u16, usize, *mut u16, usize, usize, usize, u32) -> softmax_status;
type RowsEx = unsafe extern "C" fn(
    *const u16,
    usize,
    *mut u16,
    usize,
    usize,
    usize,
    u32,
    u32,
) -> softmax_status;
type LogRows =
    unsafe extern "C" fn(*const u16, usize, *mut u16, usize, usize, usize) -> softmax_status;
type ScaledRows = unsafe extern "C" fn(
    *const u16,
    usize,
    *mut u16,
    usize,
    usize,
    usize,
    f32,
    u32,
) -> softmax_status;
type LseRows = unsafe extern "C" fn(*const u16, usize, *mut f32, usize, usize) -> softmax_status;
type Grad = unsafe extern "C" fn(*const u16, *const u16, *mut u16, usize) -> softmax_status;
type GradRows = unsafe extern "C" fn(
    *const u16,
    usize,
    *const u16,
    usize,
    *mut u16,
    usize,
    usize,
    usize,
) -> softmax_status;
type Ce = unsafe extern "C" fn(*const u16, usize, usize, *mut f32, *mut u16) -> softmax_status;
type CeRows = unsafe extern "C" fn(
    *const u16,
    usize,
    usize,
    usize,
    *const i64,
    i64,
    f32,
    *mut f32,
    *mut u16,
    usize,
) -> softmax_status;

/// The C functions of one 16-bit format.
struct Twins {
    softmax: Row,
    softmax_ex: RowEx,
    log_softmax: Row,
    logsumexp: Lse,
    rows: Rows,
    rows_ex: RowsEx,
    log_softmax_rows: LogRows,
    scaled: Scaled,
    scaled_rows: ScaledRows,
    logsumexp_rows: LseRows,
    backward: Grad,
    log_backward: Grad,
    backward_rows: GradRows,
    log_backward_rows: GradRows,
    cross_entropy: Ce,
    cross_entropy_rows: CeRows,
}

/// A 16-bit element type with its C functions.
trait Format: Element {
    const C: Twins;
    fn bits(self) -> u16;
    fn of_bits(b: u16) -> Self;
}

impl Format for f16 {
    const C: Twins = Twins {
        softmax: softmax_f16,
        softmax_ex: softmax_f16_ex,
        log_softmax: softmax_log_softmax_f16,
        logsumexp: softmax_logsumexp_f16,
        rows: softmax_rows_f16,
        rows_ex: softmax_rows_f16_ex,
        log_softmax_rows: softmax_log_softmax_rows_f16,
        scaled: softmax_scaled_f16,
        scaled_rows: softmax_scaled_rows_f16,
        logsumexp_rows: softmax_logsumexp_rows_f16,
        backward: softmax_backward_f16,
        log_backward: softmax_log_softmax_backward_f16,
        backward_rows: softmax_backward_rows_f16,
        log_backward_rows: softmax_log_softmax_backward_rows_f16,
        cross_entropy: softmax_cross_entropy_f16,
        cross_entropy_rows: softmax_cross_entropy_rows_f16,
    };
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn of_bits(b: u16) -> Self {
        f16::from_bits(b)
    }
}

impl Format for bf16 {
    const C: Twins = Twins {
        softmax: softmax_bf16,
        softmax_ex: softmax_bf16_ex,
        log_softmax: softmax_log_softmax_bf16,
        logsumexp: softmax_logsumexp_bf16,
        rows: softmax_rows_bf16,
        rows_ex: softmax_rows_bf16_ex,
        log_softmax_rows: softmax_log_softmax_rows_bf16,
        scaled: softmax_scaled_bf16,
        scaled_rows: softmax_scaled_rows_bf16,
        logsumexp_rows: softmax_logsumexp_rows_bf16,
        backward: softmax_backward_bf16,
        log_backward: softmax_log_softmax_backward_bf16,
        backward_rows: softmax_backward_rows_bf16,
        log_backward_rows: softmax_log_softmax_backward_rows_bf16,
        cross_entropy: softmax_cross_entropy_bf16,
        cross_entropy_rows: softmax_cross_entropy_rows_bf16,
    };
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn of_bits(b: u16) -> Self {
        bf16::from_bits(b)
    }
}

/// Runs a test for both formats.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                imp::$name::<f16>();
                imp::$name::<bf16>();
            }
        )*
    };
}

both!(
    one_row_matches_the_rust_api,
    one_row_is_the_f32_result_rounded,
    batches_match_the_rust_api,
    backward_passes_match_the_rust_api,
    cross_entropy_matches_the_rust_api,
    in_place_equals_out_of_place,
    empty_rows_and_batches,
    masked_rows,
    null_pointers,
    misaligned_pointers,
    overlaps,
    strides_and_sizes,
    scalar_arguments,
    threads_give_the_same_bits,
    a_batch_of_one_row_is_one_row_of_a_batch,
);

mod imp {
    use super::*;

    /// `n` inputs in [-12, 12] (some repeated), as f32.
    fn input(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104_729) % 97) as f32 * 0.25 - 12.0)
            .collect()
    }

    /// The 16-bit patterns of `x` rounded to `T`.
    fn enc<T: Format>(x: &[f32]) -> Vec<u16> {
        x.iter().map(|&v| T::from_f32(v).bits()).collect()
    }

    fn vals<T: Format>(b: &[u16]) -> Vec<T> {
        b.iter().map(|&v| T::of_bits(v)).collect()
    }

    fn bits<T: Format>(v: &[T]) -> Vec<u16> {
        v.iter().map(|&v| v.bits()).collect()
    }

    fn widen<T: Format>(b: &[u16]) -> Vec<f32> {
        b.iter().map(|&v| T::of_bits(v).to_f32()).collect()
    }

    /// A batch of `rows` rows of `cols` inputs, `stride` apart, the gaps holding `SENTINEL`.
    fn batch<T: Format>(rows: usize, cols: usize, stride: usize, seed: usize) -> Vec<u16> {
        let mut b = vec![SENTINEL; extent(rows, cols, stride)];
        for r in 0..rows {
            b[r * stride..][..cols].copy_from_slice(&enc::<T>(&input(cols, seed + r)));
        }
        b
    }

    fn extent(rows: usize, cols: usize, stride: usize) -> usize {
        if rows == 0 {
            0
        } else {
            (rows - 1) * stride + cols
        }
    }

    /// Asserts that the gaps between the rows of `b` still hold `SENTINEL`.
    fn gaps_untouched(what: &str, b: &[u16], rows: usize, cols: usize, stride: usize) {
        for (i, &v) in b.iter().enumerate() {
            if i % stride >= cols || i / stride >= rows {
                assert_eq!(v, SENTINEL, "{what}: gap element {i} was written");
            }
        }
    }

    /// A 16-bit pointer one byte into `buf` (odd address).
    fn odd(buf: &mut [u16]) -> *mut u16 {
        buf.as_mut_ptr().cast::<u8>().wrapping_add(1).cast()
    }

    fn name<T: Format>() -> &'static str {
        T::NAME
    }

    /// A batch of one row takes the one-row path of the batch calls: the same bits as that
    /// row in a batch of two, in and out of place, with gaps, every algorithm, with and
    /// without the masked-rows flag, ordinary and special rows, lengths 1 to 300 and longer.
    pub fn a_batch_of_one_row_is_one_row_of_a_batch<T: Format>() {
        let c = T::C;
        for n in (1..=300).chain([1000, 4100, 131_100]) {
            for kind in if n > 300 { 0..2 } else { 0..5 } {
                let mut wide = input(n, kind);
                match kind {
                    1 => wide
                        .iter_mut()
                        .step_by(3)
                        .for_each(|v| *v = f32::NEG_INFINITY),
                    2 => wide[n / 2] = f32::INFINITY,
                    3 => wide[n - 1] = f32::NAN,
                    4 => wide.fill(f32::NEG_INFINITY),
                    _ => {}
                }
                let x = enc::<T>(&wide);
                let ctx = format!("{} n={n} kind={kind}", name::<T>());
                let (xs, ys) = (n + 3, n + 5);
                let mut x2 = vec![SENTINEL; xs + n];
                x2[..n].copy_from_slice(&x);
                x2[xs..].copy_from_slice(&x);
                for alg in Algorithm::ALL {
                    for flags in [0, SOFTMAX_FLAG_ZERO_MASKED_ROWS] {
                        let (mut one, mut two) = (vec![SENTINEL; n], vec![SENTINEL; ys + n]);
                        let mut io = x.clone();
                        let a = alg as u32;
                        // SAFETY: one row of `n` values, two rows `xs` / `ys` apart, and one
                        // row in place with equal strides.
                        unsafe {
                            let (xp, op, tp) = (x.as_ptr(), one.as_mut_ptr(), two.as_mut_ptr());
                            assert_eq!((c.rows_ex)(xp, xs, op, ys, 1, n, a, flags), OK);
                            assert_eq!((c.rows_ex)(x2.as_ptr(), xs, tp, ys, 2, n, a, flags), OK);
                            let p = io.as_mut_ptr();
                            assert_eq!((c.rows_ex)(p, xs, p, xs, 1, n, a, flags), OK);
                        }
                        let what = format!("{ctx} softmax {alg:?} {flags}");
                        assert_eq!(one, two[..n], "{what}");
                        assert_eq!(two[..n], two[ys..], "{what}");
                        assert_eq!(io, one, "{what} in place");
                    }
                }
                let (mut one, mut two) = (vec![SENTINEL; n], vec![SENTINEL; ys + n]);
                let mut io = x.clone();
                let (mut l1, mut l2) = ([5.0f32], [5.0f32; 2]);
                // SAFETY: as above; one and two floats out.
                unsafe {
                    let (xp, op, tp) = (x.as_ptr(), one.as_mut_ptr(), two.as_mut_ptr());
                    assert_eq!((c.log_softmax_rows)(xp, xs, op, ys, 1, n), OK);
                    assert_eq!((c.log_softmax_rows)(x2.as_ptr(), xs, tp, ys, 2, n), OK);
                    let p = io.as_mut_ptr();
                    assert_eq!((c.log_softmax_rows)(p, xs, p, xs, 1, n), OK);
                    assert_eq!((c.logsumexp_rows)(xp, xs, l1.as_mut_ptr(), 1, n), OK);
                    assert_eq!(
                        (c.logsumexp_rows)(x2.as_ptr(), xs, l2.as_mut_ptr(), 2, n),
                        OK
                    );
                }
                assert_eq!(one, two[..n], "{ctx} log-softmax");
                assert_eq!(two[..n], two[ys..], "{ctx} log-softmax");
                assert_eq!(io, one, "{ctx} log-softmax in place");
                assert_eq!(l1[0].to_bits(), l2[0].to_bits(), "{ctx} log-sum-exp");
                assert_eq!(l2[0].to_bits(), l2[1].to_bits(), "{ctx} log-sum-exp");
            }
        }
    }

    pub fn one_row_matches_the_rust_api<T: Format>() {
        let (c, sm) = (T::C, Softmax::new());
        for n in [1, 2, 7, 64, 257, 1003, 4100] {
            let ctx = format!("{} n={n}", name::<T>());
            let x = enc::<T>(&input(n, n));
            let xs = vals::<T>(&x);
            let mut y = vec![SENTINEL; n];
            let mut want = vec![T::default(); n];
            for alg in Algorithm::ALL {
                // SAFETY: buffers of `n` values.
                assert_eq!(
                    unsafe { (c.softmax_ex)(x.as_ptr(), y.as_mut_ptr(), n, alg as u32) },
                    OK
                );
                sm.softmax_with(&xs, &mut want, alg).unwrap();
                assert_eq!(y, bits(&want), "{ctx} softmax {alg:?}");
            }
            // SAFETY: as above.
            assert_eq!(unsafe { (c.softmax)(x.as_ptr(), y.as_mut_ptr(), n) }, OK);
            sm.softmax(&xs, &mut want).unwrap();
            assert_eq!(y, bits(&want), "{ctx} softmax");
            // SAFETY: as above.
            assert_eq!(
                unsafe { (c.log_softmax)(x.as_ptr(), y.as_mut_ptr(), n) },
                OK
            );
            sm.log_softmax(&xs, &mut want).unwrap();
            assert_eq!(y, bits(&want), "{ctx} log_softmax");
            for scale in [0.37, -1.5, 0.0, 2.0] {
                // SAFETY: as above.
                assert_eq!(
                    unsafe { (c.scaled)(x.as_ptr(), y.as_mut_ptr(), n, scale) },
                    OK
                );
                sm.softmax_scaled(&xs, &mut want, scale).unwrap();
                assert_eq!(y, bits(&want), "{ctx} softmax_scaled {scale}");
            }
            let mut lse = 0.0f32;
            // SAFETY: as above; one float.
            assert_eq!(unsafe { (c.logsumexp)(x.as_ptr(), n, &mut lse) }, OK);
            assert_eq!(
                lse.to_bits(),
                sm.logsumexp(&xs).to_bits(),
                "{ctx} logsumexp"
            );
        }
        // A row long enough to be split into segments.
        let n = 131_100;
        let x = enc::<T>(&input(n, 3));
        let xs = vals::<T>(&x);
        let (mut y, mut want) = (vec![SENTINEL; n], vec![T::default(); n]);
        // SAFETY: as above.
        assert_eq!(unsafe { (c.softmax)(x.as_ptr(), y.as_mut_ptr(), n) }, OK);
        sm.softmax(&xs, &mut want).unwrap();
        assert!(y == bits(&want), "{} long row", name::<T>());
    }

    /// Each twin is its `_f32` function on the widened row with each output rounded once (by
    /// the `half` crate's own rounding here).
    pub fn one_row_is_the_f32_result_rounded<T: Format>() {
        let c = T::C;
        let round = |v: &[f32]| -> Vec<u16> {
            v.iter()
                .map(|&v| match T::NAME {
                    "f16" => half::f16::from_f32(v).to_bits(),
                    _ => half::bf16::from_f32(v).to_bits(),
                })
                .collect()
        };
        for n in [5, 300, 2049] {
            let x = enc::<T>(&input(n, 7));
            let wide = widen::<T>(&x);
            let (mut y, mut y32) = (vec![0u16; n], vec![0.0f32; n]);
            // SAFETY: buffers of `n` values.
            unsafe {
                assert_eq!((c.softmax)(x.as_ptr(), y.as_mut_ptr(), n), OK);
                assert_eq!(softmax_f32(wide.as_ptr(), y32.as_mut_ptr(), n), OK);
            }
            assert_eq!(y, round(&y32), "{} softmax n={n}", name::<T>());
            // SAFETY: as above.
            unsafe {
                assert_eq!((c.log_softmax)(x.as_ptr(), y.as_mut_ptr(), n), OK);
                assert_eq!(
                    softmax_log_softmax_f32(wide.as_ptr(), y32.as_mut_ptr(), n),
                    OK
                );
            }
            assert_eq!(y, round(&y32), "{} log_softmax n={n}", name::<T>());
            let (mut l16, mut l32) = (0.0f32, 0.0f32);
            // SAFETY: as above.
            unsafe {
                assert_eq!((c.logsumexp)(x.as_ptr(), n, &mut l16), OK);
                assert_eq!(softmax_logsumexp_f32(wide.as_ptr(), n, &mut l32), OK);
            }
            assert_eq!(l16.to_bits(), l32.to_bits());
        }

        // Special values, and what the formats can hold.
        let specials: [(&[f32], bool); 4] = [
            (&[1.0, f32::INFINITY, 2.0, f32::INFINITY], false),
            (&[1.0, f32::NAN, 2.0], false),
            (&[0.0, -20.0, -200.0], false),
            (&[60000.0, -60000.0, 0.0], true),
        ];
        for (row, log) in specials {
            let x = enc::<T>(row);
            let wide = widen::<T>(&x);
            let n = row.len();
            let (mut y, mut y32) = (vec![0u16; n], vec![0.0f32; n]);
            let (f, f32_fn): (Row, unsafe extern "C" fn(*const f32, *mut f32, usize) -> _) = if log
            {
                (c.log_softmax, softmax_log_softmax_f32)
            } else {
                (c.softmax, softmax_f32)
            };
            // SAFETY: as above.
            unsafe {
                assert_eq!(f(x.as_ptr(), y.as_mut_ptr(), n), OK);
                assert_eq!(f32_fn(wide.as_ptr(), y32.as_mut_ptr(), n), OK);
            }
            let got = widen::<T>(&y);
            for (i, (&g, &w)) in got.iter().zip(&round(&y32)).enumerate() {
                let w32 = T::of_bits(w).to_f32();
                assert!(
                    g.to_bits() == w32.to_bits() || (g.is_nan() && w32.is_nan()),
                    "{} {row:?}[{i}]: {g} against {}",
                    name::<T>(),
                    w32
                );
            }
            match (row[0], log) {
                (1.0, _) if row[1].is_infinite() => assert_eq!(got, [0.0, 0.5, 0.0, 0.5]),
                (1.0, _) => assert!(got.iter().all(|v| v.is_nan())),
                // exp(-20) = 2.1e-9: below the smallest binary16 subnormal, a bfloat16 normal.
                (0.0, _) if T::NAME == "f16" => assert_eq!(got[1..], [0.0, 0.0]),
                (0.0, _) => assert!(got[1] > 2.0e-9 && got[1] < 2.1e-9 && got[2] == 0.0),
                // log-softmax -120000: beyond binary16 (-inf), a bfloat16 number (60000 is
                // 59904 in bfloat16).
                _ if T::NAME == "f16" => assert_eq!(got[1], f32::NEG_INFINITY),
                _ => assert_eq!(got[1], -2.0 * widen::<T>(&x)[0]),
            }
        }
    }

    /// Batch layouts `(rows, cols, x_stride, y_stride)`.
    const LAYOUTS: [(usize, usize, usize, usize); 6] = [
        (1, 5, 5, 5),
        (3, 37, 40, 45),
        (9, 8, 8, 11),
        (40, 300, 301, 300),
        (600, 3, 4, 3),
        (3, 5000, 5003, 5000),
    ];

    pub fn batches_match_the_rust_api<T: Format>() {
        let c = T::C;
        for (rows, cols, xst, yst) in LAYOUTS {
            let ctx = format!("{} {rows}x{cols} strides {xst}/{yst}", name::<T>());
            let mut x = batch::<T>(rows, cols, xst, 1);
            if rows > 2 {
                // A fully masked row.
                x[xst..][..cols].fill(T::from_f32(f32::NEG_INFINITY).bits());
            }
            let xs = vals::<T>(&x);
            let blank = vec![SENTINEL; extent(rows, cols, yst)];
            let (mut y, mut want) = (blank.clone(), vals::<T>(&blank));
            for alg in Algorithm::ALL {
                for flags in [0, SOFTMAX_FLAG_ZERO_MASKED_ROWS] {
                    let sm = Softmax::new().zero_masked_rows(flags != 0);
                    // SAFETY: both extents are in the buffers.
                    let st = unsafe {
                        (c.rows_ex)(
                            x.as_ptr(),
                            xst,
                            y.as_mut_ptr(),
                            yst,
                            rows,
                            cols,
                            alg as u32,
                            flags,
                        )
                    };
                    assert_eq!(st, OK);
                    sm.softmax_rows(&xs, xst, &mut want, yst, rows, cols, alg)
                        .unwrap();
                    assert_eq!(y, bits(&want), "{ctx} softmax_rows {alg:?} flags {flags}");
                    gaps_untouched(&ctx, &y, rows, cols, yst);
                }
                y.copy_from_slice(&blank);
                // SAFETY: as above.
                let st = unsafe {
                    (c.rows)(x.as_ptr(), xst, y.as_mut_ptr(), yst, rows, cols, alg as u32)
                };
                assert_eq!(st, OK);
                Softmax::new()
                    .softmax_rows(&xs, xst, &mut want, yst, rows, cols, alg)
                    .unwrap();
                assert_eq!(y, bits(&want), "{ctx} softmax_rows {alg:?}");
            }
            let sm = Softmax::new();
            // SAFETY: as above.
            let st =
                unsafe { (c.log_softmax_rows)(x.as_ptr(), xst, y.as_mut_ptr(), yst, rows, cols) };
            assert_eq!(st, OK);
            sm.log_softmax_rows(&xs, xst, &mut want, yst, rows, cols)
                .unwrap();
            assert_eq!(y, bits(&want), "{ctx} log_softmax_rows");
            gaps_untouched(&ctx, &y, rows, cols, yst);
            for (scale, alg) in [(0.5, Algorithm::Auto), (-3.0, Algorithm::TwoPass)] {
                // SAFETY: as above.
                let st = unsafe {
                    (c.scaled_rows)(
                        x.as_ptr(),
                        xst,
                        y.as_mut_ptr(),
                        yst,
                        rows,
                        cols,
                        scale,
                        alg as u32,
                    )
                };
                assert_eq!(st, OK);
                sm.softmax_scaled_rows(&xs, xst, &mut want, yst, rows, cols, scale, alg)
                    .unwrap();
                assert_eq!(y, bits(&want), "{ctx} softmax_scaled_rows {scale}");
            }
            let (mut out, mut out_want) = (vec![7.0f32; rows + 1], vec![7.0f32; rows + 1]);
            // SAFETY: `out` holds `rows` floats.
            let st = unsafe { (c.logsumexp_rows)(x.as_ptr(), xst, out.as_mut_ptr(), rows, cols) };
            assert_eq!(st, OK);
            sm.logsumexp_rows(&xs, xst, rows, cols, &mut out_want)
                .unwrap();
            let b = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(b(&out), b(&out_want), "{ctx} logsumexp_rows");
            assert_eq!(out[rows], 7.0);
        }
    }

    pub fn backward_passes_match_the_rust_api<T: Format>() {
        let (c, sm) = (T::C, Softmax::new());
        for n in [1, 7, 300, 5000] {
            let ctx = format!("{} n={n}", name::<T>());
            let x = vals::<T>(&enc::<T>(&input(n, 2)));
            let dy = enc::<T>(&input(n, 5).iter().map(|v| v / 8.0).collect::<Vec<_>>());
            let dys = vals::<T>(&dy);
            let (mut y, mut ly) = (vec![T::default(); n], vec![T::default(); n]);
            sm.softmax(&x, &mut y).unwrap();
            sm.log_softmax(&x, &mut ly).unwrap();
            let (mut dx, mut want) = (vec![SENTINEL; n], vec![T::default(); n]);
            let yb = bits(&y);
            // SAFETY: buffers of `n` values.
            assert_eq!(
                unsafe { (c.backward)(yb.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n) },
                OK
            );
            sm.softmax_backward(&y, &dys, &mut want).unwrap();
            assert_eq!(dx, bits(&want), "{ctx} softmax_backward");
            let lyb = bits(&ly);
            // SAFETY: as above.
            assert_eq!(
                unsafe { (c.log_backward)(lyb.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n) },
                OK
            );
            sm.log_softmax_backward(&ly, &dys, &mut want).unwrap();
            assert_eq!(dx, bits(&want), "{ctx} log_softmax_backward");
        }
        for (rows, cols, yst, dst) in LAYOUTS {
            let ctx = format!("{} {rows}x{cols} strides {yst}/{dst}", name::<T>());
            let x = batch::<T>(rows, cols, yst, 4);
            let mut y = vec![SENTINEL; x.len()];
            let mut ly = y.clone();
            // SAFETY: both extents are in the buffers.
            unsafe {
                assert_eq!(
                    (c.rows)(x.as_ptr(), yst, y.as_mut_ptr(), yst, rows, cols, 0),
                    OK
                );
                assert_eq!(
                    (c.log_softmax_rows)(x.as_ptr(), yst, ly.as_mut_ptr(), yst, rows, cols),
                    OK
                );
            }
            let dy = batch::<T>(rows, cols, dst, 9);
            let dxst = dst + 1;
            let blank = vec![SENTINEL; extent(rows, cols, dxst)];
            let (ys, lys, dys) = (vals::<T>(&y), vals::<T>(&ly), vals::<T>(&dy));
            for (f, input, log) in [
                (c.backward_rows, &y, false),
                (c.log_backward_rows, &ly, true),
            ] {
                let (mut dx, mut want) = (blank.clone(), vals::<T>(&blank));
                // SAFETY: the three extents are in the buffers.
                let st = unsafe {
                    f(
                        input.as_ptr(),
                        yst,
                        dy.as_ptr(),
                        dst,
                        dx.as_mut_ptr(),
                        dxst,
                        rows,
                        cols,
                    )
                };
                assert_eq!(st, OK);
                let ins = if log { &lys } else { &ys };
                let r = if log {
                    sm.log_softmax_backward_rows(ins, yst, &dys, dst, &mut want, dxst, rows, cols)
                } else {
                    sm.softmax_backward_rows(ins, yst, &dys, dst, &mut want, dxst, rows, cols)
                };
                r.unwrap();
                assert_eq!(dx, bits(&want), "{ctx} backward rows (log: {log})");
                gaps_untouched(&ctx, &dx, rows, cols, dxst);
            }
        }
    }

    pub fn cross_entropy_matches_the_rust_api<T: Format>() {
        let (c, sm) = (T::C, Softmax::new());
        for n in [1, 7, 300, 5000] {
            let x = enc::<T>(&input(n, 11));
            let xs = vals::<T>(&x);
            for target in [0, n / 2, n - 1] {
                let ctx = format!("{} n={n} target {target}", name::<T>());
                let mut loss = 0.0f32;
                // SAFETY: `n` logits, one loss, no gradient.
                let st =
                    unsafe { (c.cross_entropy)(x.as_ptr(), n, target, &mut loss, ptr::null_mut()) };
                assert_eq!(st, OK);
                assert_eq!(
                    loss.to_bits(),
                    sm.cross_entropy(&xs, target).unwrap().to_bits(),
                    "{ctx}"
                );
                let (mut d, mut want) = (vec![SENTINEL; n], vec![T::default(); n]);
                // SAFETY: as above, and `n` gradient values.
                let st =
                    unsafe { (c.cross_entropy)(x.as_ptr(), n, target, &mut loss, d.as_mut_ptr()) };
                assert_eq!(st, OK);
                let l = sm.cross_entropy_with_grad(&xs, target, &mut want).unwrap();
                assert_eq!(loss.to_bits(), l.to_bits(), "{ctx} with gradient");
                assert_eq!(d, bits(&want), "{ctx} gradient");
                // In place: the gradient over the logits, the loss read first.
                let mut xd = x.clone();
                let p = xd.as_mut_ptr();
                // SAFETY: `n` logits, the gradient over them.
                let st = unsafe { (c.cross_entropy)(p, n, target, &mut loss, p) };
                assert_eq!(st, OK);
                assert_eq!(loss.to_bits(), l.to_bits(), "{ctx} in place");
                assert_eq!(xd, bits(&want), "{ctx} gradient in place");
                // A batch of three such rows in place, with gaps.
                let s = n + 2;
                let mut xx = vec![SENTINEL; 3 * s];
                for r in 0..3 {
                    xx[r * s..][..n].copy_from_slice(&x);
                }
                let mut losses = [0.0f32; 3];
                let p = xx.as_mut_ptr();
                let tg = [target as i64; 3];
                // SAFETY: three rows `s` apart, the gradient over them; three losses.
                let st = unsafe {
                    (c.cross_entropy_rows)(
                        p,
                        s,
                        3,
                        n,
                        tg.as_ptr(),
                        -100,
                        0.0,
                        losses.as_mut_ptr(),
                        p,
                        s,
                    )
                };
                assert_eq!(st, OK);
                for r in 0..3 {
                    assert_eq!(losses[r].to_bits(), l.to_bits(), "{ctx} batch in place");
                    assert_eq!(&xx[r * s..][..n], &bits(&want)[..], "{ctx} batch in place");
                }
                gaps_untouched(&ctx, &xx, 3, n, s);
            }
        }
        let (rows, cols, xst, dst) = (5, 37, 40, 41);
        let x = batch::<T>(rows, cols, xst, 13);
        let xs = vals::<T>(&x);
        let targets = [3i64, -100, 36, 0, 7];
        for eps in [0.0f32, 0.1, 1.0] {
            let ctx = format!("{} cross_entropy_rows eps {eps}", name::<T>());
            let opts = CrossEntropyOptions {
                ignore_index: -100,
                label_smoothing: eps,
            };
            let blank = vec![SENTINEL; extent(rows, cols, dst)];
            let (mut d, mut d_want) = (blank.clone(), vals::<T>(&blank));
            let (mut losses, mut l_want) = (vec![9.0f32; rows], vec![9.0f32; rows]);
            // SAFETY: the extents, `rows` targets and losses.
            let st = unsafe {
                (c.cross_entropy_rows)(
                    x.as_ptr(),
                    xst,
                    rows,
                    cols,
                    targets.as_ptr(),
                    -100,
                    eps,
                    losses.as_mut_ptr(),
                    d.as_mut_ptr(),
                    dst,
                )
            };
            assert_eq!(st, OK);
            sm.cross_entropy_rows(
                &xs,
                xst,
                rows,
                cols,
                &targets,
                opts,
                &mut l_want,
                Some((&mut d_want[..], dst)),
            )
            .unwrap();
            let b = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(b(&losses), b(&l_want), "{ctx} losses");
            assert_eq!(d, bits(&d_want), "{ctx} gradient");
            assert_eq!(losses[1], 0.0);
            assert!(
                d[dst..][..cols].iter().all(|&v| v == 0),
                "{ctx}: ignored row"
            );
            gaps_untouched(&ctx, &d, rows, cols, dst);
            // Losses only.
            let mut l2 = vec![9.0f32; rows];
            // SAFETY: as above, no gradient (its stride unused).
            let st = unsafe {
                (c.cross_entropy_rows)(
                    x.as_ptr(),
                    xst,
                    rows,
                    cols,
                    targets.as_ptr(),
                    -100,
                    eps,
                    l2.as_mut_ptr(),
                    ptr::null_mut(),
                    0,
                )
            };
            assert_eq!(st, OK);
            sm.cross_entropy_rows(&xs, xst, rows, cols, &targets, opts, &mut l_want, None)
                .unwrap();
            assert_eq!(b(&l2), b(&l_want), "{ctx} losses without gradient");
        }
    }

    /// Runs `f(input, output)` out of place (from `x` into a buffer of `SENTINEL`s) and in
    /// place (on a copy of `x`), and asserts the same buffers (the gaps of `x` hold
    /// `SENTINEL`s and stay untouched) and the same other results (losses).
    fn same_in_place(
        ctx: &str,
        x: &[u16],
        f: impl Fn(*const u16, *mut u16) -> (softmax_status, Vec<u32>),
    ) {
        let mut y = vec![SENTINEL; x.len()];
        let (st, out) = f(x.as_ptr(), y.as_mut_ptr());
        assert_eq!(st, OK, "{ctx}");
        let mut xy = x.to_vec();
        let p = xy.as_mut_ptr();
        let (st, out_in_place) = f(p, p);
        assert_eq!(st, OK, "{ctx} in place");
        assert!(xy == y, "{ctx}: in place differs");
        assert_eq!(out, out_in_place, "{ctx}: in place differs");
    }

    pub fn in_place_equals_out_of_place<T: Format>() {
        let c = T::C;
        let plain = |st| (st, vec![]);
        // One row (`SAFETY` of every call here: buffers of `n` values; `p` read and written
        // in place).
        for n in [7, 1003, 5000] {
            let ctx = format!("{} n={n}", name::<T>());
            let x = enc::<T>(&input(n, 17));
            for alg in Algorithm::ALL {
                // SAFETY: see above.
                same_in_place(&ctx, &x, |a, b| {
                    plain(unsafe { (c.softmax_ex)(a, b, n, alg as u32) })
                });
            }
            // SAFETY: see above.
            same_in_place(&ctx, &x, |a, b| plain(unsafe { (c.softmax)(a, b, n) }));
            // SAFETY: see above.
            same_in_place(&ctx, &x, |a, b| plain(unsafe { (c.log_softmax)(a, b, n) }));
            // SAFETY: see above.
            same_in_place(&ctx, &x, |a, b| plain(unsafe { (c.scaled)(a, b, n, 0.7) }));
            // Cross-entropy with the gradient over the logits; the same loss.
            same_in_place(&ctx, &x, |a, b| {
                let mut loss = 0.0f32;
                // SAFETY: see above; one loss.
                let st = unsafe { (c.cross_entropy)(a, n, n - 1, &mut loss, b) };
                (st, vec![loss.to_bits()])
            });

            // Backward: `dx` over `dy`, over `y`, and over both when they are one row.
            let y = vals::<T>(&x);
            let mut sy = vec![T::default(); n];
            Softmax::new().softmax(&y, &mut sy).unwrap();
            let sy = bits(&sy);
            let dy = enc::<T>(&input(n, 19));
            let grads: [(Grad, &str); 2] =
                [(c.backward, "backward"), (c.log_backward, "log_backward")];
            for (f, what) in grads {
                let ctx = format!("{ctx} {what}");
                // SAFETY: see above.
                same_in_place(&ctx, &dy, |d, dx| {
                    plain(unsafe { f(sy.as_ptr(), d, dx, n) })
                });
                // SAFETY: see above.
                same_in_place(&ctx, &sy, |y, dx| {
                    plain(unsafe { f(y, dy.as_ptr(), dx, n) })
                });
                // SAFETY: see above; `y` and `dy` are one row.
                same_in_place(&ctx, &sy, |y, dx| plain(unsafe { f(y, y, dx, n) }));
            }
        }

        // Batches with gaps (`SAFETY` of every call here: the extents are in the buffers).
        for (rows, cols, st, _) in LAYOUTS {
            let ctx = format!("{} {rows}x{cols} stride {st}", name::<T>());
            let x = batch::<T>(rows, cols, st, 23);
            let r = |f: &dyn Fn(*const u16, *mut u16) -> softmax_status| {
                same_in_place(&ctx, &x, |a, b| plain(f(a, b)))
            };
            // SAFETY: see above.
            r(&|a, b| unsafe { (c.rows)(a, st, b, st, rows, cols, 3) });
            let m = SOFTMAX_FLAG_ZERO_MASKED_ROWS;
            // SAFETY: see above.
            r(&|a, b| unsafe { (c.rows_ex)(a, st, b, st, rows, cols, 0, m) });
            // SAFETY: see above.
            r(&|a, b| unsafe { (c.log_softmax_rows)(a, st, b, st, rows, cols) });
            // SAFETY: see above.
            r(&|a, b| unsafe { (c.scaled_rows)(a, st, b, st, rows, cols, 1.5, 0) });
            let dy = batch::<T>(rows, cols, st, 29);
            for f in [c.backward_rows, c.log_backward_rows] {
                // `dx` over `dy`, then over `y`.
                let dyp = dy.as_ptr();
                // SAFETY: see above.
                same_in_place(&ctx, &dy, |d, dx| {
                    plain(unsafe { f(x.as_ptr(), st, d, st, dx, st, rows, cols) })
                });
                // SAFETY: see above.
                r(&|y, dx| unsafe { f(y, st, dyp, st, dx, st, rows, cols) });
            }
            let targets: Vec<i64> = (0..rows as i64)
                .map(|r| if r == 1 { -1 } else { r % cols as i64 })
                .collect();
            same_in_place(&ctx, &x, |a, b| {
                let mut l = vec![0.0f32; rows];
                let ce = c.cross_entropy_rows;
                // SAFETY: see above; `rows` targets and losses.
                let s = unsafe {
                    ce(
                        a,
                        st,
                        rows,
                        cols,
                        targets.as_ptr(),
                        -1,
                        0.25,
                        l.as_mut_ptr(),
                        b,
                        st,
                    )
                };
                (s, l.iter().map(|v| v.to_bits()).collect())
            });
        }
    }

    pub fn empty_rows_and_batches<T: Format>() {
        let c = T::C;
        let (nc, nm) = (ptr::null::<u16>(), ptr::null_mut::<u16>());
        let mut lse = 1.0f32;
        let mut out = [1.0f32; 3];
        // SAFETY: nothing is touched, except `lse` and `out`.
        unsafe {
            assert_eq!((c.softmax)(nc, nm, 0), OK);
            assert_eq!((c.softmax_ex)(nc, nm, 0, 4), OK);
            assert_eq!((c.log_softmax)(nc, nm, 0), OK);
            assert_eq!((c.scaled)(nc, nm, 0, 3.0), OK);
            assert_eq!((c.logsumexp)(nc, 0, &mut lse), OK);
            assert_eq!(lse, f32::NEG_INFINITY);
            for (rows, cols) in [(0, 5), (3, 0), (0, 0)] {
                assert_eq!((c.rows)(nc, cols, nm, cols, rows, cols, 0), OK);
                assert_eq!((c.rows_ex)(nc, cols, nm, cols, rows, cols, 0, 1), OK);
                assert_eq!((c.log_softmax_rows)(nc, cols, nm, cols, rows, cols), OK);
                assert_eq!((c.scaled_rows)(nc, cols, nm, cols, rows, cols, 1.0, 0), OK);
                assert_eq!(
                    (c.backward_rows)(nc, cols, nc, cols, nm, cols, rows, cols),
                    OK
                );
                assert_eq!(
                    (c.log_backward_rows)(nc, cols, nc, cols, nm, cols, rows, cols),
                    OK
                );
            }
            assert_eq!((c.logsumexp_rows)(nc, 0, ptr::null_mut(), 0, 5), OK);
            assert_eq!((c.logsumexp_rows)(nc, 0, out.as_mut_ptr(), 2, 0), OK);
            assert_eq!(out, [f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0]);
            assert_eq!((c.backward)(nc, nc, nm, 0), OK);
            assert_eq!((c.log_backward)(nc, nc, nm, 0), OK);
            // Cross-entropy needs a class.
            assert_eq!((c.cross_entropy)(nc, 0, 0, &mut lse, nm), INVALID);
            let ce = c.cross_entropy_rows;
            assert_eq!(
                ce(nc, 0, 0, 4, ptr::null(), -100, 0.0, ptr::null_mut(), nm, 0),
                OK
            );
            assert_eq!(
                ce(nc, 0, 2, 0, ptr::null(), -100, 0.0, ptr::null_mut(), nm, 0),
                INVALID
            );
        }
    }

    pub fn masked_rows<T: Format>() {
        let c = T::C;
        let (rows, cols) = (3, 6);
        let mut x = enc::<T>(&input(rows * cols, 31));
        let ninf = T::from_f32(f32::NEG_INFINITY).bits();
        x[cols..2 * cols].fill(ninf);
        let mut y = vec![SENTINEL; rows * cols];
        // SAFETY: buffers of `rows * cols` values.
        unsafe {
            let f = SOFTMAX_FLAG_ZERO_MASKED_ROWS;
            assert_eq!(
                (c.rows_ex)(x.as_ptr(), cols, y.as_mut_ptr(), cols, rows, cols, 0, f),
                OK
            );
        }
        assert!(
            y[cols..2 * cols].iter().all(|&v| v == 0),
            "{}: masked row",
            name::<T>()
        );
        let w = widen::<T>(&y);
        let sum: f32 = w[..cols].iter().sum();
        assert!(
            (sum - 1.0).abs() < 0.02,
            "{}: row 0 sums to {sum}",
            name::<T>()
        );
        // Its gradient is zero.
        let dy = enc::<T>(&input(rows * cols, 37));
        let mut dx = vec![SENTINEL; rows * cols];
        // SAFETY: as above.
        unsafe {
            let st = (c.backward_rows)(
                y.as_ptr(),
                cols,
                dy.as_ptr(),
                cols,
                dx.as_mut_ptr(),
                cols,
                rows,
                cols,
            );
            assert_eq!(st, OK);
        }
        assert!(dx[cols..2 * cols].iter().all(|&v| v & 0x7fff == 0));
        // Without the flag (and in the one-row functions): NaN.
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                (c.rows_ex)(x.as_ptr(), cols, y.as_mut_ptr(), cols, rows, cols, 0, 0),
                OK
            );
            assert!(widen::<T>(&y)[cols..2 * cols].iter().all(|v| v.is_nan()));
            assert_eq!((c.softmax)(x[cols..].as_ptr(), y.as_mut_ptr(), cols), OK);
            assert!(widen::<T>(&y)[..cols].iter().all(|v| v.is_nan()));
            let mut lse = 0.0;
            assert_eq!((c.logsumexp)(x[cols..].as_ptr(), cols, &mut lse), OK);
            assert_eq!(lse, f32::NEG_INFINITY);
        }
    }

    pub fn null_pointers<T: Format>() {
        let c = T::C;
        let n = 8;
        let x = enc::<T>(&input(n, 41));
        let mut y = vec![SENTINEL; n];
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let (nc, nm) = (ptr::null::<u16>(), ptr::null_mut::<u16>());
        let mut lse = 5.0f32;
        let mut out = [5.0f32; 2];
        let t = [1i64, 2];
        // SAFETY: NULL or valid buffers of `n` values (two rows of 4).
        unsafe {
            assert_eq!((c.softmax)(nc, yp, n), NULL);
            assert_eq!((c.softmax)(xp, nm, n), NULL);
            assert_eq!((c.softmax_ex)(nc, yp, n, 0), NULL);
            assert_eq!((c.log_softmax)(xp, nm, n), NULL);
            assert_eq!((c.scaled)(nc, yp, n, 1.0), NULL);
            assert_eq!((c.logsumexp)(nc, n, &mut lse), NULL);
            assert_eq!((c.logsumexp)(xp, n, ptr::null_mut()), NULL);
            assert_eq!((c.logsumexp)(nc, 0, ptr::null_mut()), NULL);
            assert_eq!((c.rows)(nc, 4, yp, 4, 2, 4, 0), NULL);
            assert_eq!((c.rows_ex)(xp, 4, nm, 4, 2, 4, 0, 1), NULL);
            assert_eq!((c.log_softmax_rows)(nc, 4, yp, 4, 2, 4), NULL);
            assert_eq!((c.scaled_rows)(xp, 4, nm, 4, 2, 4, 1.0, 0), NULL);
            assert_eq!((c.logsumexp_rows)(nc, 4, out.as_mut_ptr(), 2, 4), NULL);
            assert_eq!((c.logsumexp_rows)(xp, 4, ptr::null_mut(), 2, 4), NULL);
            assert_eq!((c.backward)(nc, xp, yp, n), NULL);
            assert_eq!((c.backward)(xp, nc, yp, n), NULL);
            assert_eq!((c.log_backward)(xp, xp, nm, n), NULL);
            assert_eq!((c.backward_rows)(xp, 4, nc, 4, yp, 4, 2, 4), NULL);
            assert_eq!((c.log_backward_rows)(nc, 4, xp, 4, yp, 4, 2, 4), NULL);
            assert_eq!((c.cross_entropy)(nc, n, 0, &mut lse, yp), NULL);
            assert_eq!((c.cross_entropy)(xp, n, 0, ptr::null_mut(), yp), NULL);
            let ce = c.cross_entropy_rows;
            let lp = out.as_mut_ptr();
            assert_eq!(ce(nc, 4, 2, 4, t.as_ptr(), -1, 0.0, lp, yp, 4), NULL);
            assert_eq!(ce(xp, 4, 2, 4, ptr::null(), -1, 0.0, lp, yp, 4), NULL);
            assert_eq!(
                ce(xp, 4, 2, 4, t.as_ptr(), -1, 0.0, ptr::null_mut(), yp, 4),
                NULL
            );
        }
        assert!(
            y.iter().all(|&v| v == SENTINEL),
            "{}: written on error",
            name::<T>()
        );
        assert_eq!((lse, out), (5.0, [5.0; 2]));
        // `dlogits` is optional.
        // SAFETY: as above.
        assert_eq!(unsafe { (c.cross_entropy)(xp, n, 0, &mut lse, nm) }, OK);
    }

    pub fn misaligned_pointers<T: Format>() {
        let c = T::C;
        let n = 8;
        let x = enc::<T>(&input(n + 1, 43));
        let mut xb = x.clone();
        let mut y = vec![SENTINEL; n + 1];
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let (ox, oy) = (odd(&mut xb).cast_const(), odd(&mut y));
        let mut lse = 5.0f32;
        let mut l = [5.0f32; 3];
        let t = [1i64, 2];
        // SAFETY: the checks fail before any access.
        unsafe {
            assert_eq!((c.softmax)(ox, yp, n), INVALID);
            assert_eq!((c.softmax)(xp, oy, n), INVALID);
            assert_eq!((c.softmax_ex)(ox, yp, n, 1), INVALID);
            assert_eq!((c.log_softmax)(xp, oy, n), INVALID);
            assert_eq!((c.scaled)(ox, yp, n, 1.0), INVALID);
            assert_eq!((c.logsumexp)(ox, n, &mut lse), INVALID);
            // The result is a float: 4 bytes.
            let half_float = l.as_mut_ptr().cast::<u16>().wrapping_add(1).cast::<f32>();
            assert_eq!((c.logsumexp)(xp, n, half_float), INVALID);
            assert_eq!((c.rows)(ox, 4, yp, 4, 2, 4, 0), INVALID);
            assert_eq!((c.rows_ex)(xp, 4, oy, 4, 2, 4, 0, 0), INVALID);
            assert_eq!((c.log_softmax_rows)(ox, 4, yp, 4, 2, 4), INVALID);
            assert_eq!((c.scaled_rows)(xp, 4, oy, 4, 2, 4, 1.0, 0), INVALID);
            assert_eq!((c.logsumexp_rows)(ox, 4, l.as_mut_ptr(), 2, 4), INVALID);
            assert_eq!((c.logsumexp_rows)(xp, 4, half_float, 2, 4), INVALID);
            assert_eq!((c.backward)(ox, xp, yp, n), INVALID);
            assert_eq!((c.backward)(xp, ox, yp, n), INVALID);
            assert_eq!((c.log_backward)(xp, xp, oy, n), INVALID);
            assert_eq!((c.backward_rows)(xp, 4, ox, 4, yp, 4, 2, 4), INVALID);
            assert_eq!((c.log_backward_rows)(xp, 4, xp, 4, oy, 4, 2, 4), INVALID);
            assert_eq!(
                (c.cross_entropy)(ox, n, 0, &mut lse, ptr::null_mut()),
                INVALID
            );
            assert_eq!((c.cross_entropy)(xp, n, 0, &mut lse, oy), INVALID);
            assert_eq!((c.cross_entropy)(xp, n, 0, half_float, yp), INVALID);
            let ce = c.cross_entropy_rows;
            let lp = l.as_mut_ptr();
            assert_eq!(ce(ox, 4, 2, 4, t.as_ptr(), -1, 0.0, lp, yp, 4), INVALID);
            assert_eq!(ce(xp, 4, 2, 4, t.as_ptr(), -1, 0.0, lp, oy, 4), INVALID);
            assert_eq!(
                ce(xp, 4, 2, 4, t.as_ptr(), -1, 0.0, half_float, yp, 4),
                INVALID
            );
            let t4 = t.as_ptr().cast::<u32>().wrapping_add(1).cast::<i64>();
            assert_eq!(ce(xp, 4, 2, 4, t4, -1, 0.0, lp, yp, 4), INVALID);
        }
        assert!(
            y.iter().all(|&v| v == SENTINEL),
            "{}: written on error",
            name::<T>()
        );
        assert_eq!((lse, l), (5.0, [5.0; 3]));
        // Two bytes are enough: rows that start at an address no float could have.
        let (x2, y2) = (xp.wrapping_add(1), yp.wrapping_add(1));
        // SAFETY: `n` values from the second element of buffers of `n + 1`.
        unsafe {
            assert_eq!((c.softmax)(x2, y2, n), OK);
            assert_eq!((c.rows)(x2, 4, y2, 4, 2, 4, 0), OK);
            assert_eq!((c.backward)(x2, x2, y2, n), OK);
            assert_eq!((c.cross_entropy)(x2, n, 0, &mut lse, y2), OK);
        }
    }

    pub fn overlaps<T: Format>() {
        let c = T::C;
        let mut buf = enc::<T>(&input(64, 47));
        let before = buf.clone();
        let p = buf.as_mut_ptr();
        // The float results placed in `buf` below need it 4-byte aligned (malloc gives 16).
        assert_eq!(p as usize % 4, 0);
        let q = |i: usize| p.wrapping_add(i);
        let mut l = [5.0f32; 2];
        let t = [1i64, 2];
        // SAFETY: the checks fail before any access.
        unsafe {
            assert_eq!((c.softmax)(p, q(1), 8), INVALID);
            assert_eq!((c.softmax_ex)(q(7), p, 8, 0), INVALID);
            assert_eq!((c.log_softmax)(p, q(4), 8), INVALID);
            assert_eq!((c.scaled)(p, q(1), 8, 0.5), INVALID);
            // Same base, another stride; interleaved rows.
            assert_eq!((c.rows)(p, 8, p, 4, 2, 4, 0), INVALID);
            assert_eq!((c.rows_ex)(p, 8, q(4), 8, 2, 4, 0, 0), INVALID);
            assert_eq!((c.log_softmax_rows)(p, 8, q(11), 8, 2, 4), INVALID);
            assert_eq!((c.scaled_rows)(p, 4, q(2), 4, 2, 4, 1.0, 0), INVALID);
            // `out` (floats) over the batch.
            assert_eq!((c.logsumexp_rows)(p, 4, q(6).cast(), 2, 4), INVALID);
            // `dx` partly over `y` or `dy`, or in place of one while overlapping the other.
            assert_eq!((c.backward)(p, q(16), q(2), 8), INVALID);
            assert_eq!((c.backward)(p, q(16), q(20), 8), INVALID);
            assert_eq!((c.log_backward)(p, q(4), p, 8), INVALID);
            assert_eq!((c.backward_rows)(p, 4, q(16), 4, p, 8, 2, 4), INVALID);
            assert_eq!(
                (c.log_backward_rows)(p, 4, q(16), 4, q(18), 4, 2, 4),
                INVALID
            );
            // Cross-entropy: `dlogits` partly over the logits; `loss` inside `dlogits`.
            assert_eq!((c.cross_entropy)(p, 8, 0, l.as_mut_ptr(), q(1)), INVALID);
            assert_eq!((c.cross_entropy)(p, 8, 0, q(18).cast(), q(16)), INVALID);
            let ce = c.cross_entropy_rows;
            let tp = t.as_ptr();
            assert_eq!(
                ce(p, 4, 2, 4, tp, -1, 0.0, l.as_mut_ptr(), q(2), 4),
                INVALID
            );
            assert_eq!(ce(p, 4, 2, 4, tp, -1, 0.0, l.as_mut_ptr(), p, 8), INVALID);
            assert_eq!(ce(p, 4, 2, 4, tp, -1, 0.0, q(6).cast(), q(16), 4), INVALID);
            assert_eq!(ce(p, 4, 2, 4, tp, -1, 0.0, q(20).cast(), q(16), 4), INVALID);
        }
        assert!(buf == before, "{}: written on error", name::<T>());
        assert_eq!(l, [5.0; 2]);
        // Allowed: the log-sum-exp result and the loss inside the input (written last).
        // SAFETY: valid buffers; `q(0)` holds two 16-bit values for one float result.
        unsafe {
            assert_eq!((c.logsumexp)(p, 8, p.cast()), OK);
            assert_eq!(
                (c.cross_entropy)(q(16), 8, 0, q(16).cast(), ptr::null_mut()),
                OK
            );
            assert_eq!((c.cross_entropy)(q(32), 8, 0, q(32).cast(), q(48)), OK);
        }
    }

    pub fn strides_and_sizes<T: Format>() {
        let c = T::C;
        let mut buf = vec![SENTINEL; 64];
        let p = buf.as_mut_ptr();
        let half_max = isize::MAX as usize / 2;
        let mut l = [5.0f32; 2];
        let t = [0i64, 0];
        // SAFETY: the checks fail before any access.
        unsafe {
            for f in [c.softmax, c.log_softmax] {
                // `n * 2` above PTRDIFF_MAX.
                assert_eq!(f(p, p.wrapping_add(8), half_max + 1), INVALID);
            }
            assert_eq!((c.logsumexp)(p, half_max + 1, l.as_mut_ptr()), INVALID);
            assert_eq!((c.backward)(p, p, p.wrapping_add(8), half_max + 1), INVALID);
            // Strides below `cols`, even with NULL pointers; an extent that overflows.
            let nm = ptr::null_mut::<u16>();
            assert_eq!((c.rows)(nm, 3, nm, 4, 2, 4, 0), INVALID);
            assert_eq!(
                (c.rows_ex)(p, 4, p.wrapping_add(16), 3, 2, 4, 0, 0),
                INVALID
            );
            assert_eq!((c.log_softmax_rows)(p, 4, p, 4, 2, 5), INVALID);
            assert_eq!(
                (c.scaled_rows)(p, usize::MAX, p, usize::MAX, 2, 1, 1.0, 0),
                INVALID
            );
            assert_eq!((c.logsumexp_rows)(p, 3, l.as_mut_ptr(), 2, 4), INVALID);
            assert_eq!((c.backward_rows)(p, 4, p, 4, p, 3, 2, 4), INVALID);
            assert_eq!(
                (c.log_backward_rows)(p, half_max, p, half_max, p, half_max, 3, 1),
                INVALID
            );
            let ce = c.cross_entropy_rows;
            assert_eq!(
                ce(p, 3, 2, 4, t.as_ptr(), -1, 0.0, l.as_mut_ptr(), nm, 0),
                INVALID
            );
            assert_eq!(
                ce(
                    p,
                    4,
                    2,
                    4,
                    t.as_ptr(),
                    -1,
                    0.0,
                    l.as_mut_ptr(),
                    p.wrapping_add(32),
                    3
                ),
                INVALID
            );
            // Just within PTRDIFF_MAX: a single row of stride `half_max`.
            let mut out = 0.0f32;
            assert_eq!((c.logsumexp_rows)(p, half_max, &mut out, 1, 4), OK);
        }
        assert!(
            buf.iter().all(|&v| v == SENTINEL),
            "{}: written on error",
            name::<T>()
        );
        assert_eq!(l, [5.0; 2]);
    }

    pub fn scalar_arguments<T: Format>() {
        let c = T::C;
        let x = enc::<T>(&input(8, 53));
        let mut y = vec![SENTINEL; 8];
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let (nc, nm) = (ptr::null::<u16>(), ptr::null_mut::<u16>());
        let mut l = [5.0f32; 2];
        let lp = l.as_mut_ptr();
        // SAFETY: the checks fail before any access (or nothing is touched).
        unsafe {
            for alg in [5, 99, u32::MAX] {
                assert_eq!((c.softmax_ex)(xp, yp, 8, alg), INVALID);
                assert_eq!((c.softmax_ex)(nc, nm, 0, alg), INVALID);
                assert_eq!((c.rows)(xp, 4, yp, 4, 2, 4, alg), INVALID);
                assert_eq!((c.rows_ex)(nc, 0, nm, 0, 0, 0, alg, 0), INVALID);
                assert_eq!((c.scaled_rows)(xp, 4, yp, 4, 2, 4, 1.0, alg), INVALID);
            }
            for flags in [2, 3, u32::MAX] {
                assert_eq!((c.rows_ex)(xp, 4, yp, 4, 2, 4, 0, flags), INVALID);
                assert_eq!((c.rows_ex)(nc, 0, nm, 0, 0, 4, 0, flags), INVALID);
            }
            for scale in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
                assert_eq!((c.scaled)(xp, yp, 8, scale), INVALID);
                assert_eq!((c.scaled)(nc, nm, 0, scale), INVALID);
                assert_eq!((c.scaled_rows)(xp, 4, yp, 4, 2, 4, scale, 0), INVALID);
            }
            // Cross-entropy: a target out of range; smoothing outside [0, 1]; a batch target
            // neither ignored nor a class (every target is read before anything is written).
            assert_eq!((c.cross_entropy)(xp, 8, 8, lp, yp), INVALID);
            assert_eq!((c.cross_entropy)(nc, 8, usize::MAX, lp, nm), INVALID);
            let ce = c.cross_entropy_rows;
            let t = [1i64, 2];
            for eps in [-0.1, 1.5, f32::NAN, f32::INFINITY] {
                assert_eq!(ce(xp, 4, 2, 4, t.as_ptr(), -1, eps, lp, yp, 4), INVALID);
                assert_eq!(
                    ce(nc, 0, 0, 4, ptr::null(), -1, eps, ptr::null_mut(), nm, 0),
                    INVALID
                );
            }
            for bad in [[1i64, 4], [-2, 0], [0, i64::MAX], [i64::MIN, 1]] {
                assert_eq!(ce(xp, 4, 2, 4, bad.as_ptr(), -1, 0.1, lp, yp, 4), INVALID);
            }
        }
        assert!(
            y.iter().all(|&v| v == SENTINEL),
            "{}: written on error",
            name::<T>()
        );
        assert_eq!(l, [5.0; 2]);
        // Any value can be the ignored one.
        // SAFETY: two rows of 4 logits and of gradient, two targets and losses.
        let st =
            unsafe { (c.cross_entropy_rows)(xp, 4, 2, 4, [7i64, 7].as_ptr(), 7, 0.1, lp, yp, 4) };
        assert_eq!(st, OK);
        assert_eq!(l, [0.0; 2]);
        assert!(
            y.iter().all(|&v| v == 0),
            "{}: ignored rows are zero",
            name::<T>()
        );
    }

    pub fn threads_give_the_same_bits<T: Format>() {
        let c = T::C;
        let (rows, cols) = (80, 2048); // 163840 elements: split over threads
        let x = batch::<T>(rows, cols, cols, 59);
        let dy = batch::<T>(rows, cols, cols, 61);
        let targets: Vec<i64> = (0..rows as i64).map(|r| (r * 37) % cols as i64).collect();
        let run = || {
            let mut y = vec![0u16; x.len()];
            let mut dx = vec![0u16; x.len()];
            let mut d = vec![0u16; x.len()];
            let mut l = vec![0.0f32; rows];
            // SAFETY: buffers of `rows * cols` values, `rows` targets and losses.
            unsafe {
                assert_eq!(
                    (c.rows)(x.as_ptr(), cols, y.as_mut_ptr(), cols, rows, cols, 0),
                    OK
                );
                let st = (c.backward_rows)(
                    y.as_ptr(),
                    cols,
                    dy.as_ptr(),
                    cols,
                    dx.as_mut_ptr(),
                    cols,
                    rows,
                    cols,
                );
                assert_eq!(st, OK);
                let st = (c.cross_entropy_rows)(
                    x.as_ptr(),
                    cols,
                    rows,
                    cols,
                    targets.as_ptr(),
                    -100,
                    0.1,
                    l.as_mut_ptr(),
                    d.as_mut_ptr(),
                    cols,
                );
                assert_eq!(st, OK);
            }
            (y, dx, d, l.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        };
        let initial = softmax_get_num_threads();
        softmax_set_num_threads(1);
        let one = run();
        softmax_set_num_threads(3);
        let three = run();
        softmax_set_num_threads(initial);
        assert!(one == three, "{}: threads changed the bits", name::<T>());
        // And the Rust API on the same rows.
        let sm = Softmax::new();
        let mut want = vec![T::default(); x.len()];
        sm.softmax_rows(
            &vals::<T>(&x),
            cols,
            &mut want,
            cols,
            rows,
            cols,
            Algorithm::Auto,
        )
        .unwrap();
        assert!(one.0 == bits(&want));
    }
}
