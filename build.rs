//! Generates the C header `softmax.h` from the C ABI in `src/ffi/` with cbindgen (see
//! `cbindgen.toml`): `src/ffi/mod.rs` first (its `//!` docs open the header), then the other
//! files of the folder in name order.
//!
//! The header always goes to `$OUT_DIR/softmax.h` (the test `tests/header.rs` compares it with
//! the committed `include/softmax.h`); with `SOFTMAX_WRITE_HEADER=1` it is also written to
//! `include/softmax.h`. The header only depends on `src/ffi/` and `cbindgen.toml`, never on
//! the target, so cross builds produce the same file.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const WRITE_ENV: &str = "SOFTMAX_WRITE_HEADER";

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={WRITE_ENV}");

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let ffi_dir = manifest_dir.join("src").join("ffi");
    let ffi = ffi_dir.join("mod.rs");
    let mut sources = vec![ffi.clone()];
    let mut rest: Vec<PathBuf> = fs::read_dir(&ffi_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", ffi_dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && *p != ffi)
        .collect();
    rest.sort();
    for p in &rest {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    // cbindgen follows `mod name;` lines by itself: a file mod.rs declares is parsed through
    // that declaration (at its place), and passing it again would duplicate its items.
    let mod_source =
        fs::read_to_string(&ffi).unwrap_or_else(|e| panic!("cannot read {}: {e}", ffi.display()));
    let declared = |p: &PathBuf| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|stem| mod_source.lines().any(|l| declares_mod(l, stem)))
    };
    sources.extend(rest.into_iter().filter(|p| !declared(p)));
    let config_path = manifest_dir.join("cbindgen.toml");

    let mut config = cbindgen::Config::from_file(&config_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", config_path.display()));
    let source =
        fs::read_to_string(&ffi).unwrap_or_else(|e| panic!("cannot read {}: {e}", ffi.display()));
    if config.header.is_none() {
        config.header = Some(module_docs_comment(&source));
    }

    let mut builder = cbindgen::Builder::new().with_config(config);
    for src in &sources {
        builder = builder.with_src(src);
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on {}: {e}", ffi.display()));
    let mut header = Vec::new();
    bindings.write(&mut header);

    write_if_changed(&out_dir.join("softmax.h"), &header);
    if env::var(WRITE_ENV).is_ok_and(|v| v == "1") {
        let committed = manifest_dir.join("include").join("softmax.h");
        if write_if_changed(&committed, &header) {
            println!("cargo:warning=wrote {}", committed.display());
        }
    }
}

/// The `//!` docs at the top of `source` (`src/ffi/mod.rs`) as one C block comment.
fn module_docs_comment(source: &str) -> String {
    let mut out = String::from("/*\n");
    for line in source.lines().take_while(|l| l.starts_with("//!")) {
        let text = line["//!".len()..]
            .strip_prefix(' ')
            .unwrap_or(&line["//!".len()..]);
        assert!(
            !text.contains("*/"),
            "module docs of src/ffi/mod.rs must not contain */"
        );
        if text.is_empty() {
            out.push_str(" *\n");
        } else {
            out.push_str(" * ");
            out.push_str(text);
            out.push('\n');
        }
    }
    out.push_str(" */");
    out
}

/// Writes `contents` to `path` unless it already holds exactly that; true when written.
fn write_if_changed(path: &Path, contents: &[u8]) -> bool {
    if fs::read(path).is_ok_and(|old| old == contents) {
        return false;
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    true
}

/// Whether a line of `mod.rs` declares the module `stem` (`mod stem;`, any visibility).
fn declares_mod(line: &str, stem: &str) -> bool {
    let line = line.trim();
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    rest.strip_prefix("mod ")
        .and_then(|r| r.strip_suffix(';'))
        .is_some_and(|name| name.trim() == stem)
}
