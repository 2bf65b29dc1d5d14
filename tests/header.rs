//! The committed `include/softmax.h` must be exactly what `build.rs` generates from
//! `src/ffi/`.

use std::path::Path;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/softmax.h"));

#[test]
fn committed_header_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/softmax.h");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if committed != GENERATED {
        let line = committed
            .lines()
            .zip(GENERATED.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(GENERATED.lines().count()));
        panic!(
            "include/softmax.h is out of date with src/ffi/ (first difference at line {}); \
             regenerate it with `SOFTMAX_WRITE_HEADER=1 cargo build` and commit it",
            line + 1
        );
    }
}

#[test]
fn header_declares_the_whole_abi() {
    let names = [
        "#ifndef SOFTMAX_H",
        "extern \"C\"",
        "#include <stdint.h>",
        "#include <stddef.h>",
        "typedef uint32_t softmax_status;",
        "#define SOFTMAX_STATUS_OK 0",
        "#define SOFTMAX_STATUS_NULL_POINTER 1",
        "#define SOFTMAX_STATUS_INVALID_ARGUMENT 2",
        "#define SOFTMAX_STATUS_UNSUPPORTED_ISA 3",
        "#define SOFTMAX_STATUS_INTERNAL_ERROR 4",
        "#define SOFTMAX_ALGORITHM_AUTO 0",
        "#define SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE 1",
        "#define SOFTMAX_ALGORITHM_THREE_PASS_RELOAD 2",
        "#define SOFTMAX_ALGORITHM_TWO_PASS 3",
        "#define SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED 4",
        "#define SOFTMAX_ISA_SCALAR 0",
        "#define SOFTMAX_ISA_AVX2 1",
        "#define SOFTMAX_ISA_AVX512 2",
        "#define SOFTMAX_ISA_NEON 3",
        "softmax_status softmax_f32(const float *x, float *y, size_t n);",
        "softmax_status softmax_f32_ex(const float *x, float *y, size_t n, uint32_t algorithm);",
        "softmax_status log_softmax_f32(const float *x, float *y, size_t n);",
        "softmax_status logsumexp_f32(const float *x, size_t n, float *result);",
        "softmax_status softmax_rows_f32(",
        "softmax_status log_softmax_rows_f32(",
        "uint32_t softmax_get_isa(void);",
        "int softmax_isa_supported(uint32_t isa);",
        "softmax_status softmax_set_isa(uint32_t isa);",
        "const char *softmax_isa_name(uint32_t isa);",
        "const char *softmax_status_string(softmax_status status);",
        "const char *softmax_version(void);",
    ];
    for name in names {
        let at = GENERATED
            .find(name)
            .unwrap_or_else(|| panic!("the header lacks `{name}`"));
        // Every constant, typedef and function carries a doc comment.
        if !name.starts_with("#i") && !name.starts_with("extern") {
            let before = GENERATED[..at].trim_end();
            assert!(before.ends_with("*/"), "`{name}` has no doc comment");
        }
    }
    // The overview (ISA choice and special values) opens the header.
    for text in ["SOFTMAX_ISA", "AVX-512 > AVX2+FMA > scalar", "NaN", "-inf"] {
        assert!(
            GENERATED.contains(text),
            "the header overview lacks {text:?}"
        );
    }
}
