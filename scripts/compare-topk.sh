#!/usr/bin/env bash
# Times top-k gating and sampling against the crate's plain softmax on the same shapes and
# against sort-based C++ (softmax + std::partial_sort / std::sort), in one process through the
# C ABI: interleaved rounds, medians, one thread pinned to one core (the last one).
#
#   scripts/compare-topk.sh [ROUNDS]        # SOFTMAX_ISA=avx2 etc. picks an ISA
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
prefix="$target/compare-topk-prefix"
scripts/install.sh --prefix "$prefix" >/dev/null
exe="$target/compare-topk"
${CXX:-c++} -O2 -std=c++17 -I "$prefix/include" scripts/compare-topk/harness.cpp \
    "$prefix/lib/libsoftmax.a" -lpthread -ldl -lm -o "$exe"
cpu=$(($(nproc) - 1))
lscpu | grep -m1 'Model name' || true
exec taskset -c "$cpu" "$exe" "${1:-7}"
