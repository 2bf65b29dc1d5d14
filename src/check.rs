//! Argument checks shared by the Rust API and the C ABI: slice lengths and batch extents.

use crate::Error;

/// The number of elements a batch of `rows` rows of `cols` values `stride` apart spans.
pub(crate) fn batch_extent(rows: usize, cols: usize, stride: usize) -> Result<usize, Error> {
    if rows == 0 {
        return Ok(0);
    }
    if stride < cols {
        return Err(Error::InvalidStride { stride, cols });
    }
    (rows - 1)
        .checked_mul(stride)
        .and_then(|v| v.checked_add(cols))
        .ok_or(Error::InvalidStride { stride, cols })
}

/// The error of a slice `argument` of length `actual` where `expected` are needed.
pub(crate) fn length(argument: &'static str, expected: usize, actual: usize) -> Error {
    Error::SliceLength {
        argument,
        expected,
        actual,
    }
}

/// `Ok` when the slice `argument` of length `actual` holds at least `expected` elements.
pub(crate) fn check_len(
    argument: &'static str,
    expected: usize,
    actual: usize,
) -> Result<(), Error> {
    if actual < expected {
        Err(Error::SliceLength {
            argument,
            expected,
            actual,
        })
    } else {
        Ok(())
    }
}
