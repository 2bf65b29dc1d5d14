//! The documented special-value rules (src/lib.rs, "Special values"), on every ISA and for
//! every softmax algorithm, at lengths 1, 7, 8, 9, 33, 300, 2049 and 5000 (two and three
//! summation blocks) with the special entries first, in the middle, last and at the block
//! boundary:
//!
//! - NaN anywhere: the whole softmax / log-softmax row is NaN, log-sum-exp NaN;
//! - `k` entries `+inf` (no NaN): exactly `1/k` there and `+0.0` elsewhere; log-softmax
//!   `-ln k` and `-inf`; log-sum-exp `+inf`;
//! - all `-inf`: softmax and log-softmax NaN, log-sum-exp `-inf`;
//! - empty row: nothing written, log-sum-exp `-inf`;
//! - entries far below the maximum: exactly `+0.0` in softmax;
//! - finite rows of any magnitude (beyond the internal `2^17` threshold too) and denormal
//!   inputs: as accurate as ordinary rows.
//!
//! Every ISA must also agree with the scalar ISA (bit for bit on special outputs).

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::Rng;
use softmax::{Algorithm, Isa, Softmax};

/// Row lengths: below, at and above one vector of every ISA, a few vectors, one summation
/// block plus one (2049), and three blocks (5000).
const LENGTHS: [usize; 8] = [1, 7, 8, 9, 33, 300, 2049, 5000];

/// First, middle and last index; every index for short rows; the last index of the first
/// block and the first of the second (2047, 2048) for rows longer than one block.
fn positions(n: usize) -> Vec<usize> {
    if n <= 9 {
        return (0..n).collect();
    }
    let mut p = vec![0, n / 2, n - 1];
    if n > 2048 {
        p.extend([2047, 2048]);
    }
    p.sort_unstable();
    p.dedup();
    p
}

/// Results of every operation on one row.
struct Outs {
    softmax: Vec<(Algorithm, Vec<f32>)>,
    log_softmax: Vec<f32>,
    lse: f32,
}

/// Runs every operation of `sm` on `x` (checking that the in-place variants give the same
/// bits as the out-of-place ones).
fn run_all(sm: &Softmax, ctx: &str, x: &[f32]) -> Outs {
    let n = x.len();
    let mut softmax = Vec::new();
    for alg in Algorithm::ALL {
        let mut y = vec![SENTINEL; n];
        sm.softmax_with(x, &mut y, alg).unwrap();
        let mut xy = x.to_vec();
        sm.softmax_in_place_with(&mut xy, alg);
        assert_same_bits(&format!("{ctx} softmax/{} in place", alg.name()), &xy, &y);
        softmax.push((alg, y));
    }
    let mut log_softmax = vec![SENTINEL; n];
    sm.log_softmax(x, &mut log_softmax).unwrap();
    let mut xy = x.to_vec();
    sm.log_softmax_in_place(&mut xy);
    assert_same_bits(&format!("{ctx} log_softmax in place"), &xy, &log_softmax);
    Outs {
        softmax,
        log_softmax,
        lse: sm.logsumexp(x),
    }
}

/// Runs every operation on `x` on every ISA, asserts that each ISA agrees with the scalar
/// ISA, and hands each ISA's results to `check`.
fn on_every_isa(isas: &[(Isa, Softmax)], ctx: &str, x: &[f32], mut check: impl FnMut(&str, &Outs)) {
    let mut reference: Option<Outs> = None;
    for (isa, sm) in isas {
        let ctx = format!("{} {ctx} n={}", isa.name(), x.len());
        let outs = run_all(sm, &ctx, x);
        check(&ctx, &outs);
        match &reference {
            None => reference = Some(outs),
            Some(r) => {
                for ((alg, a), (_, b)) in outs.softmax.iter().zip(&r.softmax) {
                    let c = format!("{ctx} softmax/{} vs scalar", alg.name());
                    assert_close_to_scalar(&c, a, b, false);
                }
                let c = format!("{ctx} log_softmax vs scalar");
                assert_close_to_scalar(&c, &outs.log_softmax, &r.log_softmax, true);
                let c = format!("{ctx} logsumexp vs scalar");
                assert_close_to_scalar(&c, &[outs.lse], &[r.lse], true);
            }
        }
    }
}

/// Checks every output against the f64 oracle with the accuracy bounds.
fn check_oracle(ctx: &str, x: &[f32], o: &Outs) {
    let exact = oracle_softmax(x);
    for (alg, y) in &o.softmax {
        check_softmax(&format!("{ctx} softmax/{}", alg.name()), x, y, &exact);
    }
    check_log_softmax(
        &format!("{ctx} log_softmax"),
        x,
        &o.log_softmax,
        &oracle_log_softmax(x),
    );
    check_logsumexp(&format!("{ctx} logsumexp"), x, o.lse, oracle_logsumexp(x));
}

fn assert_all_nan(ctx: &str, y: &[f32]) {
    for (i, v) in y.iter().enumerate() {
        assert!(v.is_nan(), "{ctx}: output {i} is {v:e}, want NaN");
    }
}

fn assert_nan_everywhere(ctx: &str, o: &Outs) {
    for (alg, y) in &o.softmax {
        assert_all_nan(&format!("{ctx} softmax/{}", alg.name()), y);
    }
    assert_all_nan(&format!("{ctx} log_softmax"), &o.log_softmax);
}

/// `v * s` element-wise (for ranges whose width overflows f32).
fn scaled(v: Vec<f32>, s: f32) -> Vec<f32> {
    v.into_iter().map(|x| x * s).collect()
}

/// Background rows for the special entries: ordinary values, values near the internal
/// `2^17` threshold, huge values, and rows holding `-inf`.
fn backgrounds(rng: &mut StdRng, n: usize) -> Vec<(&'static str, Vec<f32>)> {
    let mut neg_inf = uniform(rng, n, -10.0, 10.0);
    for v in neg_inf.iter_mut().step_by(3) {
        *v = f32::NEG_INFINITY;
    }
    vec![
        ("uniform[-10,10]", uniform(rng, n, -10.0, 10.0)),
        ("uniform[2e5,2e5+20]", uniform(rng, n, 2e5, 2e5 + 20.0)),
        (
            "uniform[-3e38,3e38]",
            scaled(uniform(rng, n, -1.0, 1.0), 3e38),
        ),
        ("with -inf", neg_inf),
        ("all -inf", vec![f32::NEG_INFINITY; n]),
    ]
}

#[test]
fn nan_anywhere_makes_the_row_nan() {
    let isas = supported_isas("nan_anywhere_makes_the_row_nan");
    let mut rng = rng(21);
    let nans = [
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc0_1234),
    ];
    for n in LENGTHS {
        for (bg_name, bg) in backgrounds(&mut rng, n) {
            for (j, pos) in positions(n).into_iter().enumerate() {
                let mut x = bg.clone();
                x[pos] = nans[j % nans.len()];
                let ctx = format!("NaN at {pos} in {bg_name}");
                on_every_isa(&isas, &ctx, &x, |ctx, o| {
                    assert_nan_everywhere(ctx, o);
                    assert!(o.lse.is_nan(), "{ctx}: logsumexp {:e}, want NaN", o.lse);
                });
            }
            // Two NaNs, first and last.
            let mut x = bg.clone();
            x[0] = f32::NAN;
            x[n - 1] = f32::NAN;
            on_every_isa(
                &isas,
                &format!("NaN first and last in {bg_name}"),
                &x,
                |ctx, o| {
                    assert_nan_everywhere(ctx, o);
                    assert!(o.lse.is_nan(), "{ctx}: logsumexp {:e}", o.lse);
                },
            );
        }
    }
}

/// Sets of `+inf` positions: each single position, first+last, first+middle+last, all.
fn inf_sets(n: usize) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = positions(n).into_iter().map(|p| vec![p]).collect();
    if n >= 2 {
        sets.push(vec![0, n - 1]);
    }
    if n >= 3 {
        sets.push(vec![0, n / 2, n - 1]);
    }
    sets.push((0..n).collect());
    sets
}

#[test]
fn positive_infinity_gets_one_over_k() {
    let isas = supported_isas("positive_infinity_gets_one_over_k");
    let mut rng = rng(22);
    for n in LENGTHS {
        for (bg_name, bg) in backgrounds(&mut rng, n) {
            for set in inf_sets(n) {
                let mut x = bg.clone();
                for &p in &set {
                    x[p] = f32::INFINITY;
                }
                let k = set.len();
                let share = 1.0f32 / k as f32;
                let log_share = -(k as f64).ln() as f32;
                let ctx = format!("{k} x +inf in {bg_name}");
                on_every_isa(&isas, &ctx, &x, |ctx, o| {
                    for (alg, y) in &o.softmax {
                        for (i, &v) in y.iter().enumerate() {
                            let want = if x[i] == f32::INFINITY { share } else { 0.0 };
                            assert_eq!(
                                v.to_bits(),
                                want.to_bits(),
                                "{ctx} softmax/{}: output {i} (x={:e}) is {v:e}, want {want:e}",
                                alg.name(),
                                x[i]
                            );
                        }
                    }
                    for (i, &v) in o.log_softmax.iter().enumerate() {
                        if x[i] == f32::INFINITY {
                            assert!(
                                ulp_diff(v, log_share) <= 1,
                                "{ctx} log_softmax: output {i} is {v:e}, want -ln {k} = {log_share:e}"
                            );
                        } else {
                            assert_eq!(
                                v,
                                f32::NEG_INFINITY,
                                "{ctx} log_softmax: output {i} (x={:e})",
                                x[i]
                            );
                        }
                    }
                    assert_eq!(o.lse, f32::INFINITY, "{ctx}: logsumexp");
                });
            }
        }
    }
}

#[test]
fn nan_with_positive_infinity_is_nan() {
    let isas = supported_isas("nan_with_positive_infinity_is_nan");
    let mut rng = rng(23);
    for n in LENGTHS.into_iter().filter(|&n| n >= 2) {
        for (bg_name, bg) in backgrounds(&mut rng, n) {
            for (a, b) in [(0, n - 1), (n - 1, 0), (n / 2, 0), (0, n / 2)] {
                if a == b {
                    continue;
                }
                let mut x = bg.clone();
                x[a] = f32::INFINITY;
                x[b] = f32::NAN;
                let ctx = format!("+inf at {a}, NaN at {b} in {bg_name}");
                on_every_isa(&isas, &ctx, &x, |ctx, o| {
                    assert_nan_everywhere(ctx, o);
                    assert!(o.lse.is_nan(), "{ctx}: logsumexp {:e}", o.lse);
                });
            }
        }
    }
}

#[test]
fn all_negative_infinity() {
    let isas = supported_isas("all_negative_infinity");
    for n in LENGTHS.into_iter().chain([2, 16, 17, 2048, 2049]) {
        let x = vec![f32::NEG_INFINITY; n];
        on_every_isa(&isas, "all -inf", &x, |ctx, o| {
            assert_nan_everywhere(ctx, o);
            assert_eq!(o.lse, f32::NEG_INFINITY, "{ctx}: logsumexp");
        });
    }
}

#[test]
fn empty_row_writes_nothing() {
    for_each_isa("empty_row_writes_nothing", |isa, sm| {
        let ctx = isa.name();
        let xbuf = [1.0f32; 8];
        let mut ybuf = vec![SENTINEL; 8];
        for alg in Algorithm::ALL {
            sm.softmax_with(&xbuf[3..3], &mut ybuf[3..3], alg).unwrap();
            sm.softmax_in_place_with(&mut ybuf[5..5], alg);
        }
        sm.softmax(&xbuf[3..3], &mut ybuf[4..4]).unwrap();
        sm.softmax_in_place(&mut ybuf[2..2]);
        sm.log_softmax(&xbuf[3..3], &mut ybuf[3..3]).unwrap();
        sm.log_softmax_in_place(&mut ybuf[7..7]);
        sm.softmax_with::<f32>(&[], &mut [], Algorithm::TwoPass)
            .unwrap();
        assert_sentinels(ctx, &ybuf, 0, 0);
        assert_eq!(sm.logsumexp::<f32>(&[]), f32::NEG_INFINITY, "{ctx}");
        assert_eq!(sm.logsumexp(&xbuf[8..]), f32::NEG_INFINITY, "{ctx}");
    });
}

/// Entries whose `e^(x - max)` is far below `2^-126` give exactly `+0.0` in softmax (and
/// exact log-softmax values), whatever the maximum.
#[test]
fn far_below_the_maximum_is_exactly_zero() {
    let isas = supported_isas("far_below_the_maximum_is_exactly_zero");
    let mut rng = rng(24);
    let offsets = [
        -89.0f32,
        -95.0,
        -100.0,
        -104.0,
        -200.0,
        -1e4,
        -1e30,
        f32::MIN,
        f32::NEG_INFINITY,
    ];
    for m in [
        0.0f32, 50.0, -50.0, 100.0, 1e4, -1e4, 1.3e5, -1.3e5, 2e5, -2e5, 1e30, 3e38,
    ] {
        for n in LENGTHS {
            for pos in positions(n) {
                let mut x: Vec<f32> = (0..n)
                    .map(|_| {
                        let off = offsets[rng.random_range(0..offsets.len())];
                        // Absolute offsets below -1e29 stand for themselves.
                        if off < -1e29 {
                            off
                        } else {
                            m + off
                        }
                    })
                    .collect();
                x[pos] = m;
                // A second entry near the maximum (when there is room), so the maximum is
                // not alone.
                if n > 2 {
                    x[(pos + 1) % n] = m - 0.75;
                }
                let ctx = format!("max {m:e} at {pos}, others far below");
                on_every_isa(&isas, &ctx, &x, |ctx, o| {
                    for (alg, y) in &o.softmax {
                        for (i, &v) in y.iter().enumerate() {
                            if (x[i] as f64) - (m as f64) <= -89.0 {
                                assert_eq!(
                                    v.to_bits(),
                                    0,
                                    "{ctx} softmax/{}: output {i} (x={:e}) is {v:e}, want +0.0",
                                    alg.name(),
                                    x[i]
                                );
                            }
                        }
                    }
                    check_oracle(ctx, &x, o);
                });
            }
        }
    }
}

/// Rows of huge magnitude, and rows on both sides of the internal `|max| >= 2^17` threshold,
/// against the oracle with the ordinary accuracy bounds.
#[test]
fn huge_magnitudes_match_the_oracle() {
    let isas = supported_isas("huge_magnitudes_match_the_oracle");
    let mut rng = rng(25);
    let down = |v: f32, steps: u32| -> f32 {
        let mut v = v;
        for _ in 0..steps {
            v = v.next_down();
        }
        v
    };
    for n in LENGTHS {
        let mut rows: Vec<(String, Vec<f32>)> = Vec::new();
        let near = |v: f32, rng: &mut StdRng| -> Vec<f32> {
            (0..n).map(|_| down(v, rng.random_range(0..4))).collect()
        };
        rows.push(("1e30 and its neighbours".into(), near(1e30, &mut rng)));
        rows.push(("all 1e30".into(), vec![1e30; n]));
        rows.push(("-1e30 and its neighbours".into(), near(-1e30, &mut rng)));
        rows.push(("all -1e30".into(), vec![-1e30; n]));
        rows.push(("3e38 and its neighbours".into(), near(3e38, &mut rng)));
        rows.push(("all f32::MAX".into(), vec![f32::MAX; n]));
        rows.push(("all f32::MIN".into(), vec![f32::MIN; n]));
        let mut mixed: Vec<f32> = (0..n)
            .map(|i| [3e38, -3e38, 0.0, f32::MAX, f32::MIN, -1e30][i % 6])
            .collect();
        mixed.reverse();
        rows.push(("mixed +-3e38, MAX, MIN, 0".into(), mixed));
        for (lo, hi) in [
            (2e5, 2e5 + 20.0),
            (-2e5 - 20.0, -2e5),
            (131_062.0, 131_082.0),
            (-131_082.0, -131_062.0),
            (131_000.0, 131_071.0),
            (-131_071.0, -131_000.0),
            (1e7, 1e7 + 100.0),
            (-1e7 - 100.0, -1e7),
            (-2e5, 2e5),
        ] {
            rows.push((format!("uniform[{lo}, {hi}]"), uniform(&mut rng, n, lo, hi)));
        }
        let wide = scaled(uniform(&mut rng, n, -1.0, 1.0), 3e38);
        rows.push(("uniform[-3e38, 3e38]".into(), wide));
        if n > 2048 {
            // Blocks of very different magnitude: the blocked algorithms' running shift.
            let mut a = uniform(&mut rng, n, -10.0, 10.0);
            for v in &mut a[..2048] {
                *v -= 2e5;
            }
            rows.push(("first block at -2e5, rest [-10,10]".into(), a));
            let mut b = uniform(&mut rng, n, -10.0, 10.0);
            for v in &mut b[(n - 1) / 2048 * 2048..] {
                *v += 2e5;
            }
            rows.push(("last block at 2e5, rest [-10,10]".into(), b));
            let mut c = uniform(&mut rng, n, -10.0, 10.0);
            for v in &mut c[2048..n.min(4096)] {
                *v += 1.3e5;
            }
            rows.push(("second block at 1.3e5".into(), c));
            let mut d = uniform(&mut rng, n, -131_000.0, -130_000.0);
            d[n - 1] = 5.0;
            rows.push(("[-131000, -130000] then a 5 last".into(), d));
        }
        for (name, x) in rows {
            on_every_isa(&isas, &name, &x, |ctx, o| check_oracle(ctx, &x, o));
        }
    }
}

/// Denormal inputs behave like zeros: softmax (and log-sum-exp of rows longer than one)
/// bit-identical to the row with zeros in their place; everything within the ordinary bounds
/// of the oracle.
#[test]
fn denormal_inputs_act_like_zeros() {
    let isas = supported_isas("denormal_inputs_act_like_zeros");
    let mut rng = rng(26);
    let denormals = [
        1e-40f32,
        -1e-40,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::MIN_POSITIVE / 2.0,
        -f32::MIN_POSITIVE / 3.0,
        f32::from_bits(0x007f_ffff),
        -0.0,
    ];
    for n in LENGTHS {
        for background in ["zeros", "uniform"] {
            let mut x = if background == "zeros" {
                vec![0.0; n]
            } else {
                uniform(&mut rng, n, -10.0, 10.0)
            };
            let mut zeroed = x.clone();
            for i in (0..n).step_by(2) {
                x[i] = denormals[rng.random_range(0..denormals.len())];
                zeroed[i] = 0.0;
            }
            let mut want: Vec<Outs> = Vec::new();
            for (_, sm) in &isas {
                want.push(run_all(sm, "zeroed", &zeroed));
            }
            let mut idx = 0;
            on_every_isa(
                &isas,
                &format!("denormals in {background}"),
                &x,
                |ctx, o| {
                    let w = &want[idx];
                    idx += 1;
                    for ((alg, y), (_, z)) in o.softmax.iter().zip(&w.softmax) {
                        assert_same_bits(&format!("{ctx} softmax/{}", alg.name()), y, z);
                    }
                    // (A single entry's log-sum-exp is the entry itself, denormal or not.)
                    if n > 1 {
                        assert_eq!(o.lse.to_bits(), w.lse.to_bits(), "{ctx}: logsumexp");
                    }
                    check_oracle(ctx, &x, o);
                },
            );
        }
    }
}

/// `-inf` entries among finite values: exactly `+0.0` in softmax and `-inf` in log-softmax;
/// everything else as accurate as usual.
#[test]
fn negative_infinity_among_finite_values() {
    let isas = supported_isas("negative_infinity_among_finite_values");
    let mut rng = rng(27);
    for n in LENGTHS.into_iter().filter(|&n| n >= 2) {
        for (lo, hi) in [(-10.0f32, 10.0f32), (-1e4, 1e4), (2e5, 2e5 + 10.0)] {
            for pattern in 0..4 {
                let mut x = uniform(&mut rng, n, lo, hi);
                match pattern {
                    0 => x[0] = f32::NEG_INFINITY,
                    1 => x[n - 1] = f32::NEG_INFINITY,
                    2 => {
                        for v in x.iter_mut().skip(1) {
                            *v = f32::NEG_INFINITY;
                        }
                    }
                    _ => {
                        for v in x.iter_mut() {
                            if rng.random_bool(0.5) {
                                *v = f32::NEG_INFINITY;
                            }
                        }
                        x[n / 2] = lo;
                    }
                }
                let ctx = format!("-inf pattern {pattern} in [{lo}, {hi}]");
                on_every_isa(&isas, &ctx, &x, |ctx, o| {
                    for (alg, y) in &o.softmax {
                        for (i, &v) in y.iter().enumerate() {
                            if x[i] == f32::NEG_INFINITY {
                                assert_eq!(
                                    v.to_bits(),
                                    0,
                                    "{ctx} softmax/{}: output {i}",
                                    alg.name()
                                );
                            }
                        }
                    }
                    for (i, &v) in o.log_softmax.iter().enumerate() {
                        if x[i] == f32::NEG_INFINITY {
                            assert_eq!(v, f32::NEG_INFINITY, "{ctx} log_softmax: output {i}");
                        }
                    }
                    check_oracle(ctx, &x, o);
                });
            }
        }
    }
}

/// A value drawn from a mixture of special values, extreme magnitudes, random bit patterns
/// and ordinary numbers.
fn wild(rng: &mut StdRng) -> f32 {
    const SPECIAL: [f32; 16] = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-40,
        1e30,
        -1e30,
        131_072.0,
        -131_072.0,
        2e5,
        -88.0,
        89.0,
    ];
    match rng.random_range(0..100) {
        0..=2 => SPECIAL[rng.random_range(0..3)],
        3..=9 => SPECIAL[rng.random_range(3..SPECIAL.len())],
        10..=29 => f32::from_bits(rng.random::<u32>()),
        30..=39 => rng.random_range(-2e5f32..2e5),
        _ => rng.random_range(-30.0f32..30.0),
    }
}

/// Random rows mixing every kind of value, against the oracle (which implements the special
/// rules) on every ISA: the rules and the accuracy bounds hold together.
#[test]
fn random_mixtures_match_the_oracle() {
    let isas = supported_isas("random_mixtures_match_the_oracle");
    let mut rng = rng(28);
    for case in 0..400 {
        let n = match case % 4 {
            0 => rng.random_range(1..=8),
            1 => rng.random_range(9..=40),
            2 => rng.random_range(41..=300),
            _ => rng.random_range(1..=3000),
        };
        let p_wild = [0.002, 0.02, 0.2, 1.0][case % 4];
        let x: Vec<f32> = (0..n)
            .map(|_| {
                if rng.random_bool(p_wild) {
                    wild(&mut rng)
                } else {
                    rng.random_range(-20.0f32..20.0)
                }
            })
            .collect();
        on_every_isa(&isas, &format!("random case {case}"), &x, |ctx, o| {
            check_oracle(ctx, &x, o)
        });
    }
}

/// A row of one entry: softmax exactly 1, log-softmax exactly 0 and log-sum-exp exactly the
/// entry for every non-NaN entry other than `-inf` (which gives NaN, NaN and `-inf`), NaN
/// giving NaN everywhere.
#[test]
fn single_entry_rows_are_exact() {
    let isas = supported_isas("single_entry_rows_are_exact");
    let mut rng = rng(29);
    let mut values = vec![
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        1e-40,
        -f32::from_bits(1),
        88.7,
        -104.0,
        131_072.0,
        -131_072.0,
        2e5,
        -2e5,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
    ];
    values.extend(uniform(&mut rng, 200, -1000.0, 1000.0));
    for v in values {
        on_every_isa(&isas, &format!("[{v:e}]"), &[v], |ctx, o| {
            for (alg, y) in &o.softmax {
                assert_eq!(y[0], 1.0, "{ctx} softmax/{}", alg.name());
            }
            assert_eq!(o.log_softmax[0], 0.0, "{ctx} log_softmax");
            assert_eq!(o.lse.to_bits(), v.to_bits(), "{ctx} logsumexp");
        });
    }
    on_every_isa(&isas, "[-inf]", &[f32::NEG_INFINITY], |ctx, o| {
        assert_nan_everywhere(ctx, o);
        assert_eq!(o.lse, f32::NEG_INFINITY, "{ctx}");
    });
    on_every_isa(&isas, "[NaN]", &[f32::NAN], |ctx, o| {
        assert_nan_everywhere(ctx, o);
        assert!(o.lse.is_nan(), "{ctx}");
    });
}
