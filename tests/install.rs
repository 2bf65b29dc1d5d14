//! The packaging C and C++ users get: `scripts/install.sh` into a fresh prefix, then the
//! shipped examples (`c_examples/example.c`, `example.cpp`) built against that prefix through
//! pkg-config and through CMake (`find_package(softmax CONFIG)`), with the static and the
//! shared library, and run. Nothing beyond what pkg-config and CMake give is used: a program
//! linked through pkg-config against the shared library runs with `LD_LIBRARY_PATH` set to the
//! prefix's `lib` (as for any library outside the loader's path); CMake's own build-tree
//! RPATH is enough for its programs.
//!
//! Skips (loudly) when `pkg-config` or `cmake` is missing (`apt-get install pkg-config
//! cmake`; `.ci/run` installs them).

mod capi;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use capi::{compiler, manifest_dir, run_ok, tmp_dir};

/// A fresh prefix, installed once per test process.
fn fresh_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let dir = tmp_dir().join("install-test").join("prefix");
        let _ = std::fs::remove_dir_all(&dir);
        capi::install_into(&dir)
    })
}

fn tool_works(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("\n*** SKIP {test}: `{tool}` is not installed (apt-get install {tool}) ***\n");
    }
    ok
}

/// `readelf -d` of `file`, or None (with a note) without readelf.
fn dynamic_section(file: &Path) -> Option<String> {
    let out = Command::new("readelf").arg("-d").arg(file).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `libsoftmax.so.0.MINOR` before 1.0, `libsoftmax.so.MAJOR` after.
fn soname() -> String {
    let mut parts = version().split('.');
    let major = parts.next().unwrap();
    let minor = parts.next().unwrap();
    if major == "0" {
        format!("libsoftmax.so.0.{minor}")
    } else {
        format!("libsoftmax.so.{major}")
    }
}

#[test]
fn install_lays_out_the_prefix() {
    if capi::emulated("install_lays_out_the_prefix") {
        return;
    }
    let prefix = fresh_prefix();
    for file in [
        "lib/libsoftmax.a".to_string(),
        format!("lib/libsoftmax.so.{}", version()),
        "include/softmax.h".to_string(),
        "include/softmax.hpp".to_string(),
        "lib/pkgconfig/softmax.pc".to_string(),
        "lib/pkgconfig/softmax-static.pc".to_string(),
        "lib/cmake/softmax/softmaxConfig.cmake".to_string(),
        "lib/cmake/softmax/softmaxConfigVersion.cmake".to_string(),
        "share/doc/softmax/LICENSE-MIT".to_string(),
        "share/doc/softmax/LICENSE-APACHE".to_string(),
        "share/doc/softmax/CHANGELOG.md".to_string(),
    ] {
        let path = prefix.join(&file);
        assert!(path.is_file(), "{} is missing", path.display());
    }
    // libsoftmax.so -> libsoftmax.so.SOVER -> libsoftmax.so.X.Y.Z
    let lib = prefix.join("lib");
    let link = std::fs::read_link(lib.join("libsoftmax.so")).expect("libsoftmax.so is a link");
    assert_eq!(link, Path::new(&soname()));
    let link = std::fs::read_link(lib.join(soname())).expect("the SONAME is a link");
    assert_eq!(link, Path::new(&format!("libsoftmax.so.{}", version())));
    // The installed header is the committed one (tests/header.rs checks it is up to date).
    for header in ["softmax.h", "softmax.hpp"] {
        let installed = std::fs::read(prefix.join("include").join(header)).unwrap();
        let committed = std::fs::read(manifest_dir().join("include").join(header)).unwrap();
        assert!(
            installed == committed,
            "installed {header} differs from include/{header}"
        );
    }
    match dynamic_section(&lib.join(format!("libsoftmax.so.{}", version()))) {
        Some(d) => assert!(
            d.contains(&format!("Library soname: [{}]", soname())),
            "wrong or no SONAME:\n{d}"
        ),
        None => eprintln!("note: no readelf; the SONAME was not checked"),
    }
}

/// The flags pkg-config gives for `package` in the fresh prefix.
fn pkg_config(package: &str, args: &[&str]) -> Vec<String> {
    let out = run_ok(
        &format!("pkg-config {args:?} {package}"),
        Command::new("pkg-config").args(args).arg(package).env(
            "PKG_CONFIG_PATH",
            fresh_prefix().join("lib").join("pkgconfig"),
        ),
    );
    out.split_whitespace().map(str::to_owned).collect()
}

/// Checks a C example's output (it checks itself and prints ALL OK).
fn check_example(source: &str, stdout: &str) {
    let ok = if source.ends_with(".cpp") {
        "C++ example: ALL OK\n"
    } else {
        "ALL OK\n"
    };
    assert!(stdout.contains(ok), "{source}:\n{stdout}");
}

#[test]
fn examples_build_through_pkg_config() {
    // Under an emulator the install would build for the host (minutes of compiling) only for
    // the compiler check below to skip the test: decide first.
    if capi::emulated("examples_build_through_pkg_config")
        || !tool_works("pkg-config", "examples_build_through_pkg_config")
    {
        return;
    }
    let prefix = fresh_prefix();
    for (var, default, source, std) in [
        ("CC", "cc", "example.c", "-std=c99"),
        ("CXX", "c++", "example.cpp", "-std=c++17"),
    ] {
        let Some(cc) = compiler(var, default, "examples_build_through_pkg_config") else {
            return;
        };
        for package in ["softmax", "softmax-static"] {
            let exe = tmp_dir()
                .join("install-test")
                .join(format!("{source}-{package}"));
            let mut flags = pkg_config(package, &["--cflags"]);
            flags.extend(
                ["-O2", std, "-Wall", "-Wextra", "-Wpedantic", "-Werror"].map(String::from),
            );
            run_ok(
                &format!("compiling {source} with pkg-config {package}"),
                Command::new(&cc)
                    .args(&flags)
                    .arg(manifest_dir().join("c_examples").join(source))
                    .args(pkg_config(package, &["--libs"]))
                    // The examples' own use of <math.h>.
                    .args(["-lm", "-o"])
                    .arg(&exe),
            );
            let shared = package == "softmax";
            if let Some(d) = dynamic_section(&exe) {
                assert_eq!(
                    d.contains(&format!("Shared library: [{}]", soname())),
                    shared,
                    "{source} via {package}: NEEDED entries:\n{d}"
                );
            }
            let mut cmd = Command::new(&exe);
            cmd.env_remove("SOFTMAX_ISA");
            if shared {
                cmd.env("LD_LIBRARY_PATH", prefix.join("lib"));
            }
            let stdout = run_ok(&format!("{source} via {package}"), &mut cmd);
            check_example(source, &stdout);
            println!("{source} via pkg-config {package}: ok");
        }
    }
}

#[test]
fn examples_build_through_cmake() {
    if !tool_works("cmake", "examples_build_through_cmake")
        || compiler("CC", "cc", "examples_build_through_cmake").is_none()
        || compiler("CXX", "c++", "examples_build_through_cmake").is_none()
    {
        return;
    }
    let prefix = fresh_prefix();
    for static_lib in [false, true] {
        let build = tmp_dir().join("install-test").join(if static_lib {
            "cmake-static"
        } else {
            "cmake-shared"
        });
        let _ = std::fs::remove_dir_all(&build);
        run_ok(
            "cmake configure",
            Command::new("cmake")
                .arg("-S")
                .arg(manifest_dir().join("c_examples"))
                .arg("-B")
                .arg(&build)
                .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
                .arg(format!(
                    "-DSOFTMAX_STATIC={}",
                    if static_lib { "ON" } else { "OFF" }
                ))
                .arg("-DCMAKE_BUILD_TYPE=Release"),
        );
        run_ok(
            "cmake build",
            Command::new("cmake").arg("--build").arg(&build),
        );
        for (exe, source) in [("example_c", "example.c"), ("example_cpp", "example.cpp")] {
            let exe = build.join(exe);
            if let Some(d) = dynamic_section(&exe) {
                assert_eq!(
                    d.contains(&format!("Shared library: [{}]", soname())),
                    !static_lib,
                    "{} NEEDED entries:\n{d}",
                    exe.display()
                );
            }
            // No LD_LIBRARY_PATH: CMake's build-tree RPATH finds the shared library.
            let stdout = run_ok(
                &exe.display().to_string(),
                Command::new(&exe)
                    .env_remove("SOFTMAX_ISA")
                    .env_remove("LD_LIBRARY_PATH"),
            );
            check_example(source, &stdout);
            println!("{source} via CMake, static {static_lib}: ok");
        }
    }
}

/// softmax.hpp with C++20's std::span (the view type takes any contiguous range).
#[test]
fn cpp_wrapper_takes_std_span() {
    let Some(cxx) = compiler("CXX", "c++", "cpp_wrapper_takes_std_span") else {
        return;
    };
    let dir = tmp_dir().join("install-test");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("span.cpp");
    std::fs::write(
        &source,
        r#"#include <array>
#include <cstdio>
#include <span>
#include "softmax.hpp"
int main() {
    std::array<float, 4> x{1, 2, 3, 4}, y{};
    softmax::softmax(std::span<const float>(x), std::span<float>(y));
    float c[4];
    softmax::log_softmax(x, c);
    const float lse = softmax::logsumexp(std::span<const float>(x).first(2));
    std::printf("%.6f %.6f %.6f\n", y[3], c[3], lse);
    return !(y[3] > 0.64f && y[3] < 0.65f && c[3] < -0.44f && c[3] > -0.45f &&
             lse > 2.31f && lse < 2.32f);
}
"#,
    )
    .unwrap();
    let exe = dir.join("span");
    let out = Command::new(&cxx)
        .args([
            "-std=c++20",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-I",
        ])
        .arg(fresh_prefix().join("include"))
        .arg(&source)
        .arg(fresh_prefix().join("lib").join("libsoftmax.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap();
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("c++20") {
        eprintln!("\n*** SKIP cpp_wrapper_takes_std_span: the compiler lacks -std=c++20 ***\n");
        return;
    }
    capi::check_output("compiling span.cpp", &out);
    run_ok("span", &mut Command::new(&exe));
}
