//! Every enumerated string the module returns, listed from the core, so that the stubs'
//! `Literal` types (`portcullis.codes`) can be checked against what the module really
//! returns (`tests/test_literals.py`).
//!
//! Decisions made here:
//! - The values come from the core: its code table for the families nested in a reason
//!   (credential and access-token errors) and in a detail (key and path errors), its
//!   enums' `code()`/`as_str()` for the rest. The binding spells only its own strings
//!   (an `AuthorizeOutcome`'s kind, a credential's source, a client's type), and spells
//!   them here once.
//! - Each list of variants sits beside an exhaustive `match` over its enum, so a variant
//!   added to the core breaks this build until it is listed.

use portcullis::codes::{Family, TABLE};
use portcullis::oauth::{ClientType, OAuthErrorCode};
use portcullis::usage::{Denial, Network, SignalKind};
use portcullis::{ErrorCode, KeyError, KeyState, PathError, Reason, Source, Timestamp, Warning};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::net::{IpAddr, Ipv4Addr};

/// `AuthorizeOutcome.kind` of a request to show the consent screen for.
pub(crate) const KIND_VALID: &str = "valid";
/// `AuthorizeOutcome.kind` of a bad request from a trusted client: redirect.
pub(crate) const KIND_REDIRECT: &str = "redirect";
/// `AuthorizeOutcome.kind` of a request that must not be redirected: show the error.
pub(crate) const KIND_SHOW_ERROR: &str = "show_error";

/// `Credential.source`.
pub(crate) const fn source(source: Source) -> &'static str {
    match source {
        Source::Header => "header",
        Source::Query => "query",
    }
}

/// `Client.client_type`.
pub(crate) const fn client_type(client_type: ClientType) -> &'static str {
    match client_type {
        ClientType::Public => "public",
        ClientType::Confidential => "confidential",
    }
}

/// The reasons that carry no nested error code (one value each; the payload of
/// `AmbiguousPath` and `MalformedKey` shows in `detail`, not in the reason).
const PLAIN_REASONS: [Reason; 23] = [
    Reason::Allowed,
    Reason::Public,
    Reason::InsecureTransport,
    Reason::AmbiguousPath(PathError::NotAbsolute),
    Reason::MalformedKey(KeyError::Shape),
    Reason::WrongEnvironment,
    Reason::UnknownKey,
    Reason::WrongSecret,
    Reason::RecordMismatch,
    Reason::UnknownPepper,
    Reason::CorruptRecord,
    Reason::LegacyHashRefused,
    Reason::Revoked,
    Reason::Expired,
    Reason::NotYetValid,
    Reason::MaxAgeExceeded,
    Reason::InsufficientScope,
    Reason::UnknownRoute,
    Reason::LookupFailed,
    Reason::ForeignPending,
    Reason::RateLimited,
    Reason::LimiterUnavailable,
    Reason::CreditsExhausted,
];

/// The code family whose codes a reason takes as its own, or `None` for a plain reason
/// (listed in `PLAIN_REASONS`).
const fn nested(reason: Reason) -> Option<Family> {
    match reason {
        Reason::Credential(_) => Some(Family::Credential),
        Reason::AccessToken(_) => Some(Family::AccessToken),
        Reason::Allowed
        | Reason::Public
        | Reason::InsecureTransport
        | Reason::AmbiguousPath(_)
        | Reason::MalformedKey(_)
        | Reason::WrongEnvironment
        | Reason::UnknownKey
        | Reason::WrongSecret
        | Reason::RecordMismatch
        | Reason::UnknownPepper
        | Reason::CorruptRecord
        | Reason::LegacyHashRefused
        | Reason::Revoked
        | Reason::Expired
        | Reason::NotYetValid
        | Reason::MaxAgeExceeded
        | Reason::InsufficientScope
        | Reason::UnknownRoute
        | Reason::LookupFailed
        | Reason::ForeignPending
        | Reason::RateLimited
        | Reason::LimiterUnavailable
        | Reason::CreditsExhausted => None,
    }
}

// Every reason listed as plain is one: checked when the crate compiles.
const _: () = {
    let mut i = 0;
    while i < PLAIN_REASONS.len() {
        assert!(nested(PLAIN_REASONS[i]).is_none());
        i += 1;
    }
};

/// The codes of the table's rows of `families`, in table order.
fn family_codes(families: &[Family]) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|row| families.contains(&row.family()))
        .map(|row| row.code())
        .collect()
}

/// Every `Decision.reason` (and `Verification.reason`).
fn reasons() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = PLAIN_REASONS.iter().map(Reason::code).collect();
    codes.extend(family_codes(&[Family::Credential, Family::AccessToken]));
    codes
}

/// Every `Decision.error`.
fn errors() -> Vec<&'static str> {
    let all = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidToken,
        ErrorCode::InsufficientScope,
    ];
    // Exhaustive: a new error code fails here until it is listed above.
    let _ = |e: ErrorCode| match e {
        ErrorCode::InvalidRequest | ErrorCode::InvalidToken | ErrorCode::InsufficientScope => {}
    };
    all.iter().map(ErrorCode::as_str).collect()
}

/// Every warning, in the core's order.
const WARNINGS: [Warning; 7] = [
    Warning::RotationDue,
    Warning::ExpiringSoon,
    Warning::CredentialInQuery,
    Warning::NeedsRehash,
    Warning::UnknownScopes,
    Warning::NewNetwork,
    Warning::AfterDormancy,
];

/// The warning of a code (`UsageRecorder.record`'s `warnings`).
pub(crate) fn warning_of(code: &str) -> Option<Warning> {
    WARNINGS.into_iter().find(|w| w.code() == code)
}

/// Whether `code` is a `Decision.reason`.
pub(crate) fn is_reason(code: &str) -> bool {
    reasons().contains(&code)
}

/// Every `Decision.warnings` element.
fn warnings() -> Vec<&'static str> {
    let all = WARNINGS;
    let _ = |w: Warning| match w {
        Warning::RotationDue
        | Warning::ExpiringSoon
        | Warning::CredentialInQuery
        | Warning::NeedsRehash
        | Warning::UnknownScopes
        | Warning::NewNetwork
        | Warning::AfterDormancy => {}
    };
    all.iter().map(Warning::code).collect()
}

/// Every `Signal.kind`.
fn signal_kinds() -> Vec<&'static str> {
    let network = Network::of(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let all = [
        SignalKind::NewNetwork { network },
        SignalKind::Volume {
            hour: Timestamp(0),
            count: 0,
            baseline: 0.0,
        },
        SignalKind::AfterDormancy {
            last_used: Timestamp(0),
        },
        SignalKind::WrongSecretBurst {
            attempts: 0,
            since: Timestamp(0),
        },
        SignalKind::RotationDue,
    ];
    let _ = |k: SignalKind| match k {
        SignalKind::NewNetwork { .. }
        | SignalKind::Volume { .. }
        | SignalKind::AfterDormancy { .. }
        | SignalKind::WrongSecretBurst { .. }
        | SignalKind::RotationDue => {}
    };
    all.iter().map(SignalKind::code).collect()
}

/// Every `KeyRecord.state`.
fn key_states() -> Vec<&'static str> {
    let all = [
        KeyState::Active,
        KeyState::Revoked,
        KeyState::Expired,
        KeyState::NotYetValid,
    ];
    let _ = |s: KeyState| match s {
        KeyState::Active | KeyState::Revoked | KeyState::Expired | KeyState::NotYetValid => {}
    };
    all.iter().map(|s| s.as_str()).collect()
}

/// Every enumerated string, by the name of its `Literal` in `portcullis.codes`: what
/// `tests/test_literals.py` compares the stubs with. Not API: a test hook.
#[pyfunction]
pub(crate) fn _enumerations(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("Reason", reasons())?;
    d.set_item("BearerError", errors())?;
    d.set_item("Detail", family_codes(&[Family::Key, Family::Path]))?;
    d.set_item("WarningCode", warnings())?;
    d.set_item("KeyState", key_states())?;
    d.set_item("SignalKind", signal_kinds())?;
    let denials: Vec<&str> = Denial::ALL.iter().map(|d| d.code()).collect();
    d.set_item("UsageDenial", denials)?;
    d.set_item(
        "AuthorizeKind",
        vec![KIND_VALID, KIND_REDIRECT, KIND_SHOW_ERROR],
    )?;
    let oauth: Vec<&str> = OAuthErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    d.set_item("OAuthErrorCode", oauth)?;
    d.set_item(
        "CredentialSource",
        vec![source(Source::Header), source(Source::Query)],
    )?;
    d.set_item(
        "ClientType",
        vec![
            client_type(ClientType::Public),
            client_type(ClientType::Confidential),
        ],
    )?;
    Ok(d)
}
