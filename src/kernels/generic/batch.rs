//! Batches of rows. The caller resolves the algorithm and the flags once per batch; short rows
//! go through [`short`] several at a time, longer ones through the one-row algorithms.

use super::forward::{log_softmax_special, logsumexp_special, softmax_of, softmax_special};
use super::inputs::{Input, Plain, Scaled};
use super::medium;
use super::short::{self, lse_of, Group, ShortRows};
use super::storage::{AsF32, AsHalf, Storage, Stored};
use crate::kernels::convert::Half;
use crate::kernels::simd::{Simd, Token};
use crate::kernels::Flags;
use crate::rows::{Rows, RowsIn};
use crate::Algorithm;

/// Softmax of short rows (three-pass reload in registers), stored as `S` says.
pub(crate) struct SoftmaxShort<'a, 'r, I, S: Stored> {
    pub inp: &'a I,
    pub st: S,
    pub rows: &'a mut Rows<'r, S::T>,
    pub flags: Flags,
}

impl<V: Simd, I: Input<V>, S: Storage<V>> ShortRows<V> for SoftmaxShort<'_, '_, I, S> {
    const VECS: usize = 8;
    #[inline(always)]
    fn group<const R: usize, const NV: usize, const W: bool>(
        &mut self,
        isa: Token<V>,
        r0: usize,
    ) -> bool {
        let g = Group {
            x: std::array::from_fn(|i| self.rows.x(r0 + i)),
            y: std::array::from_fn(|i| self.rows.y(r0 + i)),
        };
        // SAFETY: rows `r0..r0 + R` of the batch view, each valid for `cols` elements.
        unsafe { short::softmax::<V, S, R, NV, W>(isa, self.st, self.inp, &g, self.rows.cols()) }
    }
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn special(&mut self, isa: Token<V>, r: usize) {
        let row = (self.rows.x(r), self.rows.y(r), self.rows.cols());
        let (inp, flags) = (self.inp, self.flags);
        // SAFETY: row `r` of the batch view, valid for `cols` elements, a short row.
        unsafe {
            self.st
                .with_row(isa, row, |io| softmax_special::<V, 1>(isa, inp, io, flags))
        }
    }
}

/// Log-softmax of short rows.
pub(crate) struct LogSoftmaxShort<'a, 'r, S: Stored> {
    pub st: S,
    pub rows: &'a mut Rows<'r, S::T>,
    pub flags: Flags,
}

impl<V: Simd, S: Storage<V>> ShortRows<V> for LogSoftmaxShort<'_, '_, S> {
    const VECS: usize = 16;
    #[inline(always)]
    fn group<const R: usize, const NV: usize, const W: bool>(
        &mut self,
        isa: Token<V>,
        r0: usize,
    ) -> bool {
        let g = Group {
            x: std::array::from_fn(|i| self.rows.x(r0 + i)),
            y: std::array::from_fn(|i| self.rows.y(r0 + i)),
        };
        // SAFETY: rows `r0..r0 + R` of the batch view, each valid for `cols` elements.
        unsafe { short::log_softmax::<V, S, R, NV, W>(isa, self.st, &Plain, &g, self.rows.cols()) }
    }
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn special(&mut self, isa: Token<V>, r: usize) {
        let row = (self.rows.x(r), self.rows.y(r), self.rows.cols());
        let flags = self.flags;
        // SAFETY: row `r` of the batch view, valid for `cols` elements, a short row.
        unsafe {
            self.st
                .with_row(isa, row, |io| log_softmax_special::<V, 1>(isa, io, flags))
        }
    }
}

/// Log-sum-exp of short rows, one result per row.
pub(crate) struct LogSumExpShort<'a, 'r, S: Stored> {
    pub st: S,
    pub rows: RowsIn<'r, S::T>,
    pub out: &'a mut [f32],
}

impl<V: Simd, S: Storage<V>> ShortRows<V> for LogSumExpShort<'_, '_, S> {
    const VECS: usize = 16;
    #[inline(always)]
    fn group<const R: usize, const NV: usize, const W: bool>(
        &mut self,
        isa: Token<V>,
        r0: usize,
    ) -> bool {
        let g = Group {
            x: std::array::from_fn(|i| self.rows.ptr(r0 + i)),
            y: [std::ptr::null_mut(); R],
        };
        // SAFETY: rows `r0..r0 + R` of the batch view, each readable for `cols` elements.
        unsafe {
            short::logsumexp::<V, S, R, NV, W>(
                isa,
                self.st,
                &Plain,
                &g,
                self.rows.cols(),
                &mut self.out[r0..r0 + R],
            )
        }
    }
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn special(&mut self, isa: Token<V>, r: usize) {
        let (x, n) = (self.rows.ptr(r), self.rows.cols());
        // SAFETY: row `r` of the batch view, readable for `cols` elements, a short row.
        self.out[r] = unsafe { self.st.with_input(isa, x, n, logsumexp_special) } as f32;
    }
}

/// Softmax of a batch of short rows of 16-bit `format`, read and written in the format.
#[inline(always)]
pub(crate) fn softmax_short_rows_half<V: Simd>(
    isa: Token<V>,
    format: Half,
    mut rows: Rows<'_, u16>,
    flags: Flags,
) {
    let st = AsHalf(format);
    short_rows_half::<V, _>(isa, &mut rows, |rows| SoftmaxShort {
        inp: &Plain,
        st,
        rows,
        flags,
    });
}

/// Log-softmax of a batch of short rows of 16-bit `format`, read and written in the format.
#[inline(always)]
pub(crate) fn log_softmax_short_rows_half<V: Simd>(
    isa: Token<V>,
    format: Half,
    mut rows: Rows<'_, u16>,
    flags: Flags,
) {
    let st = AsHalf(format);
    short_rows_half::<V, _>(isa, &mut rows, |rows| LogSoftmaxShort { st, rows, flags });
}

/// Runs the short-row operation `op` makes of a batch of short 16-bit rows over all of them.
#[inline(always)]
fn short_rows_half<'a, 'r, V: Simd, O: ShortRows<V>>(
    isa: Token<V>,
    rows: &'a mut Rows<'r, u16>,
    op: impl FnOnce(&'a mut Rows<'r, u16>) -> O,
) {
    let (count, n) = (rows.rows(), rows.cols());
    debug_assert!(short::is_short::<V>(n));
    short::run::<V, _>(isa, &mut op(rows), count, n);
}

/// Log-sum-exp of a batch of short rows of 16-bit `format` into `out` (one value per row).
#[inline(always)]
pub(crate) fn logsumexp_short_rows_half<V: Simd>(
    isa: Token<V>,
    format: Half,
    rows: RowsIn<'_, u16>,
    out: &mut [f32],
) {
    let (count, n) = (rows.rows(), rows.cols());
    debug_assert!(short::is_short::<V>(n) && out.len() == count);
    let st = AsHalf(format);
    short::run::<V, _>(isa, &mut LogSumExpShort { st, rows, out }, count, n);
}

/// Softmax of every row of a batch with the resolved algorithm `alg` (never `Auto`).
#[inline(always)]
pub(crate) fn softmax_rows<V: Simd, const U: usize>(
    isa: Token<V>,
    mut rows: Rows<'_>,
    alg: Algorithm,
    flags: Flags,
) {
    softmax_rows_of::<V, U>(isa, &Plain, &mut rows, alg, flags)
}

/// Softmax of `scale * x` for every row of a batch (`scale` finite).
#[inline(always)]
pub(crate) fn softmax_scaled_rows<V: Simd, const U: usize>(
    isa: Token<V>,
    mut rows: Rows<'_>,
    alg: Algorithm,
    flags: Flags,
    scale: f32,
) {
    if scale == 1.0 {
        softmax_rows_of::<V, U>(isa, &Plain, &mut rows, alg, flags)
    } else if scale == 0.0 {
        for r in 0..rows.rows() {
            super::forward::softmax_scaled::<V, U>(isa, rows.row(r), alg, flags, scale);
        }
    } else {
        softmax_rows_of::<V, U>(isa, &Scaled::<V>::new(isa, scale), &mut rows, alg, flags)
    }
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn softmax_rows_of<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    rows: &mut Rows<'_>,
    alg: Algorithm,
    flags: Flags,
) {
    let (count, n) = (rows.rows(), rows.cols());
    if alg == Algorithm::ThreePassReload && short::is_short::<V>(n) {
        short::run::<V, _>(
            isa,
            &mut SoftmaxShort {
                inp,
                st: AsF32,
                rows,
                flags,
            },
            count,
            n,
        );
    } else {
        for r in 0..count {
            softmax_of::<V, U>(isa, inp, rows.row(r), alg, flags);
        }
    }
}

/// Log-softmax of every row of a batch.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn log_softmax_rows<V: Simd, const U: usize>(
    isa: Token<V>,
    mut rows: Rows<'_>,
    flags: Flags,
) {
    let (count, n) = (rows.rows(), rows.cols());
    if short::is_short::<V>(n) {
        short::run::<V, _>(
            isa,
            &mut LogSoftmaxShort {
                st: AsF32,
                rows: &mut rows,
                flags,
            },
            count,
            n,
        );
    } else if medium::is_medium::<V>(n) {
        let mut r = 0;
        while r + 2 <= count {
            // SAFETY: rows `r` and `r + 1` of the batch view, each readable for `n` elements.
            let sums =
                unsafe { medium::pair_sums::<V, U>(isa, &Plain, [rows.x(r), rows.x(r + 1)], n) };
            for i in 0..2 {
                match sums {
                    Some(sums) => {
                        let (s, k) = sums[i];
                        super::forward::log_softmax_out::<V, U>(
                            isa,
                            &mut rows.row(r + i),
                            s,
                            k,
                            flags,
                        );
                    }
                    None => super::forward::log_softmax::<V, U>(isa, rows.row(r + i), flags),
                }
            }
            r += 2;
        }
        if r < count {
            super::forward::log_softmax::<V, U>(isa, rows.row(r), flags);
        }
    } else {
        for r in 0..count {
            super::forward::log_softmax::<V, U>(isa, rows.row(r), flags);
        }
    }
}

/// Log-sum-exp of every row of a batch into `out` (one value per row).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn logsumexp_rows<V: Simd, const U: usize>(
    isa: Token<V>,
    rows: RowsIn<'_>,
    out: &mut [f32],
) {
    let (count, n) = (rows.rows(), rows.cols());
    debug_assert_eq!(out.len(), count);
    if short::is_short::<V>(n) {
        short::run::<V, _>(
            isa,
            &mut LogSumExpShort {
                st: AsF32,
                rows,
                out,
            },
            count,
            n,
        );
    } else if medium::is_medium::<V>(n) {
        let mut r = 0;
        while r + 2 <= count {
            // SAFETY: rows `r` and `r + 1` of the batch view, each readable for `n` elements.
            match unsafe {
                medium::pair_sums::<V, U>(isa, &Plain, [rows.ptr(r), rows.ptr(r + 1)], n)
            } {
                Some(sums) => {
                    for (o, (s, k)) in out[r..r + 2].iter_mut().zip(sums) {
                        *o = lse_of(s, k);
                    }
                }
                None => {
                    for (i, o) in out[r..r + 2].iter_mut().enumerate() {
                        *o = super::forward::logsumexp::<V, U>(isa, rows.row(r + i));
                    }
                }
            }
            r += 2;
        }
        if r < count {
            out[r] = super::forward::logsumexp::<V, U>(isa, rows.row(r));
        }
    } else {
        for (r, o) in out.iter_mut().enumerate() {
            *o = super::forward::logsumexp::<V, U>(isa, rows.row(r));
        }
    }
}
