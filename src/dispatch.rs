//! The one place that decides which ISA's kernels run.
//!
//! On first use the best ISA the CPU supports is chosen (AVX-512, then AVX2+FMA+F16C+POPCNT on
//! x86_64; NEON on aarch64; the portable kernels otherwise), unless the environment variable
//! `SOFTMAX_ISA` (`scalar`, `avx2`, `avx512`, `neon`) names another one the CPU supports. The
//! choice is cached in an atomic pointer to a static kernel table, so every later call costs
//! one load and an indirect call. [`set_isa`] replaces it at any time, from any thread.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

use crate::kernels::Kernels;
use crate::{Error, Isa};

/// The table calls use now; null until the first call.
static ACTIVE: AtomicPtr<Kernels> = AtomicPtr::new(std::ptr::null_mut());

/// The table chosen from detection and `SOFTMAX_ISA` (computed once).
static INITIAL: OnceLock<&'static Kernels> = OnceLock::new();

/// Name of the environment variable that overrides the detected ISA.
pub const ISA_ENV_VAR: &str = "SOFTMAX_ISA";

/// The kernel table of `isa`, if it is compiled into this build and the CPU runs it. AVX-512
/// has two, which give the same bits: the one whose bf16 outputs are narrowed with AVX-512
/// BF16 where [`native_bf16_narrowing`](crate::tuning::native_bf16_narrowing) says so.
pub(crate) fn kernels_for(isa: Isa) -> Option<&'static Kernels> {
    match isa {
        Isa::Scalar => Some(&crate::kernels::portable::KERNELS),
        // F16C (the f16 conversions) and POPCNT (the count of a mask's bits) are on every
        // AVX2+FMA CPU, but they are features of their own.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => (std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
            && std::arch::is_x86_feature_detected!("popcnt"))
        .then_some(&crate::kernels::avx2::KERNELS),
        // `avx512f` implies AVX2, FMA and F16C for the compiler, so those are checked as well,
        // and POPCNT, which its entry points are compiled with.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => (std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
            && std::arch::is_x86_feature_detected!("popcnt"))
        .then(|| {
            if crate::tuning::native_bf16_narrowing() {
                &crate::kernels::avx512::KERNELS_BF16
            } else {
                &crate::kernels::avx512::KERNELS
            }
        }),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => std::arch::is_aarch64_feature_detected!("neon")
            .then_some(&crate::kernels::neon::KERNELS),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The best ISA this CPU supports.
pub(crate) fn best() -> Isa {
    Isa::ALL
        .iter()
        .rev()
        .copied()
        .filter(|&isa| isa != Isa::Scalar)
        .find(|&isa| kernels_for(isa).is_some())
        .unwrap_or(Isa::Scalar)
}

fn initial() -> &'static Kernels {
    INITIAL.get_or_init(|| {
        let best_isa = best();
        let chosen = match std::env::var(ISA_ENV_VAR) {
            Ok(v) if !v.trim().is_empty() => match Isa::from_name(v.trim()) {
                Some(isa) if kernels_for(isa).is_some() => isa,
                Some(isa) => {
                    eprintln!(
                        "softmax: {ISA_ENV_VAR}={v}: {} is not supported on this CPU; using {}",
                        isa.name(),
                        best_isa.name()
                    );
                    best_isa
                }
                None => {
                    eprintln!(
                        "softmax: {ISA_ENV_VAR}={v} is not one of scalar, avx2, avx512, neon; using {}",
                        best_isa.name()
                    );
                    best_isa
                }
            },
            _ => best_isa,
        };
        kernels_for(chosen).unwrap_or(&crate::kernels::portable::KERNELS)
    })
}

/// The kernel table calls use now.
#[inline]
pub(crate) fn active() -> &'static Kernels {
    let p = ACTIVE.load(Ordering::Acquire);
    if p.is_null() {
        let k = initial();
        // Keep a table that `set_isa` stored in the meantime.
        let _ = ACTIVE.compare_exchange(
            std::ptr::null_mut(),
            k as *const Kernels as *mut Kernels,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        // SAFETY: ACTIVE only ever holds null or a pointer to a `static` table.
        unsafe { &*ACTIVE.load(Ordering::Acquire) }
    } else {
        // SAFETY: as above; non-null means a `static` table.
        unsafe { &*p }
    }
}

/// The ISA that calls through the free functions and [`crate::Softmax::new`] use now.
pub fn current_isa() -> Isa {
    active().isa
}

/// Makes every later call (from any thread) use `isa`.
///
/// Fails with [`Error::UnsupportedIsa`] when the CPU lacks it or this build does not contain
/// its kernels; the current choice is then unchanged.
pub fn set_isa(isa: Isa) -> Result<(), Error> {
    let k = kernels_for(isa).ok_or(Error::UnsupportedIsa(isa))?;
    // Make sure the first-use initialisation (and its stderr notice) has happened, so it
    // cannot overwrite this choice later.
    let _ = active();
    ACTIVE.store(k as *const Kernels as *mut Kernels, Ordering::Release);
    Ok(())
}
