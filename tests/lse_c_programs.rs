//! The C programs of sharded and streamed rows, compiled against a freshly built
//! `libsoftmax.a` (the pattern of `tests/c_abi.rs`):
//! - `c_examples/lse_stream.c` (plain C: chunks, merges, normalise, a two-shard
//!   cross-entropy), run once per supported ISA;
//! - the multi-process example `c_examples/vocab_parallel_mpi.c`, compiled with `mpicc` and
//!   run under `mpirun` with 1, 2 and 4 processes (each run checks the sharded loss and
//!   gradient against the single-process `softmax_cross_entropy_rows_f32` and exits non-zero
//!   otherwise). Without an MPI compiler it prints a loud SKIP line (`apt-get install
//!   libopenmpi-dev openmpi-bin` provides one; `.ci/run` installs it).

use std::ffi::OsString;

use std::process::Command;

mod capi;

use capi::{manifest_dir, static_lib, tmp_dir};

fn works(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True (after a loud SKIP line) under an emulated cross run, whose test binary is not the
/// host's (scripts/test-aarch64.sh sets SOFTMAX_TEST_RUNNER).
fn emulated(test: &str) -> bool {
    let emulated = std::env::var_os("SOFTMAX_TEST_RUNNER").is_some_and(|r| !r.is_empty());
    if emulated {
        eprintln!("\n*** SKIP {test}: emulated cross run (SOFTMAX_TEST_RUNNER is set) ***\n");
    }
    emulated
}

#[test]
fn lse_stream_c_program_runs_on_every_isa() {
    if emulated("lse_stream_c_program") {
        return;
    }
    let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
    if !cfg!(unix) || !works(&cc.to_string_lossy()) {
        eprintln!("\n*** SKIP lse_stream_c_program: no working C compiler (set $CC) ***\n");
        return;
    }
    let lib = static_lib();
    let exe = tmp_dir().join("lse_stream");
    let out = Command::new(&cc)
        .args([
            "-std=c99",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-I",
        ])
        .arg(manifest_dir().join("include"))
        .arg(manifest_dir().join("c_examples").join("lse_stream.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("cannot run the C compiler");
    assert!(
        out.status.success(),
        "compiling lse_stream.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for isa in softmax::Isa::ALL {
        if !isa.is_supported() {
            println!(
                "SKIP lse_stream_c_program: {} not supported here",
                isa.name()
            );
            continue;
        }
        let out = Command::new(&exe)
            .env("SOFTMAX_ISA", isa.name())
            .output()
            .expect("cannot run lse_stream");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("isa: {}\n", isa.name())),
            "lse_stream on {} failed ({}):\n{stdout}",
            isa.name(),
            out.status
        );
        assert!(stdout.ends_with("OK\n"), "{stdout}");
        println!("lse_stream on {}: ok", isa.name());
    }
}

#[test]
fn vocab_parallel_mpi_example_runs_on_1_2_4_processes() {
    if emulated("vocab_parallel_mpi") {
        return;
    }
    if !cfg!(unix) || !works("mpicc") || !works("mpirun") {
        eprintln!(
            "\n*** SKIP vocab_parallel_mpi: no `mpicc`/`mpirun` on PATH; install Open MPI \
             (apt-get install libopenmpi-dev openmpi-bin) or MPICH to run the multi-process \
             example ***\n"
        );
        println!("SKIP vocab_parallel_mpi: no MPI compiler");
        return;
    }
    let lib = static_lib();
    let exe = tmp_dir().join("vocab_parallel_mpi");
    let out = Command::new("mpicc")
        .args(["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(manifest_dir().join("include"))
        .arg(
            manifest_dir()
                .join("c_examples")
                .join("vocab_parallel_mpi.c"),
        )
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("cannot run mpicc");
    assert!(
        out.status.success(),
        "mpicc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for np in ["1", "2", "4"] {
        for args in [&["8", "50000"][..], &["5", "7"][..]] {
            let out = Command::new("mpirun")
                .args(["--allow-run-as-root", "--oversubscribe", "-np", np])
                .arg(&exe)
                .args(args)
                // Open MPI refuses to run as root without these when the flag is not known.
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
                .output()
                .expect("cannot run mpirun");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("\nOK\n"),
                "mpirun -np {np} {args:?} failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let want = format!(": {np} process{}, ", if np == "1" { "" } else { "es" });
            assert!(stdout.contains(&want), "{stdout}");
            println!("mpirun -np {np} {args:?}:\n{stdout}");
        }
    }
}
