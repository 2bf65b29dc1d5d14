//! Accuracy of every operation on every ISA against the f64 oracle (and against the scalar
//! ISA): every length 0..=300, misaligned slices, three input ranges, large rows, in place,
//! and the batched rows API.
//!
//! Bounds (the documented ones, see `tests/common/mod.rs`): softmax relative error <= `2^-21`
//! for outputs above 1e-30 and absolute error <= 1e-36 below; each softmax row sums to 1
//! within 1e-5 (sum taken in f64); log-softmax and log-sum-exp
//! `|err| <= 2^-21 * max(1, |exact|)`; every ISA within 4 ULP or 2e-6 relative of the scalar
//! ISA.
//!
//! `report_worst_errors` prints the measured worst errors per ISA, operation and algorithm
//! (run with `--nocapture` to see the table). `sixteen_million_elements` runs only in release
//! builds (`cargo test --release`); in a debug build run it with
//! `cargo test --test accuracy -- --ignored sixteen_million` (slow).

mod common;

use common::*;
use softmax::{Algorithm, Isa, Softmax};

/// One operation of the crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Softmax(Algorithm),
    LogSoftmax,
    LogSumExp,
}

impl Op {
    fn all() -> Vec<Op> {
        let mut v: Vec<Op> = Algorithm::ALL.iter().map(|&a| Op::Softmax(a)).collect();
        v.push(Op::LogSoftmax);
        v.push(Op::LogSumExp);
        v
    }

    fn softmaxes() -> Vec<Op> {
        Algorithm::ALL.iter().map(|&a| Op::Softmax(a)).collect()
    }

    fn name(self) -> String {
        match self {
            Op::Softmax(a) => format!("softmax/{}", a.name()),
            Op::LogSoftmax => "log_softmax".into(),
            Op::LogSumExp => "logsumexp".into(),
        }
    }

    /// Log-domain outputs (compared relative to `max(1, |v|)`).
    fn is_log(self) -> bool {
        !matches!(self, Op::Softmax(_))
    }
}

/// An input row with its exact results.
struct Row {
    x: Vec<f32>,
    softmax: Vec<f64>,
    log_softmax: Vec<f64>,
    lse: f64,
}

impl Row {
    fn new(x: Vec<f32>) -> Row {
        Row {
            softmax: oracle_softmax(&x),
            log_softmax: oracle_log_softmax(&x),
            lse: oracle_logsumexp(&x),
            x,
        }
    }
}

/// Runs `op` on `x`. Softmax and log-softmax write into `ybuf[yoff..yoff + n]` (the rest of
/// `ybuf` must stay untouched, which is checked); the outputs are returned as a vector
/// (log-sum-exp: one element).
fn run(sm: &Softmax, op: Op, ctx: &str, x: &[f32], yoff: usize) -> Vec<f32> {
    let n = x.len();
    let mut ybuf = vec![SENTINEL; yoff + n + 5];
    let y = &mut ybuf[yoff..yoff + n];
    match op {
        Op::Softmax(alg) => sm.softmax_with(x, y, alg).unwrap(),
        Op::LogSoftmax => sm.log_softmax(x, y).unwrap(),
        Op::LogSumExp => return vec![sm.logsumexp(x)],
    }
    assert_sentinels(ctx, &ybuf, yoff, yoff + n);
    ybuf[yoff..yoff + n].to_vec()
}

/// Measures `out` (the result of `op` on `row.x`) against the oracle.
fn measure(op: Op, ctx: &str, row: &Row, out: &[f32]) -> Worst {
    match op {
        Op::Softmax(_) => measure_softmax(ctx, &row.x, out, &row.softmax),
        Op::LogSoftmax => measure_log_softmax(ctx, &row.x, out, &row.log_softmax),
        Op::LogSumExp => measure_logsumexp(ctx, &row.x, out[0], row.lse),
    }
}

/// Worst errors per (ISA, operation).
#[derive(Default)]
struct Table {
    entries: Vec<((Isa, Op), Worst)>,
}

impl Table {
    fn add(&mut self, isa: Isa, op: Op, w: &Worst) {
        match self.entries.iter_mut().find(|(k, _)| *k == (isa, op)) {
            Some((_, e)) => e.merge(w),
            None => self.entries.push(((isa, op), w.clone())),
        }
    }

    fn get(&self, isa: Isa, op: Op) -> Option<&Worst> {
        self.entries
            .iter()
            .find(|(k, _)| *k == (isa, op))
            .map(|(_, w)| w)
    }

    fn assert_ok(&self, what: &str) {
        let mut total = Worst::default();
        for (_, w) in &self.entries {
            total.merge(w);
        }
        total.assert_ok(what);
    }
}

/// Runs `ops` on the given ISAs (from `supported_isas`) over rows of the given lengths,
/// uniform in each range.
/// The input is misaligned by `n % 8` floats and the output by `(3n + 1) % 8`; each ISA's
/// result is compared with the scalar ISA's; the input must stay unchanged. Bound violations
/// are collected in the table, not raised.
fn sweep(
    isas: &[(Isa, Softmax)],
    lengths: &[usize],
    ranges: &[(f32, f32)],
    ops: &[Op],
    seed: u64,
) -> Table {
    let mut rng = rng(seed);
    let mut table = Table::default();
    for &(lo, hi) in ranges {
        for &n in lengths {
            let row = Row::new(uniform(&mut rng, n, lo, hi));
            let (xoff, yoff) = (n % 8, (3 * n + 1) % 8);
            let xbuf = padded(&row.x, xoff, 3);
            let x = &xbuf[xoff..xoff + n];
            for &op in ops {
                let mut reference: Option<Vec<f32>> = None;
                for (isa, sm) in isas {
                    let ctx = format!("{} {} n={n} range=[{lo}, {hi}]", isa.name(), op.name());
                    let out = run(sm, op, &ctx, x, yoff);
                    table.add(*isa, op, &measure(op, &ctx, &row, &out));
                    match &reference {
                        None => reference = Some(out),
                        Some(r) => assert_close_to_scalar(&ctx, &out, r, op.is_log()),
                    }
                }
            }
            assert_sentinels(&format!("input n={n}"), &xbuf, xoff, xoff + n);
            assert_same_bits(&format!("input n={n} unchanged"), x, &row.x);
        }
    }
    table
}

const SMALL: std::ops::RangeInclusive<usize> = 0..=300;

/// The large rows: 4096 (two blocks), 65_537 (32 blocks + 1), 1_000_003 (beyond the L2 size
/// here; `Auto` picks reload or two-pass for it from this machine's last-level cache).
const LARGE: [usize; 3] = [4096, 65_537, 1_000_003];

fn small_lengths() -> Vec<usize> {
    SMALL.collect()
}

#[test]
fn softmax_every_algorithm_every_length() {
    sweep(
        &supported_isas("softmax_every_algorithm_every_length"),
        &small_lengths(),
        &RANGES,
        &Op::softmaxes(),
        1,
    )
    .assert_ok("softmax, lengths 0..=300");
}

#[test]
fn log_softmax_every_length() {
    sweep(
        &supported_isas("log_softmax_every_length"),
        &small_lengths(),
        &RANGES,
        &[Op::LogSoftmax],
        2,
    )
    .assert_ok("log_softmax, lengths 0..=300");
}

#[test]
fn logsumexp_every_length() {
    sweep(
        &supported_isas("logsumexp_every_length"),
        &small_lengths(),
        &RANGES,
        &[Op::LogSumExp],
        3,
    )
    .assert_ok("logsumexp, lengths 0..=300");
}

/// Every misalignment of input and output (1..7 floats) gives bit-identical results to the
/// aligned call, writes nothing outside the row, and reads nothing outside it (the padding is
/// NaN, which would poison the row).
#[test]
fn unaligned_slices_match_aligned() {
    let mut rng = rng(4);
    let lengths: Vec<usize> = (0..=40)
        .chain([63, 64, 65, 127, 129, 255, 300, 2049])
        .collect();
    for_each_isa("unaligned_slices_match_aligned", |isa, sm| {
        for &n in &lengths {
            let row = Row::new(uniform(&mut rng, n, -10.0, 10.0));
            for op in Op::all() {
                let ctx = format!("{} {} n={n}", isa.name(), op.name());
                let aligned = run(&sm, op, &ctx, &row.x, 0);
                measure(op, &ctx, &row, &aligned).assert_ok(&ctx);
                for xoff in 1..8 {
                    let xbuf = padded(&row.x, xoff, 8 - xoff);
                    let x = &xbuf[xoff..xoff + n];
                    for yoff in [0, 1, 3, 4, 7] {
                        let ctx = format!("{ctx} x offset {xoff} y offset {yoff}");
                        let out = run(&sm, op, &ctx, x, yoff);
                        assert_same_bits(&ctx, &out, &aligned);
                    }
                }
            }
        }
    });
}

/// Rows of 4096, 65_537 and 1_000_003 elements in [-10, 10] (and 65_537 in [-1000, 1000]):
/// every operation and algorithm on every ISA.
#[test]
fn large_rows() {
    large_rows_table(&supported_isas("large_rows")).assert_ok("large rows");
}

fn large_rows_table(isas: &[(Isa, Softmax)]) -> Table {
    let mut t = sweep(isas, &LARGE, &[(-10.0, 10.0)], &Op::all(), 5);
    let t2 = sweep(isas, &[65_537], &[(-1000.0, 1000.0)], &Op::all(), 6);
    for ((isa, op), w) in &t2.entries {
        t.add(*isa, *op, w);
    }
    t
}

/// Rows shaped to move the per-lane exponents of the two-pass sum (pass 1 of two-pass
/// softmax, log-softmax and log-sum-exp) at every point a row can: a rising ramp (the
/// exponents move again and again, across folding blocks), a falling ramp, late spikes far
/// above the rest, lanes that diverge by 1000, a lane of -inf, and maxima just inside the
/// fast path's `|max| < 131072`. Every operation on every ISA, against the oracle and the
/// scalar ISA.
#[test]
fn rows_that_move_the_exponents() {
    let mut rng = rng(12);
    let mut rows: Vec<(&str, Vec<f32>)> = Vec::new();
    rows.push((
        "rising",
        (0..5000).map(|i| -2000.0 + 0.75 * i as f32).collect(),
    ));
    rows.push((
        "rising steep",
        (0..700).map(|i| -30_000.0 + 90.0 * i as f32).collect(),
    ));
    rows.push((
        "falling",
        (0..5000).map(|i| 1750.0 - 0.75 * i as f32).collect(),
    ));
    let mut spikes = uniform(&mut rng, 12_000, -20.0, 0.0);
    spikes[3001] = 150.0;
    spikes[9000] = 5000.0;
    spikes[11_999] = 5001.0;
    rows.push(("late spikes", spikes));
    let lanes: Vec<f32> = uniform(&mut rng, 3000, -10.0, 10.0)
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if (i / 3) % 2 == 0 {
                v + 500.0
            } else {
                v - 500.0
            }
        })
        .collect();
    rows.push(("diverging lanes", lanes));
    let masked: Vec<f32> = uniform(&mut rng, 3001, -10.0, 10.0)
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % 8 == 3 { f32::NEG_INFINITY } else { v })
        .collect();
    rows.push(("a lane of -inf", masked));
    // A plateau, then jumps of 60 to 150 above it: a lane set by the plateau must move
    // before adding any of them (the largest term a lane can hold is 2^127 of its unit).
    for jump in [60.0f32, 90.0, 112.3, 150.0] {
        let mut x = uniform(&mut rng, 1500, -0.01, 0.0);
        x.extend(uniform(&mut rng, 700, jump - 0.01, jump));
        rows.push(("plateau and jump", x));
    }
    rows.push((
        "near +131072",
        uniform(&mut rng, 2500, 130_900.0, 131_071.0),
    ));
    rows.push((
        "near -131072",
        uniform(&mut rng, 2500, -131_071.0, -130_950.0),
    ));
    let isas = supported_isas("rows_that_move_the_exponents");
    let mut table = Table::default();
    for (name, x) in rows {
        let row = Row::new(x);
        for op in Op::all() {
            let mut reference: Option<Vec<f32>> = None;
            for (isa, sm) in &isas {
                let ctx = format!("{} {} {name}", isa.name(), op.name());
                let out = run(sm, op, &ctx, &row.x, 1);
                table.add(*isa, op, &measure(op, &ctx, &row, &out));
                match &reference {
                    None => reference = Some(out),
                    Some(r) => assert_close_to_scalar(&ctx, &out, r, op.is_log()),
                }
            }
        }
    }
    table.assert_ok("rows that move the exponents");
}

/// Prints the worst errors measured per ISA, operation and algorithm, over all lengths
/// 0..=300 in the three ranges, and over the large rows; then asserts the bounds. Run with
/// `cargo test --test accuracy report_worst_errors -- --nocapture` to see the table.
#[test]
fn report_worst_errors() {
    let test = "report_worst_errors";
    let isas = supported_isas(test);
    let small = sweep(&isas, &small_lengths(), &RANGES, &Op::all(), 7);
    let large = large_rows_table(&isas);
    println!();
    println!("WORST ERRORS against the f64 oracle (rel: softmax |err|/exact for exact > 1e-30;");
    println!("  log_softmax and logsumexp |err|/max(1,|exact|); ulp: distance to the exact value");
    println!("  rounded to f32 (softmax: exact > 1e-30, log_softmax: |exact| >= 1); sum: max |row");
    println!("  sum - 1|; tiny: max abs err of softmax outputs <= 1e-30)");
    println!(
        "  small = every length 0..=300 x ranges [-10,10] [-1000,1000] [90,100]; large = n in {LARGE:?} at [-10,10] + 65537 at [-1000,1000]"
    );
    println!(
        "{:<32} {:<7} | {:>9} {:>5} {:>9} {:>9} | {:>9} {:>5} {:>9}",
        "op", "isa", "small rel", "ulp", "sum", "tiny", "large rel", "ulp", "sum"
    );
    for &(isa, _) in &isas {
        for op in Op::all() {
            let s = small.get(isa, op).cloned().unwrap_or_default();
            let l = large.get(isa, op).cloned().unwrap_or_default();
            let sum = |w: &Worst| {
                if matches!(op, Op::Softmax(_)) {
                    format!("{:>9.2e}", w.sum_dev)
                } else {
                    format!("{:>9}", "-")
                }
            };
            let tiny = if matches!(op, Op::Softmax(_)) {
                format!("{:>9.2e}", s.tiny_abs)
            } else {
                format!("{:>9}", "-")
            };
            println!(
                "{:<32} {:<7} | {:>9.2e} {:>5} {} {} | {:>9.2e} {:>5} {}",
                op.name(),
                isa.name(),
                s.rel,
                s.ulp,
                sum(&s),
                tiny,
                l.rel,
                l.ulp,
                sum(&l)
            );
        }
    }
    small.assert_ok("report (lengths 0..=300)");
    large.assert_ok("report (large rows)");
}

/// 16,777,216 elements in [-10, 10]: maximum relative error <= 2e-6 for every algorithm on
/// every ISA (the output crosses the non-temporal-store threshold and is misaligned by 3
/// floats, so the streaming head is exercised too), plus log-softmax and log-sum-exp, and
/// in place (misaligned by 5 floats) bit-identical to out of place.
/// Release builds only (`cargo test --release`): a minute or more with debug assertions.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "16M elements: runs in `cargo test --release`; in debug use `-- --ignored` (slow)"
)]
fn sixteen_million_elements() {
    const N: usize = 1 << 24;
    let test = "sixteen_million_elements";
    let mut rng = rng(8);
    let row = Row::new(uniform(&mut rng, N, -10.0, 10.0));
    let mut worst = Worst::default();
    let mut ybuf = vec![SENTINEL; N + 8];
    let isas = supported_isas(test);
    for (isa, sm) in &isas {
        for op in Op::all() {
            let ctx = format!("{} {} n={N}", isa.name(), op.name());
            let out: Vec<f32> = {
                ybuf.fill(SENTINEL);
                let y = &mut ybuf[3..3 + N];
                match op {
                    Op::Softmax(alg) => sm.softmax_with(&row.x, y, alg).unwrap(),
                    Op::LogSoftmax => sm.log_softmax(&row.x, y).unwrap(),
                    Op::LogSumExp => {}
                }
                if op == Op::LogSumExp {
                    vec![sm.logsumexp(&row.x)]
                } else {
                    assert_sentinels(&ctx, &ybuf, 3, 3 + N);
                    ybuf[3..3 + N].to_vec()
                }
            };
            let w = measure(op, &ctx, &row, &out);
            println!(
                "16M {:<32} {:<7} rel {:.2e} ulp {} sum {:.2e}",
                op.name(),
                isa.name(),
                w.rel,
                w.ulp,
                w.sum_dev
            );
            if let Op::Softmax(_) = op {
                assert!(w.rel <= 2e-6, "{ctx}: max relative error {:.3e}", w.rel);
            }
            worst.merge(&w);
        }
    }
    // In place, misaligned by 5 floats: bit-identical to the out-of-place result.
    for (isa, sm) in supported_isas(test) {
        for alg in [
            Algorithm::Auto,
            Algorithm::ThreePassRecompute,
            Algorithm::TwoPass,
        ] {
            let ctx = format!("{} softmax/{} in place n={N}", isa.name(), alg.name());
            let mut want = vec![0.0f32; N];
            sm.softmax_with(&row.x, &mut want, alg).unwrap();
            ybuf.fill(SENTINEL);
            ybuf[5..5 + N].copy_from_slice(&row.x);
            sm.softmax_in_place_with(&mut ybuf[5..5 + N], alg);
            assert_sentinels(&ctx, &ybuf, 5, 5 + N);
            assert_same_bits(&ctx, &ybuf[5..5 + N], &want);
        }
    }
    worst.assert_ok("16M elements");
}

/// In place (`softmax_in_place_with`, `log_softmax_in_place`): bit-identical to the
/// out-of-place call, nothing outside the row written, for lengths 0..=300 and a few large.
#[test]
fn in_place_matches_out_of_place() {
    let mut rng = rng(9);
    let lengths: Vec<usize> = (0..=300).chain([2048, 4097, 65_537]).collect();
    for_each_isa("in_place_matches_out_of_place", |isa, sm| {
        for &n in &lengths {
            let row = Row::new(uniform(&mut rng, n, -50.0, 50.0));
            let off = (n * 5) % 8;
            for op in [Op::LogSoftmax].into_iter().chain(Op::softmaxes()) {
                let ctx = format!("{} {} in place n={n}", isa.name(), op.name());
                let want = run(&sm, op, &ctx, &row.x, 0);
                let mut buf = padded(&row.x, off, 4);
                match op {
                    Op::Softmax(Algorithm::Auto) if n % 2 == 0 => {
                        sm.softmax_in_place(&mut buf[off..off + n])
                    }
                    Op::Softmax(alg) => sm.softmax_in_place_with(&mut buf[off..off + n], alg),
                    Op::LogSoftmax => sm.log_softmax_in_place(&mut buf[off..off + n]),
                    Op::LogSumExp => unreachable!(),
                }
                assert_sentinels(&ctx, &buf, off, off + n);
                assert_same_bits(&ctx, &buf[off..off + n], &want);
                measure(op, &ctx, &row, &want).assert_ok(&ctx);
            }
        }
    });
}

/// The rows API with strides larger than the row: every row matches the single-row call
/// bitwise and the oracle, the gaps between rows of `y` (and the tail past the last row) are
/// untouched, and the gaps of `x` (NaN) are never read.
#[test]
fn rows_api_with_gaps() {
    let mut rng = rng(10);
    let shapes = [
        (1, 1, 0, 0),
        (3, 0, 2, 1),
        (4, 1, 1, 3),
        (5, 7, 1, 9),
        (6, 8, 8, 0),
        (3, 9, 3, 7),
        (7, 33, 5, 1),
        (3, 300, 13, 4),
        (2, 2100, 1, 6),
    ];
    for_each_isa("rows_api_with_gaps", |isa, sm| {
        for &(rows, cols, xgap, ygap) in &shapes {
            let (xs, ys) = (cols + xgap, cols + ygap);
            // Input: rows at r * xs, NaN (SENTINEL) in the gaps.
            let mut x = vec![SENTINEL; rows * xs + 2];
            let mut inputs = Vec::new();
            for r in 0..rows {
                let v = uniform(&mut rng, cols, -20.0, 20.0);
                x[r * xs..r * xs + cols].copy_from_slice(&v);
                inputs.push(Row::new(v));
            }
            for op in [Op::LogSoftmax].into_iter().chain(Op::softmaxes()) {
                let ctx = format!(
                    "{} {} rows={rows} cols={cols} x_stride={xs} y_stride={ys}",
                    isa.name(),
                    op.name()
                );
                let mut y = vec![SENTINEL; rows * ys + 3];
                match op {
                    Op::Softmax(alg) => sm
                        .softmax_rows(&x, xs, &mut y, ys, rows, cols, alg)
                        .unwrap(),
                    Op::LogSoftmax => sm.log_softmax_rows(&x, xs, &mut y, ys, rows, cols).unwrap(),
                    Op::LogSumExp => unreachable!(),
                }
                // In place, same layout as x.
                let mut xy = x.clone();
                match op {
                    Op::Softmax(alg) => sm
                        .softmax_rows_in_place(&mut xy, xs, rows, cols, alg)
                        .unwrap(),
                    Op::LogSoftmax => sm
                        .log_softmax_rows_in_place(&mut xy, xs, rows, cols)
                        .unwrap(),
                    Op::LogSumExp => unreachable!(),
                }
                for (r, row) in inputs.iter().enumerate() {
                    let ctx = format!("{ctx} row {r}");
                    let want = run(&sm, op, &ctx, &row.x, 0);
                    assert_same_bits(&ctx, &y[r * ys..r * ys + cols], &want);
                    assert_same_bits(
                        &format!("{ctx} in place"),
                        &xy[r * xs..r * xs + cols],
                        &want,
                    );
                    measure(op, &ctx, row, &want).assert_ok(&ctx);
                    // Gap after this row (and the tail after the last row) untouched.
                    let yend = if r + 1 == rows { y.len() } else { (r + 1) * ys };
                    assert_sentinels(&format!("{ctx} y gap"), &y[r * ys + cols..yend], 0, 0);
                    let xend = if r + 1 == rows {
                        xy.len()
                    } else {
                        (r + 1) * xs
                    };
                    assert_sentinels(
                        &format!("{ctx} in-place gap"),
                        &xy[r * xs + cols..xend],
                        0,
                        0,
                    );
                }
            }
        }
    });
}

/// The free rows functions use the current ISA and agree with it bit for bit.
#[test]
fn free_rows_functions_match_softmax_new() {
    let mut rng = rng(11);
    let (rows, cols, stride) = (4, 37, 40);
    let x: Vec<f32> = uniform(&mut rng, rows * stride, -5.0, 5.0);
    let sm = Softmax::new();
    for alg in Algorithm::ALL {
        let mut a = vec![SENTINEL; rows * stride];
        let mut b = vec![SENTINEL; rows * stride];
        softmax::softmax_rows(&x, stride, &mut a, stride, rows, cols, alg).unwrap();
        sm.softmax_rows(&x, stride, &mut b, stride, rows, cols, alg)
            .unwrap();
        assert_same_bits(alg.name(), &a, &b);
    }
    let mut a = vec![SENTINEL; rows * stride];
    let mut b = vec![SENTINEL; rows * stride];
    softmax::log_softmax_rows(&x, stride, &mut a, stride, rows, cols).unwrap();
    sm.log_softmax_rows(&x, stride, &mut b, stride, rows, cols)
        .unwrap();
    assert_same_bits("log_softmax_rows", &a, &b);
}
