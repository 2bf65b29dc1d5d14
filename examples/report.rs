//! The throughput report: every ISA this CPU runs, every algorithm, row sizes from 64 to 16M
//! floats, next to the memory-bandwidth bound measured in the same run.
//!
//! ```text
//! cargo run --release --example report            # full report (about two minutes)
//! cargo run --release --example report -- --quick # fewer sizes and samples
//! cargo run --release --example report -- --smoke # seconds; checks every row still runs
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
    threads_report(has("--smoke"), has("--quick"));
}

/// Thread scaling (issue 15): one table per case, 1 to all cores, interleaved rounds (each
/// round times every thread count once; medians over the rounds), speed-ups against one
/// thread; then the issue's headline ratios at 2 threads, and single calls of 64 and 4096
/// floats with one thread against all cores (they never reach the pool: the ratio should be
/// 1 within noise). Results are bit-identical for every thread count (`tests/threads.rs`).
fn threads_report(smoke: bool, quick: bool) {
    use softmax::CrossEntropyOptions;
    fn gen(n: usize, seed: u64) -> Vec<f32> {
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
    /// Seconds per call: the fastest of `reps` calls after one warm-up call (a round's
    /// figure; the rounds' median is reported).
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (rounds, reps, big) = if smoke {
        (1, 1, 1 << 18)
    } else if quick {
        (3, 3, 16 << 20)
    } else {
        (7, 5, 16 << 20)
    };
    let threads: Vec<usize> = (1..=cores).collect();
    println!();
    println!(
        "Thread scaling ({} cores available, ISA {}; rounds interleave the thread counts; \
         elements/ns, speed-up against 1 thread)",
        cores,
        softmax::current_isa().name()
    );
    let x = gen(big.max(1024 * 4096), 11);
    let y = vec![0.0f32; x.len()];
    let targets: Vec<i64> = (0..64).map(|r| (r * 499) % 32_000).collect();
    let losses = vec![0.0f32; 64];
    type Case<'a> = (String, usize, Box<dyn FnMut(Softmax) + 'a>);
    let mega = format!("{}M", big >> 20);
    let row_len = if big >= 1 << 20 {
        mega.as_str()
    } else {
        "256K"
    };
    let (ycell, lcell) = (std::cell::RefCell::new(y), std::cell::RefCell::new(losses));
    let cases: Vec<Case<'_>> = {
        let (x, y, losses, targets) = (&x, &ycell, &lcell, &targets);
        vec![
            (
                "softmax 1024 x 4096".to_string(),
                1024 * 4096,
                Box::new(move |sm: Softmax| {
                    let mut y = y.borrow_mut();
                    sm.softmax_rows(x, 4096, &mut y[..], 4096, 1024, 4096, Algorithm::Auto)
                        .unwrap()
                }),
            ),
            (
                "cross-entropy+grad 64 x 32000".to_string(),
                64 * 32_000,
                Box::new(move |sm: Softmax| {
                    let (mut y, mut l) = (y.borrow_mut(), losses.borrow_mut());
                    let opts = CrossEntropyOptions::default();
                    let d = Some((&mut y[..64 * 32_000], 32_000));
                    sm.cross_entropy_rows(x, 32_000, 64, 32_000, targets, opts, &mut l[..], d)
                        .unwrap()
                }),
            ),
            (
                format!("softmax one row ({row_len})"),
                big,
                Box::new(move |sm: Softmax| {
                    let mut y = y.borrow_mut();
                    sm.softmax(&x[..big], &mut y[..big]).unwrap()
                }),
            ),
            (
                format!("log-sum-exp one row ({row_len})"),
                big,
                Box::new(move |sm: Softmax| {
                    black_box(sm.logsumexp(&x[..big]));
                }),
            ),
        ]
    };
    print!("{:<32}", "threads");
    for t in &threads {
        print!("{t:>14}");
    }
    println!();
    let mut ratio2 = Vec::new();
    for (name, n, mut f) in cases {
        let mut per: Vec<Vec<f64>> = vec![Vec::new(); threads.len()];
        for _ in 0..rounds {
            for (i, &t) in threads.iter().enumerate() {
                let sm = Softmax::new().threads(t);
                per[i].push(secs(reps, &mut || f(sm)));
            }
        }
        let med: Vec<f64> = per
            .iter_mut()
            .map(|v| {
                v.sort_by(|a, b| a.total_cmp(b));
                v[v.len() / 2]
            })
            .collect();
        print!("{name:<32}");
        for m in &med {
            print!("{:>6.2} ({:>4.2}x)", n as f64 / (m * 1e9), med[0] / m);
        }
        println!();
        ratio2.push((name, med.get(1).map(|m2| med[0] / m2)));
    }
    println!();
    let targets = [1.8, 1.8, 1.3, 1.3];
    for ((name, r), want) in ratio2.iter().zip(targets) {
        match r {
            Some(r) => println!("2 threads vs 1, {name}: {r:.2}x (issue 15 asks >= {want}x)"),
            None => println!("2 threads vs 1, {name}: n/a (one core)"),
        }
    }
    for n in [64usize, 4096] {
        let x = gen(n, 5);
        let mut y = vec![0.0f32; n];
        let (mut one, mut all) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(3) {
            for (t, out) in [(1, &mut one), (cores, &mut all)] {
                let sm = Softmax::new().threads(t);
                out.push(secs(reps * 200, &mut || {
                    sm.softmax(black_box(&x), &mut y).unwrap();
                }));
            }
        }
        one.sort_by(|a, b| a.total_cmp(b));
        all.sort_by(|a, b| a.total_cmp(b));
        let (a, b) = (one[one.len() / 2], all[all.len() / 2]);
        println!(
            "n={n}: one softmax call {:.1} ns with 1 thread, {:.1} ns with {cores} ({:.3}x)",
            a * 1e9,
            b * 1e9,
            a / b
        );
    }
}
