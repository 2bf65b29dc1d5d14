//! Batches of rows on every ISA this CPU runs: `softmax_rows`, `log_softmax_rows`,
//! `logsumexp_rows` (Rust and C), for every row length from 1 to 300 (short rows go through
//! the grouped register-held kernels, medium ones two at a time, longer ones through the
//! one-row algorithms; also lengths up to 513), with
//! strides, in place, and with special-value rows mixed among ordinary ones. Each batch row
//! must be bit for bit what the one-row call gives, within the documented bounds of the f64
//! oracle, and the gaps between rows must stay untouched.

mod common;

use common::*;
use rand::Rng;
use softmax::{Algorithm, Softmax};

/// A batch of `rows` rows of `cols` values, `stride` apart, the gaps filled with
/// [`SENTINEL`]; every fourth row (from row 1) is a special row of a kind that depends on
/// the row.
fn batch(rng: &mut rand::rngs::StdRng, rows: usize, cols: usize, stride: usize) -> Vec<f32> {
    let mut x = vec![SENTINEL; (rows - 1) * stride + cols];
    for r in 0..rows {
        let row = &mut x[r * stride..][..cols];
        let (lo, hi) = RANGES[r % RANGES.len()];
        row.copy_from_slice(&uniform(rng, cols, lo, hi));
        if r % 4 == 1 {
            let at = rng.random_range(0..cols);
            match (r / 4) % 7 {
                0 => row[at] = f32::NAN,
                1 => row[at] = f32::INFINITY,
                2 => row.fill(f32::NEG_INFINITY),
                3 => row[at] = 3.0e5, // beyond the fast path's magnitude: shifted first
                4 => row.iter_mut().for_each(|v| *v -= 2.0e5),
                5 => row[at] = f32::NEG_INFINITY,
                _ => row.fill(1.5), // a constant row
            }
        }
    }
    x
}

/// The special rows of [`batch`] put the row on the one-row special path; everything else
/// follows the oracle.
fn finite_row(x: &[f32]) -> bool {
    x.iter().all(|v| v.is_finite())
}

#[test]
fn softmax_rows_match_single_rows_for_every_length() {
    let mut rng = rng(101);
    for_each_isa(
        "softmax_rows_match_single_rows_for_every_length",
        |isa, sm| {
            // Past 300: the medium rows of AVX-512 (up to 512) and the first length beyond.
            for cols in (1..=300).chain([384, 449, 511, 512, 513]) {
                let rows = 11; // a group of eight, and the rest one by one
                let (xs, ys) = (cols + cols % 3, cols + 2);
                let x = batch(&mut rng, rows, cols, xs);
                for alg in Algorithm::ALL {
                    let ctx = format!("{isa:?} {} cols={cols}", alg.name());
                    let mut y = vec![SENTINEL; (rows - 1) * ys + cols];
                    sm.softmax_rows(&x, xs, &mut y, ys, rows, cols, alg)
                        .unwrap();
                    let mut z = x.clone();
                    sm.softmax_rows_in_place(&mut z, xs, rows, cols, alg)
                        .unwrap();
                    for r in 0..rows {
                        let xr = &x[r * xs..][..cols];
                        let mut one = vec![0.0f32; cols];
                        sm.softmax_with(xr, &mut one, alg).unwrap();
                        let c = format!("{ctx} row {r}");
                        assert_same_bits(&c, &y[r * ys..][..cols], &one);
                        assert_same_bits(&format!("{c} in place"), &z[r * xs..][..cols], &one);
                        if alg == Algorithm::Auto {
                            check_softmax(&c, xr, &one, &oracle_softmax(xr));
                        }
                        if r + 1 < rows {
                            assert_sentinels(&c, &y[r * ys..(r + 1) * ys], 0, cols);
                            assert_sentinels(&c, &z[r * xs..(r + 1) * xs], 0, cols);
                        }
                    }
                }
            }
        },
    );
}

#[test]
fn log_softmax_and_logsumexp_rows_match_single_rows_for_every_length() {
    let mut rng = rng(102);
    for_each_isa("log_softmax_and_logsumexp_rows", |isa, sm| {
        // Past 300: the medium rows of AVX-512 (up to 512) and the first length beyond them.
        for cols in (1..=300).chain([384, 449, 511, 512, 513]) {
            let rows = 19; // two groups of eight, and the rest one by one
            let (xs, ys) = (cols + (cols * 7) % 5, cols + 1);
            let x = batch(&mut rng, rows, cols, xs);
            let ctx = format!("{isa:?} cols={cols}");
            let mut y = vec![SENTINEL; (rows - 1) * ys + cols];
            sm.log_softmax_rows(&x, xs, &mut y, ys, rows, cols).unwrap();
            let mut z = x.clone();
            sm.log_softmax_rows_in_place(&mut z, xs, rows, cols)
                .unwrap();
            let mut lse = vec![SENTINEL; rows + 2];
            sm.logsumexp_rows(&x, xs, rows, cols, &mut lse).unwrap();
            assert_sentinels(&format!("{ctx} lse"), &lse, 0, rows);
            for r in 0..rows {
                let xr = &x[r * xs..][..cols];
                let c = format!("{ctx} row {r}");
                let mut one = vec![0.0f32; cols];
                sm.log_softmax(xr, &mut one).unwrap();
                assert_same_bits(&c, &y[r * ys..][..cols], &one);
                assert_same_bits(&format!("{c} in place"), &z[r * xs..][..cols], &one);
                assert_same_bits(&format!("{c} lse"), &lse[r..r + 1], &[sm.logsumexp(xr)]);
                check_log_softmax(&c, xr, &one, &oracle_log_softmax(xr));
                check_logsumexp(&c, xr, lse[r], oracle_logsumexp(xr));
                if r + 1 < rows {
                    assert_sentinels(&c, &y[r * ys..(r + 1) * ys], 0, cols);
                }
            }
        }
    });
}

#[test]
fn short_rows_agree_with_the_scalar_kernels() {
    // Every short width of every ISA, many rows: the grouped kernels against the portable
    // ones (within the cross-ISA bounds) and the oracle.
    let mut rng = rng(103);
    let scalar = scalar();
    for_each_isa("short_rows_agree_with_the_scalar_kernels", |isa, sm| {
        for cols in [
            2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
        ] {
            let rows = 37;
            let mut x = vec![0.0f32; rows * cols];
            for r in 0..rows {
                let (lo, hi) = RANGES[r % RANGES.len()];
                x[r * cols..][..cols].copy_from_slice(&uniform(&mut rng, cols, lo, hi));
            }
            let ctx = format!("{isa:?} cols={cols}");
            let (mut y, mut y_s) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            sm.softmax_rows(&x, cols, &mut y, cols, rows, cols, Algorithm::Auto)
                .unwrap();
            scalar
                .softmax_rows(&x, cols, &mut y_s, cols, rows, cols, Algorithm::Auto)
                .unwrap();
            assert_close_to_scalar(&ctx, &y, &y_s, false);
            sm.log_softmax_rows(&x, cols, &mut y, cols, rows, cols)
                .unwrap();
            scalar
                .log_softmax_rows(&x, cols, &mut y_s, cols, rows, cols)
                .unwrap();
            assert_close_to_scalar(&ctx, &y, &y_s, true);
            let (mut l, mut l_s) = (vec![0.0f32; rows], vec![0.0f32; rows]);
            sm.logsumexp_rows(&x, cols, rows, cols, &mut l).unwrap();
            scalar
                .logsumexp_rows(&x, cols, rows, cols, &mut l_s)
                .unwrap();
            assert_close_to_scalar(&ctx, &l, &l_s, true);
            for r in 0..rows {
                let xr = &x[r * cols..][..cols];
                assert!(finite_row(xr));
                check_logsumexp(&ctx, xr, l[r], oracle_logsumexp(xr));
            }
        }
    });
}

#[test]
fn logsumexp_rows_edge_cases() {
    let sm = Softmax::new();
    // No rows: nothing written, any stride.
    let mut out = [SENTINEL; 2];
    sm.logsumexp_rows::<f32>(&[], 0, 0, 5, &mut out).unwrap();
    assert_sentinels("no rows", &out, 0, 0);
    // Empty rows: -inf each.
    sm.logsumexp_rows::<f32>(&[], 0, 2, 0, &mut out).unwrap();
    assert_eq!(out, [f32::NEG_INFINITY; 2]);
    // One column: the value itself.
    sm.logsumexp_rows(&[3.0, 9.0, -2.0], 2, 2, 1, &mut out)
        .unwrap();
    assert_eq!(out, [3.0, -2.0]);
    // Errors: stride below cols, input too short, output too short.
    assert!(sm.logsumexp_rows(&[0.0; 8], 3, 2, 4, &mut out).is_err());
    assert!(sm.logsumexp_rows(&[0.0; 7], 4, 2, 4, &mut out).is_err());
    assert!(sm
        .logsumexp_rows(&[0.0; 8], 4, 2, 4, &mut out[..1])
        .is_err());
    assert!(sm
        .logsumexp_rows(&[0.0; 8], usize::MAX, 2, 4, &mut out)
        .is_err());
}

#[test]
fn logsumexp_rows_through_the_c_abi() {
    use softmax::ffi::*;
    let x: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
    let (rows, cols, stride) = (4usize, 9usize, 10usize);
    let mut out = [SENTINEL; 5];
    // SAFETY (whole block): every pointer is valid for the extents passed, or NULL where the
    // call must not touch it.
    unsafe {
        let st = softmax_logsumexp_rows_f32(x.as_ptr(), stride, out.as_mut_ptr(), rows, cols);
        assert_eq!(st, SOFTMAX_STATUS_OK);
        for r in 0..rows {
            let want = softmax::logsumexp(&x[r * stride..][..cols]);
            assert_eq!(out[r].to_bits(), want.to_bits(), "row {r}");
        }
        assert_eq!(out[4].to_bits(), SENTINEL.to_bits());
        // Nothing touched: NULL is fine.
        let null = std::ptr::null_mut();
        assert_eq!(
            softmax_logsumexp_rows_f32(std::ptr::null(), 0, null, 0, 9),
            0
        );
        // Empty rows need the output only.
        let mut two = [0.0f32; 2];
        let st = softmax_logsumexp_rows_f32(std::ptr::null(), 0, two.as_mut_ptr(), 2, 0);
        assert_eq!((st, two), (SOFTMAX_STATUS_OK, [f32::NEG_INFINITY; 2]));
        // Bad arguments write nothing.
        let mut o = [SENTINEL; 4];
        let p = o.as_mut_ptr();
        let bad = [
            (
                softmax_logsumexp_rows_f32(x.as_ptr(), 8, p, 4, 9),
                SOFTMAX_STATUS_INVALID_ARGUMENT,
            ),
            (
                softmax_logsumexp_rows_f32(std::ptr::null(), 10, p, 4, 9),
                SOFTMAX_STATUS_NULL_POINTER,
            ),
            (
                softmax_logsumexp_rows_f32(x.as_ptr(), 10, null, 4, 9),
                SOFTMAX_STATUS_NULL_POINTER,
            ),
            (
                softmax_logsumexp_rows_f32(x.as_ptr(), usize::MAX, p, 4, 9),
                SOFTMAX_STATUS_INVALID_ARGUMENT,
            ),
            (
                softmax_logsumexp_rows_f32(x.as_ptr().cast::<u8>().add(1).cast(), 10, p, 3, 9),
                SOFTMAX_STATUS_INVALID_ARGUMENT,
            ),
        ];
        for (i, (got, want)) in bad.into_iter().enumerate() {
            assert_eq!(got, want, "bad call {i}");
        }
        assert_sentinels("bad calls", &o, 0, 0);
        // The output inside the input batch: rejected.
        let mut xy = x.clone();
        let q = xy.as_mut_ptr();
        let st = softmax_logsumexp_rows_f32(q, stride, q.add(5), rows, cols);
        assert_eq!(st, SOFTMAX_STATUS_INVALID_ARGUMENT);
        assert_eq!(xy, x);
    }
}

#[test]
fn batches_on_several_threads_give_the_same_bits() {
    // Large enough (rows * cols >= 131 072) that the batch is split into chunks of rows.
    let mut rng = rng(104);
    for_each_isa(
        "batches_on_several_threads_give_the_same_bits",
        |isa, sm| {
            for (rows, cols) in [(4099, 64), (1031, 200), (301, 1000)] {
                let x = uniform(&mut rng, rows * cols, -10.0, 10.0);
                let one = sm.threads(1);
                let (mut y1, mut l1) = (vec![0.0f32; x.len()], vec![0.0f32; rows]);
                one.softmax_rows(&x, cols, &mut y1, cols, rows, cols, Algorithm::Auto)
                    .unwrap();
                one.logsumexp_rows(&x, cols, rows, cols, &mut l1).unwrap();
                let mut z1 = vec![0.0f32; x.len()];
                one.log_softmax_rows(&x, cols, &mut z1, cols, rows, cols)
                    .unwrap();
                for t in [2, 3, 8] {
                    let many = sm.threads(t);
                    let ctx = format!("{isa:?} {rows}x{cols} threads={t}");
                    let (mut y, mut l) = (vec![0.0f32; x.len()], vec![0.0f32; rows]);
                    many.softmax_rows(&x, cols, &mut y, cols, rows, cols, Algorithm::Auto)
                        .unwrap();
                    many.logsumexp_rows(&x, cols, rows, cols, &mut l).unwrap();
                    assert_same_bits(&format!("{ctx} softmax"), &y, &y1);
                    assert_same_bits(&format!("{ctx} logsumexp"), &l, &l1);
                    many.log_softmax_rows(&x, cols, &mut y, cols, rows, cols)
                        .unwrap();
                    assert_same_bits(&format!("{ctx} log_softmax"), &y, &z1);
                }
            }
        },
    );
}

#[test]
fn short_rows_at_the_edges_of_the_exponent_range_match_single_rows() {
    // Short rows whose maximum or smallest entry sits near the edges of the exponentials'
    // range (entries 80 to 95 below the maximum, near the underflow threshold; maxima from
    // -120 to 87; entries of -1e29, -2e30 and -inf): each row of a batch (groups of several
    // rows held in registers together) must be bit for bit the one-row call, and within the
    // oracle's bounds.
    let mut rng = rng(105);
    let maxima = [
        -120.0, -90.0, -86.0, -60.0, -1.0, -0.3, 0.0, 0.4, 1.0, 30.0, 68.5, 69.3, 69.6, 70.0, 72.0,
        87.0,
    ];
    let spreads = [
        10.0, 80.0, 85.5, 86.0, 86.4, 86.8, 87.2, 88.0, 95.0, 1.0e29, 2.0e30,
    ];
    for_each_isa("short_rows_at_the_edges", |isa, sm| {
        for cols in [2, 5, 8, 15, 16, 24, 32, 40, 64, 100, 128] {
            let mut rows: Vec<Vec<f32>> = Vec::new();
            for &m in &maxima {
                for &d in &spreads {
                    let mut row = uniform(&mut rng, cols, m - 5.0, m);
                    row[rng.random_range(0..cols)] = m;
                    row[rng.random_range(0..cols)] = m - d;
                    rows.push(row);
                }
                let mut row = uniform(&mut rng, cols, m - 3.0, m);
                row[0] = m;
                row[cols - 1] = f32::NEG_INFINITY;
                rows.push(row);
            }
            let n = rows.len();
            let x: Vec<f32> = rows.concat();
            let ctx = format!("{isa:?} cols={cols}");
            let mut y = vec![0.0f32; x.len()];
            let mut one = vec![0.0f32; cols];
            sm.softmax_rows(&x, cols, &mut y, cols, n, cols, Algorithm::Auto)
                .unwrap();
            for (r, xr) in rows.iter().enumerate() {
                sm.softmax(xr, &mut one).unwrap();
                let c = format!("{ctx} softmax row {r} (max {}, min {})", xr[0], min_of(xr));
                assert_same_bits(&c, &y[r * cols..][..cols], &one);
                check_softmax(&c, xr, &one, &oracle_softmax(xr));
            }
            log_rows_match_single_rows(&sm, &ctx, rows.as_slice(), cols);
        }
    });
}

/// The smallest entry of `x` above `-inf`.
fn min_of(x: &[f32]) -> f32 {
    x.iter()
        .copied()
        .filter(|v| *v > f32::NEG_INFINITY)
        .fold(f32::INFINITY, f32::min)
}

#[test]
fn rows_whose_maximum_is_far_above_their_first_vector() {
    // Pass 1 of two-pass starts from the first vector's maximum on some ISAs and sums the
    // row against it in one loop; an input more than 64 binades (44.4) above it makes the
    // chunk be summed again against a raised shift. Rows here reach that edge in their first
    // chunk (medium rows, taken two at a time in a batch) or in a later one (long rows, two
    // raises in some), with entries near the underflow threshold of the row's maximum.
    // Reload softmax out of place takes one walk against the first vector's shift, and the
    // three passes again for these rows. Two-pass and reload softmax, log-softmax and
    // log-sum-exp: every batch row bit for bit the one-row call, reload in place bit for bit
    // out of place, every one-row call within the oracle's bounds, and bf16 rows of up to 4096 values
    // the f32 results of their widened values.
    let mut rng = rng(106);
    let mut rows_of = |cols: usize| {
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for &m in &[-120.0f32, -60.0, 0.0, 30.0, 87.0] {
            for &d in &[10.0f32, 43.0, 44.0, 45.0, 50.0, 80.0, 100.0, 200.0] {
                let mut row = uniform(&mut rng, cols, m - 5.0, m);
                row[..16.min(cols)].fill(m - d);
                row[rng.random_range(16..cols)] = m;
                row[rng.random_range(16..cols)] = m - 86.5;
                row[rng.random_range(16..cols)] = m - 95.0;
                rows.push(row);
            }
            // The maximum climbing over the row: each quarter 40 above the last.
            let mut row = uniform(&mut rng, cols, m - 5.0, m);
            for (i, v) in row.iter_mut().enumerate() {
                *v -= 40.0 * (3 - 4 * i / cols) as f32;
            }
            rows.push(row);
        }
        rows
    };
    let sizes = [129, 200, 257, 300, 512, 513, 1000, 2049, 5000, 9000];
    let batches: Vec<(usize, Vec<Vec<f32>>)> = sizes.iter().map(|&c| (c, rows_of(c))).collect();
    for_each_isa("rows_far_above_their_first_vector", |isa, sm| {
        for (cols, rows) in &batches {
            let (cols, n) = (*cols, rows.len());
            let x: Vec<f32> = rows.concat();
            let ctx = format!("{isa:?} cols={cols}");
            let mut y = vec![0.0f32; x.len()];
            let mut one = vec![0.0f32; cols];
            sm.softmax_rows(&x, cols, &mut y, cols, n, cols, Algorithm::TwoPass)
                .unwrap();
            for (r, xr) in rows.iter().enumerate() {
                sm.softmax_with(xr, &mut one, Algorithm::TwoPass).unwrap();
                let c = format!("{ctx} softmax row {r}");
                assert_same_bits(&c, &y[r * cols..][..cols], &one);
                let exact = oracle_softmax(xr);
                check_softmax(&c, xr, &one, &exact);
                // Reload out of place (one walk against the first vector's shift, or the
                // three passes again) and in place (the three passes): the same bits.
                sm.softmax_with(xr, &mut one, Algorithm::ThreePassReload)
                    .unwrap();
                let mut inplace = xr.clone();
                sm.softmax_in_place_with(&mut inplace, Algorithm::ThreePassReload);
                let c = format!("{ctx} reload row {r}");
                assert_same_bits(&c, &one, &inplace);
                check_softmax(&c, xr, &one, &exact);
            }
            log_rows_match_single_rows(&sm, &ctx, rows.as_slice(), cols);
            for (r, xr) in rows.iter().enumerate() {
                // The same row in bf16 (up to 4096 values, where every pass is the f32
                // kernel's): the f32 results of its widened values, rounded.
                if cols > 4096 {
                    continue;
                }
                let h: Vec<softmax::bf16> =
                    xr.iter().map(|&v| softmax::bf16::from_f32(v)).collect();
                let w: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
                let c = format!("{ctx} bf16 row {r}");
                assert_same_bits(&c, &[sm.logsumexp(&h)], &[sm.logsumexp(&w)]);
                let mut hy = vec![softmax::bf16::ZERO; cols];
                sm.log_softmax(&h, &mut hy).unwrap();
                sm.log_softmax(&w, &mut one).unwrap();
                let want: Vec<f32> = one
                    .iter()
                    .map(|&v| softmax::bf16::from_f32(v).to_f32())
                    .collect();
                let got: Vec<f32> = hy.iter().map(|v| v.to_f32()).collect();
                assert_same_bits(&c, &got, &want);
            }
        }
    });
}

#[test]
fn reload_zeroes_exactly_below_the_underflow_threshold() {
    // Reload out of place stores the exponentials against the first vector's shift; where
    // the row's own shift is higher, the output pass must zero exactly the entries the three
    // passes zero: those below `(k - 126)*ln2` for the row's shift `k` (with the table form
    // of the exponential, which every ISA but NEON uses). It tests the input
    // there, or (threshold at least 32 from 0) the stored value. Entries on a sweep of f32
    // neighbours of the threshold, in rows of one call and in long (segmented) rows: out of
    // place bit for bit in place, and the sweep really crosses the threshold.
    let mut rng = rng(107);
    let long = 3 * 65_536 + 100;
    for_each_isa(
        "reload_zeroes_exactly_below_the_underflow_threshold",
        |isa, sm| {
            for &m in &[10.0f32, 30.0, 50.0, 70.0, 130.0] {
                for &n in &[300usize, 5000, long] {
                    // The threshold and 40 neighbours each side, spread over the row.
                    let (x, at) = threshold_sweep_row(&mut rng, n, m, 40);
                    let ctx = format!("{isa:?} max {m} n={n}");
                    let mut y = vec![0.0f32; n];
                    sm.softmax_with(&x, &mut y, Algorithm::ThreePassReload)
                        .unwrap();
                    let mut inplace = x.clone();
                    sm.softmax_in_place_with(&mut inplace, Algorithm::ThreePassReload);
                    assert_same_bits(&ctx, &y, &inplace);
                    // Entry 39 of the sweep lies just below the threshold, entry 40 on it.
                    // (NEON's polynomial exponential clamps its input at `(k - 126.75)*ln2`
                    // instead, and takes the three passes out of place too.)
                    if isa != softmax::Isa::Neon {
                        assert_eq!(y[at[39]], 0.0, "{ctx}: just below the threshold");
                        assert!(y[at[40]] > 0.0, "{ctx}: on the threshold");
                    }
                }
            }
        },
    );
}

/// `log_softmax_rows` and `logsumexp_rows` of the batch `rows` (each `cols` long, packed):
/// every row bit for bit the one-row call, and within the oracle's bounds.
fn log_rows_match_single_rows(sm: &Softmax, ctx: &str, rows: &[Vec<f32>], cols: usize) {
    let (n, x) = (rows.len(), rows.concat());
    let mut y = vec![0.0f32; x.len()];
    let mut lse = vec![0.0f32; n];
    let mut one = vec![0.0f32; cols];
    sm.log_softmax_rows(&x, cols, &mut y, cols, n, cols)
        .unwrap();
    sm.logsumexp_rows(&x, cols, n, cols, &mut lse).unwrap();
    for (r, xr) in rows.iter().enumerate() {
        sm.log_softmax(xr, &mut one).unwrap();
        let c = format!("{ctx} log-softmax row {r}");
        assert_same_bits(&c, &y[r * cols..][..cols], &one);
        check_log_softmax(&c, xr, &one, &oracle_log_softmax(xr));
        let c = format!("{ctx} log-sum-exp row {r}");
        assert_same_bits(&c, &lse[r..r + 1], &[sm.logsumexp(xr)]);
        check_logsumexp(&c, xr, lse[r], oracle_logsumexp(xr));
    }
}
