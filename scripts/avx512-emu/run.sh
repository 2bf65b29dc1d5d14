#!/usr/bin/env bash
# run.sh <static x86_64 binary> [args...]
#
# Runs a statically linked x86_64 Linux program on an emulated AVX-512 CPU: Bochs 2.7 with the
# corei7_skylake_x model (AVX-512 F/CD/BW/DQ/VL, AVX2, FMA) boots the small kernel built by
# setup.sh (run automatically when needed); the initramfs holds busybox and the program, which
# runs as soon as the kernel is up. Its output is streamed to stdout and its exit status is
# this script's. Inside, is_x86_feature_detected!("avx512f") is true.
# (setup.sh runs only when the kernel or a tool is missing; run it directly after an upgrade.)
#
# Build Rust test binaries for it with
#   RUSTFLAGS="-C target-feature=+crt-static" cargo test --target x86_64-unknown-linux-gnu --no-run
# (--target keeps the static flag away from build scripts and proc-macros).
# Cost: ~6 s of boot per call, code runs ~100x slower than natively, and the guest clock is
# virtual (timings measured inside mean nothing).
# Known emulator fault: Bochs 2.7 returns 0 for kshiftlw/kshiftrw by 15 (hardware shifts the
# bit to the other end; only counts above 15 clear the mask). LLVM uses that pair to isolate
# a mask bit when it vectorises small scalar loops with AVX-512 masks; keep such loops out of
# the AVX-512 entry points (see `Top8::offer` in src/kernels/generic/topk.rs), or the
# emulated suite fails where hardware passes.
#
# Environment:
#   RUST_*                    passed on to the program (RUST_BACKTRACE, RUST_TEST_THREADS, ...)
#   AVX512_EMU_TIMEOUT=<s>    wall-clock limit, default 1800; exit status 124 when reached
#   AVX512_EMU_MEM=<MiB>      guest memory (default: from the program's size, at least 512)
#   AVX512_EMU_VERBOSE=1      show the kernel's boot messages on stderr
#   AVX512_EMU_KEEP=1         keep the work directory (serial and Bochs logs)
#   SOFTMAX_AVX512_EMU_HOME   kernel cache (see setup.sh)
# Exit status: the program's (128+N when killed by signal N), 124 timeout, 125 emulator failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SOFTMAX_AVX512_EMU_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/softmax-avx512-emu}
fail() { echo "avx512-emu/run: $*" >&2; exit 125; }

[ $# -ge 1 ] || { echo "usage: $0 <static x86_64 binary> [args...]" >&2; exit 2; }
prog=$1
shift
[ -f "$prog" ] || fail "no such file: $prog"

# setup.sh checks everything (a few seconds of apt queries); skip it when all is in place.
ready=1
for tool in bochs-bin genisoimage cpio objcopy readelf; do command -v "$tool" >/dev/null || ready=0; done
for f in "$cache/bzImage" /bin/busybox /usr/lib/ISOLINUX/isolinux.bin \
  /usr/lib/syslinux/modules/bios/ldlinux.c32 /usr/share/bochs/BIOS-bochs-latest; do
  [ -s "$f" ] || ready=0
done
if [ "$ready" = 0 ]; then
  "$here/setup.sh" || fail "setup failed"
fi

elf=$(readelf -hlW "$prog" 2>/dev/null) || fail "$prog is not an ELF file"
grep -q 'Machine:.*X86-64' <<<"$elf" || fail "$prog is not an x86_64 program"
! grep -q 'program interpreter' <<<"$elf" \
  || fail "$prog is dynamically linked; build it with -C target-feature=+crt-static"

work=$(mktemp -d "${TMPDIR:-/tmp}/softmax-avx512.XXXXXX")
emu=
cleanup() {
  if [ -n "$emu" ] && kill -0 "$emu" 2>/dev/null; then
    kill -9 "$emu" 2>/dev/null || true
    wait "$emu" 2>/dev/null || true
  fi
  if [ "${AVX512_EMU_KEEP:-0}" = 1 ]; then echo "avx512-emu/run: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- initramfs -------------------------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,t} "$work/cd/isolinux"
cp /bin/busybox "$root/bin/busybox"
objcopy --strip-debug "$prog" "$root/t/prog" 2>/dev/null || cp "$prog" "$root/t/prog"
chmod 755 "$root/t/prog"

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
  echo '#!/bin/busybox sh'
  echo 'busybox mount -t proc proc /proc'
  echo 'busybox mount -t sysfs sys /sys'
  echo 'busybox mount -t devtmpfs dev /dev 2>/dev/null'
  echo 'busybox mount -t tmpfs tmp /tmp'
  echo 'export PATH=/t:/bin HOME=/t TMPDIR=/tmp'
  for name in $(compgen -e); do
    [[ $name =~ ^RUST_[A-Za-z0-9_]*$ ]] && echo "export $name=$(quote "${!name}")"
  done
  echo 'cd /t'
  echo 'echo "@@PROGRAM-START@@"'
  printf './prog'
  for a in "$@"; do printf ' %s' "$(quote "$a")"; done
  echo ' </dev/console'
  echo 'printf "\n@@PROGRAM-EXIT=%d@@\n" $?'
  # PID 1 must not exit (kernel panic); the host stops the emulator after the marker.
  echo 'exec busybox sleep 2147483647'
} >"$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) >"$work/cd/initrd"

# ---- boot CD ---------------------------------------------------------------------------------
cp "$cache/bzImage" "$work/cd/vmlinuz"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$work/cd/isolinux/"
# clearcpuid=xsaves,xsavec: Bochs 2.7 reports a wrong compacted-XSAVE area size, and Linux then
# turns XSAVE off, and AVX and AVX-512 with it; the standard XSAVE format works.
cat >"$work/cd/isolinux/isolinux.cfg" <<'CFG'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd
  APPEND console=ttyS0,115200 clearcpuid=xsaves,xsavec loglevel=1 panic=0
CFG
genisoimage -quiet -o "$work/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table -J -R "$work/cd" 2>"$work/genisoimage.log" \
  || { cat "$work/genisoimage.log" >&2; fail "genisoimage failed"; }

# ---- Bochs -----------------------------------------------------------------------------------
mem=${AVX512_EMU_MEM:-$(($(stat -c %s "$work/cd/initrd") / 1048576 * 3 + 256))}
[ "$mem" -ge 512 ] || mem=512
cat >"$work/bochsrc" <<RC
memory: guest=$mem, host=$mem
cpu: model=corei7_skylake_x, count=1, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=1
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$work/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$work/serial
display_library: term
clock: sync=none, time0=local
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
mouse: enabled=0
sound: driver=dummy
speaker: enabled=0
pci: enabled=1, chipset=i440fx
RC
# Debian's Bochs has its debugger built in and stops before the first instruction: `c` goes on.
echo c >"$work/debugger.rc"
: >"$work/serial"
(cd "$work" && TERM=dumb exec bochs-bin -q -f bochsrc -rc debugger.rc </dev/null >bochs.out 2>&1) &
emu=$!

# ---- follow the serial port until the exit marker ---------------------------------------------
limit=${AVX512_EMU_TIMEOUT:-1800}
start=$SECONDS
done_lines=0 # complete serial lines handled so far
running=0    # between the start and exit markers
pending=     # the last program line, held back: the exit marker's leading "\n" may be the
have_pending=0 # only thing after it
status=
while [ -z "$status" ]; do
  lines=$(wc -l <"$work/serial")
  if [ "$lines" -gt "$done_lines" ]; then
    while IFS= read -r line; do
      line=${line%$'\r'}
      if [ "$running" = 0 ]; then
        if [ "$line" = "@@PROGRAM-START@@" ]; then
          running=1
        else
          [ "${AVX512_EMU_VERBOSE:-0}" = 1 ] && printf '%s\n' "$line" >&2
          [[ $line == *"Kernel panic"* ]] && { printf '%s\n' "$line" >&2; status=125; break; }
        fi
      elif [[ $line =~ ^@@PROGRAM-EXIT=([0-9]+)@@$ ]]; then
        [ "$have_pending" = 1 ] && [ -n "$pending" ] && printf '%s\n' "$pending"
        status=${BASH_REMATCH[1]}
        break
      else
        [ "$have_pending" = 1 ] && printf '%s\n' "$pending"
        pending=$line
        have_pending=1
      fi
    done < <(sed -n "$((done_lines + 1)),${lines}p" "$work/serial")
    done_lines=$lines
    [ -n "$status" ] && break
  fi
  if ! kill -0 "$emu" 2>/dev/null; then
    echo "avx512-emu/run: the emulator stopped before the program finished:" >&2
    tail -n 5 "$work/bochs.log" >&2 2>/dev/null || true
    status=125
  elif [ $((SECONDS - start)) -ge "$limit" ]; then
    [ "$have_pending" = 1 ] && printf '%s\n' "$pending"
    echo "avx512-emu/run: timed out after ${limit}s" >&2
    status=124
  else
    sleep 0.2
  fi
done
exit "$status"
