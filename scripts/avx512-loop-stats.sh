#!/usr/bin/env bash
# avx512-loop-stats.sh [--all] [object file or rlib]
#
# Static instruction counts of the innermost loops of the AVX-512 and AVX2 kernels, a stand-in
# for timings where no AVX-512 hardware is at hand. Builds the release library (unless given a
# file), disassembles the entry points `kernels::x86_64::{avx512,avx2}::entry::*` (every
# algorithm is inlined into them) with objdump, and finds every innermost loop: a backward jump
# whose range holds no other backward jump. Loops that load no full-width vector (zmm for
# AVX-512, ymm for AVX2) are ignored. Per loop:
#   insns    instructions from the jump target to the jump: the body, once
#   streams  distinct address registers of the full-width vector loads (input arrays: 1 for
#            x, 2 for (y, dy), ...; constants on the stack or in .rodata are not counted)
#   vecs     vector loads per stream: the unroll (2-4 in the main loops, 1 in the remainders)
#   elems    vecs x lanes (16 or 8): elements one iteration consumes
#   ins/el   insns / elems
# and the mix: st stores (nt of them non-temporal), fma, add (vaddps), mx (vmaxps), sc
# (vscalefps), sh (vpslld), pf prefetches, stk stack accesses (spills/reloads), br inner
# branches, and a guess of which generic loop it is.
#
# Prints a summary per loop kind (unrolled loops only, vecs >= 2): instructions per element of
# AVX2 and AVX-512 side by side; --all also lists every loop. The counts are static: no cycles,
# ports, latencies or memory effects, and a body with inner branches (br > 0) counts all paths.
set -euo pipefail

all=0
if [ "${1:-}" = --all ]; then all=1; shift; fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -ge 1 ]; then
  obj=$1
else
  cd "$repo"
  obj=$(cargo build --release --lib --message-format=json |
    grep -o '"[^"]*/libsoftmax\.rlib"' | tr -d '"' | tail -n 1)
  [ -n "$obj" ] || { echo "avx512-loop-stats: no libsoftmax.rlib built" >&2; exit 1; }
fi

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
# One tab-separated row per loop: entry, start, end, insns, streams, vecs, elems, st, nt, fma,
# add, mx, sc, sh, pf, stk, br, guess.
objdump -d --no-show-raw-insn -C "$obj" 2>/dev/null | awk '
function hex(s,   i, c, v) {
  s = tolower(s); sub(/^0x/, "", s); v = 0
  for (i = 1; i <= length(s); i++) {
    c = index("0123456789abcdef", substr(s, i, 1)); if (c == 0) break; v = v * 16 + c - 1
  }
  return v
}
function flush(   i, k, t, s, inner, loads, st, nt, fma, add, mx, sc, pm, sh, pf, stk, br, n, lanes,
                  reg, ops, m, guess, key, streams, vecs, elems, efma) {
  if (fn == "" || ni == 0) { ni = 0; return }
  lanes = (fn ~ /avx512/) ? 16 : 8; reg = (lanes == 16) ? "%zmm" : "%ymm"
  split("", lt)
  for (i = 1; i <= ni; i++)
    if (jt[i] >= 0 && jt[i] <= addr[i] && (!(jt[i] in lt) || lt[jt[i]] < addr[i])) lt[jt[i]] = addr[i]
  for (t in lt) {
    t += 0; s = lt[t]; inner = 1
    for (k in lt) { k += 0; if (k != t && k >= t && lt[k] <= s) inner = 0 }
    if (!inner) continue
    loads = st = nt = fma = add = mx = sc = pm = sh = pf = stk = br = n = streams = vecs = 0
    split("", per)
    for (i = 1; i <= ni; i++) {
      if (addr[i] < t || addr[i] > s) continue
      n++; m = mn[i]; ops = op[i]
      if (m ~ /^prefetch/) { pf++; continue }
      if (m ~ /^j/ && addr[i] != s) br++
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
    if (loads == 0) continue
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
    name = fn; sub(/^softmax::kernels::x86_64::/, "", name)
    printf "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", \
      name, t, s, n, streams, vecs, elems, st, nt, fma, add, mx, sc, sh, pf, stk, br, guess
  }
  ni = 0
}
/^[0-9a-f]+ <.*>:$/ {
  flush()
  fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn)
  if (fn !~ /^softmax::kernels::x86_64::avx(2|512)::entry::/) fn = ""
  next
}
fn != "" && /^ *[0-9a-f]+:\t/ {
  line = $0; sub(/^ */, "", line)
  a = line; sub(/:.*/, "", a)
  rest = line; sub(/^[0-9a-f]+:\t/, "", rest)
  m = rest; sub(/[ \t].*/, "", m)
  o = rest; sub(/^[^ \t]*[ \t]*/, "", o); sub(/[ \t]*#.*/, "", o); sub(/[ \t]*<.*/, "", o)
  if (m == "" || m ~ /^(cs|ds|data16|nop)/) next
  ni++; addr[ni] = hex(a); mn[ni] = m; op[ni] = o; jt[ni] = -1
  if (m ~ /^j/ && o ~ /^[0-9a-f]+$/) jt[ni] = hex(o)
}
END { flush() }' | sort -t "$(printf '\t')" -k1,1 -k2,2n >"$rows"

[ -s "$rows" ] || { echo "avx512-loop-stats: no kernel loops found in $obj" >&2; exit 1; }

echo "Innermost unrolled loops (vecs >= 2), instructions per element, by loop kind:"
echo "(n = number of such loops; min / max over them; elements per iteration in brackets)"
awk -F '\t' '
$6 >= 2 {
  isa = ($1 ~ /^avx512/) ? "avx512" : "avx2"; k = $18; e = $4 / $7
  kinds[k] = 1; c = k SUBSEP isa
  if (!(c in cnt)) { lo[c] = e; hi[c] = e; el[c] = $7 }
  cnt[c]++; if (e < lo[c]) lo[c] = e; if (e > hi[c]) hi[c] = e
}
END {
  printf "  %-34s %-26s %-26s %s\n", "loop kind", "AVX2 (8 lanes)", "AVX-512 (16 lanes)", "ratio"
  for (k in kinds) {
    a = k SUBSEP "avx2"; b = k SUBSEP "avx512"
    sa = (a in cnt) ? sprintf("n=%-3d %5.3f / %5.3f [%d]", cnt[a], lo[a], hi[a], el[a]) : "-"
    sb = (b in cnt) ? sprintf("n=%-3d %5.3f / %5.3f [%d]", cnt[b], lo[b], hi[b], el[b]) : "-"
    r = (a in cnt && b in cnt) ? sprintf("%.2fx", lo[a] / lo[b]) : ""
    printf "  %-34s %-26s %-26s %s\n", k, sa, sb, r
  }
}' "$rows" | { IFS= read -r header; echo "$header"; sort; }
echo "(ratio: AVX2 min / AVX-512 min instructions per element)"

if [ "$all" = 1 ]; then
  echo
  printf "%-34s %-11s %5s %3s %4s %5s %6s  %2s %2s %3s %3s %2s %2s %2s %2s %3s %2s  %s\n" \
    "entry point" "loop" "insns" "in" "vecs" "elems" "ins/el" "st" "nt" "fma" "add" "mx" "sc" "sh" "pf" "stk" "br" "guess"
  awk -F '\t' '{
    printf "%-34s %5x-%-5x %5d %3d %4d %5d %6.3f  %2d %2d %3d %3d %2d %2d %2d %2d %3d %2d  %s\n",
      $1, $2, $3, $4, $5, $6, $7, $4 / $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
  }' "$rows"
fi
