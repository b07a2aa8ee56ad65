//! What one `Checker::check` costs with an OAuth access token against the same check with an
//! API key (in-memory store), same route, same run; and `AccessVerifier::verify` alone.
//! Moved out of `crates/portcullis/tests/oauth_tokens.rs`, where it was an ignored test.

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::oauth::{AccessClaims, AccessKeys, AccessVerifier};
use portcullis::{Checker, KeyId, KeySpec, MemoryStore, Peppers, Policy, Request, Timestamp};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const NOW: Timestamp = Timestamp(1_800_000_000);

fn claimport() -> Policy {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/claimport.toml"
    ))
    .expect("policy");
    Policy::from_toml(&text).expect("policy loads")
}

fn access_token(c: &mut Criterion) {
    let policy = claimport();
    let keys = AccessKeys::new("k1", &[1; 32]).expect("keys");
    let claims = AccessClaims {
        subject: "user_7".into(),
        client_id: "webapp".into(),
        scopes: policy.catalog().grant(&["*"]).set,
        issued_at: NOW,
        expires_at: Timestamp(NOW.0 + 3600),
        token_id: KeyId::parse("T0k3nId000000001").expect("id"),
        family: KeyId::parse("Fam1ly0000000001").expect("id"),
    };
    let token = keys.sign(&claims, policy.catalog());
    let verifier = Arc::new(AccessVerifier::new(keys, policy.catalog()));
    let checker = Checker::new(policy, Peppers::new("p1", &[42; 32]).expect("pepper"))
        .with_access_tokens(verifier.clone())
        .expect("same catalog");
    let store = MemoryStore::new();
    let issued = checker
        .issue(&KeySpec::new("k", "org", ["claims:read"]), NOW)
        .expect("issue");
    let key_header = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    let token_header = format!("Bearer {}", token.expose());

    let mut g = c.benchmark_group("access_token");
    g.bench_function("verify", |b| {
        b.iter(|| black_box(verifier.verify(black_box(token.expose().as_bytes()), NOW)).is_ok())
    });
    for (name, header) in [
        ("check_api_key", &key_header),
        ("check_access_token", &token_header),
    ] {
        let req = Request::new("GET", "/v1/claims")
            .authorization(header)
            .https(true);
        assert!(checker.check(&req, &store, NOW).allowed(), "{name}");
        g.bench_function(name, |b| {
            b.iter(|| black_box(checker.check(black_box(&req), &store, NOW).allowed()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
    targets = access_token
}
criterion_main!(benches);
