//! x86_64 kernels: AVX2+FMA (and AVX-512 when compiled in).

pub(crate) mod avx2;
pub(crate) mod avx512;
