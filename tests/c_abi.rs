//! The C ABI: (1) the C and C++ examples in `c_examples/`, compiled against the headers and
//! `libsoftmax.a` that `scripts/install.sh` installs, and run (once per supported ISA for C);
//! (2) the `extern "C"` functions called directly with good and bad arguments.

mod capi;

use std::ffi::{CStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;
use std::sync::RwLock;

use approx::{abs_diff_eq, assert_abs_diff_eq};
use capi::{check_output, compiler, include_dir, manifest_dir, static_lib, tmp_dir};

use softmax::ffi::*;
use softmax::{Algorithm, Isa};

// ---------------------------------------------------------------------------------------------
// (1) The C and C++ examples.
// ---------------------------------------------------------------------------------------------

/// Compiles `c_examples/<source>` with `compiler` and `flags` into `<tmp>/<exe>`.
fn compile(compiler: &OsString, flags: &[&str], source: &str, exe: &str) -> PathBuf {
    compile_file(
        compiler,
        flags,
        &manifest_dir().join("c_examples").join(source),
        exe,
    )
}

/// Compiles `source` with `compiler` and `flags` against the installed static library into
/// `<tmp>/<exe>`.
fn compile_file(compiler: &OsString, flags: &[&str], source: &Path, exe: &str) -> PathBuf {
    let lib = static_lib();
    let exe = tmp_dir().join(exe);
    let out = Command::new(compiler)
        .args(flags)
        .arg("-I")
        .arg(include_dir())
        .arg(source)
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", compiler.to_string_lossy()));
    check_output(&format!("compiling {}", source.display()), &out);
    exe
}

/// A C program that calls every deprecated 0.1 name and its `softmax_` successor on the same
/// inputs and compares the outputs bit for bit.
const DEPRECATED_NAMES_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include "softmax.h"

#define N 7
#define ROWS 2
static int failures = 0;
static void same(const char *what, softmax_status s1, softmax_status s2, const void *a,
                 const void *b, size_t bytes) {
    if (s1 != SOFTMAX_STATUS_OK || s2 != s1 || memcmp(a, b, bytes) != 0) {
        printf("MISMATCH %s\n", what);
        failures++;
    }
}
int main(void) {
    float x[ROWS * N], y[ROWS * N], dy[ROWS * N], a[ROWS * N], b[ROWS * N];
    float la = 0.0f, lb = 0.0f, lsa[ROWS], lsb[ROWS];
    int64_t targets[ROWS] = {3, -100};
    size_t i;
    softmax_status s1, s2;
    for (i = 0; i < ROWS * N; i++) {
        x[i] = (float)((i * 37) % 11) - 4.5f;
        dy[i] = (float)((i * 13) % 5) - 2.0f;
    }
    softmax_log_softmax_f32(x, y, N);
    s1 = log_softmax_f32(x, a, N); s2 = softmax_log_softmax_f32(x, b, N);
    same("log_softmax_f32", s1, s2, a, b, sizeof(float) * N);
    s1 = logsumexp_f32(x, N, &la); s2 = softmax_logsumexp_f32(x, N, &lb);
    same("logsumexp_f32", s1, s2, &la, &lb, sizeof la);
    s1 = log_softmax_rows_f32(x, N, a, N, ROWS, N);
    s2 = softmax_log_softmax_rows_f32(x, N, b, N, ROWS, N);
    same("log_softmax_rows_f32", s1, s2, a, b, sizeof a);
    s1 = log_softmax_backward_f32(y, dy, a, N); s2 = softmax_log_softmax_backward_f32(y, dy, b, N);
    same("log_softmax_backward_f32", s1, s2, a, b, sizeof(float) * N);
    softmax_log_softmax_rows_f32(x, N, y, N, ROWS, N);
    s1 = log_softmax_backward_rows_f32(y, N, dy, N, a, N, ROWS, N);
    s2 = softmax_log_softmax_backward_rows_f32(y, N, dy, N, b, N, ROWS, N);
    same("log_softmax_backward_rows_f32", s1, s2, a, b, sizeof a);
    s1 = cross_entropy_f32(x, N, 2, &la, a); s2 = softmax_cross_entropy_f32(x, N, 2, &lb, b);
    same("cross_entropy_f32 loss", s1, s2, &la, &lb, sizeof la);
    same("cross_entropy_f32 gradient", s1, s2, a, b, sizeof(float) * N);
    s1 = cross_entropy_rows_f32(x, N, ROWS, N, targets, -100, 0.1f, lsa, a, N);
    s2 = softmax_cross_entropy_rows_f32(x, N, ROWS, N, targets, -100, 0.1f, lsb, b, N);
    same("cross_entropy_rows_f32 losses", s1, s2, lsa, lsb, sizeof lsa);
    same("cross_entropy_rows_f32 gradient", s1, s2, a, b, sizeof a);
    if (failures == 0) printf("DEPRECATED NAMES OK\n");
    return failures != 0;
}
"#;

/// The 0.1 names (deprecated aliases until 1.0) still compile without warnings, link, and give
/// exactly the results of the renamed functions.
#[test]
fn deprecated_names_still_work() {
    let Some(cc) = compiler("CC", "cc", "deprecated_names_still_work") else {
        return;
    };
    let source = tmp_dir().join("softmax_deprecated_names.c");
    std::fs::write(&source, DEPRECATED_NAMES_C).expect("write the C program");
    let flags = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
    let exe = compile_file(&cc, &flags, &source, "softmax_deprecated_names");
    let stdout = run(&exe, None);
    assert!(stdout.contains("DEPRECATED NAMES OK\n"), "{stdout}");
}

/// Runs `exe` with `SOFTMAX_ISA` set to `isa` (or unset).
fn run(exe: &Path, isa: Option<&str>) -> String {
    let mut cmd = Command::new(exe);
    match isa {
        Some(name) => cmd.env("SOFTMAX_ISA", name),
        None => cmd.env_remove("SOFTMAX_ISA"),
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    check_output(&format!("{} (SOFTMAX_ISA={isa:?})", exe.display()), &out)
}

#[test]
fn c_example_runs_on_every_isa() {
    let Some(cc) = compiler("CC", "cc", "c_example_runs_on_every_isa") else {
        return;
    };
    let flags = [
        "-std=c99",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
    ];
    let exe = compile(&cc, &flags, "example.c", "softmax_example_c");
    let best = Isa::best().name();

    // Default: the best ISA of this CPU.
    let stdout = run(&exe, None);
    assert!(
        stdout.contains(&format!("initial isa: {best}\n")),
        "expected the default ISA {best}:\n{stdout}"
    );
    assert!(stdout.contains("ALL OK\n"), "{stdout}");

    for isa in Isa::ALL {
        let stdout = run(&exe, Some(isa.name()));
        // An unsupported SOFTMAX_ISA is ignored (with a notice) in favour of the best ISA.
        let expected = if isa.is_supported() { isa.name() } else { best };
        assert!(
            stdout.contains(&format!("initial isa: {expected}\n")),
            "SOFTMAX_ISA={}: expected to start on {expected}:\n{stdout}",
            isa.name()
        );
        // The program then runs its checks on every supported ISA.
        for other in Isa::ALL {
            let line = if other.is_supported() {
                format!("isa {}:\n", other.name())
            } else {
                format!("isa {}: not supported here\n", other.name())
            };
            assert!(stdout.contains(&line), "missing {line:?}:\n{stdout}");
        }
        assert!(stdout.contains("ALL OK\n"), "{stdout}");
        println!("C example on {}: ok", isa.name());
    }
}

#[test]
fn cpp_example_runs() {
    let Some(cxx) = compiler("CXX", "c++", "cpp_example_runs") else {
        return;
    };
    let flags = [
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
    ];
    let exe = compile(&cxx, &flags, "example.cpp", "softmax_example_cpp");
    let stdout = run(&exe, None);
    assert!(stdout.contains("C++ example: ALL OK\n"), "{stdout}");
    assert!(
        stdout.contains("expected error: softmax_f32_ex: invalid argument\n"),
        "{stdout}"
    );
}

/// `c_examples/half.c`: the f16 and bf16 functions from C with `uint16_t` rows and its own
/// conversion helpers, checked (bit for bit against the f32 functions rounded, and against
/// double precision) on every ISA this CPU runs.
#[test]
fn half_c_example_runs_on_every_isa() {
    let Some(cc) = compiler("CC", "cc", "half_c_example_runs_on_every_isa") else {
        return;
    };
    let flags = [
        "-std=c99",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
    ];
    let exe = compile(&cc, &flags, "half.c", "softmax_half_c");
    let stdout = run(&exe, None);
    for isa in Isa::ALL.iter().filter(|isa| isa.is_supported()) {
        let line = format!("isa {}:\n", isa.name());
        assert!(stdout.contains(&line), "missing {line:?}:\n{stdout}");
    }
    assert!(stdout.contains("16-bit C example: ALL OK\n"), "{stdout}");
}

/// `c_examples/half.cpp`: the f16 and bf16 functions from C++ with `_Float16` and
/// `std::bfloat16_t` where the compiler has them (bit conversions otherwise), as C++17 and,
/// when the compiler takes it, C++23 (where GCC >= 13 provides `std::bfloat16_t`).
#[test]
fn half_cpp_example_runs() {
    let Some(cxx) = compiler("CXX", "c++", "half_cpp_example_runs") else {
        return;
    };
    let mut ran = 0;
    for std in ["-std=c++17", "-std=c++23"] {
        let takes_it = Command::new(&cxx)
            .args([std, "-x", "c++", "-fsyntax-only", "-"])
            .stdin(std::process::Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if !takes_it {
            eprintln!(
                "\n*** SKIP half_cpp_example_runs {std}: the compiler does not take it ***\n"
            );
            continue;
        }
        let flags = [std, "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
        let exe = compile(
            &cxx,
            &flags,
            "half.cpp",
            &format!("softmax_half_cpp{}", &std[5..]),
        );
        let stdout = run(&exe, None);
        assert!(
            stdout.contains("16-bit C++ example: ALL OK\n"),
            "{std}:\n{stdout}"
        );
        // Which types it used (the test says so, as a compiler without them passes too).
        for line in stdout
            .lines()
            .filter(|l| l.starts_with("f16 (") || l.starts_with("bf16 ("))
        {
            println!("{std}: {line}");
        }
        ran += 1;
    }
    assert!(ran > 0, "the C++ compiler took neither C++17 nor C++23");
}

/// The README's C and C++ examples are whole programs: each is compiled with warnings as
/// errors against the installed library, and run.
#[test]
fn readme_examples_build_and_run() {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).expect("README.md");
    let mut count = [0usize; 2];
    for (fence, var, default, std_flag, ext) in [
        ("```c\n", "CC", "cc", "-std=c99", "c"),
        ("```cpp\n", "CXX", "c++", "-std=c++17", "cpp"),
    ] {
        let Some(cc) = compiler(var, default, "readme_examples_build_and_run") else {
            return;
        };
        for (i, (at, _)) in readme.match_indices(fence).enumerate() {
            let body = &readme[at + fence.len()..];
            let body = &body[..body.find("```").expect("a closed code block")];
            let source = tmp_dir().join(format!("softmax_readme_{i}.{ext}"));
            std::fs::write(&source, body).unwrap();
            let flags = [std_flag, "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
            let exe = compile_file(&cc, &flags, &source, &format!("softmax_readme_{i}_{ext}"));
            let stdout = run(&exe, None);
            println!("README {ext} example {i}:\n{stdout}");
            count[usize::from(ext == "cpp")] += 1;
        }
    }
    assert!(
        count[0] >= 2 && count[1] >= 1,
        "README examples found: {count:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// (2) The extern "C" functions, called directly.
// ---------------------------------------------------------------------------------------------

const OK: softmax_status = SOFTMAX_STATUS_OK;
const NULL: softmax_status = SOFTMAX_STATUS_NULL_POINTER;
const INVALID: softmax_status = SOFTMAX_STATUS_INVALID_ARGUMENT;

fn input(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 97) as f32 * 0.25 - 12.0)
        .collect()
}

fn reference_logsumexp(x: &[f32]) -> f64 {
    let m = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    m + x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln()
}

fn assert_softmax(x: &[f32], y: &[f32]) {
    let lse = reference_logsumexp(x);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        let want = (xi as f64 - lse).exp();
        assert!(
            abs_diff_eq!(yi as f64, want, epsilon = 1e-5 * want + 1e-30),
            "softmax[{i}] = {yi}, expected {want}"
        );
    }
}

fn assert_log_softmax(x: &[f32], y: &[f32]) {
    let lse = reference_logsumexp(x);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        let want = xi as f64 - lse;
        assert!(
            abs_diff_eq!(yi as f64, want, epsilon = 1e-5 * want.abs().max(1.0)),
            "log_softmax[{i}] = {yi}, expected {want}"
        );
    }
}

fn text(p: *const std::ffi::c_char) -> &'static str {
    assert!(!p.is_null());
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

/// A float pointer one byte past an aligned buffer.
fn misaligned(buf: &mut [f32]) -> *mut f32 {
    buf.as_mut_ptr().cast::<u8>().wrapping_add(1).cast::<f32>()
}

#[test]
fn single_row_results() {
    let x = input(1003);
    for alg in Algorithm::ALL {
        let mut y = vec![0.0f32; x.len()];
        // SAFETY: valid buffers of the stated lengths.
        let st = unsafe { softmax_f32_ex(x.as_ptr(), y.as_mut_ptr(), x.len(), alg as u32) };
        assert_eq!(st, OK, "{alg:?}");
        assert_softmax(&x, &y);
    }
    let mut y = vec![0.0f32; x.len()];
    // SAFETY: as above.
    assert_eq!(
        unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), x.len()) },
        OK
    );
    assert_softmax(&x, &y);
    // SAFETY: as above.
    assert_eq!(
        unsafe { softmax_log_softmax_f32(x.as_ptr(), y.as_mut_ptr(), x.len()) },
        OK
    );
    assert_log_softmax(&x, &y);
    let mut lse = 0.0f32;
    // SAFETY: as above.
    assert_eq!(
        unsafe { softmax_logsumexp_f32(x.as_ptr(), x.len(), &mut lse) },
        OK
    );
    let want = reference_logsumexp(&x);
    assert_abs_diff_eq!(lse as f64, want, epsilon = 1e-6 * want.abs());

    // Special values go through the ABI unchanged.
    let x = [1.0, f32::INFINITY, 2.0, f32::INFINITY];
    let mut y = [9.0f32; 4];
    // SAFETY: as above.
    assert_eq!(unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), 4) }, OK);
    assert_eq!(y, [0.0, 0.5, 0.0, 0.5]);
    let x = [1.0, f32::NAN, 2.0];
    // SAFETY: as above.
    assert_eq!(
        unsafe { softmax_log_softmax_f32(x.as_ptr(), y.as_mut_ptr(), 3) },
        OK
    );
    assert!(y[..3].iter().all(|v| v.is_nan()));
    let x = [f32::NEG_INFINITY; 3];
    // SAFETY: as above.
    assert_eq!(
        unsafe { softmax_logsumexp_f32(x.as_ptr(), 3, &mut lse) },
        OK
    );
    assert_eq!(lse, f32::NEG_INFINITY);
}

#[test]
fn exact_in_place() {
    let x = input(517);
    for alg in Algorithm::ALL {
        let mut xy = x.clone();
        let p = xy.as_mut_ptr();
        // SAFETY: `p` is valid for `xy.len()` reads and writes.
        assert_eq!(unsafe { softmax_f32_ex(p, p, xy.len(), alg as u32) }, OK);
        assert_softmax(&x, &xy);
    }
    let mut xy = x.clone();
    let p = xy.as_mut_ptr();
    // SAFETY: as above.
    assert_eq!(unsafe { softmax_log_softmax_f32(p, p, xy.len()) }, OK);
    assert_log_softmax(&x, &xy);

    // Batches in place: same base, same stride.
    let (rows, cols, stride) = (3, 10, 13);
    let x = input((rows - 1) * stride + cols);
    let mut xy = x.clone();
    let p = xy.as_mut_ptr();
    // SAFETY: `p` is valid for the batch extent.
    let st = unsafe { softmax_rows_f32(p, stride, p, stride, rows, cols, 0) };
    assert_eq!(st, OK);
    for r in 0..rows {
        assert_softmax(&x[r * stride..][..cols], &xy[r * stride..][..cols]);
        if r + 1 < rows {
            assert_eq!(
                xy[r * stride + cols..(r + 1) * stride],
                x[r * stride + cols..(r + 1) * stride]
            );
        }
    }
    let mut xy = x.clone();
    let p = xy.as_mut_ptr();
    // SAFETY: as above.
    assert_eq!(
        unsafe { softmax_log_softmax_rows_f32(p, stride, p, stride, rows, cols) },
        OK
    );
    for r in 0..rows {
        assert_log_softmax(&x[r * stride..][..cols], &xy[r * stride..][..cols]);
    }
}

#[test]
fn strided_rows_leave_gaps_alone() {
    let (rows, cols, xs, ys) = (4, 37, 40, 45);
    let x = input((rows - 1) * xs + cols);
    for alg in Algorithm::ALL {
        let mut y = vec![-7.0f32; (rows - 1) * ys + cols];
        // SAFETY: both buffers cover their batch extents.
        let st =
            unsafe { softmax_rows_f32(x.as_ptr(), xs, y.as_mut_ptr(), ys, rows, cols, alg as u32) };
        assert_eq!(st, OK);
        for r in 0..rows {
            assert_softmax(&x[r * xs..][..cols], &y[r * ys..][..cols]);
            if r + 1 < rows {
                assert!(y[r * ys + cols..(r + 1) * ys].iter().all(|&v| v == -7.0));
            }
        }
    }
    let mut y = vec![-7.0f32; (rows - 1) * ys + cols];
    // SAFETY: as above.
    let st =
        unsafe { softmax_log_softmax_rows_f32(x.as_ptr(), xs, y.as_mut_ptr(), ys, rows, cols) };
    assert_eq!(st, OK);
    for r in 0..rows {
        assert_log_softmax(&x[r * xs..][..cols], &y[r * ys..][..cols]);
    }

    // Input and output side by side in one buffer (disjoint extents) is fine.
    let mut buf = input(2 * cols);
    let (a, b) = (buf.as_mut_ptr(), buf.as_mut_ptr().wrapping_add(cols));
    // SAFETY: `a` and `b` each cover `cols` elements of `buf`.
    assert_eq!(
        unsafe { softmax_rows_f32(a, cols, b, cols, 1, cols, 0) },
        OK
    );
}

#[test]
fn null_pointers() {
    let x = [1.0f32, 2.0, 3.0];
    let mut y = [5.0f32; 3];
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    let mut r = 5.0f32;
    // SAFETY (whole block): every pointer is NULL or valid for the length passed.
    unsafe {
        assert_eq!(softmax_f32(ptr::null(), yp, 3), NULL);
        assert_eq!(softmax_f32(xp, ptr::null_mut(), 3), NULL);
        assert_eq!(softmax_f32_ex(ptr::null(), yp, 3, 1), NULL);
        assert_eq!(softmax_log_softmax_f32(ptr::null(), yp, 3), NULL);
        assert_eq!(softmax_log_softmax_f32(xp, ptr::null_mut(), 3), NULL);
        assert_eq!(softmax_logsumexp_f32(ptr::null(), 3, &mut r), NULL);
        assert_eq!(softmax_logsumexp_f32(xp, 3, ptr::null_mut()), NULL);
        assert_eq!(softmax_logsumexp_f32(ptr::null(), 0, ptr::null_mut()), NULL);
        assert_eq!(softmax_rows_f32(ptr::null(), 3, yp, 3, 1, 3, 0), NULL);
        assert_eq!(softmax_rows_f32(xp, 3, ptr::null_mut(), 3, 1, 3, 0), NULL);
        assert_eq!(
            softmax_log_softmax_rows_f32(ptr::null(), 3, yp, 3, 1, 3),
            NULL
        );
        assert_eq!(r, 5.0);
        assert_eq!(y, [5.0; 3]);

        // Nothing to do: NULL is fine and nothing is written.
        assert_eq!(softmax_f32(ptr::null(), ptr::null_mut(), 0), OK);
        assert_eq!(softmax_f32_ex(ptr::null(), ptr::null_mut(), 0, 4), OK);
        assert_eq!(softmax_log_softmax_f32(ptr::null(), ptr::null_mut(), 0), OK);
        assert_eq!(softmax_f32(xp, yp, 0), OK);
        assert_eq!(
            softmax_rows_f32(ptr::null(), 3, ptr::null_mut(), 3, 0, 3, 0),
            OK
        );
        assert_eq!(
            softmax_rows_f32(ptr::null(), 3, ptr::null_mut(), 3, 2, 0, 0),
            OK
        );
        assert_eq!(
            softmax_log_softmax_rows_f32(ptr::null(), 3, ptr::null_mut(), 3, 0, 3),
            OK
        );
        assert_eq!(y, [5.0; 3]);
        assert_eq!(softmax_logsumexp_f32(ptr::null(), 0, &mut r), OK);
        assert_eq!(r, f32::NEG_INFINITY);
    }
}

#[test]
fn bad_algorithm() {
    let x = [1.0f32, 2.0];
    let mut y = [5.0f32; 2];
    for alg in [5, 99, u32::MAX] {
        // SAFETY: valid buffers (or NULL with n == 0).
        unsafe {
            assert_eq!(softmax_f32_ex(x.as_ptr(), y.as_mut_ptr(), 2, alg), INVALID);
            assert_eq!(
                softmax_f32_ex(ptr::null(), ptr::null_mut(), 0, alg),
                INVALID
            );
            assert_eq!(
                softmax_rows_f32(x.as_ptr(), 2, y.as_mut_ptr(), 2, 1, 2, alg),
                INVALID
            );
        }
    }
    assert_eq!(y, [5.0; 2]);
}

#[test]
fn bad_strides_and_extents() {
    let x = [0.0f32; 16];
    let mut y = [5.0f32; 16];
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    // SAFETY (whole block): the library rejects every call before touching memory; the ones it
    // accepts stay within the 16-element buffers.
    unsafe {
        // Stride smaller than the row.
        assert_eq!(softmax_rows_f32(xp, 3, yp, 4, 2, 4, 0), INVALID);
        assert_eq!(softmax_rows_f32(xp, 4, yp, 3, 2, 4, 0), INVALID);
        assert_eq!(softmax_log_softmax_rows_f32(xp, 0, yp, 4, 1, 4), INVALID);
        // ... is fine without rows.
        assert_eq!(softmax_rows_f32(xp, 1, yp, 1, 0, 4, 0), OK);
        // Extents that overflow usize.
        assert_eq!(softmax_rows_f32(xp, usize::MAX, yp, 4, 2, 4, 0), INVALID);
        assert_eq!(
            softmax_log_softmax_rows_f32(xp, 4, yp, usize::MAX / 2, 3, 4),
            INVALID
        );
        // Extents whose byte size exceeds isize::MAX.
        let big = isize::MAX as usize / 4 + 1;
        assert_eq!(softmax_f32(xp, yp, big), INVALID);
        assert_eq!(softmax_f32(xp, yp, usize::MAX), INVALID);
        assert_eq!(softmax_log_softmax_f32(xp, yp, big), INVALID);
        let mut r = 5.0f32;
        assert_eq!(softmax_logsumexp_f32(xp, big, &mut r), INVALID);
        assert_eq!(softmax_rows_f32(xp, big, yp, 4, 2, 4, 0), INVALID);
        // An address range that wraps around.
        let top = ptr::without_provenance::<f32>(usize::MAX - 15);
        assert_eq!(softmax_f32(top, yp, 8), INVALID);
        assert_eq!(r, 5.0);
    }
    assert_eq!(y, [5.0; 16]);
}

#[test]
fn partial_overlap_is_rejected() {
    let mut buf: Vec<f32> = input(32);
    let orig = buf.clone();
    let p = buf.as_mut_ptr();
    // SAFETY (whole block): every pointer stays inside `buf`; the calls are all rejected.
    unsafe {
        assert_eq!(softmax_f32(p, p.add(1), 8), INVALID);
        assert_eq!(softmax_f32(p.add(1), p, 8), INVALID);
        assert_eq!(softmax_f32_ex(p, p.add(7), 8, 2), INVALID);
        assert_eq!(softmax_log_softmax_f32(p, p.add(1), 8), INVALID);
        // Same base, different strides.
        assert_eq!(softmax_rows_f32(p, 8, p, 4, 2, 4, 0), INVALID);
        // Different bases whose extents overlap (even though rows would not).
        assert_eq!(softmax_rows_f32(p, 8, p.add(4), 8, 2, 4, 0), INVALID);
        assert_eq!(
            softmax_log_softmax_rows_f32(p.add(9), 8, p, 8, 2, 4),
            INVALID
        );
    }
    assert_eq!(buf, orig);
}

#[test]
fn misaligned_pointers_are_rejected() {
    let mut a = [1.0f32; 9];
    let mut b = [5.0f32; 9];
    let (mx, my) = (misaligned(&mut a), misaligned(&mut b));
    let mut r = [5.0f32; 2];
    // SAFETY (whole block): the misaligned pointers cover 8 floats inside their buffers and
    // are rejected before any access.
    unsafe {
        assert_eq!(softmax_f32(mx, b.as_mut_ptr(), 8), INVALID);
        assert_eq!(softmax_f32(a.as_ptr(), my, 8), INVALID);
        assert_eq!(softmax_f32(mx, mx, 8), INVALID);
        assert_eq!(softmax_log_softmax_f32(mx, b.as_mut_ptr(), 8), INVALID);
        assert_eq!(softmax_logsumexp_f32(mx, 8, r.as_mut_ptr()), INVALID);
        assert_eq!(
            softmax_logsumexp_f32(a.as_ptr(), 8, misaligned(&mut r)),
            INVALID
        );
        assert_eq!(softmax_rows_f32(mx, 4, b.as_mut_ptr(), 4, 2, 4, 0), INVALID);
        assert_eq!(
            softmax_log_softmax_rows_f32(a.as_ptr(), 4, my, 4, 2, 4),
            INVALID
        );
    }
    assert_eq!(b, [5.0; 9]);
    assert_eq!(r, [5.0; 2]);
}

#[test]
fn strings_and_constants() {
    let statuses = [
        (SOFTMAX_STATUS_OK, "ok"),
        (SOFTMAX_STATUS_NULL_POINTER, "null pointer"),
        (SOFTMAX_STATUS_INVALID_ARGUMENT, "invalid argument"),
        (SOFTMAX_STATUS_UNSUPPORTED_ISA, "unsupported ISA"),
        (SOFTMAX_STATUS_INTERNAL_ERROR, "internal error"),
    ];
    for (i, (status, expected)) in statuses.into_iter().enumerate() {
        assert_eq!(status, i as u32);
        assert_eq!(text(softmax_status_string(status)), expected);
    }
    for bad in [5, 99, u32::MAX] {
        assert_eq!(text(softmax_status_string(bad)), "unknown status");
    }

    assert_eq!(
        [
            SOFTMAX_ISA_SCALAR,
            SOFTMAX_ISA_AVX2,
            SOFTMAX_ISA_AVX512,
            SOFTMAX_ISA_NEON
        ],
        Isa::ALL.map(|isa| isa as u32)
    );
    for isa in Isa::ALL {
        assert_eq!(text(softmax_isa_name(isa as u32)), isa.name());
        assert_eq!(softmax_isa_supported(isa as u32) != 0, isa.is_supported());
    }
    assert_eq!(softmax_isa_supported(SOFTMAX_ISA_SCALAR), 1);
    for bad in [4, 99, u32::MAX] {
        assert_eq!(text(softmax_isa_name(bad)), "unknown");
        assert_eq!(softmax_isa_supported(bad), 0);
    }

    assert_eq!(
        [
            SOFTMAX_ALGORITHM_AUTO,
            SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE,
            SOFTMAX_ALGORITHM_THREE_PASS_RELOAD,
            SOFTMAX_ALGORITHM_TWO_PASS,
            SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED
        ],
        Algorithm::ALL.map(|a| a as u32)
    );

    assert_eq!(text(softmax_version()), env!("CARGO_PKG_VERSION"));
}

/// Held for writing by the only test that changes the process ISA, and for reading by the
/// tests that compare two calls bit for bit (tests run in parallel threads: two calls on either
/// side of an ISA change may differ in their last bits). The other tests check results to
/// within tolerances that every ISA meets, so they need no lock.
static ISA_LOCK: RwLock<()> = RwLock::new(());

/// The only test that changes the ISA.
#[test]
fn set_and_get_isa() {
    let _isa = ISA_LOCK.write().unwrap_or_else(|e| e.into_inner());
    let previous = softmax_get_isa();
    assert_eq!(previous, softmax::current_isa() as u32);
    assert_eq!(softmax_isa_supported(previous), 1);

    let x = input(300);
    for isa in Isa::ALL {
        let before = softmax_get_isa();
        if isa.is_supported() {
            assert_eq!(softmax_set_isa(isa as u32), OK, "{isa:?}");
            assert_eq!(softmax_get_isa(), isa as u32);
            assert_eq!(softmax::current_isa(), isa);
            let mut y = vec![0.0f32; x.len()];
            // SAFETY: valid buffers.
            assert_eq!(
                unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), x.len()) },
                OK
            );
            assert_softmax(&x, &y);
        } else {
            assert_eq!(
                softmax_set_isa(isa as u32),
                SOFTMAX_STATUS_UNSUPPORTED_ISA,
                "{isa:?}"
            );
            assert_eq!(
                softmax_get_isa(),
                before,
                "a refused ISA changed the choice"
            );
        }
    }
    let before = softmax_get_isa();
    for bad in [4, 99, u32::MAX] {
        assert_eq!(softmax_set_isa(bad), INVALID);
        assert_eq!(softmax_get_isa(), before);
    }

    assert_eq!(softmax_set_isa(previous), OK);
    assert_eq!(softmax_get_isa(), previous);
}

// ---------------------------------------------------------------------------------------------
// (3) The training functions: argument validation (their results are checked against an f64
//     oracle on every ISA in tests/training.rs).
// ---------------------------------------------------------------------------------------------

const NO_FLAGS: u32 = 0;
const AUTO: u32 = SOFTMAX_ALGORITHM_AUTO;

#[test]
fn training_functions_work() {
    let x = [1.0f32, 2.0, 3.0, 4.0];
    let mut y = [0.0f32; 4];
    let dy = [0.5f32, -1.0, 0.25, 2.0];
    let mut dx = [0.0f32; 4];
    let mut loss = 0.0f32;
    let mut d = [0.0f32; 4];
    // SAFETY (whole block): valid buffers of the stated lengths.
    unsafe {
        assert_eq!(softmax_scaled_f32(x.as_ptr(), y.as_mut_ptr(), 4, 0.5), OK);
        let half: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        assert_softmax(&half, &y);
        assert_eq!(
            softmax_scaled_rows_f32(x.as_ptr(), 2, y.as_mut_ptr(), 2, 2, 2, 2.0, AUTO),
            OK
        );
        assert_softmax(&[2.0, 4.0], &y[..2]);
        assert_softmax(&[6.0, 8.0], &y[2..]);

        assert_eq!(softmax_f32(x.as_ptr(), y.as_mut_ptr(), 4), OK);
        assert_eq!(
            softmax_backward_f32(y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), 4),
            OK
        );
        let dot: f64 = y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum();
        for i in 0..4 {
            let want = y[i] as f64 * (dy[i] as f64 - dot);
            assert!(
                abs_diff_eq!(dx[i] as f64, want, epsilon = 1e-6),
                "dx[{i}] = {}, expected {want}",
                dx[i]
            );
        }
        assert_eq!(softmax_log_softmax_f32(x.as_ptr(), y.as_mut_ptr(), 4), OK);
        assert_eq!(
            softmax_log_softmax_backward_f32(y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), 4),
            OK
        );
        let sum: f64 = dy.iter().map(|&v| v as f64).sum();
        for i in 0..4 {
            let want = dy[i] as f64 - (y[i] as f64).exp() * sum;
            assert!(
                abs_diff_eq!(dx[i] as f64, want, epsilon = 1e-6),
                "dx[{i}] = {}, expected {want}",
                dx[i]
            );
        }

        assert_eq!(
            softmax_cross_entropy_f32(x.as_ptr(), 4, 2, &mut loss, d.as_mut_ptr()),
            OK
        );
        let want = reference_logsumexp(&x) - 3.0;
        assert_abs_diff_eq!(loss as f64, want, epsilon = 1e-6);
        let want = (3.0 - reference_logsumexp(&x)).exp() - 1.0;
        assert_abs_diff_eq!(d[2] as f64, want, epsilon = 1e-6);

        let targets = [3i64, -100];
        let mut losses = [5.0f32; 2];
        let st = softmax_cross_entropy_rows_f32(
            x.as_ptr(),
            2,
            2,
            2,
            targets.as_ptr(),
            -100,
            0.0,
            losses.as_mut_ptr(),
            ptr::null_mut(),
            0,
        );
        // Target 3 is out of range for 2 columns.
        assert_eq!(st, INVALID);
        assert_eq!(losses, [5.0; 2]);
        let targets = [1i64, -100];
        let st = softmax_cross_entropy_rows_f32(
            x.as_ptr(),
            2,
            2,
            2,
            targets.as_ptr(),
            -100,
            0.0,
            losses.as_mut_ptr(),
            d.as_mut_ptr(),
            2,
        );
        assert_eq!(st, OK);
        let want = reference_logsumexp(&x[..2]) - 2.0;
        assert_abs_diff_eq!(losses[0] as f64, want, epsilon = 1e-6);
        assert_eq!(losses[1], 0.0);
        assert_eq!(d[2..], [0.0, 0.0]);

        // The flag: a row of -inf gives zeros instead of NaN.
        let masked = [f32::NEG_INFINITY; 3];
        let mut out = [5.0f32; 3];
        let st = softmax_rows_f32_ex(
            masked.as_ptr(),
            3,
            out.as_mut_ptr(),
            3,
            1,
            3,
            AUTO,
            SOFTMAX_FLAG_ZERO_MASKED_ROWS,
        );
        assert_eq!(st, OK);
        assert_eq!(out, [0.0; 3]);
        assert_eq!(
            softmax_rows_f32_ex(
                masked.as_ptr(),
                3,
                out.as_mut_ptr(),
                3,
                1,
                3,
                AUTO,
                NO_FLAGS
            ),
            OK
        );
        assert!(out.iter().all(|v| v.is_nan()));
    }
}

#[test]
fn training_null_pointers() {
    let x = [1.0f32, 2.0, 3.0];
    let mut y = [5.0f32; 3];
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    let t = [0i64];
    let mut loss = 5.0f32;
    let lp: *mut f32 = &mut loss;
    let null = ptr::null::<f32>();
    let null_mut = ptr::null_mut::<f32>();
    // SAFETY (whole block): every pointer is NULL or valid for the length passed.
    unsafe {
        for f in [softmax_backward_f32, softmax_log_softmax_backward_f32] {
            assert_eq!(f(null, xp, yp, 3), NULL);
            assert_eq!(f(xp, null, yp, 3), NULL);
            assert_eq!(f(xp, xp, null_mut, 3), NULL);
            // NULL is reported before a misaligned pointer.
            assert_eq!(f(null, misaligned(&mut y), yp, 3), NULL);
            assert_eq!(f(null, null, null_mut, 0), OK);
        }
        for f in [
            softmax_backward_rows_f32,
            softmax_log_softmax_backward_rows_f32,
        ] {
            assert_eq!(f(null, 3, xp, 3, yp, 3, 1, 3), NULL);
            assert_eq!(f(xp, 3, null, 3, yp, 3, 1, 3), NULL);
            assert_eq!(f(xp, 3, xp, 3, null_mut, 3, 1, 3), NULL);
            assert_eq!(f(null, 3, null, 3, null_mut, 3, 0, 3), OK);
            assert_eq!(f(null, 3, null, 3, null_mut, 3, 2, 0), OK);
        }
        assert_eq!(softmax_scaled_f32(null, yp, 3, 0.5), NULL);
        assert_eq!(softmax_scaled_f32(xp, null_mut, 3, 0.5), NULL);
        assert_eq!(softmax_scaled_f32(null, null_mut, 0, 0.5), OK);
        assert_eq!(
            softmax_scaled_rows_f32(null, 3, yp, 3, 1, 3, 0.5, AUTO),
            NULL
        );
        assert_eq!(
            softmax_scaled_rows_f32(null, 3, null_mut, 3, 0, 3, 0.5, AUTO),
            OK
        );
        assert_eq!(softmax_rows_f32_ex(null, 3, yp, 3, 1, 3, AUTO, 1), NULL);
        assert_eq!(softmax_rows_f32_ex(xp, 3, null_mut, 3, 1, 3, AUTO, 0), NULL);
        assert_eq!(softmax_rows_f32_ex(null, 3, null_mut, 3, 2, 0, AUTO, 1), OK);

        assert_eq!(softmax_cross_entropy_f32(null, 3, 0, lp, null_mut), NULL);
        assert_eq!(
            softmax_cross_entropy_f32(xp, 3, 0, null_mut, null_mut),
            NULL
        );
        assert_eq!(softmax_cross_entropy_f32(xp, 3, 0, null_mut, yp), NULL);
        // dlogits is optional.
        assert_eq!(softmax_cross_entropy_f32(xp, 3, 0, lp, null_mut), OK);
        let ce_rows = |x: *const f32, t: *const i64, l: *mut f32, d: *mut f32, rows: usize| {
            softmax_cross_entropy_rows_f32(x, 3, rows, 3, t, -100, 0.0, l, d, 3)
        };
        assert_eq!(ce_rows(null, t.as_ptr(), lp, yp, 1), NULL);
        assert_eq!(ce_rows(xp, ptr::null(), lp, yp, 1), NULL);
        assert_eq!(ce_rows(xp, t.as_ptr(), null_mut, yp, 1), NULL);
        assert_eq!(ce_rows(null, ptr::null(), null_mut, null_mut, 0), OK);
    }
    assert_eq!(y, [5.0; 3]);
    assert!((loss - (reference_logsumexp(&x) - 1.0) as f32).abs() < 1e-6);
}

#[test]
fn training_bad_scalar_arguments() {
    let x = [1.0f32, 2.0, 3.0, 4.0];
    let mut y = [5.0f32; 4];
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    let mut loss = 5.0f32;
    let lp: *mut f32 = &mut loss;
    let null = ptr::null::<f32>();
    let null_mut = ptr::null_mut::<f32>();
    // SAFETY (whole block): valid buffers, or NULL where the call is rejected first.
    unsafe {
        // Non-finite scales, even when nothing is touched.
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(softmax_scaled_f32(xp, yp, 4, bad), INVALID);
            assert_eq!(softmax_scaled_f32(null, null_mut, 0, bad), INVALID);
            assert_eq!(
                softmax_scaled_rows_f32(xp, 2, yp, 2, 2, 2, bad, AUTO),
                INVALID
            );
            assert_eq!(
                softmax_scaled_rows_f32(null, 2, null_mut, 2, 0, 2, bad, AUTO),
                INVALID
            );
        }
        for bad_alg in [5, 99, u32::MAX] {
            assert_eq!(
                softmax_scaled_rows_f32(xp, 2, yp, 2, 2, 2, 1.0, bad_alg),
                INVALID
            );
            assert_eq!(softmax_rows_f32_ex(xp, 2, yp, 2, 2, 2, bad_alg, 0), INVALID);
        }
        // Unknown flag bits, even when nothing is touched.
        for bad in [2, 3, 0x8000_0000, u32::MAX] {
            assert_eq!(softmax_rows_f32_ex(xp, 2, yp, 2, 2, 2, AUTO, bad), INVALID);
            assert_eq!(
                softmax_rows_f32_ex(null, 2, null_mut, 2, 0, 2, AUTO, bad),
                INVALID
            );
        }

        // Cross-entropy: no class, target out of range (checked before the pointers).
        assert_eq!(softmax_cross_entropy_f32(xp, 0, 0, lp, null_mut), INVALID);
        assert_eq!(
            softmax_cross_entropy_f32(null, 0, 0, null_mut, null_mut),
            INVALID
        );
        assert_eq!(softmax_cross_entropy_f32(xp, 4, 4, lp, yp), INVALID);
        assert_eq!(
            softmax_cross_entropy_f32(xp, 4, usize::MAX, lp, yp),
            INVALID
        );
        assert_eq!(
            softmax_cross_entropy_f32(null, 4, 4, null_mut, null_mut),
            INVALID
        );

        let targets = [0i64, 1];
        let mut losses = [5.0f32; 2];
        let tp = targets.as_ptr();
        let lsp = losses.as_mut_ptr();
        for bad in [f32::NAN, -0.1, 1.0001, f32::INFINITY, f32::NEG_INFINITY] {
            let st = softmax_cross_entropy_rows_f32(xp, 2, 2, 2, tp, -100, bad, lsp, yp, 2);
            assert_eq!(st, INVALID, "label smoothing {bad}");
            let st = softmax_cross_entropy_rows_f32(
                null,
                2,
                0,
                2,
                ptr::null(),
                -100,
                bad,
                null_mut,
                null_mut,
                2,
            );
            assert_eq!(st, INVALID, "label smoothing {bad} with no rows");
        }
        // Smoothing 0 and 1 are fine.
        for eps in [0.0, 1.0] {
            assert_eq!(
                softmax_cross_entropy_rows_f32(xp, 2, 2, 2, tp, -100, eps, lsp, null_mut, 0),
                OK
            );
        }
        losses = [5.0; 2];
        // cols == 0: no class.
        assert_eq!(
            softmax_cross_entropy_rows_f32(xp, 2, 2, 0, tp, -100, 0.0, lsp, null_mut, 0),
            INVALID
        );
        assert_eq!(
            softmax_cross_entropy_rows_f32(
                null,
                0,
                0,
                0,
                ptr::null(),
                -100,
                0.0,
                null_mut,
                null_mut,
                0
            ),
            INVALID
        );
        // Targets: negative (not the ignore index) or >= cols, in any row; nothing is written.
        for bad in [[0i64, 2], [-1, 0], [0, -101], [i64::MIN, 0], [0, i64::MAX]] {
            let st =
                softmax_cross_entropy_rows_f32(xp, 2, 2, 2, bad.as_ptr(), -100, 0.0, lsp, yp, 2);
            assert_eq!(st, INVALID, "targets {bad:?}");
        }
        // The ignore index may be any value, even a valid class.
        let st = softmax_cross_entropy_rows_f32(
            xp,
            2,
            2,
            2,
            [1i64, 7].as_ptr(),
            7,
            0.0,
            lsp,
            null_mut,
            0,
        );
        assert_eq!(st, OK);
        assert_eq!(losses[1], 0.0);
        let st = softmax_cross_entropy_rows_f32(
            xp,
            2,
            2,
            2,
            [1i64, 0].as_ptr(),
            0,
            0.0,
            lsp,
            null_mut,
            0,
        );
        assert_eq!(st, OK);
        assert_eq!(losses[1], 0.0);
    }
    assert_eq!(y, [5.0; 4]);
    assert_eq!(loss, 5.0);
}

#[test]
fn training_bad_strides_and_extents() {
    let x = [0.0f32; 16];
    let mut y = [5.0f32; 16];
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    let t = [0i64; 4];
    let mut losses = [5.0f32; 4];
    let lsp = losses.as_mut_ptr();
    let big = isize::MAX as usize / 4 + 1;
    let mut loss = 5.0f32;
    // SAFETY (whole block): every call is rejected before touching memory, or stays within
    // the 16-element buffers.
    unsafe {
        for f in [
            softmax_backward_rows_f32,
            softmax_log_softmax_backward_rows_f32,
        ] {
            // Each stride smaller than the row.
            assert_eq!(f(xp, 3, xp, 4, yp, 4, 2, 4), INVALID);
            assert_eq!(f(xp, 4, xp, 3, yp, 4, 2, 4), INVALID);
            assert_eq!(f(xp, 4, xp, 4, yp, 3, 2, 4), INVALID);
            // ... even with NULL pointers (strides are checked first).
            assert_eq!(
                f(ptr::null(), 4, ptr::null(), 4, ptr::null_mut(), 0, 1, 4),
                INVALID
            );
            // ... but fine without rows.
            assert_eq!(f(xp, 1, xp, 1, yp, 1, 0, 4), OK);
            // Extents that overflow or exceed isize::MAX bytes.
            assert_eq!(f(xp, usize::MAX, xp, 4, yp, 4, 2, 4), INVALID);
            assert_eq!(f(xp, 4, xp, 4, yp, usize::MAX / 2, 3, 4), INVALID);
            assert_eq!(f(xp, big, xp, 4, yp, 4, 2, 4), INVALID);
        }
        for f in [softmax_backward_f32, softmax_log_softmax_backward_f32] {
            assert_eq!(f(xp, xp, yp, big), INVALID);
            assert_eq!(f(xp, xp, yp, usize::MAX), INVALID);
        }
        assert_eq!(softmax_scaled_f32(xp, yp, big, 2.0), INVALID);
        assert_eq!(
            softmax_scaled_rows_f32(xp, 3, yp, 4, 2, 4, 2.0, AUTO),
            INVALID
        );
        assert_eq!(
            softmax_scaled_rows_f32(xp, usize::MAX, yp, 4, 2, 4, 2.0, AUTO),
            INVALID
        );
        assert_eq!(softmax_rows_f32_ex(xp, 4, yp, 3, 2, 4, AUTO, 1), INVALID);
        assert_eq!(
            softmax_cross_entropy_f32(xp, big, 0, &mut loss, ptr::null_mut()),
            INVALID
        );
        assert_eq!(
            softmax_cross_entropy_f32(xp, big, 0, &mut loss, yp),
            INVALID
        );

        let ce = |ls: usize, rows: usize, d: *mut f32, ds: usize| {
            softmax_cross_entropy_rows_f32(xp, ls, rows, 4, t.as_ptr(), -100, 0.0, lsp, d, ds)
        };
        assert_eq!(ce(3, 2, ptr::null_mut(), 0), INVALID);
        assert_eq!(ce(usize::MAX, 2, ptr::null_mut(), 0), INVALID);
        assert_eq!(ce(big, 2, ptr::null_mut(), 0), INVALID);
        assert_eq!(ce(4, 2, yp, 3), INVALID);
        assert_eq!(ce(4, 2, yp, usize::MAX), INVALID);
        assert_eq!(ce(4, big, ptr::null_mut(), 0), INVALID);
        // dlogits_stride is ignored without dlogits.
        assert_eq!(ce(4, 2, ptr::null_mut(), 0), OK);
        assert_eq!(ce(4, 2, ptr::null_mut(), usize::MAX), OK);
    }
    assert_eq!(y, [5.0; 16]);
    assert_eq!(loss, 5.0);
}

#[test]
fn training_overlap_rules() {
    let mut buf: Vec<f32> = input(64).iter().map(|v| v * 0.01).collect();
    let orig = buf.clone();
    let p = buf.as_mut_ptr();
    let mut loss = 5.0f32;
    let targets = [0i64, 1, 2, 3];
    // SAFETY (whole block): every pointer stays inside `buf` (or the small arrays above); the
    // rejected calls touch nothing.
    unsafe {
        for f in [softmax_backward_f32, softmax_log_softmax_backward_f32] {
            // dx partly over y, partly over dy, or over dy while being y.
            assert_eq!(f(p, p.add(16), p.add(1), 8), INVALID);
            assert_eq!(f(p.add(16), p, p.add(7), 8), INVALID);
            assert_eq!(f(p, p.add(4), p, 8), INVALID);
            assert_eq!(f(p.add(4), p, p, 8), INVALID);
            // dx is dy, but dy partly overlaps y (writing dx would change y).
            assert_eq!(f(p, p.add(2), p.add(2), 8), INVALID);
        }
        for f in [
            softmax_backward_rows_f32,
            softmax_log_softmax_backward_rows_f32,
        ] {
            // dx at y's base with another stride.
            assert_eq!(f(p, 8, p.add(32), 8, p, 4, 2, 4), INVALID);
            // Extents overlap although the rows would not.
            assert_eq!(f(p, 8, p.add(32), 8, p.add(4), 8, 2, 4), INVALID);
        }
        assert_eq!(softmax_scaled_f32(p, p.add(1), 8, 0.5), INVALID);
        assert_eq!(
            softmax_scaled_rows_f32(p, 8, p, 4, 2, 4, 0.5, AUTO),
            INVALID
        );
        assert_eq!(
            softmax_rows_f32_ex(p, 8, p.add(4), 8, 2, 4, AUTO, 1),
            INVALID
        );

        // Cross-entropy: dlogits partly over the logits; the loss inside dlogits.
        assert_eq!(
            softmax_cross_entropy_f32(p, 8, 0, &mut loss, p.add(1)),
            INVALID
        );
        assert_eq!(
            softmax_cross_entropy_f32(p, 8, 0, p.add(40), p.add(36)),
            INVALID
        );
        assert_eq!(softmax_cross_entropy_f32(p, 8, 0, p.add(3), p), INVALID);
        assert_eq!(loss, 5.0);
        let ce_rows =
            |x: *const f32, xs: usize, l: *mut f32, t: *const i64, d: *mut f32, ds: usize| {
                softmax_cross_entropy_rows_f32(x, xs, 2, 4, t, -100, 0.0, l, d, ds)
            };
        let tp = targets.as_ptr();
        // Losses over the logits, over the targets, over dlogits.
        assert_eq!(ce_rows(p, 8, p.add(11), tp, ptr::null_mut(), 0), INVALID);
        let tbuf = targets.as_ptr() as *mut f32;
        assert_eq!(ce_rows(p, 8, tbuf.add(1), tp, ptr::null_mut(), 0), INVALID);
        assert_eq!(ce_rows(p, 8, p.add(40), tp, p.add(36), 8), INVALID);
        // dlogits at the logits with another stride, over the targets, partly over the logits.
        assert_eq!(ce_rows(p, 8, p.add(40), tp, p, 4), INVALID);
        assert_eq!(ce_rows(p, 8, p.add(40), tp, tbuf, 4), INVALID);
        assert_eq!(ce_rows(p, 8, p.add(40), tp, p.add(8), 8), INVALID);
    }
    assert_eq!(buf, orig);

    // Accepted aliasing: y and dy may overlap each other; dx may be y or dy; dlogits may be
    // the logits (same stride); the loss may be inside the logits when dlogits is elsewhere.
    // SAFETY: as above.
    unsafe {
        assert_eq!(softmax_backward_f32(p, p.add(2), p.add(32), 8), OK);
        assert_eq!(
            softmax_log_softmax_backward_f32(p, p.add(16), p.add(16), 8),
            OK
        );
        assert_eq!(softmax_log_softmax_backward_f32(p, p.add(16), p, 8), OK);
        assert_eq!(softmax_backward_f32(p, p, p, 8), OK);
        assert_eq!(softmax_cross_entropy_f32(p, 8, 0, p.add(3), p.add(40)), OK);
        assert_eq!(softmax_cross_entropy_f32(p, 8, 0, &mut loss, p), OK);
        let st = softmax_cross_entropy_rows_f32(
            p,
            8,
            2,
            4,
            targets.as_ptr(),
            -100,
            0.1,
            p.add(50),
            p,
            8,
        );
        assert_eq!(st, OK);
    }
}

#[test]
fn training_misaligned_pointers() {
    let mut a = [1.0f32; 9];
    let mut b = [5.0f32; 9];
    let (mx, my) = (misaligned(&mut a), misaligned(&mut b));
    let (ap, bp) = (a.as_ptr(), b.as_mut_ptr());
    let mut loss = [5.0f32; 2];
    let targets = [0i64; 3];
    // Aligned for a float but not for an int64_t.
    let t4 = targets.as_ptr().cast::<u8>().wrapping_add(4).cast::<i64>();
    let mut c = [5.0f32; 9];
    let cp = c.as_mut_ptr();
    // SAFETY (whole block): the misaligned pointers cover 8 values inside their buffers and
    // are rejected before any access.
    unsafe {
        for f in [softmax_backward_f32, softmax_log_softmax_backward_f32] {
            assert_eq!(f(mx, ap, bp, 8), INVALID);
            assert_eq!(f(ap, mx, bp, 8), INVALID);
            assert_eq!(f(ap, ap, my, 8), INVALID);
        }
        for f in [
            softmax_backward_rows_f32,
            softmax_log_softmax_backward_rows_f32,
        ] {
            assert_eq!(f(mx, 4, ap, 4, bp, 4, 2, 4), INVALID);
            assert_eq!(f(ap, 4, ap, 4, my, 4, 2, 4), INVALID);
        }
        assert_eq!(softmax_scaled_f32(mx, bp, 8, 0.5), INVALID);
        assert_eq!(
            softmax_scaled_rows_f32(ap, 4, my, 4, 2, 4, 0.5, AUTO),
            INVALID
        );
        assert_eq!(softmax_rows_f32_ex(mx, 4, bp, 4, 2, 4, AUTO, 1), INVALID);
        assert_eq!(
            softmax_cross_entropy_f32(mx, 8, 0, loss.as_mut_ptr(), ptr::null_mut()),
            INVALID
        );
        assert_eq!(
            softmax_cross_entropy_f32(ap, 8, 0, misaligned(&mut loss), ptr::null_mut()),
            INVALID
        );
        assert_eq!(
            softmax_cross_entropy_f32(ap, 8, 0, loss.as_mut_ptr(), my),
            INVALID
        );
        let st = softmax_cross_entropy_rows_f32(ap, 4, 2, 4, t4, -100, 0.0, cp, ptr::null_mut(), 0);
        assert_eq!(st, INVALID);
        let st =
            softmax_cross_entropy_rows_f32(mx, 4, 2, 4, targets.as_ptr(), -100, 0.0, cp, bp, 4);
        assert_eq!(st, INVALID);
        let st =
            softmax_cross_entropy_rows_f32(ap, 4, 2, 4, targets.as_ptr(), -100, 0.0, cp, my, 4);
        assert_eq!(st, INVALID);
        let st = softmax_cross_entropy_rows_f32(
            ap,
            4,
            2,
            4,
            targets.as_ptr(),
            -100,
            0.0,
            misaligned(&mut c),
            bp,
            4,
        );
        assert_eq!(st, INVALID);
    }
    assert_eq!(b, [5.0; 9]);
    assert_eq!(loss, [5.0; 2]);
    assert_eq!(c, [5.0; 9]);
}

/// The training functions and the flag are declared in the committed header, each with a doc
/// comment (`tests/header.rs` checks that the header is up to date).
#[test]
fn header_declares_the_training_abi() {
    let path = manifest_dir().join("include/softmax.h");
    let header = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let names = [
        "#define SOFTMAX_FLAG_ZERO_MASKED_ROWS 1",
        "softmax_status softmax_rows_f32_ex(const float *x,",
        "softmax_status softmax_scaled_f32(const float *x, float *y, size_t n, float scale);",
        "softmax_status softmax_scaled_rows_f32(const float *x,",
        "softmax_status softmax_backward_f32(const float *y, const float *dy, float *dx, size_t n);",
        "softmax_status softmax_log_softmax_backward_f32(const float *y,",
        "softmax_status softmax_backward_rows_f32(const float *y,",
        "softmax_status softmax_log_softmax_backward_rows_f32(const float *y,",
        "softmax_status softmax_cross_entropy_f32(const float *logits,",
        "softmax_status softmax_cross_entropy_rows_f32(const float *logits,",
    ];
    for name in names {
        let at = header
            .find(name)
            .unwrap_or_else(|| panic!("the header lacks `{name}`"));
        assert!(
            header[..at].trim_end().ends_with("*/"),
            "`{name}` has no doc comment"
        );
    }
    for text in [
        "const int64_t *targets",
        "int64_t ignore_index",
        "float label_smoothing",
        "uint32_t flags",
    ] {
        assert!(header.contains(text), "the header lacks {text:?}");
    }
}

/// Row `kind` of `n` entries: ordinary, with `-inf` entries, with `+inf` entries, with a NaN,
/// only `-inf`, or huge (above the exponentials' range).
fn special_row(n: usize, kind: usize) -> Vec<f32> {
    let mut x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 + kind * 31) % 97) as f32 * 0.25 - 12.0)
        .collect();
    match kind {
        1 => x.iter_mut().step_by(3).for_each(|v| *v = f32::NEG_INFINITY),
        2 => x[n / 2] = f32::INFINITY,
        3 => x[n - 1] = f32::NAN,
        4 => x.fill(f32::NEG_INFINITY),
        5 => x.iter_mut().for_each(|v| *v += 1e30),
        _ => {}
    }
    x
}

/// A batch of one row takes the one-row path of the batch calls: the same bits as that row in
/// a batch of two (the batch kernels), in and out of place, with gaps between rows, every
/// algorithm, with and without the masked-rows flag, for every length up to 300 and longer
/// rows.
#[test]
fn a_batch_of_one_row_is_one_row_of_a_batch() {
    let _isa = ISA_LOCK.read().unwrap_or_else(|e| e.into_inner());
    let lengths = (1..=300).chain([1000, 4100, 131_100]);
    for n in lengths {
        let kinds = if n > 300 { 0..2 } else { 0..6 };
        for kind in kinds {
            let x = special_row(n, kind);
            let ctx = format!("n={n} kind={kind}");
            let (xs, ys) = (n + 3, n + 5);
            let mut x2 = vec![7.0f32; xs + n];
            x2[..n].copy_from_slice(&x);
            x2[xs..].copy_from_slice(&x);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            let flag_sets = [0, SOFTMAX_FLAG_ZERO_MASKED_ROWS];
            for (alg, flags) in Algorithm::ALL
                .into_iter()
                .flat_map(|a| flag_sets.map(|f| (a, f)))
            {
                let (mut one, mut two) = (vec![3.0f32; n], vec![3.0f32; ys + n]);
                // SAFETY: `x` holds one row of `n`, `x2` two rows `xs` apart; the outputs
                // likewise with `ys`.
                unsafe {
                    let a = alg as u32;
                    let st =
                        softmax_rows_f32_ex(x.as_ptr(), xs, one.as_mut_ptr(), ys, 1, n, a, flags);
                    assert_eq!(st, OK, "{ctx}");
                    let st =
                        softmax_rows_f32_ex(x2.as_ptr(), xs, two.as_mut_ptr(), ys, 2, n, a, flags);
                    assert_eq!(st, OK, "{ctx}");
                }
                assert_eq!(bits(&one), bits(&two[..n]), "{ctx} softmax {alg:?} {flags}");
                assert_eq!(
                    bits(&two[..n]),
                    bits(&two[ys..]),
                    "{ctx} softmax {alg:?} {flags}"
                );
                // In place, one row.
                let mut io = x.clone();
                // SAFETY: one row of `n`, in place with equal strides.
                let st = unsafe {
                    softmax_rows_f32_ex(
                        io.as_ptr(),
                        xs,
                        io.as_mut_ptr(),
                        xs,
                        1,
                        n,
                        alg as u32,
                        flags,
                    )
                };
                assert_eq!(st, OK, "{ctx}");
                assert_eq!(
                    bits(&io),
                    bits(&one),
                    "{ctx} softmax in place {alg:?} {flags}"
                );
            }
            let (mut one, mut two) = (vec![3.0f32; n], vec![3.0f32; ys + n]);
            // SAFETY: as above.
            unsafe {
                assert_eq!(
                    softmax_log_softmax_rows_f32(x.as_ptr(), xs, one.as_mut_ptr(), ys, 1, n),
                    OK
                );
                assert_eq!(
                    softmax_log_softmax_rows_f32(x2.as_ptr(), xs, two.as_mut_ptr(), ys, 2, n),
                    OK
                );
            }
            assert_eq!(bits(&one), bits(&two[..n]), "{ctx} log-softmax");
            assert_eq!(bits(&two[..n]), bits(&two[ys..]), "{ctx} log-softmax");
            let mut io = x.clone();
            // SAFETY: as above, in place.
            let st =
                unsafe { softmax_log_softmax_rows_f32(io.as_ptr(), xs, io.as_mut_ptr(), xs, 1, n) };
            assert_eq!(st, OK, "{ctx}");
            assert_eq!(bits(&io), bits(&one), "{ctx} log-softmax in place");
            let (mut l1, mut l2) = ([5.0f32], [5.0f32; 2]);
            // SAFETY: one and two rows as above; one and two floats out.
            unsafe {
                assert_eq!(
                    softmax_logsumexp_rows_f32(x.as_ptr(), xs, l1.as_mut_ptr(), 1, n),
                    OK
                );
                assert_eq!(
                    softmax_logsumexp_rows_f32(x2.as_ptr(), xs, l2.as_mut_ptr(), 2, n),
                    OK
                );
            }
            assert_eq!(l1[0].to_bits(), l2[0].to_bits(), "{ctx} log-sum-exp");
            assert_eq!(l2[0].to_bits(), l2[1].to_bits(), "{ctx} log-sum-exp");
        }
    }
}

/// The one-row path keeps the batch rules: strides below `cols`, the same base with another
/// stride, overlap, NULL and misalignment are refused, with nothing written.
#[test]
fn a_batch_of_one_row_keeps_the_batch_rules() {
    let mut buf = input(16);
    let before = buf.clone();
    let p = buf.as_mut_ptr();
    let mis = misaligned(&mut buf);
    let mut out = [0.0f32; 2];
    // SAFETY: every call is refused before touching memory (the statuses say so).
    unsafe {
        for (xs, ys) in [(3, 4), (4, 3), (0, 4)] {
            assert_eq!(
                softmax_rows_f32(p, xs, p.add(8), ys, 1, 4, 0),
                INVALID,
                "{xs} {ys}"
            );
            assert_eq!(
                softmax_log_softmax_rows_f32(p, xs, p.add(8), ys, 1, 4),
                INVALID
            );
        }
        assert_eq!(
            softmax_logsumexp_rows_f32(p, 3, out.as_mut_ptr(), 1, 4),
            INVALID
        );
        assert_eq!(softmax_rows_f32(p, 4, p, 8, 1, 4, 0), INVALID);
        assert_eq!(softmax_log_softmax_rows_f32(p, 8, p, 4, 1, 4), INVALID);
        assert_eq!(softmax_rows_f32(p, 4, p.add(2), 4, 1, 4, 0), INVALID);
        assert_eq!(softmax_logsumexp_rows_f32(p, 4, p.add(3), 1, 4), INVALID);
        assert_eq!(softmax_rows_f32(ptr::null(), 4, p, 4, 1, 4, 0), NULL);
        assert_eq!(
            softmax_log_softmax_rows_f32(p, 4, ptr::null_mut(), 4, 1, 4),
            NULL
        );
        assert_eq!(
            softmax_logsumexp_rows_f32(ptr::null(), 4, out.as_mut_ptr(), 1, 4),
            NULL
        );
        assert_eq!(softmax_rows_f32(mis, 4, p.add(8), 4, 1, 4, 0), INVALID);
        assert_eq!(
            softmax_log_softmax_rows_f32(p, 4, mis.cast::<u8>().wrapping_add(32).cast(), 4, 1, 4),
            INVALID
        );
        assert_eq!(
            softmax_rows_f32_ex(p, 4, p.add(8), 4, 1, 4, 0, 0x80),
            INVALID
        );
        assert_eq!(softmax_rows_f32(p, 4, p.add(8), 4, 1, 4, 99), INVALID);
        // No columns: nothing to touch, any pointer.
        assert_eq!(
            softmax_rows_f32(ptr::null(), 0, ptr::null_mut(), 0, 1, 0, 0),
            OK
        );
        assert_eq!(
            softmax_log_softmax_rows_f32(ptr::null(), 0, ptr::null_mut(), 0, 1, 0),
            OK
        );
    }
    assert_eq!(
        buf.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}
