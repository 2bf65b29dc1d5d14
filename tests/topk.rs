//! Top-k gating and sampling on every ISA against sort-based f64 references: every length
//! 1..=300 with k 1..=8, ties, special values, strided batches, argument errors; sampling over
//! vocabularies of 1 to 256K with temperatures 0 / 0.5 / 1 / 2, top_k 0 / 1 / 40 and top_p
//! 1 / 0.9 / 0.5 for many `u`.

mod common;

use common::{for_each_isa, oracle_topk, order, rng, softmax_bound_ok, uniform};
use rand::Rng;
use softmax::{Error, Sampling, Softmax, TopkOptions};

fn check_gate(ctx: &str, sm: &Softmax, x: &[f32], k: usize, o: TopkOptions) {
    let (mut w, mut i) = (vec![0.0f32; k], vec![-1i32; k]);
    sm.topk_softmax(x, o, &mut w, &mut i).unwrap();
    let (ri, rw) = oracle_topk(x, k, o);
    assert_eq!(i, ri, "{ctx}: indices of x={x:?}");
    for j in 0..k {
        assert!(
            softmax_bound_ok(w[j], rw[j]),
            "{ctx}: weight {j} = {:e}, exact {:e} (x={x:?})",
            w[j],
            rw[j]
        );
    }
}

const OPTIONS: [TopkOptions; 3] = [
    TopkOptions {
        scale: 1.0,
        renormalize: false,
    },
    TopkOptions {
        scale: 1.0,
        renormalize: true,
    },
    TopkOptions {
        scale: 0.125,
        renormalize: false,
    },
];

#[test]
fn gating_matches_the_reference_for_every_length_and_k() {
    for_each_isa("gating", |isa, sm| {
        let mut r = rng(71);
        for cols in 1..=300usize {
            let x = uniform(&mut r, cols, -10.0, 10.0);
            // Few distinct values: many ties between the k-th and the next entries.
            let ties: Vec<f32> = (0..cols).map(|_| r.random_range(0..4) as f32).collect();
            for k in 1..=cols.min(8) {
                for o in OPTIONS {
                    let ctx = format!("{isa:?} cols={cols} k={k} {o:?}");
                    check_gate(&ctx, &sm, &x, k, o);
                    check_gate(&format!("{ctx} ties"), &sm, &ties, k, o);
                }
            }
        }
        // Larger k, longer rows, rows that sort upwards (every entry enters the list).
        for (cols, k) in [(1000, 50), (4096, 8), (65_536, 3), (777, 777)] {
            let x = uniform(&mut r, cols, -30.0, 30.0);
            let up: Vec<f32> = (0..cols).map(|i| i as f32 * 0.01).collect();
            for o in OPTIONS {
                check_gate(&format!("{isa:?} cols={cols} k={k}"), &sm, &x, k, o);
                check_gate(&format!("{isa:?} rising {cols} k={k}"), &sm, &up, k, o);
            }
        }
    });
}

#[test]
fn gating_special_values() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let rows: Vec<Vec<f32>> = vec![
        vec![1.0, nan, 3.0, 0.0],
        vec![f32::NEG_INFINITY; 5],
        vec![1.0, inf, 3.0, inf, -inf],
        vec![inf, 2.0, 1.0],
        vec![1.0, f32::NEG_INFINITY, 2.0, f32::NEG_INFINITY],
        vec![3e38, -3e38, 2.9e38, 0.0],
        vec![-2e5, -2e5 - 1.0, -3e5],
    ];
    for_each_isa("gating special", |isa, sm| {
        for x in &rows {
            for k in 1..=x.len() {
                for o in OPTIONS {
                    check_gate(&format!("{isa:?} k={k} {o:?}"), &sm, x, k, o);
                }
            }
        }
    });
}

#[test]
fn gating_batches_with_strides_match_single_rows() {
    for_each_isa("gating batches", |isa, sm| {
        let mut r = rng(72);
        // Batches of 16 rows and more go through tiles of rows (every ISA): with special
        // rows, ties and `-inf` entries among ordinary ones.
        let shapes = [
            (37, 64, 4),
            (5, 3, 3),
            (300, 8, 2),
            (9, 256, 8),
            (35, 100, 2),
            (21, 40, 7),
            (33, 512, 1),
        ];
        for (rows, cols, k) in shapes {
            let stride = cols + 3;
            let mut x = uniform(&mut r, rows * stride, -5.0, 5.0);
            if rows > 8 {
                let ninf = f32::NEG_INFINITY;
                x[stride + cols / 2] = f32::NAN;
                x[2 * stride + cols - 1] = f32::INFINITY;
                x[3 * stride..][..cols].fill(ninf);
                x[4 * stride..][..cols].fill(ninf);
                x[4 * stride + 1] = 2.0;
                x[5 * stride] = ninf;
                for v in &mut x[6 * stride..][..cols] {
                    *v = v.round() + 0.0;
                }
                x[7 * stride + 2] = 2.0e5;
            }
            let (ws, is) = (k + 1, k + 2);
            let mut w = vec![7.0f32; rows * ws];
            let mut i = vec![-7i32; rows * is];
            for o in OPTIONS {
                sm.topk_softmax_rows(&x, stride, rows, cols, k, o, &mut w, ws, &mut i, is)
                    .unwrap();
                for row in 0..rows {
                    let (mut w1, mut i1) = (vec![0.0f32; k], vec![0i32; k]);
                    sm.topk_softmax(&x[row * stride..][..cols], o, &mut w1, &mut i1)
                        .unwrap();
                    let ctx = format!("{isa:?} {rows}x{cols} k={k} row {row}");
                    assert_eq!(&i[row * is..][..k], &i1[..], "{ctx}");
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&w[row * ws..][..k]), bits(&w1), "{ctx}");
                    // Padding between output rows is untouched.
                    assert_eq!(w[row * ws + k], 7.0, "{ctx}");
                    assert!(i[row * is + k..][..2].iter().all(|&v| v == -7), "{ctx}");
                }
            }
        }
    });
}

#[test]
fn gating_argument_errors() {
    let sm = Softmax::new();
    let x = [1.0f32; 4];
    let (mut w, mut i) = ([0.0f32; 8], [0i32; 8]);
    let o = TopkOptions::default();
    let bad = |r: Result<(), Error>| assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    bad(sm.topk_softmax(&x, o, &mut w[..0], &mut i[..0]));
    bad(sm.topk_softmax(&x, o, &mut w[..5], &mut i[..5]));
    for scale in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        bad(sm.topk_softmax(&x, TopkOptions { scale, ..o }, &mut w[..2], &mut i[..2]));
    }
    assert!(matches!(
        sm.topk_softmax(&x, o, &mut w[..2], &mut i[..3]),
        Err(Error::SliceLength {
            argument: "indices",
            ..
        })
    ));
    assert!(matches!(
        sm.topk_softmax_rows(&x, 2, 2, 2, 2, o, &mut w, 1, &mut i, 2),
        Err(Error::InvalidStride { .. })
    ));
    assert!(matches!(
        sm.topk_softmax_rows(&x, 2, 2, 2, 2, o, &mut w[..3], 2, &mut i, 2),
        Err(Error::SliceLength {
            argument: "weights",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------------------------

/// The reference of one row and parameter set: the whole row sorted, masses in f64.
struct Reference {
    /// Indices by descending probability (equal: lower index first), cut to top_k.
    idx: Vec<usize>,
    mass: Vec<f64>,
    /// The nucleus's length, and whether its cut lies within rounding of the top_p goal.
    len: usize,
    near_cut: bool,
    tol: f64,
}

impl Reference {
    /// `sorted`: `order` of `x / temperature` (of `x` for temperature 0).
    fn new(x: &[f32], sorted: &[usize], s: Sampling) -> Reference {
        if s.temperature == 0.0 {
            let idx = vec![sorted[0]];
            return Reference {
                idx,
                mass: vec![1.0],
                len: 1,
                near_cut: false,
                tol: 0.0,
            };
        }
        let scale = 1.0 / s.temperature;
        let v: Vec<f32> = x.iter().map(|&x| x * scale).collect();
        let keep = if s.top_k > 0 { s.top_k } else { v.len() };
        let idx: Vec<usize> = sorted.iter().copied().take(keep).collect();
        let m = v[idx[0]];
        let mass: Vec<f64> = idx
            .iter()
            .map(|&i| (v[i] as f64 - m as f64).exp())
            .collect();
        let total: f64 = mass.iter().sum();
        let tol = 1e-5 * total;
        let (mut len, mut near_cut) = (mass.len(), false);
        if s.top_p < 1.0 {
            let goal = s.top_p as f64 * total;
            let mut acc = 0.0;
            for (j, &e) in mass.iter().enumerate() {
                acc += e;
                near_cut |= (acc - goal).abs() < tol;
                if acc >= goal {
                    len = j + 1;
                    break;
                }
            }
        }
        Reference {
            idx,
            mass,
            len,
            near_cut,
            tol,
        }
    }

    /// The reference draw for `u`, and whether `u` (or the nucleus cut) lies within rounding
    /// of a boundary (then any answer is accepted).
    fn draw(&self, u: f32) -> (usize, bool) {
        let nucleus: f64 = self.mass[..self.len].iter().sum();
        let goal = u as f64 * nucleus;
        let mut acc = 0.0;
        let mut near = self.near_cut;
        for (j, &e) in self.mass[..self.len].iter().enumerate() {
            acc += e;
            near |= (acc - goal).abs() < self.tol;
            if acc > goal {
                return (self.idx[j], near);
            }
        }
        (self.idx[self.len - 1], near)
    }
}

/// Logits shaped like a language model's: a broad normal-ish body and a few strong entries.
fn lm_logits(r: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    let mut x: Vec<f32> = (0..n)
        .map(|_| (0..4).map(|_| r.random_range(-1.0f32..1.0)).sum::<f32>() * 2.0)
        .collect();
    for _ in 0..(n / 1000).clamp(1, 20) {
        let i = r.random_range(0..n);
        x[i] += r.random_range(4.0f32..12.0);
    }
    x
}

#[test]
fn sampling_matches_the_reference() {
    let sizes = [1usize, 2, 7, 64, 1000, 32_000, 131_072, 262_144];
    let mut r = rng(73);
    let mut rows: Vec<Vec<f32>> = sizes.iter().map(|&n| lm_logits(&mut r, n)).collect();
    // Flat rows: the nucleus holds most of the row, and every bucket of the histogram is
    // crowded.
    for n in [1000, 131_072] {
        rows.push(uniform(&mut r, n, -1.0, 1.0));
    }
    // Far below the maximum: masses under e^-32 of the largest.
    rows.push(
        (0..5000)
            .map(|i| if i == 7 { 0.0 } else { -40.0 - i as f32 * 1e-3 })
            .collect(),
    );
    // Every case's reference once (sorting the whole row), then every ISA against them.
    let mut cases = Vec::new();
    for x in &rows {
        let n = x.len();
        let us: Vec<f32> = (0..if n > 10_000 { 2 } else { 25 })
            .map(|j| {
                if j == 0 {
                    0.0
                } else {
                    r.random_range(0.0f32..1.0)
                }
            })
            .collect();
        for temperature in [0.0f32, 0.5, 1.0, 2.0] {
            let scale = if temperature == 0.0 {
                1.0
            } else {
                1.0 / temperature
            };
            let sorted = order(&x.iter().map(|&x| x * scale).collect::<Vec<f32>>());
            for top_k in [0usize, 1, 40] {
                for top_p in [1.0f32, 0.9, 0.5] {
                    let s = Sampling {
                        temperature,
                        top_k,
                        top_p,
                    };
                    let reference = Reference::new(x, &sorted, s);
                    let want: Vec<(usize, bool)> = us.iter().map(|&u| reference.draw(u)).collect();
                    cases.push((x, s, us.clone(), want));
                }
            }
        }
    }
    for_each_isa("sampling", |isa, sm| {
        let (mut checked, mut near) = (0usize, 0usize);
        for (x, s, us, want) in &cases {
            for (&u, &(want, ambiguous)) in us.iter().zip(want) {
                let got = sm.sample(x, *s, u).unwrap();
                if ambiguous {
                    near += 1;
                    continue;
                }
                checked += 1;
                assert_eq!(got, want, "{isa:?} n={} {s:?} u={u}", x.len());
            }
        }
        println!(
            "{isa:?}: {checked} draws equal to the reference, {near} within rounding of a boundary"
        );
        assert!(
            near * 50 < checked,
            "too many draws near a boundary to be a test"
        );
    });
}

#[test]
fn sampling_special_values_and_errors() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    for_each_isa("sampling special", |isa, sm| {
        let s = Sampling::default();
        // +inf entries share the mass: u below 1/2 takes the first, above it the second.
        let x = [0.0f32, inf, 5.0, inf];
        assert_eq!(sm.sample(&x, s, 0.25).unwrap(), 1, "{isa:?}");
        assert_eq!(sm.sample(&x, s, 0.75).unwrap(), 3, "{isa:?}");
        // A row of only -inf draws uniformly.
        let x = [f32::NEG_INFINITY; 4];
        assert_eq!(sm.sample(&x, s, 0.6).unwrap(), 2, "{isa:?}");
        // Huge finite logits are shifted, not overflowed.
        let x = [3e38f32, -3e38, 3e38];
        assert_eq!(sm.sample(&x, s, 0.6).unwrap(), 2, "{isa:?}");
        // Argmax: the first of equal maxima.
        let greedy = Sampling {
            temperature: 0.0,
            ..s
        };
        assert_eq!(sm.sample(&[1.0, 4.0, 4.0], greedy, 0.9).unwrap(), 1);
        assert_eq!(sm.sample(&[f32::NEG_INFINITY; 3], greedy, 0.9).unwrap(), 0);
        // A temperature whose reciprocal overflows behaves as 0.
        let tiny = Sampling {
            temperature: 1e-45,
            ..s
        };
        assert_eq!(sm.sample(&[1.0, 4.0, 4.0], tiny, 0.9).unwrap(), 1);
        let bad = |r: Result<usize, Error>| {
            assert!(matches!(r, Err(Error::InvalidArgument(_))), "{isa:?} {r:?}")
        };
        let mut long = vec![0.0f32; 5000];
        long[4321] = nan;
        bad(sm.sample(&[1.0, nan], s, 0.5));
        bad(sm.sample(&long, s, 0.5));
        bad(sm.sample(&long, greedy, 0.5));
        bad(sm.sample(&[], s, 0.5));
        bad(sm.sample(&[1.0], s, 1.0));
        bad(sm.sample(&[1.0], s, -0.1));
        bad(sm.sample(&[1.0], s, nan));
        for top_p in [0.0, 1.5, nan] {
            bad(sm.sample(&[1.0], Sampling { top_p, ..s }, 0.5));
        }
        for temperature in [-1.0, inf, nan] {
            bad(sm.sample(&[1.0], Sampling { temperature, ..s }, 0.5));
        }
    });
}

#[test]
fn sampling_rows_match_single_rows() {
    for_each_isa("sampling rows", |isa, sm| {
        let mut r = rng(74);
        let (rows, cols, stride) = (20, 3000, 3001);
        let x: Vec<f32> = (0..rows).flat_map(|_| lm_logits(&mut r, stride)).collect();
        let us: Vec<f32> = (0..rows).map(|_| r.random_range(0.0f32..1.0)).collect();
        let s = Sampling {
            temperature: 0.8,
            top_k: 0,
            top_p: 0.9,
        };
        let mut out = vec![usize::MAX; rows];
        sm.sample_rows(&x, stride, rows, cols, s, &us, &mut out)
            .unwrap();
        for row in 0..rows {
            let one = sm.sample(&x[row * stride..][..cols], s, us[row]).unwrap();
            assert_eq!(out[row], one, "{isa:?} row {row}");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The C ABI
// ---------------------------------------------------------------------------------------------

mod c_abi {
    use softmax::ffi::topk::*;
    use softmax::ffi::*;
    use std::ptr::{null, null_mut};

    const BAD: softmax_status = SOFTMAX_STATUS_INVALID_ARGUMENT;
    const NULL: softmax_status = SOFTMAX_STATUS_NULL_POINTER;

    #[test]
    fn gating_matches_the_rust_api_and_checks_its_arguments() {
        let x: Vec<f32> = (0..3 * 10).map(|i| ((i * 37) % 17) as f32 * 0.25).collect();
        let (mut w, mut idx) = (vec![0.0f32; 3 * 4], vec![0i32; 3 * 4]);
        let call = |x: *const f32, k: usize, flags: u32, w: *mut f32, i: *mut i32| unsafe {
            softmax_topk_softmax_rows_f32(x, 10, 3, 10, k, flags, w, 4, i, 4)
        };
        for flags in [0, SOFTMAX_TOPK_RENORMALIZE] {
            let st = call(x.as_ptr(), 3, flags, w.as_mut_ptr(), idx.as_mut_ptr());
            assert_eq!(st, SOFTMAX_STATUS_OK);
            let o = softmax::TopkOptions {
                renormalize: flags != 0,
                ..Default::default()
            };
            let (mut w2, mut i2) = (vec![0.0f32; 3 * 4], vec![0i32; 3 * 4]);
            softmax::Softmax::new()
                .topk_softmax_rows(&x, 10, 3, 10, 3, o, &mut w2, 4, &mut i2, 4)
                .unwrap();
            for r in 0..3 {
                assert_eq!(&idx[r * 4..][..3], &i2[r * 4..][..3]);
                assert_eq!(&w[r * 4..][..3], &w2[r * 4..][..3]);
            }
        }
        let (wp, ip) = (w.as_mut_ptr(), idx.as_mut_ptr());
        assert_eq!(call(x.as_ptr(), 0, 0, wp, ip), BAD);
        assert_eq!(call(x.as_ptr(), 11, 0, wp, ip), BAD);
        assert_eq!(call(x.as_ptr(), 2, 2, wp, ip), BAD);
        assert_eq!(call(null(), 2, 0, wp, ip), NULL);
        assert_eq!(call(x.as_ptr(), 2, 0, null_mut(), ip), NULL);
        assert_eq!(call(x.as_ptr(), 2, 0, wp, null_mut()), NULL);
        // Weights written over the logits, or over the indices.
        let xp = x.as_ptr() as *mut f32;
        assert_eq!(call(x.as_ptr(), 2, 0, xp, ip), BAD);
        assert_eq!(call(x.as_ptr(), 2, 0, ip.cast(), ip), BAD);
        // Misaligned, strides too small, scale out of range; no rows touches nothing.
        let st =
            unsafe { softmax_topk_softmax_rows_f32(x.as_ptr(), 10, 3, 10, 2, 0, wp, 1, ip, 4) };
        assert_eq!(st, BAD);
        let mis = (x.as_ptr() as usize + 1) as *const f32;
        assert_eq!(call(mis, 2, 0, wp, ip), BAD);
        for scale in [0.0, -2.0, f32::NAN, f32::INFINITY] {
            let st = unsafe {
                softmax_topk_softmax_rows_scaled_f32(
                    x.as_ptr(),
                    10,
                    3,
                    10,
                    2,
                    scale,
                    0,
                    wp,
                    4,
                    ip,
                    4,
                )
            };
            assert_eq!(st, BAD, "scale {scale}");
        }
        let st = unsafe {
            softmax_topk_softmax_rows_f32(null(), 10, 0, 10, 2, 0, null_mut(), 4, null_mut(), 4)
        };
        assert_eq!(st, SOFTMAX_STATUS_OK);
    }

    #[test]
    fn sampling_matches_the_rust_api_and_checks_its_arguments() {
        let x: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 1013) as f32 * 0.01)
            .collect();
        let mut index = usize::MAX;
        for (t, k, p, u) in [(1.0, 0, 1.0, 0.3), (0.5, 40, 0.9, 0.99), (0.0, 0, 1.0, 0.5)] {
            let st = unsafe { softmax_sample_f32(x.as_ptr(), x.len(), t, k, p, u, &mut index) };
            assert_eq!(st, SOFTMAX_STATUS_OK);
            let s = softmax::Sampling {
                temperature: t,
                top_k: k,
                top_p: p,
            };
            assert_eq!(index, softmax::sample(&x, s, u).unwrap());
        }
        let call = |x: *const f32, n: usize, t: f32, p: f32, u: f32, i: *mut usize| unsafe {
            softmax_sample_f32(x, n, t, 0, p, u, i)
        };
        let before = index;
        let xp = x.as_ptr();
        assert_eq!(call(xp, 0, 1.0, 1.0, 0.5, &mut index), BAD);
        assert_eq!(call(xp, 10, -1.0, 1.0, 0.5, &mut index), BAD);
        assert_eq!(call(xp, 10, 1.0, 0.0, 0.5, &mut index), BAD);
        assert_eq!(call(xp, 10, 1.0, 1.0, 1.0, &mut index), BAD);
        assert_eq!(call(null(), 10, 1.0, 1.0, 0.5, &mut index), NULL);
        assert_eq!(call(xp, 10, 1.0, 1.0, 0.5, null_mut()), NULL);
        let nan = [1.0f32, f32::NAN];
        assert_eq!(call(nan.as_ptr(), 2, 1.0, 1.0, 0.5, &mut index), BAD);
        assert_eq!(index, before, "a refused call writes nothing");
        // Rows: one u per row, draws equal to single calls.
        let (rows, cols) = (4, 1000);
        let u = [0.1f32, 0.5, 0.9, 0.0];
        let mut out = [usize::MAX; 4];
        let st = unsafe {
            softmax_sample_rows_f32(
                xp,
                1250,
                rows,
                cols,
                0.7,
                0,
                0.8,
                u.as_ptr(),
                out.as_mut_ptr(),
            )
        };
        assert_eq!(st, SOFTMAX_STATUS_OK);
        for r in 0..rows {
            let mut one = 0usize;
            let st =
                unsafe { softmax_sample_f32(xp.add(r * 1250), cols, 0.7, 0, 0.8, u[r], &mut one) };
            assert_eq!(st, SOFTMAX_STATUS_OK);
            assert_eq!(out[r], one);
        }
        let bad_u = [0.1f32, 1.5, 0.2, 0.3];
        let st = unsafe {
            softmax_sample_rows_f32(
                xp,
                1250,
                rows,
                cols,
                0.7,
                0,
                0.8,
                bad_u.as_ptr(),
                out.as_mut_ptr(),
            )
        };
        assert_eq!(st, BAD);
        let st = unsafe {
            softmax_sample_rows_f32(
                xp,
                999,
                rows,
                cols,
                0.7,
                0,
                0.8,
                u.as_ptr(),
                out.as_mut_ptr(),
            )
        };
        assert_eq!(st, BAD);
    }
}
