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
    let isas = differential::isas();
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (isa, sm) = isas[first as usize % isas.len()];
    let mut src = differential::Source::from_bytes(rest);
    differential::check_forward(&mut src, &sm, isa, 1 << 17);
});
