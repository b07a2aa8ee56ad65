//! A cached check allocates nothing: a counting global allocator measures full checks
//! (header → decision) answered by a `Store`'s cache, after one warm-up call. It counts
//! per thread, so the feed thread's polls are not counted against the checks.

mod common;

use common::{NOW, checker, spec};
use portcullis::Request;
use portcullis_store::Store;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no counter left; its calls are not checks.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls. (Test code; the
// library itself forbids unsafe.)
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_cached_check_allocates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&format!(
        "sqlite:{}",
        dir.path().join("s.sqlite3").display()
    ))
    .expect("open");
    let c = checker();
    let issued = c.issue(&spec("k"), NOW).expect("issue");
    store.insert_key(&issued.record, NOW).expect("insert");
    let header = format!("Bearer {}", issued.key.expose());
    let request = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    // The feed applies the insert's change (an invalidation) once; warm up after it.
    let start = std::time::Instant::now();
    while store.feed_status().last_seq < 1 {
        assert!(start.elapsed().as_secs() < 2, "the feed applied nothing");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(c.check(&request, &store, NOW).status(), 200, "warm-up");
    assert!(store.is_fresh());
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..1_000 {
        let d = c.check(&request, &store, NOW);
        std::hint::black_box(d.status());
    }
    let used = ALLOCATIONS.with(Cell::get) - before;
    assert_eq!(used, 0, "{used} allocations in 1,000 cached checks");
    // The counter works: a miss (read-through) allocates.
    let other = c.issue(&spec("other"), NOW).expect("issue");
    let before = ALLOCATIONS.with(Cell::get);
    let _ = portcullis::KeyLookup::lookup(&store, &other.record.id());
    assert!(ALLOCATIONS.with(Cell::get) > before);
}
