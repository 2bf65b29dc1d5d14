#!/usr/bin/env bash
# test-aarch64.sh [--loop-stats] [cargo test args...]
#
# Runs the NEON code paths on this x86_64 Debian 12 machine: cross-compiles the crate for
# aarch64-unknown-linux-gnu and runs it under qemu-user.
#
#   1. setup: installs what is missing (apt; quiet and without `apt-get update` when
#      everything is there):
#        rustc-web                  Debian's rustc (+ rustdoc) at /usr/bin/rustc. rustup cannot
#                                   add targets on these machines; this compiler can, through
#        libstd-rust-web-dev:arm64  its aarch64 standard library (multiarch; the same version
#                                   as rustc-web, else the compiler rejects it)
#        gcc-aarch64-linux-gnu, libc6-dev-arm64-cross   the linker and C compiler
#        qemu-user-static           qemu-aarch64-static, the test runner
#   2. `cargo test --target aarch64-unknown-linux-gnu [args]` under the first CPU model of
#      $AARCH64_QEMU_CPUS (default "cortex-a72 max": a NEON-only core, and qemu's everything-on
#      CPU with SVE/SVE2 and friends, so runtime detection is exercised on both). The other
#      models run the library's unit tests and tests/dispatch.rs only: the crate's aarch64
#      kernels use NEON alone, so another CPU model changes what detection sees and nothing
#      else (the whole suite under `max` added about nine minutes to every CI run).
#      AARCH64_QEMU_FULL=1, or test arguments of your own, run the same tests on every model.
#      Then type-checks the criterion benches for aarch64 (no run: qemu timings mean nothing);
#   3. the release static library for aarch64, c_examples/example.c linked against it and run
#      under each CPU model (it must start on NEON, and on scalar with SOFTMAX_ISA=scalar);
#   4. instruction counts of the NEON hot loops (`scripts/loop-stats.sh neon`).
# AARCH64_LIB_PROFILE=dev builds step 3's library with the dev profile instead (about a
# quarter of the release build's time; CI uses it) and skips step 4, whose counts need release code.
# With --loop-stats only steps 1, 3's library build and 4 run. Every step prints its elapsed
# time; the script goes on after a failed step and exits non-zero if any failed.
#
# Host cargo (rustup) drives; Debian's rustc compiles (RUSTC/RUSTDOC). Keep the crate
# warning-free on both compilers. Artifacts go to $CARGO_TARGET_DIR (default target/), under
# the aarch64-unknown-linux-gnu subfolder.
#
# Traps avoided on purpose:
#   - no `-L /usr/aarch64-linux-gnu` / QEMU_LD_PREFIX: libstd-rust-web-dev:arm64 pulls in
#     libc6:arm64 at /lib/aarch64-linux-gnu, which qemu finds by itself; mixing its ld.so with
#     the cross sysroot's libc makes every pthread_create (so every test harness) hang;
#   - no `-C target-cpu=native`: it breaks the cross build, and a library that dispatches at
#     run time must not be compiled for the build machine's CPU anyway;
#   - timings under qemu mean nothing; step 4 is the stand-in.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

TRIPLE=aarch64-unknown-linux-gnu
# The test binaries are built with the dev profile's opt-level 1 (Cargo.toml), debug
# assertions and overflow checks on: at opt-level 0 the `max` CPU's suite took 526 s under
# qemu, at 1 290 s. A caller's CARGO_PROFILE_DEV_OPT_LEVEL still wins.
CPUS=${AARCH64_QEMU_CPUS:-cortex-a72 max}
PKGS=(rustc-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)

loop_stats_only=0
if [ "${1:-}" = "--loop-stats" ]; then
  loop_stats_only=1
  shift
fi
for a in "$@"; do
  case $a in
    --target | --target=*) echo "test-aarch64: do not pass --target (the script sets it)" >&2; exit 2 ;;
  esac
done

# ---- helpers -------------------------------------------------------------------------------

failed=()
summary=()
script_start=$EPOCHREALTIME

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME COMMAND...: runs the command, prints its time, records a failure.
step() {
  local name=$1 t0=$EPOCHREALTIME rc=0
  shift
  echo
  echo "=== test-aarch64: $name"
  "$@" || rc=$?
  local t
  t=$(elapsed_since "$t0")
  if [ "$rc" -eq 0 ]; then
    echo "=== test-aarch64: $name: ok (${t} s)"
    summary+=("ok    ${t} s  $name")
  else
    echo "=== test-aarch64: $name: FAILED, exit $rc (${t} s)" >&2
    summary+=("FAIL  ${t} s  $name (exit $rc)")
    failed+=("$name")
  fi
}

finish() {
  echo
  echo "=== test-aarch64: summary (total $(elapsed_since "$script_start") s)"
  printf '  %s\n' "${summary[@]}"
  if [ ${#failed[@]} -gt 0 ]; then
    echo "test-aarch64: ${#failed[@]} step(s) failed" >&2
    exit 1
  fi
}

# ---- 1. toolchain --------------------------------------------------------------------------

pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

setup() {
  local sudo=() missing=() p log
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "adding the arm64 architecture to dpkg"
    "${sudo[@]}" dpkg --add-architecture arm64 || return 1
  fi
  for p in "${PKGS[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  # The compiler and its aarch64 std come from one source package and must be the same build.
  if [ "$(pkg_version rustc-web)" != "$(pkg_version libstd-rust-web-dev:arm64)" ]; then
    missing+=(rustc-web libstd-rust-web-dev:arm64)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get update + install)"
    log=$(mktemp)
    if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      echo "test-aarch64: apt-get failed" >&2
      return 1
    fi
    rm -f "$log"
  fi
  local v_host v_arm
  v_host=$(pkg_version rustc-web)
  v_arm=$(pkg_version libstd-rust-web-dev:arm64)
  if [ "$v_host" != "$v_arm" ]; then
    echo "test-aarch64: rustc-web $v_host and libstd-rust-web-dev:arm64 $v_arm differ" >&2
    return 1
  fi
  local libdir
  libdir=$(/usr/bin/rustc --print target-libdir --target "$TRIPLE")
  compgen -G "$libdir/libstd-*.rlib" >/dev/null ||
    { echo "test-aarch64: no aarch64 std in $libdir" >&2; return 1; }
  for p in aarch64-linux-gnu-gcc aarch64-linux-gnu-objdump qemu-aarch64-static; do
    command -v "$p" >/dev/null || { echo "test-aarch64: $p missing" >&2; return 1; }
  done
  [ -e /lib/ld-linux-aarch64.so.1 ] || { echo "test-aarch64: libc6:arm64 missing" >&2; return 1; }
  echo "$(/usr/bin/rustc --version) for $TRIPLE (host cargo: $(cargo --version)), $(qemu-aarch64-static --version | head -n 1)"
}

step "setup" setup || true
if [ ${#failed[@]} -gt 0 ]; then finish; fi

# ---- environment ---------------------------------------------------------------------------

case " ${RUSTFLAGS:-} ${CARGO_BUILD_RUSTFLAGS:-} " in
  *target-cpu=native*)
    echo "test-aarch64: RUSTFLAGS holds -C target-cpu=native, which breaks the cross build; unset it" >&2
    exit 2 ;;
esac
export RUSTC=/usr/bin/rustc
export RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
# For build scripts that compile C with the cc crate (none today).
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
unset QEMU_LD_PREFIX
# qemu-user cannot exec an aarch64 binary from inside an emulated process (no binfmt_misc
# here), so tests that start target binaries themselves (a child test process, say) must put
# this runner in front of them.
export SOFTMAX_TEST_RUNNER=qemu-aarch64-static

target_dir=${CARGO_TARGET_DIR:-$repo/target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
lib_profile=${AARCH64_LIB_PROFILE:-release}
case $lib_profile in
  release) lib_dir=$target_dir/$TRIPLE/release ;;
  dev) lib_dir=$target_dir/$TRIPLE/debug ;;
  *) echo "test-aarch64: AARCH64_LIB_PROFILE must be release or dev, not $lib_profile" >&2; exit 2 ;;
esac
if [ "$loop_stats_only" -eq 1 ] && [ "$lib_profile" != release ]; then
  echo "test-aarch64: --loop-stats needs the release library (AARCH64_LIB_PROFILE=release)" >&2
  exit 2
fi

# ---- 2. tests under each CPU model ---------------------------------------------------------

if [ "$loop_stats_only" -eq 0 ]; then
  # Compile once, so that the per-CPU steps time the runs; --no-fail-fast runs every test
  # binary (and the doc-tests) even when one fails.
  step "build tests (cargo test --no-run)" cargo test --target "$TRIPLE" --no-fail-fast --no-run "$@"
  first=1
  for cpu in $CPUS; do
    if [ "$first" -eq 1 ] || [ "${AARCH64_QEMU_FULL:-0}" = 1 ] || [ $# -gt 0 ]; then
      step "cargo test, QEMU_CPU=$cpu" \
        env QEMU_CPU="$cpu" cargo test --target "$TRIPLE" --no-fail-fast "$@"
    else
      step "cargo test --lib --test dispatch, QEMU_CPU=$cpu" \
        env QEMU_CPU="$cpu" cargo test --target "$TRIPLE" --no-fail-fast --lib --test dispatch
    fi
    first=0
  done
  # The criterion benches must compile for aarch64 too (running them under qemu would measure
  # the emulator, not the kernels). A type check is enough: they are plain Rust over the
  # library's API, and a full optimised build of them took 4-6 minutes of every CI run.
  step "check benches (cargo check --benches)" cargo check --target "$TRIPLE" --benches
fi

# ---- 3. static library and the C example ---------------------------------------------------

if [ "$lib_profile" = release ]; then
  step "build libsoftmax.a (release)" cargo rustc --release --lib --target "$TRIPLE" \
    --crate-type staticlib,rlib
else
  step "build libsoftmax.a (dev profile)" cargo rustc --lib --target "$TRIPLE" \
    --crate-type staticlib
fi

# c_example CPU: runs the example (it checks itself on every supported ISA and prints
# "ALL OK"), and checks that it starts on NEON, or on scalar with SOFTMAX_ISA=scalar.
c_example() {
  local cpu=$1 exe=$lib_dir/example_c out isa want
  [ -x "$exe" ] || { echo "test-aarch64: $exe was not built" >&2; return 1; }
  for isa in "" scalar; do
    want=${isa:-neon}
    echo "--- SOFTMAX_ISA=${isa:-(unset)}"
    out=$(
      if [ -n "$isa" ]; then export SOFTMAX_ISA=$isa; else unset SOFTMAX_ISA; fi
      QEMU_CPU=$cpu qemu-aarch64-static "$exe"
    ) || {
      printf '%s\n' "$out"
      echo "test-aarch64: example_c failed" >&2
      return 1
    }
    printf '%s\n' "$out"
    grep -qx "initial isa: $want" <<<"$out" ||
      { echo "test-aarch64: example_c did not start on $want" >&2; return 1; }
    grep -qx "ALL OK" <<<"$out" || { echo "test-aarch64: example_c did not print ALL OK" >&2; return 1; }
  done
}

if [ "$loop_stats_only" -eq 0 ]; then
  if [ -f c_examples/example.c ]; then
    # The flags of tests/c_abi.rs, so the header is held to the same standard on aarch64.
    rm -f "$lib_dir/example_c"
    step "compile c_examples/example.c" aarch64-linux-gnu-gcc -std=c99 -O2 -Wall -Wextra \
      -Wpedantic -Werror -I include c_examples/example.c "$lib_dir/libsoftmax.a" \
      -lpthread -ldl -lm -o "$lib_dir/example_c"
    for cpu in $CPUS; do
      step "run example_c, QEMU_CPU=$cpu" c_example "$cpu"
    done
  else
    echo
    echo "************************************************************************" >&2
    echo "*** test-aarch64: SKIPPING the C example: c_examples/example.c is absent" >&2
    echo "************************************************************************" >&2
    summary+=("SKIP         C example (c_examples/example.c absent)")
  fi
fi

# ---- 4. loop statistics --------------------------------------------------------------------

if [ "$lib_profile" = release ]; then
  step "NEON loop statistics" "$repo/scripts/loop-stats.sh" --lib "$lib_dir/libsoftmax.rlib" neon
else
  echo
  echo "=== test-aarch64: NEON loop statistics skipped (AARCH64_LIB_PROFILE=dev: they count release code)"
  summary+=("SKIP         NEON loop statistics (AARCH64_LIB_PROFILE=dev)")
fi

finish
