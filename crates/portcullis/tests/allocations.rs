//! The hot path allocates nothing: a counting global allocator measures a full check
//! (header → decision) on the in-memory store, after one warm-up call per shape.

mod common;

use portcullis::{KeySpec, MemoryStore, Request, Timestamp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls. (Test code; the
// library itself forbids unsafe.)
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn full_check_allocates_nothing() {
    let c = common::checker();
    let store = MemoryStore::new();
    let now = Timestamp(common::NOW);
    let issued = c
        .issue(&KeySpec::new("k", "o", ["claims:read"]), now)
        .expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    let mut typo = header.clone().into_bytes();
    typo[40] = if typo[40] == b'a' { b'b' } else { b'a' };
    store.insert(issued.record).expect("insert");
    let allowed = Request::new("GET", "/v1/claims/42")
        .authorization(&header)
        .https(true);
    let forbidden = Request::new("POST", "/v1/claims")
        .authorization(&header)
        .https(true);
    let mut malformed = allowed;
    malformed.authorization = Some(&typo);
    for (name, request, status) in [
        ("allowed", allowed, 200),
        ("forbidden", forbidden, 403),
        ("typo", malformed, 401),
    ] {
        assert_eq!(
            c.check(&request, &store, now).status(),
            status,
            "warm-up {name}"
        );
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..100 {
            let d = c.check(&request, &store, now);
            std::hint::black_box(d.status());
        }
        let used = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(used, 0, "{name}: {used} allocations in 100 checks");
    }
}
