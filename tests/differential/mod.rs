//! The differential checker shared by `tests/property.rs` (seeded, in `cargo test`) and the
//! cargo-fuzz targets of `fuzz/` (libFuzzer): decodes a stream of 64-bit words into a case
//! (operation, ISA, algorithm, length, values), runs it on one ISA and on the scalar kernels,
//! and checks both against the f64 oracle with the documented bounds, the outputs against
//! their mathematical range, and the ISA against the scalar kernels.
//!
//! Include it next to `tests/common/mod.rs` (it uses `crate::common`).
#![allow(dead_code)]

use crate::common::{
    assert_close_to_scalar, check_within, cross_entropy_grad_bound, exact_sum,
    log_softmax_backward_bound, measure_log_softmax, measure_logsumexp, measure_softmax,
    oracle_log_softmax, oracle_logsumexp, oracle_softmax, softmax_backward_bound, sum_error,
    ulp_diff, CROSS_ENTROPY_TOL,
};
use softmax::{Algorithm, CrossEntropyOptions, Isa, Softmax};

/// A stream of 64-bit words: the bytes of a fuzz input, then a deterministic continuation.
pub struct Source {
    bytes: Vec<u8>,
    pos: usize,
    state: u64,
}

impl Source {
    /// Words from `bytes` (8 at a time), then from a generator seeded by all of them.
    pub fn from_bytes(bytes: &[u8]) -> Source {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for &b in bytes {
            state = (state ^ b as u64).wrapping_mul(0x1000_0000_01b3);
        }
        Source {
            bytes: bytes.to_vec(),
            pos: 0,
            state,
        }
    }

    /// A generator only (the property test).
    pub fn from_seed(seed: u64) -> Source {
        Source {
            bytes: Vec::new(),
            pos: 0,
            state: seed,
        }
    }

    pub fn word(&mut self) -> u64 {
        if self.pos < self.bytes.len() {
            let mut w = [0u8; 8];
            let end = (self.pos + 8).min(self.bytes.len());
            w[..end - self.pos].copy_from_slice(&self.bytes[self.pos..end]);
            self.pos = end;
            return u64::from_le_bytes(w);
        }
        // splitmix64
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n.max(1)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.word() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
}

/// A value from one of the adversarial distributions (`kind`), around the row's `base`.
fn value(src: &mut Source, kind: u64, base: f32) -> f32 {
    match kind {
        // uniform, narrow and wide
        0 => src.uniform(-10.0, 10.0),
        1 => src.uniform(-1000.0, 1000.0),
        2 => src.uniform(90.0, 100.0),
        // constant row
        3 => base,
        // around +-2^17 (the edge of the fast path)
        4 => {
            let s = if src.word() & 1 == 0 { 1.0 } else { -1.0 };
            s * (131_072.0 + src.uniform(-8.0, 8.0))
        }
        // huge magnitudes
        5 => src.uniform(-3.0e38, 3.0e38),
        // any bit pattern (NaN, infinities, denormals, -0 included)
        6 => f32::from_bits(src.word() as u32),
        // near the underflow threshold below the base
        _ => base - src.uniform(80.0, 110.0),
    }
}

/// A row of `n` values: a distribution, then sprinkles of special values, a dominant entry or
/// masked (`-inf`) entries.
pub fn row(src: &mut Source, n: usize) -> Vec<f32> {
    let kind = src.below(8);
    let base = match src.below(4) {
        0 => src.uniform(-10.0, 10.0),
        1 => {
            f32::from_bits(src.word() as u32 & 0x7f7f_ffff)
                * if src.word() & 1 == 0 { 1.0 } else { -1.0 }
        }
        2 => 0.0,
        _ => src.uniform(-200.0, 200.0),
    };
    let base = if base.is_finite() { base } else { 1.0 };
    let mut x: Vec<f32> = (0..n).map(|_| value(src, kind, base)).collect();
    if n > 0 {
        match src.below(8) {
            0 => {
                // sprinkles
                for _ in 0..=src.below(4) {
                    let i = src.below(n as u64) as usize;
                    x[i] = [
                        f32::NAN,
                        f32::INFINITY,
                        f32::NEG_INFINITY,
                        -0.0,
                        f32::from_bits(1),
                        f32::from_bits(0x8000_0001),
                        f32::MIN_POSITIVE,
                        3.0e38,
                    ][src.below(8) as usize];
                }
            }
            1 => {
                // one dominant entry
                let i = src.below(n as u64) as usize;
                x[i] = x[i].max(base) + src.uniform(20.0, 120.0);
            }
            2 => {
                // masked entries (possibly the whole row)
                let all = src.below(4) == 0;
                for v in x.iter_mut() {
                    if all || src.below(3) == 0 {
                        *v = f32::NEG_INFINITY;
                    }
                }
            }
            _ => {}
        }
    }
    x
}

/// A row length: mostly short (every tail path), sometimes long.
pub fn length(src: &mut Source, max: usize) -> usize {
    let n = match src.below(8) {
        0..=4 => src.below(300),
        5 | 6 => src.below(5000),
        _ => src.below(max as u64 + 1),
    };
    (n as usize).min(max)
}

pub const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::Auto,
    Algorithm::ThreePassRecompute,
    Algorithm::ThreePassReload,
    Algorithm::TwoPass,
    Algorithm::TwoPassBlocked,
];

/// One fuzz input through `check`: its first byte picks the ISA, the rest is the case.
pub fn fuzz_case(data: &[u8], max_len: usize, check: fn(&mut Source, &Softmax, Isa, usize)) {
    let isas = isas();
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (isa, sm) = isas[first as usize % isas.len()];
    check(&mut Source::from_bytes(rest), &sm, isa, max_len);
}

/// The ISAs this CPU runs, scalar first.
pub fn isas() -> Vec<(Isa, Softmax)> {
    Isa::ALL
        .iter()
        .filter_map(|&isa| Softmax::with_isa(isa).ok().map(|sm| (isa, sm)))
        .collect()
}

fn scalar() -> Softmax {
    Softmax::with_isa(Isa::Scalar).unwrap()
}

fn fail(ctx: &str, what: &str, w: &crate::common::Worst) {
    w.assert_ok(&format!("{ctx} {what}"));
}

/// Forward operations on one ISA: softmax (every algorithm, scaled, masked), log-softmax and
/// log-sum-exp, against the oracle, their range, and the scalar kernels.
pub fn check_forward(src: &mut Source, sm: &Softmax, isa: Isa, max_len: usize) {
    let n = length(src, max_len);
    let x = row(src, n);
    let ctx = format!("{isa:?} n={n}");
    let reference = scalar();
    let op = src.below(5);
    let alg = ALGORITHMS[src.below(5) as usize];
    let mut y = vec![0.0f32; n];
    let mut r = vec![0.0f32; n];
    match op {
        0 | 1 => {
            let (input, scale) = if op == 1 {
                let s = [0.125f32, -1.0, 2.0, 0.0, 1e-3, 7.5][src.below(6) as usize];
                (x.iter().map(|&v| v * s).collect::<Vec<_>>(), Some(s))
            } else {
                (x.clone(), None)
            };
            match scale {
                Some(s) => {
                    sm.softmax_scaled_with(&x, &mut y, s, alg).unwrap();
                    reference.softmax_scaled_with(&x, &mut r, s, alg).unwrap();
                }
                None => {
                    sm.softmax_with(&x, &mut y, alg).unwrap();
                    reference.softmax_with(&x, &mut r, alg).unwrap();
                }
            }
            let ctx = format!("{ctx} softmax {alg:?} scale {scale:?}");
            if scale != Some(0.0) {
                fail(
                    &ctx,
                    "",
                    &measure_softmax(&ctx, &input, &y, &oracle_softmax(&input)),
                );
            }
            in_range(&ctx, &y, 0.0, 1.0);
            assert_close_to_scalar(&ctx, &y, &r, false);
            // Every algorithm agrees on which outputs are 0 (the underflow rule).
            let mut z = vec![0.0f32; n];
            for other in ALGORITHMS {
                match scale {
                    Some(s) => sm.softmax_scaled_with(&x, &mut z, s, other).unwrap(),
                    None => sm.softmax_with(&x, &mut z, other).unwrap(),
                }
                for i in 0..n {
                    assert_eq!(
                        y[i] == 0.0,
                        z[i] == 0.0,
                        "{ctx}: {other:?} i={i} x={:e}: {:e} vs {:e}",
                        input[i],
                        z[i],
                        y[i]
                    );
                }
            }
        }
        2 => {
            let masked = sm.zero_masked_rows(true);
            masked.softmax_with(&x, &mut y, alg).unwrap();
            reference
                .zero_masked_rows(true)
                .softmax_with(&x, &mut r, alg)
                .unwrap();
            let ctx = format!("{ctx} masked softmax {alg:?}");
            if n > 0 && x.iter().all(|&v| v == f32::NEG_INFINITY) {
                assert!(y.iter().all(|&v| v.to_bits() == 0), "{ctx}: {y:?}");
            } else {
                fail(
                    &ctx,
                    "",
                    &measure_softmax(&ctx, &x, &y, &oracle_softmax(&x)),
                );
            }
            in_range(&ctx, &y, 0.0, 1.0);
            assert_close_to_scalar(&ctx, &y, &r, false);
        }
        3 => {
            sm.log_softmax(&x, &mut y).unwrap();
            reference.log_softmax(&x, &mut r).unwrap();
            let ctx = format!("{ctx} log_softmax");
            fail(
                &ctx,
                "",
                &measure_log_softmax(&ctx, &x, &y, &oracle_log_softmax(&x)),
            );
            in_range(&ctx, &y, f32::NEG_INFINITY, 0.0);
            assert_close_to_scalar(&ctx, &y, &r, true);
        }
        _ => {
            let got = sm.logsumexp(&x);
            let want = reference.logsumexp(&x);
            let ctx = format!("{ctx} logsumexp");
            fail(
                &ctx,
                "",
                &measure_logsumexp(&ctx, &x, got, oracle_logsumexp(&x)),
            );
            assert_close_to_scalar(&ctx, &[got], &[want], true);
        }
    }
    // The same row in a 16-bit format: the f32 result of the widened row, rounded once (bit
    // for bit up to 4096 elements, staged through the f32 kernels or through the same passes
    // reading and writing the format; within one step of the format for longer rows, whose
    // passes may differ).
    if src.below(2) == 0 {
        check_half::<softmax::bf16>(&ctx, sm, &x, op);
    } else {
        check_half::<softmax::f16>(&ctx, sm, &x, op);
    }
}

/// [`check_forward`]'s 16-bit part for the row `x` rounded to `T` (`op` as there).
fn check_half<T: softmax::Element>(ctx: &str, sm: &Softmax, x: &[f32], op: u64) {
    let xt: Vec<T> = x.iter().map(|&v| T::from_f32(v)).collect();
    let w: Vec<f32> = xt.iter().map(|v| v.to_f32()).collect();
    let n = x.len();
    let ctx = format!("{ctx} {} op {op}", T::NAME);
    let (mut y, mut yf) = (vec![T::default(); n], vec![0.0f32; n]);
    let exact = match op {
        3 => {
            sm.log_softmax(&xt, &mut y).unwrap();
            sm.log_softmax(&w, &mut yf).unwrap();
            n <= 4096
        }
        4 => {
            let (a, b) = (sm.logsumexp(&xt), sm.logsumexp(&w));
            if n <= 4096 {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{ctx}: log-sum-exp {a:e} vs {b:e}"
                );
            } else {
                assert!(
                    (a.is_nan() && b.is_nan())
                        || a == b
                        || (a - b).abs() <= 4e-7 * b.abs().max(1.0),
                    "{ctx}: log-sum-exp {a:e} vs {b:e}"
                );
            }
            return;
        }
        _ => {
            sm.softmax(&xt, &mut y).unwrap();
            sm.softmax(&w, &mut yf).unwrap();
            n <= 4096
        }
    };
    for (i, (g, &f)) in y.iter().zip(&yf).enumerate() {
        let (g, want) = (g.to_f32(), T::from_f32(f).to_f32());
        if exact || g.is_nan() || want.is_nan() || g.is_infinite() || want.is_infinite() {
            assert!(
                g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                "{ctx}: i={i} {g:e}, the rounded f32 result is {want:e}"
            );
        } else {
            // One step of the format at the rounded f32 value (8 significant bits in bf16,
            // 11 in f16; the smallest subnormal below).
            let (digits, tiny) = if T::NAME == "bf16" {
                (8, 2f32.powi(-133))
            } else {
                (11, 2f32.powi(-24))
            };
            let step = if want == 0.0 {
                tiny
            } else {
                2f32.powi(want.abs().log2().floor() as i32 - (digits - 1))
                    .max(tiny)
            };
            assert!(
                (g - want).abs() <= step,
                "{ctx}: i={i} {g:e}, the rounded f32 result is {want:e}"
            );
        }
    }
}

/// Every non-NaN output in `[lo, hi]`.
fn in_range(ctx: &str, y: &[f32], lo: f32, hi: f32) {
    for (i, &v) in y.iter().enumerate() {
        assert!(
            v.is_nan() || (lo..=hi).contains(&v),
            "{ctx}: i={i} {v:e} outside [{lo}, {hi}]"
        );
    }
}

/// Training operations on one ISA: the backward passes (in the documented range against the
/// oracle; out of it against the scalar kernels) and cross-entropy (loss and gradient).
pub fn check_training(src: &mut Source, sm: &Softmax, isa: Isa, max_len: usize) {
    let n = length(src, max_len).max(1);
    let x = row(src, n);
    let ctx = format!("{isa:?} n={n}");
    let reference = scalar();
    let mut dx = vec![0.0f32; n];
    let mut r = vec![0.0f32; n];
    match src.below(3) {
        0 | 1 => {
            let log = src.below(2) == 0;
            let dy = row(src, n);
            // In range: y is the output of the forward operation.
            let in_range = src.below(4) != 0;
            let y = if in_range {
                let mut y = vec![0.0f32; n];
                if log {
                    sm.log_softmax(&x, &mut y).unwrap();
                } else {
                    sm.softmax(&x, &mut y).unwrap();
                }
                y
            } else {
                x.clone()
            };
            let ctx = format!(
                "{ctx} {} backward (y in range: {in_range})",
                if log { "log_softmax" } else { "softmax" }
            );
            if log {
                sm.log_softmax_backward(&y, &dy, &mut dx).unwrap();
                reference.log_softmax_backward(&y, &dy, &mut r).unwrap();
            } else {
                sm.softmax_backward(&y, &dy, &mut dx).unwrap();
                reference.softmax_backward(&y, &dy, &mut r).unwrap();
            }
            if isa != Isa::Neon {
                // The x86 ISAs share the exponential; the sums are taken in the same order.
                if log {
                    assert_close_to_scalar(&ctx, &dx, &r, true);
                } else {
                    crate::common::assert_same_bits(&ctx, &dx, &r);
                }
            }
            // NEON's exponential is another polynomial: under cancellation in `dy - exp(y) * s`
            // its difference from the scalar result is bounded by the documented bound (checked
            // against the oracle below for both), not by a relative tolerance.
            if in_range && y.iter().chain(&dy).all(|v| v.is_finite()) {
                if log {
                    let (s, abs) = exact_sum(dy.iter().map(|&v| v as f64));
                    let es = sum_error(n, abs);
                    for i in 0..n {
                        let e = (y[i] as f64).exp();
                        let exact = dy[i] as f64 - e * s;
                        let bound = log_softmax_backward_bound(dy[i] as f64, e, s, es);
                        check_within(&ctx, i, dx[i], exact, bound);
                        check_within(&ctx, i, r[i], exact, bound);
                    }
                } else {
                    let (d, abs) = exact_sum(y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64));
                    let ed = sum_error(n, abs);
                    for i in 0..n {
                        let yi = y[i] as f64;
                        let exact = yi * (dy[i] as f64 - d);
                        let bound = softmax_backward_bound(yi, dy[i] as f64, d, ed);
                        check_within(&ctx, i, dx[i], exact, bound);
                    }
                }
            }
        }
        _ => {
            let t = src.below(n as u64) as usize;
            let eps = [0.0f32, 0.1, 1.0, 0.5][src.below(4) as usize];
            let opts = CrossEntropyOptions {
                ignore_index: -100,
                label_smoothing: eps,
            };
            let mut loss = [0.0f32];
            sm.cross_entropy_rows(
                &x,
                n,
                1,
                n,
                &[t as i64],
                opts,
                &mut loss,
                Some((&mut dx, n)),
            )
            .unwrap();
            let mut rl = [0.0f32];
            reference
                .cross_entropy_rows(&x, n, 1, n, &[t as i64], opts, &mut rl, Some((&mut r, n)))
                .unwrap();
            let ctx = format!("{ctx} cross_entropy t={t} eps={eps}");
            let mut plain = [0.0f32];
            sm.cross_entropy_rows(&x, n, 1, n, &[t as i64], opts, &mut plain, None)
                .unwrap();
            assert_eq!(
                plain[0].to_bits(),
                loss[0].to_bits(),
                "{ctx}: loss with and without gradient"
            );
            assert_close_to_scalar(&ctx, &loss, &rl, true);
            assert_close_to_scalar(&ctx, &dx, &r, true);
            assert!(
                loss[0].is_nan() || loss[0] >= 0.0,
                "{ctx}: loss {}",
                loss[0]
            );
            for (i, &g) in dx.iter().enumerate() {
                assert!(
                    g.is_nan() || (-1.0..=1.0).contains(&g),
                    "{ctx}: i={i} gradient {g:e}"
                );
            }
            if x.iter().all(|v| v.is_finite()) {
                let p = oracle_softmax(&x);
                let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
                let ls = x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                let to_t = (m - x[t] as f64) + ls;
                let to_mean = x.iter().map(|&v| m - v as f64).sum::<f64>() / n as f64 + ls;
                let e = eps as f64;
                let exact = (1.0 - e) * to_t + e * to_mean;
                let err = (loss[0] as f64 - exact).abs();
                assert!(
                    err <= CROSS_ENTROPY_TOL * exact.abs().max(1.0) || loss[0] == exact as f32,
                    "{ctx}: loss {:e}, exact {exact:e}",
                    loss[0]
                );
                for i in 0..n {
                    let onehot = if i == t { 1.0 - e } else { 0.0 };
                    let ex = p[i] - onehot - e / n as f64;
                    let bound = cross_entropy_grad_bound(p[i], ex, e, n);
                    check_within(&ctx, i, dx[i], ex, bound);
                }
            }
        }
    }
}

/// Compares two floats for the fuzz reports.
pub fn ulps(a: f32, b: f32) -> u64 {
    ulp_diff(a, b)
}

/// Top-k gating and sampling of one adversarial row on one ISA, against a sort-based f64
/// reference: the gating indices exactly (`scale * x` rounded to f32 orders the row), the
/// weights within the softmax bound (relative `2^-21` above 1e-30, absolute 1e-36 below), NaN
/// and all-`-inf` rows as documented; a draw is refused exactly for NaN rows, and otherwise is
/// an index of the row among the top-k candidates (the first maximum at temperature 0).
pub fn check_topk(src: &mut Source, sm: &Softmax, isa: Isa, max_len: usize) {
    let n = length(src, max_len).max(1);
    let x = row(src, n);
    let k = 1 + src.below(n.min(12) as u64) as usize;
    let options = softmax::TopkOptions {
        scale: [1.0, 0.5, 3.0, 1e-3][src.below(4) as usize],
        renormalize: src.below(2) == 1,
    };
    let ctx = format!("{isa:?} topk n={n} k={k} {options:?}");
    let (mut w, mut idx) = (vec![0.0f32; k], vec![0i32; k]);
    sm.topk_softmax(&x, options, &mut w, &mut idx)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let (want_idx, want_w) = crate::common::oracle_topk(&x, k, options);
    assert_eq!(idx, want_idx, "{ctx}: indices");
    for j in 0..k {
        assert!(
            crate::common::softmax_bound_ok(w[j], want_w[j]),
            "{ctx}: weight {j} = {:e}, exact {:e}",
            w[j],
            want_w[j]
        );
    }
    // One draw.
    let s = softmax::Sampling {
        temperature: [0.0, 0.5, 1.0, 2.0][src.below(4) as usize],
        top_k: [0, 1, 3, 40][src.below(4) as usize],
        top_p: [1.0, 0.9, 0.5, 1e-3][src.below(4) as usize],
    };
    let u = src.uniform(0.0, 1.0).min(0.999_999_9);
    let ctx = format!("{isa:?} sample n={n} {s:?} u={u}");
    let got = sm.sample(&x, s, u);
    if x.iter().any(|v| v.is_nan()) {
        assert!(got.is_err(), "{ctx}: {got:?} for a NaN row");
        return;
    }
    let i = got.unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert!(i < n, "{ctx}: index {i}");
    if s.temperature == 0.0 {
        assert_eq!(i, crate::common::order(&x)[0], "{ctx}: argmax");
    } else if s.top_k > 0 {
        let v: Vec<f32> = x.iter().map(|&x| x * (1.0 / s.temperature)).collect();
        assert!(
            crate::common::order(&v)[..s.top_k.min(n)].contains(&i),
            "{ctx}: {i} is not among the top {}",
            s.top_k
        );
    }
}
