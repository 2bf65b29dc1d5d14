//! Argument validation of the C ABI: the ARGUMENT RULES of the module docs of `mod.rs` as
//! plain functions from arguments to a status, in the order the rules are checked.
//!
//! They look at pointer values only (NULL, alignment, address ranges), never at the memory
//! behind them, so they are safe functions and are tested below without any array. The
//! functions that return `Checked<bool>` cover a whole call: `Ok(false)` when it touches no
//! element (rule 3: return `SOFTMAX_STATUS_OK` without looking at the arrays), `Ok(true)` when
//! every row of every array may be accessed.
//!
//! The row arrays have the element type `T` of the call (`f32`, or a 16-bit format:
//! `half::f16`, `half::bf16`, `u16`), and every rule is in bytes of that type: alignment to
//! `align_of::<T>()`, sizes `n * size_of::<T>()`, overlaps of byte ranges (so a `float`
//! result or loss is checked against 16-bit rows byte by byte). Extents and strides are in
//! elements, whatever their size.

use super::{
    Checked, SOFTMAX_FLAG_ZERO_MASKED_ROWS, SOFTMAX_STATUS_INVALID_ARGUMENT,
    SOFTMAX_STATUS_NULL_POINTER,
};
use crate::{batch_extent, Algorithm};

/// `SOFTMAX_STATUS_INVALID_ARGUMENT` unless `ok`.
pub(super) fn require(ok: bool) -> Checked<()> {
    if ok {
        Ok(())
    } else {
        Err(SOFTMAX_STATUS_INVALID_ARGUMENT)
    }
}

/// Rule 1: one of the `SOFTMAX_ALGORITHM_*` constants.
pub(super) fn algorithm_arg(algorithm: u32) -> Checked<Algorithm> {
    Algorithm::from_u32(algorithm).ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)
}

/// Rule 1: a finite scale.
pub(super) fn scale_arg(scale: f32) -> Checked<()> {
    require(scale.is_finite())
}

/// Rule 1: a label smoothing in `[0, 1]`.
pub(super) fn smoothing_arg(label_smoothing: f32) -> Checked<()> {
    // NaN fails the range test.
    require((0.0..=1.0).contains(&label_smoothing))
}

/// Rule 1: no bit outside the `SOFTMAX_FLAG_*` constants.
pub(super) fn flags_arg(flags: u32) -> Checked<()> {
    require(flags & !SOFTMAX_FLAG_ZERO_MASKED_ROWS == 0)
}

/// Rule 2: the number of elements a batch spans (`batch_extent`, as a status).
pub(super) fn extent(rows: usize, cols: usize, stride: usize) -> Checked<usize> {
    batch_extent(rows, cols, stride).map_err(|_| SOFTMAX_STATUS_INVALID_ARGUMENT)
}

/// Rule 4: `SOFTMAX_STATUS_NULL_POINTER` when any of `ptrs` is NULL (reported before any other
/// pointer problem).
pub(super) fn non_null(ptrs: &[*const ()]) -> Checked<()> {
    if ptrs.iter().any(|p| p.is_null()) {
        Err(SOFTMAX_STATUS_NULL_POINTER)
    } else {
        Ok(())
    }
}

/// Rules 4 to 6 for one pointer to `n > 0` values of `T`: non-null, aligned, at most
/// `isize::MAX` bytes, no wrap-around. Returns its byte range `[start, end)`.
pub(super) fn span<T>(p: *const T, n: usize) -> Checked<(usize, usize)> {
    if p.is_null() {
        return Err(SOFTMAX_STATUS_NULL_POINTER);
    }
    if !p.is_aligned() {
        return Err(SOFTMAX_STATUS_INVALID_ARGUMENT);
    }
    let bytes = n
        .checked_mul(std::mem::size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)?;
    let start = p as usize;
    let end = start
        .checked_add(bytes)
        .ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)?;
    Ok((start, end))
}

/// True when two non-empty byte ranges share a byte.
fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Rule 7: an output byte range that is either exactly an input (same start and, by `same_layout`,
/// the same layout: the call works in place) or disjoint from it.
pub(super) fn in_place_or_disjoint(
    out: (usize, usize),
    inp: (usize, usize),
    same_layout: bool,
) -> Checked<()> {
    require((out.0 == inp.0 && same_layout) || !overlaps(out, inp))
}

/// Rule 7: two byte ranges that must not share a byte.
pub(super) fn disjoint(a: (usize, usize), b: (usize, usize)) -> Checked<()> {
    require(!overlaps(a, b))
}

/// Rules 4 to 7 for an input/output pair of `x_ext`/`y_ext` (> 0) elements: non-null, aligned,
/// sizes within `isize::MAX` bytes, and `y` either in place (`y == x` with `same_layout`) or
/// disjoint from `x`.
fn check_pair<T>(
    x: *const T,
    x_ext: usize,
    y: *mut T,
    y_ext: usize,
    same_layout: bool,
) -> Checked<()> {
    non_null(&[x.cast(), y.cast()])?;
    let xs = span(x, x_ext)?;
    let ys = span(y, y_ext)?;
    in_place_or_disjoint(ys, xs, same_layout)
}

/// A forward operation on one row of `n` values, `x` to `y`: rule 3 (`n == 0` touches
/// nothing), then [`check_pair`] with `y` in place only when `y == x`.
pub(super) fn row_pair<T>(x: *const T, y: *mut T, n: usize) -> Checked<bool> {
    if n == 0 {
        return Ok(false);
    }
    check_pair(x, n, y, n, true)?;
    Ok(true)
}

/// [`rows_pair`] for a batch of one row, whose strides are never applied: rule 2 is then
/// `stride >= cols`, and the extents are the row. The same status as `rows_pair(.., 1, cols)`
/// in fewer instructions, for the one-row path of the batch calls.
pub(super) fn one_row_pair<T>(
    x: *const T,
    x_stride: usize,
    y: *mut T,
    y_stride: usize,
    cols: usize,
) -> Checked<bool> {
    require(x_stride >= cols && y_stride >= cols)?;
    if cols == 0 {
        return Ok(false);
    }
    check_pair(x, cols, y, cols, x_stride == y_stride)?;
    Ok(true)
}

/// A forward operation on a batch, row `r` read at `x + r * x_stride` and written at
/// `y + r * y_stride`: rule 2 for both strides, rule 3 (`rows == 0` or `cols == 0` touches
/// nothing), then [`check_pair`] on the two extents, in place only with equal strides.
pub(super) fn rows_pair<T>(
    x: *const T,
    x_stride: usize,
    y: *mut T,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Checked<bool> {
    let x_ext = extent(rows, cols, x_stride)?;
    let y_ext = extent(rows, cols, y_stride)?;
    if rows == 0 || cols == 0 {
        return Ok(false);
    }
    check_pair(x, x_ext, y, y_ext, x_stride == y_stride)?;
    Ok(true)
}

/// A backward pass on a batch (one row: strides `n`, `rows == 1`): rule 2 for the three
/// strides, rule 3, then rules 4 to 7: `dx` is `y` or `dy` with the same stride (in place) or
/// disjoint from each; `y` and `dy` may overlap each other.
#[allow(clippy::too_many_arguments)]
pub(super) fn rows_grad<T>(
    y: *const T,
    y_stride: usize,
    dy: *const T,
    dy_stride: usize,
    dx: *mut T,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> Checked<bool> {
    let y_ext = extent(rows, cols, y_stride)?;
    let dy_ext = extent(rows, cols, dy_stride)?;
    let dx_ext = extent(rows, cols, dx_stride)?;
    if rows == 0 || cols == 0 {
        return Ok(false);
    }
    non_null(&[y.cast(), dy.cast(), dx.cast()])?;
    let ys = span(y, y_ext)?;
    let dys = span(dy, dy_ext)?;
    let dxs = span(dx, dx_ext)?;
    in_place_or_disjoint(dxs, ys, dx_stride == y_stride)?;
    in_place_or_disjoint(dxs, dys, dx_stride == dy_stride)?;
    Ok(true)
}

/// `softmax_logsumexp_f32` (and its 16-bit twins): `result` is always required (even when
/// `n == 0`), `x` only when `n > 0`; both NULL checks come before the other pointer checks.
/// `result` may point into `x` (it is written after `x` is read).
pub(super) fn logsumexp_args<T>(x: *const T, n: usize, result: *mut f32) -> Checked<()> {
    if result.is_null() || (n > 0 && x.is_null()) {
        return Err(SOFTMAX_STATUS_NULL_POINTER);
    }
    span(result, 1)?;
    if n > 0 {
        span(x, n)?;
    }
    Ok(())
}

/// `softmax_cross_entropy_f32` (and its 16-bit twins): rule 1 (a class, `target < n`), then
/// `logits` and `loss` required; the optional `dlogits` is `logits` (in place) or disjoint
/// from it, and must not hold `loss` (`loss` may point into `logits`: it is written last).
pub(super) fn cross_entropy_args<T>(
    logits: *const T,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut T,
) -> Checked<()> {
    require(n > 0 && target < n)?;
    non_null(&[logits.cast(), loss.cast()])?;
    let xs = span(logits, n)?;
    let ls = span(loss, 1)?;
    if !dlogits.is_null() {
        let ds = span(dlogits, n)?;
        in_place_or_disjoint(ds, xs, true)?;
        disjoint(ls, ds)?;
    }
    Ok(())
}

/// A batch cross-entropy, up to rule 7 (rule 8 reads the targets: [`targets_arg`]): rule 1
/// (label smoothing, `cols > 0`), rule 2 (the stride of `dlogits` only when it is not NULL),
/// rule 3 (`rows == 0`), then `logits`, `targets` and `losses` required; the outputs `losses`
/// and `dlogits` overlap no array, except `dlogits` in place on `logits` (same stride).
#[allow(clippy::too_many_arguments)]
pub(super) fn cross_entropy_rows_args<T>(
    logits: *const T,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut T,
    dlogits_stride: usize,
) -> Checked<bool> {
    smoothing_arg(label_smoothing)?;
    require(cols > 0)?;
    let x_ext = extent(rows, cols, logits_stride)?;
    let d_ext = if dlogits.is_null() {
        0
    } else {
        extent(rows, cols, dlogits_stride)?
    };
    if rows == 0 {
        return Ok(false);
    }
    non_null(&[logits.cast(), targets.cast(), losses.cast()])?;
    let xs = span(logits, x_ext)?;
    let ts = span(targets, rows)?;
    let ls = span(losses, rows)?;
    disjoint(ls, xs)?;
    disjoint(ls, ts)?;
    if !dlogits.is_null() {
        let ds = span(dlogits, d_ext)?;
        in_place_or_disjoint(ds, xs, dlogits_stride == logits_stride)?;
        disjoint(ds, ts)?;
        disjoint(ds, ls)?;
    }
    Ok(true)
}

/// The class `target` names in a row of `cols` classes, `None` outside `[0, cols)`.
pub(super) fn class(target: i64, cols: usize) -> Option<usize> {
    usize::try_from(target).ok().filter(|&t| t < cols)
}

/// Rule 8: every target is `ignore_index` or a class of the row.
pub(super) fn targets_arg(targets: &[i64], ignore_index: i64, cols: usize) -> Checked<()> {
    for &t in targets {
        require(t == ignore_index || class(t, cols).is_some())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::softmax_status;

    const NULL: softmax_status = SOFTMAX_STATUS_NULL_POINTER;
    const INVALID: softmax_status = SOFTMAX_STATUS_INVALID_ARGUMENT;

    /// A pointer with address `addr` (never dereferenced: the checks only look at addresses).
    fn at<T>(addr: usize) -> *mut T {
        std::ptr::null_mut::<u8>().wrapping_add(addr).cast()
    }

    /// A float pointer `i` floats after the (float-aligned) address `BASE`.
    fn f(i: usize) -> *mut f32 {
        at(BASE + 4 * i)
    }

    const BASE: usize = 0x1_0000;

    fn null() -> *mut f32 {
        std::ptr::null_mut()
    }

    #[test]
    fn require_is_invalid_argument_when_false() {
        assert_eq!(require(true), Ok(()));
        assert_eq!(require(false), Err(INVALID));
    }

    #[test]
    fn algorithm_is_one_of_the_constants() {
        use crate::ffi::{
            SOFTMAX_ALGORITHM_AUTO, SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE,
            SOFTMAX_ALGORITHM_THREE_PASS_RELOAD, SOFTMAX_ALGORITHM_TWO_PASS,
            SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED,
        };
        for (v, alg) in [
            (SOFTMAX_ALGORITHM_AUTO, Algorithm::Auto),
            (
                SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE,
                Algorithm::ThreePassRecompute,
            ),
            (
                SOFTMAX_ALGORITHM_THREE_PASS_RELOAD,
                Algorithm::ThreePassReload,
            ),
            (SOFTMAX_ALGORITHM_TWO_PASS, Algorithm::TwoPass),
            (
                SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED,
                Algorithm::TwoPassBlocked,
            ),
        ] {
            assert_eq!(algorithm_arg(v), Ok(alg));
        }
        for v in [5, 6, 1 << 31, u32::MAX] {
            assert_eq!(algorithm_arg(v), Err(INVALID), "{v}");
        }
    }

    #[test]
    fn scale_is_finite() {
        for s in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1e-45,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
        ] {
            assert_eq!(scale_arg(s), Ok(()), "{s}");
        }
        for s in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN] {
            assert_eq!(scale_arg(s), Err(INVALID), "{s}");
        }
    }

    #[test]
    fn label_smoothing_lies_in_zero_one() {
        for eps in [0.0, -0.0, 1e-45, 0.1, 0.5, 1.0 - f32::EPSILON / 2.0, 1.0] {
            assert_eq!(smoothing_arg(eps), Ok(()), "{eps}");
        }
        let above_one = f32::from_bits(1.0f32.to_bits() + 1);
        for eps in [
            -1e-45,
            -1.0,
            above_one,
            2.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            assert_eq!(smoothing_arg(eps), Err(INVALID), "{eps}");
        }
    }

    #[test]
    fn flags_hold_only_known_bits() {
        assert_eq!(flags_arg(0), Ok(()));
        assert_eq!(flags_arg(SOFTMAX_FLAG_ZERO_MASKED_ROWS), Ok(()));
        for flags in [2, 3, 4, 1 << 31, u32::MAX] {
            assert_eq!(flags_arg(flags), Err(INVALID), "{flags:#x}");
        }
    }

    #[test]
    fn extent_of_no_rows_is_zero_for_any_stride() {
        for (cols, stride) in [(0, 0), (5, 0), (5, 4), (5, usize::MAX), (usize::MAX, 0)] {
            assert_eq!(extent(0, cols, stride), Ok(0), "{cols} {stride}");
        }
    }

    #[test]
    fn extent_rejects_a_stride_below_cols() {
        for rows in [1, 2, 1000] {
            assert_eq!(extent(rows, 4, 3), Err(INVALID), "{rows}");
            assert_eq!(extent(rows, 4, 0), Err(INVALID), "{rows}");
        }
    }

    #[test]
    fn extent_spans_from_the_first_row_to_the_end_of_the_last() {
        assert_eq!(extent(1, 4, 4), Ok(4));
        assert_eq!(extent(3, 4, 4), Ok(12));
        assert_eq!(extent(3, 4, 10), Ok(24));
        // One row: the stride is never applied, however large.
        assert_eq!(extent(1, 4, usize::MAX), Ok(4));
        // No columns: any stride is at least `cols`; the extent is the last row's start.
        assert_eq!(extent(2, 0, 7), Ok(7));
        assert_eq!(extent(5, 0, 0), Ok(0));
        // The largest extent that fits.
        assert_eq!(extent(2, 1, usize::MAX - 1), Ok(usize::MAX));
    }

    #[test]
    fn extent_overflow_is_invalid() {
        assert_eq!(extent(2, 1, usize::MAX), Err(INVALID)); // (rows - 1) * stride + cols
        assert_eq!(extent(3, 1, usize::MAX / 2 + 1), Err(INVALID)); // (rows - 1) * stride
        assert_eq!(extent(usize::MAX, 1, 2), Err(INVALID));
        // Even without columns, when `rows > 0` (rule 2 comes before rule 3).
        assert_eq!(extent(3, 0, usize::MAX), Err(INVALID));
    }

    #[test]
    fn non_null_reports_any_null() {
        assert_eq!(non_null(&[]), Ok(()));
        assert_eq!(non_null(&[f(0).cast(), f(1).cast()]), Ok(()));
        assert_eq!(non_null(&[f(0).cast(), null().cast()]), Err(NULL));
        assert_eq!(non_null(&[null().cast(), f(0).cast()]), Err(NULL));
        // Only NULL counts: a misaligned pointer passes here.
        assert_eq!(non_null(&[at::<f32>(BASE + 1).cast()]), Ok(()));
    }

    #[test]
    fn span_is_the_byte_range() {
        assert_eq!(span(f(0), 3), Ok((BASE, BASE + 12)));
        assert_eq!(span(at::<i64>(BASE), 2), Ok((BASE, BASE + 16)));
        assert_eq!(span(at::<u8>(BASE + 1), 1), Ok((BASE + 1, BASE + 2)));
    }

    #[test]
    fn span_null_comes_first() {
        assert_eq!(span(null(), 1), Err(NULL));
        // Before the size checks.
        assert_eq!(span(null(), usize::MAX), Err(NULL));
    }

    #[test]
    fn span_requires_the_alignment_of_the_type() {
        for addr in [BASE + 1, BASE + 2, BASE + 3] {
            assert_eq!(span(at::<f32>(addr), 1), Err(INVALID), "{addr:#x}");
        }
        // Eight bytes for the int64_t targets: four is not enough.
        assert_eq!(span(at::<i64>(BASE + 4), 1), Err(INVALID));
        assert_eq!(span(at::<i64>(BASE + 8), 1), Ok((BASE + 8, BASE + 16)));
        // Alignment comes before size.
        assert_eq!(span(at::<f32>(BASE + 1), usize::MAX), Err(INVALID));
    }

    #[test]
    fn span_is_at_most_isize_max_bytes() {
        let max = isize::MAX as usize;
        assert_eq!(span(at::<u8>(1), max), Ok((1, 1 + max)));
        assert_eq!(span(at::<u8>(1), max + 1), Err(INVALID));
        // Floats: the largest count, and one more (2^63 bytes on 64-bit targets).
        assert_eq!(span(f(0), max / 4), Ok((BASE, BASE + max / 4 * 4)));
        assert_eq!(span(f(0), max / 4 + 1), Err(INVALID));
        // `n * size_of::<T>()` overflowing usize.
        assert_eq!(span(f(0), usize::MAX / 4 + 1), Err(INVALID));
        assert_eq!(span(f(0), usize::MAX), Err(INVALID));
    }

    #[test]
    fn span_must_not_wrap_around_the_address_space() {
        // The range ends at usize::MAX at most: its end must be representable.
        assert_eq!(
            span(at::<u8>(usize::MAX - 1), 1),
            Ok((usize::MAX - 1, usize::MAX))
        );
        assert_eq!(span(at::<u8>(usize::MAX - 1), 2), Err(INVALID));
        assert_eq!(
            span(at::<f32>(usize::MAX - 7), 1),
            Ok((usize::MAX - 7, usize::MAX - 3))
        );
        assert_eq!(span(at::<f32>(usize::MAX - 7), 2), Err(INVALID));
        assert_eq!(span(at::<f32>(usize::MAX - 3), 1), Err(INVALID));
    }

    #[test]
    fn ranges_that_share_a_byte_are_not_disjoint() {
        // Adjacent ranges are disjoint, in both orders.
        assert_eq!(disjoint((0, 8), (8, 16)), Ok(()));
        assert_eq!(disjoint((8, 16), (0, 8)), Ok(()));
        assert_eq!(disjoint((0, 9), (8, 16)), Err(INVALID));
        assert_eq!(disjoint((8, 16), (0, 9)), Err(INVALID));
        // Containment and equality.
        assert_eq!(disjoint((0, 100), (40, 44)), Err(INVALID));
        assert_eq!(disjoint((40, 44), (0, 100)), Err(INVALID));
        assert_eq!(disjoint((4, 8), (4, 8)), Err(INVALID));
    }

    #[test]
    fn an_output_is_exactly_an_input_or_disjoint_from_it() {
        // In place: the same start and the same layout.
        assert_eq!(in_place_or_disjoint((0, 16), (0, 16), true), Ok(()));
        assert_eq!(in_place_or_disjoint((0, 16), (0, 16), false), Err(INVALID));
        // A shifted output overlaps, whatever the layout.
        assert_eq!(in_place_or_disjoint((4, 20), (0, 16), true), Err(INVALID));
        assert_eq!(in_place_or_disjoint((0, 16), (4, 20), true), Err(INVALID));
        // Disjoint, adjacent or not, whatever the layout.
        assert_eq!(in_place_or_disjoint((16, 32), (0, 16), false), Ok(()));
        assert_eq!(in_place_or_disjoint((0, 16), (16, 32), true), Ok(()));
        assert_eq!(in_place_or_disjoint((100, 116), (0, 16), false), Ok(()));
    }

    #[test]
    fn a_pair_reports_null_before_other_pointer_problems() {
        let misaligned = at::<f32>(BASE + 2);
        assert_eq!(check_pair(null(), 4, f(0), 4, false), Err(NULL));
        assert_eq!(check_pair(f(0), 4, null(), 4, false), Err(NULL));
        assert_eq!(check_pair(misaligned, 4, null(), 4, false), Err(NULL));
        assert_eq!(check_pair(null(), 4, misaligned, 4, false), Err(NULL));
        assert_eq!(check_pair(misaligned, 4, f(8), 4, false), Err(INVALID));
        assert_eq!(check_pair(f(0), 4, misaligned, 4, false), Err(INVALID));
        assert_eq!(check_pair(f(0), usize::MAX, f(8), 4, false), Err(INVALID));
    }

    #[test]
    fn a_pair_is_in_place_or_disjoint() {
        assert_eq!(check_pair(f(0), 4, f(0), 4, true), Ok(()));
        assert_eq!(check_pair(f(0), 4, f(0), 4, false), Err(INVALID));
        assert_eq!(check_pair(f(0), 4, f(1), 4, true), Err(INVALID));
        assert_eq!(check_pair(f(1), 4, f(0), 4, true), Err(INVALID));
        assert_eq!(check_pair(f(0), 4, f(4), 4, false), Ok(()));
        assert_eq!(check_pair(f(4), 4, f(0), 4, false), Ok(()));
    }

    #[test]
    fn a_row_of_no_element_accepts_any_pointer() {
        for (x, y) in [(null(), null()), (at(BASE + 1), at(BASE + 3)), (f(0), f(1))] {
            assert_eq!(row_pair(x, y, 0), Ok(false));
        }
    }

    #[test]
    fn a_row_is_checked_as_a_pair() {
        assert_eq!(row_pair(f(0), f(4), 4), Ok(true));
        assert_eq!(row_pair(f(0), f(0), 4), Ok(true)); // in place
        assert_eq!(row_pair(f(0), f(3), 4), Err(INVALID));
        assert_eq!(row_pair(null(), f(4), 1), Err(NULL));
        assert_eq!(row_pair(f(0), null(), 1), Err(NULL));
        assert_eq!(row_pair(at(BASE + 1), f(4), 1), Err(INVALID));
        assert_eq!(row_pair(f(0), at(BASE + 64 + 2), 1), Err(INVALID));
        assert_eq!(
            row_pair(f(0), f(1 << 20), isize::MAX as usize / 4 + 1),
            Err(INVALID)
        );
    }

    #[test]
    fn a_batch_of_no_element_accepts_any_pointer_and_stride() {
        let bad = at::<f32>(BASE + 1);
        // No rows: the strides are not checked either.
        assert_eq!(rows_pair(null(), 0, null(), 0, 0, 8), Ok(false));
        assert_eq!(rows_pair(bad, 3, bad, usize::MAX, 0, 8), Ok(false));
        // No columns, rows whose extent fits.
        assert_eq!(rows_pair(null(), 0, null(), 5, 3, 0), Ok(false));
        assert_eq!(rows_pair(bad, 2, f(1), 2, 3, 0), Ok(false));
    }

    #[test]
    fn a_batch_checks_its_strides_before_its_pointers() {
        for (x_stride, y_stride) in [(3, 4), (4, 3), (0, 0)] {
            assert_eq!(
                rows_pair(null(), x_stride, null(), y_stride, 2, 4),
                Err(INVALID),
                "{x_stride} {y_stride}"
            );
        }
        // A single row still needs `stride >= cols`.
        assert_eq!(rows_pair(f(0), 3, f(8), 4, 1, 4), Err(INVALID));
        // An extent that overflows, even without columns.
        assert_eq!(rows_pair(null(), usize::MAX, null(), 1, 3, 0), Err(INVALID));
        assert_eq!(rows_pair(f(0), usize::MAX, f(8), 1, 2, 1), Err(INVALID));
    }

    #[test]
    fn a_batch_needs_its_pointers() {
        assert_eq!(rows_pair(null(), 4, f(0), 4, 1, 4), Err(NULL));
        assert_eq!(rows_pair(f(0), 4, null(), 4, 1, 4), Err(NULL));
        assert_eq!(rows_pair(at(BASE + 2), 4, null(), 4, 1, 4), Err(NULL));
        assert_eq!(rows_pair(at(BASE + 2), 4, f(64), 4, 1, 4), Err(INVALID));
        assert_eq!(rows_pair(f(0), 4, at(BASE + 258), 4, 1, 4), Err(INVALID));
    }

    #[test]
    fn a_batch_extent_is_at_most_isize_max_bytes() {
        let stride = isize::MAX as usize / 4; // two rows: just above isize::MAX bytes
        assert_eq!(rows_pair(f(0), stride, f(0), stride, 1, 1), Ok(true));
        assert_eq!(rows_pair(f(0), stride, f(0), stride, 2, 1), Err(INVALID));
    }

    #[test]
    fn one_row_pair_is_rows_pair_of_one_row() {
        let bad = at::<f32>(BASE + 1);
        let huge = isize::MAX as usize / 4 + 1;
        let pointers = [null(), f(0), f(2), f(4), f(8), bad, f(huge - 4)];
        let sizes = [0, 1, 3, 4, 5, 8, huge, usize::MAX];
        for &x in &pointers {
            for &y in &pointers {
                for &cols in &sizes[..6] {
                    for &xs in &sizes {
                        for &ys in &sizes {
                            assert_eq!(
                                one_row_pair(x, xs, y, ys, cols),
                                rows_pair(x, xs, y, ys, 1, cols),
                                "{x:?} {xs} {y:?} {ys} {cols}"
                            );
                        }
                    }
                }
                assert_eq!(
                    one_row_pair(x, huge, y, huge, huge),
                    rows_pair(x, huge, y, huge, 1, huge)
                );
            }
        }
    }

    #[test]
    fn a_batch_is_in_place_with_the_same_stride_or_disjoint() {
        assert_eq!(rows_pair(f(0), 4, f(0), 4, 3, 4), Ok(true));
        assert_eq!(rows_pair(f(0), 8, f(0), 8, 3, 4), Ok(true));
        // The same base with another stride is no in-place layout.
        assert_eq!(rows_pair(f(0), 4, f(0), 8, 3, 4), Err(INVALID));
        // Extents compared, not rows: interleaved rows that share no element still overlap.
        assert_eq!(rows_pair(f(0), 8, f(4), 8, 3, 4), Err(INVALID));
        // Adjacent extents (x spans 2 * 8 + 4 = 20 floats).
        assert_eq!(rows_pair(f(0), 8, f(20), 4, 3, 4), Ok(true));
        assert_eq!(rows_pair(f(0), 8, f(19), 4, 3, 4), Err(INVALID));
        assert_eq!(rows_pair(f(20), 4, f(0), 8, 3, 4), Ok(true));
    }

    #[test]
    fn a_backward_batch_of_no_element_accepts_any_pointer_and_stride() {
        assert_eq!(rows_grad(null(), 0, null(), 0, null(), 0, 0, 4), Ok(false));
        assert_eq!(rows_grad(null(), 0, null(), 0, null(), 0, 3, 0), Ok(false));
        let bad = at::<f32>(BASE + 1);
        assert_eq!(rows_grad(bad, 1, bad, 1, bad, 1, 2, 0), Ok(false));
    }

    #[test]
    fn a_backward_batch_checks_its_three_strides_first() {
        for strides in [(3, 4, 4), (4, 3, 4), (4, 4, 3)] {
            let (a, b, c) = strides;
            assert_eq!(
                rows_grad(null(), a, null(), b, null(), c, 2, 4),
                Err(INVALID),
                "{strides:?}"
            );
        }
        assert_eq!(
            rows_grad(null(), 1, null(), usize::MAX, null(), 1, 3, 0),
            Err(INVALID)
        );
    }

    #[test]
    fn a_backward_batch_needs_its_three_pointers() {
        assert_eq!(rows_grad(null(), 4, f(8), 4, f(16), 4, 1, 4), Err(NULL));
        assert_eq!(rows_grad(f(0), 4, null(), 4, f(16), 4, 1, 4), Err(NULL));
        assert_eq!(rows_grad(f(0), 4, f(8), 4, null(), 4, 1, 4), Err(NULL));
        assert_eq!(
            rows_grad(at(BASE + 1), 4, f(8), 4, null(), 4, 1, 4),
            Err(NULL)
        );
        assert_eq!(
            rows_grad(at(BASE + 1), 4, f(8), 4, f(16), 4, 1, 4),
            Err(INVALID)
        );
        assert_eq!(
            rows_grad(f(0), 4, at(BASE + 33), 4, f(16), 4, 1, 4),
            Err(INVALID)
        );
        assert_eq!(
            rows_grad(f(0), 4, f(8), 4, at(BASE + 65), 4, 1, 4),
            Err(INVALID)
        );
    }

    #[test]
    fn a_backward_batch_writes_in_place_of_an_input_or_apart() {
        // Disjoint.
        assert_eq!(rows_grad(f(0), 4, f(8), 4, f(16), 4, 2, 4), Ok(true));
        // In place of `y` or of `dy`, with its stride.
        assert_eq!(rows_grad(f(0), 4, f(8), 4, f(0), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(f(0), 4, f(8), 4, f(8), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(f(0), 4, f(16), 8, f(16), 8, 2, 4), Ok(true));
        // In place of one input but overlapping the other.
        assert_eq!(rows_grad(f(0), 4, f(4), 4, f(0), 4, 2, 4), Err(INVALID));
        // The same base with another stride.
        assert_eq!(rows_grad(f(0), 4, f(16), 4, f(0), 8, 2, 4), Err(INVALID));
        // Partial overlap with either input.
        assert_eq!(rows_grad(f(0), 4, f(16), 4, f(2), 4, 2, 4), Err(INVALID));
        assert_eq!(rows_grad(f(0), 4, f(16), 4, f(18), 4, 2, 4), Err(INVALID));
        // The inputs may overlap each other freely.
        assert_eq!(rows_grad(f(0), 4, f(0), 4, f(16), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(f(0), 4, f(2), 4, f(16), 4, 2, 4), Ok(true));
        // dx in place of both when they are one array.
        assert_eq!(rows_grad(f(0), 4, f(0), 4, f(0), 4, 2, 4), Ok(true));
    }

    #[test]
    fn logsumexp_always_needs_its_result() {
        assert_eq!(logsumexp_args(null(), 0, null()), Err(NULL));
        assert_eq!(logsumexp_args(f(0), 4, null()), Err(NULL));
        assert_eq!(logsumexp_args(at::<f32>(BASE + 1), 4, null()), Err(NULL));
        assert_eq!(logsumexp_args(null(), 4, at(BASE + 1)), Err(NULL));
        assert_eq!(logsumexp_args(null(), 4, f(8)), Err(NULL));
        // An empty row: `x` is not looked at.
        assert_eq!(logsumexp_args(null(), 0, f(8)), Ok(()));
        assert_eq!(logsumexp_args(at::<f32>(BASE + 1), 0, f(8)), Ok(()));
        // `result` is checked even then.
        assert_eq!(logsumexp_args(null(), 0, at(BASE + 1)), Err(INVALID));
    }

    #[test]
    fn logsumexp_checks_its_input_and_allows_result_inside_it() {
        assert_eq!(logsumexp_args(f(0), 4, f(8)), Ok(()));
        assert_eq!(logsumexp_args(f(0), 4, f(2)), Ok(()));
        assert_eq!(logsumexp_args(f(0), 4, f(0)), Ok(()));
        assert_eq!(logsumexp_args(at::<f32>(BASE + 2), 4, f(8)), Err(INVALID));
        assert_eq!(
            logsumexp_args(f(0), isize::MAX as usize / 4 + 1, f(8)),
            Err(INVALID)
        );
        assert_eq!(
            logsumexp_args(at::<f32>(usize::MAX - 3), 1, f(8)),
            Err(INVALID)
        );
    }

    #[test]
    fn cross_entropy_needs_a_class_first() {
        assert_eq!(
            cross_entropy_args(null(), 0, 0, null(), null()),
            Err(INVALID)
        );
        assert_eq!(cross_entropy_args(f(0), 0, 0, f(8), null()), Err(INVALID));
        assert_eq!(
            cross_entropy_args(null(), 4, 4, null(), null()),
            Err(INVALID)
        );
        assert_eq!(
            cross_entropy_args(f(0), 4, usize::MAX, f(8), null()),
            Err(INVALID)
        );
        assert_eq!(cross_entropy_args(f(0), 4, 3, f(8), null()), Ok(()));
        assert_eq!(cross_entropy_args(f(0), 1, 0, f(8), null()), Ok(()));
    }

    #[test]
    fn cross_entropy_needs_logits_and_loss_but_not_dlogits() {
        assert_eq!(cross_entropy_args(null(), 4, 0, f(8), f(16)), Err(NULL));
        assert_eq!(cross_entropy_args(f(0), 4, 0, null(), f(16)), Err(NULL));
        assert_eq!(
            cross_entropy_args(at(BASE + 1), 4, 0, null(), f(16)),
            Err(NULL)
        );
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(8), null()), Ok(()));
        assert_eq!(
            cross_entropy_args(at(BASE + 1), 4, 0, f(8), null()),
            Err(INVALID)
        );
        assert_eq!(
            cross_entropy_args(f(0), 4, 0, at(BASE + 33), null()),
            Err(INVALID)
        );
        assert_eq!(
            cross_entropy_args(f(0), 4, 0, f(8), at(BASE + 65)),
            Err(INVALID)
        );
        assert_eq!(
            cross_entropy_args(f(0), isize::MAX as usize / 4 + 1, 0, f(8), null()),
            Err(INVALID)
        );
    }

    #[test]
    fn cross_entropy_gradient_is_in_place_or_apart_and_loss_outside_it() {
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(8), f(16)), Ok(()));
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(8), f(0)), Ok(()));
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(8), f(1)), Err(INVALID));
        assert_eq!(cross_entropy_args(f(1), 4, 0, f(8), f(0)), Err(INVALID));
        // `loss` may point into `logits` (written last), not into `dlogits`.
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(2), null()), Ok(()));
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(2), f(16)), Ok(()));
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(18), f(16)), Err(INVALID));
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(2), f(0)), Err(INVALID));
        assert_eq!(cross_entropy_args(f(0), 4, 0, f(20), f(16)), Ok(()));
    }

    /// `cross_entropy_rows_args` with a valid batch of 2 rows of 4 logits (stride 4), targets,
    /// losses and gradient (stride 4) apart, changed by `edit`.
    fn ce_rows(edit: impl FnOnce(&mut CeRows)) -> Checked<bool> {
        let mut a = CeRows {
            logits: f(0),
            logits_stride: 4,
            rows: 2,
            cols: 4,
            targets: at(BASE + 64),
            label_smoothing: 0.0,
            losses: f(32),
            dlogits: f(40),
            dlogits_stride: 4,
        };
        edit(&mut a);
        cross_entropy_rows_args(
            a.logits,
            a.logits_stride,
            a.rows,
            a.cols,
            a.targets,
            a.label_smoothing,
            a.losses,
            a.dlogits,
            a.dlogits_stride,
        )
    }

    struct CeRows {
        logits: *mut f32,
        logits_stride: usize,
        rows: usize,
        cols: usize,
        targets: *mut i64,
        label_smoothing: f32,
        losses: *mut f32,
        dlogits: *mut f32,
        dlogits_stride: usize,
    }

    /// Every pointer NULL and every stride too small.
    fn nothing_valid(a: &mut CeRows) {
        a.logits = null();
        a.targets = std::ptr::null_mut();
        a.losses = null();
        a.dlogits = null();
        a.logits_stride = 0;
        a.dlogits_stride = 0;
    }

    #[test]
    fn cross_entropy_rows_accepts_a_valid_batch() {
        assert_eq!(ce_rows(|_| ()), Ok(true));
        assert_eq!(ce_rows(|a| a.label_smoothing = 1.0), Ok(true));
        assert_eq!(ce_rows(|a| a.dlogits = null()), Ok(true));
    }

    #[test]
    fn cross_entropy_rows_checks_smoothing_and_classes_first() {
        for eps in [f32::NAN, -0.5, 1.5, f32::INFINITY] {
            assert_eq!(ce_rows(|a| a.label_smoothing = eps), Err(INVALID), "{eps}");
            // Before anything else, even for an empty batch.
            assert_eq!(
                ce_rows(|a| {
                    nothing_valid(a);
                    a.rows = 0;
                    a.label_smoothing = eps;
                }),
                Err(INVALID)
            );
        }
        assert_eq!(ce_rows(|a| a.cols = 0), Err(INVALID));
        assert_eq!(
            ce_rows(|a| {
                nothing_valid(a);
                a.rows = 0;
                a.cols = 0;
            }),
            Err(INVALID)
        );
    }

    #[test]
    fn cross_entropy_rows_of_no_row_accepts_any_pointer_and_stride() {
        assert_eq!(
            ce_rows(|a| {
                nothing_valid(a);
                a.rows = 0;
            }),
            Ok(false)
        );
    }

    #[test]
    fn cross_entropy_rows_checks_strides_before_pointers() {
        assert_eq!(
            ce_rows(|a| {
                nothing_valid(a);
                a.dlogits = f(40);
                a.dlogits_stride = 4;
            }),
            Err(INVALID)
        );
        assert_eq!(ce_rows(|a| a.dlogits_stride = 3), Err(INVALID));
        assert_eq!(ce_rows(|a| a.logits_stride = usize::MAX), Err(INVALID));
        // The stride of a NULL `dlogits` is not used, so not checked.
        assert_eq!(
            ce_rows(|a| {
                a.dlogits = null();
                a.dlogits_stride = 0;
            }),
            Ok(true)
        );
    }

    #[test]
    fn cross_entropy_rows_needs_logits_targets_and_losses() {
        assert_eq!(ce_rows(|a| a.logits = null()), Err(NULL));
        assert_eq!(ce_rows(|a| a.targets = std::ptr::null_mut()), Err(NULL));
        assert_eq!(ce_rows(|a| a.losses = null()), Err(NULL));
        // NULL before alignment.
        assert_eq!(
            ce_rows(|a| {
                a.logits = at(BASE + 1);
                a.losses = null();
            }),
            Err(NULL)
        );
    }

    #[test]
    fn cross_entropy_rows_checks_alignment_and_sizes() {
        assert_eq!(ce_rows(|a| a.logits = at(BASE + 1)), Err(INVALID));
        // `int64_t` targets need 8 bytes.
        assert_eq!(ce_rows(|a| a.targets = at(BASE + 68)), Err(INVALID));
        assert_eq!(ce_rows(|a| a.losses = at(BASE + 130)), Err(INVALID));
        assert_eq!(ce_rows(|a| a.dlogits = at(BASE + 161)), Err(INVALID));
        assert_eq!(
            ce_rows(|a| a.logits_stride = isize::MAX as usize / 4),
            Err(INVALID)
        );
    }

    #[test]
    fn cross_entropy_rows_outputs_overlap_nothing_but_in_place_logits() {
        // `dlogits` in place on `logits` with the same stride, not with another.
        assert_eq!(ce_rows(|a| a.dlogits = f(0)), Ok(true));
        assert_eq!(
            ce_rows(|a| {
                a.dlogits = f(0);
                a.dlogits_stride = 5;
            }),
            Err(INVALID)
        );
        assert_eq!(ce_rows(|a| a.dlogits = f(2)), Err(INVALID));
        // `dlogits` over the targets or the losses.
        assert_eq!(ce_rows(|a| a.dlogits = f(14)), Err(INVALID));
        assert_eq!(ce_rows(|a| a.dlogits = f(30)), Err(INVALID));
        // `losses` over the logits, the targets or `dlogits`.
        assert_eq!(ce_rows(|a| a.losses = f(6)), Err(INVALID));
        assert_eq!(ce_rows(|a| a.losses = f(17)), Err(INVALID));
        assert_eq!(ce_rows(|a| a.losses = f(40)), Err(INVALID));
        assert_eq!(ce_rows(|a| a.losses = f(8)), Ok(true)); // right after the logits
                                                            // `losses` in the logits is refused even without `dlogits`.
        assert_eq!(
            ce_rows(|a| {
                a.dlogits = null();
                a.losses = f(0);
            }),
            Err(INVALID)
        );
        // The targets are an input: they may overlap the logits.
        assert_eq!(ce_rows(|a| a.targets = at(BASE + 8)), Ok(true));
    }

    /// A 16-bit pointer `i` values after `BASE`.
    fn h(i: usize) -> *mut u16 {
        at(BASE + 2 * i)
    }

    /// A 16-bit pointer at the odd address `BASE + odd`.
    fn odd(odd: usize) -> *mut u16 {
        assert_eq!(odd % 2, 1);
        at(BASE + odd)
    }

    #[test]
    fn sixteen_bit_rows_need_two_byte_alignment() {
        assert_eq!(row_pair(h(0), h(8), 4), Ok(true));
        // Two bytes are enough: addresses no float could have.
        assert_eq!(row_pair(h(1), h(9), 4), Ok(true));
        assert_eq!(span(h(1), 1), Ok((BASE + 2, BASE + 4)));
        assert_eq!(row_pair(odd(1), h(8), 4), Err(INVALID));
        assert_eq!(row_pair(h(0), odd(17), 4), Err(INVALID));
        assert_eq!(rows_pair(odd(3), 4, h(64), 4, 2, 4), Err(INVALID));
        assert_eq!(rows_grad(h(0), 4, odd(33), 4, h(64), 4, 2, 4), Err(INVALID));
        // NULL comes first; nothing touched accepts anything.
        assert_eq!(row_pair(odd(1), std::ptr::null_mut(), 4), Err(NULL));
        assert_eq!(row_pair(odd(1), std::ptr::null_mut(), 0), Ok(false));
        assert_eq!(rows_pair(odd(1), 4, odd(3), 4, 2, 0), Ok(false));
    }

    #[test]
    fn sixteen_bit_sizes_count_two_bytes_a_value() {
        let max = isize::MAX as usize;
        assert_eq!(span(h(0), max / 2), Ok((BASE, BASE + max / 2 * 2)));
        assert_eq!(span(h(0), max / 2 + 1), Err(INVALID));
        assert_eq!(span(h(0), usize::MAX / 2 + 1), Err(INVALID));
        assert_eq!(row_pair(h(0), h(1 << 20), max / 2 + 1), Err(INVALID));
        // A count that would be too large in floats is fine in 16-bit values.
        assert_eq!(
            span(h(0), max / 4 + 1),
            Ok((BASE, BASE + (max / 4 + 1) * 2))
        );
        // Two rows just above isize::MAX bytes.
        let stride = max / 2;
        assert_eq!(rows_pair(h(0), stride, h(0), stride, 1, 1), Ok(true));
        assert_eq!(rows_pair(h(0), stride, h(0), stride, 2, 1), Err(INVALID));
        // No wrap-around: the last aligned value ends one byte before the top.
        let top = at::<u16>(usize::MAX - 3);
        assert_eq!(span(top, 1), Ok((usize::MAX - 3, usize::MAX - 1)));
        assert_eq!(span(top, 2), Err(INVALID));
        assert_eq!(span(at::<u16>(usize::MAX - 1), 1), Err(INVALID));
    }

    #[test]
    fn sixteen_bit_overlaps_are_in_two_byte_steps() {
        assert_eq!(row_pair(h(0), h(4), 4), Ok(true));
        assert_eq!(row_pair(h(0), h(3), 4), Err(INVALID));
        assert_eq!(row_pair(h(3), h(0), 4), Err(INVALID));
        assert_eq!(row_pair(h(0), h(0), 4), Ok(true));
        // x spans 2 * 8 + 4 = 20 values.
        assert_eq!(rows_pair(h(0), 8, h(20), 4, 3, 4), Ok(true));
        assert_eq!(rows_pair(h(0), 8, h(19), 4, 3, 4), Err(INVALID));
        assert_eq!(rows_pair(h(0), 8, h(0), 8, 3, 4), Ok(true));
        assert_eq!(rows_pair(h(0), 8, h(0), 4, 3, 4), Err(INVALID));
        // Backward: in place of `dy` or of `y`, or apart.
        assert_eq!(rows_grad(h(0), 4, h(8), 4, h(16), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(h(0), 4, h(8), 4, h(8), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(h(0), 4, h(8), 4, h(0), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(h(0), 4, h(0), 4, h(0), 4, 2, 4), Ok(true));
        assert_eq!(rows_grad(h(0), 4, h(8), 4, h(6), 4, 2, 4), Err(INVALID));
        assert_eq!(rows_grad(h(0), 4, h(8), 4, h(15), 4, 2, 4), Err(INVALID));
    }

    #[test]
    fn float_results_beside_sixteen_bit_rows() {
        // `result` is a float (4-byte aligned) and may point into the 16-bit row.
        assert_eq!(logsumexp_args(h(1), 4, f(8)), Ok(()));
        assert_eq!(logsumexp_args(h(0), 4, f(0)), Ok(()));
        assert_eq!(logsumexp_args(h(0), 4, h(1).cast()), Err(INVALID));
        assert_eq!(logsumexp_args(odd(1), 4, f(8)), Err(INVALID));
        assert_eq!(logsumexp_args(odd(1), 0, f(8)), Ok(()));
        // Logits h(0..4) are bytes [BASE, BASE + 8), the gradient h(8..12) [BASE + 16, + 24):
        // `loss` may lie in the logits, not in the gradient.
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(1), h(8)), Ok(()));
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(4), h(8)), Err(INVALID));
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(5), h(8)), Err(INVALID));
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(6), h(8)), Ok(()));
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(6), h(0)), Ok(()));
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(6), h(1)), Err(INVALID));
        assert_eq!(cross_entropy_args(h(0), 4, 3, f(6), odd(17)), Err(INVALID));
        assert_eq!(cross_entropy_args(h(0), 4, 4, f(6), h(8)), Err(INVALID));
    }

    #[test]
    fn sixteen_bit_cross_entropy_rows() {
        // 2 rows of 4 logits at h(0) (stride 4: bytes [BASE, BASE + 16)), targets at
        // BASE + 64, losses at f(32) = BASE + 128, the gradient at h(40) = BASE + 80.
        let ce = |logits: *mut u16, losses: *mut f32, dlogits: *mut u16, ds: usize| {
            let targets = at::<i64>(BASE + 64);
            cross_entropy_rows_args(logits, 4, 2, 4, targets, 0.1, losses, dlogits, ds)
        };
        assert_eq!(ce(h(0), f(32), h(40), 4), Ok(true));
        assert_eq!(ce(h(0), f(32), h(0), 4), Ok(true));
        assert_eq!(ce(h(0), f(32), h(0), 8), Err(INVALID));
        assert_eq!(ce(h(0), f(32), h(1), 4), Err(INVALID));
        assert_eq!(ce(h(0), f(32), odd(81), 4), Err(INVALID));
        assert_eq!(ce(odd(1), f(32), h(40), 4), Err(INVALID));
        // `losses` over the logits, over the gradient, or right after the logits.
        assert_eq!(ce(h(0), f(2), h(40), 4), Err(INVALID));
        assert_eq!(ce(h(0), f(21), h(40), 4), Err(INVALID));
        assert_eq!(ce(h(0), f(4), h(40), 4), Ok(true));
        // The gradient over the targets.
        assert_eq!(ce(h(0), f(32), h(30), 4), Err(INVALID));
    }

    #[test]
    fn a_class_lies_in_zero_cols() {
        assert_eq!(class(0, 5), Some(0));
        assert_eq!(class(4, 5), Some(4));
        assert_eq!(class(5, 5), None);
        assert_eq!(class(-1, 5), None);
        assert_eq!(class(i64::MIN, 5), None);
        assert_eq!(class(i64::MAX, 5), None);
        assert_eq!(class(0, 0), None);
    }

    #[test]
    fn targets_are_classes_or_ignored() {
        assert_eq!(targets_arg(&[], -100, 5), Ok(()));
        assert_eq!(targets_arg(&[0, 4, -100, 2], -100, 5), Ok(()));
        // Any value can be the ignored one, inside or outside `[0, cols)`.
        assert_eq!(targets_arg(&[7, 0], 7, 5), Ok(()));
        assert_eq!(targets_arg(&[3, 0], 3, 5), Ok(()));
        assert_eq!(targets_arg(&[0, 5], -100, 5), Err(INVALID));
        assert_eq!(targets_arg(&[-1, 0], -100, 5), Err(INVALID));
        assert_eq!(targets_arg(&[0, 1, 2, -101], -100, 5), Err(INVALID));
        assert_eq!(targets_arg(&[i64::MAX], -100, 5), Err(INVALID));
    }
}
