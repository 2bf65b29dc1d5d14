//! Training operations (softmax and log-softmax backward, in and out of the documented range;
//! cross-entropy loss and gradient with label smoothing) on every ISA against the scalar
//! kernels and the f64 oracle with the documented bounds (see `tests/differential`).
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/differential/mod.rs"]
mod differential;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    differential::fuzz_case(data, 1 << 16, differential::check_training);
});
