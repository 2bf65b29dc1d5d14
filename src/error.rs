//! The error type of the safe API.

use std::fmt;

use crate::Isa;

/// Why a call was refused. No kernel ran and no output was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An output (or second input) slice does not have the length the operation needs.
    ///
    /// Returned by 0.1; from 0.2 on the crate returns [`Error::SliceLength`], which also names
    /// the slice. Kept so that code which names it still compiles.
    LengthMismatch {
        /// The length required.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A row stride is smaller than the row length, or the batch's extent overflows `usize`.
    InvalidStride {
        /// The stride given.
        stride: usize,
        /// The row length.
        cols: usize,
    },
    /// The ISA is not supported by this CPU or not compiled into this build.
    UnsupportedIsa(Isa),
    /// An argument is out of its domain (the message says which).
    InvalidArgument(&'static str),
    /// The slice `argument` (the parameter's name: `"y"`, `"dx"`, `"targets"`, ...) is too
    /// short or too long: the operation needs `expected` elements (for a batch, at least
    /// `expected`: the extent of its rows) and it has `actual`.
    SliceLength {
        /// The name of the parameter, as in the function's signature.
        argument: &'static str,
        /// The length required (the minimum, for a batch).
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// Cross-entropy: the target of row `row` is not a class of the row (`0..classes`) nor
    /// the ignored index. One-row functions report `row: 0`.
    TargetOutOfRange {
        /// The row (0 for the one-row functions).
        row: usize,
        /// The target given.
        target: i64,
        /// The number of classes (the row length).
        classes: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LengthMismatch { expected, actual } => {
                write!(
                    f,
                    "slice length {actual} does not match the required {expected}"
                )
            }
            Error::InvalidStride { stride, cols } => {
                write!(
                    f,
                    "row stride {stride} is smaller than the row length {cols} or overflows"
                )
            }
            Error::UnsupportedIsa(isa) => write!(f, "ISA {} is not supported here", isa.name()),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::SliceLength {
                argument,
                expected,
                actual,
            } => write!(
                f,
                "slice `{argument}` has length {actual}, the operation needs {expected}"
            ),
            Error::TargetOutOfRange {
                row,
                target,
                classes,
            } => write!(
                f,
                "the target {target} of row {row} is not a class of the row (0..{classes})"
            ),
        }
    }
}

impl std::error::Error for Error {}
