//! Rate limits: `portcullis_rate_limiter` (the GCRA limiter itself, with explicit time),
//! `portcullis_limits` (where a checker counts the policy's `[[limits]]`) and
//! `portcullis_checker_new_with_limits`.
//!
//! - **`portcullis_quota` is a plain struct** (rate, window, burst): nothing to free, and
//!   `portcullis_quota_new` checks it once; every call taking one checks it again (a few
//!   comparisons and a division), so a struct filled by hand is safe too.
//! - **Time is an input** to the limiter: microseconds of a monotonic clock the host
//!   reads (`clock_gettime(CLOCK_MONOTONIC)`), not the Unix seconds of the rest of the
//!   API; a wall clock that steps back would hand out a burst again.
//! - **`portcullis_limits` is one handle type for every kind of limits**: those of this
//!   process (`portcullis_local_limits_new`) and a fleet's, shared through Redis
//!   (`portcullis_fleet_limits_new`), so one checker constructor takes either.
//! - **Fleet settings are plain arguments, 0 meaning the default** (as
//!   `staleness_ms` of `portcullis_store_new_from_url`): no options struct whose layout
//!   would be part of the ABI. Its errors are the database store's
//!   (`PORTCULLIS_DATABASE_STORE_BAD_URL`), as Redis is reached through `portcullis-store`.
//! - **A checker with limits is made from parts** (`portcullis_checker_new_with_limits`,
//!   the access-token verifier and usage recorder optional), as the other checker
//!   constructors are: a checker is immutable, and deriving one from another would have
//!   to copy every attachment by hand, silently dropping any added later.
//! - Limit settings out of range are `PORTCULLIS_INVALID_ARGUMENT` (the `limit` family has
//!   no numbers of its own); `portcullis_last_error` names the code (`bad_rate`, …).

use crate::checker::portcullis_checker;
use crate::ffi::{
    Failure, FfiResult, borrow, bytes, free_handle, guard, into_handle, out_ptr, read, text,
};
use crate::oauth_access::{catalog_mismatch, portcullis_access_verifier};
use crate::peppers::portcullis_peppers;
use crate::policy::portcullis_policy;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::store::db_failure;
use crate::usage::portcullis_usage_recorder;
use core_lib::Checker;
use core_lib::limit::{LimitError, Limits, LocalLimits, Quota, RateLimiter, Verdict};
use db_store::{Degrade, FleetConfig, FleetLimits};
use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

/// A rate: `rate` requests per `window` seconds, at most `burst` at once. Make it with
/// `portcullis_quota_new` (which checks it); the calls that take one check it again.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct portcullis_quota {
    /// Requests per window, at least 1 and at most one per microsecond.
    pub rate: u32,
    /// The window in seconds, 1 to 86,400.
    pub window: u32,
    /// Requests allowed at once, at least 1 (a full burst must refill within 50 days).
    pub burst: u32,
}

/// What a rate limiter said about a request (`portcullis_rate_limiter_check`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct portcullis_verdict {
    /// Whether the request may proceed (and was counted).
    pub allowed: bool,
    /// Requests that could still be made at once after this one.
    pub remaining: u32,
    /// Microseconds until the subject is back to its full burst.
    pub reset_us: u64,
    /// On a refusal, microseconds until one request would be allowed (0 when allowed).
    pub retry_after_us: u64,
}

impl From<Verdict> for portcullis_verdict {
    fn from(v: Verdict) -> Self {
        portcullis_verdict {
            allowed: v.allowed,
            remaining: v.remaining,
            reset_us: v.reset_us,
            retry_after_us: v.retry_after_us,
        }
    }
}

/// Counts requests per subject with the generic cell rate algorithm (GCRA): one word per
/// subject in a table of fixed size allocated when it is made (8 bytes per slot). When no
/// slot is free for a new subject, its request is refused (fail closed) and counted
/// (`portcullis_rate_limiter_saturated`). Thread-safe: check and refund from any number of
/// threads at once (lock-free, no allocation).
#[allow(non_camel_case_types)]
pub struct portcullis_rate_limiter {
    inner: RateLimiter,
}

/// Where a checker counts the policy's rate limits (`[[limits]]`) and keys' credits: made
/// by `portcullis_local_limits_new` (this process) or `portcullis_fleet_limits_new` (a
/// fleet, in Redis). Thread-safe. Checkers made with it keep
/// it alive, so it may be freed before them.
#[allow(non_camel_case_types)]
pub struct portcullis_limits {
    inner: Arc<dyn Limits>,
}

/// A limit setting's error as a failure naming its code.
fn limit_error(e: LimitError) -> Failure {
    Failure::new(R::of(e.row()), format!("{}: {e}", e.code()))
}

/// Reads and checks a quota.
///
/// # Safety
/// `quota` is NULL or readable.
unsafe fn quota(quota: *const portcullis_quota) -> FfiResult<Quota> {
    // SAFETY: forwarded contract.
    let q = unsafe { borrow(quota) }?;
    Quota::new(q.rate, q.window, q.burst).map_err(limit_error)
}

/// Checks a rate and writes it to `*quota_out`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` for a setting out of range (`portcullis_last_error`
/// names its code of the family `limit`: `bad_rate`, `bad_window`, `bad_burst`).
///
/// # Safety
/// `quota_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_quota_new(
    rate: u32,
    window: u32,
    burst: u32,
    quota_out: *mut portcullis_quota,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(quota_out)?;
        let q = Quota::new(rate, window, burst).map_err(limit_error)?;
        let quota = portcullis_quota {
            rate: q.rate(),
            window: q.window(),
            burst: q.burst(),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(quota) };
        Ok(())
    })
}

/// Makes a limiter for up to `max_subjects` subjects at once (1 to 16,777,216; the table
/// is allocated now). Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT`
/// (`bad_subjects`).
///
/// # Safety
/// `limiter_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_rate_limiter_new(
    max_subjects: usize,
    limiter_out: *mut *mut portcullis_rate_limiter,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(limiter_out)?;
        let inner = RateLimiter::new(max_subjects).map_err(limit_error)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_rate_limiter { inner })) };
        Ok(())
    })
}

/// Counts `n` requests of `subject` (`subject_len` bytes, any bytes: a key id, an owner,
/// an address) under `quota` at `now_us` if they are allowed, all or none, and writes the
/// verdict to `*verdict_out`. `limit` numbers the limit: the same subject under two
/// limits is counted apart. `n` above the burst is never allowed; `n = 0` only reads the
/// subject's state. `now_us` is microseconds of a monotonic clock (the same clock for
/// every call on this limiter; it may wrap past 2^44). Thread-safe. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_INVALID_ARGUMENT`
/// (a quota out of range, as `portcullis_quota_new`).
///
/// # Safety
/// `limiter`, `quota` live / readable; `subject` readable for `subject_len` bytes;
/// `verdict_out` writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn portcullis_rate_limiter_check(
    limiter: *const portcullis_rate_limiter,
    quota: *const portcullis_quota,
    limit: u32,
    subject: *const c_char,
    subject_len: usize,
    n: u32,
    now_us: u64,
    verdict_out: *mut portcullis_verdict,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(verdict_out)?;
        // SAFETY: live / readable (contract).
        let (limiter, quota, subject) = unsafe {
            (
                borrow(limiter)?,
                self::quota(quota)?,
                bytes(subject, subject_len)?,
            )
        };
        let verdict = limiter.inner.check_n(&quota, limit, subject, n, now_us);
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(verdict.into()) };
        Ok(())
    })
}

/// Gives back `n` requests counted for `subject` under `quota` and `limit` (a request a
/// later limit of your own refused, so that the earlier ones do not count it). Giving
/// back more than was counted only restores the full burst. Thread-safe. Errors as for
/// `portcullis_rate_limiter_check`.
///
/// # Safety
/// `limiter`, `quota` live / readable; `subject` readable for `subject_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_rate_limiter_refund(
    limiter: *const portcullis_rate_limiter,
    quota: *const portcullis_quota,
    limit: u32,
    subject: *const c_char,
    subject_len: usize,
    n: u32,
    now_us: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (limiter, quota, subject) = unsafe {
            (
                borrow(limiter)?,
                self::quota(quota)?,
                bytes(subject, subject_len)?,
            )
        };
        limiter.inner.refund(&quota, limit, subject, n, now_us);
        Ok(())
    })
}

/// Requests refused because no slot was free for a new subject, since the limiter was
/// made (0 for NULL). A growing count means `max_subjects` is too small. Thread-safe.
///
/// # Safety
/// `limiter` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_rate_limiter_saturated(
    limiter: *const portcullis_rate_limiter,
) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { read(limiter, 0, |l| l.inner.saturated()) }
}

/// Frees a limiter. NULL is a no-op.
///
/// # Safety
/// `limiter` is NULL or a limiter not yet freed, no longer used by any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_rate_limiter_free(limiter: *mut portcullis_rate_limiter) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(limiter) }
}

/// Makes limits counted in this process for up to `max_subjects` keys and owners at once
/// (1 to 16,777,216; a table of 8-byte slots, a power of two above 4/3 of the bound,
/// allocated now), read with the system's
/// monotonic clock. Attach them with `portcullis_checker_new_with_limits`; checkers made
/// with the same limits share their counts. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (`bad_subjects`).
///
/// # Safety
/// `limits_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_local_limits_new(
    max_subjects: usize,
    limits_out: *mut *mut portcullis_limits,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(limits_out)?;
        let local = LocalLimits::new(max_subjects).map_err(limit_error)?;
        let handle = portcullis_limits {
            inner: Arc::new(local),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Makes limits counted across a fleet in the Redis at `url` (`url_len` bytes:
/// `redis://[user:password@]127.0.0.1:6379[/db]`, a loopback address, or
/// `redis+unix:///path/redis.sock`; plaintext to another machine and `rediss://` are
/// refused: reach a remote Redis through a local TLS proxy). Redis need not be up: until
/// it answers, requests are answered as while it is down. Every process of the fleet must
/// use the same policy limits. Settings, 0 meaning the default:
/// - `lease`: rate-limit tokens each process takes per Redis call (10); N processes
///   exceed a limit by at most N leases.
/// - `budget_ms`: the longest a Redis call may take, connecting included (5): past it
///   Redis counts as down.
/// - `max_subjects`: keys and owners whose leases this process holds at once (10,000; at
///   most 4,194,304, larger values are clamped).
/// - `degrade_processes`: 0 fails closed while Redis is down (503 `limiter_unavailable`
///   once the process's leases are spent); N gives each process its share of each rate
///   limit (limit ÷ N) instead, right only while at most N processes run.
///
/// Credits are counted in Redis one at a time (exactly `amount` per period across the
/// fleet) and always fail closed: 503 while Redis is down, whatever `degrade_processes`.
/// Attach the limits with `portcullis_checker_new_with_limits`; free them with
/// `portcullis_limits_free`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_DATABASE_STORE_BAD_URL` (a URL that does not
/// parse, uses TLS or names another machine; `portcullis_last_error` says which, never
/// with the password).
///
/// # Safety
/// `url` readable for `url_len` bytes; `limits_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_fleet_limits_new(
    url: *const c_char,
    url_len: usize,
    lease: u32,
    budget_ms: u32,
    max_subjects: usize,
    degrade_processes: u32,
    limits_out: *mut *mut portcullis_limits,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(limits_out)?;
        // SAFETY: readable (contract).
        let url = unsafe { text(url, url_len) }?;
        let defaults = FleetConfig::default();
        let config = FleetConfig {
            lease: if lease == 0 { defaults.lease } else { lease },
            budget: if budget_ms == 0 {
                defaults.budget
            } else {
                Duration::from_millis(u64::from(budget_ms))
            },
            max_subjects: if max_subjects == 0 {
                defaults.max_subjects
            } else {
                max_subjects
            },
            degrade: match degrade_processes {
                0 => Degrade::Closed,
                processes => Degrade::Local { processes },
            },
            ..defaults
        };
        let fleet = FleetLimits::open(url, config).map_err(db_failure)?;
        let handle = portcullis_limits {
            inner: Arc::new(fleet),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Frees the host's limits handle. NULL is a no-op. Checkers made with it keep counting
/// in it (they hold their own reference).
///
/// # Safety
/// `limits` is NULL or a limits handle not yet freed, no longer used through this handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_limits_free(limits: *mut portcullis_limits) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(limits) }
}

/// Makes a checker (as `portcullis_checker_new`) that applies the policy's rate limits
/// (`[[limits]]`), counted in `limits`: a request allowed by its key and scopes is then
/// refused with 429 `rate_limited` over a limit, or 503 `limiter_unavailable` when the
/// limits cannot tell; refusals before that (401, 403, …) spend nothing. Every decision
/// of a limited request reports its limit: `portcullis_decision_rate_limit_policy`,
/// `portcullis_decision_rate_limit`, and on a refusal `portcullis_decision_retry_after`.
/// A key whose record carries `"credits"` metadata spends one per request the limits
/// allow: none left is 429 `credits_exhausted` (`portcullis_decision_credits_remaining`).
/// `verifier` is NULL or an access-token verifier (as for
/// `portcullis_checker_new_with_access_tokens`), `recorder` NULL or a usage recorder (as
/// for `portcullis_checker_new_with_usage`). The checker keeps its own references.
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (the verifier was
/// made for another scope catalog).
///
/// # Safety
/// `policy`, `peppers`, `limits` live; `verifier`, `recorder` NULL or live;
/// `checker_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_new_with_limits(
    policy: *const portcullis_policy,
    peppers: *const portcullis_peppers,
    verifier: *const portcullis_access_verifier,
    recorder: *const portcullis_usage_recorder,
    limits: *const portcullis_limits,
    checker_out: *mut *mut portcullis_checker,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(checker_out)?;
        // SAFETY: live, the verifier and recorder NULL or live (contract).
        let (policy, peppers, verifier, recorder, limits) = unsafe {
            (
                borrow(policy)?,
                borrow(peppers)?,
                verifier.as_ref(),
                recorder.as_ref(),
                borrow(limits)?,
            )
        };
        let mut checker = Checker::new(policy.policy.clone(), peppers.build()?);
        if let Some(v) = verifier {
            checker = checker
                .with_access_tokens(v.inner.clone())
                .map_err(catalog_mismatch)?;
        }
        if let Some(r) = recorder {
            checker = checker.with_usage(r.inner.clone());
        }
        let handle = portcullis_checker {
            inner: Arc::new(checker.with_limits(limits.inner.clone())),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_out_of_range_is_an_invalid_argument_naming_its_code() {
        let mut q = portcullis_quota {
            rate: 7,
            window: 7,
            burst: 7,
        };
        for (rate, window, burst, code) in [
            (0, 1, 1, "bad_rate"),
            (1, 0, 1, "bad_window"),
            (1, 86_401, 1, "bad_window"),
            (1, 1, 0, "bad_burst"),
        ] {
            // SAFETY: `q` is writable.
            let r = unsafe { portcullis_quota_new(rate, window, burst, &mut q) };
            assert_eq!(r, R::PORTCULLIS_INVALID_ARGUMENT, "{code}");
            assert!(crate::ffi::last_error().starts_with(code), "{code}");
        }
        assert_eq!(q.rate, 7, "untouched on failure");
        // SAFETY: `q` is writable.
        let r = unsafe { portcullis_quota_new(10, 60, 3, &mut q) };
        assert_eq!(r, R::PORTCULLIS_OK);
        assert_eq!((q.rate, q.window, q.burst), (10, 60, 3));
    }

    #[test]
    fn a_verdict_crosses_unchanged() {
        let v = Verdict {
            allowed: true,
            remaining: 4,
            reset_us: 5,
            retry_after_us: 6,
        };
        let c = portcullis_verdict::from(v);
        assert_eq!(
            (c.allowed, c.remaining, c.reset_us, c.retry_after_us),
            (true, 4, 5, 6)
        );
    }
}
