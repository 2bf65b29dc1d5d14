//! A differential property test (issue 11): random lengths and adversarial values (constant
//! rows, one dominant entry, +-3e38, around +-2^17, NaN/+-inf/-0/denormal sprinkles, masked
//! rows, the underflow threshold), every operation on every ISA against the scalar kernels and
//! the f64 oracle with the documented bounds. Seeded; `PROPERTY_CASES` sets the number of
//! cases per ISA (default 400, a few seconds). The fuzz targets of `fuzz/` run the same
//! checker on libFuzzer's inputs.

mod common;
mod differential;

use differential::{check_forward, check_topk, check_training, isas, Source};

fn cases() -> u64 {
    std::env::var("PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250)
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

#[test]
fn topk_gating_and_sampling_match_the_reference() {
    for (isa, sm) in isas() {
        for seed in 0..cases() {
            let mut src = Source::from_seed(seed.wrapping_mul(0xc2b2_ae35) ^ 0x3d);
            check_topk(&mut src, &sm, isa, 70_000);
        }
    }
}

/// Every input that once failed a fuzz target (`fuzz/regressions/{forward,training}`),
/// replayed through the same checker on every ISA.
#[test]
fn fuzz_regressions_replay() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (target, max_len) in [("forward", 1 << 17), ("training", 1 << 16)] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in dir {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let Some((_, rest)) = data.split_first() else {
                continue;
            };
            replayed += 1;
            for (isa, sm) in isas() {
                let mut src = Source::from_bytes(rest);
                if target == "forward" {
                    check_forward(&mut src, &sm, isa, max_len);
                } else {
                    check_training(&mut src, &sm, isa, max_len);
                }
            }
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs found under {}",
        root.display()
    );
}
