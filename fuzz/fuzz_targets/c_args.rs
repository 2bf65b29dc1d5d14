//! The C argument checks: random pointers into one arena (NULL, misaligned, overlapping,
//! in place), lengths, strides (including ones that overflow `size_t` arithmetic), algorithms,
//! flags, scales, label smoothings and targets, on every ISA. Each call's status must be the
//! one the header's ARGUMENT RULES give (an independent model here); a rejected call must
//! write nothing; an accepted one must write only its output rows, with the values the safe
//! Rust API gives for the same rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::ffi::*;
use softmax::{Algorithm, CrossEntropyOptions, Isa, Softmax};

const ARENA: usize = 1 << 15;
const OK: softmax_status = SOFTMAX_STATUS_OK;
const NULL: softmax_status = SOFTMAX_STATUS_NULL_POINTER;
const INVALID: softmax_status = SOFTMAX_STATUS_INVALID_ARGUMENT;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn word(&mut self) -> u64 {
        let mut w = [0u8; 8];
        let k = self.0.len().min(8);
        w[..k].copy_from_slice(&self.0[..k]);
        self.0 = &self.0[k..];
        u64::from_le_bytes(w)
    }
}

/// Sizes that fit the arena, or that no check can let through (their byte size exceeds
/// `PTRDIFF_MAX` or their arithmetic overflows), or 0.
fn size(b: &mut Bytes, small: u64) -> usize {
    let w = b.word();
    match w % 16 {
        0 => 0,
        1 => [
            usize::MAX,
            usize::MAX / 2,
            usize::MAX / 4 + 1,
            (1 << 61) + 1,
        ][(w >> 8) as usize % 4],
        _ => 1 + ((w >> 8) % small) as usize,
    }
}

/// A place in the arena for an array of `bytes` bytes: NULL, or an offset (mostly aligned to
/// `align`) that keeps a small array inside the arena.
fn place(b: &mut Bytes, base: usize, bytes: Option<usize>, align: usize) -> usize {
    let w = b.word();
    if w % 16 == 0 {
        return 0;
    }
    let room = match bytes {
        Some(n) if n <= ARENA => ARENA - n,
        _ => ARENA,
    };
    let mut off = ((w >> 8) as usize) % (room + 1);
    if (w >> 4) % 8 != 0 {
        off -= off % align;
    }
    base + off
}

/// One array of a call, for the model.
struct Arr {
    p: usize,
    /// Extent in elements (`None` when its arithmetic overflows).
    ext: Option<usize>,
    elem: usize,
    /// May be NULL (an optional output).
    optional: bool,
    /// Layout (stride) for the in-place rule; `u64::MAX` for "no in-place partner".
    layout: usize,
}

impl Arr {
    fn range(&self) -> (usize, usize) {
        (self.p, self.p + self.ext.unwrap() * self.elem)
    }
}

fn extent(rows: usize, cols: usize, stride: usize) -> Option<usize> {
    if rows == 0 {
        return Some(0);
    }
    if stride < cols {
        return None;
    }
    (rows - 1).checked_mul(stride)?.checked_add(cols)
}

/// The status the header's rules give, after rules 1-3 passed and elements are touched.
/// `pairs` lists the output/array pairs checked for overlap, with whether in place is allowed.
fn model(arrs: &[Arr], pairs: &[(usize, usize, bool)]) -> softmax_status {
    if arrs.iter().any(|a| a.p == 0 && !a.optional) {
        return NULL;
    }
    for a in arrs.iter().filter(|a| a.p != 0) {
        if a.p % a.elem != 0 {
            return INVALID;
        }
        match a.ext.and_then(|e| e.checked_mul(a.elem)) {
            Some(b) if b <= isize::MAX as usize && a.p.checked_add(b).is_some() => {}
            _ => return INVALID,
        }
    }
    for &(o, i, in_place_ok) in pairs {
        let (a, b) = (&arrs[o], &arrs[i]);
        if a.p == 0 || b.p == 0 {
            continue;
        }
        let same = in_place_ok && a.p == b.p && a.layout == b.layout;
        let (a0, a1) = a.range();
        let (b0, b1) = b.range();
        if !same && a0 < b1 && b0 < a1 && a0 < a1 && b0 < b1 {
            return INVALID;
        }
    }
    OK
}

/// Bytes of the arena that a call may write: the rows of its outputs.
fn allowed(writable: &mut [bool], base: usize, p: usize, rows: usize, cols: usize, stride: usize) {
    for r in 0..rows {
        let s = p - base + r * stride * 4;
        for b in &mut writable[s..s + cols * 4] {
            *b = true;
        }
    }
}

fn floats(arena: &[u8], base: usize, p: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let o = p - base + 4 * i;
            f32::from_le_bytes(arena[o..o + 4].try_into().unwrap())
        })
        .collect()
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let isas: Vec<Isa> = Isa::ALL
        .iter()
        .copied()
        .filter(|i| i.is_supported())
        .collect();
    let isa = isas[(b.word() % isas.len() as u64) as usize];
    assert_eq!(softmax_set_isa(isa as u32), OK);
    let sm = Softmax::with_isa(isa).unwrap();
    // The arena: 8-byte aligned, filled with values from the input (NaN included).
    let mut store = vec![0u64; ARENA / 8 + 1];
    let base = store.as_mut_ptr() as usize;
    let seed = b.word();
    let mut st = seed | 1;
    for w in store.iter_mut() {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        // Finite values mostly, an occasional special one.
        let lo = ((st as u32) & 0x41ff_ffff) ^ ((st >> 31) as u32 & 0x8000_0000);
        let hi = (((st >> 32) as u32) & 0x41ff_ffff) | (((st >> 7) as u32) & 0x8000_0000);
        *w = lo as u64 | (hi as u64) << 32;
    }
    if seed % 7 == 0 {
        store[(seed as usize >> 8) % (ARENA / 8)] = 0x7fc0_0000_ff80_0000;
    }
    let arena = |s: &Vec<u64>| -> Vec<u8> { s.iter().flat_map(|w| w.to_le_bytes()).collect() };
    let before = arena(&store);
    let mut writable = vec![false; ARENA + 8];
    let op = b.word() % 5;
    let (status, want, check): (softmax_status, softmax_status, Box<dyn Fn(&[u8]) -> bool>);
    match op {
        0 => {
            // softmax_rows_f32_ex / softmax_log_softmax_rows_f32
            let (rows, cols) = (size(&mut b, 12), size(&mut b, 40));
            let (xs, ys) = (size(&mut b, 60), size(&mut b, 60));
            let alg = (b.word() % 7) as u32;
            let flags = (b.word() % 3) as u32;
            let log = b.word() % 3 == 0;
            let (xe, ye) = (extent(rows, cols, xs), extent(rows, cols, ys));
            let x = place(&mut b, base, xe.and_then(|e| e.checked_mul(4)), 4);
            let y = if b.word() % 3 == 0 {
                x
            } else {
                place(&mut b, base, ye.and_then(|e| e.checked_mul(4)), 4)
            };
            status = unsafe {
                if log {
                    softmax_log_softmax_rows_f32(x as *const f32, xs, y as *mut f32, ys, rows, cols)
                } else {
                    softmax_rows_f32_ex(
                        x as *const f32,
                        xs,
                        y as *mut f32,
                        ys,
                        rows,
                        cols,
                        alg,
                        flags,
                    )
                }
            };
            let rule1 = log || (alg <= 4 && flags <= 1);
            want = if !rule1 || (rows > 0 && (xe.is_none() || ye.is_none())) {
                INVALID
            } else if rows == 0 || cols == 0 {
                OK
            } else {
                let arrs = [
                    Arr {
                        p: x,
                        ext: xe,
                        elem: 4,
                        optional: false,
                        layout: xs,
                    },
                    Arr {
                        p: y,
                        ext: ye,
                        elem: 4,
                        optional: false,
                        layout: ys,
                    },
                ];
                model(&arrs, &[(1, 0, true)])
            };
            if want == OK && rows > 0 && cols > 0 {
                allowed(&mut writable, base, y, rows, cols, ys);
            }
            let snapshot = before.clone();
            check = Box::new(move |after: &[u8]| {
                (0..rows.min(64)).all(|r| {
                    if cols == 0 {
                        return true;
                    }
                    let xr = floats(&snapshot, base, x + r * xs * 4, cols);
                    let mut yr = vec![0.0f32; cols];
                    if log {
                        sm.log_softmax(&xr, &mut yr).unwrap();
                    } else {
                        let alg = Algorithm::from_u32(alg).unwrap();
                        sm.zero_masked_rows(flags == 1)
                            .softmax_with(&xr, &mut yr, alg)
                            .unwrap();
                    }
                    same(&yr, &floats(after, base, y + r * ys * 4, cols))
                })
            });
        }
        1 => {
            // softmax_backward_rows_f32 / softmax_log_softmax_backward_rows_f32
            let (rows, cols) = (size(&mut b, 12), size(&mut b, 40));
            let st: Vec<usize> = (0..3).map(|_| size(&mut b, 60)).collect();
            let log = b.word() % 2 == 0;
            let e: Vec<Option<usize>> = st.iter().map(|&s| extent(rows, cols, s)).collect();
            let y = place(&mut b, base, e[0].and_then(|e| e.checked_mul(4)), 4);
            let dy = place(&mut b, base, e[1].and_then(|e| e.checked_mul(4)), 4);
            let dx = match b.word() % 4 {
                0 => y,
                1 => dy,
                _ => place(&mut b, base, e[2].and_then(|e| e.checked_mul(4)), 4),
            };
            status = unsafe {
                let f = if log {
                    softmax_log_softmax_backward_rows_f32
                } else {
                    softmax_backward_rows_f32
                };
                f(
                    y as *const f32,
                    st[0],
                    dy as *const f32,
                    st[1],
                    dx as *mut f32,
                    st[2],
                    rows,
                    cols,
                )
            };
            want = if rows > 0 && e.iter().any(|e| e.is_none()) {
                INVALID
            } else if rows == 0 || cols == 0 {
                OK
            } else {
                let arrs = [
                    Arr {
                        p: y,
                        ext: e[0],
                        elem: 4,
                        optional: false,
                        layout: st[0],
                    },
                    Arr {
                        p: dy,
                        ext: e[1],
                        elem: 4,
                        optional: false,
                        layout: st[1],
                    },
                    Arr {
                        p: dx,
                        ext: e[2],
                        elem: 4,
                        optional: false,
                        layout: st[2],
                    },
                ];
                model(&arrs, &[(2, 0, true), (2, 1, true)])
            };
            if want == OK && rows > 0 && cols > 0 {
                allowed(&mut writable, base, dx, rows, cols, st[2]);
            }
            let snapshot = before.clone();
            check = Box::new(move |after: &[u8]| {
                (0..rows.min(64)).all(|r| {
                    if cols == 0 {
                        return true;
                    }
                    let yr = floats(&snapshot, base, y + r * st[0] * 4, cols);
                    let dyr = floats(&snapshot, base, dy + r * st[1] * 4, cols);
                    let mut dxr = vec![0.0f32; cols];
                    if log {
                        sm.log_softmax_backward(&yr, &dyr, &mut dxr).unwrap();
                    } else {
                        sm.softmax_backward(&yr, &dyr, &mut dxr).unwrap();
                    }
                    same(&dxr, &floats(after, base, dx + r * st[2] * 4, cols))
                })
            });
        }
        2 => {
            // softmax_cross_entropy_rows_f32
            let (rows, cols) = (size(&mut b, 12), size(&mut b, 40));
            let (ls, ds) = (size(&mut b, 60), size(&mut b, 60));
            let eps = f32::from_bits(match b.word() % 4 {
                0 => b.word() as u32,
                1 => 0.1f32.to_bits(),
                _ => 0,
            });
            let ignore = -100i64;
            let (xe, de) = (extent(rows, cols, ls), extent(rows, cols, ds));
            let logits = place(&mut b, base, xe.and_then(|e| e.checked_mul(4)), 4);
            let targets = place(
                &mut b,
                base,
                if rows < ARENA { Some(rows * 8) } else { None },
                8,
            );
            let losses = place(
                &mut b,
                base,
                if rows < ARENA { Some(rows * 4) } else { None },
                4,
            );
            let dlogits = match b.word() % 4 {
                0 => 0,
                1 => logits,
                _ => place(&mut b, base, de.and_then(|e| e.checked_mul(4)), 4),
            };
            // Targets: mostly valid classes or ignored, written into the arena when it is
            // there (they are part of the arena's "before" state).
            let tw = b.word();
            if targets != 0 && targets % 8 == 0 && rows <= ARENA / 8 && cols > 0 {
                for r in 0..rows {
                    let t = match (tw >> (r % 60)) % 8 {
                        0 => ignore,
                        1 => ((tw % 7) as i64 - 3).wrapping_add(cols as i64),
                        _ => ((tw >> 3).wrapping_mul(r as u64 + 1) % cols as u64) as i64,
                    };
                    let o = targets - base + 8 * r;
                    if o + 8 <= ARENA {
                        let w = &mut store[o / 8];
                        *w = t as u64;
                    }
                }
            }
            let before2 = arena(&store);
            status = unsafe {
                softmax_cross_entropy_rows_f32(
                    logits as *const f32,
                    ls,
                    rows,
                    cols,
                    targets as *const i64,
                    ignore,
                    eps,
                    losses as *mut f32,
                    dlogits as *mut f32,
                    ds,
                )
            };
            let de_checked = if dlogits == 0 { Some(0) } else { de };
            want = if !(0.0..=1.0).contains(&eps) || cols == 0 {
                INVALID
            } else if rows > 0 && (xe.is_none() || de_checked.is_none()) {
                INVALID
            } else if rows == 0 {
                OK
            } else {
                let arrs = [
                    Arr {
                        p: logits,
                        ext: xe,
                        elem: 4,
                        optional: false,
                        layout: ls,
                    },
                    Arr {
                        p: targets,
                        ext: Some(rows),
                        elem: 8,
                        optional: false,
                        layout: usize::MAX,
                    },
                    Arr {
                        p: losses,
                        ext: Some(rows),
                        elem: 4,
                        optional: false,
                        layout: usize::MAX - 1,
                    },
                    Arr {
                        p: dlogits,
                        ext: de,
                        elem: 4,
                        optional: true,
                        layout: ds,
                    },
                ];
                let m = model(
                    &arrs,
                    &[
                        (2, 0, false),
                        (2, 1, false),
                        (3, 0, true),
                        (3, 1, false),
                        (3, 2, false),
                    ],
                );
                if m == OK {
                    // Rule 8: every target.
                    let ts: Vec<i64> = (0..rows)
                        .map(|r| {
                            let o = targets - base + 8 * r;
                            i64::from_le_bytes(before2[o..o + 8].try_into().unwrap())
                        })
                        .collect();
                    if ts
                        .iter()
                        .all(|&t| t == ignore || (0..cols as i64).contains(&t))
                    {
                        OK
                    } else {
                        INVALID
                    }
                } else {
                    m
                }
            };
            if want == OK && rows > 0 {
                allowed(&mut writable, base, losses, rows, 1, 1);
                if dlogits != 0 {
                    allowed(&mut writable, base, dlogits, rows, cols, ds);
                }
            }
            let snapshot = before2.clone();
            check = Box::new(move |after: &[u8]| {
                (0..rows.min(64)).all(|r| {
                    let xr = floats(&snapshot, base, logits + r * ls * 4, cols);
                    let o = targets - base + 8 * r;
                    let t = i64::from_le_bytes(snapshot[o..o + 8].try_into().unwrap());
                    let opts = CrossEntropyOptions {
                        ignore_index: ignore,
                        label_smoothing: eps,
                    };
                    let mut loss = [0.0f32];
                    let mut d = vec![0.0f32; cols];
                    let grad = if dlogits != 0 {
                        Some((&mut d[..], cols))
                    } else {
                        None
                    };
                    sm.cross_entropy_rows(&xr, cols, 1, cols, &[t], opts, &mut loss, grad)
                        .unwrap();
                    same(&loss, &floats(after, base, losses + 4 * r, 1))
                        && (dlogits == 0
                            || same(&d, &floats(after, base, dlogits + r * ds * 4, cols)))
                })
            });
            let moved = before2;
            // Compare against the state with the targets written.
            let after = arena(&store);
            check_writes(&moved, &after, &writable, status);
            assert_eq!(status, want, "softmax_cross_entropy_rows_f32 rows={rows} cols={cols} ls={ls} ds={ds} eps={eps} logits={:#x} targets={:#x} losses={:#x} dlogits={:#x}", logits - base, targets.wrapping_sub(base), losses.wrapping_sub(base), dlogits.wrapping_sub(base));
            if status == OK {
                assert!(
                    check(&after),
                    "softmax_cross_entropy_rows_f32: values differ from the Rust API"
                );
            }
            return;
        }
        3 => {
            // softmax_logsumexp_f32: `result` may point into `x`.
            let n = size(&mut b, 500);
            let x = place(&mut b, base, n.checked_mul(4), 4);
            let result = place(&mut b, base, Some(4), 4);
            status = unsafe { softmax_logsumexp_f32(x as *const f32, n, result as *mut f32) };
            want = if result == 0 || (n > 0 && x == 0) {
                NULL
            } else {
                let mut arrs = vec![Arr {
                    p: result,
                    ext: Some(1),
                    elem: 4,
                    optional: false,
                    layout: 0,
                }];
                if n > 0 {
                    arrs.push(Arr {
                        p: x,
                        ext: Some(n),
                        elem: 4,
                        optional: false,
                        layout: 0,
                    });
                }
                model(&arrs, &[])
            };
            if want == OK {
                allowed(&mut writable, base, result, 1, 1, 1);
            }
            let snapshot = before.clone();
            check = Box::new(move |after: &[u8]| {
                let xs = if n > 0 {
                    floats(&snapshot, base, x, n)
                } else {
                    vec![]
                };
                same(&[sm.logsumexp(&xs)], &floats(after, base, result, 1))
            });
        }
        _ => {
            // softmax_scaled_f32: the scale is checked first.
            let n = size(&mut b, 500);
            let scale = f32::from_bits(if b.word() % 3 == 0 {
                b.word() as u32
            } else {
                0.25f32.to_bits()
            });
            let x = place(&mut b, base, n.checked_mul(4), 4);
            let y = if b.word() % 3 == 0 {
                x
            } else {
                place(&mut b, base, n.checked_mul(4), 4)
            };
            status = unsafe { softmax_scaled_f32(x as *const f32, y as *mut f32, n, scale) };
            want = if !scale.is_finite() {
                INVALID
            } else if n == 0 {
                OK
            } else {
                let arrs = [
                    Arr {
                        p: x,
                        ext: Some(n),
                        elem: 4,
                        optional: false,
                        layout: 1,
                    },
                    Arr {
                        p: y,
                        ext: Some(n),
                        elem: 4,
                        optional: false,
                        layout: 1,
                    },
                ];
                model(&arrs, &[(1, 0, true)])
            };
            if want == OK && n > 0 {
                allowed(&mut writable, base, y, 1, n, n);
            }
            let snapshot = before.clone();
            check = Box::new(move |after: &[u8]| {
                if n == 0 {
                    return true;
                }
                let xs = floats(&snapshot, base, x, n);
                let mut ys = vec![0.0f32; n];
                sm.softmax_scaled(&xs, &mut ys, scale).unwrap();
                same(&ys, &floats(after, base, y, n))
            });
        }
    }
    let after = arena(&store);
    check_writes(&before, &after, &writable, status);
    assert_eq!(
        status, want,
        "op {op}: status {status}, the rules give {want}"
    );
    if status == OK {
        assert!(check(&after), "op {op}: values differ from the Rust API");
    }
    let _ = Algorithm::Auto;
});

/// Only the allowed bytes changed (none when the call failed).
fn check_writes(before: &[u8], after: &[u8], writable: &[bool], status: softmax_status) {
    for i in 0..ARENA {
        if before[i] != after[i] {
            assert!(
                status == OK && writable[i],
                "byte {i} of the arena written (status {status})"
            );
        }
    }
}
