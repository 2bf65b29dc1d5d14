//! Threads: every batch operation and every long-row operation gives the same bits for 1, 2,
//! 3, 4 and 8 threads, for a caller's parallel-for (a Rust pool and a C callback), and for
//! the single-threaded call, on every ISA; concurrent calls while the settings change; a
//! panicking or misbehaving parallel-for gives an error, never a hang.
//!
//! Long rows are a few million elements in release builds (see `long_len`).

mod capi;
mod common;

use std::ffi::{c_void, OsString};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use approx::assert_abs_diff_eq;
use common::{for_each_isa, rng, uniform};
use softmax::ffi::*;
use softmax::{Algorithm, CrossEntropyOptions, ParallelFor, Softmax};

// ---------------------------------------------------------------------------------------------
// The executors under test
// ---------------------------------------------------------------------------------------------

/// Tests that install a parallel-for or change the process setting hold this for writing;
/// the others hold it for reading (so "threads = n" really runs on the built-in pool).
static GLOBAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    GLOBAL.write().unwrap_or_else(|e| e.into_inner())
}

/// A caller's pool in Rust: `threads` scoped threads take indices from a counter, from the
/// last index down (an order the built-in pool never uses); counts its calls.
struct RustPool {
    threads: usize,
    calls: AtomicUsize,
}

impl ParallelFor for RustPool {
    fn parallel_for(&self, count: usize, task: &(dyn Fn(usize) + Sync)) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    task(count - 1 - i);
                });
            }
        });
    }
}

/// A C-ABI parallel-for written in Rust: runs the tasks on two scoped threads (even indices
/// on one, odd on the other), counting its calls in `*ctx`.
unsafe extern "C" fn c_parallel_for(
    ctx: *mut c_void,
    task: softmax_task_fn,
    task_ctx: *mut c_void,
    count: usize,
) {
    // SAFETY: `ctx` is the `AtomicUsize` installed with this function (a static).
    let calls = unsafe { &*(ctx as *const AtomicUsize) };
    calls.fetch_add(1, Ordering::Relaxed);
    let task_ctx = task_ctx as usize;
    std::thread::scope(|s| {
        for parity in 0..2 {
            s.spawn(move || {
                for i in (parity..count).step_by(2) {
                    // SAFETY: the library's contract: each index once, before we return.
                    unsafe { task(task_ctx as *mut c_void, i) };
                }
            });
        }
    });
}

static C_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Runs `op` with `sm.threads(1)` (the reference), then with 2, 3, 4 and 8 threads, with the
/// process setting 0 (all cores) and with a Rust pool and a C callback installed, and checks
/// that every run gives the same bits. `parallel` says whether the call is big enough that
/// an installed parallel-for must have been used.
fn same_bits_everywhere(what: &str, sm: Softmax, parallel: bool, op: &dyn Fn(Softmax) -> Vec<f32>) {
    let want = {
        let _g = shared();
        let want = op(sm.threads(1));
        for n in [2, 3, 4, 8] {
            assert_bits(&format!("{what}, {n} threads"), &op(sm.threads(n)), &want);
        }
        want
    };
    let _g = exclusive();
    softmax::set_num_threads(0);
    assert_bits(&format!("{what}, all cores"), &op(sm), &want);
    softmax::set_num_threads(1);
    assert_bits(&format!("{what}, process setting 1"), &op(sm), &want);

    let pool = Arc::new(RustPool {
        threads: 3,
        calls: AtomicUsize::new(0),
    });
    softmax::set_parallel_for(Some(pool.clone()));
    let got = op(sm);
    softmax::set_parallel_for(None);
    assert_bits(&format!("{what}, Rust parallel-for"), &got, &want);
    assert_eq!(
        pool.calls.load(Ordering::Relaxed) > 0,
        parallel,
        "{what}: Rust pool used"
    );

    let before = C_CALLS.load(Ordering::Relaxed);
    // SAFETY: `c_parallel_for` follows the contract; its context is a static.
    let st = unsafe {
        softmax_set_parallel_for(Some(c_parallel_for), &C_CALLS as *const _ as *mut c_void)
    };
    assert_eq!(st, SOFTMAX_STATUS_OK);
    let got = op(sm.threads(4));
    // SAFETY: NULL restores the built-in pool.
    unsafe { softmax_set_parallel_for(None, std::ptr::null_mut()) };
    assert_bits(&format!("{what}, C parallel-for"), &got, &want);
    let used = C_CALLS.load(Ordering::Relaxed) > before;
    assert_eq!(used, parallel, "{what}: C callback used");
}

/// Exact bit equality (NaN payloads included).
fn assert_bits(ctx: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{ctx}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!(
            "{ctx}: i={i} got {:e} ({:#010x}), single-threaded gave {:e} ({:#010x})",
            got[i],
            got[i].to_bits(),
            want[i],
            want[i].to_bits()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// A debug build under an emulator (scripts/test-aarch64.sh sets `SOFTMAX_TEST_RUNNER`):
/// about 30 times slower than native, so the sweeps are trimmed.
fn slow_emulation() -> bool {
    cfg!(debug_assertions) && std::env::var_os("SOFTMAX_TEST_RUNNER").is_some_and(|r| !r.is_empty())
}

/// The long-row length, odd so that the last segment is partial: a few million in release
/// builds (`cargo test --release --test threads`), 600 001 (10 segments) in debug builds,
/// which keep their debug assertions (140 001 in debug builds under an emulator);
/// `SOFTMAX_TEST_LONG` overrides all of these.
fn long_len() -> usize {
    let default = if slow_emulation() {
        // Unoptimised code under qemu: three segments, the last one partial.
        140_001
    } else if cfg!(debug_assertions) {
        600_001
    } else {
        3_000_017
    };
    std::env::var("SOFTMAX_TEST_LONG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn logits(seed: u64, n: usize, spread: f32) -> Vec<f32> {
    uniform(&mut rng(seed), n, -spread, spread)
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

#[test]
fn batches_are_bit_identical() {
    // 64 x 4096 (the common case), 700 rows of 300 (stride 301), 5 rows of 40000; a debug
    // build under an emulator, the first only.
    let shapes = [(64, 4096, 4096), (700, 300, 301), (5, 40_000, 40_000)];
    let shapes = if slow_emulation() {
        &shapes[..1]
    } else {
        &shapes[..]
    };
    for &(rows, cols, stride) in shapes {
        let len = (rows - 1) * stride + cols;
        let mut x = logits(rows as u64, len, 12.0);
        // Special rows inside the batch: a NaN row, a +inf row, an all -inf (masked) row.
        x[stride] = f32::NAN;
        x[2 * stride + 3] = f32::INFINITY;
        x[3 * stride..3 * stride + cols].fill(f32::NEG_INFINITY);
        let dy = logits(7, len, 1.0);
        let targets: Vec<i64> = (0..rows as i64)
            .map(|r| {
                if r % 7 == 5 {
                    -100
                } else {
                    (r * 37) % cols as i64
                }
            })
            .collect();
        for_each_isa("batches_are_bit_identical", |isa, sm| {
            let name = |op: &str| format!("{op} {rows}x{cols} on {}", isa.name());
            for alg in Algorithm::ALL {
                let f = |sm: Softmax| {
                    let mut y = vec![0.0f32; len];
                    sm.softmax_rows(&x, stride, &mut y, stride, rows, cols, alg)
                        .unwrap();
                    y
                };
                same_bits_everywhere(&name(alg.name()), sm, true, &f);
            }
            let masked = |sm: Softmax| {
                let mut y = x.clone();
                sm.zero_masked_rows(true)
                    .softmax_rows_in_place(&mut y, stride, rows, cols, Algorithm::Auto)
                    .unwrap();
                y
            };
            same_bits_everywhere(&name("softmax in place, masked rows"), sm, true, &masked);
            let log = |sm: Softmax| {
                let mut y = vec![0.0f32; len];
                sm.log_softmax_rows(&x, stride, &mut y, stride, rows, cols)
                    .unwrap();
                y
            };
            same_bits_everywhere(&name("log-softmax"), sm, true, &log);
            let log_in_place = |sm: Softmax| {
                let mut y = x.clone();
                sm.log_softmax_rows_in_place(&mut y, stride, rows, cols)
                    .unwrap();
                y
            };
            same_bits_everywhere(&name("log-softmax in place"), sm, true, &log_in_place);
            let scaled = |sm: Softmax| {
                let mut y = vec![0.0f32; len];
                sm.softmax_scaled_rows(
                    &x,
                    stride,
                    &mut y,
                    stride,
                    rows,
                    cols,
                    0.125,
                    Algorithm::Auto,
                )
                .unwrap();
                y
            };
            same_bits_everywhere(&name("scaled softmax"), sm, true, &scaled);
            for log in [false, true] {
                let backward = |sm: Softmax| {
                    let mut dx = vec![0.0f32; len];
                    if log {
                        sm.log_softmax_backward_rows(
                            &x, stride, &dy, stride, &mut dx, stride, rows, cols,
                        )
                    } else {
                        sm.softmax_backward_rows(
                            &x, stride, &dy, stride, &mut dx, stride, rows, cols,
                        )
                    }
                    .unwrap();
                    dx
                };
                let what = if log {
                    "log-softmax backward"
                } else {
                    "softmax backward"
                };
                same_bits_everywhere(&name(what), sm, true, &backward);
            }
            for (smoothing, grad) in [(0.0, true), (0.1, true), (0.0, false), (0.1, false)] {
                let ce = |sm: Softmax| {
                    let opts = CrossEntropyOptions {
                        ignore_index: -100,
                        label_smoothing: smoothing,
                    };
                    let mut losses = vec![0.0f32; rows];
                    let mut d = vec![0.0f32; len];
                    let dl = grad.then_some((&mut d[..], stride));
                    sm.cross_entropy_rows(&x, stride, rows, cols, &targets, opts, &mut losses, dl)
                        .unwrap();
                    losses.extend_from_slice(&d);
                    losses
                };
                let what = format!("cross-entropy (smoothing {smoothing}, gradient {grad})");
                same_bits_everywhere(&name(&what), sm, true, &ce);
            }
        });
    }
}

#[test]
fn small_calls_never_reach_a_pool() {
    // Below the work threshold: an installed parallel-for is never called.
    let x = logits(3, 64 * 1024, 5.0);
    for_each_isa("small_calls_never_reach_a_pool", |_, sm| {
        for (rows, cols) in [(1, 64), (1, 4096), (16, 4096), (1, 65_536), (1000, 64)] {
            let f = |sm: Softmax| {
                let mut y = vec![0.0f32; rows * cols];
                sm.softmax_rows(&x, cols, &mut y, cols, rows, cols, Algorithm::Auto)
                    .unwrap();
                y.push(sm.logsumexp(&x[..cols]));
                y
            };
            same_bits_everywhere(&format!("{rows}x{cols}"), sm, false, &f);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Long rows
// ---------------------------------------------------------------------------------------------

/// One operation under test: its name and a call that returns every output.
type Op<'a> = (String, Box<dyn Fn(Softmax) -> Vec<f32> + 'a>);

/// Every long-row operation on `x`, as one vector of outputs.
fn long_row_ops(x: &[f32], target: usize) -> Vec<Op<'_>> {
    let n = x.len();
    let mut ops: Vec<Op<'_>> = Vec::new();
    for alg in Algorithm::ALL {
        ops.push((
            format!("softmax {}", alg.name()),
            Box::new(move |sm: Softmax| {
                let mut y = vec![0.0f32; n];
                sm.softmax_with(x, &mut y, alg).unwrap();
                y
            }),
        ));
    }
    ops.push((
        "softmax in place, masked".into(),
        Box::new(move |sm: Softmax| {
            let mut y = x.to_vec();
            sm.zero_masked_rows(true)
                .softmax_in_place_with(&mut y, Algorithm::TwoPass);
            y
        }),
    ));
    ops.push((
        "log-softmax".into(),
        Box::new(move |sm: Softmax| {
            let mut y = vec![0.0f32; n];
            sm.log_softmax(x, &mut y).unwrap();
            y
        }),
    ));
    ops.push((
        "log-softmax in place".into(),
        Box::new(move |sm: Softmax| {
            let mut y = x.to_vec();
            sm.log_softmax_in_place(&mut y);
            y
        }),
    ));
    ops.push((
        "log-sum-exp".into(),
        Box::new(move |sm: Softmax| vec![sm.logsumexp(x)]),
    ));
    ops.push((
        "cross-entropy".into(),
        Box::new(move |sm: Softmax| vec![sm.cross_entropy(x, target).unwrap()]),
    ));
    ops.push((
        "cross-entropy with gradient".into(),
        Box::new(move |sm: Softmax| {
            let mut d = vec![0.0f32; n];
            let loss = sm.cross_entropy_with_grad(x, target, &mut d).unwrap();
            d.push(loss);
            d
        }),
    ));
    ops.push((
        "cross-entropy rows, smoothing, gradient".into(),
        Box::new(move |sm: Softmax| {
            let mut d = x.to_vec();
            let mut losses = [0.0f32; 1];
            let opts = CrossEntropyOptions {
                ignore_index: -100,
                label_smoothing: 0.1,
            };
            let logits = x.to_vec();
            sm.cross_entropy_rows(
                &logits,
                n,
                1,
                n,
                &[target as i64],
                opts,
                &mut losses,
                Some((&mut d, n)),
            )
            .unwrap();
            d.push(losses[0]);
            d
        }),
    ));
    ops
}

fn check_long_row(what: &str, x: &[f32], target: usize, isas: bool) {
    let run = |isa: softmax::Isa, sm: Softmax| {
        for (name, op) in long_row_ops(x, target) {
            let what = format!("{what}: {name} on {}", isa.name());
            same_bits_everywhere(&what, sm, true, &*op);
        }
    };
    if isas {
        for_each_isa("long_rows_are_bit_identical", run);
    } else {
        let sm = Softmax::new();
        run(sm.isa(), sm);
    }
}

#[test]
fn long_rows_are_bit_identical() {
    let n = long_len();
    check_long_row("random", &logits(11, n, 30.0), n / 3, true);
    // Just above and at the segmentation threshold, and a row `Auto` computes with
    // three-pass reload (in cache).
    check_long_row("128K + 1", &logits(12, 131_073, 10.0), 5, false);
    check_long_row("1M", &logits(13, 1 << 20, 10.0), 1 << 19, false);
}

#[test]
fn long_reload_rows_out_of_place_match_in_place() {
    // Reload softmax of a long row written out of place stores each segment's exponentials
    // against the shift of that segment's first vector, in the walk that finds its maximum
    // (AVX-512), and rescales each segment by a power of two in the output pass; in place it
    // runs the three passes. Both must give the same bits, on every ISA and thread count:
    // ordinary rows, rows with entries below the underflow threshold of the maximum (the
    // output pass zeroes them), segments whose first vector sits 40 below their maximum (a
    // shift that moved) or 50 below (past the walk's reach: the three passes run again), a
    // maximum climbing from segment to segment, and a last segment shorter than a vector.
    const SEGMENT: usize = 64 * 1024;
    let n = long_len();
    let mut rng = rng(41);
    let base = uniform(&mut rng, n, -12.0, 12.0);
    let with = |f: &dyn Fn(&mut Vec<f32>)| {
        let mut x = base.clone();
        f(&mut x);
        x
    };
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("ordinary", base.clone()),
        (
            "entries below the threshold",
            with(&|x| {
                // The row's threshold is near -75.5; a segment's first vector's, lower.
                for i in (3..x.len()).step_by(997) {
                    x[i] = -75.0 - (i % 36) as f32;
                }
                x[SEGMENT..SEGMENT + 16].fill(-20.0);
            }),
        ),
        (
            "first vectors 40 below",
            with(&|x| {
                for s in (0..x.len()).step_by(SEGMENT) {
                    x[s..s + 16].fill(-28.0);
                }
            }),
        ),
        (
            "one first vector 50 below",
            with(&|x| x[2 * SEGMENT..2 * SEGMENT + 16].fill(-38.0)),
        ),
        (
            "climbing",
            with(&|x| {
                for (i, v) in x.iter_mut().enumerate() {
                    *v += 30.0 * (i / SEGMENT) as f32;
                }
            }),
        ),
        ("a last segment of 5", {
            let mut x = base[..2 * SEGMENT + 5].to_vec();
            x[9] = -120.0;
            x
        }),
    ];
    let _g = shared();
    for_each_isa("long_reload_rows_out_of_place_match_in_place", |isa, sm| {
        for (what, x) in &cases {
            let mut inplace = x.clone();
            sm.threads(1)
                .softmax_in_place_with(&mut inplace, Algorithm::ThreePassReload);
            for threads in [1, 3] {
                let mut y = vec![0.0f32; x.len()];
                sm.threads(threads)
                    .softmax_with(x, &mut y, Algorithm::ThreePassReload)
                    .unwrap();
                let ctx = format!("{what} on {}, {threads} threads", isa.name());
                assert_bits(&ctx, &y, &inplace);
            }
            let sum: f64 = inplace.iter().map(|&v| v as f64).sum();
            assert!((sum - 1.0).abs() < 1e-5, "{what}: sum {sum}");
        }
    });
}

#[test]
fn long_rows_are_accurate() {
    // The segmented sum against an f64 oracle (the combination of segments loses nothing).
    let n = long_len();
    let x = logits(21, n, 20.0);
    let _g = shared();
    for_each_isa("long_rows_are_accurate", |isa, sm| {
        let sm = sm.threads(4);
        let exact = common::oracle_logsumexp(&x);
        let lse = sm.logsumexp(&x) as f64;
        assert!(
            ((lse - exact) / exact).abs() < 2e-7,
            "{}: lse {lse} vs {exact}",
            isa.name()
        );
        let mut y = vec![0.0f32; n];
        sm.softmax_with(&x, &mut y, Algorithm::TwoPass).unwrap();
        let sum: f64 = y.iter().map(|&v| v as f64).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{}: sum {sum}", isa.name());
        let i = n / 2;
        let want = (x[i] as f64 - exact).exp();
        assert!(
            ((y[i] as f64 - want) / want).abs() < 1e-6,
            "{}: y[{i}]",
            isa.name()
        );
    });
}

#[test]
fn special_long_rows_follow_the_rules() {
    let n = long_len();
    let base = logits(31, n, 10.0);
    let mid = n / 2 + 5;
    let with = |f: &dyn Fn(&mut Vec<f32>)| {
        let mut x = base.clone();
        f(&mut x);
        x
    };
    let nan = with(&|x| x[mid] = f32::NAN);
    let inf = with(&|x| {
        x[mid] = f32::INFINITY;
        x[7] = f32::INFINITY;
    });
    let all_neg_inf = vec![f32::NEG_INFINITY; n];
    // Every segment but a few masked: whole segments of -inf contribute nothing.
    let mostly_masked = with(&|x| {
        x[..n - 1000].fill(f32::NEG_INFINITY);
    });
    let huge = with(&|x| {
        x[mid] = 3.0e38;
        x[mid + 1] = 3.0e38 - 1.0e32;
    });
    let tiny_segment = with(&|x| x[..70_000].fill(-1.0e9));
    let cases: [(&str, &Vec<f32>); 6] = [
        ("NaN", &nan),
        ("+inf", &inf),
        ("all -inf", &all_neg_inf),
        ("mostly -inf", &mostly_masked),
        ("huge", &huge),
        ("a segment below -LARGE", &tiny_segment),
    ];
    for (what, x) in cases {
        check_long_row(what, x, mid, false);
    }
    // The documented values (same bits on every executor, checked above).
    let _g = shared();
    let sm = Softmax::new().threads(3);
    let mut y = vec![0.0f32; n];
    sm.softmax(&nan, &mut y).unwrap();
    assert!(y.iter().all(|v| v.is_nan()));
    assert!(sm.logsumexp(&nan).is_nan());
    sm.softmax(&inf, &mut y).unwrap();
    assert_eq!((y[7], y[mid], y[0]), (0.5, 0.5, 0.0));
    assert_eq!(sm.logsumexp(&inf), f32::INFINITY);
    sm.softmax(&all_neg_inf, &mut y).unwrap();
    assert!(y.iter().all(|v| v.is_nan()));
    assert_eq!(sm.logsumexp(&all_neg_inf), f32::NEG_INFINITY);
    sm.zero_masked_rows(true)
        .softmax(&all_neg_inf, &mut y)
        .unwrap();
    assert!(y.iter().all(|&v| v == 0.0));
    sm.softmax(&mostly_masked, &mut y).unwrap();
    assert!(y[..n - 1000].iter().all(|&v| v == 0.0));
    let sum: f64 = y.iter().map(|&v| v as f64).sum();
    assert!((sum - 1.0).abs() < 1e-5);
    sm.softmax(&huge, &mut y).unwrap();
    assert!(y[mid] > 0.99 && y[0] == 0.0);
    assert_abs_diff_eq!(sm.logsumexp(&huge), 3.0e38, epsilon = 3.0e38 * 1e-6);
}

// ---------------------------------------------------------------------------------------------
// Settings, concurrency and failures
// ---------------------------------------------------------------------------------------------

#[test]
fn settings_read_back() {
    let _g = exclusive();
    softmax::set_num_threads(3);
    assert_eq!(softmax::num_threads(), 3);
    assert_eq!(softmax_get_num_threads(), 3);
    assert_eq!(Softmax::new().num_threads(), 3);
    assert_eq!(Softmax::new().threads(5).num_threads(), 5);
    assert_eq!(softmax_set_num_threads(0), SOFTMAX_STATUS_OK);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(softmax_get_num_threads(), cores.min(softmax::MAX_THREADS));
    softmax::set_num_threads(100_000);
    assert_eq!(softmax::num_threads(), softmax::MAX_THREADS);
    softmax::set_num_threads(1);
    assert_eq!(softmax::num_threads(), 1);
    assert!(format!("{:?}", Softmax::new().threads(2)).contains("threads: Some(2)"));
}

#[test]
fn the_environment_sets_the_default() {
    // A fresh process: SOFTMAX_NUM_THREADS is read at first use.
    if std::env::var_os("SOFTMAX_THREADS_CHILD").is_some() {
        let want: usize = std::env::var("SOFTMAX_THREADS_CHILD")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(softmax::num_threads(), want);
        return;
    }
    if std::env::var_os("SOFTMAX_TEST_RUNNER").is_some_and(|r| !r.is_empty()) {
        println!("SKIP the_environment_sets_the_default: emulated run");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for (env, want) in [(Some("3"), 3), (Some("x"), 1), (None, 1)] {
        let mut cmd = Command::new(&exe);
        cmd.args(["--exact", "the_environment_sets_the_default", "--nocapture"])
            .env("SOFTMAX_THREADS_CHILD", want.to_string());
        match env {
            Some(v) => cmd.env(softmax::THREADS_ENV_VAR, v),
            None => cmd.env_remove(softmax::THREADS_ENV_VAR),
        };
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{env:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 passed"), "{env:?}: {text}");
    }
}

#[test]
fn concurrent_calls_while_the_settings_change() {
    let _g = exclusive();
    let n = long_len().min(600_000);
    let x = logits(41, n, 15.0);
    let batch = logits(42, 64 * 4096, 8.0);
    let reference = Softmax::new().threads(1);
    let mut want_row = vec![0.0f32; n];
    reference.softmax(&x, &mut want_row).unwrap();
    let want_lse = reference.logsumexp(&x);
    let mut want_batch = vec![0.0f32; batch.len()];
    reference
        .log_softmax_rows(&batch, 4096, &mut want_batch, 4096, 64, 4096)
        .unwrap();
    let stop = AtomicBool::new(false);
    let pool = Arc::new(RustPool {
        threads: 2,
        calls: AtomicUsize::new(0),
    });
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                match i % 5 {
                    0 => softmax::set_num_threads([2, 3, 0, 8, 1][i / 5 % 5]),
                    1 => softmax::set_parallel_for(Some(pool.clone())),
                    2 => softmax::set_parallel_for(None),
                    // SAFETY: `c_parallel_for` follows the contract; its context is static.
                    3 => unsafe {
                        softmax_set_parallel_for(
                            Some(c_parallel_for),
                            &C_CALLS as *const _ as *mut c_void,
                        );
                    },
                    _ => {
                        // SAFETY: NULL restores the built-in pool.
                        unsafe { softmax_set_parallel_for(None, std::ptr::null_mut()) };
                    }
                }
                i += 1;
                std::thread::yield_now();
            }
        });
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let (x, batch) = (&x, &batch);
                let (want_row, want_batch) = (&want_row, &want_batch);
                s.spawn(move || {
                    for round in 0..4 {
                        let sm = if t % 2 == 0 {
                            Softmax::new()
                        } else {
                            Softmax::new().threads(t % 4 + 1)
                        };
                        let mut y = vec![0.0f32; x.len()];
                        sm.softmax(x, &mut y).unwrap();
                        assert_bits(&format!("thread {t} round {round}: softmax"), &y, want_row);
                        assert_eq!(sm.logsumexp(x).to_bits(), want_lse.to_bits());
                        let mut yb = vec![0.0f32; batch.len()];
                        // Through the C ABI too.
                        // SAFETY: valid buffers of the stated sizes.
                        let st = unsafe {
                            softmax_log_softmax_rows_f32(
                                batch.as_ptr(),
                                4096,
                                yb.as_mut_ptr(),
                                4096,
                                64,
                                4096,
                            )
                        };
                        assert_eq!(st, SOFTMAX_STATUS_OK);
                        assert_bits(&format!("thread {t} round {round}: batch"), &yb, want_batch);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    softmax::set_parallel_for(None);
    softmax::set_num_threads(1);
}

/// A parallel-for whose tasks panic... no: a parallel-for that panics itself, after running
/// half of the tasks.
struct PanickingPool;

impl ParallelFor for PanickingPool {
    fn parallel_for(&self, count: usize, task: &(dyn Fn(usize) + Sync)) {
        std::thread::scope(|s| {
            s.spawn(|| (0..count / 2).for_each(task));
        });
        panic!("the caller's pool fails");
    }
}

/// A C parallel-for that forgets the last task.
unsafe extern "C" fn skipping_parallel_for(
    _ctx: *mut c_void,
    task: softmax_task_fn,
    task_ctx: *mut c_void,
    count: usize,
) {
    for i in 0..count.saturating_sub(1) {
        // SAFETY: the library's task, called within `parallel_for`.
        unsafe { task(task_ctx, i) };
    }
}

#[test]
fn failures_become_errors_not_hangs() {
    let _g = exclusive();
    let n = long_len().min(600_000);
    let x = logits(51, n, 5.0);
    let mut y = vec![0.0f32; n];
    let mut lse = 0.0f32;

    softmax::set_parallel_for(Some(Arc::new(PanickingPool)));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Softmax::new().softmax(&x, &mut y).unwrap()
    }));
    assert!(r.is_err(), "the pool's panic reaches the Rust caller");
    // SAFETY: valid buffers of the stated sizes.
    let st = unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), n) };
    assert_eq!(st, SOFTMAX_STATUS_INTERNAL_ERROR);
    // SAFETY: as above.
    let st = unsafe { softmax_logsumexp_f32(x.as_ptr(), n, &mut lse) };
    assert_eq!(st, SOFTMAX_STATUS_INTERNAL_ERROR);

    // SAFETY: `skipping_parallel_for` calls only valid tasks (it skips one).
    unsafe { softmax_set_parallel_for(Some(skipping_parallel_for), std::ptr::null_mut()) };
    // SAFETY: as above.
    let st = unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), n) };
    assert_eq!(st, SOFTMAX_STATUS_INTERNAL_ERROR);
    let batch = logits(52, 64 * 4096, 5.0);
    let mut yb = vec![0.0f32; batch.len()];
    // SAFETY: as above.
    let st = unsafe { softmax_rows_f32(batch.as_ptr(), 4096, yb.as_mut_ptr(), 4096, 64, 4096, 0) };
    assert_eq!(st, SOFTMAX_STATUS_INTERNAL_ERROR);
    // A handle set to one thread never uses the installed parallel-for.
    Softmax::new().threads(1).softmax(&x, &mut y).unwrap();

    // SAFETY: NULL restores the built-in pool, which works afterwards.
    unsafe { softmax_set_parallel_for(None, std::ptr::null_mut()) };
    softmax::set_num_threads(4);
    // SAFETY: as above.
    let st = unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), n) };
    assert_eq!(st, SOFTMAX_STATUS_OK);
    let sum: f64 = y.iter().map(|&v| v as f64).sum();
    assert!((sum - 1.0).abs() < 1e-5);
    softmax::set_num_threads(1);
}

// ---------------------------------------------------------------------------------------------
// The C side: a pthreads parallel-for written in C
// ---------------------------------------------------------------------------------------------

#[test]
fn c_parallel_for_with_pthreads() {
    if std::env::var_os("SOFTMAX_TEST_RUNNER").is_some_and(|r| !r.is_empty()) {
        println!("SKIP c_parallel_for_with_pthreads: emulated cross run");
        return;
    }
    let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
    if !Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!(
            "SKIP c_parallel_for_with_pthreads: no C compiler `{}`",
            cc.to_string_lossy()
        );
        return;
    }
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("softmax_threads_c");
    let out = Command::new(&cc)
        .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(capi::include_dir())
        .arg(
            capi::manifest_dir()
                .join("tests")
                .join("c")
                .join("threads.c"),
        )
        // The library the C tests install (built once, with the install script's flags).
        .arg(capi::static_lib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("the C compiler runs");
    assert!(
        out.status.success(),
        "compiling threads.c:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for isa in softmax::Isa::ALL.into_iter().filter(|i| i.is_supported()) {
        let out = Command::new(&exe)
            .env("SOFTMAX_ISA", isa.name())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "threads.c on {}:\n{text}{}",
            isa.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("threads: all identical"), "{text}");
    }
}
