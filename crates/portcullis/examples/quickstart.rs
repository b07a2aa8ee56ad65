//! The Rust quick start: load the product's policy, issue a key, check requests.
//! Run with `cargo run --example quickstart` (this is also what `make demo` runs until the
//! CLI lands).

use portcullis::{Checker, KeySpec, MemoryStore, Peppers, Policy, Request, Timestamp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::from_toml(include_str!("../../../examples/claimport.toml"))?;
    let checker = Checker::new(
        policy,
        Peppers::new("2026-11", b"load-me-from-a-secret-manager!!!")?,
    );
    let store = MemoryStore::new();
    let now = Timestamp::now();
    let issued = checker.issue(
        &KeySpec::new("Production Integration", "org_42", ["claims:read"]),
        now,
    )?;
    println!("new key (shown once): {}", issued.key.expose());
    store.insert(issued.record)?;
    let header = format!("Bearer {}", issued.key.expose());
    for (method, path) in [("GET", "/v1/claims/42"), ("POST", "/v1/claims")] {
        let request = Request::new(method, path)
            .authorization(&header)
            .https(true);
        let d = checker.check(&request, &store, now);
        let www = d
            .www_authenticate()
            .map(|w| w.to_string())
            .unwrap_or_default();
        println!(
            "{method} {path} -> {} {} {www}",
            d.status(),
            d.reason().code()
        );
    }
    Ok(())
}
