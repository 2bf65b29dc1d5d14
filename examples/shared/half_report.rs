//! The report's 16-bit section: f16 and bf16 rows against f32 rows of the same values, in
//! interleaved rounds (each round times every format once per case; medians over the rounds),
//! with the ratio of elements/ns to f32's; then how many outputs are exactly the correctly
//! rounded value, and the worst distance in ULP, against an f64 oracle.

use std::hint::black_box;
use std::time::Instant;

use softmax::{bf16, f16, Algorithm, Element, Isa, Softmax};

/// Seconds per call: the fastest of `reps` calls after one warm-up call.
fn secs(reps: usize, f: &mut dyn FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// One timed case: an operation on `rows` rows of `cols` (the backward pass and the
/// cross-entropy on one row).
#[derive(Clone, Copy)]
struct Case {
    op: &'static str,
    rows: usize,
    cols: usize,
}

/// Times one call of the case on rows of type `T` (inputs `x`, outputs `y`).
fn call<T: Element>(sm: &Softmax, c: Case, x: &[T], y: &mut [T], lse: &mut [f32]) {
    let n = c.rows * c.cols;
    match (c.op, c.rows) {
        ("softmax", 1) => sm.softmax(&x[..n], &mut y[..n]).unwrap(),
        ("softmax", _) => sm
            .softmax_rows(x, c.cols, y, c.cols, c.rows, c.cols, Algorithm::Auto)
            .unwrap(),
        ("two-pass softmax", _) => sm
            .softmax_with(&x[..n], &mut y[..n], Algorithm::TwoPass)
            .unwrap(),
        // An attention-style scale (1/sqrt(64)).
        ("scaled softmax", _) => sm.softmax_scaled(&x[..n], &mut y[..n], 0.125).unwrap(),
        ("log-softmax", _) => sm.log_softmax(&x[..n], &mut y[..n]).unwrap(),
        // The inputs serve as both `y` and `dy`: the cost does not depend on the values.
        ("softmax backward", _) => sm.softmax_backward(&x[..n], &x[..n], &mut y[..n]).unwrap(),
        ("cross-entropy+grad", _) => {
            black_box(
                sm.cross_entropy_with_grad(&x[..n], n / 2, &mut y[..n])
                    .unwrap(),
            );
        }
        (_, 1) => {
            black_box(sm.logsumexp(&x[..n]));
        }
        _ => sm
            .logsumexp_rows(x, c.cols, c.rows, c.cols, &mut lse[..c.rows])
            .unwrap(),
    }
}

/// The 16-bit section of the report, on each ISA of `isas`.
pub fn half_report(
    smoke: bool,
    quick: bool,
    isas: &[Isa],
    inputs: impl Fn(usize, u64) -> Vec<f32>,
) {
    let (rounds, big) = if smoke {
        (1, 1 << 18)
    } else if quick {
        (3, 16 << 20)
    } else {
        (5, 16 << 20)
    };
    let one = |op, cols| Case { op, rows: 1, cols };
    let batch = |op, rows, cols| Case { op, rows, cols };
    let mut cases = vec![
        one("softmax", 4096),
        one("log-softmax", 4096),
        one("log-sum-exp", 4096),
        one("softmax", big),
        one("log-softmax", big),
        one("log-sum-exp", big),
        // Two-pass in L2 and out of cache: whether memory or arithmetic sets the 16M rows'
        // speed (what 16-bit rows can gain there).
        one("two-pass softmax", 64 << 10),
        one("two-pass softmax", big),
        one("scaled softmax", 4096),
        one("scaled softmax", big),
        one("softmax backward", 4096),
        one("softmax backward", big),
        one("cross-entropy+grad", 4096),
        one("cross-entropy+grad", 32_000),
    ];
    for (r, c) in [
        (4096, 64),
        (2048, 128),
        (512, 1000),
        (64, 32_000),
        (8, 128_256),
    ] {
        cases.push(batch("softmax", r, c));
        cases.push(batch("log-sum-exp", r, c));
    }
    let most = cases.iter().map(|c| c.rows * c.cols).max().unwrap_or(0);
    let xf = inputs(most, 17);
    let xb: Vec<bf16> = xf.iter().map(|&v| bf16::from_f32(v)).collect();
    let xh: Vec<f16> = xf.iter().map(|&v| f16::from_f32(v)).collect();
    // The f32 rows hold the bf16 values, so all formats see the same data (bf16 inputs in
    // [-10, 10] are exact in f16 too except below 2^-14).
    let xf: Vec<f32> = xb.iter().map(|v| v.to_f32()).collect();
    let (mut yf, mut yb, mut yh) = (
        vec![0.0f32; most],
        vec![bf16::ZERO; most],
        vec![f16::ZERO; most],
    );
    let mut lse = vec![0.0f32; 8192];
    for &isa in isas {
        let sm = Softmax::with_isa(isa).expect("a measured ISA");
        println!();
        println!(
            "16-bit rows, ISA {} (elements/ns; in parentheses the ratio to f32 in the same rounds; \
             {rounds} interleaved rounds)",
            isa.name()
        );
        println!("{:<34}{:>10}{:>18}{:>18}", "case", "f32", "bf16", "f16");
        for &c in &cases {
            let n = c.rows * c.cols;
            let reps = (((1 << 24) / n.max(1)).clamp(3, 2000)) / if smoke { 10 } else { 1 };
            let reps = reps.max(1);
            let mut t = [Vec::new(), Vec::new(), Vec::new()];
            for _ in 0..rounds {
                t[0].push(secs(reps, &mut || {
                    call(&sm, c, &xf[..n], &mut yf[..n], &mut lse)
                }));
                t[1].push(secs(reps, &mut || {
                    call(&sm, c, &xb[..n], &mut yb[..n], &mut lse)
                }));
                t[2].push(secs(reps, &mut || {
                    call(&sm, c, &xh[..n], &mut yh[..n], &mut lse)
                }));
            }
            let med: Vec<f64> = t
                .iter_mut()
                .map(|v| {
                    v.sort_by(|a, b| a.total_cmp(b));
                    v[v.len() / 2]
                })
                .collect();
            let rate = |s: f64| n as f64 / (s * 1e9);
            let name = if c.rows == 1 {
                format!("{} {}", c.op, size_name(c.cols))
            } else {
                format!("{} {} x {}", c.op, c.rows, c.cols)
            };
            println!(
                "{name:<34}{:>10.2}{:>10.2} ({:>4.2}x){:>10.2} ({:>4.2}x)",
                rate(med[0]),
                rate(med[1]),
                med[0] / med[1],
                rate(med[2]),
                med[0] / med[2]
            );
        }
        accuracy::<bf16>(&sm, &inputs);
        accuracy::<f16>(&sm, &inputs);
    }
}

fn size_name(n: usize) -> String {
    match n {
        _ if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{}M", n >> 20),
        _ if n >= 1024 && n.is_multiple_of(1024) => format!("{}K", n >> 10),
        _ => n.to_string(),
    }
}

/// Correctly rounded share and worst ULP distance of softmax and log-softmax outputs of the
/// format, against the f64 oracle of the rounded inputs (rows of 4096 and 1M).
fn accuracy<T: Bits>(sm: &Softmax, inputs: &impl Fn(usize, u64) -> Vec<f32>) {
    for n in [4096usize, 1 << 20] {
        let x: Vec<T> = inputs(n, 3).into_iter().map(T::from_f32).collect();
        let w: Vec<f64> = x.iter().map(|v| v.to_f32() as f64).collect();
        let m = w.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let s: f64 = w.iter().map(|v| (v - m).exp()).sum();
        let mut y = vec![T::default(); n];
        for log in [false, true] {
            if log {
                sm.log_softmax(&x, &mut y).unwrap();
            } else {
                sm.softmax(&x, &mut y).unwrap();
            }
            let (mut exact, mut worst) = (0usize, 0u32);
            for (yi, wi) in y.iter().zip(&w) {
                let e = if log {
                    (wi - m) - s.ln()
                } else {
                    (wi - m).exp() / s
                };
                // The value of the format nearest to e (f64 -> f32 -> format is a double
                // rounding, so take the nearer of the two neighbours of the f32 value).
                let f = e as f32;
                let a = T::from_f32(f);
                let cands = [a, step(a, -1), step(a, 1)];
                let best = cands
                    .into_iter()
                    .min_by(|p, q| {
                        (p.to_f32() as f64 - e)
                            .abs()
                            .total_cmp(&(q.to_f32() as f64 - e).abs())
                    })
                    .unwrap_or(a);
                let d = ulps(*yi, best);
                exact += usize::from(d == 0);
                worst = worst.max(d);
            }
            println!(
                "{} {} n={}: {:.3}% of outputs correctly rounded, worst {} ULP",
                T::NAME,
                if log { "log-softmax" } else { "softmax" },
                size_name(n),
                100.0 * exact as f64 / n as f64,
                worst
            );
        }
    }
}

/// The bit patterns of a 16-bit format.
pub trait Bits: Element {
    fn bits(self) -> u16;
    fn of_bits(b: u16) -> Self;
}

impl Bits for bf16 {
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn of_bits(b: u16) -> Self {
        bf16::from_bits(b)
    }
}

impl Bits for f16 {
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn of_bits(b: u16) -> Self {
        f16::from_bits(b)
    }
}

/// `b` as a position on a line where neighbouring values differ by 1.
fn ordinal(b: u16) -> i32 {
    if b & 0x8000 != 0 {
        -i32::from(b & 0x7fff)
    } else {
        i32::from(b)
    }
}

/// The neighbour `d` (+1 or -1) steps away along the format's ordered values.
fn step<T: Bits>(v: T, d: i32) -> T {
    let o = ordinal(v.bits()) + d;
    T::of_bits(if o < 0 {
        0x8000 | (-o) as u16
    } else {
        o as u16
    })
}

/// ULP distance between two values of the format.
fn ulps<T: Bits>(a: T, b: T) -> u32 {
    (ordinal(a.bits()) - ordinal(b.bits())).unsigned_abs()
}
