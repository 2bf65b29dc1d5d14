#!/usr/bin/env bash
# Speed and accuracy of this crate next to XNNPACK's fastest f32 softmax microkernels, timed in
# ONE process on the same buffers (scripts/compare-xnnpack/harness.c). Not part of CI.
#
# Where XNNPACK comes from: YOUR OWN checkout of https://github.com/google/XNNPACK, e.g.
#     git clone --depth 1 https://github.com/google/XNNPACK /path/to/XNNPACK
#     XNNPACK_SRC=/path/to/XNNPACK scripts/compare-xnnpack.sh
# Nothing of XNNPACK is vendored in this repository and nothing is downloaded here. The script
# compiles only the microkernel files it needs, straight from $XNNPACK_SRC/src/*/gen/*.c, with
# gcc and XNNPACK's own per-ISA flags (its CMakeLists.txt: -O2, -mavx512f for AVX-512F kernels,
# -mf16c -mfma -mavx2 for AVX2 ones, -mavx -mno-avx2 -mno-fma -mno-f16c for AVX ones, plus the
# stack flags it gives gcc); no CMake, no full XNNPACK build. The kernels' headers include
# <pthreadpool.h> for a type only; when none is installed, a one-line stand-in is generated.
# Prototypes are checked against XNNPACK's own headers (a compile of the harness with
# -DXNN_ABI_CHECK -fsyntax-only) before anything is timed.
#
# Environment (all optional but XNNPACK_SRC):
#   XNNPACK_SRC   path of the XNNPACK checkout (required)
#   SHAPES        "ROWSxCOLS ..." to time (default: the shapes of issue 10 and one row of 16M)
#   ACCURACY      "ROWSxCOLS ..." for the worst errors against float64 (default 512x1000 1x16777216)
#   CPU           core to pin to with taskset (default 1)
#   ROUNDS        interleaved rounds, medians reported (default 7)
#   TARGET_MS     length of one timed run (default 2)
#   SAMPLES       runs per implementation per round, the fastest kept (default 5)
#   XNN_SWEEP=1   also time every compiled variant of each kernel family alone (which is fastest);
#                 XNN_SWEEP=only for that table alone
#   XNN_PICK=fixed  XNNPACK with its fixed set only (default: in each round the faster of the
#                 fixed set and each family's fastest variant on the shape)
#   XNN512_RMAX, XNN512_RADDSTORE, XNN512_RADDEXP, XNN512_RADDEXTEXP, XNN512_VMULC, XNN512_VSUBC
#   and XNN256_* fix a family to one variant (the name after "__", e.g. avx512f_u64_acc2)
#   F16_SHAPES    "ROWSxCOLS ..." for the f16 softmax table (default below; "" for none):
#                 XNNPACK's f16 softmax operator's kernels (rmax f16c_u32 or avx512skx_u64_acc4,
#                 raddstoreexpminusmax avx2_rr1_p2_u32, vmulc f16c_u16) against softmax_rows_f16
#   F16_ACCURACY  "ROWSxCOLS", the shape of the f16 accuracy table (default 512x1000)
#   CC            C compiler (default gcc)
#   XNN_ASSUME_NO_AVX512=1  behave as on a CPU without AVX-512 (to test that path)
# On a CPU without AVX-512 the AVX-512 columns read "skipped", with a notice on stderr.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
: "${XNNPACK_SRC:?set XNNPACK_SRC to your XNNPACK checkout (git clone https://github.com/google/XNNPACK)}"
xnn="$(cd "$XNNPACK_SRC" && pwd)"
for d in f32-rminmax f32-raddstoreexpminusmax f32-raddexpminusmax f32-raddextexp f32-vbinary; do
    [ -d "$xnn/src/$d/gen" ] || { echo "compare-xnnpack: $xnn/src/$d/gen not found: not an XNNPACK checkout?" >&2; exit 1; }
done
CC="${CC:-gcc}"
CPU="${CPU:-1}"
SHAPES="${SHAPES:-1x64 1x256 1x1048576 4096x64 2048x128 1024x256 1024x4096 4096x8 4096x32 512x1000 64x32000 8x128256 1x16777216}"
ACCURACY="${ACCURACY:-512x1000 1x16777216}"
[ "$(uname -m)" = x86_64 ] || { echo "compare-xnnpack: x86_64 only (XNNPACK's AVX2 / AVX-512 kernels)" >&2; exit 1; }

target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/compare-xnnpack"
mkdir -p "$out/obj" "$out/shim"

echo "== cargo rustc --release --crate-type staticlib" >&2
(cd "$root" && cargo rustc --release --lib --crate-type staticlib >&2)
lib="$target/release/libsoftmax.a"
[ -f "$lib" ] || { echo "compare-xnnpack: $lib missing after cargo build" >&2; exit 1; }

# <pthreadpool.h> is only needed for the pthreadpool_t type in XNNPACK's headers.
if ! echo '#include <pthreadpool.h>' | "$CC" -E -x c - >/dev/null 2>&1; then
    echo 'typedef struct pthreadpool* pthreadpool_t;  /* stand-in: only the type is used */' \
        > "$out/shim/pthreadpool.h"
fi

# XNNPACK's flags for gcc (CMakeLists.txt): -O2 for the microkernels, its stack flags, C99.
base_flags=(-std=gnu99 -O2 -DNDEBUG -fomit-frame-pointer -mpreferred-stack-boundary=6
            -mstackrealign -mincoming-stack-boundary=4 -I"$xnn" -I"$xnn/include" -idirafter "$out/shim")
flags_avx512=(-mavx512f)
flags_avx2=(-mf16c -mfma -mavx2)
flags_avx=(-mavx -mno-avx2 -mno-fma -mno-f16c)
flags_f16c=(-mavx -mf16c -mno-avx2 -mno-fma)
flags_skx=(-mf16c -mfma -mavx2 -mavx512f -mavx512cd -mavx512bw -mavx512dq -mavx512vl)

# family  file glob (relative to src/)  flags-set  harness ISA
kernels=(
    "RMAX       f32-rminmax/gen/f32-rmax-avx512f-*.c                            avx512 512"
    "RADDSTORE  f32-raddstoreexpminusmax/gen/f32-raddstoreexpminusmax-avx512f-*.c avx512 512"
    "RADDEXP    f32-raddexpminusmax/gen/f32-raddexpminusmax-avx512f-*.c          avx512 512"
    "RADDEXTEXP f32-raddextexp/gen/f32-raddextexp-avx512f-*.c                    avx512 512"
    "VMULC      f32-vbinary/gen/f32-vmulc-avx512f-*.c                           avx512 512"
    "VSUBC      f32-vbinary/gen/f32-vsubc-avx512f-*.c                           avx512 512"
    "RMAX       f32-rminmax/gen/f32-rmax-avx-*.c                                avx    256"
    "RADDSTORE  f32-raddstoreexpminusmax/gen/f32-raddstoreexpminusmax-avx2-*.c   avx2   256"
    "RADDEXP    f32-raddexpminusmax/gen/f32-raddexpminusmax-avx2-*.c             avx2   256"
    "RADDEXTEXP f32-raddextexp/gen/f32-raddextexp-avx2-*.c                       avx2   256"
    "VMULC      f32-vbinary/gen/f32-vmulc-avx-*.c                               avx    256"
    "VSUBC      f32-vbinary/gen/f32-vsubc-avx-*.c                               avx    256"
)

echo "== compiling XNNPACK microkernels from $xnn" >&2
variants="$out/variants.h"
: > "$variants.tmp"
objs=()
for k in "${kernels[@]}"; do
    read -r family glob set isa <<<"$k"
    declare -n isa_flags="flags_$set"
    found=0
    for src in "$xnn"/src/$glob; do
        [ -f "$src" ] || continue
        base="$(basename "$src" .c)"                       # f32-rmax-avx512f-u64-acc4
        op="${base#f32-}"; op="${op%%-*}"                  # rmax
        rest="${base#f32-$op-}"                            # avx512f-u64-acc4
        fn="xnn_f32_${op}_ukernel__${rest//-/_}"           # xnn_f32_rmax_ukernel__avx512f_u64_acc4
        if ! grep -q "void $fn(" "$src"; then
            echo "compare-xnnpack: $src does not define $fn; skipped" >&2
            continue
        fi
        obj="$out/obj/$base.o"
        if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
            "$CC" "${base_flags[@]}" "${isa_flags[@]}" -c "$src" -o "$obj"
        fi
        objs+=("$obj")
        echo "XNN_V($family, $isa, $fn)" >> "$variants.tmp"
        found=1
    done
    [ "$found" = 1 ] || { echo "compare-xnnpack: no kernel matches src/$glob in $xnn" >&2; exit 1; }
done
mv "$variants.tmp" "$variants"
echo "   $(wc -l < "$variants") kernels" >&2

# XNNPACK's f16 softmax operator on x86 (file, flags), when F16_SHAPES is not empty and the
# checkout has all of them.
F16_SHAPES="${F16_SHAPES-4096x64 2048x128 1024x256 512x1000 64x32000 8x128256 1x16777216}"
f16_kernels=(
    "f16-rminmax/f16-rmax-f16c-u32.c                                        f16c"
    "f16-rminmax/gen/f16-rmax-avx512skx-u64-acc4.c                          skx"
    "f16-raddstoreexpminusmax/gen/f16-raddstoreexpminusmax-avx2-rr1-p2-u32.c avx2"
    "f16-vbinary/gen/f16-vmulc-f16c-u16.c                                   f16c"
)
f16_def=()
if [ -n "$F16_SHAPES" ]; then
    f16_objs=()
    for k in "${f16_kernels[@]}"; do
        read -r file set <<<"$k"
        src="$xnn/src/$file"
        if [ ! -f "$src" ]; then
            echo "compare-xnnpack: $src not found; no f16 table" >&2
            f16_objs=()
            break
        fi
        declare -n isa_flags="flags_$set"
        obj="$out/obj/$(basename "$src" .c).o"
        if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
            "$CC" "${base_flags[@]}" "${isa_flags[@]}" -c "$src" -o "$obj"
        fi
        f16_objs+=("$obj")
    done
    if [ "${#f16_objs[@]}" = "${#f16_kernels[@]}" ]; then
        objs+=("${f16_objs[@]}")
        f16_def=(-DXNN_F16)
    fi
fi

# The crate's batch log-sum-exp, when the header declares it.
lse_def=()
if grep -q 'softmax_status softmax_logsumexp_rows_f32(' "$root/include/softmax.h"; then
    lse_def=(-DSOFTMAX_LSE_ROWS=softmax_logsumexp_rows_f32)
else
    echo "compare-xnnpack: include/softmax.h has no batch log-sum-exp; timing a loop of softmax_logsumexp_f32" >&2
fi

harness="$root/scripts/compare-xnnpack/harness.c"
hflags=(-std=gnu11 -O2 -Wall -Wextra -Werror -I"$root/include" -I"$out" "${lse_def[@]}" "${f16_def[@]}")
echo "== checking the harness's prototypes against XNNPACK's headers" >&2
"$CC" "${hflags[@]}" -DXNN_ABI_CHECK -I"$xnn" -I"$xnn/include" -idirafter "$out/shim" \
    -Wno-unused-function -fsyntax-only "$harness"
echo "== linking $out/harness" >&2
"$CC" "${hflags[@]}" "$harness" "${objs[@]}" "$lib" -lpthread -ldl -lm -o "$out/harness"

args=()
for a in $ACCURACY; do args+=("--accuracy=$a"); done
case "${XNN_SWEEP:-0}" in
    1) args+=(--sweep) ;;
    only) args+=(--only-sweep) ;;
esac
if [ "${#f16_def[@]}" -gt 0 ]; then
    for s in $F16_SHAPES; do args+=("--f16=$s"); done
    args+=("--f16-accuracy=${F16_ACCURACY:-512x1000}")
fi
# shellcheck disable=SC2206
args+=($SHAPES)
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "$CPU"); else echo "compare-xnnpack: no taskset; not pinned" >&2; fi

echo "## XNNPACK microkernels against this crate"
echo
echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1); pinned: ${pin[*]:-no};" \
     "XNNPACK $(git -C "$xnn" rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)');" \
     "softmax $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?'); $("$CC" --version | head -1)"
echo
echo "\$ ${pin[*]} $out/harness ${args[*]}"
"${pin[@]}" "$out/harness" "${args[@]}"
