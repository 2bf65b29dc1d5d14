#!/usr/bin/env bash
# Prepares the AVX-512 emulator used by scripts/avx512-emu/run.sh. Idempotent; quiet when
# everything is already in place.
#
# No QEMU (TCG) build emulates AVX-512, but Debian's Bochs 2.7 does with its
# `corei7_skylake_x` CPU model (AVX-512 F/CD/BW/DQ/VL). run.sh boots a small Linux kernel in
# Bochs whose initramfs runs one static x86_64 program. This script:
#   1. installs Bochs (with the headless `term` display), its BIOS/VGA ROMs, the ISOLINUX boot
#      loader, genisoimage, cpio, a static busybox (the guest's shell) and the kernel build
#      tools, with apt, only when something is missing;
#   2. builds a ~1 MB kernel from Debian's linux-source package (tinyconfig plus a serial
#      console, initramfs support and the syscalls Rust's std and libtest need) and caches it.
#      A fresh build takes about 4-5 minutes. If the kernel of the same recipe is already
#      cached at ~/.cache/avx512-emu (same source package, version and options), it is copied.
#
# Environment: SOFTMAX_AVX512_EMU_HOME  cache directory
#              (default ${XDG_CACHE_HOME:-~/.cache}/softmax-avx512-emu)
set -euo pipefail

cache=${SOFTMAX_AVX512_EMU_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/softmax-avx512-emu}
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive

log=$(mktemp)
work=
cleanup() { rm -f "$log"; [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT
die() {
  [ -s "$log" ] && tail -n 40 "$log" >&2
  echo "avx512-emu/setup: $*" >&2
  exit 1
}

# ---- packages --------------------------------------------------------------------------------
packages=(bochs bochs-term bochsbios vgabios isolinux syslinux-common genisoimage cpio
          busybox-static binutils gcc make libc6-dev bison flex bc libelf-dev xz-utils)
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "avx512-emu/setup: installing ${missing[*]}" >&2
  # Installing bochs-term in the same transaction satisfies bochs' GUI dependency without
  # pulling in the wxWidgets front end.
  { $sudo apt-get update -qq &&
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 \
    || die "apt-get install failed"
fi
grep -qa corei7_skylake_x /usr/bin/bochs-bin || die "this Bochs lacks the corei7_skylake_x model"

# ---- kernel ----------------------------------------------------------------------------------
src_pkg() { apt-cache depends linux-source 2>/dev/null | awk '/Depends: linux-source-[0-9]/ {print $2; exit}'; }
pkg=$(src_pkg)
if [ -z "$pkg" ]; then
  $sudo apt-get update -qq >"$log" 2>&1 || true
  pkg=$(src_pkg)
fi
[ -n "$pkg" ] || die "cannot find Debian's linux-source package"
ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')

# Options merged into `make tinyconfig` (one CPU, no modules, no PCI/ACPI/network):
# serial console, uncompressed initramfs, ELF and #! binaries, devtmpfs/proc/sys/tmpfs, the
# syscalls std and libtest use (futex, epoll, eventfd, timers, ...), gzip kernel (an XZ kernel
# takes far longer to unpack under Bochs). Keep the text unchanged unless needed: its hash is
# part of the cache stamp (an identical kernel already cached at ~/.cache/avx512-emu is reused).
options='CONFIG_64BIT=y
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
# CONFIG_RD_GZIP is not set
# CONFIG_RD_BZIP2 is not set
# CONFIG_RD_LZMA is not set
# CONFIG_RD_XZ is not set
# CONFIG_RD_LZO is not set
# CONFIG_RD_LZ4 is not set
# CONFIG_RD_ZSTD is not set
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_DEVTMPFS=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_TMPFS=y
CONFIG_SHMEM=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_EVENTFD=y
CONFIG_AIO=y
CONFIG_ADVISE_SYSCALLS=y
CONFIG_MEMBARRIER=y
CONFIG_RSEQ=y
CONFIG_POSIX_TIMERS=y
CONFIG_MULTIUSER=y
CONFIG_FILE_LOCKING=y
CONFIG_FHANDLE=y
CONFIG_KERNEL_GZIP=y
# CONFIG_KERNEL_XZ is not set
# CONFIG_SPECULATION_MITIGATIONS is not set
# CONFIG_RETPOLINE is not set
CONFIG_UNWINDER_FRAME_POINTER=y
# CONFIG_UNWINDER_ORC is not set
# CONFIG_MODULES is not set
CONFIG_NO_HZ_IDLE=y
CONFIG_HIGH_RES_TIMERS=y'
stamp="$pkg $ver $(printf '%s' "$options" | md5sum | cut -c1-12)"

fresh() { [ -s "$1/bzImage" ] && [ "$(cat "$1/kernel.stamp" 2>/dev/null)" = "$stamp" ]; }
fresh "$cache" && exit 0
mkdir -p "$cache"

other=${XDG_CACHE_HOME:-$HOME/.cache}/avx512-emu
if [ "$other" != "$cache" ] && fresh "$other"; then
  cp "$other/bzImage" "$cache/bzImage.tmp"
  mv "$cache/bzImage.tmp" "$cache/bzImage"
  printf '%s' "$stamp" >"$cache/kernel.stamp"
  echo "avx512-emu/setup: reused the kernel cached in $other" >&2
  exit 0
fi

echo "avx512-emu/setup: building a small kernel from $pkg $ver (about 5 minutes)" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/softmax-kernel.XXXXXX")
(
  set -e
  cd "$work"
  apt-get download -qq "$pkg"
  dpkg-deb --fsys-tarfile "$pkg"_*.deb |
    tar -xO --wildcards "./usr/src/$pkg.tar.xz" | xz -dc | tar -x
  rm -f "$pkg"_*.deb
  printf '%s\n' "$options" >options.config
  cd "$pkg"
  make -s O=../out tinyconfig
  scripts/kconfig/merge_config.sh -m -O ../out ../out/.config ../options.config
  make -s O=../out olddefconfig
  for o in 64BIT SERIAL_8250_CONSOLE BLK_DEV_INITRD BINFMT_ELF DEVTMPFS PROC_FS FUTEX EPOLL; do
    grep -qx "CONFIG_$o=y" ../out/.config || { echo "CONFIG_$o did not stick"; exit 1; }
  done
  make -s -j"$(nproc)" O=../out bzImage
) >"$log" 2>&1 || die "kernel build failed"
cp "$work/out/arch/x86/boot/bzImage" "$cache/bzImage.tmp"
mv "$cache/bzImage.tmp" "$cache/bzImage"
printf '%s' "$stamp" >"$cache/kernel.stamp"
