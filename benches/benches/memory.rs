//! Bytes per key in the in-memory store at 1M keys, counted by a global allocator that
//! tracks live heap bytes (inline struct sizes included, allocator overhead not).
//! Writes target/bench-results/memory.json for `benches/summary.py`.

use portcullis::{Checker, KeySpec, MemoryStore, Peppers, Policy, SeededRandom, Timestamp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only keeps a count of
// live bytes (bench code; the library itself forbids unsafe).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
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
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results");
    std::fs::create_dir_all(&out).expect("results dir");
    let json = format!(
        "{{\"bytes_per_key\": {per_key:.1}, \"keys\": {keys}, \"record_inline\": {inline}}}\n"
    );
    std::fs::write(out.join("memory.json"), json).expect("write memory.json");
}
