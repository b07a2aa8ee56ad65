//! Scope requirements evaluated against granted scopes.

use crate::ffi::{Failure, array, borrow, free_handle, guard, into_handle, out_ptr, read, text};
use crate::policy::portcullis_policy;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::Requirement;
use std::ffi::c_char;

/// The result of evaluating a requirement against granted scopes. Immutable: safe to read
/// from several threads. Strings it returns stay valid until it is freed.
#[allow(non_camel_case_types)]
pub struct portcullis_evaluation {
    allowed: bool,
    unknown: usize,
    effective: Vec<String>,
    missing: Vec<String>,
    required: Vec<String>,
}

/// Evaluates a requirement expression (`claims:read & orders:read`, `a | b`, parentheses)
/// against granted scopes (names or patterns, as a key record holds them) under the
/// policy's catalog. On success writes the evaluation to `*evaluation_out`. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`,
/// `PORTCULLIS_REQUIREMENT_INVALID` (the detail names the problem and its position).
///
/// # Safety
/// `policy` live; `requirement` readable; `grants` readable for `grants_len` entries
/// (NULL allowed when 0); `evaluation_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_evaluate(
    policy: *const portcullis_policy,
    requirement: *const c_char,
    requirement_len: usize,
    grants: *const portcullis_str,
    grants_len: usize,
    evaluation_out: *mut *mut portcullis_evaluation,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(evaluation_out)?;
        // SAFETY: live / readable (contract).
        let (policy, expr, items) = unsafe {
            (
                borrow(policy)?,
                text(requirement, requirement_len)?,
                array(grants, grants_len)?,
            )
        };
        let mut scopes = Vec::with_capacity(items.len());
        for item in items {
            // SAFETY: each entry readable (contract).
            scopes.push(unsafe { text(item.data, item.len) }?);
        }
        let catalog = policy.policy.catalog();
        let req = Requirement::parse(catalog, expr)
            .map_err(|e| Failure::new(R::PORTCULLIS_REQUIREMENT_INVALID, e.to_string()))?;
        let evaluated = req.evaluate_grants(catalog, &scopes);
        let names = |list: &mut dyn Iterator<Item = &str>| list.map(str::to_owned).collect();
        let evaluation = portcullis_evaluation {
            allowed: evaluated.allowed(),
            unknown: evaluated.grant().unknown,
            effective: names(&mut evaluated.effective()),
            missing: names(&mut evaluated.missing()),
            required: names(&mut evaluated.required()),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(evaluation)) };
        Ok(())
    })
}

fn nth(list: &[String], index: usize) -> portcullis_str {
    portcullis_str::of_opt(list.get(index).map(String::as_str))
}

/// Whether the grants meet the requirement. False for NULL.
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_allowed(
    evaluation: *const portcullis_evaluation,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe { read(evaluation, false, |e| e.allowed) }
}

/// How many grant strings the catalog did not know (they grant nothing).
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_unknown(
    evaluation: *const portcullis_evaluation,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(evaluation, 0, |e| e.unknown) }
}

/// How many scopes the grants give (implications and wildcards expanded).
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_effective_len(
    evaluation: *const portcullis_evaluation,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(evaluation, 0, |e| e.effective.len()) }
}

/// The effective scope at `index`, in catalog order; absent when out of range.
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_effective(
    evaluation: *const portcullis_evaluation,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(evaluation, portcullis_str::NONE, |e| {
            nth(&e.effective, index)
        })
    }
}

/// On a denial, how many scopes of the closest alternative are missing (else 0).
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_missing_len(
    evaluation: *const portcullis_evaluation,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(evaluation, 0, |e| e.missing.len()) }
}

/// The missing scope at `index`, in catalog order; absent when out of range.
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_missing(
    evaluation: *const portcullis_evaluation,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe { read(evaluation, portcullis_str::NONE, |e| nth(&e.missing, index)) }
}

/// On a denial, how many scopes the closest alternative requires (else 0).
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_required_len(
    evaluation: *const portcullis_evaluation,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(evaluation, 0, |e| e.required.len()) }
}

/// The required scope at `index`, in catalog order; absent when out of range.
///
/// # Safety
/// `evaluation` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_required(
    evaluation: *const portcullis_evaluation,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(evaluation, portcullis_str::NONE, |e| {
            nth(&e.required, index)
        })
    }
}

/// Frees an evaluation. NULL is a no-op.
///
/// # Safety
/// `evaluation` is NULL or an evaluation not yet freed, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_evaluation_free(evaluation: *mut portcullis_evaluation) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(evaluation) }
}
