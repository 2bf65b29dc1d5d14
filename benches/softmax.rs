//! Criterion benchmarks of every operation on every ISA this CPU runs, in elements per second.
//!
//! Groups (one per operation, see [`OPS`]), each with ids `<isa>/<len>`: `softmax/<algorithm>`
//! for every [`Algorithm`], `log_softmax`, `logsumexp`, `softmax_scaled`, `softmax_backward`,
//! `log_softmax_backward`, `cross_entropy`, `cross_entropy_grad`, `cross_entropy_rows` (rows
//! of 1000 classes), and `softmax_rows`, `log_softmax_rows` and `logsumexp_rows` (rows of 64);
//! then one group per 16-bit format, `bf16` and `f16`, with ids `<op>/<isa>/<len>` for
//! `softmax`, `log_softmax`, `logsumexp`, `softmax_scaled`, `softmax_backward`,
//! `cross_entropy_grad`, `softmax_rows` and `logsumexp_rows` (rows of 64).
//! Throughput is `Throughput::Elements` (floats of the input row per call), as the report's
//! elements/ns.
//!
//! Row lengths are 256, 4K, 64K, 1M and 16M floats. Inputs are uniform in [-10, 10) from
//! `StdRng` with a fixed seed (`examples/shared/inputs.rs`, shared with the report), identical
//! for every benchmark. ISAs the CPU (or this build) lacks are reported once and skipped. Criterion writes its plots (HTML and SVG, through
//! plotters) under `target/criterion/`.
//!
//! ```text
//! cargo bench                                        # everything (about 12 min on 2 cores)
//! SOFTMAX_BENCH_QUICK=1 cargo bench                  # every operation and ISA at 4K and 1M,
//!                                                    # short samples, no plots: < 3 minutes
//! cargo bench -- '^softmax/two-pass/avx2'            # a regex over `<group>/<isa>/<len>`
//! SOFTMAX_BENCH_MAX_LEN=64K cargo bench              # sizes up to 65536 floats only
//! ```
//!
//! Defaults: 1 s warm-up and 2 s measurement (both overridable with `--warm-up-time` and
//! `--measurement-time`). Sizes of 1M floats and more use 10 flat samples instead of 100 so
//! that a sample of a 16M-float row does not take seconds.
//!
//! `SOFTMAX_BENCH_MAX_LEN` caps the number of floats per measured call; it takes a plain number
//! or one with a binary `K`/`M`/`G` suffix (`4096`, `64K`, `1M`; the syntax of `src/size.rs`).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use softmax::{Algorithm, CrossEntropyOptions, Isa, Softmax};

/// Row lengths in floats: 256 to 16M, by factors of sixteen.
const LENS: [usize; 5] = [256, 1 << 12, 1 << 16, 1 << 20, 1 << 24];

/// Row lengths of the quick subset (`SOFTMAX_BENCH_QUICK=1`): in cache and out of L2.
const QUICK_LENS: [usize; 2] = [1 << 12, 1 << 20];

/// Environment variable selecting the quick subset.
const QUICK_ENV: &str = "SOFTMAX_BENCH_QUICK";

/// One benchmark group: its name and one call on input `x`, second input `d` (a gradient, or
/// ignored) and output `y`, all of the same length.
struct Op {
    name: &'static str,
    run: fn(&Softmax, &[f32], &[f32], &mut [f32]),
}

#[path = "../examples/shared/inputs.rs"]
mod inputs;
#[path = "../examples/shared/topk_calls.rs"]
mod topk_calls;
// The crate's size parser (`64K`, `1M`), for SOFTMAX_BENCH_MAX_LEN.
#[path = "../src/size.rs"]
mod size;
use topk_calls::{sample_call, topk_call};

/// Every operation benchmarked (the same operations as the report's table).
const OPS: &[Op] = &[
    Op {
        name: "softmax/three-pass-recompute",
        run: |sm, x, _, y| {
            sm.softmax_with(x, y, Algorithm::ThreePassRecompute)
                .unwrap()
        },
    },
    Op {
        name: "softmax/three-pass-reload",
        run: |sm, x, _, y| sm.softmax_with(x, y, Algorithm::ThreePassReload).unwrap(),
    },
    Op {
        name: "softmax/two-pass",
        run: |sm, x, _, y| sm.softmax_with(x, y, Algorithm::TwoPass).unwrap(),
    },
    Op {
        name: "softmax/two-pass-blocked",
        run: |sm, x, _, y| sm.softmax_with(x, y, Algorithm::TwoPassBlocked).unwrap(),
    },
    Op {
        name: "softmax/auto",
        run: |sm, x, _, y| sm.softmax_with(x, y, Algorithm::Auto).unwrap(),
    },
    Op {
        name: "log_softmax",
        run: |sm, x, _, y| sm.log_softmax(x, y).unwrap(),
    },
    Op {
        name: "logsumexp",
        run: |sm, x, _, _| {
            black_box(sm.logsumexp(x));
        },
    },
    Op {
        name: "softmax_rows",
        // Rows of 64 (attention-sized), Auto.
        run: |sm, x, _, y| {
            let cols = x.len().min(64);
            sm.softmax_rows(x, cols, y, cols, x.len() / cols, cols, Algorithm::Auto)
                .unwrap()
        },
    },
    Op {
        name: "log_softmax_rows",
        // Rows of 64, grouped several at a time.
        run: |sm, x, _, y| {
            let cols = x.len().min(64);
            sm.log_softmax_rows(x, cols, y, cols, x.len() / cols, cols)
                .unwrap()
        },
    },
    Op {
        name: "logsumexp_rows",
        // Rows of 64: one result per row.
        run: |sm, x, _, y| {
            let cols = x.len().min(64);
            let rows = x.len() / cols;
            sm.logsumexp_rows(x, cols, rows, cols, &mut y[..rows])
                .unwrap()
        },
    },
    Op {
        name: "topk_rows_64/k2",
        // Mixture-of-experts gating: rows of 64, the top 2 and their softmax weights.
        run: |sm, x, _, y| topk_call(sm, x, y, 64, 2, false),
    },
    Op {
        name: "topk_rows_64/k8",
        run: |sm, x, _, y| topk_call(sm, x, y, 64, 8, false),
    },
    Op {
        name: "topk_rows_256/k8",
        run: |sm, x, _, y| topk_call(sm, x, y, 256, 8, false),
    },
    Op {
        name: "topk_rows_64/k2_renorm",
        // The weights renormalised over the k (softmax of the top-k logits).
        run: |sm, x, _, y| topk_call(sm, x, y, 64, 2, true),
    },
    Op {
        name: "topk_rows_64/k8_renorm",
        run: |sm, x, _, y| topk_call(sm, x, y, 64, 8, true),
    },
    Op {
        name: "topk_rows_256/k8_renorm",
        run: |sm, x, _, y| topk_call(sm, x, y, 256, 8, true),
    },
    Op {
        name: "sample/top_p_0.9",
        // One draw from the whole row (temperature 1, nucleus 0.9).
        run: |sm, x, _, _| sample_call(sm, x),
    },
    Op {
        name: "softmax_scaled",
        run: |sm, x, _, y| sm.softmax_scaled(x, y, 0.125).unwrap(),
    },
    Op {
        name: "softmax_backward",
        run: |sm, x, d, y| sm.softmax_backward(x, d, y).unwrap(),
    },
    Op {
        name: "log_softmax_backward",
        run: |sm, x, d, y| sm.log_softmax_backward(x, d, y).unwrap(),
    },
    Op {
        name: "cross_entropy",
        run: |sm, x, _, _| {
            black_box(sm.cross_entropy(x, x.len() / 2).unwrap());
        },
    },
    Op {
        name: "cross_entropy_grad",
        run: |sm, x, _, y| {
            black_box(sm.cross_entropy_with_grad(x, x.len() / 2, y).unwrap());
        },
    },
    Op {
        name: "cross_entropy_rows",
        // Rows of 1000 classes (a classifier batch), loss and gradient, targets fixed.
        run: |sm, x, _, y| {
            let cols = x.len().min(1000);
            let rows = x.len() / cols;
            let targets: Vec<i64> = (0..rows as i64).map(|r| r % cols as i64).collect();
            let mut losses = vec![0.0f32; rows];
            let opts = CrossEntropyOptions::default();
            sm.cross_entropy_rows(
                x,
                cols,
                rows,
                cols,
                &targets,
                opts,
                &mut losses,
                Some((y, cols)),
            )
            .unwrap();
            black_box(losses);
        },
    },
];

/// From this many floats per call on, benchmarks take 10 flat samples.
const LARGE_LEN: usize = 1 << 20;

/// Environment variable capping the floats per measured call.
const MAX_LEN_ENV: &str = "SOFTMAX_BENCH_MAX_LEN";

/// Fixed seed of the input generator.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The cap from `SOFTMAX_BENCH_MAX_LEN`, or no cap.
fn max_len() -> usize {
    match std::env::var(MAX_LEN_ENV) {
        Ok(v) => size::parse_size(&v).unwrap_or_else(|| {
            panic!("{MAX_LEN_ENV}={v:?}: expected a number of floats such as 4096, 64K or 1M")
        }),
        Err(std::env::VarError::NotPresent) => usize::MAX,
        Err(e) => panic!("{MAX_LEN_ENV}: {e}"),
    }
}

/// What every benchmark shares: the kernels of each supported ISA and the buffers.
struct Setup {
    kernels: Vec<Softmax>,
    lens: Vec<usize>,
    quick: bool,
    x: Vec<f32>,
    d: Vec<f32>,
    y: Vec<f32>,
}

impl Setup {
    fn new() -> Setup {
        let kernels = Isa::ALL
            .into_iter()
            .filter_map(|isa| match Softmax::with_isa(isa) {
                Ok(sm) => Some(sm),
                Err(_) => {
                    eprintln!("skipping {}: not supported on this CPU", isa.name());
                    None
                }
            })
            .collect();
        let cap = max_len();
        let quick = std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let all: &[usize] = if quick { &QUICK_LENS } else { &LENS };
        let lens: Vec<usize> = all.iter().copied().filter(|&n| n <= cap).collect();
        if cap != usize::MAX {
            eprintln!("{MAX_LEN_ENV}: benchmarking at most {cap} floats per call");
        }
        if quick {
            eprintln!("{QUICK_ENV}: the quick subset (lengths {lens:?}, short samples)");
        }
        let len = lens.iter().copied().max().unwrap_or(0);
        let x = inputs::uniform_inputs(len, SEED);
        // A gradient-like second input, and an output copied (not zeroed) so that every page
        // is mapped up front.
        let d: Vec<f32> = x.iter().rev().map(|v| v * 0.1).collect();
        let y = x.clone();
        Setup {
            kernels,
            lens,
            quick,
            x,
            d,
            y,
        }
    }
}

/// Reports elements (floats of the input row), and for large calls (and the quick subset)
/// takes 10 flat samples (one 16M-float softmax takes tens of milliseconds, so the default 100
/// linearly growing samples would take minutes).
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, elems: usize, quick: bool) {
    group.throughput(Throughput::Elements(elems as u64));
    if elems >= LARGE_LEN || quick {
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
    }
    if quick {
        group
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(400));
    }
}

/// Runs `op` as its group, ids `<isa>/<len>`, for every ISA and length.
///
/// Each ISA gets a fresh group object (same name), so the large-size settings of one ISA do
/// not leak into the small sizes of the next.
fn bench_op(c: &mut Criterion, setup: &mut Setup, op: &Op) {
    for sm in &setup.kernels {
        let mut group = c.benchmark_group(op.name);
        for &n in &setup.lens {
            configure(&mut group, n, setup.quick);
            let (x, d, y) = (&setup.x[..n], &setup.d[..n], &mut setup.y[..n]);
            group.bench_function(BenchmarkId::new(sm.isa().name(), n), |b| {
                b.iter(|| (op.run)(sm, black_box(x), black_box(d), black_box(&mut *y)))
            });
        }
        group.finish();
    }
}

/// The 16-bit groups, one per format (`bf16`, `f16`), ids `<op>/<isa>/<len>`: softmax,
/// log-softmax, log-sum-exp, scaled softmax, the softmax backward pass and cross-entropy with
/// its gradient of one row, and softmax and log-sum-exp of rows of 64, on the inputs of the
/// f32 groups rounded to the format (compare with the f32 groups of the same names).
fn bench_half<T: softmax::Element>(c: &mut Criterion, setup: &Setup) {
    let x: Vec<T> = setup.x.iter().map(|&v| T::from_f32(v)).collect();
    let mut y = x.clone();
    // The backward pass's `dy`: the f32 groups' second row, rounded to the format.
    let d: Vec<T> = setup.d.iter().map(|&v| T::from_f32(v)).collect();
    let mut lse = vec![0.0f32; setup.x.len() / 64 + 1];
    for sm in &setup.kernels {
        let mut group = c.benchmark_group(T::NAME);
        for &n in &setup.lens {
            configure(&mut group, n, setup.quick);
            let (x, d, y) = (&x[..n], &d[..n], &mut y[..n]);
            let id = |op: &str| BenchmarkId::new(format!("{op}/{}", sm.isa().name()), n);
            group.bench_function(id("softmax"), |b| {
                b.iter(|| sm.softmax(black_box(x), black_box(&mut *y)).unwrap())
            });
            group.bench_function(id("log_softmax"), |b| {
                b.iter(|| sm.log_softmax(black_box(x), black_box(&mut *y)).unwrap())
            });
            group.bench_function(id("logsumexp"), |b| {
                b.iter(|| black_box(sm.logsumexp(black_box(x))))
            });
            group.bench_function(id("softmax_scaled"), |b| {
                b.iter(|| {
                    sm.softmax_scaled(black_box(x), black_box(&mut *y), 0.125)
                        .unwrap()
                })
            });
            group.bench_function(id("softmax_backward"), |b| {
                b.iter(|| {
                    sm.softmax_backward(black_box(x), black_box(d), black_box(&mut *y))
                        .unwrap()
                })
            });
            group.bench_function(id("cross_entropy_grad"), |b| {
                b.iter(|| {
                    black_box(
                        sm.cross_entropy_with_grad(black_box(x), n / 2, black_box(&mut *y))
                            .unwrap(),
                    )
                })
            });
            let rows = n / 64;
            group.bench_function(id("softmax_rows"), |b| {
                b.iter(|| {
                    sm.softmax_rows(
                        black_box(x),
                        64,
                        black_box(&mut *y),
                        64,
                        rows,
                        64,
                        Algorithm::Auto,
                    )
                    .unwrap()
                })
            });
            group.bench_function(id("logsumexp_rows"), |b| {
                b.iter(|| {
                    sm.logsumexp_rows(black_box(x), 64, rows, 64, black_box(&mut lse[..rows]))
                        .unwrap()
                })
            });
        }
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    let mut setup = Setup::new();
    for op in OPS {
        bench_op(c, &mut setup, op);
    }
    bench_half::<softmax::bf16>(c, &setup);
    bench_half::<softmax::f16>(c, &setup);
}

/// 1 s warm-up and 2 s measurement with plots; the quick subset sets its own short times per
/// group, and skips the plots and most of the bootstrap resamples (the analysis otherwise
/// takes longer than the measurement).
fn config() -> Criterion {
    let c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    if std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0") {
        c.nresamples(5_000).without_plots()
    } else {
        c
    }
}

criterion_group! {
    name = softmax_benches;
    config = config();
    targets = benches
}
criterion_main!(softmax_benches);
