//! Kernels: the algorithms once ([`generic`]), the vector abstraction ([`simd`]), the exp core
//! ([`exp`]) and one folder per ISA, each of which fills a [`Kernels`] table.

pub(crate) mod exp;
pub(crate) mod generic;
pub(crate) mod simd;

pub(crate) mod scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;

use crate::io::InOut;
use crate::{Algorithm, Isa};

/// One ISA's entry points. Every function requires the ISA to be available on the running
/// CPU; [`crate::dispatch`] hands out a table only after checking that.
pub(crate) struct Kernels {
    /// The ISA these kernels use.
    pub isa: Isa,
    /// Softmax of one row; the algorithm is never `Auto`; `nt` asks for non-temporal stores.
    pub softmax: unsafe fn(InOut<'_>, Algorithm, bool),
    /// Log-softmax of one row.
    pub log_softmax: unsafe fn(InOut<'_>),
    /// Log-sum-exp of one row.
    pub logsumexp: unsafe fn(&[f32]) -> f32,
}

/// Stamps out an ISA's entry points and its `KERNELS` table from the generic algorithms.
///
/// `$V` implements [`simd::Simd`], `$unroll` is the number of vectors per loop iteration, and
/// the attributes (typically `#[target_feature(enable = "...")]`) go on every entry point so
/// that the `#[inline(always)]` algorithm and vector code are compiled for the ISA.
macro_rules! kernel_table {
    ($isa:expr, $V:ty, $unroll:expr, $(#[$attr:meta])*) => {
        mod entry {
            #![allow(unused_imports)]
            use super::*;
            use $crate::io::InOut;
            use $crate::kernels::generic;
            use $crate::Algorithm;

            $(#[$attr])*
            pub(super) unsafe fn softmax(io: InOut<'_>, alg: Algorithm, nt: bool) {
                generic::softmax::<$V, { $unroll }>(io, alg, nt)
            }

            $(#[$attr])*
            pub(super) unsafe fn log_softmax(io: InOut<'_>) {
                generic::log_softmax::<$V, { $unroll }>(io)
            }

            $(#[$attr])*
            pub(super) unsafe fn logsumexp(x: &[f32]) -> f32 {
                generic::logsumexp::<$V, { $unroll }>(x)
            }
        }

        /// This ISA's kernel table.
        pub(crate) static KERNELS: $crate::kernels::Kernels = $crate::kernels::Kernels {
            isa: $isa,
            softmax: entry::softmax,
            log_softmax: entry::log_softmax,
            logsumexp: entry::logsumexp,
        };
    };
}
pub(crate) use kernel_table;
