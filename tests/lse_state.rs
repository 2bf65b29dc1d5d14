//! Sharded and streamed rows on every ISA: log-sum-exp states of random splits merged in
//! random orders against the one-call log-sum-exp, special-value chunks, the rows variants,
//! normalisation by a global log-sum-exp, and the sharded cross-entropy against the
//! unsharded one. Also the C ABI of these functions, called directly.

mod common;

use approx::abs_diff_eq;
use common::{for_each_isa, oracle_logsumexp};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use softmax::ffi::*;
use softmax::{Algorithm, CrossEntropyOptions, Isa, LseState, ShardLayout, Softmax};

/// The spacing of f32 at `max(1, |v|)`.
fn ulp_at(v: f64) -> f64 {
    let a = v.abs().max(1.0) as f32;
    (a.next_up() - a) as f64
}

/// `|a - b|` in units of the f32 spacing at `max(1, |b|)` (0 for equal non-finite values).
fn ulps(a: f32, b: f32) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    (a as f64 - b as f64).abs() / ulp_at(b as f64)
}

fn row(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Cut points of `n` elements into `chunks` chunks: random, with empty chunks and chunks of
/// one element among them.
fn split(rng: &mut StdRng, n: usize, chunks: usize) -> Vec<(usize, usize)> {
    let mut cuts: Vec<usize> = (1..chunks)
        .map(|_| match rng.random_range(0..4) {
            0 => 0,
            1 => n,
            _ => rng.random_range(0..=n),
        })
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts {
        out.push((start, c));
        start = c;
    }
    out.push((start, n));
    // Force a few one-element chunks by cutting the first non-trivial chunk.
    if let Some(i) = out.iter().position(|&(a, b)| b - a > 2) {
        let (a, b) = out[i];
        out[i] = (a, a + 1);
        out.insert(i + 1, (a + 1, b));
    }
    out
}

/// Merges `states` in a random tree: repeatedly two random states, the result put back.
fn merge_random(rng: &mut StdRng, mut states: Vec<LseState>) -> LseState {
    if states.is_empty() {
        return LseState::EMPTY;
    }
    while states.len() > 1 {
        let i = rng.random_range(0..states.len());
        let a = states.swap_remove(i);
        let j = rng.random_range(0..states.len());
        let b = states.swap_remove(j);
        let m = if rng.random_bool(0.5) {
            a.merge(b)
        } else {
            b.merge(a)
        };
        states.push(m);
    }
    states[0]
}

fn bits(s: LseState) -> [u8; 16] {
    s.to_ne_bytes()
}

#[test]
fn random_splits_and_orders_match_one_call() {
    let mut rng = StdRng::seed_from_u64(16);
    let lengths = [
        1usize, 2, 3, 7, 16, 33, 100, 255, 300, 1000, 4096, 10_000, 70_001,
    ];
    let ranges = [
        (-10.0f32, 10.0f32),
        (-1000.0, 1000.0),
        (90.0, 100.0),
        (-0.5, 0.5),
    ];
    for_each_isa("random_splits_and_orders_match_one_call", |isa, sm| {
        let mut worst = 0.0f64;
        let mut worst_exact = 0.0f64;
        for &n in &lengths {
            for &(lo, hi) in &ranges {
                let x = row(&mut rng, n, lo, hi);
                let one = sm.logsumexp(&x);
                let exact = oracle_logsumexp(&x);
                let trials = if n > 10_000 { 3 } else { 12 };
                for _ in 0..trials {
                    let chunks = rng.random_range(1..=64);
                    let parts = split(&mut rng, n, chunks);
                    let states: Vec<LseState> = parts
                        .iter()
                        .map(|&(a, b)| sm.logsumexp_state(&x[a..b]))
                        .collect();
                    // Streamed in order: bit-identical on a second run.
                    let mut acc = LseState::empty();
                    for &(a, b) in &parts {
                        sm.logsumexp_accumulate(&x[a..b], &mut acc);
                    }
                    let mut again = LseState::empty();
                    for &(a, b) in &parts {
                        sm.logsumexp_accumulate(&x[a..b], &mut again);
                    }
                    assert_eq!(bits(acc), bits(again), "{isa:?} n={n}: not deterministic");
                    let merged = merge_random(&mut rng, states.clone());
                    for got in [acc.value(), merged.value()] {
                        let u = ulps(got, one);
                        worst = worst.max(u);
                        worst_exact = worst_exact.max((got as f64 - exact).abs() / ulp_at(exact));
                        assert!(
                            u <= 2.0,
                            "{isa:?} n={n} [{lo}, {hi}] {chunks} chunks: {got} vs one call \
                             {one} ({u:.2} ULP)"
                        );
                    }
                    // A fixed tree gives fixed bits, and the merge commutes exactly.
                    let fixed = states.iter().fold(LseState::EMPTY, |a, &s| a.merge(s));
                    let fixed2 = states.iter().fold(LseState::EMPTY, |a, &s| a.merge(s));
                    assert_eq!(bits(fixed), bits(fixed2));
                    for w in states.windows(2) {
                        assert_eq!(bits(w[0].merge(w[1])), bits(w[1].merge(w[0])));
                    }
                }
            }
        }
        println!(
            "{}: chunked log-sum-exp, worst {worst:.2} ULP from the one-call result, \
             {worst_exact:.2} ULP from the f64 oracle (at max(1, |lse|))",
            isa.name()
        );
    });
}

#[test]
fn special_value_chunks() {
    let (inf, ninf, nan) = (f32::INFINITY, f32::NEG_INFINITY, f32::NAN);
    for_each_isa("special_value_chunks", |isa, sm| {
        let st = |x: &[f32]| sm.logsumexp_state(x);
        let finite = st(&[1.0, 2.0, 3.0]);
        // The identity: empty and all -inf chunks, on either side, change no bit.
        for e in [
            LseState::EMPTY,
            st(&[]),
            st(&[ninf]),
            st(&[ninf; 40]),
            LseState::from_value(ninf),
        ] {
            assert!(e.is_empty(), "{isa:?}");
            assert_eq!(e.value(), ninf);
            assert_eq!(bits(e.merge(finite)), bits(finite));
            assert_eq!(bits(finite.merge(e)), bits(finite));
        }
        // NaN anywhere absorbs, whatever else is merged.
        let mut with_nan = vec![0.5f32; 300];
        with_nan[123] = nan;
        for s in [st(&[nan]), st(&with_nan), st(&[inf, nan]), LseState::NAN] {
            assert!(s.is_nan(), "{isa:?}");
            for other in [finite, LseState::EMPTY, st(&[inf, inf])] {
                assert!(s.merge(other).is_nan() && other.merge(s).is_nan());
                assert!(s.merge(other).value().is_nan());
            }
        }
        // +inf entries are counted across chunks.
        let a = st(&[inf, 1.0, inf]);
        let b = st(&[0.0; 500]);
        let mut c = vec![-3.0f32; 77];
        c[50] = inf;
        let total = a.merge(b).merge(st(&c));
        assert_eq!(total.pos_inf_count(), Some(3), "{isa:?}");
        assert_eq!(total.value(), inf);
        assert_eq!(a.merge(st(&[ninf])).pos_inf_count(), Some(2));
        // Huge magnitudes (the shifted special path) merge with ordinary chunks.
        let huge = [1.0e30f32, 1.0e30, -1.0e30, 5.0];
        let s = st(&huge[..2]).merge(st(&huge[2..]));
        assert_eq!(s.value(), sm.logsumexp(&huge), "{isa:?}");
        let big: Vec<f32> = (0..1000).map(|i| 2.0e5 + i as f32 * 0.01).collect();
        let s = st(&big[..300]).merge(st(&big[300..]));
        assert!(ulps(s.value(), sm.logsumexp(&big)) <= 2.0, "{isa:?}");
        // A tiny chunk far below a large one.
        let s = st(&[-200_000.0]).merge(st(&[10.0, 11.0]));
        assert_eq!(s.value(), sm.logsumexp(&[10.0, 11.0]));
    });
}

#[test]
fn from_value_round_trips() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut values = vec![
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::MIN_POSITIVE,
        1e-40,
        f32::MAX,
        f32::MIN,
        131_072.0,
        -131_072.0,
        1e15,
        3e38,
        88.7,
        -103.9,
        0.5 * std::f32::consts::LN_2,
    ];
    values.extend((0..20_000).map(|_| f32::from_bits(rng.random::<u32>())));
    for v in values {
        let s = LseState::from_value(v);
        let back = s.value();
        // Exact from 2^-20 on; below, within 2^-52 (the state's resolution at 0).
        let tiny =
            v.abs() < 1.0 / 1_048_576.0 && abs_diff_eq!(back as f64, v as f64, epsilon = 2.3e-16);
        assert!(
            back == v || (v.is_nan() && back.is_nan()) || tiny,
            "{v:e} -> {back:e} ({s:?})"
        );
        assert_eq!(bits(softmax_lse_from_value(v)), bits(s));
        assert!(back.is_nan() || softmax_lse_value(s) == back);
    }
    assert_eq!(LseState::from_value(f32::INFINITY).pos_inf_count(), Some(1));
    assert_eq!(std::mem::size_of::<LseState>(), 16);
    assert_eq!(std::mem::align_of::<LseState>(), 8);
    // The wire form round-trips.
    let s = LseState::from_value(3.25);
    assert_eq!(bits(LseState::from_ne_bytes(s.to_ne_bytes())), bits(s));
}

#[test]
fn rows_variants_match_single_rows() {
    let mut rng = StdRng::seed_from_u64(3);
    for_each_isa("rows_variants_match_single_rows", |isa, sm| {
        let (rows, cols, stride) = (7usize, 333usize, 350usize);
        let x = row(&mut rng, (rows - 1) * stride + cols, -20.0, 20.0);
        // Accumulate in three column blocks.
        let mut states = vec![LseState::EMPTY; rows];
        for (a, b) in [(0usize, 100usize), (100, 101), (101, 333)] {
            let block = &x[a..];
            let ext = (rows - 1) * stride + (b - a);
            sm.logsumexp_accumulate_rows(&block[..ext], stride, rows, b - a, &mut states)
                .unwrap();
        }
        let mut lse = vec![0.0f32; rows];
        for r in 0..rows {
            let xr = &x[r * stride..][..cols];
            let one = sm.logsumexp(xr);
            lse[r] = states[r].value();
            assert!(ulps(lse[r], one) <= 2.0, "{isa:?} row {r}");
        }
        // The C rows function gives the same bits.
        let mut cstates = vec![softmax_lse_empty(); rows];
        for (a, b) in [(0usize, 100usize), (100, 101), (101, 333)] {
            // SAFETY: the extents lie inside `x` and `cstates` has `rows` states.
            let st = unsafe {
                softmax_logsumexp_accumulate_rows_f32(
                    x[a..].as_ptr(),
                    stride,
                    rows,
                    b - a,
                    cstates.as_mut_ptr(),
                )
            };
            assert_eq!(st, SOFTMAX_STATUS_OK);
        }
        if Softmax::new().isa() == isa {
            for r in 0..rows {
                assert_eq!(bits(cstates[r]), bits(states[r]));
            }
        }
        // merge_rows: element-wise, as the Rust merge.
        let mut inout = states.clone();
        let input: Vec<LseState> = (0..rows).map(|r| LseState::from_value(r as f32)).collect();
        softmax::merge_lse_rows(&input, &mut inout).unwrap();
        let mut cinout = states.clone();
        // SAFETY: both arrays hold `rows` states and do not overlap.
        let st = unsafe { softmax_lse_merge_rows(input.as_ptr(), cinout.as_mut_ptr(), rows) };
        assert_eq!(st, SOFTMAX_STATUS_OK);
        for r in 0..rows {
            assert_eq!(bits(inout[r]), bits(states[r].merge(input[r])));
            assert_eq!(bits(cinout[r]), bits(inout[r]));
        }
        // Normalise rows against the global lse: the softmax / log-softmax of each row.
        let ystride = 340;
        let mut y = vec![7.0f32; (rows - 1) * ystride + cols];
        let mut ly = y.clone();
        sm.normalize_rows(&x, stride, &mut y, ystride, rows, cols, &lse)
            .unwrap();
        sm.log_softmax_normalize_rows(&x, stride, &mut ly, ystride, rows, cols, &lse)
            .unwrap();
        for r in 0..rows {
            let xr = &x[r * stride..][..cols];
            let mut want = vec![0.0f32; cols];
            sm.softmax_with(xr, &mut want, Algorithm::TwoPass).unwrap();
            let mut single = vec![0.0f32; cols];
            sm.normalize(xr, &mut single, lse[r]).unwrap();
            let got = &y[r * ystride..][..cols];
            assert_eq!(got, &single[..]);
            for i in 0..cols {
                let exact = (xr[i] as f64 - lse[r] as f64).exp();
                let rel = (got[i] as f64 - exact).abs() / exact;
                assert!(exact < 1e-30 || rel < 4e-7, "{isa:?} r={r} i={i}: {rel:e}");
                let rel = (got[i] as f64 - want[i] as f64).abs() / want[i] as f64;
                assert!(want[i] < 1e-30 || rel < 2e-6, "{isa:?} vs softmax: {rel:e}");
                let l = ly[r * ystride + i];
                assert_eq!(l, xr[i] - lse[r]);
            }
            // The gaps between rows are untouched.
            if r + 1 < rows {
                assert!(y[r * ystride + cols..(r + 1) * ystride]
                    .iter()
                    .all(|&v| v == 7.0));
            }
        }
    });
}

#[test]
fn normalize_accuracy_and_special_values() {
    let mut rng = StdRng::seed_from_u64(5);
    let (inf, ninf, nan) = (f32::INFINITY, f32::NEG_INFINITY, f32::NAN);
    for_each_isa("normalize_accuracy_and_special_values", |isa, sm| {
        let mut worst = 0.0f64;
        for n in (0..=300).chain([4096, 100_003]) {
            for (lo, hi) in [
                (-10.0f32, 10.0f32),
                (-1000.0, 1000.0),
                (3.0e5, 3.0e5 + 50.0),
            ] {
                let x = row(&mut rng, n, lo, hi);
                let lse = sm.logsumexp(&x);
                let mut y = vec![0.0f32; n];
                sm.normalize(&x, &mut y, lse).unwrap();
                let mut inplace = x.clone();
                sm.normalize_in_place(&mut inplace, lse);
                assert_eq!(y, inplace);
                for i in 0..n {
                    let exact = (x[i] as f64 - lse as f64).exp();
                    if exact > 1e-30 {
                        worst = worst.max((y[i] as f64 - exact).abs() / exact);
                    } else {
                        assert!(y[i] as f64 <= 1e-30);
                    }
                }
            }
        }
        // A row past the non-temporal threshold (a quarter of the last-level cache), written
        // at an unaligned start: the streaming-store path.
        let n = (1 << 22) + 3;
        let x = row(&mut rng, n, -10.0, 10.0);
        let lse = sm.logsumexp(&x);
        let mut y = vec![0.0f32; n + 1];
        sm.normalize(&x, &mut y[1..], lse).unwrap();
        for i in (0..n).step_by(7) {
            let exact = (x[i] as f64 - lse as f64).exp();
            worst = worst.max((y[i + 1] as f64 - exact).abs() / exact);
        }
        assert_eq!(y[0], 0.0);
        assert!(worst < 4e-7, "{isa:?}: worst {worst:e}");
        println!(
            "{}: normalize, worst relative error against exp(x - lse) in f64: {worst:.2e}",
            isa.name()
        );
        let x = [1.0f32, ninf, inf, nan, -1e30, 1e30];
        let mut y = [0.0f32; 6];
        sm.normalize(&x, &mut y, nan).unwrap();
        assert!(y.iter().all(|v| v.is_nan()), "{isa:?}");
        sm.normalize(&x[..3], &mut y[..3], inf).unwrap();
        assert_eq!(&y[..2], &[0.0, 0.0]);
        assert!(y[2].is_nan());
        sm.normalize(&[ninf, ninf], &mut y[..2], ninf).unwrap();
        assert!(y[..2].iter().all(|v| v.is_nan()));
        // Entries up to 80 above the lse (a partial lse) are exact; NaN stays NaN.
        let x = [0.0f32, 50.0, 80.0, nan, ninf, -1e30, 1e-30];
        let mut y = [0.0f32; 7];
        sm.normalize(&x, &mut y, 0.0).unwrap();
        assert_eq!(y[0], 1.0, "{isa:?}");
        assert!((y[1] as f64 / 50f64.exp() - 1.0).abs() < 4e-7);
        assert!((y[2] as f64 / 80f64.exp() - 1.0).abs() < 4e-7);
        assert!(y[3].is_nan(), "{isa:?}");
        assert_eq!(&y[4..], &[0.0, 0.0, 1.0]);
        // Huge magnitudes: exact shift, then the exponential.
        let x = [1.0e30f32, 1.0e30, 0.0, -1.0e30];
        let lse = sm.logsumexp(&x);
        sm.normalize(&x, &mut y[..4], lse).unwrap();
        assert_eq!(&y[..4], &[1.0, 1.0, 0.0, 0.0]);
        // (An f32 lse of 2e6 is itself rounded by up to 1/16: the result is exp(x - lse) for
        // the lse given, not the softmax.)
        let x = [2.0e6f32, 2.0e6 + 1.0, 2.0e6 - 500.0];
        let lse = sm.logsumexp(&x);
        sm.normalize(&x, &mut y[..3], lse).unwrap();
        for i in 0..3 {
            let want = (x[i] as f64 - lse as f64).exp();
            assert!(
                abs_diff_eq!(y[i] as f64, want, epsilon = 4e-7 * want + 1e-38),
                "{isa:?} {y:?}"
            );
        }
        // Log-softmax normalise: one rounding, IEEE special values.
        let x = [1.0f32, ninf, inf, -3.5];
        let mut y = [0.0f32; 4];
        sm.log_softmax_normalize(&x, &mut y, 2.5).unwrap();
        assert_eq!(y, [1.0 - 2.5, ninf, inf, -6.0]);
        sm.log_softmax_normalize(&x, &mut y, inf).unwrap();
        assert_eq!(&y[..2], &[ninf, ninf]);
        assert!(y[2].is_nan());
        let mut z = x;
        sm.log_softmax_normalize_in_place(&mut z, nan);
        assert!(z.iter().all(|v| v.is_nan()));
    });
}

/// Unsharded losses and gradient of a batch, and the sum of the shards' contributions and
/// the shards' gradients put together.
#[allow(clippy::type_complexity)]
fn sharded_ce(
    sm: &Softmax,
    x: &[f32],
    rows: usize,
    cols: usize,
    targets: &[i64],
    opts: CrossEntropyOptions,
    cuts: &[usize],
) -> ((Vec<f32>, Vec<f32>), (Vec<f64>, Vec<f32>)) {
    let mut losses = vec![0.0f32; rows];
    let mut grad = vec![0.0f32; rows * cols];
    sm.cross_entropy_rows(
        x,
        cols,
        rows,
        cols,
        targets,
        opts,
        &mut losses,
        Some((&mut grad, cols)),
    )
    .unwrap();
    // Each shard copies its columns into its own buffer (as a process would hold them).
    let shards: Vec<(usize, Vec<f32>)> = cuts
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let mut s = Vec::with_capacity(rows * (b - a));
            for r in 0..rows {
                s.extend_from_slice(&x[r * cols + a..r * cols + b]);
            }
            (a, s)
        })
        .collect();
    let mut states = vec![LseState::EMPTY; rows];
    for (i, (_, s)) in shards.iter().enumerate() {
        let w = cuts[i + 1] - cuts[i];
        let mut mine = vec![LseState::EMPTY; rows];
        sm.logsumexp_accumulate_rows(s, w, rows, w, &mut mine)
            .unwrap();
        softmax::merge_lse_rows(&mine, &mut states).unwrap();
    }
    let mut total = vec![0.0f64; rows];
    let mut sgrad = vec![0.0f32; rows * cols];
    for (i, (a, s)) in shards.iter().enumerate() {
        let w = cuts[i + 1] - cuts[i];
        let mut l = vec![0.0f32; rows];
        let mut g = vec![0.0f32; rows * w];
        let layout = ShardLayout {
            col_offset: *a,
            total_cols: cols,
        };
        sm.cross_entropy_shard_rows(
            s,
            w,
            rows,
            w,
            layout,
            targets,
            opts,
            &states,
            &mut l,
            Some((&mut g, w)),
        )
        .unwrap();
        // Loss only gives the same losses.
        let mut l2 = vec![0.0f32; rows];
        sm.cross_entropy_shard_rows(s, w, rows, w, layout, targets, opts, &states, &mut l2, None)
            .unwrap();
        for r in 0..rows {
            assert!(l[r] == l2[r] || (l[r].is_nan() && l2[r].is_nan()));
            assert!(
                l[r].is_nan() || l[r] >= 0.0,
                "negative contribution {}",
                l[r]
            );
            total[r] += l[r] as f64;
            sgrad[r * cols + a..r * cols + a + w].copy_from_slice(&g[r * w..][..w]);
        }
    }
    ((losses, grad), (total, sgrad))
}

#[test]
fn sharded_cross_entropy_matches_unsharded() {
    let mut rng = StdRng::seed_from_u64(11);
    for_each_isa("sharded_cross_entropy_matches_unsharded", |isa, sm| {
        let (mut worst_loss, mut worst_grad) = (0.0f64, 0.0f64);
        for &(rows, cols) in &[(5usize, 1usize), (9, 50), (6, 1000), (3, 40_000)] {
            for eps in [0.0f32, 0.1] {
                for (lo, hi) in [(-10.0f32, 10.0f32), (-300.0, 300.0)] {
                    let x = row(&mut rng, rows * cols, lo, hi);
                    let targets: Vec<i64> = (0..rows)
                        .map(|r| {
                            if r % 4 == 3 {
                                -100
                            } else {
                                rng.random_range(0..cols as i64)
                            }
                        })
                        .collect();
                    let nshards = rng.random_range(1..=8).min(cols);
                    let mut cuts: Vec<usize> =
                        (1..nshards).map(|_| rng.random_range(1..cols)).collect();
                    cuts.push(0);
                    cuts.push(cols);
                    cuts.sort_unstable();
                    cuts.dedup();
                    let opts = CrossEntropyOptions {
                        ignore_index: -100,
                        label_smoothing: eps,
                    };
                    let ((losses, grad), (total, sgrad)) =
                        sharded_ce(&sm, &x, rows, cols, &targets, opts, &cuts);
                    for r in 0..rows {
                        let xr = &x[r * cols..][..cols];
                        let scale = (oracle_logsumexp(xr).abs()).max(1.0);
                        let e = (total[r] - losses[r] as f64).abs() / scale;
                        worst_loss = worst_loss.max(e);
                        assert!(
                            e <= 5e-7,
                            "{isa:?} rows={rows} cols={cols} eps={eps} r={r}: sharded {} vs {} \
                             ({e:e} of max(1, |lse|))",
                            total[r],
                            losses[r]
                        );
                        for i in 0..cols {
                            let (a, b) = (sgrad[r * cols + i], grad[r * cols + i]);
                            let e = (a - b).abs() as f64 / (1.0 + b.abs() as f64);
                            worst_grad = worst_grad.max(e);
                            assert!(e <= 5e-7, "{isa:?} grad r={r} i={i}: {a} vs {b}");
                        }
                    }
                }
            }
        }
        println!(
            "{}: sharded cross-entropy, worst loss difference {worst_loss:.2e} of max(1, |lse|), \
             worst gradient difference {worst_grad:.2e} (absolute + relative)",
            isa.name()
        );
        // Special rows: NaN, +inf (target there or not), all -inf, target at -inf.
        let (inf, ninf, nan) = (f32::INFINITY, f32::NEG_INFINITY, f32::NAN);
        let cols = 6;
        let x = [
            1.0, 2.0, nan, 0.0, 1.0, 1.0, // NaN
            inf, 0.0, 1.0, 2.0, inf, 1.0, // two +inf, target one of them
            inf, 0.0, 1.0, 2.0, inf, 1.0, // two +inf, target not
            ninf, ninf, ninf, ninf, ninf, ninf, // all -inf
            1.0, 2.0, 3.0, ninf, 0.0, 1.0, // target -inf
        ];
        let targets = [1i64, 4, 2, 0, 3];
        let opts = CrossEntropyOptions::default();
        for cuts in [vec![0, 6], vec![0, 2, 3, 6], vec![0, 1, 2, 3, 4, 5, 6]] {
            let ((losses, grad), (total, sgrad)) =
                sharded_ce(&sm, &x, 5, cols, &targets, opts, &cuts);
            for r in 0..5 {
                let (a, b) = (total[r] as f32, losses[r]);
                assert!(
                    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-6,
                    "{isa:?} special row {r} cuts {cuts:?}: {a} vs {b}"
                );
            }
            for i in 0..grad.len() {
                let (a, b) = (sgrad[i], grad[i]);
                assert!(
                    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-6,
                    "{isa:?} special gradient {i} cuts {cuts:?}: {a} vs {b}"
                );
            }
        }
    });
}

#[test]
fn shard_argument_errors() {
    let sm = Softmax::new();
    let x = [0.0f32; 8];
    let st = [LseState::from_value(1.0); 2];
    let mut l = [0.0f32; 2];
    let opts = CrossEntropyOptions::default();
    let layout = |col_offset, total_cols| ShardLayout {
        col_offset,
        total_cols,
    };
    let call = |lay: ShardLayout, t: [i64; 2], o: CrossEntropyOptions, l: &mut [f32]| {
        sm.cross_entropy_shard_rows(&x, 4, 2, 4, lay, &t, o, &st, l, None)
    };
    assert!(call(layout(0, 4), [0, 3], opts, &mut l).is_ok());
    assert!(call(layout(4, 8), [7, -100], opts, &mut l).is_ok());
    assert!(call(layout(5, 8), [0, 1], opts, &mut l).is_err());
    assert!(call(layout(0, 8), [8, 1], opts, &mut l).is_err());
    assert!(call(layout(0, 8), [-1, 1], opts, &mut l).is_err());
    let bad = CrossEntropyOptions {
        label_smoothing: 1.5,
        ..opts
    };
    assert!(call(layout(0, 8), [0, 1], bad, &mut l).is_err());
    assert!(call(layout(0, 8), [0, 1], opts, &mut l[..1]).is_err());
    let e =
        sm.cross_entropy_shard_rows(&x, 4, 2, 0, layout(0, 8), &[0, 1], opts, &st, &mut l, None);
    assert!(e.is_err());
    // A target in another shard: the contribution of this shard is 0 without smoothing.
    call(layout(0, 8), [5, 6], opts, &mut l).unwrap();
    assert_eq!(l, [0.0, 0.0]);
}

// ---------------------------------------------------------------------------------------------
// The C ABI, called directly.
// ---------------------------------------------------------------------------------------------

#[test]
fn c_functions_work_and_check_arguments() {
    let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin() * 5.0).collect();
    let mut st = softmax_lse_empty();
    assert_eq!(softmax_lse_value(st), f32::NEG_INFINITY);
    // SAFETY: every pointer below is valid for the lengths passed (or NULL where tested).
    unsafe {
        assert_eq!(
            softmax_logsumexp_accumulate_f32(x.as_ptr(), 600, &mut st),
            SOFTMAX_STATUS_OK
        );
        let mut rest = softmax_lse_empty();
        assert_eq!(
            softmax_logsumexp_accumulate_f32(x[600..].as_ptr(), 400, &mut rest),
            SOFTMAX_STATUS_OK
        );
        let all = softmax_lse_merge(st, rest);
        let mut one = 0.0f32;
        assert_eq!(
            softmax_logsumexp_f32(x.as_ptr(), 1000, &mut one),
            SOFTMAX_STATUS_OK
        );
        assert!(ulps(softmax_lse_value(all), one) <= 2.0);
        let lse = softmax_lse_value(all);

        // Accumulate: NULL and misaligned pointers, n == 0.
        let before = st;
        assert_eq!(
            softmax_logsumexp_accumulate_f32(std::ptr::null(), 0, &mut st),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(bits(st), bits(before));
        assert_eq!(
            softmax_logsumexp_accumulate_f32(std::ptr::null(), 3, &mut st),
            SOFTMAX_STATUS_NULL_POINTER
        );
        assert_eq!(
            softmax_logsumexp_accumulate_f32(x.as_ptr(), 3, std::ptr::null_mut()),
            SOFTMAX_STATUS_NULL_POINTER
        );
        let mis = (x.as_ptr() as *const u8).add(1) as *const f32;
        assert_eq!(
            softmax_logsumexp_accumulate_f32(mis, 3, &mut st),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        let mut buf = [0u8; 40];
        let mis_state = buf.as_mut_ptr().add(4) as *mut LseState;
        assert_eq!(
            softmax_logsumexp_accumulate_f32(x.as_ptr(), 3, mis_state),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            softmax_logsumexp_accumulate_rows_f32(x.as_ptr(), 3, 2, 4, &mut st),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        // A state inside the input is rejected.
        let mut xs = vec![0.0f32; 64];
        let inside = xs.as_mut_ptr().add(8) as *mut LseState;
        assert_eq!(
            softmax_logsumexp_accumulate_f32(xs.as_ptr(), 64, inside),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );

        // merge_rows: NULL, partial overlap, in place.
        let mut arr = [st, rest, all];
        assert_eq!(
            softmax_lse_merge_rows(std::ptr::null(), arr.as_mut_ptr(), 3),
            SOFTMAX_STATUS_NULL_POINTER
        );
        assert_eq!(
            softmax_lse_merge_rows(std::ptr::null(), std::ptr::null_mut(), 0),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(
            softmax_lse_merge_rows(arr.as_ptr().add(1), arr.as_mut_ptr(), 2),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        let p = arr.as_mut_ptr();
        assert_eq!(softmax_lse_merge_rows(p, p, 3), SOFTMAX_STATUS_OK);
        assert!((softmax_lse_value(arr[2]) - (lse + std::f32::consts::LN_2)).abs() < 1e-5);

        // Normalise: in place, partial overlap, NULL, the rows form with its lse array.
        let mut y = vec![0.0f32; 1000];
        assert_eq!(
            softmax_normalize_f32(x.as_ptr(), y.as_mut_ptr(), 1000, lse),
            SOFTMAX_STATUS_OK
        );
        let s: f64 = y.iter().map(|&v| v as f64).sum();
        assert!((s - 1.0).abs() < 1e-5, "{s}");
        let mut z = x.clone();
        assert_eq!(
            softmax_normalize_f32(z.as_ptr(), z.as_mut_ptr(), 1000, lse),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(z, y);
        assert_eq!(
            softmax_normalize_f32(z.as_ptr(), z.as_mut_ptr().add(1), 999, lse),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            softmax_normalize_f32(std::ptr::null(), z.as_mut_ptr(), 10, lse),
            SOFTMAX_STATUS_NULL_POINTER
        );
        assert_eq!(
            softmax_normalize_f32(std::ptr::null(), std::ptr::null_mut(), 0, lse),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(
            softmax_log_softmax_normalize_f32(x.as_ptr(), y.as_mut_ptr(), 1000, lse),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(y[10], x[10] - lse);
        let lses = [lse, lse];
        assert_eq!(
            softmax_normalize_rows_f32(x.as_ptr(), 500, y.as_mut_ptr(), 500, 2, 500, lses.as_ptr()),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(
            softmax_normalize_rows_f32(
                x.as_ptr(),
                500,
                y.as_mut_ptr(),
                500,
                2,
                500,
                std::ptr::null()
            ),
            SOFTMAX_STATUS_NULL_POINTER
        );
        assert_eq!(
            softmax_log_softmax_normalize_rows_f32(
                x.as_ptr(),
                400,
                y.as_mut_ptr(),
                500,
                2,
                500,
                lses.as_ptr()
            ),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        // lse inside the output is rejected.
        assert_eq!(
            softmax_normalize_rows_f32(x.as_ptr(), 500, y.as_mut_ptr(), 500, 2, 500, y.as_ptr()),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );

        // Sharded cross-entropy: two shards of 500, global targets.
        let targets = [700i64, -100];
        let states = [all, all];
        let (mut l0, mut l1) = ([0.0f32; 2], [0.0f32; 2]);
        let mut g = vec![0.0f32; 1000];
        let call = |x: *const f32, off: usize, l: *mut f32, g: *mut f32| {
            softmax_cross_entropy_shard_rows_f32(
                x,
                500,
                1,
                500,
                off,
                1000,
                targets.as_ptr(),
                -100,
                0.0,
                states.as_ptr(),
                l,
                g,
                500,
            )
        };
        assert_eq!(
            call(x.as_ptr(), 0, l0.as_mut_ptr(), g.as_mut_ptr()),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(
            call(
                x[500..].as_ptr(),
                500,
                l1.as_mut_ptr(),
                g.as_mut_ptr().add(500)
            ),
            SOFTMAX_STATUS_OK
        );
        let mut want = 0.0f32;
        let mut wg = vec![0.0f32; 1000];
        assert_eq!(
            softmax_cross_entropy_f32(x.as_ptr(), 1000, 700, &mut want, wg.as_mut_ptr()),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(l0[0], 0.0);
        assert!(
            abs_diff_eq!(l1[0], want, epsilon = 5e-7 * lse.abs().max(1.0)),
            "{} {want}",
            l1[0]
        );
        for i in 0..1000 {
            assert!(
                abs_diff_eq!(g[i], wg[i], epsilon = 5e-7 * (1.0 + wg[i].abs())),
                "{i}: {} vs {}",
                g[i],
                wg[i]
            );
        }
        // In place (dlogits == logits), and the argument checks.
        let mut xi = x[500..].to_vec();
        assert_eq!(
            call(xi.as_ptr(), 500, l1.as_mut_ptr(), xi.as_mut_ptr()),
            SOFTMAX_STATUS_OK
        );
        assert_eq!(&xi[..], &g[500..]);
        assert_eq!(
            call(x.as_ptr(), 501, l1.as_mut_ptr(), std::ptr::null_mut()),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            call(std::ptr::null(), 0, l1.as_mut_ptr(), std::ptr::null_mut()),
            SOFTMAX_STATUS_NULL_POINTER
        );
        assert_eq!(
            call(x.as_ptr(), 0, std::ptr::null_mut(), std::ptr::null_mut()),
            SOFTMAX_STATUS_NULL_POINTER
        );
        let mut xg = x.clone();
        assert_eq!(
            call(xg.as_ptr(), 0, l1.as_mut_ptr(), xg.as_mut_ptr().add(3)),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        let bad_targets = [1000i64];
        assert_eq!(
            softmax_cross_entropy_shard_rows_f32(
                x.as_ptr(),
                500,
                1,
                500,
                0,
                1000,
                bad_targets.as_ptr(),
                -100,
                0.0,
                states.as_ptr(),
                l1.as_mut_ptr(),
                std::ptr::null_mut(),
                0,
            ),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            softmax_cross_entropy_shard_rows_f32(
                x.as_ptr(),
                500,
                1,
                500,
                0,
                1000,
                targets.as_ptr(),
                -100,
                f32::NAN,
                states.as_ptr(),
                l1.as_mut_ptr(),
                std::ptr::null_mut(),
                0,
            ),
            SOFTMAX_STATUS_INVALID_ARGUMENT
        );
    }
}

#[test]
fn c_functions_follow_softmax_set_isa() {
    // The C functions use the current ISA; every ISA gives the one-call result within 2 ULP.
    let x: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.013).cos() * 30.0).collect();
    for isa in Isa::ALL {
        if !isa.is_supported() {
            println!(
                "SKIP c_functions_follow_softmax_set_isa: {} not supported",
                isa.name()
            );
            continue;
        }
        let sm = Softmax::with_isa(isa).unwrap();
        let parts: Vec<LseState> = x.chunks(777).map(|c| sm.logsumexp_state(c)).collect();
        let mut shuffled = parts.clone();
        shuffled.shuffle(&mut StdRng::seed_from_u64(1));
        let a = shuffled
            .iter()
            .fold(LseState::EMPTY, |s, &p| softmax_lse_merge(s, p));
        assert!(ulps(a.value(), sm.logsumexp(&x)) <= 2.0, "{isa:?}");
    }
}
