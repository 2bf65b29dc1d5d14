#!/usr/bin/env bash
# test-avx512.sh [--build-only] [test-binary args...]
#
# Runs tests/avx512.rs on an emulated AVX-512 CPU, for machines without AVX-512: builds the
# test binary statically in release mode, boots it in Bochs (scripts/avx512-emu/run.sh; the
# first run installs the emulator and builds its kernel, see scripts/avx512-emu/setup.sh) with
# RUST_SOFTMAX_EXPECT_AVX512=1, so that missing AVX-512 is a failure rather than a skip, and
# exits with the tests' status. Arguments go to the test binary (e.g. a test name filter).
#
# Emulated code runs ~100x slower than native; the whole run takes a few minutes.
#
# --build-only: only build the static test binary and check that it is static (no emulator;
# what CI does on a CPU that runs AVX-512 natively, where `cargo test` already covers it). It
# builds with the dev profile, a minute and a half quicker than release: linking statically
# does not depend on the profile, and the emulator run keeps release for its speed.
set -euo pipefail

build_only=0
if [ "${1:-}" = --build-only ]; then
  build_only=1
  shift
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target=x86_64-unknown-linux-gnu

# --target keeps +crt-static away from build scripts (they cannot be static); the JSON
# messages name the test executable wherever the target directory is.
echo "test-avx512: building the static test binary" >&2
profile=(--release)
[ "$build_only" -eq 1 ] && profile=()
bin=$(RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo test "${profile[@]}" --target "$target" --test avx512 --no-run --message-format=json |
  grep -o '"executable":"[^"]*"' | sed 's/^"executable":"//; s/"$//' | tail -n 1)
[ -n "$bin" ] && [ -x "$bin" ] || { echo "test-avx512: no test executable found" >&2; exit 1; }
if readelf -lW "$bin" | grep -q 'program interpreter'; then
  echo "test-avx512: $bin is not static" >&2
  exit 1
fi

if [ "$build_only" -eq 1 ]; then
  echo "test-avx512: built $bin (static); not run (--build-only)" >&2
  exit 0
fi

"$repo/scripts/avx512-emu/setup.sh"

echo "test-avx512: running $bin in the AVX-512 emulator" >&2
start=$(date +%s)
status=0
RUST_SOFTMAX_EXPECT_AVX512=1 RUST_TEST_THREADS=1 RUST_BACKTRACE=${RUST_BACKTRACE:-1} \
  "$repo/scripts/avx512-emu/run.sh" "$bin" "$@" || status=$?
echo "test-avx512: emulator run took $(($(date +%s) - start)) s, exit status $status" >&2
exit "$status"
