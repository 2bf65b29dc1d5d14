//! The safe API: argument errors, degenerate shapes, ISA and algorithm enums, agreement of
//! the free functions with `Softmax::new()`, and no panics on arbitrary input.

mod common;

use common::*;
use rand::Rng;
use softmax::{Algorithm, Error, Isa, Softmax};

// ---------------------------------------------------------------------------------------------
// Errors of the single-row calls
// ---------------------------------------------------------------------------------------------

#[test]
fn mismatched_lengths_are_refused_and_nothing_is_written() {
    for_each_isa(
        "mismatched_lengths_are_refused_and_nothing_is_written",
        |isa, sm| {
            let x = [1.0f32, 2.0, 3.0];
            for ylen in [0usize, 2, 4, 10] {
                let mut y = vec![SENTINEL; ylen];
                let want = Err(Error::SliceLength {
                    argument: "y",
                    expected: 3,
                    actual: ylen,
                });
                for alg in Algorithm::ALL {
                    assert_eq!(sm.softmax_with(&x, &mut y, alg), want, "{isa:?} {alg:?}");
                }
                assert_eq!(sm.softmax(&x, &mut y), want, "{isa:?}");
                assert_eq!(sm.log_softmax(&x, &mut y), want, "{isa:?}");
                assert_sentinels(isa.name(), &y, 0, 0);
            }
            // Empty input, non-empty output.
            let mut y = [SENTINEL; 2];
            assert_eq!(
                sm.softmax(&[], &mut y),
                Err(Error::SliceLength {
                    argument: "y",
                    expected: 0,
                    actual: 2
                })
            );
            assert_sentinels(isa.name(), &y, 0, 0);
        },
    );
    // The free functions too.
    let mut y = [0.0f32; 2];
    let want = Err(Error::SliceLength {
        argument: "y",
        expected: 3,
        actual: 2,
    });
    assert_eq!(softmax::softmax(&[1.0, 2.0, 3.0], &mut y), want);
    assert_eq!(
        softmax::softmax_with(&[1.0, 2.0, 3.0], &mut y, Algorithm::TwoPass),
        want
    );
    assert_eq!(softmax::log_softmax(&[1.0, 2.0, 3.0], &mut y), want);
}

// ---------------------------------------------------------------------------------------------
// Errors and degenerate shapes of the rows API
// ---------------------------------------------------------------------------------------------

/// Calls every rows function with the given layout; returns the four results (softmax,
/// softmax in place, log-softmax, log-softmax in place) and checks that a refused call wrote
/// nothing.
#[allow(clippy::too_many_arguments)]
fn all_rows_calls(
    sm: &Softmax,
    xlen: usize,
    x_stride: usize,
    ylen: usize,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> [Result<(), Error>; 4] {
    let x = vec![1.0f32; xlen];
    let mut y = vec![SENTINEL; ylen];
    let mut xy = vec![SENTINEL; xlen];
    let r = [
        sm.softmax_rows(&x, x_stride, &mut y, y_stride, rows, cols, Algorithm::Auto),
        sm.softmax_rows_in_place(&mut xy, x_stride, rows, cols, Algorithm::Auto),
        sm.log_softmax_rows(&x, x_stride, &mut y, y_stride, rows, cols),
        sm.log_softmax_rows_in_place(&mut xy, x_stride, rows, cols),
    ];
    if r[0].is_err() && r[2].is_err() {
        assert_sentinels("refused rows call", &y, 0, 0);
    }
    if r[1].is_err() && r[3].is_err() {
        assert_sentinels("refused in-place rows call", &xy, 0, 0);
    }
    r
}

#[test]
fn rows_errors() {
    for_each_isa("rows_errors", |isa, sm| {
        let ctx = isa.name();
        // Stride smaller than the row.
        let bad = Err(Error::InvalidStride { stride: 3, cols: 4 });
        let r = all_rows_calls(&sm, 100, 3, 100, 4, 2, 4);
        assert_eq!(r[0], bad, "{ctx}");
        assert_eq!(r[1], bad, "{ctx}");
        assert_eq!(r[2], bad, "{ctx}");
        assert_eq!(r[3], bad, "{ctx}");
        // Even a single row needs stride >= cols.
        let r = all_rows_calls(&sm, 100, 3, 100, 3, 1, 4);
        assert_eq!(r, [bad; 4], "{ctx}");
        // Output stride smaller than the row.
        let r = all_rows_calls(&sm, 100, 4, 100, 2, 2, 4);
        assert_eq!(
            r[0],
            Err(Error::InvalidStride { stride: 2, cols: 4 }),
            "{ctx}"
        );
        assert_eq!(
            r[2],
            Err(Error::InvalidStride { stride: 2, cols: 4 }),
            "{ctx}"
        );
        assert_eq!(r[1], Ok(()), "{ctx}");
        // Extents that overflow usize.
        let huge = usize::MAX / 2 + 1;
        let ov = Err(Error::InvalidStride {
            stride: huge,
            cols: 1,
        });
        let x = [0.0f32; 4];
        let mut y = [SENTINEL; 4];
        assert_eq!(
            sm.softmax_rows(&x, huge, &mut y, 1, 3, 1, Algorithm::Auto),
            ov,
            "{ctx}"
        );
        assert_eq!(
            sm.log_softmax_rows(&x, 1, &mut y, huge, 3, 1),
            Err(Error::InvalidStride {
                stride: huge,
                cols: 1
            }),
            "{ctx}"
        );
        let mut xy = [SENTINEL; 4];
        assert_eq!(
            sm.softmax_rows_in_place(&mut xy, usize::MAX, 2, 1, Algorithm::TwoPass),
            Err(Error::InvalidStride {
                stride: usize::MAX,
                cols: 1
            }),
            "{ctx}"
        );
        assert_eq!(
            sm.log_softmax_rows_in_place(&mut xy, usize::MAX, 2, usize::MAX),
            Err(Error::InvalidStride {
                stride: usize::MAX,
                cols: usize::MAX
            }),
            "{ctx}"
        );
        assert_sentinels(ctx, &y, 0, 0);
        assert_sentinels(ctx, &xy, 0, 0);
        // Short buffers: the extent is (rows - 1) * stride + cols.
        // rows 3, cols 4, stride 6: extent 16.
        let r = all_rows_calls(&sm, 15, 6, 16, 6, 3, 4);
        let short = |argument| {
            Err(Error::SliceLength {
                argument,
                expected: 16,
                actual: 15,
            })
        };
        assert_eq!(
            r,
            [short("x"), short("xy"), short("x"), short("xy")],
            "{ctx}"
        );
        let r = all_rows_calls(&sm, 16, 6, 15, 6, 3, 4);
        assert_eq!(r, [short("y"), Ok(()), short("y"), Ok(())], "{ctx}");
        // Exactly the extent, and longer buffers, are fine.
        assert_eq!(
            all_rows_calls(&sm, 16, 6, 16, 6, 3, 4),
            [Ok(()); 4],
            "{ctx}"
        );
        assert_eq!(
            all_rows_calls(&sm, 40, 6, 50, 5, 3, 4),
            [Ok(()); 4],
            "{ctx}"
        );
    });
}

#[test]
fn rows_zero_rows_and_zero_cols() {
    for_each_isa("rows_zero_rows_and_zero_cols", |isa, sm| {
        let ctx = isa.name();
        // rows == 0: nothing to do, whatever the buffers and strides (even stride < cols).
        assert_eq!(all_rows_calls(&sm, 0, 0, 0, 0, 0, 5), [Ok(()); 4], "{ctx}");
        assert_eq!(all_rows_calls(&sm, 0, 7, 0, 9, 0, 5), [Ok(()); 4], "{ctx}");
        let x = [];
        let mut y = [SENTINEL; 3];
        sm.softmax_rows(&x, 4, &mut y, 4, 0, 4, Algorithm::Auto)
            .unwrap();
        sm.log_softmax_rows(&x, 4, &mut y, 4, 0, 4).unwrap();
        assert_sentinels(ctx, &y, 0, 0);
        // cols == 0: every row is empty, nothing is written, even with empty buffers.
        assert_eq!(all_rows_calls(&sm, 0, 0, 0, 0, 5, 0), [Ok(()); 4], "{ctx}");
        let x = [1.0f32; 10];
        let mut y = [SENTINEL; 10];
        for alg in Algorithm::ALL {
            sm.softmax_rows(&x, 2, &mut y, 2, 5, 0, alg).unwrap();
        }
        sm.log_softmax_rows(&x, 2, &mut y, 2, 5, 0).unwrap();
        let mut xy = [SENTINEL; 10];
        sm.softmax_rows_in_place(&mut xy, 2, 5, 0, Algorithm::Auto)
            .unwrap();
        sm.log_softmax_rows_in_place(&mut xy, 2, 5, 0).unwrap();
        assert_sentinels(ctx, &y, 0, 0);
        assert_sentinels(ctx, &xy, 0, 0);
        // cols == 0 still needs (rows - 1) * stride elements of x (and of y).
        let r = all_rows_calls(&sm, 7, 2, 8, 2, 5, 0);
        let short = |argument| {
            Err(Error::SliceLength {
                argument,
                expected: 8,
                actual: 7,
            })
        };
        assert_eq!(
            r,
            [short("x"), short("xy"), short("x"), short("xy")],
            "{ctx}"
        );
    });
}

/// A single row through the rows API equals the single-row call (stride == cols too).
#[test]
fn rows_api_matches_single_rows() {
    let mut rng = rng(31);
    for_each_isa("rows_api_matches_single_rows", |isa, sm| {
        for (rows, cols) in [(1, 1), (1, 17), (2, 8), (5, 33), (3, 1000)] {
            let x = uniform(&mut rng, rows * cols, -30.0, 30.0);
            for alg in Algorithm::ALL {
                let mut y = vec![SENTINEL; rows * cols];
                sm.softmax_rows(&x, cols, &mut y, cols, rows, cols, alg)
                    .unwrap();
                let mut xy = x.clone();
                sm.softmax_rows_in_place(&mut xy, cols, rows, cols, alg)
                    .unwrap();
                for r in 0..rows {
                    let mut want = vec![0.0; cols];
                    sm.softmax_with(&x[r * cols..][..cols], &mut want, alg)
                        .unwrap();
                    let ctx = format!("{isa:?} {alg:?} rows={rows} cols={cols} row {r}");
                    assert_same_bits(&ctx, &y[r * cols..][..cols], &want);
                    assert_same_bits(&ctx, &xy[r * cols..][..cols], &want);
                }
            }
            let mut y = vec![SENTINEL; rows * cols];
            sm.log_softmax_rows(&x, cols, &mut y, cols, rows, cols)
                .unwrap();
            for r in 0..rows {
                let mut want = vec![0.0; cols];
                sm.log_softmax(&x[r * cols..][..cols], &mut want).unwrap();
                assert_same_bits(&format!("{isa:?} log rows"), &y[r * cols..][..cols], &want);
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// ISA and algorithm enums
// ---------------------------------------------------------------------------------------------

#[test]
fn isa_names_and_constants() {
    assert_eq!(
        Isa::ALL,
        [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon],
        "C constant order"
    );
    for (i, isa) in Isa::ALL.into_iter().enumerate() {
        assert_eq!(isa as u32, i as u32);
        assert_eq!(Isa::from_u32(i as u32), Some(isa));
        assert_eq!(Isa::from_name(isa.name()), Some(isa));
        assert_eq!(Isa::from_name(&isa.name().to_uppercase()), Some(isa));
        assert_eq!(isa.name(), isa.name().to_lowercase());
    }
    assert_eq!(
        Isa::ALL.map(Isa::name),
        ["scalar", "avx2", "avx512", "neon"]
    );
    assert_eq!(Isa::from_name("AvX512"), Some(Isa::Avx512));
    for bad in [
        "", " avx2", "avx2 ", "avx", "sse2", "avx-512", "scalar\0", "auto", "native",
    ] {
        assert_eq!(Isa::from_name(bad), None, "{bad:?}");
    }
    for bad in [4u32, 5, 100, u32::MAX] {
        assert_eq!(Isa::from_u32(bad), None);
    }
}

#[test]
fn with_isa_supported_and_unsupported() {
    let mut supported = 0;
    for isa in Isa::ALL {
        match Softmax::with_isa(isa) {
            Ok(sm) => {
                supported += 1;
                assert!(isa.is_supported(), "{isa:?}");
                assert_eq!(sm.isa(), isa);
                assert!(format!("{sm:?}").contains(&format!("{isa:?}")), "{sm:?}");
            }
            Err(e) => {
                assert!(!isa.is_supported(), "{isa:?}");
                assert_eq!(e, Error::UnsupportedIsa(isa));
                assert!(e.to_string().contains(isa.name()), "{e}");
                println!(
                    "SKIP with_isa_supported_and_unsupported: {} not supported on this CPU",
                    isa.name()
                );
            }
        }
    }
    assert!(Isa::Scalar.is_supported());
    assert!(Isa::best().is_supported());
    assert!(supported >= 1);
    // Never both x86 and Arm kernels.
    assert!(
        !(Isa::Neon.is_supported() && (Isa::Avx2.is_supported() || Isa::Avx512.is_supported()))
    );
    #[cfg(not(target_arch = "aarch64"))]
    assert!(!Isa::Neon.is_supported());
    #[cfg(not(target_arch = "x86_64"))]
    assert!(!Isa::Avx2.is_supported() && !Isa::Avx512.is_supported());
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c");
        assert_eq!(
            Isa::Avx2.is_supported(),
            avx2,
            "AVX2 kernels are always compiled in"
        );
        if Isa::Avx512.is_supported() {
            assert!(std::arch::is_x86_feature_detected!("avx512f"));
        }
    }
}

#[test]
fn algorithm_constants_and_resolve() {
    assert_eq!(
        Algorithm::ALL,
        [
            Algorithm::Auto,
            Algorithm::ThreePassRecompute,
            Algorithm::ThreePassReload,
            Algorithm::TwoPass,
            Algorithm::TwoPassBlocked
        ]
    );
    assert_eq!(Algorithm::default(), Algorithm::Auto);
    for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
        assert_eq!(alg as u32, i as u32);
        assert_eq!(Algorithm::from_u32(i as u32), Some(alg));
        assert!(!alg.name().is_empty());
        if alg != Algorithm::Auto {
            for n in [0, 1, 1000, 1 << 20, usize::MAX] {
                assert_eq!(
                    alg.resolve(n),
                    alg,
                    "explicit algorithms resolve to themselves"
                );
            }
        }
    }
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    for (i, a) in names.iter().enumerate() {
        assert!(!names[i + 1..].contains(a), "duplicate name {a}");
    }
    for bad in [5u32, 6, 1000, u32::MAX] {
        assert_eq!(Algorithm::from_u32(bad), None);
    }
    // Auto: three-pass reload for small rows, two-pass for huge ones, never `Auto`.
    for n in [0, 1, 7, 8, 300, 1000, 4096] {
        assert_eq!(
            Algorithm::Auto.resolve(n),
            Algorithm::ThreePassReload,
            "n={n}"
        );
    }
    for n in [1 << 30, 1 << 40, usize::MAX] {
        assert_eq!(Algorithm::Auto.resolve(n), Algorithm::TwoPass, "n={n}");
    }
    // One switch point, monotone: find it by bisection.
    let (mut lo, mut hi) = (4096usize, 1 << 30);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if Algorithm::Auto.resolve(mid) == Algorithm::ThreePassReload {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    println!("Auto: three-pass reload up to n = {lo}, two-pass from n = {hi}");
    for n in [lo / 2, lo - 1, lo] {
        assert_eq!(
            Algorithm::Auto.resolve(n),
            Algorithm::ThreePassReload,
            "n={n}"
        );
    }
    for n in [hi, hi + 1, hi * 2] {
        assert_eq!(Algorithm::Auto.resolve(n), Algorithm::TwoPass, "n={n}");
    }
}

#[test]
fn error_display_and_traits() {
    let errors = [
        Error::LengthMismatch {
            expected: 3,
            actual: 2,
        },
        Error::InvalidStride { stride: 1, cols: 2 },
        Error::UnsupportedIsa(Isa::Neon),
        Error::InvalidArgument("something"),
        Error::SliceLength {
            argument: "dx",
            expected: 3,
            actual: 2,
        },
        Error::TargetOutOfRange {
            row: 4,
            target: 9,
            classes: 5,
        },
    ];
    for e in errors {
        let s = e.to_string();
        assert!(!s.is_empty());
        let _: &dyn std::error::Error = &e;
        assert_eq!(e, e.clone());
    }
    assert!(errors[0].to_string().contains('3') && errors[0].to_string().contains('2'));
    assert!(errors[2].to_string().contains("neon"));
}

// ---------------------------------------------------------------------------------------------
// Free functions and `Softmax::new()`
// ---------------------------------------------------------------------------------------------

/// The free functions use `Softmax::new()` (the current ISA) and agree with it bit for bit;
/// this test binary never calls `set_isa`, so the current ISA is stable here.
#[test]
fn free_functions_match_softmax_new() {
    let sm = Softmax::new();
    assert_eq!(sm.isa(), softmax::current_isa());
    assert_eq!(Softmax::default().isa(), sm.isa());
    let mut rng = rng(32);
    for n in [0usize, 1, 5, 8, 31, 300, 5000] {
        let x = uniform(&mut rng, n, -20.0, 20.0);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        softmax::softmax(&x, &mut a).unwrap();
        sm.softmax(&x, &mut b).unwrap();
        assert_same_bits("softmax", &a, &b);
        for alg in Algorithm::ALL {
            softmax::softmax_with(&x, &mut a, alg).unwrap();
            sm.softmax_with(&x, &mut b, alg).unwrap();
            assert_same_bits(alg.name(), &a, &b);
        }
        let mut c = x.clone();
        softmax::softmax_in_place(&mut c);
        sm.softmax(&x, &mut b).unwrap();
        assert_same_bits("softmax_in_place", &c, &b);
        softmax::log_softmax(&x, &mut a).unwrap();
        sm.log_softmax(&x, &mut b).unwrap();
        assert_same_bits("log_softmax", &a, &b);
        let mut c = x.clone();
        softmax::log_softmax_in_place(&mut c);
        assert_same_bits("log_softmax_in_place", &c, &b);
        assert_eq!(softmax::logsumexp(&x).to_bits(), sm.logsumexp(&x).to_bits());
    }
}

/// The examples of the crate documentation, on every ISA.
#[test]
fn documented_examples_on_every_isa() {
    for_each_isa("documented_examples_on_every_isa", |isa, sm| {
        let x = [1.0f32, 2.0, 3.0];
        let mut y = [0.0f32; 3];
        sm.softmax(&x, &mut y).unwrap();
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{isa:?}");
        assert!((sm.logsumexp(&x) - 3.407_606).abs() < 1e-6, "{isa:?}");
        let mut row = [0.0f32, 0.0];
        sm.softmax_in_place(&mut row);
        assert_eq!(row, [0.5, 0.5], "{isa:?}");
        let mut y = [0.0f32; 2];
        sm.softmax(&[0.0, f32::NEG_INFINITY], &mut y).unwrap();
        assert_eq!(y, [1.0, 0.0], "{isa:?}");
        sm.log_softmax(&[1.0, 1.0], &mut y).unwrap();
        assert!((y[0] + std::f32::consts::LN_2).abs() < 1e-7, "{isa:?}");
        assert_eq!(sm.logsumexp::<f32>(&[]), f32::NEG_INFINITY);
        assert!((sm.logsumexp(&[1000.0, 1000.0]) - 1_000.693_2).abs() < 1e-3);
    });
}

// ---------------------------------------------------------------------------------------------
// No panics
// ---------------------------------------------------------------------------------------------

/// Arbitrary bit patterns (NaN payloads, infinities, denormals, extremes) in rows of every
/// length up to 100 and some longer ones: no call panics, outputs obey the basic shape
/// (softmax outputs in [0, 1 + 4 ULP] or NaN, and NaN only where the rules allow it).
#[test]
fn no_panics_on_arbitrary_bits() {
    let isas = supported_isas("no_panics_on_arbitrary_bits");
    let mut rng = rng(33);
    for case in 0..600 {
        let n = if case % 10 == 9 {
            rng.random_range(100..3000)
        } else {
            case % 101
        };
        let x: Vec<f32> = (0..n)
            .map(|_| {
                let bits: u32 = rng.random();
                // Half of the rows: random bits everywhere; the others: mostly ordinary.
                if case % 2 == 0 || rng.random_bool(0.1) {
                    f32::from_bits(bits)
                } else {
                    rng.random_range(-50.0f32..50.0)
                }
            })
            .collect();
        let kind = row_kind(&x);
        let all_neg_inf = x.iter().all(|&v| v == f32::NEG_INFINITY);
        for (isa, sm) in &isas {
            let ctx = format!("{isa:?} case {case} n={n}");
            let mut y = vec![SENTINEL; n];
            for alg in Algorithm::ALL {
                sm.softmax_with(&x, &mut y, alg).unwrap();
                for (i, &v) in y.iter().enumerate() {
                    if kind == RowKind::Nan || (all_neg_inf && n > 0) {
                        assert!(v.is_nan(), "{ctx} {alg:?} i={i}: {v:e}");
                    } else {
                        // A dominant entry may round to a few ULP above 1 (within the accuracy bound).
                        assert!(
                            (0.0..=1.0 + 4.0 * f32::EPSILON).contains(&v),
                            "{ctx} {alg:?} i={i}: {v:e}"
                        );
                    }
                }
            }
            sm.log_softmax(&x, &mut y).unwrap();
            for (i, &v) in y.iter().enumerate() {
                if kind == RowKind::Nan || all_neg_inf {
                    assert!(v.is_nan(), "{ctx} log_softmax i={i}: {v:e}");
                } else {
                    assert!(
                        v <= 0.0 || (v as f64) < 1e-6,
                        "{ctx} log_softmax i={i}: {v:e}"
                    );
                }
            }
            let l = sm.logsumexp(&x);
            assert_eq!(l.is_nan(), kind == RowKind::Nan, "{ctx} logsumexp {l:e}");
            let mut xy = x.clone();
            sm.softmax_in_place(&mut xy);
            let mut xy = x.clone();
            sm.log_softmax_in_place(&mut xy);
            let mut yy = vec![0.0; 2 * n + 1];
            let _ = sm.softmax_rows(&x, n.max(1), &mut yy, n + 1, 1, n, Algorithm::Auto);
        }
    }
}
