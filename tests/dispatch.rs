//! Runtime dispatch: the detected ISA, `set_isa`, and the `SOFTMAX_ISA` environment variable.
//!
//! The environment variable is read once per process, so `env_var_selects_the_isa` runs this
//! test binary again as a child process (`current_exe() --exact child_reports_isa`) with
//! `SOFTMAX_ISA` set; the child test asserts only when `SOFTMAX_TEST_EXPECT_ISA` is present
//! (otherwise it does nothing). Tests that read or change the process-wide choice hold
//! `GLOBAL`, since the test harness runs tests on several threads of one process.

mod common;

use std::env;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use common::*;
use softmax::{current_isa, set_isa, Algorithm, Error, Isa, Softmax, ISA_ENV_VAR};

/// Serialises the tests that depend on the process-wide ISA.
static GLOBAL: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set in the child process: the ISA name the child must see.
const EXPECT_VAR: &str = "SOFTMAX_TEST_EXPECT_ISA";
/// Set in the child process: an ISA the child passes to `set_isa` before checking.
const SET_VAR: &str = "SOFTMAX_TEST_SET_ISA";

/// True in a child process started by `env_var_selects_the_isa`.
fn is_child() -> bool {
    env::var_os(EXPECT_VAR).is_some()
}

/// The highest supported ISA in `Isa::ALL` order other than Scalar (Scalar when none).
fn highest_supported() -> Isa {
    Isa::ALL
        .into_iter()
        .rev()
        .find(|&isa| isa != Isa::Scalar && isa.is_supported())
        .unwrap_or(Isa::Scalar)
}

/// What this process's first use chose, given its own `SOFTMAX_ISA` (normally unset).
fn expected_initial() -> Isa {
    match env::var(ISA_ENV_VAR) {
        Ok(v) if !v.trim().is_empty() => match Isa::from_name(v.trim()) {
            Some(isa) if isa.is_supported() => isa,
            _ => Isa::best(),
        },
        _ => Isa::best(),
    }
}

#[test]
fn detected_isa_is_the_best() {
    if is_child() {
        return;
    }
    let _g = lock();
    let best = Isa::best();
    println!(
        "dispatch: best = {}, current = {}, supported = {:?}",
        best.name(),
        current_isa().name(),
        Isa::ALL
            .into_iter()
            .filter(|i| i.is_supported())
            .map(Isa::name)
            .collect::<Vec<_>>()
    );
    assert_eq!(best, highest_supported());
    assert!(best.is_supported());
    if Isa::Avx2.is_supported() && !Isa::Avx512.is_supported() {
        assert_eq!(best, Isa::Avx2);
    }
    if Isa::Avx512.is_supported() {
        assert_eq!(best, Isa::Avx512);
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        assert!(
            matches!(best, Isa::Avx2 | Isa::Avx512),
            "an AVX2+FMA+F16C CPU must not fall back to {best:?}"
        );
        if !std::arch::is_x86_feature_detected!("avx512f") {
            assert_eq!(best, Isa::Avx2);
        }
    }
    if env::var_os(ISA_ENV_VAR).is_none() {
        assert_eq!(
            current_isa(),
            best,
            "no {ISA_ENV_VAR}: the best ISA is chosen"
        );
    }
    assert_eq!(current_isa(), expected_initial());
    assert_eq!(Softmax::new().isa(), current_isa());
    assert_eq!(Softmax::default().isa(), current_isa());
}

/// `set_isa` to every ISA and back, in one test because the choice is process-wide.
#[test]
fn set_isa_round_trip() {
    if is_child() {
        return;
    }
    let _g = lock();
    let original = current_isa();
    let x: Vec<f32> = uniform(&mut rng(41), 1000, -30.0, 30.0);
    for isa in Isa::ALL {
        if isa.is_supported() {
            set_isa(isa).unwrap();
            assert_eq!(current_isa(), isa);
            assert_eq!(Softmax::new().isa(), isa);
            assert_eq!(std::thread::spawn(current_isa).join().unwrap(), isa);
            // The free functions now run this ISA's kernels.
            let sm = Softmax::with_isa(isa).unwrap();
            let (mut a, mut b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            for alg in Algorithm::ALL {
                softmax::softmax_with(&x, &mut a, alg).unwrap();
                sm.softmax_with(&x, &mut b, alg).unwrap();
                assert_same_bits(&format!("{isa:?} {alg:?}"), &a, &b);
            }
            softmax::log_softmax(&x, &mut a).unwrap();
            sm.log_softmax(&x, &mut b).unwrap();
            assert_same_bits(&format!("{isa:?} log_softmax"), &a, &b);
            assert_eq!(softmax::logsumexp(&x).to_bits(), sm.logsumexp(&x).to_bits());
        } else {
            println!(
                "SKIP set_isa_round_trip: {} not supported on this CPU",
                isa.name()
            );
            let before = current_isa();
            assert_eq!(set_isa(isa), Err(Error::UnsupportedIsa(isa)));
            assert_eq!(current_isa(), before, "a refused set_isa changes nothing");
        }
    }
    // Set from another thread, seen here.
    std::thread::spawn(|| set_isa(Isa::Scalar).unwrap())
        .join()
        .unwrap();
    assert_eq!(current_isa(), Isa::Scalar);
    set_isa(original).unwrap();
    assert_eq!(current_isa(), original);
}

/// The child side of `env_var_selects_the_isa`: checks `current_isa()` against
/// `SOFTMAX_TEST_EXPECT_ISA` when that is set (after calling `set_isa` with
/// `SOFTMAX_TEST_SET_ISA` when that is set); does nothing in a normal run.
#[test]
fn child_reports_isa() {
    let Ok(expected) = env::var(EXPECT_VAR) else {
        println!("child_reports_isa: helper of env_var_selects_the_isa; nothing to check here");
        return;
    };
    if let Ok(set) = env::var(SET_VAR) {
        set_isa(Isa::from_name(&set).expect("valid SOFTMAX_TEST_SET_ISA")).unwrap();
    }
    let isa = current_isa();
    println!("CHILD current_isa={}", isa.name());
    assert_eq!(isa.name(), expected);
    assert_eq!(Softmax::new().isa(), isa);
    // The free functions use it.
    let x = [0.5f32, -1.0, 2.0, 7.0, 1.0, 0.0, -3.0, 4.0, 9.0];
    let (mut a, mut b) = ([0.0f32; 9], [0.0f32; 9]);
    softmax::softmax(&x, &mut a).unwrap();
    Softmax::with_isa(isa).unwrap().softmax(&x, &mut b).unwrap();
    assert_same_bits("child softmax", &a, &b);
}

/// Runs `child_reports_isa` in a fresh process with `SOFTMAX_ISA` = `value` (removed when
/// `None`), expecting `expect`; returns the child's stderr.
fn run_child(value: Option<&str>, set: Option<Isa>, expect: Isa) -> String {
    let exe = env::current_exe().expect("test binary path");
    // Cross runs (scripts/test-aarch64.sh) name the emulator that must start the child.
    let mut cmd = match env::var("SOFTMAX_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut c = Command::new(runner.trim());
            c.arg(exe);
            c
        }
        _ => Command::new(exe),
    };
    cmd.args([
        "--exact",
        "child_reports_isa",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(EXPECT_VAR, expect.name())
    .env_remove(SET_VAR);
    match value {
        Some(v) => cmd.env(ISA_ENV_VAR, v),
        None => cmd.env_remove(ISA_ENV_VAR),
    };
    if let Some(isa) = set {
        cmd.env(SET_VAR, isa.name());
    }
    let out = cmd.output().expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let ctx = format!(
        "child with {ISA_ENV_VAR}={value:?}, set_isa {set:?}, expecting {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        expect.name()
    );
    assert!(out.status.success(), "{ctx}");
    assert!(
        stdout.contains(&format!("CHILD current_isa={}", expect.name())),
        "{ctx}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run: {ctx}"
    );
    println!(
        "{ISA_ENV_VAR}={value:?} set_isa={set:?} -> {} (stderr: {:?})",
        expect.name(),
        stderr.trim()
    );
    stderr
}

#[test]
fn env_var_selects_the_isa() {
    if is_child() {
        return;
    }
    let best = Isa::best();
    // Unset or blank: the best ISA, silently.
    for value in [None, Some(""), Some("  ")] {
        let err = run_child(value, None, best);
        assert!(!err.contains("softmax:"), "no notice expected: {err}");
    }
    // Every supported ISA by name (any case, surrounding blanks allowed).
    for isa in Isa::ALL {
        if !isa.is_supported() {
            continue;
        }
        for value in [
            isa.name().to_string(),
            isa.name().to_uppercase(),
            format!(" {} ", isa.name()),
        ] {
            let err = run_child(Some(&value), None, isa);
            assert!(!err.contains("softmax:"), "no notice expected: {err}");
        }
    }
    // An ISA this CPU lacks: falls back to the best, with a notice on stderr.
    let mut unsupported = 0;
    for isa in Isa::ALL.into_iter().filter(|i| !i.is_supported()) {
        unsupported += 1;
        let err = run_child(Some(isa.name()), None, best);
        assert!(
            err.contains("softmax:"),
            "notice expected on stderr: {err:?}"
        );
        assert!(
            err.contains(isa.name()),
            "the notice names {}: {err:?}",
            isa.name()
        );
        assert!(
            err.contains(best.name()),
            "the notice names the fallback: {err:?}"
        );
    }
    if unsupported == 0 {
        println!("SKIP env_var_selects_the_isa (unsupported case): every ISA is supported here");
    }
    // Unknown names: the best, with a notice.
    for value in ["foo", "avx", "sse4.2", "avx-512"] {
        let err = run_child(Some(value), None, best);
        assert!(
            err.contains("softmax:"),
            "notice expected on stderr: {err:?}"
        );
        assert!(err.contains(value), "the notice quotes the value: {err:?}");
    }
    // set_isa beats the environment variable, even as the very first call.
    let err = run_child(Some("scalar"), Some(best), best);
    assert!(!err.contains("softmax:"), "{err}");
    if best != Isa::Scalar {
        run_child(None, Some(Isa::Scalar), Isa::Scalar);
    }
}
