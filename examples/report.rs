//! The throughput and accuracy report: every operation of the [`ops`] table on every ISA this
//! CPU runs, over row lengths from 64 to 16M floats, next to memory-bandwidth bounds measured
//! in the same rounds, plus the worst errors against an f64 oracle. Writes SVG plots.
//!
//! ```text
//! cargo run --release --example report                 # full report (a few minutes)
//! cargo run --release --example report -- --quick      # fewer sizes and rounds
//! cargo run --release --example report -- --smoke      # seconds; checks every row still runs
//! cargo run --release --example report -- --help       # every option
//! ```
//!
//! How it measures: the whole set of measurements (for each size, the two bandwidth probes and
//! then every ISA and operation) is one round, and the report runs several rounds, so a burst
//! of load or a frequency change hits every figure alike instead of a few. Each figure is the
//! median over the rounds, printed with its spread (half the range over the rounds, in % of
//! the median); each "% of bound" is the median of the per-round ratios, so the bound is never
//! older than the figure it divides. When the spreads are large the report says the machine
//! looks loaded: then only ratios taken in one run mean anything.
//!
//! Adding an operation is one entry in [`ops`] (its name, plot group, memory traffic for the
//! bound, the call, and optionally an accuracy check).

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use softmax::{Algorithm, Isa, Softmax};

// ---------------------------------------------------------------------------------------------
// The table of operations
// ---------------------------------------------------------------------------------------------

/// Which plot panel an operation is drawn in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    /// The softmax algorithms.
    Softmax,
    /// Everything else (log-softmax, log-sum-exp, training operations).
    Other,
}

/// The worst error of one operation on one row against an f64 oracle.
struct Accuracy {
    /// What the number is.
    metric: &'static str,
    /// The error of the operation on `x` (with `d` as a second input where it takes one).
    error: fn(&Softmax, &[f32], &[f32]) -> f64,
}

/// One row of the report.
struct Op {
    /// The name (also what `--ops` selects).
    name: &'static str,
    group: Group,
    /// The memory traffic of the ideal algorithm, as `reads` streaming reads plus `copies`
    /// memcpys of the row: the bound is the time those take in the same round.
    reads: f64,
    copies: f64,
    /// One call: input `x`, second input `d` (a gradient, or ignored), output `y`.
    run: fn(&Softmax, &[f32], &[f32], &mut [f32]),
    accuracy: Option<Accuracy>,
}

/// Every operation the report measures. Add a row here to add it to every table, plot and
/// JSON record.
fn ops() -> Vec<Op> {
    fn softmax_op(name: &'static str, alg: Algorithm, reads: f64, copies: f64) -> Op {
        Op {
            name,
            group: Group::Softmax,
            reads,
            copies,
            run: match alg {
                Algorithm::ThreePassRecompute => |sm, x, _, y| {
                    sm.softmax_with(x, y, Algorithm::ThreePassRecompute)
                        .unwrap()
                },
                Algorithm::ThreePassReload => {
                    |sm, x, _, y| sm.softmax_with(x, y, Algorithm::ThreePassReload).unwrap()
                }
                Algorithm::TwoPass => {
                    |sm, x, _, y| sm.softmax_with(x, y, Algorithm::TwoPass).unwrap()
                }
                Algorithm::TwoPassBlocked => {
                    |sm, x, _, y| sm.softmax_with(x, y, Algorithm::TwoPassBlocked).unwrap()
                }
                _ => |sm, x, _, y| sm.softmax_with(x, y, Algorithm::Auto).unwrap(),
            },
            accuracy: Some(Accuracy {
                metric: "softmax: max relative error (outputs > 1e-30)",
                error: match alg {
                    Algorithm::ThreePassRecompute => |sm, x, _| {
                        softmax_error(x, |y| sm.softmax_with(x, y, Algorithm::ThreePassRecompute))
                    },
                    Algorithm::ThreePassReload => |sm, x, _| {
                        softmax_error(x, |y| sm.softmax_with(x, y, Algorithm::ThreePassReload))
                    },
                    Algorithm::TwoPass => {
                        |sm, x, _| softmax_error(x, |y| sm.softmax_with(x, y, Algorithm::TwoPass))
                    }
                    Algorithm::TwoPassBlocked => |sm, x, _| {
                        softmax_error(x, |y| sm.softmax_with(x, y, Algorithm::TwoPassBlocked))
                    },
                    _ => |sm, x, _| softmax_error(x, |y| sm.softmax_with(x, y, Algorithm::Auto)),
                },
            }),
        }
    }
    vec![
        // Three reads and one write: two reads plus a memcpy.
        softmax_op(
            "three-pass-recompute",
            Algorithm::ThreePassRecompute,
            2.0,
            1.0,
        ),
        // Three reads and two writes: one read plus two memcpys.
        softmax_op("three-pass-reload", Algorithm::ThreePassReload, 1.0, 2.0),
        softmax_op("two-pass", Algorithm::TwoPass, 1.0, 1.0),
        softmax_op("two-pass-blocked", Algorithm::TwoPassBlocked, 1.0, 1.0),
        // Auto resolves to two-pass out of cache: its bound.
        softmax_op("auto", Algorithm::Auto, 1.0, 1.0),
        Op {
            name: "log-softmax",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| sm.log_softmax(x, y).unwrap(),
            accuracy: Some(Accuracy {
                metric: "log-softmax: max |error| / max(1, |exact|)",
                error: |sm, x, _| {
                    let mut y = vec![0.0f32; x.len()];
                    sm.log_softmax(x, &mut y).unwrap();
                    let lse = exact_logsumexp(x);
                    worst(x.iter().zip(&y).map(|(&xi, &yi)| {
                        let e = f64::from(xi) - lse;
                        (f64::from(yi) - e).abs() / e.abs().max(1.0)
                    }))
                },
            }),
        },
        Op {
            name: "log-sum-exp",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, _| {
                black_box(sm.logsumexp(x));
            },
            accuracy: Some(Accuracy {
                metric: "log-sum-exp: relative error",
                error: |sm, x, _| {
                    let e = exact_logsumexp(x);
                    (f64::from(sm.logsumexp(x)) - e).abs() / e.abs().max(f64::MIN_POSITIVE)
                },
            }),
        },
        Op {
            name: "cross-entropy",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, _| {
                black_box(sm.cross_entropy(x, x.len() / 2).unwrap());
            },
            accuracy: Some(Accuracy {
                metric: "cross-entropy loss: |error| / max(1, loss)",
                error: |sm, x, _| {
                    let t = x.len() / 2;
                    let e = exact_logsumexp(x) - f64::from(x[t]);
                    (f64::from(sm.cross_entropy(x, t).unwrap()) - e).abs() / e.abs().max(1.0)
                },
            }),
        },
        Op {
            name: "cross-entropy+grad",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| {
                black_box(sm.cross_entropy_with_grad(x, x.len() / 2, y).unwrap());
            },
            accuracy: Some(Accuracy {
                metric: "cross-entropy gradient: max absolute error",
                error: |sm, x, _| {
                    let t = x.len() / 2;
                    let mut g = vec![0.0f32; x.len()];
                    sm.cross_entropy_with_grad(x, t, &mut g).unwrap();
                    let lse = exact_logsumexp(x);
                    worst(g.iter().enumerate().map(|(i, &gi)| {
                        let e = (f64::from(x[i]) - lse).exp() - f64::from(u8::from(i == t));
                        (f64::from(gi) - e).abs()
                    }))
                },
            }),
        },
        Op {
            name: "softmax-backward",
            group: Group::Other,
            // y and dy read twice (dot, then the result), dx written.
            reads: 3.0,
            copies: 1.0,
            run: |sm, x, d, y| sm.softmax_backward(x, d, y).unwrap(),
            accuracy: Some(Accuracy {
                metric: "softmax backward: max absolute error",
                error: |sm, x, d| {
                    let y = exact_softmax_f32(x);
                    let mut dx = vec![0.0f32; x.len()];
                    sm.softmax_backward(&y, d, &mut dx).unwrap();
                    let dot: f64 = y
                        .iter()
                        .zip(d)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    worst(dx.iter().enumerate().map(|(i, &v)| {
                        let e = f64::from(y[i]) * (f64::from(d[i]) - dot);
                        (f64::from(v) - e).abs()
                    }))
                },
            }),
        },
        Op {
            name: "log-softmax-backward",
            group: Group::Other,
            reads: 2.0,
            copies: 1.0,
            run: |sm, x, d, y| sm.log_softmax_backward(x, d, y).unwrap(),
            accuracy: Some(Accuracy {
                metric: "log-softmax backward: max |error| / (|dy| + exp(y) sum|dy|)",
                error: |sm, x, d| {
                    let lse = exact_logsumexp(x);
                    let y: Vec<f32> = x.iter().map(|&v| (f64::from(v) - lse) as f32).collect();
                    let mut dx = vec![0.0f32; x.len()];
                    sm.log_softmax_backward(&y, d, &mut dx).unwrap();
                    let sum: f64 = d.iter().map(|&v| f64::from(v)).sum();
                    let sum_abs: f64 = d.iter().map(|&v| f64::from(v).abs()).sum();
                    worst(dx.iter().enumerate().map(|(i, &v)| {
                        let p = f64::from(y[i]).exp();
                        let e = f64::from(d[i]) - p * sum;
                        (f64::from(v) - e).abs() / (f64::from(d[i]).abs() + p * sum_abs).max(1e-30)
                    }))
                },
            }),
        },
        Op {
            name: "stablemax",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| sm.stablemax(x, y).unwrap(),
            accuracy: None,
        },
        Op {
            name: "log-stablemax",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| sm.log_stablemax(x, y).unwrap(),
            accuracy: None,
        },
        Op {
            name: "lse-accumulate",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            // The state of a chunk (sharded and streamed rows): as log-sum-exp, one read.
            run: |sm, x, _, _| {
                let mut st = softmax::LseState::EMPTY;
                sm.logsumexp_accumulate(x, &mut st);
                black_box(st);
            },
            accuracy: None,
        },
        Op {
            name: "lse-normalize",
            group: Group::Other,
            reads: 0.0,
            copies: 1.0,
            // The output pass against a known log-sum-exp (that of inputs in [-10, 10] is
            // below 10 + ln n).
            run: |sm, x, _, y| sm.normalize(x, y, 27.0).unwrap(),
            accuracy: None,
        },
        Op {
            name: "rows-of-8",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| {
                rows_call(x, 8, |c, r| {
                    sm.softmax_rows(x, c, y, c, r, c, Algorithm::Auto).unwrap()
                })
            },
            accuracy: None,
        },
        Op {
            name: "rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| {
                rows_call(x, 64, |c, r| {
                    sm.softmax_rows(x, c, y, c, r, c, Algorithm::Auto).unwrap()
                })
            },
            accuracy: None,
        },
        Op {
            name: "log-softmax-rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            run: |sm, x, _, y| {
                rows_call(x, 64, |c, r| sm.log_softmax_rows(x, c, y, c, r, c).unwrap())
            },
            accuracy: None,
        },
        Op {
            name: "logsumexp-rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, y| {
                rows_call(x, 64, |c, r| {
                    sm.logsumexp_rows(x, c, r, c, &mut y[..r]).unwrap()
                })
            },
            accuracy: None,
        },
        Op {
            name: "logsumexp-rows-of-1000",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, y| {
                rows_call(x, 1000, |c, r| {
                    sm.logsumexp_rows(x, c, r, c, &mut y[..r]).unwrap()
                })
            },
            accuracy: None,
        },
        Op {
            name: "topk2-rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            // Gating: the top 2 of each row of 64 and their softmax weights.
            run: |sm, x, _, y| topk_call(sm, x, y, 64, 2, false),
            accuracy: None,
        },
        Op {
            name: "topk8-rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, y| topk_call(sm, x, y, 64, 8, false),
            accuracy: None,
        },
        Op {
            name: "topk8-rows-of-256",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, y| topk_call(sm, x, y, 256, 8, false),
            accuracy: None,
        },
        Op {
            name: "topk2-renorm-rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            // The weights renormalised over the 2 (softmax of the top-k logits).
            run: |sm, x, _, y| topk_call(sm, x, y, 64, 2, true),
            accuracy: None,
        },
        Op {
            name: "topk8-renorm-rows-of-64",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, y| topk_call(sm, x, y, 64, 8, true),
            accuracy: None,
        },
        Op {
            name: "topk8-renorm-rows-of-256",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            run: |sm, x, _, y| topk_call(sm, x, y, 256, 8, true),
            accuracy: None,
        },
        Op {
            name: "sample-top-p-0.9",
            group: Group::Other,
            reads: 1.0,
            copies: 0.0,
            // One draw from the row (temperature 1, nucleus 0.9).
            run: |sm, x, _, _| sample_call(sm, x),
            accuracy: None,
        },
        Op {
            name: "rows-of-256",
            group: Group::Other,
            reads: 1.0,
            copies: 1.0,
            // The batch call: the input as rows of 256 (of n when n < 256).
            run: |sm, x, _, y| {
                let cols = x.len().min(256);
                let rows = x.len() / cols.max(1);
                sm.softmax_rows(x, cols, y, cols, rows, cols, Algorithm::Auto)
                    .unwrap()
            },
            accuracy: None,
        },
    ]
}

/// Calls `f(cols, rows)` for the row as a batch of rows of `cols` (of `n` when `n < cols`); the
/// elements past the last whole row are left out.
#[path = "shared/topk_calls.rs"]
mod topk_calls;
use topk_calls::{sample_call, topk_call};

fn rows_call(x: &[f32], cols: usize, f: impl FnOnce(usize, usize)) {
    let c = x.len().min(cols).max(1);
    f(c, x.len() / c)
}

fn worst(errors: impl Iterator<Item = f64>) -> f64 {
    errors.fold(0.0, |a, e| {
        if e.is_nan() || a.is_nan() {
            f64::NAN
        } else {
            a.max(e)
        }
    })
}

fn exact_logsumexp(x: &[f32]) -> f64 {
    let m = x
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    m + x
        .iter()
        .map(|&v| (f64::from(v) - m).exp())
        .sum::<f64>()
        .ln()
}

fn exact_softmax_f32(x: &[f32]) -> Vec<f32> {
    let lse = exact_logsumexp(x);
    x.iter()
        .map(|&v| (f64::from(v) - lse).exp() as f32)
        .collect()
}

fn softmax_error(x: &[f32], f: impl FnOnce(&mut [f32]) -> Result<(), softmax::Error>) -> f64 {
    let mut y = vec![0.0f32; x.len()];
    f(&mut y).unwrap();
    let lse = exact_logsumexp(x);
    worst(x.iter().zip(&y).filter_map(|(&xi, &yi)| {
        let e = (f64::from(xi) - lse).exp();
        (e > 1e-30).then(|| (f64::from(yi) - e).abs() / e)
    }))
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const USAGE: &str = "\
usage: cargo run --release --example report -- [options]

  --quick          fewer sizes (64, 4K, 256K, 16M) and 3 rounds
  --smoke          a seconds-long pass over every row (CI), 1 round: figures are not measurements
  --isa LIST       ISAs to measure, comma-separated (scalar, avx2, avx512, neon; default: all
                   this CPU runs)
  --sizes LIST     row lengths, comma-separated, with K/M/G suffixes (e.g. 64,4K,1M,16M)
  --ops LIST       operations, comma-separated (default: all; see the names below)
  --rounds N       measurement rounds (default 7; --quick 3)
  --json PATH      also write every figure as JSON to PATH
  --plots DIR      write the SVG plots to DIR (default target/report)
  --no-plots       write no plots
  --half-only      only the 16-bit section (f16 and bf16 against f32)
  --threads-only   only the thread-scaling section (1 to all cores; the ISA
                   as in the full report: the default one if measured, else the last of --isa)
  -h, --help       this text

operations: ";

struct Opts {
    rounds: usize,
    min_sample: Duration,
    sizes: Vec<usize>,
    isas: Vec<Isa>,
    ops: Vec<Op>,
    json: Option<PathBuf>,
    plots: Option<PathBuf>,
    accuracy_lens: Vec<usize>,
    smoke: bool,
    quick: bool,
    half_only: bool,
    threads_only: bool,
}

// The crate's size parser (`64`, `4K`, `16M`, `1G`), for --sizes.
#[path = "../src/size.rs"]
mod size;

/// A row length of `--sizes`: a positive size in the syntax of `src/size.rs`.
fn parse_len(s: &str) -> Result<usize, String> {
    size::parse_size(s)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("bad size {s:?} (a positive number, optionally with K, M or G)"))
}

fn parse_args(args: &[String]) -> Result<Option<Opts>, String> {
    let mut it = args.iter();
    let (mut quick, mut smoke, mut no_plots) = (false, false, false);
    let (mut half_only, mut threads_only) = (false, false);
    let (mut isas, mut sizes, mut names, mut rounds, mut json, mut plots) =
        (None, None, None, None, None, None);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => quick = true,
            "--smoke" => smoke = true,
            "--no-plots" => no_plots = true,
            "--half-only" => half_only = true,
            "--threads-only" => threads_only = true,
            "--isa" => isas = Some(value("--isa")?),
            "--sizes" => sizes = Some(value("--sizes")?),
            "--ops" => names = Some(value("--ops")?),
            "--rounds" => rounds = Some(value("--rounds")?),
            "--json" => json = Some(PathBuf::from(value("--json")?)),
            "--plots" => plots = Some(PathBuf::from(value("--plots")?)),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    let isas = match isas {
        None => Isa::ALL.into_iter().filter(|i| i.is_supported()).collect(),
        Some(list) => list
            .split(',')
            .map(|n| {
                let isa = Isa::from_name(n.trim()).ok_or_else(|| format!("unknown ISA {n:?}"))?;
                if isa.is_supported() {
                    Ok(isa)
                } else {
                    Err(format!("ISA {n} is not supported on this CPU"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut all = ops();
    let ops = match names {
        None => all,
        Some(list) => {
            let mut chosen = Vec::new();
            for n in list.split(',').map(str::trim) {
                let at = all
                    .iter()
                    .position(|o| o.name == n)
                    .ok_or_else(|| format!("unknown operation {n:?} (see --help)"))?;
                chosen.push(all.remove(at));
            }
            chosen
        }
    };
    let default_sizes: Vec<usize> = if smoke {
        vec![64, 4096, 1 << 18]
    } else if quick {
        vec![64, 4096, 1 << 18, 16 << 20]
    } else {
        vec![
            64,
            256,
            1024,
            4096,
            16_384,
            65_536,
            1 << 18,
            1 << 20,
            4 << 20,
            16 << 20,
        ]
    };
    let sizes = match sizes {
        None => default_sizes,
        Some(list) => list.split(',').map(parse_len).collect::<Result<_, _>>()?,
    };
    let rounds = match rounds {
        None if smoke => 1,
        None if quick => 3,
        None => 7,
        Some(r) => r
            .parse::<usize>()
            .ok()
            .filter(|&r| r > 0)
            .ok_or_else(|| format!("bad --rounds {r:?}"))?,
    };
    let accuracy_lens = if smoke {
        vec![1, 7, 64, 257]
    } else {
        vec![
            1, 2, 3, 7, 8, 15, 16, 17, 31, 63, 64, 100, 255, 256, 257, 1000, 4096, 65_537,
        ]
    };
    Ok(Some(Opts {
        rounds,
        min_sample: Duration::from_millis(if smoke {
            1
        } else if quick {
            10
        } else {
            20
        }),
        sizes,
        isas,
        ops,
        json,
        plots: if no_plots {
            None
        } else {
            Some(plots.unwrap_or_else(|| target_dir().join("report")))
        },
        accuracy_lens,
        smoke,
        quick,
        half_only,
        threads_only,
    }))
}

/// Cargo's target directory (where `cargo run` put this example), for the default plot
/// folder.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/release/examples/report
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"))
}

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

// Rows uniform in [-10, 10) from `StdRng` seeded per row (shared with the benchmarks).
#[path = "shared/half_report.rs"]
mod half_report;
#[path = "shared/inputs.rs"]
mod inputs;
use inputs::uniform_inputs;

/// Seconds per call of `f`: one sample of as many calls as fill `min_sample`.
fn time(min_sample: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let t0 = Instant::now();
    f();
    let one = t0.elapsed().max(Duration::from_nanos(1));
    let reps = (min_sample.as_nanos() / one.as_nanos()).clamp(1, 1_000_000) as usize;
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
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

/// The per-round samples of one figure.
#[derive(Clone, Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
        }
    }
    /// Half the range over the rounds, in % of the median (0 for one round).
    fn spread(&self) -> f64 {
        let lo = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if self.0.len() < 2 {
            0.0
        } else {
            50.0 * (hi - lo) / self.median()
        }
    }
}

/// Everything measured: per size the two probes, per (ISA, op, size) the rate and its ratio
/// to its bound, each with one sample per round.
struct Measured {
    /// Per size: streaming read and memcpy, elements per ns.
    read: Vec<Samples>,
    copy: Vec<Samples>,
    /// `[isa][op][size]`: elements per ns, and the ratio to the op's bound in that round.
    rate: Vec<Vec<Vec<Samples>>>,
    of_bound: Vec<Vec<Vec<Samples>>>,
}

fn measure(opts: &Opts) -> Measured {
    let (ni, no, ns) = (opts.isas.len(), opts.ops.len(), opts.sizes.len());
    let grid = || vec![vec![vec![Samples::default(); ns]; no]; ni];
    let mut m = Measured {
        read: vec![Samples::default(); ns],
        copy: vec![Samples::default(); ns],
        rate: grid(),
        of_bound: grid(),
    };
    let handles: Vec<Softmax> = opts
        .isas
        .iter()
        .map(|&i| Softmax::with_isa(i).expect("checked when parsing"))
        .collect();
    for round in 0..opts.rounds {
        print!("round {}/{}:", round + 1, opts.rounds);
        std::io::stdout().flush().ok();
        for (si, &n) in opts.sizes.iter().enumerate() {
            let x = uniform_inputs(n, n as u64 + round as u64);
            let d = uniform_inputs(n, n as u64 + 1000);
            let mut y = vec![0.0f32; n];
            let t_read = time(opts.min_sample, || {
                black_box(stream_read(black_box(&x)));
            });
            let t_copy = time(opts.min_sample, || {
                y.copy_from_slice(black_box(&x));
                black_box(&mut y);
            });
            m.read[si].0.push(n as f64 / (t_read * 1e9));
            m.copy[si].0.push(n as f64 / (t_copy * 1e9));
            for (ii, sm) in handles.iter().enumerate() {
                for (oi, op) in opts.ops.iter().enumerate() {
                    let t = time(opts.min_sample, || {
                        (op.run)(sm, black_box(&x), black_box(&d), black_box(&mut y))
                    });
                    let bound_t = op.reads * t_read + op.copies * t_copy;
                    m.rate[ii][oi][si].0.push(n as f64 / (t * 1e9));
                    m.of_bound[ii][oi][si].0.push(bound_t / t);
                }
            }
            print!(" {}", short_len(n));
            std::io::stdout().flush().ok();
        }
        println!();
    }
    m
}

fn short_len(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}M", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{}K", n >> 10)
    } else {
        n.to_string()
    }
}

/// Worst error of each op with an accuracy check, per ISA: `[isa][op]` (None: no check).
fn accuracy(opts: &Opts) -> Vec<Vec<Option<f64>>> {
    let ranges = [(-10.0f32, 10.0f32), (90.0, 100.0), (-1000.0, 1000.0)];
    opts.isas
        .iter()
        .map(|&isa| {
            let sm = Softmax::with_isa(isa).unwrap();
            opts.ops
                .iter()
                .map(|op| {
                    let acc = op.accuracy.as_ref()?;
                    let mut w = 0.0f64;
                    for &n in &opts.accuracy_lens {
                        for (ri, &(lo, hi)) in ranges.iter().enumerate() {
                            let x: Vec<f32> = uniform_inputs(n, (n * 3 + ri) as u64)
                                .iter()
                                .map(|v| lo + (v + 10.0) / 20.0 * (hi - lo))
                                .collect();
                            let d: Vec<f32> = uniform_inputs(n, n as u64 + 77)
                                .iter()
                                .map(|v| v / 10.0)
                                .collect();
                            w = worst([w, (acc.error)(&sm, &x, &d)].into_iter());
                        }
                    }
                    Some(w)
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Output: text, JSON, plots
// ---------------------------------------------------------------------------------------------

fn print_tables(opts: &Opts, m: &Measured) {
    println!("\nmemory probes (elements/ns, median ±spread over rounds):");
    print!("{:>22}", "n");
    for &n in &opts.sizes {
        print!("{:>12}", short_len(n));
    }
    println!();
    for (label, s) in [("streaming read", &m.read), ("memcpy", &m.copy)] {
        print!("{label:>22}");
        for v in s {
            print!("{:>12}", format!("{:.2}±{:.0}%", v.median(), v.spread()));
        }
        println!();
    }
    for (ii, isa) in opts.isas.iter().enumerate() {
        println!(
            "\n== {}: elements/ns, median ±spread over rounds ==",
            isa.name()
        );
        print!("{:>22}", "n");
        for &n in &opts.sizes {
            print!("{:>12}", short_len(n));
        }
        println!();
        for (oi, op) in opts.ops.iter().enumerate() {
            print!("{:>22}", op.name);
            for s in &m.rate[ii][oi] {
                print!("{:>12}", format!("{:.2}±{:.0}%", s.median(), s.spread()));
            }
            println!();
        }
        let last = opts.sizes.len() - 1;
        let big = opts.sizes[last];
        println!(
            "  at n = {}: % of each op's bound (reads + memcpys of the row, timed in the same round):",
            short_len(big)
        );
        for (oi, op) in opts.ops.iter().enumerate() {
            let s = &m.of_bound[ii][oi][last];
            println!(
                "{:>22}  {:>5.0}% ±{:.0}%   (bound: {} read{} + {} memcpy{})",
                op.name,
                100.0 * s.median(),
                s.spread(),
                op.reads,
                if op.reads == 1.0 { "" } else { "s" },
                op.copies,
                if op.copies == 1.0 { "" } else { "s" },
            );
        }
    }
}

/// The median spread of every figure, and a warning when it says the machine is loaded.
fn print_trust(opts: &Opts, m: &Measured) -> f64 {
    let mut spreads: Vec<f64> = m
        .rate
        .iter()
        .flatten()
        .flatten()
        .chain(m.read.iter())
        .chain(m.copy.iter())
        .map(Samples::spread)
        .collect();
    spreads.sort_by(f64::total_cmp);
    let median = spreads.get(spreads.len() / 2).copied().unwrap_or(0.0);
    let p90 = spreads.get(spreads.len() * 9 / 10).copied().unwrap_or(0.0);
    println!();
    if opts.rounds < 3 {
        println!(
            "trust: {} round(s): no spread to judge by; these figures are not measurements",
            opts.rounds
        );
    } else if median > 5.0 || p90 > 15.0 {
        println!(
            "WARNING: the figures swing between rounds (median spread ±{median:.0}%, 90th \
             percentile ±{p90:.0}%): the machine looks loaded. Compare only ratios from one run \
             (the % of bound columns), or rerun on an idle machine."
        );
    } else {
        println!(
            "trust: median spread ±{median:.1}% (90th percentile ±{p90:.1}%) over {} rounds: \
             the machine looked quiet",
            opts.rounds
        );
    }
    median
}

fn print_accuracy(opts: &Opts, acc: &[Vec<Option<f64>>]) {
    println!(
        "\naccuracy against an f64 oracle (rows of {} lengths up to {}, inputs in [-10, 10], \
         [90, 100] and [-1000, 1000]):",
        opts.accuracy_lens.len(),
        opts.accuracy_lens.iter().max().unwrap()
    );
    print!("{:>22}", "");
    for isa in &opts.isas {
        print!("{:>10}", isa.name());
    }
    println!("  measure");
    for (oi, op) in opts.ops.iter().enumerate() {
        let Some(a) = &op.accuracy else { continue };
        print!("{:>22}", op.name);
        for row in acc {
            print!("{:>10}", format!("{:.1e}", row[oi].unwrap_or(f64::NAN)));
        }
        println!("  {}", a.metric);
    }
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6e}")
    } else {
        "null".into()
    }
}

fn write_json(
    opts: &Opts,
    m: &Measured,
    acc: &[Vec<Option<f64>>],
    path: &Path,
) -> std::io::Result<()> {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"version\": \"{}\",\n  \"rounds\": {},\n  \"unit\": \"elements per ns\",\n  \"sizes\": {:?},\n",
        env!("CARGO_PKG_VERSION"),
        opts.rounds,
        opts.sizes
    );
    s.push_str("  \"probes\": [\n");
    for (si, &n) in opts.sizes.iter().enumerate() {
        let _ = writeln!(
            s,
            "    {{\"n\": {n}, \"read\": {}, \"read_spread_pct\": {}, \"memcpy\": {}, \"memcpy_spread_pct\": {}}}{}",
            json_num(m.read[si].median()),
            json_num(m.read[si].spread()),
            json_num(m.copy[si].median()),
            json_num(m.copy[si].spread()),
            if si + 1 < opts.sizes.len() { "," } else { "" }
        );
    }
    s.push_str("  ],\n  \"results\": [\n");
    let mut rows = Vec::new();
    for (ii, isa) in opts.isas.iter().enumerate() {
        for (oi, op) in opts.ops.iter().enumerate() {
            for (si, &n) in opts.sizes.iter().enumerate() {
                let (r, b) = (&m.rate[ii][oi][si], &m.of_bound[ii][oi][si]);
                rows.push(format!(
                    "    {{\"isa\": \"{}\", \"op\": \"{}\", \"n\": {n}, \"rate\": {}, \"rate_spread_pct\": {}, \"of_bound\": {}, \"of_bound_spread_pct\": {}, \"samples\": [{}]}}",
                    isa.name(),
                    op.name,
                    json_num(r.median()),
                    json_num(r.spread()),
                    json_num(b.median()),
                    json_num(b.spread()),
                    r.0.iter().map(|v| json_num(*v)).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    s.push_str(&rows.join(",\n"));
    s.push_str("\n  ],\n  \"accuracy\": [\n");
    let mut rows = Vec::new();
    for (ii, isa) in opts.isas.iter().enumerate() {
        for (oi, op) in opts.ops.iter().enumerate() {
            if let (Some(a), Some(e)) = (&op.accuracy, acc[ii][oi]) {
                rows.push(format!(
                    "    {{\"isa\": \"{}\", \"op\": \"{}\", \"error\": {}, \"measure\": \"{}\"}}",
                    isa.name(),
                    op.name,
                    json_num(e),
                    a.metric
                ));
            }
        }
    }
    s.push_str(&rows.join(",\n"));
    s.push_str("\n  ]\n}\n");
    std::fs::write(path, s)
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// `throughput-<isa>.svg`: elements/ns against row length, one line per operation, with the
/// memory bounds of the operations drawn dashed; softmax algorithms and the other operations
/// side by side.
fn plot_throughput(opts: &Opts, m: &Measured, ii: usize, path: &Path) -> PlotResult {
    use plotters::prelude::*;
    let isa = opts.isas[ii];
    let root = SVGBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let lo = *opts.sizes.iter().min().unwrap() as f64;
    let hi = *opts.sizes.iter().max().unwrap() as f64;
    let (lo, hi) = if lo == hi {
        (lo / 2.0, hi * 2.0)
    } else {
        (lo, hi)
    };
    for (panel, group, title) in [
        (&panels[0], Group::Softmax, "softmax algorithms"),
        (&panels[1], Group::Other, "other operations"),
    ] {
        let members: Vec<usize> = (0..opts.ops.len())
            .filter(|&oi| opts.ops[oi].group == group)
            .collect();
        // The distinct bounds of this panel's operations.
        let mut bounds: Vec<(f64, f64)> = Vec::new();
        for &oi in &members {
            let b = (opts.ops[oi].reads, opts.ops[oi].copies);
            if !bounds.contains(&b) {
                bounds.push(b);
            }
        }
        let bound_curve = |(r, c): (f64, f64)| -> Vec<(f64, f64)> {
            opts.sizes
                .iter()
                .enumerate()
                .map(|(si, &n)| {
                    let t = r / m.read[si].median() + c / m.copy[si].median();
                    (n as f64, 1.0 / t)
                })
                .collect()
        };
        let mut ymax: f64 = 0.5;
        for &oi in &members {
            for s in &m.rate[ii][oi] {
                ymax = ymax.max(s.median());
            }
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{}: {title}", isa.name()), ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..ymax * 1.6)?;
        chart
            .configure_mesh()
            .x_desc("row length (floats)")
            .y_desc("elements / ns (median over rounds)")
            .x_label_formatter(&|v| short_len(v.round() as usize))
            .draw()?;
        if members.is_empty() {
            continue;
        }
        for (k, &b) in bounds.iter().enumerate() {
            let style = BLACK.mix(0.35 + 0.15 * k as f64).stroke_width(1);
            let label = format!("bound: {} read + {} memcpy", b.0, b.1);
            // The bound is far above every kernel in cache; draw only what fits the panel.
            let pts: Vec<(f64, f64)> = bound_curve(b)
                .into_iter()
                .map(|(x, y)| (x, y.min(ymax * 1.6)))
                .collect();
            chart
                .draw_series(DashedLineSeries::new(pts, 6, 4, style))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        for (k, &oi) in members.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let pts: Vec<(f64, f64)> = opts
                .sizes
                .iter()
                .zip(&m.rate[ii][oi])
                .map(|(&n, s)| (n as f64, s.median()))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(opts.ops[oi].name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// `accuracy.svg`: the accuracy table as a drawn table.
fn plot_accuracy(opts: &Opts, acc: &[Vec<Option<f64>>], path: &Path) -> PlotResult {
    use plotters::prelude::*;
    let rows: Vec<usize> = (0..opts.ops.len())
        .filter(|&oi| opts.ops[oi].accuracy.is_some())
        .collect();
    let (row_h, first_w, col_w) = (26i32, 190i32, 90i32);
    let metric_w = 430i32;
    let width = first_w + col_w * opts.isas.len() as i32 + metric_w + 20;
    let height = row_h * (rows.len() as i32 + 3);
    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let font = ("sans-serif", 16).into_font();
    let bold = ("sans-serif", 16).into_font().style(FontStyle::Bold);
    root.draw(&Text::new(
        "worst error against an f64 oracle, per ISA".to_string(),
        (10, 6),
        bold.clone(),
    ))?;
    let y0 = row_h + 8;
    root.draw(&Text::new("operation".to_string(), (10, y0), bold.clone()))?;
    for (k, isa) in opts.isas.iter().enumerate() {
        let x = first_w + col_w * k as i32;
        root.draw(&Text::new(isa.name().to_string(), (x, y0), bold.clone()))?;
    }
    let mx = first_w + col_w * opts.isas.len() as i32;
    root.draw(&Text::new("measure".to_string(), (mx, y0), bold))?;
    for (r, &oi) in rows.iter().enumerate() {
        let y = y0 + row_h * (r as i32 + 1);
        if r % 2 == 0 {
            root.draw(&Rectangle::new(
                [(4, y - 4), (width - 4, y + row_h - 6)],
                RGBColor(238, 242, 248).filled(),
            ))?;
        }
        root.draw(&Text::new(
            opts.ops[oi].name.to_string(),
            (10, y),
            font.clone(),
        ))?;
        for (k, row) in acc.iter().enumerate() {
            let x = first_w + col_w * k as i32;
            let v = row[oi].map_or("-".to_string(), |e| format!("{e:.1e}"));
            root.draw(&Text::new(v, (x, y), font.clone()))?;
        }
        let metric = opts.ops[oi].accuracy.as_ref().unwrap().metric;
        root.draw(&Text::new(metric.to_string(), (mx, y), font.clone()))?;
    }
    root.present()?;
    Ok(())
}

/// Nanoseconds per `softmax_f32` call through the C ABI for tiny rows (call overhead).
fn c_abi_latency(opts: &Opts) {
    for n in [1usize, 64] {
        let x = uniform_inputs(n, 3);
        let mut y = vec![0.0f32; n];
        let s: Samples = Samples(
            (0..opts.rounds)
                .map(|_| {
                    time(opts.min_sample, || {
                        // SAFETY: x and y are valid for n elements and do not overlap.
                        let s = unsafe {
                            softmax::ffi::softmax_f32(black_box(x.as_ptr()), y.as_mut_ptr(), n)
                        };
                        black_box(s);
                    }) * 1e9
                })
                .collect(),
        );
        println!(
            "n={n}: {:.1} ns ±{:.0}% per softmax_f32 call through the C ABI ({})",
            s.median(),
            s.spread(),
            softmax::current_isa().name()
        );
    }
}

/// Thread scaling (issue 15): one table per case, 1 to all cores, interleaved rounds (each
/// round times every thread count once; medians over the rounds), speed-ups against one
/// thread; then the issue's headline ratios at 2 threads, and single calls of 64 and 4096
/// floats with one thread against all cores (they never reach the pool: the ratio should be
/// 1 within noise). Results are bit-identical for every thread count (`tests/threads.rs`).
fn threads_report(smoke: bool, quick: bool, isa: Isa) {
    use softmax::CrossEntropyOptions;
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
        isa.name()
    );
    let x = uniform_inputs(big.max(1024 * 4096), 11);
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
                let sm = Softmax::with_isa(isa).expect("a measured ISA").threads(t);
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
        let x = uniform_inputs(n, 5);
        let mut y = vec![0.0f32; n];
        let (mut one, mut all) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(3) {
            for (t, out) in [(1, &mut one), (cores, &mut all)] {
                let sm = Softmax::with_isa(isa).expect("a measured ISA").threads(t);
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = ops().iter().map(|o| o.name).collect();
    let opts = match parse_args(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}{}", names.join(", "));
            return;
        }
        Err(e) => {
            eprintln!("report: {e}");
            std::process::exit(2);
        }
    };
    println!("softmax {} report", env!("CARGO_PKG_VERSION"));
    println!(
        "ISAs: {} (default {}); not measured: {}",
        opts.isas
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", "),
        softmax::current_isa().name(),
        Isa::ALL
            .into_iter()
            .filter(|i| !opts.isas.contains(i))
            .map(|i| if i.is_supported() {
                i.name().to_string()
            } else {
                format!("{} (not on this CPU)", i.name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "load average {} on {cpus} CPUs at the start",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if opts.smoke {
        println!("--smoke: one short round; the figures are not measurements");
    }
    println!(
        "{} rounds; each round measures every size, ISA and operation once, after the memory \
         probes of that size\n",
        opts.rounds
    );

    // The thread-scaling ISA: the default ISA when it is measured, else the last ISA asked for.
    let isa = opts
        .isas
        .iter()
        .copied()
        .find(|&i| i == softmax::current_isa())
        .or(opts.isas.last().copied())
        .unwrap_or_else(softmax::current_isa);
    if opts.half_only {
        half_report::half_report(opts.smoke, opts.quick, &opts.isas, inputs::uniform_inputs);
        return;
    }
    if opts.threads_only {
        threads_report(opts.smoke, opts.quick, isa);
        return;
    }
    let m = measure(&opts);
    print_tables(&opts, &m);
    print_trust(&opts, &m);
    let acc = accuracy(&opts);
    print_accuracy(&opts, &acc);
    println!();
    c_abi_latency(&opts);
    threads_report(opts.smoke, opts.quick, isa);
    half_report::half_report(opts.smoke, opts.quick, &opts.isas, inputs::uniform_inputs);

    if let Some(path) = &opts.json {
        match write_json(&opts, &m, &acc, path) {
            Ok(()) => println!("\nJSON: {}", path.display()),
            Err(e) => {
                eprintln!("report: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        }
    }
    if let Some(dir) = &opts.plots {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("report: cannot create {}: {e}", dir.display());
            std::process::exit(1);
        }
        println!();
        for ii in 0..opts.isas.len() {
            let path = dir.join(format!("throughput-{}.svg", opts.isas[ii].name()));
            match plot_throughput(&opts, &m, ii, &path) {
                Ok(()) => println!("plot: {}", path.display()),
                Err(e) => eprintln!("report: plot {} failed: {e}", path.display()),
            }
        }
        let path = dir.join("accuracy.svg");
        match plot_accuracy(&opts, &acc, &path) {
            Ok(()) => println!("plot: {}", path.display()),
            Err(e) => eprintln!("report: plot {} failed: {e}", path.display()),
        }
    }
}
