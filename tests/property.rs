//! A differential property test (issue 11): random lengths and adversarial values (constant
//! rows, one dominant entry, +-3e38, around +-2^17, NaN/+-inf/-0/denormal sprinkles, masked
//! rows, the underflow threshold), every operation on every ISA against the scalar kernels and
//! the f64 oracle with the documented bounds. Seeded; `PROPERTY_CASES` sets the number of
//! cases per ISA (default 400, a few seconds). The fuzz targets of `fuzz/` run the same
//! checker on libFuzzer's inputs.

mod common;
mod differential;

use differential::{check_forward, check_training, isas, Source};

fn cases() -> u64 {
    std::env::var("PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

#[test]
fn forward_ops_match_oracle_and_scalar() {
    for (isa, sm) in isas() {
        for seed in 0..cases() {
            let mut src = Source::from_seed(seed.wrapping_mul(0x9e37_79b9) ^ 0xf0);
            check_forward(&mut src, &sm, isa, 70_000);
        }
    }
}

#[test]
fn training_ops_match_oracle_and_scalar() {
    for (isa, sm) in isas() {
        for seed in 0..cases() {
            let mut src = Source::from_seed(seed.wrapping_mul(0x85eb_ca6b) ^ 0x7a);
            check_training(&mut src, &sm, isa, 70_000);
        }
    }
}
