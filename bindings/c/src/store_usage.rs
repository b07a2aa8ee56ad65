//! A database store's usage and audit from C: drain a recorder into the store, save a
//! batch kept from a failed drain, restore a recorder after a restart, read "last used",
//! and read the audit log.
//!
//! Decisions:
//! - **Batches cross as the JSON text of the core's `UsageBatch::to_json`**, the text
//!   `portcullis_usage_recorder_drain` writes, so a C host stores, retries and reads the
//!   signals of one form. The core has no parser for it: [`batch_from_json`] reads it
//!   back here, strictly (an unknown denial or signal kind, a missing field, an hour that
//!   is not an hour's first second are `PORTCULLIS_INVALID_ARGUMENT`), and a test proves
//!   it inverts `to_json`. Signals are read by the store's own `StoredSignal::signal`.
//! - **A failed save still hands the batch back.** `portcullis_store_drain_usage` has
//!   already emptied the recorder when the save fails; dropping the batch would lose
//!   those counts, so with the database error it writes the batch's text to `*json_out`
//!   (the one exception to "out-parameters only on success", documented on the call) for
//!   the host to retry with `portcullis_store_save_usage` (saving is additive: late is as
//!   good as on time).
//! - **"Last used" two ways:** one key (`portcullis_store_last_used`, 0 = never) for a
//!   key's page, and every key as one JSON object (`portcullis_store_last_used_all`) for
//!   a key list, one query instead of one per key.
//! - **The audit's entries are the command line's JSON shape** (`portcullis audit
//!   --json`): `{"seq", "at", "actor", "action", "key_id", "detail"}`, empty text as
//!   `null`.
//! - **Memory stores keep neither usage nor audit:** these calls answer them
//!   `PORTCULLIS_INVALID_ARGUMENT` before doing anything (a drain drains nothing).

use crate::checker::write_owned;
use crate::ffi::{Failure, FfiResult, borrow, guard, optional_text, out_ptr, text};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::store::{Backend, db_failure, key_id, portcullis_store};
use crate::usage::portcullis_usage_recorder;
use core_lib::usage::{Denial, HourCounts, KeyUsage, Network, Signal, UsageBatch};
use core_lib::{KeyId, Timestamp};
use db_store::{AuditEntry, AuditFilter, Store, StoredSignal};
use serde_json::{Map, Value as Json, json};
use std::ffi::c_char;

/// The database behind a store handle; a memory store is `PORTCULLIS_INVALID_ARGUMENT`.
fn database<'a>(store: &'a portcullis_store, what: &str) -> FfiResult<&'a Store> {
    match &store.inner {
        Backend::Database(d) => Ok(d),
        Backend::Memory(_) => Err(Failure::new(
            R::PORTCULLIS_INVALID_ARGUMENT,
            format!("a memory store keeps no {what}: open a database store"),
        )),
    }
}

/// A malformed batch: `PORTCULLIS_INVALID_ARGUMENT`, naming where.
fn bad(at: &str, what: &str) -> Failure {
    Failure::new(
        R::PORTCULLIS_INVALID_ARGUMENT,
        format!("usage batch: {at}: {what}"),
    )
}

/// An object's field as an unsigned integer.
fn uint(o: &Map<String, Json>, name: &str, at: &str) -> FfiResult<u64> {
    o.get(name)
        .and_then(Json::as_u64)
        .ok_or_else(|| bad(&format!("{at}.{name}"), "not an unsigned integer"))
}

/// An object's field that is `null` (or absent) or a positive time.
fn opt_time(o: &Map<String, Json>, name: &str, at: &str) -> FfiResult<Option<Timestamp>> {
    match o.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|t| Some(Timestamp(t)))
            .ok_or_else(|| bad(&format!("{at}.{name}"), "not null or an unsigned integer")),
    }
}

/// An object's field as an array (`[]` when absent).
fn list<'a>(o: &'a Map<String, Json>, name: &str, at: &str) -> FfiResult<&'a [Json]> {
    match o.get(name) {
        None => Ok(&[]),
        Some(v) => v
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| bad(&format!("{at}.{name}"), "not an array")),
    }
}

fn object<'a>(v: &'a Json, at: &str) -> FfiResult<&'a Map<String, Json>> {
    v.as_object().ok_or_else(|| bad(at, "not an object"))
}

fn key_id_of(o: &Map<String, Json>, at: &str) -> FfiResult<KeyId> {
    o.get("key_id")
        .and_then(Json::as_str)
        .and_then(|t| KeyId::parse(t).ok())
        .ok_or_else(|| bad(&format!("{at}.key_id"), "not a key id"))
}

fn hour_of(v: &Json, at: &str) -> FfiResult<HourCounts> {
    let o = object(v, at)?;
    let hour = uint(o, "hour", at)?;
    if hour % 3_600 != 0 {
        return Err(bad(
            &format!("{at}.hour"),
            "not the first second of an hour",
        ));
    }
    let mut denied = [0; Denial::COUNT];
    if let Some(d) = o.get("denied") {
        let d = object(d, &format!("{at}.denied"))?;
        for (name, n) in d {
            let denial = Denial::ALL
                .into_iter()
                .find(|x| x.code() == name)
                .ok_or_else(|| bad(&format!("{at}.denied"), "an unknown denial"))?;
            denied[denial as usize] = n
                .as_u64()
                .ok_or_else(|| bad(&format!("{at}.denied"), "not an unsigned integer"))?;
        }
    }
    Ok(HourCounts {
        hour: Timestamp(hour),
        allowed: uint(o, "allowed", at)?,
        denied,
    })
}

fn key_of(v: &Json, at: &str) -> FfiResult<KeyUsage> {
    let o = object(v, at)?;
    let hours = list(o, "hours", at)?
        .iter()
        .enumerate()
        .map(|(i, h)| hour_of(h, &format!("{at}.hours[{i}]")))
        .collect::<FfiResult<_>>()?;
    let networks = list(o, "networks", at)?
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.as_str().and_then(Network::parse).ok_or_else(|| {
                bad(
                    &format!("{at}.networks[{i}]"),
                    "not an IPv4 /24 or IPv6 /48 network",
                )
            })
        })
        .collect::<FfiResult<_>>()?;
    Ok(KeyUsage {
        key_id: key_id_of(o, at)?,
        first_used: opt_time(o, "first_used", at)?,
        last_used: opt_time(o, "last_used", at)?,
        hours,
        networks,
    })
}

fn signal_of(v: &Json, at: &str) -> FfiResult<Signal> {
    let o = object(v, at)?;
    let kind = o
        .get("kind")
        .and_then(Json::as_str)
        .ok_or_else(|| bad(&format!("{at}.kind"), "not a string"))?;
    // The store's reader of a signal's fields, given the whole entry (it reads by name).
    StoredSignal {
        seq: 0,
        key_id: key_id_of(o, at)?,
        at: Timestamp(uint(o, "at", at)?),
        kind: kind.to_owned(),
        details: v.clone(),
    }
    .signal()
    .ok_or_else(|| bad(at, "an unknown kind, or its fields are missing"))
}

/// Reads a batch from the text `UsageBatch::to_json` writes (see the module's decisions).
fn batch_from_json(text: &str) -> FfiResult<UsageBatch> {
    let v: Json = serde_json::from_str(text).map_err(|e| {
        // Line and column only: the message of serde_json may quote the input.
        bad(
            &format!("line {} column {}", e.line(), e.column()),
            "not JSON",
        )
    })?;
    let o = object(&v, "the batch")?;
    if !o.contains_key("keys") || !o.contains_key("signals") {
        return Err(bad("the batch", "no \"keys\" or no \"signals\""));
    }
    let keys = list(o, "keys", "batch")?
        .iter()
        .enumerate()
        .map(|(i, k)| key_of(k, &format!("keys[{i}]")))
        .collect::<FfiResult<_>>()?;
    let signals = list(o, "signals", "batch")?
        .iter()
        .enumerate()
        .map(|(i, s)| signal_of(s, &format!("signals[{i}]")))
        .collect::<FfiResult<_>>()?;
    let dropped = match o.get("dropped") {
        None => 0,
        Some(_) => uint(o, "dropped", "batch")?,
    };
    Ok(UsageBatch {
        keys,
        signals,
        dropped,
    })
}

/// Drains `recorder` at `now` (as `portcullis_usage_recorder_drain`) and saves the batch
/// in this database store in one transaction (counts added per key and hour, first use
/// kept earliest and last use latest, networks merged, signals appended; many processes
/// may save into one database). Writes the batch's JSON text (as
/// `portcullis_usage_recorder_drain` writes it; library-owned, NUL-terminated: free with
/// `portcullis_string_free`) to `*json_out` and its length to `*len_out` (may be NULL),
/// so the host can act on its `signals`. Call it every few seconds from one thread, and
/// once before exiting; never per request.
///
/// When the save fails the recorder has already been drained: the call returns the
/// store's `PORTCULLIS_DATABASE_*` error **and still writes the batch's text to
/// `*json_out` and `*len_out`** (the one exception to "out-parameters only on success"),
/// to keep and retry with `portcullis_store_save_usage` (saving is additive: a late batch
/// adds up the same); free it either way. Set `*json_out = NULL` before the call and
/// free it when non-NULL after. On every other error nothing is drained or written:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a memory store).
///
/// # Safety
/// `store`, `recorder` live; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_drain_usage(
    store: *const portcullis_store,
    recorder: *const portcullis_usage_recorder,
    now: u64,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live (contract).
        let (store, recorder) = unsafe { (borrow(store)?, borrow(recorder)?) };
        let db = database(store, "usage")?;
        let (batch, failure) = match db.drain_usage(&recorder.inner, Timestamp(now)) {
            Ok(batch) => (batch, None),
            Err(unsaved) => (unsaved.batch, Some(db_failure(unsaved.error))),
        };
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { write_owned(out, len_out, batch.to_json().to_string()) }?;
        failure.map_or(Ok(()), Err)
    })
}

/// Saves a batch, the `len` bytes of JSON text at `json` as `portcullis_usage_recorder_drain`
/// and `portcullis_store_drain_usage` write it, in this database store (as
/// `portcullis_store_drain_usage` saves): for a batch drained by the recorder directly,
/// or kept from a drain whose save failed. Additive: saving one batch twice counts it
/// twice. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_INVALID_ARGUMENT` (a memory store, or text
/// that is not such a batch: `portcullis_last_error` says where; nothing was saved), the
/// `PORTCULLIS_DATABASE_*` errors (nothing was saved: keep the text and retry).
///
/// # Safety
/// `store` live; `json` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_save_usage(
    store: *const portcullis_store,
    json: *const c_char,
    len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (store, json) = unsafe { (borrow(store)?, text(json, len)?) };
        let db = database(store, "usage")?;
        let batch = batch_from_json(json)?;
        db.save_usage(&batch).map_err(db_failure)
    })
}

/// Gives a new recorder (after a restart) what this database store holds of the most
/// recently used keys — first and last use, client networks — at most three quarters of
/// its `max_keys` (leaving room for new keys), so that learning periods, dormancy and
/// known networks carry over. `*restored_out` (may be NULL) receives how many keys it
/// restored. Call it before the recorder's checker serves requests. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a memory store), the
/// `PORTCULLIS_DATABASE_*` errors (nothing was restored).
///
/// # Safety
/// `store`, `recorder` live; `restored_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_restore_usage(
    store: *const portcullis_store,
    recorder: *const portcullis_usage_recorder,
    restored_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let (store, recorder) = unsafe { (borrow(store)?, borrow(recorder)?) };
        let restored = database(store, "usage")?
            .restore_usage(&recorder.inner)
            .map_err(db_failure)?;
        // SAFETY: NULL or writable (contract).
        if let Some(out) = unsafe { restored_out.as_mut() } {
            *out = restored;
        }
        Ok(())
    })
}

/// Writes the last authenticated use on record of the key `key_id` (Unix seconds; 0: never
/// used, or unknown to the store) to `*at_out`: what saved batches say, so uses not yet
/// drained are not in it. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_KEY_LENGTH` / `PORTCULLIS_KEY_CHARACTER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (a memory store), the `PORTCULLIS_DATABASE_*` errors.
///
/// # Safety
/// `store` live; `key_id` readable for `key_id_len` bytes; `at_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_last_used(
    store: *const portcullis_store,
    key_id: *const c_char,
    key_id_len: usize,
    at_out: *mut u64,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(at_out)?;
        // SAFETY: live / readable (contract).
        let (store, id) = unsafe { (borrow(store)?, self::key_id(key_id, key_id_len)?) };
        // Since the end of time: the key's row only, no hours or signals.
        let history = database(store, "usage")?
            .key_usage(&id, Timestamp(u64::MAX))
            .map_err(db_failure)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(history.last_used.map_or(0, Timestamp::secs)) };
        Ok(())
    })
}

/// Writes every key's last authenticated use on record as one JSON object (`{"KEY_ID":
/// UNIX_SECONDS, …}`, by key id; keys never used are absent; at most 100,000 keys, the most
/// recently used) to `*json_out` (library-owned, NUL-terminated: free with
/// `portcullis_string_free`) and its length to `*len_out` (may be NULL): the "last used"
/// column of a key list. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT`
/// (a memory store), the `PORTCULLIS_DATABASE_*` errors.
///
/// # Safety
/// `store` live; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_last_used_all(
    store: *const portcullis_store,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live (contract).
        let store = unsafe { borrow(store) }?;
        let all = database(store, "usage")?
            .last_used_all()
            .map_err(db_failure)?;
        let object: Map<String, Json> = all
            .into_iter()
            .map(|(id, at)| (id.as_str().to_owned(), Json::from(at.secs())))
            .collect();
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { write_owned(out, len_out, Json::Object(object).to_string()) }
    })
}

/// An entry as `portcullis audit --json` writes it (empty text as `null`).
fn entry_json(e: &AuditEntry) -> Json {
    let non_empty = |t: &str| (!t.is_empty()).then(|| t.to_owned());
    json!({
        "seq": e.seq,
        "at": e.at.secs(),
        "actor": non_empty(&e.actor),
        "action": e.action,
        "key_id": non_empty(&e.key_id),
        "detail": non_empty(&e.detail),
    })
}

/// Writes a page of this database store's append-only audit log, **newest first**, as a
/// JSON array to `*json_out` (library-owned, NUL-terminated: free with
/// `portcullis_string_free`) and its length to `*len_out` (may be NULL). Each entry is
/// `{"seq", "at", "actor", "action", "key_id", "detail"}` (the command line's `audit
/// --json` entries): `seq` its place in the log, `at` Unix seconds, `action` one of
/// `created`, `revoked`, `rotated`, `rehashed`, `pepper_rotated`; `actor` (who, as the
/// host named them with an `_as` call), `key_id` (absent for a pepper rotation) and
/// `detail` (the successor's id for `rotated`, the predecessor's for `created` by
/// rotation, the new pepper's id for `pepper_rotated`) are `null` when empty. The log
/// never holds a secret. `key_id` NULL: every entry; else only that key's. `before_seq`
/// 0: from the newest; else only entries below it (page back with the smallest `seq` of
/// a page). `limit`: at most that many, 0 meaning 100, capped at 1,000. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`,
/// `PORTCULLIS_KEY_LENGTH` / `PORTCULLIS_KEY_CHARACTER`, `PORTCULLIS_INVALID_ARGUMENT`
/// (a memory store, which keeps no audit; a `before_seq` over `INT64_MAX`), the
/// `PORTCULLIS_DATABASE_*` errors.
///
/// # Safety
/// `store` live; `key_id` NULL or readable for `key_id_len` bytes; `json_out` writable;
/// `len_out` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn portcullis_store_audit_log(
    store: *const portcullis_store,
    key_id: *const c_char,
    key_id_len: usize,
    before_seq: u64,
    limit: usize,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live / NULL or readable (contract).
        let (store, id) = unsafe { (borrow(store)?, optional_text(key_id, key_id_len)?) };
        let key = match id {
            // SAFETY: readable (contract), as just read.
            Some(_) => Some(unsafe { self::key_id(key_id, key_id_len) }?),
            None => None,
        };
        let before = match before_seq {
            0 => None,
            n => Some(i64::try_from(n).map_err(|_| {
                Failure::new(R::PORTCULLIS_INVALID_ARGUMENT, "before_seq: over INT64_MAX")
            })?),
        };
        let filter = AuditFilter {
            key,
            before,
            after: None,
            limit: if limit == 0 { 100 } else { limit },
        };
        let entries = database(store, "audit")?
            .audit_log(&filter)
            .map_err(db_failure)?;
        let text = Json::from(entries.iter().map(entry_json).collect::<Vec<_>>()).to_string();
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { write_owned(out, len_out, text) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::portcullis_string_free;
    use core_lib::Warnings;
    use core_lib::usage::{SignalKind, UsageConfig, UsageRecorder, Use};
    use db_store::Options;
    use std::ffi::CStr;
    use std::sync::Arc;
    use std::time::Duration;

    fn id(text: &str) -> KeyId {
        KeyId::parse(text).expect("test id")
    }

    fn net(text: &str) -> Network {
        Network::parse(text).expect("test network")
    }

    /// A batch with every field and every signal kind in use.
    fn full_batch() -> UsageBatch {
        let a = id("AbCdEfGh01234567");
        let mut denied = [0; Denial::COUNT];
        for (i, d) in denied.iter_mut().enumerate() {
            *d = i as u64 + 1;
        }
        let kinds = [
            SignalKind::NewNetwork {
                network: net("2001:db8:1::/48"),
            },
            SignalKind::Volume {
                hour: Timestamp(7_200),
                count: 5_000,
                baseline: 12.25,
            },
            SignalKind::AfterDormancy {
                last_used: Timestamp(77),
            },
            SignalKind::WrongSecretBurst {
                attempts: 10,
                since: Timestamp(60),
            },
            SignalKind::RotationDue,
        ];
        UsageBatch {
            keys: vec![
                KeyUsage {
                    key_id: a,
                    first_used: Some(Timestamp(3_600)),
                    last_used: Some(Timestamp(7_300)),
                    hours: vec![
                        HourCounts {
                            hour: Timestamp(3_600),
                            allowed: 3,
                            denied,
                        },
                        HourCounts {
                            hour: Timestamp(7_200),
                            allowed: 1,
                            denied: [0; Denial::COUNT],
                        },
                    ],
                    networks: vec![net("203.0.113.0/24"), net("2001:db8:1::/48")],
                },
                KeyUsage {
                    key_id: id("ZyXwVuTs98765432"),
                    first_used: None,
                    last_used: None,
                    hours: vec![],
                    networks: vec![],
                },
            ],
            signals: kinds
                .into_iter()
                .map(|kind| Signal {
                    key_id: a,
                    at: Timestamp(7_300),
                    kind,
                })
                .collect(),
            dropped: 4,
        }
    }

    #[test]
    fn a_batch_read_back_from_its_json_is_the_batch() {
        let batch = full_batch();
        let text = batch.to_json().to_string();
        assert_eq!(batch_from_json(&text).ok(), Some(batch));
        let empty = UsageBatch::default();
        assert_eq!(
            batch_from_json(&empty.to_json().to_string()).ok(),
            Some(empty)
        );
    }

    /// A change that spoils a batch's JSON.
    type Edit = fn(&mut Json);

    #[test]
    fn a_malformed_batch_is_an_invalid_argument_that_says_where() {
        let good = full_batch().to_json();
        let edits: [(&str, Edit); 9] = [
            ("keys", |v| v["keys"] = Json::Null),
            ("no \"keys\"", |v| {
                v.as_object_mut().map(|o| o.remove("keys"));
            }),
            ("keys[0].key_id", |v| {
                v["keys"][0]["key_id"] = "short".into()
            }),
            ("keys[0].hours[0].hour", |v| {
                v["keys"][0]["hours"][0]["hour"] = 3_601.into()
            }),
            ("keys[0].hours[0].denied", |v| {
                v["keys"][0]["hours"][0]["denied"]["sneezed"] = 1.into()
            }),
            ("keys[0].hours[1].allowed", |v| {
                v["keys"][0]["hours"][1]["allowed"] = (-1).into()
            }),
            ("keys[0].networks[0]", |v| {
                v["keys"][0]["networks"][0] = "203.0.113.7/32".into()
            }),
            ("signals[1]", |v| {
                v["signals"][1].as_object_mut().map(|o| o.remove("count"));
            }),
            ("signals[4]", |v| {
                v["signals"][4]["kind"] = "from_the_future".into()
            }),
        ];
        for (at, edit) in edits {
            let mut v = good.clone();
            edit(&mut v);
            let failure = batch_from_json(&v.to_string()).err();
            let code = failure.as_ref().map(|f| f.code);
            let detail = failure.and_then(|f| f.detail).unwrap_or_default();
            assert_eq!(code, Some(R::PORTCULLIS_INVALID_ARGUMENT), "{at}");
            assert!(detail.contains(at), "{at}: {detail}");
        }
        let failure = batch_from_json("{\"keys\": [sk_live_secret").err();
        let detail = failure.and_then(|f| f.detail).unwrap_or_default();
        assert!(
            detail.contains("not JSON") && !detail.contains("sk_live"),
            "{detail}"
        );
    }

    /// A SQLite store in a fresh file, with a short busy timeout.
    fn sqlite_store(name: &str) -> (String, portcullis_store) {
        let path = std::env::temp_dir().join(format!(
            "portcullis-c-{name}-{}.sqlite3",
            std::process::id()
        ));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let url = format!("sqlite:{}", path.display());
        let options = Options {
            statement_timeout: Duration::from_millis(100),
            feed: false,
            ..Options::default()
        };
        let store = Store::open_with(&url, options).expect("open the test store");
        let handle = portcullis_store {
            inner: Backend::Database(Arc::new(store)),
        };
        (url, handle)
    }

    #[test]
    fn a_drain_whose_save_fails_hands_the_batch_back_and_it_saves_later() {
        let (url, store) = sqlite_store("unsaved");
        let recorder = portcullis_usage_recorder {
            inner: Arc::new(UsageRecorder::new(UsageConfig::default()).expect("config")),
        };
        let key = id("AbCdEfGh01234567");
        let now = 1_800_000_000;
        recorder.inner.record(
            &key,
            Use::Allowed,
            Warnings::default(),
            None,
            Timestamp(now),
        );
        // Another process holds the write lock past the busy timeout.
        let other = Store::open_with(
            &url,
            Options {
                feed: false,
                ..Options::default()
            },
        )
        .expect("open the second store");
        let mut json: *mut c_char = std::ptr::null_mut();
        let mut len = 0;
        let code = other
            .with_write_lock(|| {
                // SAFETY: live handles and writable outs.
                Ok::<_, db_store::Error>(unsafe {
                    portcullis_store_drain_usage(&store, &recorder, now + 10, &mut json, &mut len)
                })
            })
            .expect("the lock");
        assert_eq!(code, R::PORTCULLIS_DATABASE_STORE_BUSY);
        assert!(!json.is_null(), "the batch is handed back");
        // SAFETY: a NUL-terminated string of the library, `len` bytes before the NUL.
        let text = unsafe { CStr::from_ptr(json) }
            .to_str()
            .expect("UTF-8")
            .to_owned();
        assert_eq!(text.len(), len);
        assert!(text.contains(key.as_str()), "{text}");
        // SAFETY: the library's string, freed once.
        unsafe { portcullis_string_free(json) };
        let mut at = 0;
        // SAFETY: live handle, readable id, writable out.
        let read = |at: &mut u64| unsafe {
            portcullis_store_last_used(&store, key.as_str().as_ptr().cast(), 16, at)
        };
        assert_eq!(read(&mut at), R::PORTCULLIS_OK);
        assert_eq!(at, 0, "nothing saved");
        // SAFETY: live handle, readable text.
        let saved =
            unsafe { portcullis_store_save_usage(&store, text.as_ptr().cast(), text.len()) };
        assert_eq!(saved, R::PORTCULLIS_OK);
        assert_eq!(read(&mut at), R::PORTCULLIS_OK);
        assert_eq!(at, now, "saved late, counted the same");
        drop(other);
        drop(store);
        if let Some(path) = url.strip_prefix("sqlite:") {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}
