//! The input rows of the report (`examples/report.rs`) and the benchmarks (`benches/`),
//! included by path so that every tool measures the same kind of data.

use rand::distr::{Distribution, Uniform};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `n` floats uniform in [-10, 10) from `StdRng` seeded with `seed`: the same row for the same
/// `n` and `seed`, on every run and machine.
pub fn uniform_inputs(n: usize, seed: u64) -> Vec<f32> {
    let range = Uniform::new(-10.0f32, 10.0).expect("-10 < 10");
    range
        .sample_iter(StdRng::seed_from_u64(seed))
        .take(n)
        .collect()
}
