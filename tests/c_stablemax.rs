//! The StableMax C functions: (1) `c_examples/stablemax.c` compiled against `include/` and a
//! freshly built `libsoftmax.a` and run (it checks every supported ISA against double
//! precision); (2) the `extern "C"` functions called directly, on every ISA, with good and
//! bad arguments, their results compared bit for bit with the Rust API. Follows
//! `tests/c_abi.rs`.

mod common;

use std::ffi::OsString;

use std::process::Command;
use std::ptr;
use std::sync::RwLock;

use softmax::ffi::stablemax::*;
use softmax::ffi::*;
use softmax::{CrossEntropyOptions, Isa, Softmax};

const OK: softmax_status = SOFTMAX_STATUS_OK;
const NULL: softmax_status = SOFTMAX_STATUS_NULL_POINTER;
const INVALID: softmax_status = SOFTMAX_STATUS_INVALID_ARGUMENT;

mod capi;

use capi::{manifest_dir, static_lib, tmp_dir};

#[test]
fn c_stablemax_example_runs_on_every_isa() {
    if std::env::var_os("SOFTMAX_TEST_RUNNER").is_some_and(|r| !r.is_empty()) {
        eprintln!("\n*** SKIP c_stablemax_example: emulated cross run ***\n");
        return;
    }
    let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
    if !Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "\n*** SKIP c_stablemax_example: no working C compiler `{}` (set $CC) ***\n",
            cc.to_string_lossy()
        );
        return;
    }
    let lib = static_lib();
    let exe = tmp_dir().join("softmax_stablemax_c");
    let out = Command::new(&cc)
        .args([
            "-std=c99",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
        ])
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg(manifest_dir().join("c_examples").join("stablemax.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("cannot run the C compiler");
    assert!(
        out.status.success(),
        "compiling stablemax.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("cannot run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stablemax.c failed:\n{stdout}");
    for isa in Isa::ALL {
        let line = if isa.is_supported() {
            format!("isa {}: ok\n", isa.name())
        } else {
            format!("isa {}: not supported here\n", isa.name())
        };
        assert!(stdout.contains(&line), "missing {line:?}:\n{stdout}");
    }
    assert!(stdout.contains("ALL OK\n"), "{stdout}");
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every C function on one ISA (set globally: this is the only test of this binary that
/// calls the C functions, so nothing races on the choice).
fn checks_on(isa: Isa, sm: Softmax) {
    let mut r = common::rng(20);
    let n = 67;
    let x = common::uniform(&mut r, n, -20.0, 20.0);
    let dy = common::uniform(&mut r, n, -1.0, 1.0);
    let (mut y, mut want) = (vec![0.0f32; n], vec![0.0f32; n]);
    // SAFETY (every call below): the pointers come from live Vecs of at least the lengths
    // passed, or are deliberately NULL/misaligned/overlapping for the argument checks, which
    // the functions reject before touching memory.
    unsafe {
        for log in [false, true] {
            let st = if log {
                softmax_log_stablemax_f32(x.as_ptr(), y.as_mut_ptr(), n)
            } else {
                softmax_stablemax_f32(x.as_ptr(), y.as_mut_ptr(), n)
            };
            assert_eq!(st, OK);
            if log {
                sm.log_stablemax(&x, &mut want).unwrap();
            } else {
                sm.stablemax(&x, &mut want).unwrap();
            }
            assert_eq!(bits(&y), bits(&want), "{isa:?} log={log}");
            // In place.
            let mut xy = x.clone();
            let st = if log {
                softmax_log_stablemax_f32(xy.as_ptr(), xy.as_mut_ptr(), n)
            } else {
                softmax_stablemax_f32(xy.as_ptr(), xy.as_mut_ptr(), n)
            };
            assert_eq!((st, bits(&xy)), (OK, bits(&want)), "{isa:?} in place");
        }
        // Rows with strides, against the Rust rows API.
        let (rows, cols, xs, ys) = (3, 20, 22, 21);
        let xb = common::uniform(&mut r, rows * xs, -5.0, 5.0);
        let mut yb = vec![0.0f32; rows * ys];
        let mut wb = vec![0.0f32; rows * ys];
        assert_eq!(
            softmax_stablemax_rows_f32(xb.as_ptr(), xs, yb.as_mut_ptr(), ys, rows, cols),
            OK
        );
        sm.stablemax_rows(&xb, xs, &mut wb, ys, rows, cols).unwrap();
        assert_eq!(bits(&yb), bits(&wb), "{isa:?} rows");
        assert_eq!(
            softmax_log_stablemax_rows_f32(xb.as_ptr(), xs, yb.as_mut_ptr(), ys, rows, cols),
            OK
        );
        sm.log_stablemax_rows(&xb, xs, &mut wb, ys, rows, cols)
            .unwrap();
        assert_eq!(bits(&yb), bits(&wb), "{isa:?} log rows");

        // Cross-entropy.
        let mut loss = 0.0f32;
        assert_eq!(
            softmax_stablemax_cross_entropy_f32(x.as_ptr(), n, 7, &mut loss, ptr::null_mut()),
            OK
        );
        assert_eq!(loss, sm.stablemax_cross_entropy(&x, 7).unwrap());
        let mut g = vec![0.0f32; n];
        assert_eq!(
            softmax_stablemax_cross_entropy_f32(x.as_ptr(), n, 7, &mut loss, g.as_mut_ptr()),
            OK
        );
        let l2 = sm
            .stablemax_cross_entropy_with_grad(&x, 7, &mut want)
            .unwrap();
        assert_eq!((loss, bits(&g)), (l2, bits(&want)), "{isa:?} ce grad");
        let mut xy = x.clone();
        assert_eq!(
            softmax_stablemax_cross_entropy_f32(xy.as_ptr(), n, 7, &mut loss, xy.as_mut_ptr()),
            OK
        );
        assert_eq!(bits(&xy), bits(&want), "{isa:?} ce in place");
        // Batched cross-entropy with ignore_index and smoothing.
        let targets = [4i64, -100, 19];
        let (mut losses, mut wl) = ([0.0f32; 3], [0.0f32; 3]);
        let mut gb = vec![0.0f32; rows * ys];
        assert_eq!(
            softmax_stablemax_cross_entropy_rows_f32(
                xb.as_ptr(),
                xs,
                rows,
                cols,
                targets.as_ptr(),
                -100,
                0.1,
                losses.as_mut_ptr(),
                gb.as_mut_ptr(),
                ys
            ),
            OK
        );
        let opts = CrossEntropyOptions {
            ignore_index: -100,
            label_smoothing: 0.1,
        };
        sm.stablemax_cross_entropy_rows(
            &xb,
            xs,
            rows,
            cols,
            &targets,
            opts,
            &mut wl,
            Some((&mut wb, ys)),
        )
        .unwrap();
        assert_eq!(
            (bits(&losses), bits(&gb)),
            (bits(&wl), bits(&wb)),
            "{isa:?} ce rows"
        );
        // Bad targets and smoothing: nothing written.
        let mut untouched = [9.0f32; 3];
        let bad = [4i64, 20, 0];
        let st = softmax_stablemax_cross_entropy_rows_f32(
            xb.as_ptr(),
            xs,
            rows,
            cols,
            bad.as_ptr(),
            -100,
            0.0,
            untouched.as_mut_ptr(),
            ptr::null_mut(),
            0,
        );
        assert_eq!((st, untouched), (INVALID, [9.0; 3]));
        let st = softmax_stablemax_cross_entropy_rows_f32(
            xb.as_ptr(),
            xs,
            rows,
            cols,
            targets.as_ptr(),
            -100,
            f32::NAN,
            untouched.as_mut_ptr(),
            ptr::null_mut(),
            0,
        );
        assert_eq!(st, INVALID);
        assert_eq!(
            softmax_stablemax_cross_entropy_f32(x.as_ptr(), 0, 0, &mut loss, ptr::null_mut()),
            INVALID
        );
        assert_eq!(
            softmax_stablemax_cross_entropy_f32(x.as_ptr(), n, 0, ptr::null_mut(), ptr::null_mut()),
            NULL
        );
        // loss inside dlogits, dlogits partly overlapping logits.
        let mut buf = x.clone();
        let st = softmax_stablemax_cross_entropy_f32(
            x.as_ptr(),
            n,
            0,
            buf.as_mut_ptr().add(3),
            buf.as_mut_ptr(),
        );
        assert_eq!(st, INVALID);
        let st = softmax_stablemax_cross_entropy_f32(
            buf.as_ptr(),
            n - 1,
            0,
            &mut loss,
            buf.as_mut_ptr().add(1),
        );
        assert_eq!(st, INVALID);

        // Backward passes, single and batched, separate and in place.
        for log in [false, true] {
            let mut dx = vec![0.0f32; n];
            let st = if log {
                softmax_log_stablemax_backward_f32(x.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n)
            } else {
                softmax_stablemax_backward_f32(x.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n)
            };
            assert_eq!(st, OK);
            if log {
                sm.log_stablemax_backward(&x, &dy, &mut want).unwrap();
            } else {
                sm.stablemax_backward(&x, &dy, &mut want).unwrap();
            }
            assert_eq!(bits(&dx), bits(&want), "{isa:?} backward log={log}");
            let mut dd = dy.clone();
            let st = if log {
                softmax_log_stablemax_backward_f32(x.as_ptr(), dd.as_ptr(), dd.as_mut_ptr(), n)
            } else {
                softmax_stablemax_backward_f32(x.as_ptr(), dd.as_ptr(), dd.as_mut_ptr(), n)
            };
            assert_eq!(
                (st, bits(&dd)),
                (OK, bits(&want)),
                "{isa:?} backward in place"
            );
            let dyb = common::uniform(&mut r, rows * xs, -1.0, 1.0);
            let st = if log {
                softmax_log_stablemax_backward_rows_f32(
                    xb.as_ptr(),
                    xs,
                    dyb.as_ptr(),
                    xs,
                    yb.as_mut_ptr(),
                    ys,
                    rows,
                    cols,
                )
            } else {
                softmax_stablemax_backward_rows_f32(
                    xb.as_ptr(),
                    xs,
                    dyb.as_ptr(),
                    xs,
                    yb.as_mut_ptr(),
                    ys,
                    rows,
                    cols,
                )
            };
            assert_eq!(st, OK);
            if log {
                sm.log_stablemax_backward_rows(&xb, xs, &dyb, xs, &mut wb, ys, rows, cols)
            } else {
                sm.stablemax_backward_rows(&xb, xs, &dyb, xs, &mut wb, ys, rows, cols)
            }
            .unwrap();
            assert_eq!(bits(&yb), bits(&wb), "{isa:?} backward rows log={log}");
            // Overlap of dx with x (not in place) and stride below cols.
            let mut buf = x.clone();
            let st = softmax_stablemax_backward_f32(
                buf.as_ptr(),
                dy.as_ptr(),
                buf.as_mut_ptr().add(1),
                n - 1,
            );
            assert_eq!(st, INVALID);
            let st = softmax_log_stablemax_backward_rows_f32(
                xb.as_ptr(),
                cols - 1,
                dyb.as_ptr(),
                xs,
                yb.as_mut_ptr(),
                ys,
                rows,
                cols,
            );
            assert_eq!(st, INVALID);
        }

        // NULL, empty, misaligned.
        assert_eq!(softmax_stablemax_f32(ptr::null(), y.as_mut_ptr(), n), NULL);
        assert_eq!(softmax_stablemax_f32(ptr::null(), ptr::null_mut(), 0), OK);
        assert_eq!(
            softmax_log_stablemax_rows_f32(ptr::null(), 4, ptr::null_mut(), 4, 0, 4),
            OK
        );
        assert_eq!(
            softmax_stablemax_backward_f32(ptr::null(), dy.as_ptr(), y.as_mut_ptr(), n),
            NULL
        );
        let mis = y.as_mut_ptr().cast::<u8>().wrapping_add(1).cast::<f32>();
        assert_eq!(softmax_stablemax_f32(x.as_ptr(), mis, 4), INVALID);
        assert_eq!(
            softmax_stablemax_f32(x.as_ptr(), y.as_mut_ptr().add(0), usize::MAX / 2),
            INVALID
        );
    }
}

/// Held for writing by the test that switches the process ISA, and for reading by the tests
/// that compare two C calls bit for bit (tests run on parallel threads: calls on either side
/// of a switch run different ISAs).
static ISA_LOCK: RwLock<()> = RwLock::new(());

#[test]
fn c_functions_on_every_isa() {
    let _isa = ISA_LOCK.write().unwrap_or_else(|e| e.into_inner());
    let before = softmax::current_isa();
    common::for_each_isa("c_functions_on_every_isa", |isa, sm| {
        softmax::set_isa(isa).unwrap();
        checks_on(isa, sm);
    });
    softmax::set_isa(before).unwrap();
}

#[test]
fn null_gradient_stride_is_never_used() {
    let _isa = ISA_LOCK.read().unwrap_or_else(|e| e.into_inner());
    // As for `softmax_cross_entropy_rows_f32`: with `dlogits` NULL its stride is ignored,
    // even one whose products with the row index would overflow.
    let x = [
        0.5f32, -1.0, 2.0, 0.0, 1.0, 1.0, 1.0, 1.0, 3.0, -2.0, 0.25, 0.0,
    ];
    let targets = [1i64, 2, 3];
    let (mut a, mut b) = ([0.0f32; 3], [0.0f32; 3]);
    // SAFETY: valid buffers of the stated lengths; `dlogits` is NULL.
    unsafe {
        let st = softmax_stablemax_cross_entropy_rows_f32(
            x.as_ptr(),
            4,
            3,
            4,
            targets.as_ptr(),
            -100,
            0.0,
            a.as_mut_ptr(),
            ptr::null_mut(),
            usize::MAX,
        );
        assert_eq!(st, OK);
        let st = softmax_stablemax_cross_entropy_rows_f32(
            x.as_ptr(),
            4,
            3,
            4,
            targets.as_ptr(),
            -100,
            0.0,
            b.as_mut_ptr(),
            ptr::null_mut(),
            4,
        );
        assert_eq!(st, OK);
    }
    assert_eq!(a, b);
    assert!(a.iter().all(|v| v.is_finite() && *v >= 0.0), "{a:?}");
}
