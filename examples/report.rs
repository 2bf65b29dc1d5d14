//! The throughput report: every ISA this CPU runs, every algorithm, row sizes from 64 to 16M
//! floats, next to the memory-bandwidth bound measured in the same run.
//!
//! ```text
//! cargo run --release --example report            # full report (about two minutes)
//! cargo run --release --example report -- --quick # fewer sizes and samples
//! cargo run --release --example report -- --smoke # seconds; checks every row still runs
//! cargo run --release --example report -- --stablemax # only StableMax next to softmax
//! ```
//!
//! Figures are medians of several samples, in elements per nanosecond (higher is better)
//! unless marked ns. Absolute numbers swing with the machine's load; compare ratios taken from
//! one run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use softmax::{Algorithm, Isa, Softmax};

struct Opts {
    samples: usize,
    min_sample: Duration,
    sizes: Vec<usize>,
}

fn inputs(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 20.0 - 10.0
        })
        .collect()
}

/// Median seconds per call of `f`.
fn time(opts: &Opts, mut f: impl FnMut()) -> f64 {
    f();
    let t0 = Instant::now();
    f();
    let one = t0.elapsed().max(Duration::from_nanos(1));
    let reps = (opts.min_sample.as_nanos() / one.as_nanos()).clamp(1, 1_000_000) as usize;
    let mut samples: Vec<f64> = (0..opts.samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / (secs * 1e9)
}

/// A streaming read of `x` (sum with independent accumulators, so memory is the limit).
fn stream_read(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = x.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += *v;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

struct Bound {
    read: f64,
    copy: f64,
}

fn bandwidth(opts: &Opts, n: usize) -> Bound {
    let x = inputs(n, 7);
    let mut y = vec![0.0f32; n];
    let read = time(opts, || {
        black_box(stream_read(black_box(&x)));
    });
    let copy = time(opts, || {
        y.copy_from_slice(black_box(&x));
        black_box(&mut y);
    });
    Bound { read, copy }
}

/// One line of the table: a label and the operation, given the input, a second input and
/// the output buffer.
type Op<'a> = (String, Box<dyn FnMut(&[f32], &[f32], &mut [f32]) + 'a>);

/// Measured rates of one operation on one ISA: `(n, elements per ns)` per size.
type Rates = (Isa, String, Vec<(usize, f64)>);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let opts = if has("--smoke") {
        // A seconds-long pass over every row of the report (CI runs it to keep it working).
        Opts {
            samples: 1,
            min_sample: Duration::from_micros(200),
            sizes: vec![64, 4096, 1 << 18],
        }
    } else if has("--quick") {
        Opts {
            samples: 3,
            min_sample: Duration::from_millis(10),
            sizes: vec![64, 4096, 262_144, 16 << 20],
        }
    } else {
        Opts {
            samples: 7,
            min_sample: Duration::from_millis(20),
            sizes: vec![
                64,
                256,
                1024,
                4096,
                16_384,
                65_536,
                262_144,
                1 << 20,
                4 << 20,
                16 << 20,
            ],
        }
    };
    if has("--stablemax") {
        return stablemax_report(&opts, has("--smoke"));
    }
    let isas: Vec<Isa> = Isa::ALL.into_iter().filter(|i| i.is_supported()).collect();
    println!("softmax {} throughput report", env!("CARGO_PKG_VERSION"));
    println!(
        "default ISA: {} (override with SOFTMAX_ISA); ISAs run here: {}",
        softmax::current_isa().name(),
        isas.iter().map(|i| i.name()).collect::<Vec<_>>().join(", ")
    );
    for isa in Isa::ALL.into_iter().filter(|i| !i.is_supported()) {
        println!("{}: not available on this CPU (skipped)", isa.name());
    }
    println!("figures: median elements/ns (higher is better) unless marked ns\n");

    let big = *opts.sizes.last().unwrap();
    let bound = bandwidth(&opts, big);
    println!(
        "memory at {big} floats: streaming read {:.2} el/ns ({:.1} GB/s), memcpy {:.2} el/ns ({:.1} GB/s read+write)",
        rate(big, bound.read),
        big as f64 * 4.0 / bound.read / 1e9,
        rate(big, bound.copy),
        big as f64 * 8.0 / bound.copy / 1e9,
    );
    // Bounds as "reads + copies" of the row, each timed above.
    let bound_of = |reads: f64, copies: f64| rate(big, reads * bound.read + copies * bound.copy);
    println!(
        "bounds: two-pass softmax / loss+gradient (1 read + 1 memcpy) {:.2} el/ns; \
         softmax backward (3 reads + 1 memcpy) {:.2}; log-softmax backward (2 reads + 1 memcpy) {:.2}\n",
        bound_of(1.0, 1.0),
        bound_of(3.0, 1.0),
        bound_of(2.0, 1.0)
    );

    let algs = [
        Algorithm::ThreePassRecompute,
        Algorithm::ThreePassReload,
        Algorithm::TwoPass,
        Algorithm::TwoPassBlocked,
        Algorithm::Auto,
    ];
    let mut results: Vec<Rates> = Vec::new();
    for &isa in &isas {
        let sm = Softmax::with_isa(isa).unwrap();
        println!("== {} ==", isa.name());
        print!("{:>22}", "n");
        for &n in &opts.sizes {
            print!("{n:>10}");
        }
        println!();
        let mut ops: Vec<Op> = Vec::new();
        for alg in algs {
            ops.push((
                alg.name().into(),
                Box::new(move |x, _, y| sm.softmax_with(x, y, alg).unwrap()),
            ));
        }
        ops.push((
            "log-softmax".into(),
            Box::new(|x, _, y| sm.log_softmax(x, y).unwrap()),
        ));
        ops.push((
            "log-sum-exp".into(),
            Box::new(|x, _, _| {
                black_box(sm.logsumexp(x));
            }),
        ));
        ops.push((
            "cross-entropy".into(),
            Box::new(|x, _, _| {
                black_box(sm.cross_entropy(x, x.len() / 2).unwrap());
            }),
        ));
        ops.push((
            "cross-entropy+grad".into(),
            Box::new(|x, _, y| {
                black_box(sm.cross_entropy_with_grad(x, x.len() / 2, y).unwrap());
            }),
        ));
        ops.push((
            "softmax-backward".into(),
            Box::new(|x, d, y| sm.softmax_backward(x, d, y).unwrap()),
        ));
        ops.push((
            "log-softmax-backward".into(),
            Box::new(|x, d, y| sm.log_softmax_backward(x, d, y).unwrap()),
        ));
        for (label, mut f) in ops {
            print!("{label:>22}");
            let mut rates = Vec::new();
            for &n in &opts.sizes {
                let x = inputs(n, n as u64);
                let d = inputs(n, n as u64 + 1);
                let mut y = vec![0.0f32; n];
                let t = time(&opts, || f(black_box(&x), black_box(&d), black_box(&mut y)));
                print!("{:>10.3}", rate(n, t));
                rates.push((n, rate(n, t)));
                use std::io::Write;
                std::io::stdout().flush().ok();
            }
            println!();
            results.push((isa, label, rates));
        }
        println!();
    }

    // Headline figures per SIMD ISA, as ratios within this run.
    for &isa in isas.iter().filter(|&&i| i != Isa::Scalar) {
        let get = |name: &str, n: usize| {
            results
                .iter()
                .find(|(i, a, _)| *i == isa && a == name)
                .and_then(|(_, _, r)| r.iter().find(|(m, _)| *m == n).map(|(_, v)| *v))
                .unwrap_or(f64::NAN)
        };
        println!("== headline figures: {} ==", isa.name());
        let two = bound_of(1.0, 1.0);
        let reload = get("three-pass-reload", big);
        for alg in ["two-pass", "two-pass-blocked"] {
            let v = get(alg, big);
            println!(
                "n={big}: {alg} {v:.3} el/ns = {:.0}% of its bound, {:.2}x three-pass reload",
                100.0 * v / two,
                v / reload
            );
        }
        let best_big = algs.iter().map(|a| get(a.name(), big)).fold(0.0, f64::max);
        println!(
            "n={big}: best softmax {best_big:.3} el/ns; log-sum-exp {:.3} el/ns",
            get("log-sum-exp", big)
        );
        if opts.sizes.contains(&4096) {
            let best = algs.iter().map(|a| get(a.name(), 4096)).fold(0.0, f64::max);
            println!(
                "n=4096: best softmax {best:.3} el/ns; log-sum-exp {:.3} el/ns",
                get("log-sum-exp", 4096)
            );
        }
        let ce = get("cross-entropy", big);
        println!(
            "n={big}: cross-entropy loss {ce:.3} el/ns = {:.0}% of log-sum-exp; with gradient {:.0}% of its bound",
            100.0 * ce / get("log-sum-exp", big),
            100.0 * get("cross-entropy+grad", big) / two
        );
        println!(
            "n={big}: softmax backward {:.0}% of its bound, log-softmax backward {:.0}% of its bound",
            100.0 * get("softmax-backward", big) / bound_of(3.0, 1.0),
            100.0 * get("log-softmax-backward", big) / bound_of(2.0, 1.0)
        );
    }
    println!();
    for n in [1usize, 64] {
        let x = inputs(n, 3);
        let mut y = vec![0.0f32; n];
        let t = time(&opts, || {
            // SAFETY: x and y are valid for n elements and do not overlap.
            let s = unsafe { softmax::ffi::softmax_f32(black_box(x.as_ptr()), y.as_mut_ptr(), n) };
            black_box(s);
        });
        println!(
            "n={n}: {:.1} ns per softmax_f32 call through the C ABI ({})",
            t * 1e9,
            softmax::current_isa().name()
        );
    }
    sharded_rows_report(has("--smoke"));
    println!();
    stablemax_report(&opts, has("--smoke"));
}

/// Sharded and streamed rows: the state of a chunk against `logsumexp` (one read each), and
/// the normalise pass against the output pass of two-pass softmax (derived as two-pass
/// softmax minus log-sum-exp, its pass 1), per ISA, at 4096 and 16M floats. Self-contained:
/// its own inputs, timer (interleaved rounds, medians) and output.
fn sharded_rows_report(smoke: bool) {
    use softmax::LseState;
    fn xorshift_row(n: usize) -> Vec<f32> {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 * 20.0 - 10.0
            })
            .collect()
    }
    /// Seconds per call of `reps` calls timed together (so the clock's own cost, tens of ns
    /// in a VM, does not add to each call), the best of three such samples.
    fn per_call(reps: usize, f: &mut dyn FnMut()) -> f64 {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                t.elapsed().as_secs_f64() / reps as f64
            })
            .fold(f64::INFINITY, f64::min)
    }
    let (sizes, rounds): (&[usize], usize) = if smoke {
        (&[4096, 1 << 18], 3)
    } else {
        (&[4096, 16 << 20], 15)
    };
    println!();
    println!("sharded and streamed rows (el/ns, medians of {rounds} interleaved rounds):");
    for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
        let sm = Softmax::with_isa(isa).expect("supported");
        for &n in sizes {
            let x = xorshift_row(n);
            let mut y = vec![0.0f32; n];
            let lse = sm.logsumexp(&x);
            let reps = (2_000_000 / n).clamp(1, 500);
            let mut t = [const { Vec::new() }; 4];
            for _ in 0..rounds {
                t[0].push(per_call(reps, &mut || {
                    black_box(sm.logsumexp(black_box(&x)));
                }));
                t[1].push(per_call(reps, &mut || {
                    let mut st = LseState::EMPTY;
                    sm.logsumexp_accumulate(black_box(&x), &mut st);
                    black_box(st);
                }));
                t[2].push(per_call(reps, &mut || {
                    sm.softmax_with(black_box(&x), &mut y, Algorithm::TwoPass)
                        .expect("equal lengths");
                    black_box(&mut y);
                }));
                t[3].push(per_call(reps, &mut || {
                    sm.normalize(black_box(&x), &mut y, lse)
                        .expect("equal lengths");
                    black_box(&mut y);
                }));
            }
            let med = |v: &mut Vec<f64>| {
                v.sort_by(|a, b| a.total_cmp(b));
                v[v.len() / 2]
            };
            let [lse_t, acc_t, two_t, norm_t] = t.map(|mut v| med(&mut v));
            let el = |secs: f64| n as f64 / (secs * 1e9);
            let pass2 = two_t - lse_t;
            println!(
                "  {:<7} n={n:<9} accumulate {:.2} vs logsumexp {:.2} ({:.2}x); normalize {:.2} vs \
                 two-pass output pass {:.2} ({:.2}x); state + normalize {:.2} vs two-pass softmax \
                 {:.2} ({:.2}x)",
                isa.name(),
                el(acc_t),
                el(lse_t),
                lse_t / acc_t,
                el(norm_t),
                el(pass2),
                pass2 / norm_t,
                el(acc_t + norm_t),
                el(two_t),
                two_t / (acc_t + norm_t),
            );
        }
    }
}

/// StableMax next to softmax: every operation pair measured interleaved on the same input
/// (five alternating rounds, the median round kept), per ISA, at 64, 4096, 64K and 16M floats (16M left out with
/// `--smoke`), in elements/ns, with the StableMax/softmax ratio.
fn stablemax_report(opts: &Opts, smoke: bool) {
    type Pair<'a> = (&'a str, Box<dyn Fn(&[f32], &[f32], &mut [f32]) + 'a>);
    let sizes: &[usize] = if smoke {
        &[64, 4096, 65_536]
    } else {
        &[64, 4096, 65_536, 16 << 20]
    };
    println!("== StableMax next to softmax (elements/ns, median; ratio = stablemax / softmax) ==");
    for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
        let sm = Softmax::with_isa(isa).unwrap();
        println!("-- {} --", isa.name());
        print!("{:>34}", "n");
        for &n in sizes {
            print!("{n:>26}");
        }
        println!();
        let pairs: Vec<(Pair, Pair)> = vec![
            (
                (
                    "softmax (auto)",
                    Box::new(|x, _, y| sm.softmax(x, y).unwrap()),
                ),
                ("stablemax", Box::new(|x, _, y| sm.stablemax(x, y).unwrap())),
            ),
            (
                (
                    "log-softmax",
                    Box::new(|x, _, y| sm.log_softmax(x, y).unwrap()),
                ),
                (
                    "log-stablemax",
                    Box::new(|x, _, y| sm.log_stablemax(x, y).unwrap()),
                ),
            ),
            (
                (
                    "cross-entropy",
                    Box::new(|x, _, _| {
                        black_box(sm.cross_entropy(x, x.len() / 2).unwrap());
                    }),
                ),
                (
                    "stablemax cross-entropy",
                    Box::new(|x, _, _| {
                        black_box(sm.stablemax_cross_entropy(x, x.len() / 2).unwrap());
                    }),
                ),
            ),
            (
                (
                    "cross-entropy+grad",
                    Box::new(|x, _, y| {
                        black_box(sm.cross_entropy_with_grad(x, x.len() / 2, y).unwrap());
                    }),
                ),
                (
                    "stablemax cross-entropy+grad",
                    Box::new(|x, _, y| {
                        black_box(
                            sm.stablemax_cross_entropy_with_grad(x, x.len() / 2, y)
                                .unwrap(),
                        );
                    }),
                ),
            ),
            (
                (
                    "softmax-backward",
                    Box::new(|x, d, y| sm.softmax_backward(x, d, y).unwrap()),
                ),
                (
                    "stablemax-backward",
                    Box::new(|x, d, y| sm.stablemax_backward(x, d, y).unwrap()),
                ),
            ),
            (
                (
                    "log-softmax-backward",
                    Box::new(|x, d, y| sm.log_softmax_backward(x, d, y).unwrap()),
                ),
                (
                    "log-stablemax-backward",
                    Box::new(|x, d, y| sm.log_stablemax_backward(x, d, y).unwrap()),
                ),
            ),
        ];
        for ((a_name, a), (b_name, b)) in &pairs {
            let mut cells = Vec::new();
            for &n in sizes {
                let x = inputs(n, n as u64);
                let d = inputs(n, n as u64 + 1);
                let mut y = vec![0.0f32; n];
                // Five rounds, the two operations alternating, each a median of three samples;
                // the figure is the median round (load swings hit both operations alike).
                let round = Opts {
                    samples: 3,
                    min_sample: opts.min_sample,
                    sizes: Vec::new(),
                };
                let (mut ta, mut tb) = (Vec::new(), Vec::new());
                for _ in 0..if smoke { 1 } else { 5 } {
                    ta.push(time(&round, || {
                        a(black_box(&x), black_box(&d), black_box(&mut y))
                    }));
                    tb.push(time(&round, || {
                        b(black_box(&x), black_box(&d), black_box(&mut y))
                    }));
                }
                let median = |mut v: Vec<f64>| {
                    v.sort_by(|p, q| p.total_cmp(q));
                    v[v.len() / 2]
                };
                cells.push((rate(n, median(ta)), rate(n, median(tb))));
            }
            print!("{:>34}", format!("{b_name} | {a_name}"));
            for (ra, rb) in &cells {
                print!("{:>26}", format!("{rb:.3} | {ra:.3} ({:.2}x)", rb / ra));
            }
            println!();
            use std::io::Write;
            std::io::stdout().flush().ok();
        }
    }
}
