//! The committed `include/portcullis.h` must be exactly what cbindgen (pinned in
//! Cargo.lock) generates from this crate now. Set `PORTCULLIS_BLESS=1` to rewrite it.

use std::path::PathBuf;

#[test]
fn committed_header_is_fresh() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../../include/portcullis.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("bindings/c/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::write(&header, &generated).expect("write include/portcullis.h");
        return;
    }
    let committed = std::fs::read_to_string(&header).unwrap_or_default();
    assert!(
        committed == generated,
        "include/portcullis.h is stale: run PORTCULLIS_BLESS=1 cargo test -p portcullis-c --test header\n\
         (first difference at byte {})",
        committed
            .bytes()
            .zip(generated.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.len().min(generated.len()))
    );
}
