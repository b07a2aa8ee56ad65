//! Benchmarks live in `benches/`; this library holds what the bench binaries share.

/// Writes the JSON object `{fields}` to `target/bench-results/NAME`, for
/// `benches/summary.py`. Each field is one `"key": value` member.
pub fn write_results(name: &str, fields: &[String]) {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results");
    std::fs::create_dir_all(&out).expect("results dir");
    std::fs::write(out.join(name), format!("{{{}}}\n", fields.join(", ")))
        .unwrap_or_else(|e| panic!("write {name}: {e}"));
}
