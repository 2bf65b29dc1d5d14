//! The top-k calls timed by both `examples/report.rs` and `benches/softmax.rs` (included by
//! path, so that both measure the same call).

use std::hint::black_box;

use softmax::Softmax;

/// Top-k gating of `x` as rows of `cols` (of `x.len()` when shorter): `k` weights per row into
/// `y` (each entry's share of the whole row's softmax, or with `renormalize` of the `k`), the
/// indices into a buffer kept per thread.
pub fn topk_call(sm: &Softmax, x: &[f32], y: &mut [f32], cols: usize, k: usize, renormalize: bool) {
    thread_local!(static INDICES: std::cell::RefCell<Vec<i32>> = const { std::cell::RefCell::new(Vec::new()) });
    let cols = x.len().min(cols).max(1);
    let (rows, k) = (x.len() / cols, k.min(cols));
    INDICES.with(|i| {
        let mut i = i.borrow_mut();
        i.resize(rows * k, 0);
        let opts = softmax::TopkOptions {
            renormalize,
            ..softmax::TopkOptions::default()
        };
        sm.topk_softmax_rows(
            x,
            cols,
            rows,
            cols,
            k,
            opts,
            &mut y[..rows * k],
            k,
            &mut i,
            k,
        )
        .unwrap()
    })
}

/// One draw with temperature 1 and nucleus 0.9 (`u` fixed).
pub fn sample_call(sm: &Softmax, x: &[f32]) {
    let s = softmax::Sampling {
        top_p: 0.9,
        ..softmax::Sampling::default()
    };
    black_box(sm.sample(x, s, 0.37).unwrap());
}
