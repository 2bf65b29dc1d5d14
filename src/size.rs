//! The one parser of sizes written by people or by the kernel: `4096`, `64K`, `16M`, `1G`.
//!
//! The library reads the cache sizes from Linux sysfs with it (`src/tuning.rs`, e.g. `32K\n`);
//! the report (`examples/report.rs`, `--sizes`), the benchmarks (`SOFTMAX_BENCH_MAX_LEN`) and
//! `tests/avx512.rs` include this file by path (`#[path = "../src/size.rs"] mod size;`), so it
//! depends on nothing but `core`.
//!
//! Syntax: optional whitespace, a decimal number (what `usize::from_str` takes: digits, with
//! an optional leading `+`), optional whitespace, an optional binary suffix, optional
//! whitespace. The suffixes, either case: `K` (2^10), `M` (2^20), `G` (2^30). Nothing else is
//! accepted (no fractions, no `KB` or `KiB`), and a size that does not fit in `usize` is
//! rejected rather than wrapped. Zero is a size; callers that need a positive one check that.

/// The size `s` denotes (see the module documentation), or `None` when it is malformed or
/// does not fit in `usize`.
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.trim_end()
        .parse::<usize>()
        .ok()?
        .checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    // `super::parse_size` in full: the benches include this file, and their builds under
    // `cfg(test)` without a test harness drop the tests (an import would be unused there).

    #[test]
    fn plain_numbers() {
        assert_eq!(super::parse_size("512"), Some(512));
        assert_eq!(super::parse_size("0"), Some(0));
        assert_eq!(super::parse_size(" 4096 "), Some(4096));
        assert_eq!(super::parse_size(&usize::MAX.to_string()), Some(usize::MAX));
    }

    #[test]
    fn binary_suffixes_in_either_case() {
        for (s, v) in [
            ("64K", 64 << 10),
            ("64k", 64 << 10),
            ("16M", 16 << 20),
            ("16m", 16 << 20),
            ("1G", 1 << 30),
            ("1g", 1 << 30),
            ("0K", 0),
        ] {
            assert_eq!(super::parse_size(s), Some(v), "{s:?}");
        }
    }

    #[test]
    fn whitespace_around_and_before_the_suffix() {
        // sysfs writes `32K\n`; people write `4 K`.
        assert_eq!(super::parse_size("32K\n"), Some(32 << 10));
        assert_eq!(super::parse_size("\t4 K "), Some(4 << 10));
        assert_eq!(super::parse_size("1024K"), Some(1 << 20));
    }

    #[test]
    fn malformed_sizes_are_none() {
        for s in [
            "", " ", "K", "x", "-1", "1.5K", "1KB", "1KiB", "1T", "K1", "1 2", "0x10", "1e3",
        ] {
            assert_eq!(super::parse_size(s), None, "{s:?}");
        }
    }

    #[test]
    fn sizes_beyond_usize_are_none() {
        let max_k = usize::MAX >> 10;
        assert_eq!(super::parse_size(&format!("{max_k}K")), Some(max_k << 10));
        assert_eq!(super::parse_size(&format!("{}K", max_k + 1)), None);
        assert_eq!(
            super::parse_size(&format!("{}G", (usize::MAX >> 30) + 1)),
            None
        );
        assert_eq!(super::parse_size(&format!("{}0", usize::MAX)), None);
    }
}
