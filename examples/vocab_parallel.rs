//! Vocabulary-parallel cross-entropy and softmax with threads as shards.
//!
//! ```text
//! cargo run --release --example vocab_parallel [threads] [rows] [classes]
//! ```
//!
//! Each thread owns a block of columns (a vocabulary shard) of a batch of logits. Step 1:
//! every shard computes one `LseState` per row. Step 2: the states are merged (here in shard
//! order, which fixes the bits; over MPI this is one all-reduce, see
//! `c_examples/vocab_parallel_mpi.c`). Step 3: every shard writes its loss contributions and
//! its columns of the gradient (and of the softmax) against the merged states. The sums are
//! checked against the single-threaded `cross_entropy_rows` and `softmax_rows`.

use softmax::{merge_lse_rows, Algorithm, CrossEntropyOptions, LseState, ShardLayout, Softmax};

fn logit(r: usize, c: usize) -> f32 {
    let mut s = (r as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((c as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(1);
    s ^= s >> 31;
    s = s.wrapping_mul(0x94D0_49BB_1331_11EB);
    s ^= s >> 29;
    (s >> 40) as f32 / 16_777_216.0 * 24.0 - 12.0
}

/// One thread's columns `[offset, offset + cols)` of every row, and its outputs.
struct Shard {
    offset: usize,
    cols: usize,
    logits: Vec<f32>,
    states: Vec<LseState>,
    losses: Vec<f32>,
    grad: Vec<f32>,
    probs: Vec<f32>,
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (threads, rows, vocab) = (arg(1, 4).max(1), arg(2, 16).max(1), arg(3, 128_000));
    assert!(vocab >= threads, "need at least one class per thread");
    let sm = Softmax::new();
    let opts = CrossEntropyOptions {
        ignore_index: -100,
        label_smoothing: 0.1,
    };
    let targets: Vec<i64> = (0..rows)
        .map(|r| {
            if r % 4 == 3 {
                -100
            } else {
                ((r * 7919 + 13) % vocab) as i64
            }
        })
        .collect();
    let mut shards: Vec<Shard> = (0..threads)
        .map(|t| {
            let (base, extra) = (vocab / threads, vocab % threads);
            let cols = base + usize::from(t < extra);
            let offset = t * base + t.min(extra);
            let mut logits = Vec::with_capacity(rows * cols);
            for r in 0..rows {
                logits.extend((offset..offset + cols).map(|c| logit(r, c)));
            }
            Shard {
                offset,
                cols,
                logits,
                states: vec![LseState::EMPTY; rows],
                losses: vec![0.0; rows],
                grad: vec![0.0; rows * cols],
                probs: vec![0.0; rows * cols],
            }
        })
        .collect();

    // Step 1: every shard's states, in parallel.
    std::thread::scope(|s| {
        for sh in shards.iter_mut() {
            s.spawn(move || {
                sm.logsumexp_accumulate_rows(&sh.logits, sh.cols, rows, sh.cols, &mut sh.states)
                    .expect("valid layout");
            });
        }
    });
    // Step 2: merge (the all-reduce).
    let mut global = vec![LseState::EMPTY; rows];
    for sh in &shards {
        merge_lse_rows(&sh.states, &mut global).expect("one state per row");
    }
    let lse: Vec<f32> = global.iter().map(|s| s.value()).collect();
    // Step 3: loss contributions, gradient and softmax of every shard, in parallel.
    std::thread::scope(|s| {
        for sh in shards.iter_mut() {
            let (global, lse, targets) = (&global, &lse, &targets);
            s.spawn(move || {
                let layout = ShardLayout {
                    col_offset: sh.offset,
                    total_cols: vocab,
                };
                sm.cross_entropy_shard_rows(
                    &sh.logits,
                    sh.cols,
                    rows,
                    sh.cols,
                    layout,
                    targets,
                    opts,
                    global,
                    &mut sh.losses,
                    Some((&mut sh.grad, sh.cols)),
                )
                .expect("valid arguments");
                sm.normalize_rows(
                    &sh.logits,
                    sh.cols,
                    &mut sh.probs,
                    sh.cols,
                    rows,
                    sh.cols,
                    lse,
                )
                .expect("valid layout");
            });
        }
    });

    // The single-threaded reference on the whole batch.
    let all: Vec<f32> = (0..rows)
        .flat_map(|r| (0..vocab).map(move |c| logit(r, c)))
        .collect();
    let mut ref_losses = vec![0.0f32; rows];
    let mut ref_grad = vec![0.0f32; rows * vocab];
    let mut ref_probs = vec![0.0f32; rows * vocab];
    sm.cross_entropy_rows(
        &all,
        vocab,
        rows,
        vocab,
        &targets,
        opts,
        &mut ref_losses,
        Some((&mut ref_grad, vocab)),
    )
    .expect("valid arguments");
    sm.softmax_rows(
        &all,
        vocab,
        &mut ref_probs,
        vocab,
        rows,
        vocab,
        Algorithm::TwoPass,
    )
    .expect("valid layout");

    let (mut worst_loss, mut worst_grad, mut worst_prob) = (0.0f64, 0.0f64, 0.0f64);
    let (mut mean, mut mean_ref, mut counted) = (0.0f64, 0.0f64, 0usize);
    for r in 0..rows {
        let loss: f64 = shards.iter().map(|sh| sh.losses[r] as f64).sum();
        let scale = (lse[r] as f64).abs().max(1.0);
        worst_loss = worst_loss.max((loss - ref_losses[r] as f64).abs() / scale);
        if targets[r] != opts.ignore_index {
            mean += loss;
            mean_ref += ref_losses[r] as f64;
            counted += 1;
        }
        for sh in &shards {
            for c in 0..sh.cols {
                let (g, rg) = (
                    sh.grad[r * sh.cols + c],
                    ref_grad[r * vocab + sh.offset + c],
                );
                worst_grad = worst_grad.max((g - rg).abs() as f64 / (1.0 + rg.abs() as f64));
                let (p, rp) = (
                    sh.probs[r * sh.cols + c],
                    ref_probs[r * vocab + sh.offset + c],
                );
                if rp > 1e-30 {
                    worst_prob = worst_prob.max(((p - rp) / rp).abs() as f64);
                }
            }
        }
    }
    println!(
        "vocab-parallel cross-entropy on {}: {threads} threads as vocabulary shards, {rows} \
         rows x {vocab} classes, label smoothing {}",
        sm.isa().name(),
        opts.label_smoothing
    );
    println!(
        "mean loss: sharded {:.7}, single-threaded {:.7}",
        mean / counted as f64,
        mean_ref / counted as f64
    );
    println!(
        "worst differences: loss {worst_loss:.2e} of max(1, |lse|), gradient {worst_grad:.2e}, \
         softmax {worst_prob:.2e} relative (the lse rounded to f32 costs up to |lse| * 6e-8)"
    );
    let ok = worst_loss <= 5e-7 && worst_grad <= 5e-7 && worst_prob <= 2e-6;
    println!("{}", if ok { "OK" } else { "FAIL" });
    if !ok {
        std::process::exit(1);
    }
}
