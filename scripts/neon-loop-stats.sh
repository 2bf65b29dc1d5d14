#!/usr/bin/env bash
# neon-loop-stats.sh [--all] [LIBRARY]
#
# Static instruction counts of the NEON hot loops, a stand-in for timing (qemu timings mean
# nothing). Disassembles LIBRARY (default: the aarch64 release rlib under
# ${CARGO_TARGET_DIR:-target}; a staticlib or object works too) with
# aarch64-linux-gnu-objdump, takes the NEON entry points (demangled names containing
# `aarch64::neon::entry::`; softmax, log_softmax and logsumexp, or all of them with --all), and
# reports every innermost loop in them: a backward branch whose range [target, branch] holds
# no other backward branch. Loops with the same counts and role in one function (the same
# pass inlined into several algorithms) are printed once, with "xN".
#
# Per loop it prints the instructions of one iteration (the range, so a loop with forward
# branches inside counts its longest straight path), the 128-bit vectors it loads from memory
# (loads off sp/x29 are spill reloads and do not count), the elements per iteration
# (4 per vector), instructions per element, and a rough role from the instruction mix.
# Loops that load no vectors, or do none of the per-element arithmetic ("other": e.g. folding
# the lanes of an accumulator once per block), are listed without a per-element figure.
#
# What it does not tell: latency, dual issue, the cost of `mov` copies (often free at rename),
# memory bandwidth. Compare loops with each other and across changes, not with real timings.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
all=0
if [ "${1:-}" = "--all" ]; then
  all=1
  shift
fi
lib=${1:-$target_dir/aarch64-unknown-linux-gnu/release/libsoftmax.rlib}
objdump=${AARCH64_OBJDUMP:-aarch64-linux-gnu-objdump}

[ -f "$lib" ] || {
  echo "neon-loop-stats: $lib not found (build it: cargo build --release --lib --target aarch64-unknown-linux-gnu)" >&2
  exit 1
}
command -v "$objdump" >/dev/null || { echo "neon-loop-stats: $objdump not found" >&2; exit 1; }

# The rlib also holds lib.rmeta, which objdump reports as an unknown format on stderr.
"$objdump" -d -C --no-show-raw-insn "$lib" 2>/dev/null | awk -v all="$all" '
function hex(s,    i, c, v) {
  v = 0; s = tolower(s)
  for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); if (c == 0) break; v = v * 16 + c - 1 }
  return v
}
# Analyse the collected function: find innermost backward-branch loops.
function flush(    i, j, k, t, inner, nv, ins, ldv, stv, fmla, fmax, shl, fadd, fmul, fsub, prf, mov, role, ops, op, base, per) {
  if (fn == "" || n == 0) { n = 0; return }
  nb = 0
  for (i = 1; i <= n; i++)
    if (tgt[i] >= 0 && tgt[i] <= addr[i] && tgt[i] >= addr[1]) { nb++; bs[nb] = i; bt[nb] = tgt[i] }
  for (j = 1; j <= nb; j++) {
    inner = 1
    for (k = 1; k <= nb; k++)
      if (k != j && addr[bs[k]] < addr[bs[j]] && addr[bs[k]] >= bt[j]) inner = 0
    if (!inner) continue
    ins = ldv = stv = fmla = fmax = shl = fadd = fmul = fsub = prf = mov = 0
    for (i = 1; i <= bs[j]; i++) {
      if (addr[i] < bt[j]) continue
      ins++; op = mn[i]; ops = arg[i]
      base = ops; sub(/^[^[]*\[/, "", base); sub(/[],].*$/, "", base)
      if (op ~ /^ld/ && ops ~ /(^|[ ,{])q[0-9]+|\.4s/ && base != "sp" && base != "x29") {
        if (op == "ldp") ldv += 2; else if (op ~ /^ld1/) ldv += gsub(/\.4s/, "&", ops); else ldv += 1
      }
      if (op ~ /^st/ && ops ~ /(^|[ ,{])q[0-9]+|\.4s/ && base != "sp" && base != "x29") {
        if (op == "stp" || op == "stnp") stv += 2; else if (op ~ /^st1/) stv += gsub(/\.4s/, "&", ops); else stv += 1
      }
      if (op == "fmla") fmla++
      if (op == "fmax" && ops ~ /\.4s/) fmax++
      # the exponent-field shift of either exponential form (by 23, or by 20 with the table)
      if (op == "shl" && ops ~ /#(23|20)/) shl++
      if (op == "fadd" && ops ~ /\.4s/) fadd++
      if (op == "fmul" && ops ~ /\.4s/) fmul++
      if (op == "fsub" && ops ~ /\.4s/) fsub++
      if (op == "prfm") prf++
      if (op == "mov" || op == "fmov" || op == "orr" && ops ~ /\.16b/) if (ops ~ /\.(16b|4s)/) mov++
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
    key = short SUBSEP ins SUBSEP ldv SUBSEP role SUBSEP mix
    if (key in seen) { times[seen[key]]++; continue }
    found++; seen[key] = found; times[found] = 1
    line[found] = sprintf("%-20s %6x %5d %4d %s  %-24s", short, bt[j], ins, ldv, per, role)
    mixes[found] = mix
  }
  n = 0
}
BEGIN {
  found = 0
}
/^[0-9a-f]+ <.*>:$/ {
  flush()
  name = $0; sub(/^[0-9a-f]+ </, "", name); sub(/>:$/, "", name)
  fn = ""
  if (name ~ /aarch64::neon::entry::/) {
    short = name; sub(/.*::/, "", short)
    if (all || short ~ /^(softmax|log_softmax|logsumexp)$/) fn = name
  }
  next
}
fn != "" && /^ *[0-9a-f]+:\t/ {
  split($0, f, "\t")
  a = f[1]; gsub(/[ :]/, "", a)
  n++; addr[n] = hex(a); mn[n] = f[2]; arg[n] = f[3]; tgt[n] = -1
  if (mn[n] ~ /^(b|b\.[a-z]+|cbn?z|tbn?z)$/ && arg[n] ~ / </) {
    t = arg[n]; sub(/ <.*$/, "", t); sub(/^.*[ ,]/, "", t); tgt[n] = hex(t)
  }
}
END {
  flush()
  printf "%-20s %6s %5s %4s %5s %7s  %-24s %-3s %s\n", "function", "at", "insns", "vecs", "elems", "ins/elem", "role (guess)", "", "mix per iteration"
  for (i = 1; i <= found; i++)
    printf "%s %-3s %s\n", line[i], (times[i] > 1 ? "x" times[i] : ""), mixes[i]
  if (found == 0) { print "neon-loop-stats: no loops found in aarch64::neon::entry::* functions" > "/dev/stderr"; exit 1 }
}'
