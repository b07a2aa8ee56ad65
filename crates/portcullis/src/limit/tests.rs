use super::*;
use governor::clock::FakeRelativeClock;
use proptest::prelude::*;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

fn limiter() -> RateLimiter {
    RateLimiter::new(1_000).expect("limiter")
}

#[test]
fn a_burst_then_the_steady_rate() {
    let q = Quota::new(10, 1, 3).expect("quota");
    let l = limiter();
    let t = 1_000_000_000;
    let seen: Vec<(bool, u32)> = (0..4)
        .map(|_| l.check(&q, 0, b"k", t))
        .map(|v| (v.allowed, v.remaining))
        .collect();
    assert_eq!(seen, [(true, 2), (true, 1), (true, 0), (false, 0)]);
    let refused = l.check(&q, 0, b"k", t);
    assert_eq!(refused.retry_after_us, 100_000);
    assert_eq!(refused.reset_us, 300_000);
    // One interval later one more fits, and no sooner.
    assert!(!l.check(&q, 0, b"k", t + 99_999).allowed);
    assert!(l.check(&q, 0, b"k", t + 100_000).allowed);
    // Subjects and limits are separate.
    assert!(l.check(&q, 0, b"other", t).allowed);
    assert!(l.check(&q, 1, b"k", t).allowed);
}

#[test]
fn refunds_give_back_what_was_counted() {
    let q = Quota::new(1, 1, 2).expect("quota");
    let l = limiter();
    assert!(l.check(&q, 0, b"k", 50).allowed);
    assert!(l.check(&q, 0, b"k", 50).allowed);
    assert!(!l.check(&q, 0, b"k", 50).allowed);
    l.refund(&q, 0, b"k", 1, 50);
    assert!(l.check(&q, 0, b"k", 50).allowed);
    // A refund never makes credit beyond the burst.
    l.refund(&q, 0, b"k", 10, 50);
    assert_eq!(l.check_n(&q, 0, b"k", 0, 50).remaining, 2);
}

#[test]
fn settings_are_validated() {
    assert_eq!(Quota::new(0, 1, 1), Err(LimitError::Rate));
    assert_eq!(Quota::new(2_000_000, 1, 1), Err(LimitError::Rate));
    assert_eq!(Quota::new(1, 0, 1), Err(LimitError::Window));
    assert_eq!(Quota::new(1, 86_401, 1), Err(LimitError::Window));
    assert_eq!(Quota::new(1, 1, 0), Err(LimitError::Burst));
    assert_eq!(Quota::new(1, 86_400, 100), Err(LimitError::Burst));
    assert_eq!(RateLimiter::new(0).map(|_| ()), Err(LimitError::Subjects));
    assert_eq!(LimitError::Burst.code(), "bad_burst");
}

#[test]
fn a_full_window_refuses_new_subjects_then_frees_passed_ones() {
    let q = Quota::new(1, 60, 1).expect("quota");
    let l = RateLimiter::new(1).expect("limiter"); // 16 slots
    let t = 7_000_000;
    let admitted = (0..40u32)
        .filter(|i| l.check(&q, 0, &i.to_le_bytes(), t).allowed)
        .count();
    assert!((16..40).contains(&admitted), "{admitted}");
    assert!(l.saturated() > 0);
    // A minute later every TAT has passed: slots are free again.
    let later = t + 60_000_000;
    assert!(
        (100..140u32).all(|i| l.check(&q, 0, &i.to_le_bytes(), later).allowed || l.saturated() > 0)
    );
}

#[test]
fn the_clock_may_wrap_around_the_stored_bits() {
    let q = Quota::new(10, 1, 2).expect("quota");
    let l = limiter();
    let t = (1u64 << 44) - 50_000; // the TAT crosses 2^44
    assert!(l.check(&q, 0, b"k", t).allowed);
    assert!(l.check(&q, 0, b"k", t).allowed);
    assert!(!l.check(&q, 0, b"k", t + 60_000).allowed);
    assert!(l.check(&q, 0, b"k", t + 100_000).allowed);
    // Idle for a long time: a fresh subject again.
    assert_eq!(l.check_n(&q, 0, b"k", 0, t + 3_600_000_000).remaining, 2);
}

#[test]
fn threads_share_one_limit_exactly() {
    let q = Quota::new(1_000, 1, 500).expect("quota");
    let l = Arc::new(limiter());
    let allowed: usize = (0..4)
        .map(|_| {
            let l = l.clone();
            std::thread::spawn(move || {
                (0..1_000)
                    .filter(|_| l.check(&q, 0, b"k", 99).allowed)
                    .count()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .sum();
    assert_eq!(allowed, 500);
}

/// governor's verdicts for the same quota and arrivals.
fn oracle(interval_us: u64, burst: u32, gaps: &[u64]) -> Vec<bool> {
    let clock = FakeRelativeClock::default();
    let quota = governor::Quota::with_period(Duration::from_micros(interval_us))
        .expect("period")
        .allow_burst(NonZeroU32::new(burst).expect("burst"));
    let limiter = governor::RateLimiter::direct_with_clock(quota, clock.clone());
    gaps.iter()
        .map(|gap| {
            clock.advance(Duration::from_micros(*gap));
            limiter.check().is_ok()
        })
        .collect()
}

proptest! {
    #[test]
    fn agrees_with_governor(
        rate in 1u32..2_000,
        window in 1u32..5,
        burst in 1u32..40,
        start in prop_oneof![Just(0u64), Just((1u64 << 44) - 3_000_000), 1u64..(1 << 50)],
        gaps in proptest::collection::vec(prop_oneof![Just(0u64), 0u64..3_000, 0u64..3_000_000], 1..300),
    ) {
        let quota = Quota::new(rate, window, burst).expect("quota");
        let l = limiter();
        let mut now = start;
        let ours: Vec<bool> = gaps
            .iter()
            .map(|gap| {
                now += gap;
                l.check(&quota, 3, b"subject", now).allowed
            })
            .collect();
        prop_assert_eq!(ours, oracle(quota.interval_us(), burst, &gaps));
    }

    #[test]
    fn never_more_than_the_burst_plus_the_rate_over_time(
        rate in 1u32..500,
        burst in 1u32..50,
        gaps in proptest::collection::vec(0u64..20_000, 1..500),
    ) {
        let quota = Quota::new(rate, 1, burst).expect("quota");
        let l = limiter();
        let mut now = 1_000_000u64;
        let allowed = gaps.iter().filter(|gap| { now += *gap; l.check(&quota, 0, b"s", now).allowed }).count() as u64;
        let elapsed = now - 1_000_000;
        prop_assert!(allowed <= u64::from(burst) + elapsed / quota.interval_us());
    }
}

proptest! {
    #[test]
    fn whole_intervals_are_counted_exactly(rate in 1u32..1_000_000, window in 1u32..86_400, us in 0u64..(1 << 44)) {
        if let Ok(q) = Quota::new(rate, window, 1) {
            prop_assert_eq!(q.intervals_in(us), us / q.interval_us());
        }
    }
}
