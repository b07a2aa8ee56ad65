//! Issuing and rotating keys: the plaintext exists once, in a `portcullis_issued_key`.

use crate::checker::portcullis_checker;
use crate::ffi::{
    Failure, FfiResult, array, borrow, free_handle, guard, into_handle, optional_text, out_ptr,
    read, text,
};
use crate::record::portcullis_record;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::{IssueError, IssuedKey, KeySpec, Metadata, OsRandom, Timestamp};
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a new key should be. Strings are read during the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_key_spec {
    /// A name for people (`Production Integration`), 1-256 bytes. Required.
    pub name: portcullis_str,
    /// The owning organisation or user, 1-256 bytes. Required.
    pub owner: portcullis_str,
    /// Granted scopes: names or patterns (`claims:*`); NULL when `scopes_len` is 0.
    pub scopes: *const portcullis_str,
    /// Number of entries in `scopes`.
    pub scopes_len: usize,
    /// Lifetime in seconds from creation; 0 (the zero value) means absent: the key never
    /// expires. A zero-length lifetime cannot be requested: 0 is this field's spelling of
    /// "none", like `not_before` 0 and NULL strings, and a key expired at issuance is
    /// useless (the Rust and Python APIs refuse a zero `ttl` for the same reason).
    pub ttl_secs: u64,
    /// Not valid before this time (Unix seconds); 0 valid from creation.
    pub not_before: u64,
    /// The key kind; absent (NULL) for the policy's first kind.
    pub kind: portcullis_str,
    /// The environment; absent (NULL) for the policy's deployment environment.
    pub env: portcullis_str,
    /// Host data as a JSON object; absent (NULL) for none.
    pub metadata_json: portcullis_str,
}

/// A freshly issued key: show the plaintext to the user once, store the record. The
/// plaintext is zeroized when the handle is freed. Immutable: safe to read from several
/// threads.
#[allow(non_camel_case_types)]
pub struct portcullis_issued_key {
    /// The plaintext key with a trailing NUL.
    key: Zeroizing<Vec<u8>>,
    record: Arc<core_lib::KeyRecord>,
}

impl portcullis_issued_key {
    pub(crate) fn new(issued: IssuedKey) -> Self {
        let mut key = Zeroizing::new(Vec::with_capacity(issued.key.expose().len() + 1));
        key.extend_from_slice(issued.key.expose().as_bytes());
        key.push(0);
        portcullis_issued_key {
            key,
            record: Arc::new(issued.record),
        }
    }
}

pub(crate) fn issue_failure(e: IssueError) -> Failure {
    Failure::new(R::from(&e), e.to_string())
}

/// Decodes a C key spec into the core's, with the kind and environment to use.
///
/// # Safety
/// The spec's pointers are readable for their lengths.
unsafe fn key_spec(
    s: &portcullis_key_spec,
) -> FfiResult<(KeySpec, Option<String>, Option<String>)> {
    // SAFETY: forwarded contract.
    unsafe {
        let mut scopes = Vec::new();
        for item in array(s.scopes, s.scopes_len)? {
            scopes.push(text(item.data, item.len)?.to_owned());
        }
        let metadata = match optional_text(s.metadata_json.data, s.metadata_json.len)? {
            None => Metadata::new(),
            Some(json) => serde_json_object(json)?,
        };
        let spec = KeySpec {
            name: text(s.name.data, s.name.len)?.to_owned(),
            owner: text(s.owner.data, s.owner.len)?.to_owned(),
            scopes,
            ttl: (s.ttl_secs > 0).then_some(s.ttl_secs),
            not_before: (s.not_before > 0).then_some(Timestamp(s.not_before)),
            metadata,
        };
        let kind = optional_text(s.kind.data, s.kind.len)?.map(str::to_owned);
        let env = optional_text(s.env.data, s.env.len)?.map(str::to_owned);
        Ok((spec, kind, env))
    }
}

/// Parses host metadata: a JSON object.
fn serde_json_object(json: &str) -> FfiResult<Metadata> {
    serde_json::from_str(json).map_err(|e| {
        Failure::new(
            R::PORTCULLIS_INVALID_ARGUMENT,
            format!("metadata_json is not a JSON object: {e}"),
        )
    })
}

/// Issues a key from the OS CSPRNG at time `now` (Unix seconds). On success writes the
/// issued key (plaintext + record) to `*issued_out`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_INVALID_ARGUMENT`
/// (metadata is not a JSON object), `PORTCULLIS_ISSUE_UNKNOWN_SCOPE`,
/// `PORTCULLIS_ISSUE_UNKNOWN_KIND`, `PORTCULLIS_ISSUE_UNKNOWN_ENV`, `PORTCULLIS_ISSUE_BAD_FIELD`,
/// `PORTCULLIS_ISSUE_RANDOM`.
///
/// # Safety
/// `checker` and `spec` live (the spec's strings readable); `issued_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_issue(
    checker: *const portcullis_checker,
    spec: *const portcullis_key_spec,
    now: u64,
    issued_out: *mut *mut portcullis_issued_key,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(issued_out)?;
        // SAFETY: live / readable (contract).
        let (checker, (spec, kind, env)) = unsafe { (borrow(checker)?, key_spec(borrow(spec)?)?) };
        let c = &checker.inner;
        let kind = kind.unwrap_or_else(|| {
            c.policy()
                .format()
                .kinds()
                .first()
                .cloned()
                .unwrap_or_default()
        });
        let env = env.unwrap_or_else(|| c.policy().deployment_env().to_owned());
        let issued = c
            .issue_with(&kind, &env, &spec, Timestamp(now), &OsRandom::new())
            .map_err(issue_failure)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_issued_key::new(issued))) };
        Ok(())
    })
}

/// Rotates a key at `now`: issues its successor (same name, owner, scopes, kind,
/// environment, metadata, lifetime length and `not_before`, and a revocation scheduled for
/// the future) into `*successor_out`, and writes the predecessor's updated record (now
/// expiring after `grace_secs`, or at its own earlier expiry) into `*predecessor_out`:
/// store both. The record goes through the checks of `portcullis_checker_issue`: a scope,
/// kind or environment the policy no longer accepts is refused with the same code.
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_ISSUE_INACTIVE` (revoked or expired),
/// `PORTCULLIS_ISSUE_BAD_TTL` (a record whose lifetime ends at its creation), the issue
/// errors.
///
/// # Safety
/// `checker`, `record` live; both out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_rotate(
    checker: *const portcullis_checker,
    record: *const portcullis_record,
    grace_secs: u64,
    now: u64,
    successor_out: *mut *mut portcullis_issued_key,
    predecessor_out: *mut *mut portcullis_record,
) -> portcullis_result {
    guard(|| {
        let (sout, pout) = (out_ptr(successor_out)?, out_ptr(predecessor_out)?);
        // SAFETY: live (contract).
        let (checker, record) = unsafe { (borrow(checker)?, borrow(record)?) };
        let rotation = checker
            .inner
            .rotate(&record.inner, grace_secs, Timestamp(now))
            .map_err(issue_failure)?;
        let successor = into_handle(portcullis_issued_key::new(rotation.successor));
        let predecessor = into_handle(portcullis_record::new(Arc::new(rotation.predecessor)));
        // SAFETY: non-NULL and writable (contract).
        unsafe {
            sout.write(successor);
            pout.write(predecessor);
        }
        Ok(())
    })
}

/// The plaintext key (`sk_live_…`), NUL-terminated, borrowed from the issued key until it
/// is freed. Show it once; never log or store it. Absent for NULL.
///
/// # Safety
/// `issued` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_issued_key_secret(
    issued: *const portcullis_issued_key,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(issued, portcullis_str::NONE, |k| portcullis_str {
            data: k.key.as_ptr().cast(),
            len: k.key.len() - 1,
        })
    }
}

/// Writes a new handle to the issued key's record (store it; it holds only the hash).
/// Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `issued` live; `record_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_issued_key_record(
    issued: *const portcullis_issued_key,
    record_out: *mut *mut portcullis_record,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(record_out)?;
        // SAFETY: live (contract).
        let k = unsafe { borrow(issued) }?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_record::new(k.record.clone()))) };
        Ok(())
    })
}

/// Frees an issued key, zeroizing the plaintext. NULL is a no-op.
///
/// # Safety
/// `issued` is NULL or an issued key not yet freed, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_issued_key_free(issued: *mut portcullis_issued_key) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(issued) }
}
