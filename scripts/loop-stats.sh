#!/usr/bin/env bash
# loop-stats.sh [--all] [--lib FILE] ISA...
#
# Static instruction counts of the innermost loops of the SIMD kernels, a stand-in for timings
# where the hardware is not at hand (AVX-512 without such a CPU, NEON under qemu). ISA is one
# or more of:
#   avx2, avx512  the x86_64 entry points `kernels::{avx2,avx512}::entry::*` (every
#                 algorithm is inlined into them); one table, a column per ISA given (and
#                 the ratio of the two when both are). Without --lib, builds the release
#                 library for this (x86_64) machine and disassembles it with objdump.
#   neon          the aarch64 entry points `kernels::neon::entry::*` (softmax, log_softmax
#                 and logsumexp; every one with --all); one table of its loops. Without --lib,
#                 reads ${CARGO_TARGET_DIR:-target}/aarch64-unknown-linux-gnu/release/
#                 libsoftmax.rlib, which `scripts/test-aarch64.sh --loop-stats` builds (with
#                 the cross toolchain it installs) before it calls this script; disassembles
#                 with ${AARCH64_OBJDUMP:-aarch64-linux-gnu-objdump}.
# --lib FILE disassembles FILE instead (an rlib, a staticlib or an object file); it holds one
# architecture, so it goes with x86 ISAs or with neon, not both.
#
# One loop finder serves every ISA (FINDER below): it reads the disassembly of the entry
# points and finds their innermost loops, a backward jump (to a target inside the function)
# whose range [target, jump] holds no other loop. Each ISA keeps the rule its table has always
# used for the two cases where that is ambiguous (changing it would change the figures quoted
# in README.md): on x86 several backward jumps to one target are one loop, up to the last
# jump, and a jump out of a range to an earlier target leaves the range innermost; on NEON
# each backward jump is a loop, and any other backward jump inside its range disqualifies it.
#
# x86 (loops that load no full-width vector, zmm for AVX-512 and ymm for AVX2, are ignored).
# Per loop:
#   insns    instructions from the jump target to the jump: the body, once
#   streams  distinct address registers of the full-width vector loads (input arrays: 1 for
#            x, 2 for (y, dy), ...; constants on the stack or in .rodata are not counted)
#   vecs     vector loads per stream: the unroll (2-4 in the main loops, 1 in the remainders)
#   elems    vecs x lanes (16 or 8): elements one iteration consumes
#   ins/el   insns / elems
# and the mix: st stores (nt of them non-temporal), fma, add (vaddps), mx (vmaxps), sc
# (vscalefps), sh (vpslld), pf prefetches, stk stack accesses (spills/reloads), br inner
# branches, and a guess of which generic loop it is. The table is a summary per loop kind
# (unrolled loops only, vecs >= 2): instructions per element, min / max over the loops of that
# kind; --all also lists every loop.
#
# NEON. Loops with the same counts and role in one function (the same pass inlined into several
# algorithms) are printed once, with "xN". Per loop: the instructions of one iteration (the
# range, so a loop with forward branches inside counts its longest straight path), the 128-bit
# vectors it loads from memory (loads off sp/x29 are spill reloads and do not count), the
# elements per iteration (4 per vector), instructions per element, and a rough role from the
# instruction mix. Loops that load no vectors, or do none of the per-element arithmetic
# ("other": e.g. folding the lanes of an accumulator once per block), are listed without a
# per-element figure.
#
# The counts are static: no cycles, ports, latencies, dual issue, the cost of register copies
# (often free at rename) or memory effects, and a body with inner branches counts all paths.
# Compare loops with each other and across changes, not with real timings.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
  exit 0
}

all=0
lib=
isas=()
while [ $# -gt 0 ]; do
  case $1 in
    --all) all=1 ;;
    --lib) [ $# -ge 2 ] || { echo "loop-stats: --lib needs a file" >&2; exit 2; }; lib=$2; shift ;;
    --lib=*) lib=${1#--lib=} ;;
    avx2 | avx512 | neon) isas+=("$1") ;;
    -h | --help) usage ;;
    *) echo "loop-stats: unknown argument '$1' (ISAs: avx2, avx512, neon; see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#isas[@]} -gt 0 ] || { echo "usage: loop-stats.sh [--all] [--lib FILE] ISA... (ISAs: avx2, avx512, neon; see --help)" >&2; exit 2; }

x86=() neon=0
for isa in "${isas[@]}"; do
  case $isa in
    neon) neon=1 ;;
    *) case " ${x86[*]} " in *" $isa "*) ;; *) x86+=("$isa") ;; esac ;;
  esac
done
if [ -n "$lib" ] && [ ${#x86[@]} -gt 0 ] && [ "$neon" = 1 ]; then
  echo "loop-stats: --lib holds one architecture: give it with x86 ISAs or with neon, not both" >&2
  exit 2
fi
[ -z "$lib" ] || [ -f "$lib" ] || { echo "loop-stats: $lib not found" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac

# ---- the loop finder, shared by every ISA --------------------------------------------------
#
# Reads `objdump -d -C --no-show-raw-insn`. A program built on it defines:
#   keep(name)       the name to report a function under, or "" to skip it
#   loop(lo, hi)     called for each innermost loop, with the indices of its first and last
#                    instruction in addr[], mn[] (mnemonic) and op[] (operands, without
#                    comments and symbol annotations) of the function `fn` (as keep named it)
#   done()           called at the end
# and sets in its BEGIN block `skip` (a regex of mnemonics left out of the listing, e.g.
# padding), `comment` (the disassembler's comment marker), `branch` (a regex of the mnemonics
# that jump to an address given as their last operand) and `rule` (see flush).
FINDER='
function hex(s,    i, c, v) {
  s = tolower(s); sub(/^0x/, "", s); v = 0
  for (i = 1; i <= length(s); i++) {
    c = index("0123456789abcdef", substr(s, i, 1)); if (c == 0) break; v = v * 16 + c - 1
  }
  return v
}
# The innermost loops of the function collected in addr[1..ni], by one of two rules (`rule`):
#   "target"  a loop is a target of backward jumps (inside the function), up to the last jump
#             to it; it is innermost when no other such loop lies inside it (x86)
#   "jump"    a loop is a backward jump (to a target inside the function) and its range; it is
#             innermost when no other backward jump lies in the range before it (NEON)
# They differ when a target has several backward jumps (one loop, or one per jump: the first,
# the only innermost one, is the shortest path), and when a backward jump leaves a range
# toward an earlier target (that range stays innermost for "target" only).
# Calls loop(lo, hi) for each, in address order.
function flush(    i, j, k, nb, nt, t, s, lo, hi, inner) {
  if (fn == "" || ni == 0) { ni = 0; return }
  nb = 0; nt = 0; split("", latch); split("", targets)
  for (i = 1; i <= ni; i++)
    if (jt[i] >= addr[1] && jt[i] <= addr[i]) {
      nb++; bs[nb] = i; bt[nb] = jt[i]
      if (!(jt[i] in latch)) targets[++nt] = jt[i]
      latch[jt[i]] = i
    }
  if (rule == "jump") {
    for (j = 1; j <= nb; j++) {
      inner = 1
      for (k = 1; k <= nb; k++)
        if (k != j && addr[bs[k]] < addr[bs[j]] && addr[bs[k]] >= bt[j]) inner = 0
      if (inner) { for (i = 1; addr[i] < bt[j]; i++); loop(i, bs[j]) }
    }
  } else {
    for (i = 2; i <= nt; i++) {
      t = targets[i]
      for (j = i - 1; j >= 1 && targets[j] > t; j--) targets[j + 1] = targets[j]
      targets[j + 1] = t
    }
    for (k = 1; k <= nt; k++) {
      t = targets[k]; s = addr[latch[t]]; inner = 1
      for (j = 1; j <= nt; j++)
        if (j != k && targets[j] >= t && addr[latch[targets[j]]] <= s) inner = 0
      if (!inner) continue
      for (lo = 1; addr[lo] < t; lo++);
      loop(lo, latch[t])
    }
  }
  ni = 0
}
/^[0-9a-f]+ <.*>:$/ {
  flush()
  fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn)
  fn = keep(fn)
  next
}
fn != "" && /^ *[0-9a-f]+:\t/ {
  text = $0; sub(/^ */, "", text)
  a = text; sub(/:.*/, "", a)
  rest = text; sub(/^[0-9a-f]+:\t/, "", rest)
  m = rest; sub(/[ \t].*/, "", m)
  o = rest; sub(/^[^ \t]*[ \t]*/, "", o)
  if (comment != "") { i = index(o, comment); if (i > 0) o = substr(o, 1, i - 1) }
  sub(/[ \t]*<.*/, "", o); sub(/[ \t]+$/, "", o)
  if (m == "" || (skip != "" && m ~ skip)) next
  ni++; addr[ni] = hex(a); mn[ni] = m; op[ni] = o; jt[ni] = -1
  # a jump to an address: the target is the last operand (x86 jcc/jmp; aarch64 b, b.cond,
  # cbz/cbnz, tbz/tbnz)
  if (m ~ branch) { t = o; sub(/^.*[ ,]/, "", t); if (t ~ /^[0-9a-f]+$/) jt[ni] = hex(t) }
}
END { flush(); done() }
'

# ---- x86_64: AVX2 and AVX-512 ---------------------------------------------------------------

X86='
BEGIN { skip = "^(cs|ds|data16|nop)"; comment = "#"; branch = "^j"; rule = "target" }
function keep(name) {
  return (name ~ ("^softmax::kernels::(" isas ")::entry::")) ? name : ""
}
function loop(lo, hi,    i, t, s, loads, st, nt, fma, add, mx, sc, pm, sh, pf, stk, br, n,
                         lanes, reg, ops, m, guess, key, streams, vecs, elems, efma, name) {
  lanes = (fn ~ /avx512/) ? 16 : 8; reg = (lanes == 16) ? "%zmm" : "%ymm"
  t = addr[lo]; s = addr[hi]
  loads = st = nt = fma = add = mx = sc = pm = sh = pf = stk = br = n = streams = vecs = 0
  split("", per)
  for (i = lo; i <= hi; i++) {
    n++; m = mn[i]; ops = op[i]
    if (m ~ /^prefetch/) { pf++; continue }
    if (m ~ /^j/ && i != hi) br++
    if (m ~ /^vfn?m(add|sub)/) fma++
    if (m ~ /^vmaxps/) mx++
    if (m ~ /^vscalefps/) sc++
    if (m ~ /^vperm/) pm++
    if (m ~ /^vpsll/) sh++
    if (m ~ /^vaddps/ && index(ops, reg) > 0) add++
    if (ops ~ /%r[sb]p\)/) stk++
    if (index(ops, reg) == 0 || ops !~ /\(/ || ops ~ /%r[sb]p[,)]/ || ops ~ /%rip/) continue
    if (m ~ /^vmovnt/) { nt++; st++; continue }
    if (m ~ /^v(mov|maskmov)/ && ops ~ /\)$/) { st++; continue }   # AT&T: store = memory last
    loads++
    key = ops; sub(/^[^(]*\(/, "", key); sub(/\).*/, "", key)
    if (!(key in per)) streams++
    per[key]++
  }
  if (loads == 0) return
  for (key in per) if (per[key] > vecs) vecs = per[key]
  elems = vecs * lanes
  # many inner branches and stack accesses: rarely run code that happens to jump backwards
  if (br > 8 && stk > 8) guess = "branchy (not a kernel loop)"
  else if (mx > 0 && fma == 0 && st == 0) guess = "max"
  # FMAs of one exponential: 6 in the table form (a vpermps per vector), 8 in the
  # polynomial form
  else if (fma >= (efma = (pm >= vecs ? 6 : 8)) * vecs) {
    guess = "exp"
    # a sum is a vaddps per vector, or one more FMA per vector that accumulates the product
    if (add >= vecs || (st == 0 && fma >= (efma + 1) * vecs)) guess = guess ", sum"
    if (nt > 0) guess = guess ", nt store"
    else if (st > 0) guess = guess ", store"
    if (streams > 1) guess = guess " (" streams " inputs)"
  }
  else if (st == 0 && fma > 0) guess = "dot"
  else if (st == 0 && add > 0) guess = "sum"
  else if (st > 0 && fma > 0) guess = "fma" (nt > 0 ? ", nt store" : ", store")
  else if (st > 0) guess = "mul/sub" (nt > 0 ? ", nt store" : ", store")
  else guess = "?"
  if (streams > 1 && guess !~ /inputs/) guess = guess " (" streams " inputs)"
  name = fn; sub(/^softmax::kernels::/, "", name)
  printf "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", \
    name, t, s, n, streams, vecs, elems, st, nt, fma, add, mx, sc, sh, pf, stk, br, guess
}
function done() {}
'

# x86_stats: the table of the x86 ISAs in ${x86[@]} (avx2 before avx512).
x86_stats() {
  local obj=$lib cols=() rows
  if [ -z "$obj" ]; then
    obj=$(cd "$repo" && cargo build --release --lib --message-format=json |
      grep -o '"[^"]*/libsoftmax\.rlib"' | tr -d '"' | tail -n 1)
    [ -n "$obj" ] || { echo "loop-stats: no libsoftmax.rlib built" >&2; return 1; }
  fi
  case " ${x86[*]} " in *" avx2 "*) cols+=(avx2) ;; esac
  case " ${x86[*]} " in *" avx512 "*) cols+=(avx512) ;; esac

  rows=$(mktemp)
  # One tab-separated row per loop: entry, start, end, insns, streams, vecs, elems, st, nt,
  # fma, add, mx, sc, sh, pf, stk, br, guess.
  objdump -d --no-show-raw-insn -C "$obj" 2>/dev/null |
    awk -v isas="$(IFS='|'; echo "${cols[*]}")" "$X86$FINDER" |
    sort -t "$(printf '\t')" -k1,1 -k2,2n >"$rows"
  [ -s "$rows" ] || { echo "loop-stats: no ${cols[*]} kernel loops found in $obj" >&2; rm -f "$rows"; return 1; }

  echo "Innermost unrolled loops (vecs >= 2), instructions per element, by loop kind:"
  echo "(n = number of such loops; min / max over them; elements per iteration in brackets)"
  awk -F '\t' -v cols="${cols[*]}" '
  BEGIN { nc = split(cols, col, " ") }
  $6 >= 2 {
    isa = ($1 ~ /^avx512/) ? "avx512" : "avx2"; k = $18; e = $4 / $7
    kinds[k] = 1; c = k SUBSEP isa
    if (!(c in cnt)) { lo[c] = e; hi[c] = e; el[c] = $7 }
    cnt[c]++; if (e < lo[c]) lo[c] = e; if (e > hi[c]) hi[c] = e
  }
  END {
    printf "  %-34s", "loop kind"
    for (j = 1; j <= nc; j++) printf " %-26s", (col[j] == "avx2") ? "AVX2 (8 lanes)" : "AVX-512 (16 lanes)"
    printf "%s\n", (nc == 2) ? " ratio" : ""
    for (k in kinds) {
      printf "  %-34s", k
      for (j = 1; j <= nc; j++) {
        c = k SUBSEP col[j]
        printf " %-26s", (c in cnt) ? sprintf("n=%-3d %5.3f / %5.3f [%d]", cnt[c], lo[c], hi[c], el[c]) : "-"
      }
      if (nc == 2) {
        a = k SUBSEP "avx2"; b = k SUBSEP "avx512"
        printf " %s", (a in cnt && b in cnt) ? sprintf("%.2fx", lo[a] / lo[b]) : ""
      }
      printf "\n"
    }
  }' "$rows" | { IFS= read -r header; echo "$header"; sort; }
  [ ${#cols[@]} -lt 2 ] || echo "(ratio: AVX2 min / AVX-512 min instructions per element)"

  if [ "$all" = 1 ]; then
    echo
    printf "%-34s %-11s %5s %3s %4s %5s %6s  %2s %2s %3s %3s %2s %2s %2s %2s %3s %2s  %s\n" \
      "entry point" "loop" "insns" "in" "vecs" "elems" "ins/el" "st" "nt" "fma" "add" "mx" "sc" "sh" "pf" "stk" "br" "guess"
    awk -F '\t' '{
      printf "%-34s %5x-%-5x %5d %3d %4d %5d %6.3f  %2d %2d %3d %3d %2d %2d %2d %2d %3d %2d  %s\n",
        $1, $2, $3, $4, $5, $6, $7, $4 / $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
    }' "$rows"
  fi
  rm -f "$rows"
}

# ---- aarch64: NEON --------------------------------------------------------------------------

NEON='
BEGIN { skip = ""; comment = "//"; branch = "^(b|b\\.[a-z]+|cbn?z|tbn?z)$"; rule = "jump"; found = 0 }
function keep(name,    short) {
  if (name !~ /kernels::neon::entry::/) return ""
  short = name; sub(/.*::/, "", short)
  return (all || short ~ /^(softmax|log_softmax|logsumexp)$/) ? short : ""
}
function loop(lo, hi,    i, ins, ldv, stv, fmla, fmax, shl, fadd, fmul, fsub, prf, mov, role,
                         ops, o, base, per, mix, key) {
  ins = ldv = stv = fmla = fmax = shl = fadd = fmul = fsub = prf = mov = 0
  for (i = lo; i <= hi; i++) {
    ins++; o = mn[i]; ops = op[i]
    base = ops; sub(/^[^[]*\[/, "", base); sub(/[],].*$/, "", base)
    if (o ~ /^ld/ && ops ~ /(^|[ ,{])q[0-9]+|\.4s/ && base != "sp" && base != "x29") {
      if (o == "ldp") ldv += 2; else if (o ~ /^ld1/) ldv += gsub(/\.4s/, "&", ops); else ldv += 1
    }
    if (o ~ /^st/ && ops ~ /(^|[ ,{])q[0-9]+|\.4s/ && base != "sp" && base != "x29") {
      if (o == "stp" || o == "stnp") stv += 2; else if (o ~ /^st1/) stv += gsub(/\.4s/, "&", ops); else stv += 1
    }
    if (o == "fmla") fmla++
    if (o == "fmax" && ops ~ /\.4s/) fmax++
    # the exponent-field shift of either exponential form (by 23, or by 20 with the table)
    if (o == "shl" && ops ~ /#(23|20)/) shl++
    if (o == "fadd" && ops ~ /\.4s/) fadd++
    if (o == "fmul" && ops ~ /\.4s/) fmul++
    if (o == "fsub" && ops ~ /\.4s/) fsub++
    if (o == "prfm") prf++
    if (o == "mov" || o == "fmov" || o == "orr" && ops ~ /\.16b/) if (ops ~ /\.(16b|4s)/) mov++
  }
  if (ldv == 0) role = "no vector loads"
  else if (stv == 0 && fmla == 0 && fmax > 0) role = "max"
  else if (stv == 0 && shl > 0) role = "sum of exp"
  else if (stv > 0 && shl > 0 && fadd >= ldv) role = "exp + store + sum"
  else if (stv > 0 && shl > 0) role = "exp + store"
  else if (stv > 0 && (fmla > 0 || fsub > 0)) role = "shift + store"
  else if (stv > 0 && fmul > 0) role = "scale in place"
  else role = "other"
  # Per-element figures only for loops that run the per-element arithmetic (a loop that
  # only folds lanes once per block, say, is not one).
  if (role != "other" && ldv > 0) { per = sprintf("%5d %7.3f", 4 * ldv, ins / (4 * ldv)) } else { per = sprintf("%5s %7s", "-", "-") }
  mix = sprintf("fmla=%d fmax=%d shl=%d fadd=%d fmul=%d fsub=%d st=%d prfm=%d vmov=%d", \
    fmla, fmax, shl, fadd, fmul, fsub, stv, prf, mov)
  key = fn SUBSEP ins SUBSEP ldv SUBSEP role SUBSEP mix
  if (key in seen) { times[seen[key]]++; return }
  found++; seen[key] = found; times[found] = 1
  line[found] = sprintf("%-20s %6x %5d %4d %s  %-24s", fn, addr[lo], ins, ldv, per, role)
  mixes[found] = mix
}
function done(    i) {
  printf "%-20s %6s %5s %4s %5s %7s  %-24s %-3s %s\n", "function", "at", "insns", "vecs", "elems", "ins/elem", "role (guess)", "", "mix per iteration"
  for (i = 1; i <= found; i++)
    printf "%s %-3s %s\n", line[i], (times[i] > 1 ? "x" times[i] : ""), mixes[i]
  if (found == 0) { print "loop-stats: no loops found in kernels::neon::entry::* functions" > "/dev/stderr"; exit 1 }
}
'

neon_stats() {
  local obj=${lib:-$target_dir/aarch64-unknown-linux-gnu/release/libsoftmax.rlib}
  local objdump=${AARCH64_OBJDUMP:-aarch64-linux-gnu-objdump}
  [ -f "$obj" ] || {
    echo "loop-stats: $obj not found (scripts/test-aarch64.sh --loop-stats builds it and runs this)" >&2
    return 1
  }
  command -v "$objdump" >/dev/null || { echo "loop-stats: $objdump not found (scripts/test-aarch64.sh installs it)" >&2; return 1; }
  # The rlib also holds lib.rmeta, which objdump reports as an unknown format on stderr.
  "$objdump" -d -C --no-show-raw-insn "$obj" 2>/dev/null | awk -v all="$all" "$NEON$FINDER"
}

status=0
first=1
if [ ${#x86[@]} -gt 0 ]; then
  x86_stats || status=1
  first=0
fi
if [ "$neon" = 1 ]; then
  [ "$first" = 1 ] || echo
  neon_stats || status=1
fi
exit "$status"
