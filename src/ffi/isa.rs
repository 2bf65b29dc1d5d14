//! The C ABI of the instruction set: the `SOFTMAX_ISA_*` constants, which ISA calls use now,
//! which ones this CPU and build support, their names, and the choice of one for all threads
//! (see ISA SELECTION in the module docs of `mod.rs`).

use std::ffi::{c_char, c_int, CStr};

use super::{
    guard, guard_status, softmax_status, SOFTMAX_STATUS_INVALID_ARGUMENT,
    SOFTMAX_STATUS_UNSUPPORTED_ISA,
};
use crate::Isa;

/// ISA: the portable kernels (no SIMD intrinsics); always supported.
pub const SOFTMAX_ISA_SCALAR: u32 = 0;
/// ISA: x86_64 with AVX2, FMA, F16C and POPCNT (8 lanes).
pub const SOFTMAX_ISA_AVX2: u32 = 1;
/// ISA: x86_64 with AVX-512F (16 lanes).
pub const SOFTMAX_ISA_AVX512: u32 = 2;
/// ISA: aarch64 Advanced SIMD (4 lanes).
pub const SOFTMAX_ISA_NEON: u32 = 3;

// The C constants are the discriminants of the Rust enum.
const _: () = {
    assert!(Isa::Scalar as u32 == SOFTMAX_ISA_SCALAR);
    assert!(Isa::Avx2 as u32 == SOFTMAX_ISA_AVX2);
    assert!(Isa::Avx512 as u32 == SOFTMAX_ISA_AVX512);
    assert!(Isa::Neon as u32 == SOFTMAX_ISA_NEON);
};

/// The ISA (`SOFTMAX_ISA_*`) that calls use now: the one chosen at first use (best available,
/// or `SOFTMAX_ISA`), or the last one set with `softmax_set_isa`.
#[no_mangle]
pub extern "C" fn softmax_get_isa() -> u32 {
    guard(SOFTMAX_ISA_SCALAR, || crate::current_isa() as u32)
}

/// 1 when `isa` (`SOFTMAX_ISA_*`) is compiled into this library and the running CPU executes
/// it, 0 otherwise (also for values that are no ISA). `SOFTMAX_ISA_SCALAR` is always
/// supported.
#[no_mangle]
pub extern "C" fn softmax_isa_supported(isa: u32) -> c_int {
    guard(0, || {
        Isa::from_u32(isa).is_some_and(Isa::is_supported) as c_int
    })
}

/// Makes every later call, from any thread, use `isa` (`SOFTMAX_ISA_*`). Thread-safe.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_INVALID_ARGUMENT` for a value that is no ISA,
/// or `SOFTMAX_STATUS_UNSUPPORTED_ISA` when this CPU or build cannot run it (the current
/// choice is then unchanged).
#[no_mangle]
pub extern "C" fn softmax_set_isa(isa: u32) -> softmax_status {
    guard_status(|| {
        let isa = Isa::from_u32(isa).ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)?;
        crate::set_isa(isa).map_err(|_| SOFTMAX_STATUS_UNSUPPORTED_ISA)
    })
}

/// The lower-case name of `isa` as accepted by `SOFTMAX_ISA`: "scalar", "avx2", "avx512",
/// "neon"; "unknown" for any other value. A static NUL-terminated string (never NULL, never
/// to be freed).
#[no_mangle]
pub extern "C" fn softmax_isa_name(isa: u32) -> *const c_char {
    let name: &'static CStr = match isa {
        SOFTMAX_ISA_SCALAR => c"scalar",
        SOFTMAX_ISA_AVX2 => c"avx2",
        SOFTMAX_ISA_AVX512 => c"avx512",
        SOFTMAX_ISA_NEON => c"neon",
        _ => c"unknown",
    };
    name.as_ptr()
}
