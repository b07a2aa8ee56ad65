//! Bytes per key in the in-memory store at 1M keys, counted by a global allocator that
//! tracks live heap bytes (inline struct sizes included, allocator overhead not), and heap
//! allocations per full check (header → decision) on that store, counted by the same
//! allocator (also with a usage recorder attached). Writes target/bench-results/memory.json for `benches/summary.py`.

use portcullis::limit::LocalLimits;
use portcullis::usage::{UsageConfig, UsageRecorder};
use portcullis::{
    Checker, KeySpec, MemoryStore, Peppers, Policy, Request, SeededRandom, Timestamp,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Calls that allocate (`alloc` and `realloc`).
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only keeps a count of
// live bytes and allocating calls (bench code; the library itself forbids unsafe).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let keys: usize = std::env::var("PORTCULLIS_MEMORY_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let policy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/claimport.toml"
    ))
    .expect("policy");
    let checker = Checker::new(
        Policy::from_toml(&policy).expect("policy"),
        Peppers::new("p1", &[1; 32]).expect("pepper"),
    );
    let rng = SeededRandom::new(b"memory");
    let spec = KeySpec::new(
        "Production Integration",
        "org_4242",
        ["claims:read", "orders:read"],
    );
    let store = MemoryStore::new();
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..keys {
        let issued = checker
            .issue_with("sk", "live", &spec, Timestamp(1_800_000_000), &rng)
            .expect("issue");
        store.insert(issued.record).expect("insert");
    }
    let after = LIVE.load(Ordering::Relaxed);
    let per_key = (after - before) as f64 / keys as f64;
    let inline = std::mem::size_of::<portcullis::KeyRecord>();
    println!("memory/bytes_per_key {per_key:.0} (KeyRecord inline size {inline} B, {keys} keys)");
    let allocations = allocations_per_check(&checker, &store, &rng, &spec);
    let fields = [
        format!("\"bytes_per_key\": {per_key:.1}, \"keys\": {keys}"),
        format!("\"record_inline\": {inline}"),
        format!("\"allocations_per_check\": {{{allocations}}}"),
    ];
    portcullis_benches::write_results("memory.json", &fields);
}

/// Checks this many times per request shape when counting allocations.
const CHECKS: usize = 10_000;

/// Heap allocations per full check on `store`, for the request shapes of the hot path: a key
/// allowed, a key refused by scope (403), a key with a typo (no HMAC), and a well-formed key
/// that is not stored. Each shape is checked once first (its status asserted), so that
/// one-time setup does not count. Returns the JSON members `"shape": allocations per check`.
fn allocations_per_check(
    checker: &Checker,
    store: &MemoryStore,
    rng: &SeededRandom,
    spec: &KeySpec,
) -> String {
    let now = Timestamp(1_800_000_000);
    let issue = || {
        checker
            .issue_with("sk", "live", spec, now, rng)
            .expect("issue")
    };
    let (stored, unknown) = (issue(), issue());
    let header = format!("Bearer {}", stored.key.expose());
    let stranger = format!("Bearer {}", unknown.key.expose());
    let mut typo = header.clone().into_bytes();
    typo[40] = if typo[40] == b'a' { b'b' } else { b'a' };
    store.insert(stored.record).expect("insert");
    fn request<'a>(method: &'a str, header: &'a [u8]) -> Request<'a> {
        Request {
            method,
            path: "/v1/claims/42",
            authorization: Some(header),
            query: None,
            https: true,
            client: None,
        }
    }
    // The same checks recorded by a usage recorder, with the client's address.
    let recorder = UsageRecorder::new(UsageConfig::default()).expect("usage config");
    let recorded = Checker::new(checker.policy().clone(), checker.peppers().clone())
        .with_usage(Arc::new(recorder));
    let client = IpAddr::from([203, 0, 113, 7]);
    // And counted by a local per-key rate limit no check reaches.
    let limit = "[[limits]]\nname = \"per_key\"\nrate = 1000000\nwindow = 1\n";
    let text = format!(
        "{}\n{limit}",
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/claimport.toml"
        ))
        .expect("policy")
    );
    let limited = Checker::new(
        Policy::from_toml(&text).expect("policy"),
        checker.peppers().clone(),
    )
    .with_limits(Arc::new(LocalLimits::new(1_000).expect("limits")));
    let shapes = [
        ("allowed", request("GET", header.as_bytes()), 200),
        ("forbidden", request("PATCH", header.as_bytes()), 403),
        ("typo", request("GET", &typo), 401),
        ("unknown_key", request("GET", stranger.as_bytes()), 401),
        (
            "allowed_usage",
            request("GET", header.as_bytes()).client(client),
            200,
        ),
        (
            "forbidden_usage",
            request("PATCH", header.as_bytes()).client(client),
            403,
        ),
        ("allowed_limited", request("GET", header.as_bytes()), 200),
    ];
    let mut members = Vec::new();
    for (name, request, status) in shapes {
        let checker = match name {
            n if n.ends_with("_usage") => &recorded,
            "allowed_limited" => &limited,
            _ => checker,
        };
        let warm = checker.check(&request, store, now).status();
        assert_eq!(warm, status, "{name}");
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..CHECKS {
            std::hint::black_box(
                checker
                    .check(std::hint::black_box(&request), store, now)
                    .status(),
            );
        }
        let per_check = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / CHECKS as f64;
        println!("memory/allocations_per_check/{name} {per_check}");
        members.push(format!("\"{name}\": {per_check}"));
    }
    members.join(", ")
}
