//! f16 and bf16 rows on every ISA: each output within 1 ULP of the f64 result correctly
//! rounded to the format, and at least 99% of them exactly that value, wherever f32
//! arithmetic can resolve the format's last bit (elsewhere the f32 function's documented
//! bound applies, plus the final rounding); special values bit-identical across ISAs; every
//! 16-bit result the f32 result of the widened input, rounded once.

mod common;

use common::*;
use rand::Rng;
use softmax::{bf16, f16, Algorithm, Element, Softmax};

/// What the tests need of a 16-bit format beyond [`Element`].
trait Half: Element {
    fn from_f64(v: f64) -> Self;
    fn bits(self) -> u16;
    fn from_bits(b: u16) -> Self;
}

impl Half for f16 {
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn from_bits(b: u16) -> Self {
        f16::from_bits(b)
    }
}

impl Half for bf16 {
    fn from_f64(v: f64) -> Self {
        bf16::from_f64(v)
    }
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn from_bits(b: u16) -> Self {
        bf16::from_bits(b)
    }
}

/// Bits mapped to a line on which neighbouring values differ by 1 (+0 and -0 both 0).
fn ordinal(b: u16) -> i32 {
    if b & 0x8000 != 0 {
        -i32::from(b & 0x7fff)
    } else {
        i32::from(b)
    }
}

/// The spacing of the format at the value `v` (the step above `|v|` rounded to the format).
fn ulp_at<T: Half>(v: f64) -> f64 {
    let b = T::from_f64(v.abs()).bits() & 0x7fff;
    let next = T::from_bits(b + 1).to_f32() as f64;
    let here = T::from_bits(b).to_f32() as f64;
    next - here
}

/// Counts of the outputs where f32 arithmetic resolves the format's last bit.
#[derive(Default)]
struct Tally {
    resolvable: usize,
    exact: usize,
}

impl Tally {
    fn assert_mostly_exact(&self, ctx: &str) {
        assert!(self.resolvable > 0, "{ctx}: nothing measured");
        let share = self.exact as f64 / self.resolvable as f64;
        assert!(
            share >= 0.99,
            "{ctx}: {} of {} outputs correctly rounded ({share:.4})",
            self.exact,
            self.resolvable
        );
    }
}

/// Checks `got` against the exact values: within 1 ULP of the correctly rounded value (and
/// counted) where the f32 bound `bound(i, exact)` is at most a quarter of the format's
/// spacing; elsewhere within that bound plus half a spacing.
fn check<T: Half>(
    ctx: &str,
    got: &[T],
    exact: &[f64],
    bound: impl Fn(usize, f64) -> f64,
    tally: &mut Tally,
) {
    for (i, (&g, &e)) in got.iter().zip(exact).enumerate() {
        let gv = g.to_f32() as f64;
        if e.is_nan() {
            assert!(gv.is_nan(), "{ctx}: i={i} got {gv:e}, exact NaN");
            continue;
        }
        let want = T::from_f64(e);
        if want.to_f32().is_infinite() || gv.is_infinite() {
            assert_eq!(g.bits(), want.bits(), "{ctx}: i={i} exact {e:e}");
            continue;
        }
        let (ulp, b) = (ulp_at::<T>(e), bound(i, e));
        if b <= ulp / 4.0 {
            let d = (ordinal(g.bits()) - ordinal(want.bits())).abs();
            assert!(
                d <= 1,
                "{ctx}: i={i} got {gv:e}, exact {e:e} rounds to {:e} ({d} ULP apart)",
                want.to_f32()
            );
            tally.resolvable += 1;
            tally.exact += usize::from(d == 0);
        } else {
            let err = (gv - e).abs();
            assert!(
                err <= b + ulp / 2.0,
                "{ctx}: i={i} got {gv:e}, exact {e:e}: error {err:e} above {b:e} + half a step {ulp:e}"
            );
        }
    }
}

fn softmax_bound(_: usize, e: f64) -> f64 {
    if e > SOFTMAX_TINY {
        SOFTMAX_REL * e
    } else {
        SOFTMAX_ABS
    }
}

fn log_softmax_bound(_: usize, e: f64) -> f64 {
    LOG_SOFTMAX_TOL * e.abs().max(1.0)
}

/// A random row of `n` values of the format (drawn in f32 and rounded), and its widened
/// values.
fn row<T: Half>(seed: u64, n: usize, (lo, hi): (f32, f32)) -> (Vec<T>, Vec<f32>) {
    let x: Vec<T> = uniform(&mut rng(seed), n, lo, hi)
        .into_iter()
        .map(T::from_f32)
        .collect();
    let w = x.iter().map(|v| v.to_f32()).collect();
    (x, w)
}

/// The row lengths: every length to 300, then the staged-on-heap and segmented sizes.
fn lengths() -> impl Iterator<Item = usize> {
    (1..=300).chain([1000, 4096, 4097, 20_000])
}

fn forward_accuracy<T: Half>() {
    for_each_isa(&format!("forward_accuracy_{}", T::NAME), |isa, sm| {
        let (mut sm_t, mut lsm_t, mut lse_n) = (Tally::default(), Tally::default(), 0);
        for n in lengths() {
            let range = RANGES[n % RANGES.len()];
            let (x, w) = row::<T>(n as u64, n, range);
            let ctx = format!("{} {isa:?} n={n} range={range:?}", T::NAME);
            let mut y = vec![T::default(); n];
            for alg in [
                Algorithm::Auto,
                Algorithm::TwoPass,
                Algorithm::ThreePassReload,
            ] {
                sm.softmax_with(&x, &mut y, alg).unwrap();
                check(&ctx, &y, &oracle_softmax(&w), softmax_bound, &mut sm_t);
            }
            sm.log_softmax(&x, &mut y).unwrap();
            check(
                &ctx,
                &y,
                &oracle_log_softmax(&w),
                log_softmax_bound,
                &mut lsm_t,
            );
            check_logsumexp(&ctx, &w, sm.logsumexp(&x), oracle_logsumexp(&w));
            lse_n += 1;
        }
        sm_t.assert_mostly_exact(&format!("{} {isa:?} softmax", T::NAME));
        lsm_t.assert_mostly_exact(&format!("{} {isa:?} log-softmax", T::NAME));
        assert!(lse_n > 0);
    });
}

#[test]
fn f16_forward_accuracy() {
    forward_accuracy::<f16>();
}

#[test]
fn bf16_forward_accuracy() {
    forward_accuracy::<bf16>();
}

/// Every 16-bit result of a row of up to 4096 elements (staged through the f32 kernels, or,
/// past the short rows, read and written in the format with the f32 kernels' passes) is the
/// f32 result of the widened input, rounded once: one row, in place, every algorithm,
/// scaled, log-softmax, log-sum-exp, and rows that take the special-value rules (a NaN,
/// `+inf`, a magnitude of 2^17 or more); a batch gives each row's one-row bits. Log-sum-exp
/// is the f32 value of the widened row up to 64K too (the same pass 1, reading the format
/// directly).
fn same_as_f32<T: Half>() {
    for_each_isa(&format!("same_as_f32_{}", T::NAME), |isa, sm| {
        for n in [
            1025, 4096, 5000, 8192, 8193, 65_536, 131_071, 131_072, 200_003,
        ] {
            let (x, w) = row::<T>(3 + n as u64, n, (-30.0, 30.0));
            assert_eq!(
                sm.logsumexp(&x).to_bits(),
                sm.logsumexp(&w).to_bits(),
                "{} {isa:?} n={n} log-sum-exp",
                T::NAME
            );
            // Three-pass reload through a buffer (one piece, or segments from 128K on, on
            // three threads), for the rows that fit this machine's cache (longer ones take
            // two-pass passes of their own).
            if Algorithm::Auto.resolve(n) != Algorithm::ThreePassReload {
                eprintln!("SKIP: reload bits at n={n} (the row does not fit the cache here)");
                continue;
            }
            let (mut y, mut yf) = (vec![T::default(); n], vec![0.0f32; n]);
            sm.threads(3)
                .softmax_with(&x, &mut y, Algorithm::ThreePassReload)
                .unwrap();
            sm.softmax_with(&w, &mut yf, Algorithm::ThreePassReload)
                .unwrap();
            let rounded: Vec<u16> = yf.iter().map(|&f| T::from_f32(f).bits()).collect();
            let bits: Vec<u16> = y.iter().map(|t| t.bits()).collect();
            assert_eq!(bits, rounded, "{} {isa:?} n={n} reload", T::NAME);
        }
        let lengths = [
            0, 1, 5, 64, 65, 100, 128, 129, 200, 256, 257, 300, 511, 1000, 1024, 2047, 2048, 2049,
            3000, 4095, 4096,
        ];
        for n in lengths {
            let (x, _) = row::<T>(7 + n as u64, n, (-30.0, 30.0));
            let mut specials = vec![("", x.clone())];
            if n >= 2 {
                let mut nan = x.clone();
                nan[n / 3] = T::from_f32(f32::NAN);
                let mut inf = x.clone();
                inf[n - 1] = T::from_f32(f32::INFINITY);
                specials.extend([(" NaN", nan), (" +inf", inf)]);
                if T::NAME == "bf16" {
                    let big = x.iter().map(|v| T::from_f32(v.to_f32() * 1e30)).collect();
                    specials.push((" huge", big));
                }
            }
            for (what, x) in specials {
                let w: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
                same_row_as_f32(&sm, &format!("{} {isa:?} n={n}{what}", T::NAME), &x, &w);
            }
        }
    });
}

/// Three-pass reload rows whose shift moves past their first vector's, with entries on the
/// format's grid around the row's underflow threshold (the 41 values of the format nearest
/// it): the 16-bit softmax, out of place and in place, gives the bits of the f32 three passes
/// on the widened row (in place), rounded. Maxima of 10 to 130 put the threshold from -75 to
/// +43: the output pass tests the stored values, or (maximum 70, threshold -17) the row goes
/// back to the three passes. Rows of one piece (a stack and a heap buffer) and of segments
/// (on three threads); dense rows (the rest within 8 of the maximum), and sparse ones (the
/// rest 80 to 95 below it, around the threshold too), whose sum is near 1, so that bf16
/// outputs resolve both sides of the threshold at every length.
fn reload_threshold<T: Half>() {
    for_each_isa(&format!("reload_threshold_{}", T::NAME), |isa, sm| {
        let mut rng = rng(0x5eed_0f7e57);
        for n in [300, 5000, 40_000, 196_708] {
            if Algorithm::Auto.resolve(n) != Algorithm::ThreePassReload {
                eprintln!("SKIP: reload threshold at n={n} (the row does not fit the cache here)");
                continue;
            }
            for m in [10.0f32, 30.0, 50.0, 70.0, 130.0] {
                for sparse in [false, true] {
                    let (mut x, at) = threshold_sweep_row(&mut rng, n, m, 20);
                    if sparse {
                        let far = uniform(&mut rng, n, m - 95.0, m - 80.0);
                        for (i, v) in x.iter_mut().enumerate() {
                            if i % 65_536 >= 16 && *v < m && !at.contains(&i) {
                                *v = far[i];
                            }
                        }
                    }
                    let mut h: Vec<T> = x.iter().map(|&v| T::from_f32(v)).collect();
                    let mid = T::from_f32(x[at[20]]).bits() as i32;
                    for (j, &i) in at.iter().enumerate() {
                        h[i] = T::from_bits((mid + j as i32 - 20) as u16);
                    }
                    let mut w: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
                    sm.softmax_in_place_with(&mut w, Algorithm::ThreePassReload);
                    let want: Vec<u16> = w.iter().map(|&f| T::from_f32(f).bits()).collect();
                    let ctx = format!("{} {isa:?} n={n} m={m} sparse {sparse}", T::NAME);
                    let mut y = vec![T::default(); n];
                    sm.threads(3)
                        .softmax_with(&h, &mut y, Algorithm::ThreePassReload)
                        .unwrap();
                    let bits: Vec<u16> = y.iter().map(|t| t.bits()).collect();
                    assert_eq!(bits, want, "{ctx}");
                    // bf16 (f32's exponent range) resolves both sides of the threshold where
                    // the sum is small: the sweep has outputs of 0 and above. (f16 outputs
                    // there are all 0.)
                    let swept: Vec<u16> = at.iter().map(|&i| bits[i]).collect();
                    if T::NAME == "bf16" && (sparse || n == 300) {
                        assert!(swept.contains(&0) && swept.iter().any(|&b| b != 0), "{ctx}");
                    }
                    sm.threads(3)
                        .softmax_in_place_with(&mut h, Algorithm::ThreePassReload);
                    let bits: Vec<u16> = h.iter().map(|t| t.bits()).collect();
                    assert_eq!(bits, want, "{ctx} in place");
                }
            }
        }
    });
}

#[test]
fn f16_reload_threshold() {
    reload_threshold::<f16>();
}

#[test]
fn bf16_reload_threshold() {
    reload_threshold::<bf16>();
}

/// Rows where one entry holds (nearly) all the mass, so that its exponential times the
/// rounded reciprocal of the sum lands within an f32 ULP or two of 1, on either side: the
/// 16-bit output passes leave the clamp to 1 to the rounding, which must give the bits of the
/// clamped f32 result (1 for the dominant entry). 48 maxima, so that the reciprocal rounds up
/// for some; the rest lie 40 to 120 below, across the exponentials' underflow.
fn dominant_entry<T: Half>() {
    for_each_isa(&format!("dominant_entry_{}", T::NAME), |isa, sm| {
        for n in [1025, 4096, 8193, 200_003] {
            let mut rng = rng(n as u64);
            for m in 0..48 {
                let top = T::from_f32(-20.0 + m as f32 * 0.83).to_f32();
                let mut x: Vec<T> = (0..n)
                    .map(|_| T::from_f32(top - rng.random_range(40.0f32..120.0)))
                    .collect();
                let at = rng.random_range(0..n);
                x[at] = T::from_f32(top);
                let w: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
                let ctx = format!("{} {isa:?} n={n} max={top}", T::NAME);
                let (mut y, mut yf) = (vec![T::default(); n], vec![0.0f32; n]);
                for alg in [
                    Algorithm::Auto,
                    Algorithm::ThreePassReload,
                    Algorithm::TwoPass,
                ] {
                    sm.softmax_with(&x, &mut y, alg).unwrap();
                    sm.softmax_with(&w, &mut yf, alg).unwrap();
                    let want: Vec<u16> = yf.iter().map(|&f| T::from_f32(f).bits()).collect();
                    let bits: Vec<u16> = y.iter().map(|t| t.bits()).collect();
                    assert_eq!(bits, want, "{ctx} {alg:?}");
                    assert!(y[at].to_f32() <= 1.0, "{ctx} {alg:?}");
                }
            }
        }
    });
}

#[test]
fn f16_dominant_entry() {
    dominant_entry::<f16>();
}

#[test]
fn bf16_dominant_entry() {
    dominant_entry::<bf16>();
}

/// Scaled softmax of rows past 4096 elements (read and written in the format, the row as
/// one piece, as the f32 kernels take a scaled row): the bits of the f32 call on the widened
/// row, rounded, for `Auto` (whichever algorithm it resolves to), two-pass and three-pass
/// reload (on a heap buffer, while the row fits the cache), scales below and above 1, negative,
/// 1 and 0; out of place, in place and in a batch with gaps; ordinary rows and rows that take
/// the special-value rules (a NaN, `+inf`, products that overflow, only `-inf`). The other
/// algorithms take two-pass past 4096 elements: within one unit of the format of their f32
/// results, rounded.
fn scaled_as_f32<T: Half>() {
    let canon = |b: u16| {
        if T::from_bits(b).to_f32().is_nan() {
            0x7fff
        } else {
            b
        }
    };
    let bits = |v: &[T]| -> Vec<u16> { v.iter().map(|t| canon(t.bits())).collect() };
    let rounded =
        |v: &[f32]| -> Vec<u16> { v.iter().map(|&f| canon(T::from_f32(f).bits())).collect() };
    for_each_isa(&format!("scaled_as_f32_{}", T::NAME), |isa, sm| {
        for (t, n) in [4097usize, 40_000, 131_072].into_iter().enumerate() {
            let (x, _) = row::<T>(11 + n as u64, n, (-30.0, 30.0));
            let mut rows = vec![("", x.clone())];
            let mut nan = x.clone();
            nan[n / 3] = T::from_f32(f32::NAN);
            let mut inf = x.clone();
            inf[n - 1] = T::from_f32(f32::INFINITY);
            // The largest finite value of the format: times 2 (f16) or 3 (bf16), infinite.
            let mut big = x.clone();
            big[n / 2] = T::from_bits(if T::NAME == "bf16" { 0x7f7f } else { 0x7bff });
            let masked = vec![T::from_f32(f32::NEG_INFINITY); n];
            rows.extend([
                (" NaN", nan),
                (" +inf", inf),
                (" overflow", big),
                (" -inf", masked),
            ]);
            for (what, x) in rows {
                let w: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
                let (mut y, mut yf) = (vec![T::default(); n], vec![0.0f32; n]);
                // Not every row with every scale: the special rows take one scale each.
                let scales: &[f32] = if what.is_empty() {
                    &[0.37, -1.5, 1e30, 1.0, 0.0]
                } else {
                    &[[3.0, -0.37, 1.0][t % 3]]
                };
                for &scale in scales {
                    let ctx = format!("{} {isa:?} n={n}{what} scale {scale}", T::NAME);
                    let mut algs = vec![Algorithm::Auto, Algorithm::TwoPass];
                    if Algorithm::Auto.resolve(n) == Algorithm::ThreePassReload {
                        algs.push(Algorithm::ThreePassReload);
                    }
                    for alg in algs {
                        sm.softmax_scaled_with(&x, &mut y, scale, alg).unwrap();
                        sm.softmax_scaled_with(&w, &mut yf, scale, alg).unwrap();
                        assert_eq!(bits(&y), rounded(&yf), "{ctx} {alg:?}");
                    }
                    let want = rounded(&yf);
                    sm.softmax_scaled(&x, &mut y, scale).unwrap();
                    sm.softmax_scaled(&w, &mut yf, scale).unwrap();
                    let want_auto = rounded(&yf);
                    assert_eq!(bits(&y), want_auto, "{ctx} Auto");
                    let mut xy = x.clone();
                    sm.softmax_scaled_in_place(&mut xy, scale).unwrap();
                    assert_eq!(bits(&xy), want_auto, "{ctx} in place");
                    // Two rows with a gap: each has the one-row bits.
                    let stride = n + 5;
                    let mut xx = vec![T::from_f32(0.5); 2 * stride];
                    xx[..n].copy_from_slice(&x);
                    xx[stride..][..n].copy_from_slice(&x);
                    let mut yy = vec![T::default(); 2 * stride];
                    sm.softmax_scaled_rows(
                        &xx,
                        stride,
                        &mut yy,
                        stride,
                        2,
                        n,
                        scale,
                        Algorithm::TwoPass,
                    )
                    .unwrap();
                    assert_eq!(bits(&yy[stride..][..n]), want, "{ctx} batch");
                    if !what.is_empty() {
                        continue;
                    }
                    // Three-pass recompute and online take two-pass here: within one unit.
                    for alg in [Algorithm::ThreePassRecompute, Algorithm::TwoPassBlocked] {
                        sm.softmax_scaled_with(&x, &mut y, scale, alg).unwrap();
                        sm.softmax_scaled_with(&w, &mut yf, scale, alg).unwrap();
                        for (i, (&a, &b)) in bits(&y).iter().zip(&rounded(&yf)).enumerate() {
                            assert!(
                                (ordinal(a) - ordinal(b)).abs() <= 1,
                                "{ctx} {alg:?} [{i}]: {a:#06x} against {b:#06x}"
                            );
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn f16_scaled_as_f32() {
    scaled_as_f32::<f16>();
}

#[test]
fn bf16_scaled_as_f32() {
    scaled_as_f32::<bf16>();
}

/// [`same_as_f32`] for one row `x` (widened: `w`).
fn same_row_as_f32<T: Half>(sm: &Softmax, ctx: &str, x: &[T], w: &[f32]) {
    let n = x.len();
    let rounded = |v: &[f32]| -> Vec<u16> { v.iter().map(|&f| T::from_f32(f).bits()).collect() };
    let bits = |v: &[T]| -> Vec<u16> { v.iter().map(|t| t.bits()).collect() };
    let (mut y, mut yf) = (vec![T::default(); n], vec![0.0f32; n]);

    for alg in [
        Algorithm::Auto,
        Algorithm::TwoPass,
        Algorithm::TwoPassBlocked,
        Algorithm::ThreePassRecompute,
        Algorithm::ThreePassReload,
    ] {
        sm.softmax_with(x, &mut y, alg).unwrap();
        sm.softmax_with(w, &mut yf, alg).unwrap();
        assert_eq!(bits(&y), rounded(&yf), "{ctx} softmax {alg:?}");
        let mut xy = x.to_vec();
        sm.softmax_in_place_with(&mut xy, alg);
        assert_eq!(bits(&xy), rounded(&yf), "{ctx} softmax in place {alg:?}");
    }
    sm.softmax(w, &mut yf).unwrap();
    // Three rows of a batch with gaps, and without: each gives the one-row bits.
    for stride in [n, n + 3] {
        let mut xx = vec![T::default(); 3 * stride];
        for r in 0..3 {
            xx[r * stride..][..n].copy_from_slice(x);
        }
        let mut yy = vec![T::default(); 3 * stride];
        sm.softmax_rows(&xx, stride, &mut yy, stride, 3, n, Algorithm::Auto)
            .unwrap();
        assert_eq!(
            bits(&yy[2 * stride..][..n]),
            rounded(&yf),
            "{ctx} batch {stride}"
        );
    }

    sm.softmax_scaled(x, &mut y, 0.37).unwrap();
    sm.softmax_scaled(w, &mut yf, 0.37).unwrap();
    assert_eq!(bits(&y), rounded(&yf), "{ctx} scaled");

    sm.log_softmax(x, &mut y).unwrap();
    sm.log_softmax(w, &mut yf).unwrap();
    assert_eq!(bits(&y), rounded(&yf), "{ctx} log-softmax");
    let mut xy = x.to_vec();
    sm.log_softmax_in_place(&mut xy);
    assert_eq!(bits(&xy), rounded(&yf), "{ctx} log-softmax in place");
    let mut yy = vec![T::default(); 3 * n];
    sm.log_softmax_rows(&[x, x, x].concat(), n, &mut yy, n, 3, n)
        .unwrap();
    assert_eq!(bits(&yy[n..][..n]), rounded(&yf), "{ctx} log-softmax batch");

    let lse = sm.logsumexp(w).to_bits();
    assert_eq!(sm.logsumexp(x).to_bits(), lse, "{ctx} log-sum-exp");
    let mut out = [0.0f32; 3];
    sm.logsumexp_rows(&[x, x, x].concat(), n, 3, n, &mut out)
        .unwrap();
    assert_eq!(out[1].to_bits(), lse, "{ctx} log-sum-exp batch");
}

/// Batches of every length to 300 (the short rows, those of whole vectors that log-sum-exp
/// and log-softmax read and write in the format several rows at a time, and past them), with
/// gaps between rows and special rows among ordinary ones: every row of every operation has
/// the bits of the f32 batch of the widened rows, rounded once, on a handle with and without
/// masked rows, in place too; one row alone has the bits of its batch.
fn short_batches_as_f32<T: Half>() {
    let pad = T::from_bits(0x7e5a);
    for_each_isa(&format!("short_batches_as_f32_{}", T::NAME), |isa, sm| {
        for cols in 1..=300 {
            let (rows, xs, ys) = (11, cols + 2, cols + 5);
            let mut x = vec![pad; rows * xs];
            for r in 0..rows {
                let (v, _) = row::<T>((cols * 100 + r) as u64, cols, RANGES[r % 3]);
                x[r * xs..][..cols].copy_from_slice(&v);
            }
            let h = |v: f32| T::from_f32(v);
            x[3 * xs + cols / 2] = h(f32::NAN);
            x[5 * xs + cols - 1] = h(f32::INFINITY);
            x[7 * xs..][..cols].fill(h(f32::NEG_INFINITY));
            x[9 * xs] = h(3.0e5);
            x[10 * xs + cols / 3] = h(f32::NEG_INFINITY);
            let w: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
            let rounded = |v: &[f32]| v.iter().map(|&f| T::from_f32(f).bits()).collect::<Vec<_>>();
            let bits = |v: &[T]| v.iter().map(|t| t.bits()).collect::<Vec<_>>();
            let rows_of = |v: &[u16], stride: usize| {
                (0..rows)
                    .map(|r| v[r * stride..][..cols].to_vec())
                    .collect::<Vec<_>>()
            };
            for handle in [sm, sm.zero_masked_rows(true)] {
                let ctx = format!("{} {isa:?} cols={cols}", T::NAME);
                let (mut y, mut yf) = (vec![pad; rows * ys], vec![0.0f32; rows * ys]);
                for alg in [
                    Algorithm::Auto,
                    Algorithm::ThreePassReload,
                    Algorithm::TwoPass,
                ] {
                    handle
                        .softmax_rows(&x, xs, &mut y, ys, rows, cols, alg)
                        .unwrap();
                    handle
                        .softmax_rows(&w, xs, &mut yf, ys, rows, cols, alg)
                        .unwrap();
                    let want = rows_of(&rounded(&yf), ys);
                    assert_eq!(rows_of(&bits(&y), ys), want, "{ctx} softmax {alg:?}");
                    assert!(
                        (0..rows).all(|r| y[r * ys + cols..][..ys - cols]
                            .iter()
                            .all(|v| v.bits() == pad.bits())),
                        "{ctx} padding"
                    );
                    let mut xy = x.clone();
                    handle
                        .softmax_rows_in_place(&mut xy, xs, rows, cols, alg)
                        .unwrap();
                    let got = rows_of(&bits(&xy), xs);
                    assert_eq!(got, want, "{ctx} softmax in place {alg:?}");
                }
                for scale in [0.37f32, -1.5] {
                    handle
                        .softmax_scaled_rows(&x, xs, &mut y, ys, rows, cols, scale, Algorithm::Auto)
                        .unwrap();
                    handle
                        .softmax_scaled_rows(
                            &w,
                            xs,
                            &mut yf,
                            ys,
                            rows,
                            cols,
                            scale,
                            Algorithm::Auto,
                        )
                        .unwrap();
                    let want = rows_of(&rounded(&yf), ys);
                    assert_eq!(rows_of(&bits(&y), ys), want, "{ctx} scaled {scale}");
                }
                handle
                    .log_softmax_rows(&x, xs, &mut y, ys, rows, cols)
                    .unwrap();
                handle
                    .log_softmax_rows(&w, xs, &mut yf, ys, rows, cols)
                    .unwrap();
                let want = rows_of(&rounded(&yf), ys);
                assert_eq!(rows_of(&bits(&y), ys), want, "{ctx} log-softmax");
                let (mut lse, mut lsef) = (vec![0.0f32; rows], vec![0.0f32; rows]);
                handle.logsumexp_rows(&x, xs, rows, cols, &mut lse).unwrap();
                handle
                    .logsumexp_rows(&w, xs, rows, cols, &mut lsef)
                    .unwrap();
                let lse_bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(lse_bits(&lse), lse_bits(&lsef), "{ctx} log-sum-exp");
                // One row alone (the one-row entry points) gives the batch's bits.
                let x1 = &x[9 * xs..][..cols];
                let mut y1 = vec![pad; cols];
                handle.softmax(x1, &mut y1).unwrap();
                handle
                    .softmax_rows(&x, xs, &mut y, ys, rows, cols, Algorithm::Auto)
                    .unwrap();
                assert_eq!(bits(&y1), bits(&y[9 * ys..][..cols]), "{ctx} one row");
                for r in [1, 9] {
                    let xr = &x[r * xs..][..cols];
                    handle.log_softmax(xr, &mut y1).unwrap();
                    handle
                        .log_softmax_rows(&x, xs, &mut y, ys, rows, cols)
                        .unwrap();
                    let got = bits(&y1);
                    assert_eq!(
                        got,
                        bits(&y[r * ys..][..cols]),
                        "{ctx} r={r} one log-softmax"
                    );
                    let one = handle.logsumexp(xr).to_bits();
                    assert_eq!(one, lse[r].to_bits(), "{ctx} r={r} one log-sum-exp");
                }
                handle.softmax_scaled(x1, &mut y1, 0.37).unwrap();
                let mut w1: Vec<f32> = w[9 * xs..][..cols].to_vec();
                handle.softmax_scaled_in_place(&mut w1, 0.37).unwrap();
                assert_eq!(bits(&y1), rounded(&w1), "{ctx} one row scaled");
            }
        }
    });
}

#[test]
fn f16_short_batches_as_f32() {
    short_batches_as_f32::<f16>();
}

#[test]
fn bf16_short_batches_as_f32() {
    short_batches_as_f32::<bf16>();
}

/// Long rows (their own passes, reading the format directly): accurate, the same in place, on any
/// number of threads and in batches; special rows (which take the whole-row path) as
/// documented.
fn long_rows<T: Half>() {
    for_each_isa(&format!("long_rows_{}", T::NAME), |isa, sm| {
        let mut tally = Tally::default();
        for n in [1025, 4097, 70_000, 140_000] {
            let (x, w) = row::<T>(n as u64, n, (-20.0, 20.0));
            let ctx = format!("{} {isa:?} n={n}", T::NAME);
            let exact = oracle_softmax(&w);
            let mut y = vec![T::default(); n];
            for alg in [
                Algorithm::Auto,
                Algorithm::TwoPassBlocked,
                Algorithm::ThreePassReload,
            ] {
                sm.softmax_with(&x, &mut y, alg).unwrap();
                check(&ctx, &y, &exact, softmax_bound, &mut tally);
            }
            let mut xy = x.clone();
            sm.softmax_in_place(&mut xy);
            sm.softmax(&x, &mut y).unwrap();
            assert_eq!(xy, y, "{ctx} in place");
            let mut y4 = vec![T::default(); n];
            sm.threads(4).softmax(&x, &mut y4).unwrap();
            assert_eq!(y4, y, "{ctx} 4 threads");
            sm.log_softmax(&x, &mut y).unwrap();
            check(
                &ctx,
                &y,
                &oracle_log_softmax(&w),
                log_softmax_bound,
                &mut tally,
            );
            let mut xy = x.clone();
            sm.log_softmax_in_place(&mut xy);
            assert_eq!(xy, y, "{ctx} log-softmax in place");
            check_logsumexp(&ctx, &w, sm.logsumexp(&x), oracle_logsumexp(&w));
            // A batch of two such rows: each as the one-row call.
            let xx = [x.as_slice(), x.as_slice()].concat();
            let mut yy = vec![T::default(); 2 * n];
            sm.softmax_rows(&xx, n, &mut yy, n, 2, n, Algorithm::Auto)
                .unwrap();
            sm.softmax(&x, &mut y).unwrap();
            assert_eq!(&yy[n..], y.as_slice(), "{ctx} batch");
            let mut lse = [0.0f32; 2];
            sm.logsumexp_rows(&xx, n, 2, n, &mut lse).unwrap();
            assert_eq!(
                lse[1].to_bits(),
                sm.logsumexp(&x).to_bits(),
                "{ctx} lse rows"
            );
            // Special rows: a NaN, two +inf, only -inf, and (bf16) magnitudes of 2^17 and more.
            let h = T::from_f32;
            let mut special = x.clone();
            special[n / 2] = h(f32::NAN);
            sm.softmax(&special, &mut y).unwrap();
            assert!(y.iter().all(|v| v.to_f32().is_nan()), "{ctx} NaN row");
            assert!(sm.logsumexp(&special).is_nan());
            special[n / 2] = h(f32::INFINITY);
            special[n - 1] = h(f32::INFINITY);
            sm.softmax(&special, &mut y).unwrap();
            let want: Vec<f32> = (0..n)
                .map(|i| if i == n / 2 || i == n - 1 { 0.5 } else { 0.0 })
                .collect();
            assert_eq!(
                y.iter().map(|v| v.to_f32()).collect::<Vec<_>>(),
                want,
                "{ctx} +inf row"
            );
            let neg = vec![h(f32::NEG_INFINITY); n];
            sm.zero_masked_rows(true).softmax(&neg, &mut y).unwrap();
            assert!(y.iter().all(|v| v.bits() == 0), "{ctx} masked row");
            if T::NAME == "bf16" {
                let big: Vec<T> = w.iter().map(|&v| h(v * 1e30)).collect();
                let bw: Vec<f32> = big.iter().map(|v| v.to_f32()).collect();
                sm.softmax(&big, &mut y).unwrap();
                check(&ctx, &y, &oracle_softmax(&bw), softmax_bound, &mut tally);
            }
        }
        tally.assert_mostly_exact(&format!("{} {isa:?} long rows", T::NAME));
    });
}

#[test]
fn f16_long_rows() {
    long_rows::<f16>();
}

#[test]
fn bf16_long_rows() {
    long_rows::<bf16>();
}

#[test]
fn f16_same_as_f32() {
    same_as_f32::<f16>();
}

#[test]
fn bf16_same_as_f32() {
    same_as_f32::<bf16>();
}

/// Special rows give the same bits on every ISA, and the documented values.
fn special_values<T: Half>() {
    let h = |v: f32| T::from_f32(v);
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let rows: Vec<Vec<T>> = vec![
        vec![h(nan), h(1.0), h(2.0)],
        vec![h(inf), h(1.0), h(inf), h(-inf)],
        vec![h(-inf); 5],
        vec![h(1e30), h(-1e30), h(3.0)],
        vec![h(65504.0), h(65504.0), h(-65504.0)],
        vec![h(0.0), h(-80.0)],
    ];
    let mut reference: Option<Vec<Vec<u16>>> = None;
    for_each_isa(&format!("special_values_{}", T::NAME), |isa, sm| {
        let masked = sm.zero_masked_rows(true);
        let mut out = Vec::new();
        for x in &rows {
            let mut y = vec![T::default(); x.len()];
            sm.softmax(x, &mut y).unwrap();
            out.push(y.iter().map(|v| v.bits()).collect::<Vec<_>>());
            masked.softmax(x, &mut y).unwrap();
            out.push(y.iter().map(|v| v.bits()).collect());
            sm.log_softmax(x, &mut y).unwrap();
            out.push(y.iter().map(|v| v.bits()).collect());
            out.push(vec![
                sm.logsumexp(x).to_bits() as u16,
                (sm.logsumexp(x).to_bits() >> 16) as u16,
            ]);
        }
        // The documented values.
        let f = |v: &[u16]| {
            v.iter()
                .map(|&b| T::from_bits(b).to_f32())
                .collect::<Vec<_>>()
        };
        assert!(f(&out[0]).iter().all(|v| v.is_nan()), "{isa:?} NaN row");
        assert_eq!(f(&out[4]), [0.5, 0.0, 0.5, 0.0], "{isa:?} +inf row");
        assert_eq!(
            f(&out[6]),
            [-std::f32::consts::LN_2, -inf, -std::f32::consts::LN_2, -inf]
                .map(|v| T::from_f32(v).to_f32())
        );
        assert!(f(&out[8]).iter().all(|v| v.is_nan()), "{isa:?} -inf row");
        assert_eq!(f(&out[9]), [0.0; 5], "{isa:?} masked -inf row");
        match &reference {
            None => reference = Some(out),
            Some(r) => assert_eq!(&out, r, "{isa:?} differs from the scalar ISA"),
        }
    });
}

#[test]
fn f16_special_values() {
    special_values::<f16>();
    // Beyond 65504 is infinity in f16: the row holds two +inf entries.
    let x = [
        f16::from_f32(70000.0),
        f16::from_f32(1.0),
        f16::from_f32(1e6),
    ];
    let mut y = [f16::ZERO; 3];
    softmax::softmax(&x, &mut y).unwrap();
    assert_eq!(y.map(f16::to_f32), [0.5, 0.0, 0.5]);
    // Outputs below the smallest subnormal (2^-24) are 0.
    let x = [f16::from_f32(0.0), f16::from_f32(-20.0)];
    let mut y = [f16::ZERO; 2];
    softmax::softmax(&x, &mut y).unwrap();
    assert_eq!(y[1].to_bits(), 0);
}

#[test]
fn bf16_special_values() {
    special_values::<bf16>();
}

/// Batches with strides, in place and with masked rows: each row as accurate as one row,
/// the padding untouched, log-sum-exp rows bit for bit the one-row values.
fn batches<T: Half>() {
    let pad = T::from_bits(0x7e5a);
    for_each_isa(&format!("batches_{}", T::NAME), |isa, sm| {
        let masked = sm.zero_masked_rows(true);
        let mut tally = Tally::default();
        for cols in [1, 3, 8, 17, 64, 100, 300, 1000, 5000] {
            let rows = if cols > 1000 { 3 } else { 37 };
            // Even lengths without gaps between rows (converted a group at a time), odd ones
            // with gaps.
            let (xs, ys) = if cols % 2 == 0 {
                (cols, cols)
            } else {
                (cols + 3, cols + 5)
            };
            let mut x = vec![pad; rows * xs];
            for r in 0..rows {
                let (v, _) = row::<T>((cols * 1000 + r) as u64, cols, RANGES[r % 3]);
                x[r * xs..][..cols].copy_from_slice(&v);
            }
            // One masked row of only -inf.
            x[2 * xs..][..cols].fill(T::from_f32(f32::NEG_INFINITY));
            let ctx = format!("{} {isa:?} cols={cols}", T::NAME);
            let mut y = vec![pad; rows * ys];
            masked
                .softmax_rows(&x, xs, &mut y, ys, rows, cols, Algorithm::Auto)
                .unwrap();
            let mut inplace = x.clone();
            masked
                .softmax_rows_in_place(&mut inplace, xs, rows, cols, Algorithm::Auto)
                .unwrap();
            let mut lsm = vec![pad; rows * ys];
            sm.log_softmax_rows(&x, xs, &mut lsm, ys, rows, cols)
                .unwrap();
            let mut lse = vec![0.0f32; rows];
            sm.logsumexp_rows(&x, xs, rows, cols, &mut lse).unwrap();
            for r in 0..rows {
                let xr = &x[r * xs..][..cols];
                let w: Vec<f32> = xr.iter().map(|v| v.to_f32()).collect();
                let yr = &y[r * ys..][..cols];
                let ip = &inplace[r * xs..][..cols];
                assert_eq!(
                    yr.iter().map(|v| v.bits()).collect::<Vec<_>>(),
                    ip.iter().map(|v| v.bits()).collect::<Vec<_>>(),
                    "{ctx} r={r} in place"
                );
                if r == 2 {
                    assert!(yr.iter().all(|v| v.bits() == 0), "{ctx} masked row");
                } else {
                    check(&ctx, yr, &oracle_softmax(&w), softmax_bound, &mut tally);
                    check(
                        &ctx,
                        &lsm[r * ys..][..cols],
                        &oracle_log_softmax(&w),
                        log_softmax_bound,
                        &mut Tally::default(),
                    );
                }
                assert_eq!(
                    lse[r].to_bits(),
                    sm.logsumexp(xr).to_bits(),
                    "{ctx} r={r} lse"
                );
                let padding = &y[r * ys + cols..(r + 1) * ys];
                assert!(
                    padding.iter().all(|v| v.bits() == pad.bits()),
                    "{ctx} r={r} padding"
                );
            }
        }
        tally.assert_mostly_exact(&format!("{} {isa:?} batches", T::NAME));
    });
}

#[test]
fn f16_batches() {
    batches::<f16>();
}

#[test]
fn bf16_batches() {
    batches::<bf16>();
}

/// Backward passes and cross-entropy: gradients within 1 ULP of the correctly rounded exact
/// values where f32 resolves them, losses within the f32 bounds.
fn training<T: Half>() {
    for_each_isa(&format!("training_{}", T::NAME), |isa, sm| {
        let (mut bt, mut lbt, mut ct) = (Tally::default(), Tally::default(), Tally::default());
        for n in (1..=300).step_by(7).chain([1000, 5000]) {
            let ctx = format!("{} {isa:?} n={n}", T::NAME);
            let (x, w) = row::<T>(n as u64, n, (-8.0, 8.0));
            let (dy, dyw) = row::<T>(n as u64 + 99, n, (-1.0, 1.0));
            // Softmax backward at the format's softmax output.
            let mut y = vec![T::default(); n];
            sm.softmax(&x, &mut y).unwrap();
            let yw: Vec<f64> = y.iter().map(|v| v.to_f32() as f64).collect();
            let (d, abs) = exact_sum(yw.iter().zip(&dyw).map(|(a, &b)| a * b as f64));
            let e = sum_error(n, abs);
            let exact: Vec<f64> = yw
                .iter()
                .zip(&dyw)
                .map(|(a, &b)| a * (b as f64 - d))
                .collect();
            let mut dx = vec![T::default(); n];
            sm.softmax_backward(&y, &dy, &mut dx).unwrap();
            check(
                &ctx,
                &dx,
                &exact,
                |i, _| softmax_backward_bound(yw[i], dyw[i] as f64, d, e),
                &mut bt,
            );
            let mut dd = dy.clone();
            sm.softmax_backward_in_place(&y, &mut dd).unwrap();
            assert_eq!(dd, dx, "{ctx} backward in place");
            // Log-softmax backward at the format's log-softmax output.
            sm.log_softmax(&x, &mut y).unwrap();
            let ey: Vec<f64> = y.iter().map(|v| (v.to_f32() as f64).exp()).collect();
            let (s, abs) = exact_sum(dyw.iter().map(|&v| v as f64));
            let e = sum_error(n, abs);
            let exact: Vec<f64> = ey
                .iter()
                .zip(&dyw)
                .map(|(a, &b)| b as f64 - a * s)
                .collect();
            sm.log_softmax_backward(&y, &dy, &mut dx).unwrap();
            check(
                &ctx,
                &dx,
                &exact,
                |i, _| log_softmax_backward_bound(dyw[i] as f64, ey[i], s, e),
                &mut lbt,
            );
            // Cross-entropy, with and without label smoothing.
            for (t, eps) in [(0, 0.0f32), (n / 2, 0.1)] {
                let opts = softmax::CrossEntropyOptions {
                    label_smoothing: eps,
                    ..Default::default()
                };
                let mut loss = [0.0f32];
                let mut g = vec![T::default(); n];
                sm.cross_entropy_rows(&x, n, 1, n, &[t as i64], opts, &mut loss, Some((&mut g, n)))
                    .unwrap();
                let exact_loss = oracle_cross_entropy(&w, t, eps);
                check_within(
                    &ctx,
                    t,
                    loss[0],
                    exact_loss,
                    CROSS_ENTROPY_TOL * exact_loss.abs().max(1.0),
                );
                let p = oracle_softmax(&w);
                let exact = oracle_cross_entropy_grad(&w, t, eps);
                check(
                    &ctx,
                    &g,
                    &exact,
                    |i, ex| cross_entropy_grad_bound(p[i], ex, eps as f64, n),
                    &mut ct,
                );
                if eps == 0.0 {
                    let mut g1 = vec![T::default(); n];
                    let l1 = sm.cross_entropy_with_grad(&x, t, &mut g1).unwrap();
                    assert_eq!(
                        (l1.to_bits(), &g1),
                        (loss[0].to_bits(), &g),
                        "{ctx} one row"
                    );
                    assert_eq!(sm.cross_entropy(&x, t).unwrap().to_bits(), l1.to_bits());
                }
            }
        }
        bt.assert_mostly_exact(&format!("{} {isa:?} softmax backward", T::NAME));
        lbt.assert_mostly_exact(&format!("{} {isa:?} log-softmax backward", T::NAME));
        ct.assert_mostly_exact(&format!("{} {isa:?} cross-entropy gradient", T::NAME));
    });
}

#[test]
fn f16_training() {
    training::<f16>();
}

#[test]
fn bf16_training() {
    training::<bf16>();
}

/// The backward passes of 16-bit rows read and write the format directly: their bits are those
/// of widening `y` and `dy`, running the f32 pass and rounding `dx`, out of place and in place
/// (`dx` over `dy`), alone and in a batch with gaps, for every length to 300 and longer rows;
/// with ordinary rows and with NaN, infinities, huge gradients (the products and the sum near
/// the format's range), `-inf` and large log-probabilities (the exponential's cap), and zero
/// gradients.
fn backward_as_f32<T: Half>() {
    // NaN outputs compare as one value: which NaN an operation on NaN operands returns (its
    // sign and payload) is not specified, and differs between compilations of the portable
    // kernels.
    let canon = |b: u16| {
        if T::from_bits(b).to_f32().is_nan() {
            0x7fff
        } else {
            b
        }
    };
    let rounded =
        |v: &[f32]| -> Vec<u16> { v.iter().map(|&f| canon(T::from_f32(f).bits())).collect() };
    let bits = |v: &[T]| -> Vec<u16> { v.iter().map(|t| canon(t.bits())).collect() };
    let big = if T::NAME == "bf16" { 1e37 } else { 6e4 };
    for_each_isa(&format!("backward_as_f32_{}", T::NAME), |isa, sm| {
        for n in (0..=300).chain([1000, 4097, 70_001]) {
            let (x, _) = row::<T>(11 + n as u64, n, (-8.0, 8.0));
            let (mut y, mut ly) = (vec![T::default(); n], vec![T::default(); n]);
            sm.softmax(&x, &mut y).unwrap();
            sm.log_softmax(&x, &mut ly).unwrap();
            let (dy, _) = row::<T>(12 + n as u64, n, (-1.0, 1.0));
            let mut cases = vec![("", y.clone(), ly.clone(), dy.clone())];
            if n >= 2 {
                let at = |v: &[T], i: usize, f: f32| {
                    let mut v = v.to_vec();
                    v[i] = T::from_f32(f);
                    v
                };
                let huge: Vec<T> = dy.iter().map(|v| T::from_f32(v.to_f32() * big)).collect();
                cases.extend([
                    (
                        " NaN in y",
                        at(&y, n / 3, f32::NAN),
                        at(&ly, n / 3, f32::NAN),
                        dy.clone(),
                    ),
                    (
                        " NaN in dy",
                        y.clone(),
                        ly.clone(),
                        at(&dy, n - 1, f32::NAN),
                    ),
                    (
                        " +inf in dy",
                        y.clone(),
                        ly.clone(),
                        at(&dy, 0, f32::INFINITY),
                    ),
                    (
                        " -inf in dy",
                        y.clone(),
                        ly.clone(),
                        at(&dy, n / 2, f32::NEG_INFINITY),
                    ),
                    (" huge dy", y.clone(), ly.clone(), huge),
                    (
                        " -inf and 100 in y",
                        at(&y, 1, 1.0),
                        at(&ly, 1, 100.0),
                        dy.clone(),
                    ),
                    (
                        " -inf in y",
                        y.clone(),
                        at(&ly, 0, f32::NEG_INFINITY),
                        dy.clone(),
                    ),
                    (" zero dy", y.clone(), ly.clone(), vec![T::default(); n]),
                ]);
            }
            for (what, y, ly, dy) in cases {
                let ctx = format!("{} {isa:?} n={n}{what}", T::NAME);
                let wide = |v: &[T]| -> Vec<f32> { v.iter().map(|t| t.to_f32()).collect() };
                let dyw = wide(&dy);
                for (log, y) in [(false, &y), (true, &ly)] {
                    let yw = wide(y);
                    let mut want = vec![0.0f32; n];
                    let mut dx = vec![T::from_f32(7.0); n];
                    if log {
                        sm.log_softmax_backward(&yw, &dyw, &mut want).unwrap();
                        sm.log_softmax_backward(y, &dy, &mut dx).unwrap();
                    } else {
                        sm.softmax_backward(&yw, &dyw, &mut want).unwrap();
                        sm.softmax_backward(y, &dy, &mut dx).unwrap();
                    }
                    let want = rounded(&want);
                    assert_eq!(bits(&dx), want, "{ctx} log {log}");
                    let mut dd = dy.clone();
                    if log {
                        sm.log_softmax_backward_in_place(y, &mut dd).unwrap();
                    } else {
                        sm.softmax_backward_in_place(y, &mut dd).unwrap();
                    }
                    assert_eq!(bits(&dd), want, "{ctx} log {log} in place");
                    // Three rows with gaps: each row gives the one-row bits, the gaps stay.
                    if n <= 1000 {
                        let s = n + 3;
                        let (mut yy, mut dyy) =
                            (vec![T::default(); 3 * s], vec![T::default(); 3 * s]);
                        for r in 0..3 {
                            yy[r * s..][..n].copy_from_slice(y);
                            dyy[r * s..][..n].copy_from_slice(&dy);
                        }
                        let mut dxx = vec![T::from_f32(7.0); 3 * s];
                        if log {
                            sm.log_softmax_backward_rows(&yy, s, &dyy, s, &mut dxx, s, 3, n)
                        } else {
                            sm.softmax_backward_rows(&yy, s, &dyy, s, &mut dxx, s, 3, n)
                        }
                        .unwrap();
                        for r in 0..3 {
                            assert_eq!(bits(&dxx[r * s..][..n]), want, "{ctx} log {log} row {r}");
                            let gap = &dxx[r * s + n..(r + 1) * s];
                            assert!(gap.iter().all(|v| v.to_f32() == 7.0), "{ctx} gap");
                        }
                    }
                }
            }
        }
    });
}

/// Cross-entropy with its gradient of 16-bit logits: the loss and the gradient's bits are
/// those of the f32 call on the widened row, the gradient rounded (rows read in the format up
/// to 128K, staged beyond and for special rows), with and without smoothing, targets at the
/// ends and in the middle, one row and batches, with and without the gradient.
fn cross_entropy_as_f32<T: Half>() {
    let rounded = |v: &[f32]| -> Vec<u16> { v.iter().map(|&f| T::from_f32(f).bits()).collect() };
    let bits = |v: &[T]| -> Vec<u16> { v.iter().map(|t| t.bits()).collect() };
    for_each_isa(&format!("cross_entropy_as_f32_{}", T::NAME), |isa, sm| {
        for n in (1..=300).chain([1000, 4097, 70_001, 140_000]) {
            let (x, _) = row::<T>(21 + n as u64, n, (-12.0, 12.0));
            let mut cases = vec![("", x.clone())];
            if n >= 3 {
                let at = |i: usize, f: f32| {
                    let mut v = x.clone();
                    v[i] = T::from_f32(f);
                    v
                };
                cases.extend([
                    (" -inf", at(n / 3, f32::NEG_INFINITY)),
                    (" NaN", at(n - 1, f32::NAN)),
                    (" +inf", at(1, f32::INFINITY)),
                    (" big", at(2, if T::NAME == "bf16" { 3e5 } else { 6e4 })),
                ]);
            }
            for (what, x) in cases {
                let w: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
                for t in [0, n / 2, n - 1] {
                    for eps in [0.0f32, 0.1] {
                        let ctx = format!("{} {isa:?} n={n}{what} target {t} eps {eps}", T::NAME);
                        let opts = softmax::CrossEntropyOptions {
                            label_smoothing: eps,
                            ..Default::default()
                        };
                        let (mut lw, mut gw) = ([0.0f32], vec![0.0f32; n]);
                        sm.cross_entropy_rows(
                            &w,
                            n,
                            1,
                            n,
                            &[t as i64],
                            opts,
                            &mut lw,
                            Some((&mut gw, n)),
                        )
                        .unwrap();
                        let (mut l, mut g) = ([0.0f32], vec![T::from_f32(5.0); n]);
                        sm.cross_entropy_rows(
                            &x,
                            n,
                            1,
                            n,
                            &[t as i64],
                            opts,
                            &mut l,
                            Some((&mut g, n)),
                        )
                        .unwrap();
                        let same =
                            |a: f32, b: f32| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
                        assert!(same(l[0], lw[0]), "{ctx} loss {} vs {}", l[0], lw[0]);
                        let canon = |v: Vec<u16>| -> Vec<u16> {
                            v.into_iter()
                                .map(|b| {
                                    if T::from_bits(b).to_f32().is_nan() {
                                        0x7fff
                                    } else {
                                        b
                                    }
                                })
                                .collect()
                        };
                        assert_eq!(canon(bits(&g)), canon(rounded(&gw)), "{ctx} gradient");
                        let mut l2 = [0.0f32];
                        sm.cross_entropy_rows(&x, n, 1, n, &[t as i64], opts, &mut l2, None)
                            .unwrap();
                        assert!(same(l2[0], lw[0]), "{ctx} loss only");
                        if eps == 0.0 {
                            let mut g1 = vec![T::default(); n];
                            let l1 = sm.cross_entropy_with_grad(&x, t, &mut g1).unwrap();
                            assert!(same(l1, lw[0]), "{ctx} one row");
                            assert_eq!(bits(&g1), bits(&g), "{ctx} one row gradient");
                            let l0 = sm.cross_entropy(&x, t).unwrap();
                            assert!(same(l0, lw[0]), "{ctx} one row, loss only");
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn f16_cross_entropy_as_f32() {
    cross_entropy_as_f32::<f16>();
}

#[test]
fn bf16_cross_entropy_as_f32() {
    cross_entropy_as_f32::<bf16>();
}

#[test]
fn f16_backward_as_f32() {
    backward_as_f32::<f16>();
}

#[test]
fn bf16_backward_as_f32() {
    backward_as_f32::<bf16>();
}

/// Ignored rows, errors before anything is written, and the batch backward passes.
#[test]
fn training_batches_and_errors() {
    let sm = Softmax::new();
    let (rows, cols, s) = (5, 40, 43);
    let (x, _) = row::<bf16>(3, rows * s, (-5.0, 5.0));
    let targets = [0i64, -100, 39, 7, -100];
    let mut losses = [1.0f32; 5];
    let mut g = vec![bf16::ONE; rows * s];
    sm.cross_entropy_rows(
        &x,
        s,
        rows,
        cols,
        &targets,
        Default::default(),
        &mut losses,
        Some((&mut g, s)),
    )
    .unwrap();
    for r in 0..rows {
        let gr = &g[r * s..][..cols];
        if targets[r] == -100 {
            assert_eq!(losses[r], 0.0);
            assert!(gr.iter().all(|v| v.to_bits() == 0));
        } else {
            let mut one = vec![bf16::ZERO; cols];
            let l = sm
                .cross_entropy_with_grad(&x[r * s..][..cols], targets[r] as usize, &mut one)
                .unwrap();
            assert_eq!((l.to_bits(), one.as_slice()), (losses[r].to_bits(), gr));
        }
    }
    // A bad target writes nothing.
    let before = g.clone();
    assert!(sm
        .cross_entropy_rows(
            &x,
            s,
            rows,
            cols,
            &[0, 1, 40, 2, 3],
            Default::default(),
            &mut losses,
            Some((&mut g, s))
        )
        .is_err());
    let mut one = vec![bf16::ONE; cols];
    assert!(sm
        .cross_entropy_with_grad(&x[..cols], cols, &mut one)
        .is_err());
    assert!(one.iter().all(|v| *v == bf16::ONE));
    assert_eq!(g, before);
    // Batch backward passes equal the one-row calls.
    let (dy, _) = row::<bf16>(4, rows * s, (-1.0, 1.0));
    let mut dx = vec![bf16::ZERO; rows * s];
    sm.softmax_backward_rows(&x, s, &dy, s, &mut dx, s, rows, cols)
        .unwrap();
    let mut lx = vec![bf16::ZERO; rows * s];
    sm.log_softmax_backward_rows(&x, s, &dy, s, &mut lx, s, rows, cols)
        .unwrap();
    for r in 0..rows {
        let mut one = vec![bf16::ZERO; cols];
        sm.softmax_backward(&x[r * s..][..cols], &dy[r * s..][..cols], &mut one)
            .unwrap();
        assert_eq!(&dx[r * s..][..cols], one.as_slice());
        sm.log_softmax_backward(&x[r * s..][..cols], &dy[r * s..][..cols], &mut one)
            .unwrap();
        assert_eq!(&lx[r * s..][..cols], one.as_slice());
    }
    // Length errors.
    let mut y = vec![f16::ZERO; 3];
    assert!(softmax::softmax(&[f16::ONE; 4], &mut y).is_err());
    assert!(sm
        .softmax_rows(&[f16::ONE; 4], 2, &mut y, 2, 2, 2, Algorithm::Auto)
        .is_err());
}
