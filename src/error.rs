//! The error type of the safe API.

use std::fmt;

use crate::Isa;

/// Why a call was refused. No kernel ran and no output was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An output (or second input) slice does not have the length the operation needs.
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
        }
    }
}

impl std::error::Error for Error {}
