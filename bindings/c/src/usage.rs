//! `portcullis_usage_recorder`: per-key usage (first and last use, counts per hour) and
//! unusual-activity signals, fed by a checker's decisions and drained by the host as JSON.
//!
//! - The recorder is an `Arc` inside: a checker made with it keeps its own reference, so
//!   the host frees its handle whenever it likes.
//! - Drains come out as the compact JSON text of the core's `UsageBatch::to_json` (the
//!   form the conformance vectors and the store use), so C hosts store what Rust and
//!   Python hosts store.
//! - Warning sets cross as a bitmask of `portcullis_warning` bits, one bit per core
//!   warning; the match in [`bit`] fails to compile when the core gains a warning.

use crate::checker::portcullis_checker;
use crate::ffi::{
    Failure, FfiResult, array, borrow, free_handle, guard, into_handle, optional_text, out_ptr,
    text,
};
use crate::oauth_access::{catalog_mismatch, portcullis_access_verifier};
use crate::peppers::portcullis_peppers;
use crate::policy::portcullis_policy;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::usage::{Network, UsageConfig, UsageRecorder, Use};
use core_lib::{Checker, Timestamp, Warning, Warnings};
use std::ffi::c_char;
use std::net::IpAddr;
use std::sync::Arc;

/// One decision warning as a bit of a warning set (`uint32_t`), as
/// `portcullis_usage_recorder_record` takes and gives them; the names are the warnings' codes
/// (`portcullis_decision_warning`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum portcullis_warning {
    /// `rotation_due`: the key is older than the policy's maximum age.
    PORTCULLIS_WARNING_ROTATION_DUE = 1 << 0,
    /// `expiring_soon`: the key expires within the policy's warning window.
    PORTCULLIS_WARNING_EXPIRING_SOON = 1 << 1,
    /// `credential_in_query`: the credential came in the query string.
    PORTCULLIS_WARNING_CREDENTIAL_IN_QUERY = 1 << 2,
    /// `needs_rehash`: the record uses an old pepper or the legacy scheme.
    PORTCULLIS_WARNING_NEEDS_REHASH = 1 << 3,
    /// `unknown_scopes`: the record grants scopes the catalog does not know.
    PORTCULLIS_WARNING_UNKNOWN_SCOPES = 1 << 4,
    /// `new_network`: the key was used from a client network it had not been used from.
    PORTCULLIS_WARNING_NEW_NETWORK = 1 << 5,
    /// `after_dormancy`: the key was used after a long idle time.
    PORTCULLIS_WARNING_AFTER_DORMANCY = 1 << 6,
}

use portcullis_warning as W;

/// Every warning, in bit order.
const WARNINGS: [Warning; 7] = [
    Warning::RotationDue,
    Warning::ExpiringSoon,
    Warning::CredentialInQuery,
    Warning::NeedsRehash,
    Warning::UnknownScopes,
    Warning::NewNetwork,
    Warning::AfterDormancy,
];

/// A warning's bit; exhaustive, so a new core warning needs a bit before this compiles.
const fn bit(w: Warning) -> u32 {
    (match w {
        Warning::RotationDue => W::PORTCULLIS_WARNING_ROTATION_DUE,
        Warning::ExpiringSoon => W::PORTCULLIS_WARNING_EXPIRING_SOON,
        Warning::CredentialInQuery => W::PORTCULLIS_WARNING_CREDENTIAL_IN_QUERY,
        Warning::NeedsRehash => W::PORTCULLIS_WARNING_NEEDS_REHASH,
        Warning::UnknownScopes => W::PORTCULLIS_WARNING_UNKNOWN_SCOPES,
        Warning::NewNetwork => W::PORTCULLIS_WARNING_NEW_NETWORK,
        Warning::AfterDormancy => W::PORTCULLIS_WARNING_AFTER_DORMANCY,
    }) as u32
}

/// `WARNINGS` lists every warning once, each on its own bit, in bit order.
const _: () = {
    let mut i = 0;
    while i < WARNINGS.len() {
        assert!(bit(WARNINGS[i]) == 1 << i);
        i += 1;
    }
};

/// Every bit a warning set may hold.
const ALL_BITS: u32 = (1 << WARNINGS.len()) - 1;

/// A warning set as bits.
fn bits(warnings: Warnings) -> u32 {
    warnings.iter().fold(0, |acc, w| acc | bit(w))
}

/// Bits as a warning set; an unknown bit is `PORTCULLIS_INVALID_ARGUMENT`.
fn warnings(bits: u32) -> FfiResult<Warnings> {
    if bits & !ALL_BITS != 0 {
        return Err(Failure::new(
            R::PORTCULLIS_INVALID_ARGUMENT,
            format!("warnings: unknown bits {:#x}", bits & !ALL_BITS),
        ));
    }
    let mut set = Warnings::default();
    for w in WARNINGS.into_iter().filter(|w| bits & bit(*w) != 0) {
        set.insert(w);
    }
    Ok(set)
}

/// A client address argument: NULL for unknown, else an IP address as text without a
/// port (`203.0.113.5`, `2001:db8::1`). Always inlined: it is on the check hot path.
///
/// # Safety
/// `p` is NULL or readable for `len` bytes.
#[inline(always)]
pub(crate) unsafe fn client_addr(p: *const c_char, len: usize) -> FfiResult<Option<IpAddr>> {
    // SAFETY: forwarded contract.
    let Some(t) = (unsafe { optional_text(p, len) })? else {
        return Ok(None);
    };
    t.parse().map(Some).map_err(|_| {
        Failure::new(
            R::PORTCULLIS_INVALID_ARGUMENT,
            "client: not an IP address (no port, no brackets)",
        )
    })
}

/// The settings of a usage recorder; durations in seconds. Start from
/// `portcullis_usage_config_default` and change what you need, so that a field added
/// later gets its default.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(non_camel_case_types)]
pub struct portcullis_usage_config {
    /// Keys tracked at once, 1 to 1,048,576 (default 10,000); the table (about 300 bytes
    /// per key plus 16 per key per core) is allocated when the recorder is made.
    pub max_keys: usize,
    /// How long after its first use a key's client networks are learnt without a signal
    /// (default 7 days).
    pub learning: u64,
    /// The idle time after which a use raises `after_dormancy` (default 30 days).
    pub dormancy: u64,
    /// Wrong secrets within `burst_window` that make a `wrong_secret_burst`, at least 1
    /// (default 10).
    pub burst_threshold: u32,
    /// The burst window (default 600 s).
    pub burst_window: u64,
    /// How many times its trailing hourly baseline an hour's count must reach for a
    /// `volume` signal, at least 1 and finite (default 10).
    pub volume_factor: f64,
    /// The fewest uses in an hour that can be a volume alarm (default 1,000).
    pub volume_min_count: u64,
    /// Hours the baseline averages over, and the history a key needs before the volume
    /// rule applies, 1 to 8,760 (default 24).
    pub baseline_hours: u32,
}

impl From<&UsageConfig> for portcullis_usage_config {
    fn from(c: &UsageConfig) -> Self {
        portcullis_usage_config {
            max_keys: c.max_keys,
            learning: c.learning,
            dormancy: c.dormancy,
            burst_threshold: c.burst_threshold,
            burst_window: c.burst_window,
            volume_factor: c.volume_factor,
            volume_min_count: c.volume_min_count,
            baseline_hours: c.baseline_hours,
        }
    }
}

impl From<&portcullis_usage_config> for UsageConfig {
    fn from(c: &portcullis_usage_config) -> Self {
        UsageConfig {
            max_keys: c.max_keys,
            learning: c.learning,
            dormancy: c.dormancy,
            burst_threshold: c.burst_threshold,
            burst_window: c.burst_window,
            volume_factor: c.volume_factor,
            volume_min_count: c.volume_min_count,
            baseline_hours: c.baseline_hours,
        }
    }
}

/// Counters about a recorder itself (`portcullis_usage_recorder_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct portcullis_usage_stats {
    /// Keys tracked now.
    pub keys: usize,
    /// The bound (`max_keys`).
    pub max_keys: usize,
    /// Uses not recorded since the recorder was made (a new key and no room).
    pub dropped: u64,
    /// Keys evicted since the recorder was made.
    pub evicted: u64,
}

/// Counts uses per key — first and last use, counts per hour (allowed, denied by
/// reason), client networks — and raises unusual-activity signals (new network, volume,
/// after dormancy, wrong-secret burst, rotation due), in a fixed table allocated when it
/// is made. Thread-safe: record, drain, restore and read stats from any number of
/// threads at once (recording takes no lock and allocates nothing; one drain runs at a
/// time). Checkers made with it keep it alive, so it may be freed before them.
#[allow(non_camel_case_types)]
pub struct portcullis_usage_recorder {
    pub(crate) inner: Arc<UsageRecorder>,
}

/// Writes the default settings to `*config_out`. Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `config_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_usage_config_default(
    config_out: *mut portcullis_usage_config,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(config_out)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write((&UsageConfig::default()).into()) };
        Ok(())
    })
}

/// Makes a recorder with `config` (copied). Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` for a setting out of range (`portcullis_last_error`
/// names it with its code of the family `usage`: `bad_max_keys`, `bad_burst_threshold`,
/// `bad_volume_factor`, `bad_baseline_hours`).
///
/// # Safety
/// `config` readable; `recorder_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_usage_recorder_new(
    config: *const portcullis_usage_config,
    recorder_out: *mut *mut portcullis_usage_recorder,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(recorder_out)?;
        // SAFETY: readable (contract).
        let config = UsageConfig::from(unsafe { borrow(config) }?);
        let recorder = UsageRecorder::new(config)
            .map_err(|e| Failure::new(R::of(e.row()), format!("{}: {e}", e.code())))?;
        let handle = portcullis_usage_recorder {
            inner: Arc::new(recorder),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Makes a checker (as `portcullis_checker_new`) that records every decision made against
/// a key's record in `recorder` (`portcullis_checker_check`, `_check_store`,
/// `_check_store_into`, `portcullis_pending_finish`): counts, first and last use, and
/// signals, of which `new_network` and `after_dormancy` also come back as decision
/// warnings. Pass the client address in `portcullis_request.client` for the network
/// rule. `verifier` is NULL or an access-token verifier, as for
/// `portcullis_checker_new_with_access_tokens` (access tokens are not recorded). The
/// checker keeps its own reference to the recorder. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the verifier was made for another scope catalog).
///
/// # Safety
/// `policy`, `peppers`, `recorder` live; `verifier` NULL or live; `checker_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_new_with_usage(
    policy: *const portcullis_policy,
    peppers: *const portcullis_peppers,
    verifier: *const portcullis_access_verifier,
    recorder: *const portcullis_usage_recorder,
    checker_out: *mut *mut portcullis_checker,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(checker_out)?;
        // SAFETY: live, the verifier NULL or live (contract).
        let (policy, peppers, verifier, recorder) = unsafe {
            (
                borrow(policy)?,
                borrow(peppers)?,
                verifier.as_ref(),
                borrow(recorder)?,
            )
        };
        let mut checker = Checker::new(policy.policy.clone(), peppers.build()?);
        if let Some(v) = verifier {
            checker = checker
                .with_access_tokens(v.inner.clone())
                .map_err(catalog_mismatch)?;
        }
        let handle = portcullis_checker {
            inner: Arc::new(checker.with_usage(recorder.inner.clone())),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Records one use of the key `key_id` at `now`, for hosts that decide by other means
/// (`portcullis_checker_verify`, a cache of their own); a checker made with
/// `portcullis_checker_new_with_usage` records its checks itself. `use_code` is the
/// decision's reason code (`portcullis_decision_reason`): `allowed`, or a denial made
/// against the key's record (`wrong_secret`, `revoked`, `expired`, `not_yet_valid`,
/// `max_age_exceeded`, `insufficient_scope`, `unknown_route`, `corrupt_record`,
/// `unknown_pepper`, `legacy_hash_refused`); any other code (`unknown_key`,
/// `lookup_failed`, …) records nothing and is not an error. `warnings` are the decision's,
/// as `portcullis_warning` bits (its `PORTCULLIS_WARNING_ROTATION_DUE` raises the
/// `rotation_due` signal). `client` is the client's IP address as text without a port, or
/// NULL when unknown. `*raised_out` (may be NULL) receives the warnings this use raised
/// (`PORTCULLIS_WARNING_NEW_NETWORK`, `PORTCULLIS_WARNING_AFTER_DORMANCY`; 0 when it
/// recorded nothing). Thread-safe. Errors: `PORTCULLIS_NULL_PARAMETER` (recorder, key_id,
/// use_code), `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`,
/// `PORTCULLIS_KEY_LENGTH` / `PORTCULLIS_KEY_CHARACTER` (the key id is not 16 base62
/// characters), `PORTCULLIS_INVALID_ARGUMENT` (an unknown warning bit, or a client that
/// is not an IP address).
///
/// # Safety
/// `recorder` live; `key_id`, `use_code` readable for their lengths; `client` NULL or
/// readable for `client_len` bytes; `raised_out` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn portcullis_usage_recorder_record(
    recorder: *const portcullis_usage_recorder,
    key_id: *const c_char,
    key_id_len: usize,
    use_code: *const c_char,
    use_code_len: usize,
    warnings: u32,
    client: *const c_char,
    client_len: usize,
    now: u64,
    raised_out: *mut u32,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (recorder, id, code, client) = unsafe {
            (
                borrow(recorder)?,
                crate::store::key_id(key_id, key_id_len)?,
                text(use_code, use_code_len)?,
                client_addr(client, client_len)?,
            )
        };
        let given = self::warnings(warnings)?;
        let raised = Use::from_code(code).map_or(Warnings::default(), |used| {
            recorder
                .inner
                .record(&id, used, given, client, Timestamp(now))
        });
        // SAFETY: NULL or writable (contract).
        if let Some(out) = unsafe { raised_out.as_mut() } {
            *out = bits(raised);
        }
        Ok(())
    })
}

/// Takes every count and signal recorded since the previous drain (evaluating the volume
/// rule on the counts; `now` stamps volume alarms) and writes them to `*json_out` as
/// compact JSON text (library-owned, NUL-terminated: free with `portcullis_string_free`),
/// its length to `*len_out` (may be NULL). The text is the core's `UsageBatch::to_json`:
/// `{"dropped": n, "keys": [{"key_id", "first_used", "last_used", "hours": [{"hour",
/// "allowed", "denied": {reason: count}}], "networks": ["203.0.113.0/24"]}], "signals":
/// [{"key_id", "at", "kind", …}]}`, times in Unix seconds. Drain every few seconds from
/// one thread and store the batch; recording goes on meanwhile. Thread-safe (one drain
/// runs at a time). Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `recorder` live; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_usage_recorder_drain(
    recorder: *const portcullis_usage_recorder,
    now: u64,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live (contract).
        let recorder = unsafe { borrow(recorder) }?;
        let batch = recorder.inner.drain(Timestamp(now));
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { crate::checker::write_owned(out, len_out, batch.to_json().to_string()) }
    })
}

/// Gives the key `key_id` back what a previous recorder knew of it (from your store), so
/// that learning, dormancy and new networks carry across a restart: its first and last
/// authenticated use (Unix seconds; 0 = unknown) and the client networks it was used
/// from, `networks_len` strings in the form the drain writes (`203.0.113.0/24`,
/// `2001:db8:1::/48`; at most 8 are kept). Earlier first and later last uses than the
/// recorder's own win. `*restored_out` (may be NULL) receives false when the table had
/// no room for the key. Thread-safe. Errors: `PORTCULLIS_NULL_PARAMETER` (recorder,
/// key_id, a network's data, networks with a nonzero count), `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_KEY_LENGTH` / `PORTCULLIS_KEY_CHARACTER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (a network that is not an IPv4 /24 or IPv6 /48; nothing
/// is restored then).
///
/// # Safety
/// `recorder` live; `key_id` readable for `key_id_len` bytes; `networks` NULL (with a
/// count of 0) or `networks_len` readable strings; `restored_out` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn portcullis_usage_recorder_restore(
    recorder: *const portcullis_usage_recorder,
    key_id: *const c_char,
    key_id_len: usize,
    first_used: u64,
    last_used: u64,
    networks: *const portcullis_str,
    networks_len: usize,
    restored_out: *mut bool,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (recorder, id, list) = unsafe {
            (
                borrow(recorder)?,
                crate::store::key_id(key_id, key_id_len)?,
                array(networks, networks_len)?,
            )
        };
        let mut nets = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            // SAFETY: each string readable for its length (contract).
            let t = unsafe { text(s.data, s.len) }?;
            let net = Network::parse(t).ok_or_else(|| {
                Failure::new(
                    R::PORTCULLIS_INVALID_ARGUMENT,
                    format!("networks[{i}]: not an IPv4 /24 or IPv6 /48 network"),
                )
            })?;
            nets.push(net);
        }
        let stamp = |t: u64| (t > 0).then_some(Timestamp(t));
        let restored = recorder
            .inner
            .restore(&id, stamp(first_used), stamp(last_used), &nets);
        // SAFETY: NULL or writable (contract).
        if let Some(out) = unsafe { restored_out.as_mut() } {
            *out = restored;
        }
        Ok(())
    })
}

/// Writes the recorder's own counters to `*stats_out`. Thread-safe. Errors:
/// `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `recorder` live; `stats_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_usage_recorder_stats(
    recorder: *const portcullis_usage_recorder,
    stats_out: *mut portcullis_usage_stats,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(stats_out)?;
        // SAFETY: live (contract).
        let s = unsafe { borrow(recorder) }?.inner.stats();
        let stats = portcullis_usage_stats {
            keys: s.keys,
            max_keys: s.max_keys,
            dropped: s.dropped,
            evicted: s.evicted,
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(stats) };
        Ok(())
    })
}

/// Frees the host's recorder handle. NULL is a no-op. Checkers made with it keep
/// recording into it (they hold their own reference).
///
/// # Safety
/// `recorder` is NULL or a recorder not yet freed, no longer used through this handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_usage_recorder_free(recorder: *mut portcullis_usage_recorder) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(recorder) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_bits_round_trip_and_unknown_bits_are_refused() {
        let mut set = Warnings::default();
        set.insert(Warning::RotationDue);
        set.insert(Warning::AfterDormancy);
        let b = bits(set);
        assert_eq!(
            b,
            W::PORTCULLIS_WARNING_ROTATION_DUE as u32 | W::PORTCULLIS_WARNING_AFTER_DORMANCY as u32
        );
        assert_eq!(warnings(b).ok(), Some(set));
        assert_eq!(warnings(ALL_BITS).map(bits).ok(), Some(ALL_BITS));
        let refused = warnings(1 << 7).err().map(|f| f.code);
        assert_eq!(refused, Some(R::PORTCULLIS_INVALID_ARGUMENT));
    }

    #[test]
    fn config_converts_both_ways_unchanged() {
        let core = UsageConfig {
            max_keys: 5,
            learning: 6,
            dormancy: 7,
            burst_threshold: 8,
            burst_window: 9,
            volume_factor: 2.5,
            volume_min_count: 11,
            baseline_hours: 12,
        };
        let c = portcullis_usage_config::from(&core);
        assert_eq!(UsageConfig::from(&c), core);
    }

    #[test]
    fn client_addresses_parse_or_are_invalid_arguments() {
        let ok = |s: &str| {
            // SAFETY: `s` is readable for its length.
            unsafe { client_addr(s.as_ptr().cast(), s.len()) }
                .ok()
                .flatten()
        };
        assert_eq!(ok("203.0.113.5"), "203.0.113.5".parse().ok());
        assert_eq!(ok("2001:db8::1"), "2001:db8::1".parse().ok());
        for bad in ["203.0.113.5:443", "[2001:db8::1]", "", "localhost"] {
            // SAFETY: `bad` is readable for its length.
            let r = unsafe { client_addr(bad.as_ptr().cast(), bad.len()) };
            assert_eq!(
                r.err().map(|f| f.code),
                Some(R::PORTCULLIS_INVALID_ARGUMENT),
                "{bad}"
            );
        }
        // SAFETY: NULL is "unknown", never read.
        let none = unsafe { client_addr(std::ptr::null(), 5) };
        assert_eq!(none.ok(), Some(None));
    }
}
