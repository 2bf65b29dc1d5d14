//! The C ABI: (1) the C and C++ examples in `c_examples/`, compiled against `include/` and a
//! freshly built `libsoftmax.a` and run (once per supported ISA for C); (2) the `extern "C"`
//! functions called directly with good and bad arguments.

use std::ffi::{CStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr;
use std::sync::OnceLock;

use softmax::ffi::*;
use softmax::{Algorithm, Isa};

// ---------------------------------------------------------------------------------------------
// (1) The C and C++ examples.
// ---------------------------------------------------------------------------------------------

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/tmp`, where the example binaries go.
fn tmp_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// A separate target directory for the release static library, so that the child cargo does
/// not wait for the build lock held by the `cargo test` running us.
fn lib_target_dir() -> PathBuf {
    tmp_dir()
        .parent()
        .map(|t| t.join("c-abi"))
        .unwrap_or_else(|| manifest_dir().join("target").join("c-abi"))
}

/// Builds `libsoftmax.a` (release) once per test process.
fn static_lib() -> &'static Path {
    static LIB: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let lib = LIB.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let target_dir = lib_target_dir();
        let out = Command::new(cargo)
            .args(["build", "--release", "--lib", "--manifest-path"])
            .arg(manifest_dir().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // Only the test's own build may rewrite include/softmax.h; build for the host.
            .env_remove("SOFTMAX_WRITE_HEADER")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo build --release --lib failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let lib = target_dir.join("release").join("libsoftmax.a");
        if lib.is_file() {
            Ok(lib)
        } else {
            Err(format!("{} was not built", lib.display()))
        }
    });
    match lib {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// The compiler named by `$var` (or `default`) if it runs; otherwise prints a SKIP line.
fn compiler(var: &str, default: &str, test: &str) -> Option<OsString> {
    let cc = std::env::var_os(var).unwrap_or_else(|| OsString::from(default));
    let works = Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if works && cfg!(unix) {
        Some(cc)
    } else {
        eprintln!(
            "\n*** SKIP {test}: no working C/C++ compiler `{}` (set ${var}) or not a Unix host ***\n",
            cc.to_string_lossy()
        );
        None
    }
}

fn check_output(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Compiles `c_examples/<source>` with `compiler` and `flags` into `<tmp>/<exe>`.
fn compile(compiler: &OsString, flags: &[&str], source: &str, exe: &str) -> PathBuf {
    let lib = static_lib();
    let exe = tmp_dir().join(exe);
    let out = Command::new(compiler)
        .args(flags)
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg(manifest_dir().join("c_examples").join(source))
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", compiler.to_string_lossy()));
    check_output(&format!("compiling {source}"), &out);
    exe
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
            (yi as f64 - want).abs() <= 1e-5 * want + 1e-30,
            "softmax[{i}] = {yi}, expected {want}"
        );
    }
}

fn assert_log_softmax(x: &[f32], y: &[f32]) {
    let lse = reference_logsumexp(x);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        let want = xi as f64 - lse;
        assert!(
            (yi as f64 - want).abs() <= 1e-5 * want.abs().max(1.0),
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
        unsafe { log_softmax_f32(x.as_ptr(), y.as_mut_ptr(), x.len()) },
        OK
    );
    assert_log_softmax(&x, &y);
    let mut lse = 0.0f32;
    // SAFETY: as above.
    assert_eq!(unsafe { logsumexp_f32(x.as_ptr(), x.len(), &mut lse) }, OK);
    let want = reference_logsumexp(&x);
    assert!(
        (lse as f64 - want).abs() <= 1e-6 * want.abs(),
        "{lse} vs {want}"
    );

    // Special values go through the ABI unchanged.
    let x = [1.0, f32::INFINITY, 2.0, f32::INFINITY];
    let mut y = [9.0f32; 4];
    // SAFETY: as above.
    assert_eq!(unsafe { softmax_f32(x.as_ptr(), y.as_mut_ptr(), 4) }, OK);
    assert_eq!(y, [0.0, 0.5, 0.0, 0.5]);
    let x = [1.0, f32::NAN, 2.0];
    // SAFETY: as above.
    assert_eq!(
        unsafe { log_softmax_f32(x.as_ptr(), y.as_mut_ptr(), 3) },
        OK
    );
    assert!(y[..3].iter().all(|v| v.is_nan()));
    let x = [f32::NEG_INFINITY; 3];
    // SAFETY: as above.
    assert_eq!(unsafe { logsumexp_f32(x.as_ptr(), 3, &mut lse) }, OK);
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
    assert_eq!(unsafe { log_softmax_f32(p, p, xy.len()) }, OK);
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
        unsafe { log_softmax_rows_f32(p, stride, p, stride, rows, cols) },
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
    let st = unsafe { log_softmax_rows_f32(x.as_ptr(), xs, y.as_mut_ptr(), ys, rows, cols) };
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
        assert_eq!(log_softmax_f32(ptr::null(), yp, 3), NULL);
        assert_eq!(log_softmax_f32(xp, ptr::null_mut(), 3), NULL);
        assert_eq!(logsumexp_f32(ptr::null(), 3, &mut r), NULL);
        assert_eq!(logsumexp_f32(xp, 3, ptr::null_mut()), NULL);
        assert_eq!(logsumexp_f32(ptr::null(), 0, ptr::null_mut()), NULL);
        assert_eq!(softmax_rows_f32(ptr::null(), 3, yp, 3, 1, 3, 0), NULL);
        assert_eq!(softmax_rows_f32(xp, 3, ptr::null_mut(), 3, 1, 3, 0), NULL);
        assert_eq!(log_softmax_rows_f32(ptr::null(), 3, yp, 3, 1, 3), NULL);
        assert_eq!(r, 5.0);
        assert_eq!(y, [5.0; 3]);

        // Nothing to do: NULL is fine and nothing is written.
        assert_eq!(softmax_f32(ptr::null(), ptr::null_mut(), 0), OK);
        assert_eq!(softmax_f32_ex(ptr::null(), ptr::null_mut(), 0, 4), OK);
        assert_eq!(log_softmax_f32(ptr::null(), ptr::null_mut(), 0), OK);
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
            log_softmax_rows_f32(ptr::null(), 3, ptr::null_mut(), 3, 0, 3),
            OK
        );
        assert_eq!(y, [5.0; 3]);
        assert_eq!(logsumexp_f32(ptr::null(), 0, &mut r), OK);
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
        assert_eq!(log_softmax_rows_f32(xp, 0, yp, 4, 1, 4), INVALID);
        // ... is fine without rows.
        assert_eq!(softmax_rows_f32(xp, 1, yp, 1, 0, 4, 0), OK);
        // Extents that overflow usize.
        assert_eq!(softmax_rows_f32(xp, usize::MAX, yp, 4, 2, 4, 0), INVALID);
        assert_eq!(
            log_softmax_rows_f32(xp, 4, yp, usize::MAX / 2, 3, 4),
            INVALID
        );
        // Extents whose byte size exceeds isize::MAX.
        let big = isize::MAX as usize / 4 + 1;
        assert_eq!(softmax_f32(xp, yp, big), INVALID);
        assert_eq!(softmax_f32(xp, yp, usize::MAX), INVALID);
        assert_eq!(log_softmax_f32(xp, yp, big), INVALID);
        let mut r = 5.0f32;
        assert_eq!(logsumexp_f32(xp, big, &mut r), INVALID);
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
        assert_eq!(log_softmax_f32(p, p.add(1), 8), INVALID);
        // Same base, different strides.
        assert_eq!(softmax_rows_f32(p, 8, p, 4, 2, 4, 0), INVALID);
        // Different bases whose extents overlap (even though rows would not).
        assert_eq!(softmax_rows_f32(p, 8, p.add(4), 8, 2, 4, 0), INVALID);
        assert_eq!(log_softmax_rows_f32(p.add(9), 8, p, 8, 2, 4), INVALID);
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
        assert_eq!(log_softmax_f32(mx, b.as_mut_ptr(), 8), INVALID);
        assert_eq!(logsumexp_f32(mx, 8, r.as_mut_ptr()), INVALID);
        assert_eq!(logsumexp_f32(a.as_ptr(), 8, misaligned(&mut r)), INVALID);
        assert_eq!(softmax_rows_f32(mx, 4, b.as_mut_ptr(), 4, 2, 4, 0), INVALID);
        assert_eq!(log_softmax_rows_f32(a.as_ptr(), 4, my, 4, 2, 4), INVALID);
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

/// The only test that changes the ISA (tests run in parallel threads; every ISA gives the same
/// results to within the tolerances used elsewhere, so the others are unaffected).
#[test]
fn set_and_get_isa() {
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
