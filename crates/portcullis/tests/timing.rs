//! Statistical constant-time tests (dudect-style): many measurements of two input classes,
//! randomly interleaved, compared with Welch's t-test on the raw and on cropped samples.
//!
//! What is compared (each a claim of SECURITY.md):
//! - the hash check with the correct secret vs a wrong one;
//! - a stored digest that differs from the computed MAC in its first vs its last byte
//!   (what a byte-wise early-exit comparison leaks);
//! - stored secrets that differ from the presented one in their first vs their last character;
//! - the second phase of a check for a known key id (wrong secret) vs an unknown one.
//!
//! The harness proves its own power: the same measurement, rule and sample count run
//! against two deliberately leaky early-exit comparisons (built here, only for that
//! self-check) — byte-wise and word-wise (8 bytes at a time) — must flag both. To keep a
//! noisy 2-core VM from causing flakes, every verdict is the majority of three independent
//! rounds.
//!
//! `cargo test` (and so `make test`) runs the short version: 30,000 samples per round in a
//! debug build, a leak is |t| > 10. The long version, whose figures SECURITY.md quotes, adds
//! an effect-size rule (see [`Report::long_leak`]):
//! `cargo test --release -p portcullis --test timing -- --ignored --nocapture`.

mod common;

use portcullis::{
    Checker, HashCheck, KeyRecord, KeySpec, Peppers, Policy, Prepared, Request, SeededRandom,
    StoredHash, Timestamp,
};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const NOW: Timestamp = Timestamp(common::NOW);
/// |t| above this means the two classes' timings differ. dudect calls 4.5 "probably" and
/// 10 "definitely" not constant time; on a shared 2-core VM, correct code occasionally
/// reaches 5-6 in one round from noise alone, while the leaky self-check scores in the
/// hundreds. 10, with a majority of three rounds, keeps both margins wide.
const T_THRESHOLD: f64 = 10.0;
/// The long version's |t| above which a comparison leaks whatever its gap (see
/// [`Report::long_leak`]): above the sub-nanosecond artefacts of constant-time code and
/// below a word-wise early exit, both at [`LONG_SAMPLES`].
const LONG_T_THRESHOLD: f64 = 100.0;
/// Samples per round in the short version (about half a second per round, debug build).
const SHORT_SAMPLES: usize = 30_000;
/// Samples per round in the long version.
const LONG_SAMPLES: usize = 2_000_000;
/// Independent rounds per verdict; the verdict is their majority.
const ROUNDS: usize = 3;

// ---------------------------------------------------------------------------------------
// Statistics

/// Running mean and variance of one class (Welford).
#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (x - self.mean);
    }

    fn variance(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            self.m2 / (self.n - 1.0)
        }
    }
}

/// Welch's t statistic of two classes.
fn welch_t(a: &Moments, b: &Moments) -> f64 {
    let se = (a.variance() / a.n + b.variance() / b.n).sqrt();
    if se == 0.0 || a.n < 2.0 || b.n < 2.0 {
        0.0
    } else {
        (a.mean - b.mean) / se
    }
}

/// The largest |t| over the raw samples and samples cropped at a few percentiles of the
/// pooled distribution (dudect's way of discarding interrupts and other heavy-tail noise).
fn max_abs_t(samples: &[(bool, u64)]) -> f64 {
    let mut sorted: Vec<u64> = samples.iter().map(|s| s.1).collect();
    sorted.sort_unstable();
    let crop_at = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    let limits = [
        u64::MAX,
        crop_at(0.5),
        crop_at(0.75),
        crop_at(0.9),
        crop_at(0.99),
    ];
    limits
        .iter()
        .map(|&limit| {
            let mut m = [Moments::default(); 2];
            for &(class, t) in samples.iter().filter(|s| s.1 <= limit) {
                m[usize::from(class)].push(t as f64);
            }
            welch_t(&m[0], &m[1]).abs()
        })
        .fold(0.0, f64::max)
}

/// The difference of the class means (class `true` minus `false`) in nanoseconds, over
/// the samples below the pooled 90th percentile: the size of whatever the t-test resolves.
fn mean_gap(samples: &[(bool, u64)]) -> f64 {
    let mut sorted: Vec<u64> = samples.iter().map(|s| s.1).collect();
    sorted.sort_unstable();
    let limit = sorted[(sorted.len() - 1) * 9 / 10];
    let mut m = [Moments::default(); 2];
    for &(class, t) in samples.iter().filter(|s| s.1 <= limit) {
        m[usize::from(class)].push(t as f64);
    }
    m[1].mean - m[0].mean
}

/// The median time of each class.
fn class_medians(samples: &[(bool, u64)]) -> [u64; 2] {
    [false, true].map(|class| {
        let mut v: Vec<u64> = samples
            .iter()
            .filter(|s| s.0 == class)
            .map(|s| s.1)
            .collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    })
}

/// Timing tests run one at a time, whatever the test harness's thread count.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A small PRNG for the class schedule (xorshift64*).
struct Schedule(u64);

impl Schedule {
    fn next(&mut self) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 63) == 1
    }
}

/// Nanoseconds `f` takes.
#[inline(always)]
fn time(f: impl FnOnce()) -> u64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as u64
}

/// Runs `op(class)` `samples` times with randomly interleaved classes; `op` returns the
/// nanoseconds of the part under test (see [`time`]).
fn measure(samples: usize, seed: u64, op: &mut dyn FnMut(bool) -> u64) -> Vec<(bool, u64)> {
    let mut schedule = Schedule(seed | 1);
    let classes: Vec<bool> = (0..samples).map(|_| schedule.next()).collect();
    for &class in classes.iter().take(samples / 20) {
        op(class); // warm-up: caches, branch predictors, CPU frequency
    }
    let mut out = Vec::with_capacity(samples);
    for class in classes {
        out.push((class, op(class)));
    }
    out
}

/// The outcome of one comparison over [`ROUNDS`] rounds.
struct Report {
    /// A majority of rounds had |t| above [`T_THRESHOLD`].
    leak: bool,
    /// The largest |t| of each round.
    ts: Vec<f64>,
    /// Each round's median time per class, in nanoseconds.
    medians: Vec<[u64; 2]>,
    /// Each round's [`mean_gap`], in nanoseconds.
    gaps: Vec<f64>,
}

impl Report {
    /// The figures, for failure messages.
    fn describe(&self) -> String {
        format!(
            "max |t| per round {:?}, class medians (ns) {:?}",
            self.ts, self.medians
        )
    }

    /// Whether a majority of rounds had |t| above `threshold`.
    fn majority_above(&self, threshold: f64) -> bool {
        self.ts.iter().filter(|&&t| t > threshold).count() * 2 > self.ts.len()
    }

    /// The long version's rule: a leak is a |t| above [`LONG_T_THRESHOLD`] whatever the
    /// gap, or a |t| above [`T_THRESHOLD`] with a gap of [`MAX_LONG_GAP_NS`] or more (each
    /// in a majority of rounds / any round). Two million samples per class resolve
    /// sub-nanosecond differences that no comparison causes (the result branch after it,
    /// alignment), so neither a small |t| nor a small gap alone is a leak; a word-wise
    /// early exit (three words, about half a nanosecond) exceeds at least one bound.
    fn long_leak(&self) -> bool {
        self.majority_above(LONG_T_THRESHOLD)
            || (self.leak && self.max_mean_gap() >= MAX_LONG_GAP_NS)
    }

    /// The largest mean gap of any round, in nanoseconds.
    fn max_mean_gap(&self) -> f64 {
        self.gaps.iter().map(|g| g.abs()).fold(0.0, f64::max)
    }

    /// The median over rounds of the gap between the class medians, relative to the larger.
    fn relative_gap(&self) -> f64 {
        let mut gaps: Vec<f64> = self
            .medians
            .iter()
            .map(|[a, b]| a.abs_diff(*b) as f64 / (*a.max(b)).max(1) as f64)
            .collect();
        gaps.sort_by(f64::total_cmp);
        gaps[gaps.len() / 2]
    }
}

/// Runs [`ROUNDS`] rounds of a comparison and reports.
fn verdict(name: &str, samples: usize, op: &mut dyn FnMut(bool) -> u64) -> Report {
    let seed = Instant::now().elapsed().as_nanos() as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut medians = Vec::new();
    let mut gaps = Vec::new();
    let ts: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let samples = measure(samples, seed.wrapping_add(round as u64), op);
            medians.push(class_medians(&samples));
            gaps.push(mean_gap(&samples));
            max_abs_t(&samples)
        })
        .collect();
    let leaks = ts.iter().filter(|&&t| t > T_THRESHOLD).count();
    let round2 = |v: &[f64]| {
        v.iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    };
    eprintln!(
        "{name}: max |t| per round {:?}, class medians (ns) {medians:?}, mean gap (ns) {:?} \
         ({samples} samples each; threshold {T_THRESHOLD})",
        round2(&ts),
        round2(&gaps)
    );
    Report {
        leak: leaks * 2 > ROUNDS,
        ts,
        medians,
        gaps,
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures

const POLICY: &str = r#"
[service]
deployment_env = "live"
[[scopes]]
name = "claims:read"
[[routes]]
method = "GET"
path = "/v1/claims"
require = "claims:read"
"#;

struct Fixture {
    checker: Checker,
    key: String,
    record: KeyRecord,
    pepper: [u8; 32],
}

fn fixture() -> Fixture {
    let pepper = [0x5Au8; 32];
    let policy = Policy::from_toml(POLICY).expect("policy");
    let checker = Checker::new(policy, Peppers::new("p1", &pepper).expect("pepper"));
    let issued = checker
        .issue_with(
            "sk",
            "live",
            &KeySpec::new("k", "o", ["claims:read"]),
            NOW,
            &SeededRandom::new(b"timing"),
        )
        .expect("issue");
    Fixture {
        checker,
        key: issued.key.expose().to_owned(),
        record: issued.record,
        pepper,
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECK_LEN: usize = 6;
const SECRET_LEN: usize = 28;

/// `key` with the secret character at `index` (0-based within the secret) changed, and the
/// checksum recomputed so that the key still parses.
fn with_secret_char_changed(key: &str, index: usize) -> String {
    let body_len = key.len() - CHECK_LEN;
    let mut body = key.as_bytes()[..body_len].to_vec();
    let at = body_len - SECRET_LEN + index;
    body[at] = if body[at] == b'x' { b'y' } else { b'x' };
    let mut n = u64::from(crc32fast::hash(&body));
    let mut check = [b'0'; CHECK_LEN];
    for slot in check.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    body.extend_from_slice(&check);
    String::from_utf8(body).expect("ascii")
}

/// The stored hash with byte `index` of its digest flipped.
fn digest_flipped(hash: &StoredHash, index: usize) -> StoredHash {
    let mut h = hash.clone();
    if let StoredHash::Hmac { digest, .. } = &mut h {
        digest[index] ^= 0x01;
    }
    h
}

// ---------------------------------------------------------------------------------------
// The leaky comparison, built only for the self-check

/// A byte-wise comparison that returns at the first difference: the classic timing leak.
#[inline(never)]
fn leaky_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    for i in 0..32 {
        if black_box(a[i]) != black_box(b[i]) {
            return false;
        }
    }
    true
}

/// A word-wise comparison that returns at the first differing 8-byte word: the same leak
/// at a coarser grain, well under a nanosecond per word in a release build. One word of
/// each pair goes through `black_box`, as `leaky_eq`'s bytes do, so that the compiler keeps
/// one compare and branch per word.
#[inline(never)]
fn leaky_word_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let word = |d: &[u8; 32], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&d[8 * i..8 * i + 8]);
        u64::from_ne_bytes(w)
    };
    for i in 0..4 {
        if black_box(word(a, i)) != word(b, i) {
            return false;
        }
    }
    true
}

/// A leaky comparison of two digests, for the self-checks.
type LeakyEq = fn(&[u8; 32], &[u8; 32]) -> bool;

/// The same work as the hash check (one HMAC-SHA256 of `{id}_{secret}` under the pepper),
/// followed by a leaky comparison.
fn leaky_check(key: &ring::hmac::Key, key_text: &str, stored: &[u8; 32], eq: LeakyEq) -> bool {
    let tail_start = key_text.len() - (16 + 1 + SECRET_LEN + CHECK_LEN);
    let input = &key_text.as_bytes()[tail_start..key_text.len() - CHECK_LEN];
    let tag = ring::hmac::sign(key, input);
    let mut mac = [0u8; 32];
    mac.copy_from_slice(tag.as_ref());
    eq(&mac, stored)
}

// ---------------------------------------------------------------------------------------
// The comparisons

// Each class's input is copied into the same place before every measurement, so that the
// two classes never differ in where their data lives (alignment and cache-set effects of
// two fixed objects show up as |t| of 15-25 on this VM and have nothing to do with secrets).

fn hash_check_correct_vs_wrong(f: &Fixture, samples: usize) -> Report {
    let wrong_text = with_secret_char_changed(&f.key, 13);
    let keys = [f.key.as_bytes(), wrong_text.as_bytes()];
    let stored = f.record.stored_hash().expect("hash");
    let peppers = f.checker.peppers();
    let mut slot = keys[0].to_vec();
    let outcomes = keys.map(|k| stored.check(peppers, &f.checker.parse(k).expect("parses")));
    assert!(matches!(outcomes[0], HashCheck::Match { .. }));
    assert_eq!(outcomes[1], HashCheck::Mismatch);
    verdict("hash check: correct vs wrong secret", samples, &mut |c| {
        slot.copy_from_slice(keys[usize::from(c)]);
        let key = f.checker.parse(&slot).expect("parses");
        time(|| {
            black_box(stored.check(peppers, black_box(&key)));
        })
    })
}

fn digest_first_vs_last_byte(f: &Fixture, samples: usize) -> Report {
    let key = f.checker.parse(f.key.as_bytes()).expect("parses");
    let stored = f.record.stored_hash().expect("hash");
    let variants = [digest_flipped(&stored, 0), digest_flipped(&stored, 31)];
    let peppers = f.checker.peppers();
    for v in &variants {
        assert_eq!(v.check(peppers, &key), HashCheck::Mismatch);
    }
    let mut slot = variants[0].clone();
    verdict(
        "hash check: digest differing in the first vs the last byte",
        samples,
        &mut |c| {
            slot.clone_from(&variants[usize::from(c)]);
            time(|| {
                black_box(black_box(&slot).check(peppers, &key));
            })
        },
    )
}

fn secret_first_vs_last_char(f: &Fixture, samples: usize) -> Report {
    // The presented key is fixed; the stored secrets differ from it in their first vs their
    // last character. (Varying the presented key instead would also vary the parse, whose
    // time may depend on the attacker's own input: that reveals nothing.) Each measurement
    // gets a fresh copy of the record with its hash string already decoded: decoding costs
    // what it costs for that stored string, the same for every guess, so it is not timed.
    let record_for = |index: usize| {
        let other = with_secret_char_changed(&f.key, index);
        let parsed = f.checker.parse(other.as_bytes()).expect("parses");
        let mut r = f.record.clone();
        r.set_hash(&StoredHash::compute(f.checker.peppers(), &parsed));
        r
    };
    let records = [record_for(0), record_for(SECRET_LEN - 1)];
    let key = f.key.as_bytes();
    for r in &records {
        assert!(!f.checker.verify(key, r, NOW).is_valid());
    }
    verdict(
        "verify: stored secret differing in the first vs the last character",
        samples,
        &mut |c| {
            let record = records[usize::from(c)].clone();
            time(|| {
                black_box(f.checker.verify(key, black_box(&record), NOW));
            })
        },
    )
}

fn known_vs_unknown_id(f: &Fixture, samples: usize) -> Report {
    let wrong = with_secret_char_changed(&f.key, 5);
    let header = format!("Bearer {wrong}");
    let request = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    let record = Arc::new(f.record.clone());
    let _keep = Arc::clone(&record); // so dropping the record inside `finish` never frees it
    verdict(
        "finish: known key id (wrong secret) vs unknown key id",
        samples,
        &mut |c| {
            let Prepared::Lookup(pending) = f.checker.prepare(&request) else {
                panic!("a well-formed key needs a lookup");
            };
            // The host's lookup allocated (or cloned) the record; releasing it is the host's
            // cost, not portcullis's. Both classes release one reference in the timed region.
            let mut held = Some(Arc::clone(&record));
            let found = if c { held.take() } else { None };
            let mut decision = None;
            let ns = time(|| {
                decision = Some(f.checker.finish(pending, found, NOW));
                drop(held);
            });
            drop(black_box(decision));
            ns
        },
    )
}

/// A leaky comparison after the same HMAC, with the stored digest differing from the MAC in
/// its first vs its last byte (so in its first vs its last word).
fn leaky_first_vs_last(f: &Fixture, samples: usize, name: &str, eq: LeakyEq) -> Report {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &f.pepper);
    let StoredHash::Hmac { digest, .. } = f.record.stored_hash().expect("hash") else {
        panic!("issued records use HMAC");
    };
    assert!(
        leaky_check(&key, &f.key, &digest, eq),
        "replica computes the same MAC"
    );
    let (mut first, mut last) = (digest, digest);
    first[0] ^= 1;
    last[31] ^= 1;
    let mut slot = first;
    verdict(name, samples, &mut |c| {
        slot = if c { last } else { first };
        time(|| {
            black_box(leaky_check(&key, &f.key, black_box(&slot), eq));
        })
    })
}

/// The two self-checks: a byte-wise and a word-wise early exit, first vs last difference.
fn leaky_self_checks(f: &Fixture, samples: usize) -> [Report; 2] {
    [
        leaky_first_vs_last(
            f,
            samples,
            "self-check: LEAKY byte-wise early exit, first vs last byte",
            leaky_eq,
        ),
        leaky_first_vs_last(
            f,
            samples,
            "self-check: LEAKY word-wise early exit, first vs last word",
            leaky_word_eq,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn self_check_detects_a_byte_wise_and_a_word_wise_early_exit() {
    let f = fixture();
    for r in leaky_self_checks(&f, SHORT_SAMPLES) {
        assert!(
            r.leak,
            "the harness failed to detect a known leak: {}",
            r.describe()
        );
    }
}

#[test]
fn hash_check_is_constant_time_in_the_secret() {
    let f = fixture();
    for r in [
        hash_check_correct_vs_wrong(&f, SHORT_SAMPLES),
        digest_first_vs_last_byte(&f, SHORT_SAMPLES),
        secret_first_vs_last_char(&f, SHORT_SAMPLES),
    ] {
        assert!(!r.leak, "timing depends on the secret: {}", r.describe());
    }
}

/// Unknown ids cost the same work as known ones (one MAC and one comparison). The t-test
/// does resolve a residual gap of about 10 ns (record bookkeeping on the known path; see
/// SECURITY.md), so this comparison is bounded by effect size: a missing dummy MAC would
/// make unknown ids most of a MAC cheaper (over 50 %), far beyond the bound.
#[test]
fn unknown_and_known_key_ids_cost_the_same() {
    let f = fixture();
    let r = known_vs_unknown_id(&f, SHORT_SAMPLES);
    assert!(
        r.relative_gap() < MAX_ID_GAP,
        "unknown ids are cheaper: {}",
        r.describe()
    );
}

/// The largest accepted relative gap between known and unknown key ids.
const MAX_ID_GAP: f64 = 0.25;

/// The largest mean gap the long version accepts when its t-test fires, in nanoseconds:
/// above the sub-nanosecond artefacts of constant-time code, below a word-wise early exit
/// over three words.
const MAX_LONG_GAP_NS: f64 = 0.5;

/// The long version (run in release; figures in SECURITY.md).
#[test]
#[ignore = "long: about 30 s in a release build"]
fn long_constant_time_report() {
    let f = fixture();
    for leaky in leaky_self_checks(&f, LONG_SAMPLES) {
        assert!(
            leaky.long_leak(),
            "self-check: leak not detected: {}",
            leaky.describe()
        );
    }
    for r in [
        hash_check_correct_vs_wrong(&f, LONG_SAMPLES),
        digest_first_vs_last_byte(&f, LONG_SAMPLES),
        secret_first_vs_last_char(&f, LONG_SAMPLES),
    ] {
        assert!(!r.long_leak(), "timing leak: {}", r.describe());
    }
    let ids = known_vs_unknown_id(&f, LONG_SAMPLES);
    eprintln!(
        "known vs unknown id: relative gap {:.3}",
        ids.relative_gap()
    );
    assert!(
        ids.relative_gap() < MAX_ID_GAP,
        "unknown ids are cheaper: {}",
        ids.describe()
    );
}
