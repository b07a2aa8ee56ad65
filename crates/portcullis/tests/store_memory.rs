//! `MemoryStore` stays bounded whatever the order of writes: its heap, counted by this
//! binary's allocator, does not grow with the number of writes, only with the records it
//! holds.

use portcullis::{KeyId, KeyRecord, KeySpec, MemoryStore, StoredHash, Timestamp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts the bytes live on the heap.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only counts sizes.
// (Test code; the library itself forbids unsafe.)
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The `i`-th key id (base62 digits of `i`).
fn id(i: usize) -> KeyId {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut text = [b'0'; 16];
    let mut n = i;
    for c in text.iter_mut().rev() {
        *c = DIGITS[n % 62];
        n /= 62;
    }
    KeyId::parse(std::str::from_utf8(&text).expect("ascii")).expect("id")
}

fn record(i: usize) -> KeyRecord {
    let spec = KeySpec::new("k", "org", ["claims:read"]);
    let hash = StoredHash::Sha256 { digest: [1; 32] }.encode();
    KeyRecord::import(id(i), "sk", "live", &spec, &hash, Timestamp(5)).expect("record")
}

/// Keys in the store: enough that the set's table outgrows what a few writes copy (the
/// unbounded growth needed about 8,000).
const KEYS: usize = 10_000;

/// Tests that measure the heap run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `writes` on a store of [`KEYS`] records and returns the most heap the store held
/// at any point, relative to what it held full before the writes, in units of that size.
/// `sample` fails as soon as the store has grown by `limit` times its full size.
fn growth(limit: f64, writes: impl FnOnce(&MemoryStore, &mut dyn FnMut())) -> f64 {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let base = live();
    let store = MemoryStore::new();
    for i in 0..KEYS {
        store.insert(record(i)).expect("insert");
    }
    let full = live() - base;
    let mut peak = full;
    writes(&store, &mut || {
        peak = peak.max(live() - base);
        let g = (peak - full) as f64 / full as f64;
        assert!(g < limit, "the store grew by {g:.2}× its full size");
    });
    assert_eq!(store.len(), KEYS, "the writes keep the store's size");
    assert_eq!(store.records().len(), KEYS);
    (peak - full) as f64 / full as f64
}

/// Regression (issue #15): removing and re-inserting one id over and over grew the set's
/// table chain without bound (papaya's tombstones on one probe sequence started resizes
/// faster than incremental copying finished them): about 3.5 GB over 20,000 cycles at a
/// million keys.
#[test]
fn removing_and_reinserting_one_id_over_and_over_keeps_the_store_bounded() {
    let g = growth(0.5, |store, sample| {
        for _ in 0..5_000 {
            store.remove(&id(7)).expect("stored");
            store.insert(record(7)).expect("insert");
            sample();
        }
    });
    eprintln!("growth {g:.3}× the full store");
}

/// Other orders of writes: a sliding window (new ids in, old ones out), and removing every
/// record then inserting them all again, over and over.
#[test]
fn churn_and_mass_reinsertion_keep_the_store_bounded() {
    let g = growth(1.0, |store, sample| {
        for i in 0..20_000 {
            store.insert(record(KEYS + i)).expect("insert");
            store.remove(&id(i)).expect("stored");
            sample();
        }
        for i in 0..KEYS {
            store.remove(&id(20_000 + i)).expect("stored");
            store.insert(record(i)).expect("insert");
        }
        for round in 0..3 {
            for i in 0..KEYS {
                store.remove(&id(i)).expect("stored");
                sample();
            }
            // Removed records are gone, whether their entries are purged yet or not.
            assert!(
                store.is_empty() && store.records().is_empty(),
                "round {round}"
            );
            assert!((0..KEYS).all(|i| store.get(&id(i)).is_none()));
            assert_eq!(store.remove(&id(0)).map(|r| r.id()), None);
            for i in 0..KEYS {
                store.insert(record(i)).expect("insert");
                sample();
            }
        }
    });
    eprintln!("growth {g:.3}× the full store");
}
