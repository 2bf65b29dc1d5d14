//! The choices a caller names: the instruction set ([`Isa`]) and the memory walk of softmax
//! ([`Algorithm`]).

use crate::{dispatch, tuning};

/// An instruction-set family with its own kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Isa {
    /// Portable kernels (no SIMD intrinsics): the reference implementation.
    Scalar = 0,
    /// x86_64 with AVX2, FMA, F16C and POPCNT (8 lanes).
    Avx2 = 1,
    /// x86_64 with AVX-512F (16 lanes).
    Avx512 = 2,
    /// aarch64 Advanced SIMD (4 lanes).
    Neon = 3,
}

impl Isa {
    /// Every ISA, in the order of their C constants.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// Lower-case name, as accepted by `SOFTMAX_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a name as written by [`Isa::name`] (case-insensitive).
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name))
    }

    /// The ISA with C constant `v`.
    pub fn from_u32(v: u32) -> Option<Isa> {
        Isa::ALL.get(v as usize).copied()
    }

    /// True when this build contains the ISA's kernels and the running CPU executes them.
    pub fn is_supported(self) -> bool {
        dispatch::kernels_for(self).is_some()
    }

    /// The best ISA of this CPU (what is chosen when `SOFTMAX_ISA` is not set).
    pub fn best() -> Isa {
        dispatch::best()
    }
}

/// How softmax walks memory. All give the same results to within a few ULP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u32)]
pub enum Algorithm {
    /// Three-pass reload for rows up to a quarter of the last-level cache, two-pass beyond.
    #[default]
    Auto = 0,
    /// Max; sum of exponentials; exponentials again, normalised on the fly
    /// (3 reads + 1 write of memory, 2 exponentials per element).
    ThreePassRecompute = 1,
    /// Max; exponentials stored and summed; scale the stored values
    /// (3 reads + 2 writes, 1 exponential per element: the fastest in cache).
    ThreePassReload = 2,
    /// Dukhan & Ablavatski: pass 1 keeps the sum as a (mantissa, exponent) pair per lane, so
    /// no maximum pass is needed; pass 2 writes the normalised exponentials
    /// (2 reads + 1 write, 2 exponentials per element: the fastest out of cache).
    /// Each lane's exponent moves only when an input would overflow its mantissa (checked
    /// once per chunk of a few hundred elements), not at every element as in the paper, so
    /// pass 1 costs an exponential and an add per element.
    TwoPass = 3,
    /// Two passes with a per-block exponent: each block of 2048 elements is first scanned for
    /// its maximum (the second read of the block hits L1), then summed against the running
    /// power-of-two shift; pass 2 as in `TwoPass`. Same memory traffic as `TwoPass`.
    TwoPassBlocked = 4,
}

impl Algorithm {
    /// Every algorithm, in the order of their C constants.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Auto,
        Algorithm::ThreePassRecompute,
        Algorithm::ThreePassReload,
        Algorithm::TwoPass,
        Algorithm::TwoPassBlocked,
    ];

    /// The algorithm with C constant `v`.
    pub fn from_u32(v: u32) -> Option<Algorithm> {
        Algorithm::ALL.get(v as usize).copied()
    }

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::ThreePassRecompute => "three-pass-recompute",
            Algorithm::ThreePassReload => "three-pass-reload",
            Algorithm::TwoPass => "two-pass",
            Algorithm::TwoPassBlocked => "two-pass-blocked",
        }
    }

    /// The concrete algorithm `Auto` means for rows of `n` elements on this machine.
    pub fn resolve(self, n: usize) -> Algorithm {
        match self {
            Algorithm::Auto => self.resolve_with(tuning::reload_without_lookup(n)),
            other => other,
        }
    }

    /// The concrete algorithm: `Auto` is three-pass reload when `reload` (the row fits the
    /// cache), else two-pass.
    #[inline]
    pub(crate) fn resolve_with(self, reload: bool) -> Algorithm {
        match self {
            Algorithm::Auto if reload => Algorithm::ThreePassReload,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }
}
