//! Per-machine thresholds read once at first use: the cache sizes that decide `Auto`'s
//! algorithm and when outputs go through non-temporal stores.

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
    /// The thresholds of this machine (reads the cache sizes, once per process).
    pub(crate) fn get() -> Thresholds {
        Thresholds::of(caches())
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

    /// Whether outputs of `n` elements take non-temporal stores.
    #[inline]
    pub(crate) fn non_temporal(self, n: usize) -> bool {
        n >= self.nt_min_len
    }
}
