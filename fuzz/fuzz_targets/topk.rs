//! Top-k gating and sampling on every ISA against the sort-based f64 reference of
//! `tests/differential` (`check_topk`): adversarial rows, k, scale, renormalisation,
//! temperature, top-k, top-p and `u` decoded from the input after its first byte (the ISA).
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/differential/mod.rs"]
mod differential;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    differential::fuzz_case(data, 1 << 16, differential::check_topk);
});
