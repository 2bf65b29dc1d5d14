//! Forward operations (softmax with every algorithm, scaled and masked, log-softmax,
//! log-sum-exp) on every ISA against the scalar kernels and the f64 oracle with the documented
//! bounds. The input bytes are the case: the first picks the ISA, the rest are decoded by
//! `tests/differential` (operation, algorithm, length, distribution, then the values).
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/differential/mod.rs"]
mod differential;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    differential::fuzz_case(data, 1 << 17, differential::check_forward);
});
