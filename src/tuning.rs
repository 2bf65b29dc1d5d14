//! Per-machine thresholds read once at first use: the cache sizes that decide `Auto`'s
//! algorithm and when outputs go through non-temporal stores, and whether whole-row loops
//! issue software prefetches.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Cache sizes in bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caches {
    /// Per-core level-2 data/unified cache.
    pub l2: usize,
    /// Last-level cache.
    pub llc: usize,
}

static CACHES: OnceLock<Caches> = OnceLock::new();

/// Used when the sizes cannot be read (non-Linux, containers hiding sysfs).
const FALLBACK: Caches = Caches {
    l2: 512 * 1024,
    llc: 16 * 1024 * 1024,
};

/// The cache sizes of this machine (Linux sysfs, else a typical desktop's).
pub(crate) fn caches() -> Caches {
    *CACHES.get_or_init(|| read_sysfs().unwrap_or(FALLBACK))
}

/// Name of the environment variable that turns the software prefetches of whole-row loops on
/// (`1`) or off (`0`) for every ISA, read once at first use. Without it they are on, except on
/// AMD Zen 4, where the hardware prefetchers alone are faster. Results are the same either way.
pub const PREFETCH_ENV_VAR: &str = "SOFTMAX_PREFETCH";

/// [`prefetch`]'s answer once decided: bit 0 set when decided, bit 1 for "prefetch".
static PREFETCH: AtomicU8 = AtomicU8::new(0);

/// Whether whole-row loops prefetch [`PREFETCH`](crate::kernels::generic::passes::PREFETCH)
/// elements ahead, with every ISA's kernels. Decided once: [`PREFETCH_ENV_VAR`] when set to `0`
/// or `1`, else on, except on AMD Zen 4 (family 19h with AVX-512).
///
/// Zen 4, AVX-512 kernels: the hardware prefetchers alone were faster for the streaming
/// passes: one row of 16M, softmax 2.18-2.21 -> 2.58-2.65 elements/ns and log-sum-exp
/// 4.27-4.41 -> 5.29-5.57; softmax 1024 x 4096 2.39-2.53 -> 2.52-2.89 (`SOFTMAX_PREFETCH=1`
/// against the default, separate processes, `taskset -c 1`, three runs each).
///
/// Zen 4, AVX2 kernels (`SOFTMAX_ISA=avx2`, `SOFTMAX_PREFETCH=1` then `=0`, alternating
/// processes, `taskset -c 1`, two or three rounds, elements/ns): softmax `Auto` 64 x 32000
/// 2.45-2.47 -> 2.55-2.60, one row of 1M 2.78 -> 3.00-3.03, 1024 x 4096 1.96-1.97 ->
/// 2.24-2.26, 8 x 128256 2.66-2.71 -> 2.80-2.82, one row of 16M 1.78-1.80 -> 1.82-1.83;
/// log-softmax 64 x 32000 2.52-2.63 -> 2.70-2.74, 1024 x 4096 1.63-1.64 -> 2.05-2.07, 1M
/// 2.77-3.04 -> 3.25-3.27; log-sum-exp and rows of up to 1000 unchanged. (An earlier
/// measurement at 16M alone had shown no difference.)
///
/// An Intel Xeon (family 6 model 207, AVX-512 kernels, 300 MiB L3) keeps them: the same
/// scratch loops, `SOFTMAX_PREFETCH=1` then `=0`, two alternations, elements/ns: one row of
/// 16M softmax 2.04-2.08 -> 1.54-1.65, log-softmax 1.49-1.56 -> 1.06-1.14, log-sum-exp
/// 6.07-6.21 -> 3.48-4.79; 8 x 128256 log-softmax 2.65-2.67 -> 2.52-2.53, log-sum-exp
/// 6.13-6.18 -> 5.45-5.49; 512 x 1000 log-softmax 3.22-3.25 -> 3.02-3.11; softmax of rows from
/// 1000 to 128K within the noise.
///
/// Zen 3 (family 19h without AVX-512) keeps them: not measured there. On Zen 5 the prefetch of
/// the output row (`walk::OutputAhead`) was measured as a gain. The blocked sum's look-ahead
/// to its next block ([`walk::Ahead`]) is not a streaming prefetch and is always issued.
///
/// [`walk::Ahead`]: crate::kernels::generic::walk::Ahead
#[inline]
pub(crate) fn prefetch() -> bool {
    let mut bits = PREFETCH.load(Ordering::Relaxed);
    if bits == 0 {
        bits = decide_prefetch();
        PREFETCH.store(bits, Ordering::Relaxed);
    }
    bits & 2 != 0
}

/// [`prefetch`]'s bits (see there), from the environment and the CPU.
#[cold]
fn decide_prefetch() -> u8 {
    let v = std::env::var(PREFETCH_ENV_VAR).ok();
    let zen4 = amd_zen4();
    prefetch_bits(v.as_deref(), zen4).unwrap_or_else(|| {
        let v = v.unwrap_or_default();
        eprintln!("softmax: {PREFETCH_ENV_VAR}={v:?} is not 0 or 1; using the default");
        default_prefetch_bits(zen4)
    })
}

/// [`prefetch`]'s bits for the environment variable's value `v` on a CPU that is (`zen4`) or
/// is not an AMD Zen 4; `None` for a value that is not `0`, `1` or empty.
fn prefetch_bits(v: Option<&str>, zen4: bool) -> Option<u8> {
    match v.map(str::trim) {
        Some("1") => Some(0b11),
        Some("0") => Some(0b01),
        None | Some("") => Some(default_prefetch_bits(zen4)),
        Some(_) => None,
    }
}

/// [`prefetch`]'s bits without the environment variable: on, except on AMD Zen 4.
fn default_prefetch_bits(zen4: bool) -> u8 {
    if zen4 {
        0b01
    } else {
        0b11
    }
}

/// Whether this is an AMD Zen 4: family 19h (Zen 3 and Zen 4) with AVX-512 (Zen 4 alone).
fn amd_zen4() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        amd_family() == Some(0x19) && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The CPU family of an AMD CPU (`None` on other vendors).
#[cfg(target_arch = "x86_64")]
fn amd_family() -> Option<u32> {
    use std::arch::x86_64::__cpuid;
    // SAFETY: every x86_64 CPU has CPUID, with leaves 0 and 1.
    #[allow(unused_unsafe)]
    let (vendor, sig) = unsafe { (__cpuid(0), __cpuid(1)) };
    let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
    // Family: the base field (bits 8-11), plus the extended one (bits 20-27) when the base is
    // 0xf.
    let base = (sig.eax >> 8) & 0xf;
    let family = if base == 0xf {
        base + ((sig.eax >> 20) & 0xff)
    } else {
        base
    };
    amd.then_some(family)
}

/// Whether the AVX-512 kernels narrow bf16 outputs with AVX-512 BF16's `vcvtneps2bf16`
/// (where the CPU has it, with AVX-512DQ) rather than with integer rounding; the bits are
/// the same either way. Decided once, at dispatch.
///
/// Intel Xeon (family 6 model 207), `report --half-only --isa avx512 --rounds 3`, two
/// alternating runs each, bf16 elements/ns as a ratio to f32 in the same rounds, integer ->
/// `vcvtneps2bf16`: softmax of 4096 0.68-0.69x -> 0.77-0.80x, log-softmax of 4096 0.73-0.76x
/// -> 0.78-0.82x, softmax 512 x 1000 0.73-0.75x -> 0.80-0.82x, softmax of 16M 1.44-1.47x ->
/// 1.54-1.60x. Narrowing the unrolled output loops' vectors in pairs (`vcvtne2ps2bf16`,
/// three alternating runs against the single-vector form): softmax of 4096 0.77-0.78x ->
/// 0.82-0.83x (f16 0.84-0.87x in the same runs); log-softmax and the batches within the
/// runs' spread. Pairing f16 and the other ISAs' stores the same way (each vector taken
/// before either is stored) was slower (f16 log-softmax of 4096 0.88-0.97x -> 0.83-0.86x),
/// so only these loops pair ([`Simd::pairs_half`](crate::kernels::simd::Simd::pairs_half)).
/// AMD CPUs keep the integer rounding: on Zen 5 a loop that only narrows ran it at
/// 27.8 elements/ns against 23.0-25.2 with the instruction (see `kernels::avx512`).
#[cfg(target_arch = "x86_64")]
pub(crate) fn native_bf16_narrowing() -> bool {
    // CPUID traps to the hypervisor in a VM (microseconds): asked once.
    static NATIVE: OnceLock<bool> = OnceLock::new();
    *NATIVE.get_or_init(|| amd_family().is_none() && crate::kernels::avx512::bf16_supported())
}

// The size parser shared with the report and the benchmarks (which include the file by path).
#[path = "size.rs"]
mod size;
use size::parse_size;

fn read_sysfs() -> Option<Caches> {
    let base = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut l2 = None;
    let mut llc: Option<(u32, usize)> = None;
    for entry in std::fs::read_dir(base).ok()? {
        let dir = entry.ok()?.path();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let (Ok(level), Some(size)) = (level.trim().parse::<u32>(), parse_size(&size)) else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        if level == 2 {
            l2 = Some(size);
        }
        if llc.is_none_or(|(l, _)| level > l) {
            llc = Some((level, size));
        }
    }
    let llc = llc?.1;
    Some(Caches {
        l2: l2.unwrap_or(llc.min(FALLBACK.l2)),
        llc,
    })
}

/// Rows of at most this many elements (a quarter of the last-level cache in bytes) use
/// three-pass reload under `Auto`: one exponential per element wins while input and output
/// stay in cache. Longer rows use the two-pass algorithm (two reads of memory instead of
/// three). Measured on Zen 4 (32 MiB L3, elements/ns, reload | two-pass | blocked two-pass):
/// AVX2 at 1M 2.95 | 2.50 | 2.41, 2M 2.36 | 2.40 | 2.35, 4M 1.51 | 2.02 | 1.91, 16M 1.30 |
/// 1.94 | 1.81; AVX-512 at 1M 3.59 | 3.00 | 2.86, 2M 2.78 | 2.47 | 2.39, 4M 2.05 | 2.17 |
/// 2.14, 16M 1.36 | 2.00 | 2.07.
fn auto_reload_max_len(c: Caches) -> usize {
    (c.llc / 16).max(c.l2 / 4)
}

/// Outputs of at least this many elements (a quarter of the last-level cache in bytes) are
/// written with non-temporal stores: input and output together then crowd the cache, and
/// caching the output only evicts the input. Measured on Zen 4 (32 MiB L3): at 4M elements
/// the blocked two-pass softmax went from 1.6-1.8 to 1.9-2.1 elements/ns, log-softmax from
/// 1.4-1.6 to 2.2-2.3 (AVX2), against a threshold at the whole cache.
fn nt_min_len(c: Caches) -> usize {
    c.llc / 16
}

/// The longest row whose three-pass reload gets an f32 buffer on the heap (4M elements,
/// 16 MiB). glibc serves blocks below 32 MiB from its heap once one of that size has been
/// freed, so the next call reuses the pages; larger blocks are mapped afresh on every call,
/// and their page faults alone measured 1.7 ns per element on Zen 4 (allocate, touch every
/// 64 bytes, free: 0.04-0.06 ns per element up to 16 MiB, 1.65-1.69 from 32 MiB), several
/// times the softmax itself. On a machine whose last-level cache makes `Auto` choose reload
/// for longer rows (a 300 MiB L3: up to 19M elements), bf16 softmax of 16M through such a
/// buffer measured 0.31 elements/ns against 1.28 for f32; longer rows take two-pass instead,
/// with no buffer.
const HEAP_SCRATCH_MAX: usize = 4 << 20;

/// Rows up to this many elements are below both thresholds on every machine (no cache is
/// smaller than 16 KiB: a quarter of it is 1024 floats), so [`reload_without_lookup`] answers
/// them without reading the cache sizes: the short rows' per-call cost of
/// [`Algorithm::resolve`](crate::Algorithm::resolve) stays free of it. [`Thresholds`] clamps
/// its limits to it, so that a handle decides exactly as the lookups would.
const ALWAYS_SMALL: usize = 1024;

/// Whether `Auto` means three-pass reload for rows of `n` elements (the process-wide
/// answer, read from the cache sizes on each call with `n > ALWAYS_SMALL`).
#[inline]
pub(crate) fn reload_without_lookup(n: usize) -> bool {
    n <= ALWAYS_SMALL || n <= auto_reload_max_len(caches())
}

/// This machine's thresholds, resolved once from the cache sizes: a [`crate::Softmax`] holds
/// them, so that its calls read neither [`CACHES`] nor anything else global to decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// `Auto` means three-pass reload for rows of at most this many elements
    /// (`max(ALWAYS_SMALL, auto_reload_max_len)`).
    reload_max_len: usize,
    /// Outputs of at least this many elements take non-temporal stores
    /// (`max(ALWAYS_SMALL + 1, nt_min_len)`).
    nt_min_len: usize,
}

impl Thresholds {
    /// The thresholds of this machine (from the cache sizes, computed once per process: a
    /// handle is made on every C call).
    #[inline]
    pub(crate) fn get() -> Thresholds {
        static THRESHOLDS: OnceLock<Thresholds> = OnceLock::new();
        *THRESHOLDS.get_or_init(|| Thresholds::of(caches()))
    }

    fn of(c: Caches) -> Thresholds {
        Thresholds {
            reload_max_len: auto_reload_max_len(c).max(ALWAYS_SMALL),
            nt_min_len: nt_min_len(c).max(ALWAYS_SMALL + 1),
        }
    }

    /// Whether `Auto` means three-pass reload for rows of `n` elements (as
    /// [`reload_without_lookup`]).
    #[inline]
    pub(crate) fn reload(self, n: usize) -> bool {
        n <= self.reload_max_len
    }

    /// Whether three-pass reload of a row of `n` elements that needs an f32 buffer on the
    /// heap (a 16-bit row) gets one: the row fits the cache ([`Thresholds::reload`]) and has
    /// at most [`HEAP_SCRATCH_MAX`] elements.
    #[inline]
    pub(crate) fn heap_reload(self, n: usize) -> bool {
        self.reload(n) && n <= HEAP_SCRATCH_MAX
    }

    /// Whether outputs of `n` elements take non-temporal stores.
    #[inline]
    pub(crate) fn non_temporal(self, n: usize) -> bool {
        n >= self.nt_min_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_policy_follows_the_variable_then_the_cpu() {
        // Bit 0: decided; bit 1: prefetch.
        for zen4 in [false, true] {
            assert_eq!(prefetch_bits(Some("1"), zen4), Some(3));
            assert_eq!(prefetch_bits(Some(" 0 "), zen4), Some(1));
            assert_eq!(prefetch_bits(Some("yes"), zen4), None);
            assert_eq!(prefetch_bits(Some(""), zen4), prefetch_bits(None, zen4));
        }
        assert_eq!(prefetch_bits(None, false), Some(3));
        assert_eq!(prefetch_bits(None, true), Some(1));
    }

    #[test]
    fn the_prefetch_decision_is_taken_once() {
        let on = prefetch();
        let bits = PREFETCH.load(Ordering::Relaxed);
        assert_eq!(bits & 1, 1);
        assert_eq!(on, bits & 2 != 0);
        assert_eq!(prefetch(), on);
    }

    #[test]
    fn reload_gets_a_heap_buffer_only_up_to_its_limit() {
        const MIB: usize = 1 << 20;
        // A 32 MiB L3: reload up to 2M elements, every one of them with a buffer.
        let zen4 = Thresholds::of(Caches {
            l2: MIB,
            llc: 32 * MIB,
        });
        assert!(zen4.reload(2 * MIB) && zen4.heap_reload(2 * MIB));
        assert!(!zen4.reload(2 * MIB + 1) && !zen4.heap_reload(2 * MIB + 1));
        // A 300 MiB L3: reload up to 19.6M elements, but a heap buffer only up to 4M.
        let big = Thresholds::of(Caches {
            l2: 2 * MIB,
            llc: 300 * MIB,
        });
        assert!(big.reload(16 * MIB));
        assert!(big.heap_reload(HEAP_SCRATCH_MAX));
        assert!(!big.heap_reload(HEAP_SCRATCH_MAX + 1));
        assert!(!big.heap_reload(16 * MIB));
        // Small rows always reload.
        let tiny = Thresholds::of(Caches { l2: 0, llc: 0 });
        assert!(tiny.heap_reload(ALWAYS_SMALL) && !tiny.heap_reload(ALWAYS_SMALL + 1));
    }
}
