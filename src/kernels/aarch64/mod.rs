//! aarch64 kernels (NEON).
