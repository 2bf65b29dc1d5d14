//! Static strings for C callers: the text of a `softmax_status` and the library version.

use std::ffi::{c_char, CStr};

use super::{
    softmax_status, SOFTMAX_STATUS_INTERNAL_ERROR, SOFTMAX_STATUS_INVALID_ARGUMENT,
    SOFTMAX_STATUS_NULL_POINTER, SOFTMAX_STATUS_OK, SOFTMAX_STATUS_UNSUPPORTED_ISA,
};

/// A short English description of `status`, such as "ok" or "null pointer"; "unknown status"
/// for a value that is no `SOFTMAX_STATUS_*`. A static NUL-terminated string (never NULL,
/// never to be freed).
#[no_mangle]
pub extern "C" fn softmax_status_string(status: softmax_status) -> *const c_char {
    let text: &'static CStr = match status {
        SOFTMAX_STATUS_OK => c"ok",
        SOFTMAX_STATUS_NULL_POINTER => c"null pointer",
        SOFTMAX_STATUS_INVALID_ARGUMENT => c"invalid argument",
        SOFTMAX_STATUS_UNSUPPORTED_ISA => c"unsupported ISA",
        SOFTMAX_STATUS_INTERNAL_ERROR => c"internal error",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// The library version ("MAJOR.MINOR.PATCH" of the Rust crate). A static NUL-terminated
/// string (never NULL, never to be freed).
#[no_mangle]
pub extern "C" fn softmax_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the version contains a NUL byte"),
        };
    VERSION.as_ptr()
}
