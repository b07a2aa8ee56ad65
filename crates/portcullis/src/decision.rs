//! Decisions: data, not exceptions. Allowed or denied, the HTTP status, the RFC 6750 error
//! code, a ready `WWW-Authenticate` value, the internal reason, the principal, the missing
//! scopes and warnings.

use crate::extract::ExtractError;
use crate::format::{KeyError, KeyId};
use crate::lookup::LookupError;
use crate::oauth::TokenError;
use crate::path::PathError;
use crate::policy::Policy;
use crate::record::KeyRecord;
use crate::scope::{Requirement, ScopeSet};
use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// The RFC 6750 §3.1 error code sent to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: the request is malformed (bad header, credential twice, query refused, HTTP,
    /// ambiguous path).
    InvalidRequest,
    /// 401: the token is unknown, wrong, revoked, expired or malformed.
    InvalidToken,
    /// 403: the token lacks the scopes the route needs.
    InsufficientScope,
}

impl ErrorCode {
    /// The wire form (`invalid_token`).
    pub const fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
        }
    }
}

/// Why a decision came out as it did: for logs and metrics, never for the client (which
/// sees only the status and the error code; unknown key and wrong secret look the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A valid key with the scopes the route needs.
    Allowed,
    /// The route is public; no credential was needed or checked.
    Public,
    /// The credential could not be extracted.
    Credential(ExtractError),
    /// HTTPS is required and the request came over plain HTTP.
    InsecureTransport,
    /// The request path is ambiguous (a dot segment, an encoded `/`, `//`, …: see
    /// [`PathRules`](crate::PathRules)); refused before any route is matched (400 `invalid_request`).
    AmbiguousPath(PathError),
    /// The token is not a well-formed key of this deployment.
    MalformedKey(KeyError),
    /// The key's environment is not this deployment's (a test key on live).
    WrongEnvironment,
    /// No record has this key id.
    UnknownKey,
    /// The record exists but the secret does not match.
    WrongSecret,
    /// The record's id, kind or environment differs from the presented key.
    RecordMismatch,
    /// The record names a pepper this deployment does not hold.
    UnknownPepper,
    /// The record's hash string does not decode.
    CorruptRecord,
    /// The record holds a legacy plain SHA-256 hash and the policy does not accept them.
    LegacyHashRefused,
    /// The key was revoked.
    Revoked,
    /// The key expired.
    Expired,
    /// The key is not valid yet.
    NotYetValid,
    /// The key is older than the policy's enforced maximum age.
    MaxAgeExceeded,
    /// The key lacks scopes the route needs.
    InsufficientScope,
    /// No route of the policy matches and unknown routes are denied.
    UnknownRoute,
    /// The host's lookup failed; the request is refused (fail closed).
    LookupFailed,
    /// Phase two was called on a checker other than the one that prepared the pending
    /// check (another policy, or a reload in between): refused with 503 (fail closed);
    /// retrying prepares the request afresh.
    ForeignPending,
    /// An OAuth access token (`at.…`) that is not valid: why (401 `invalid_token`).
    AccessToken(TokenError),
    /// A rate limit of the policy refused the request (429, with `Retry-After`).
    RateLimited,
    /// The rate limiter cannot tell (a fleet's shared limiter is unreachable and this
    /// process holds nothing of the limit): 503, never an unlimited allow.
    LimiterUnavailable,
    /// The key has no credits left in this period (429; `Retry-After` until the refill,
    /// when it has one).
    CreditsExhausted,
}

impl Reason {
    /// A stable machine-readable name (`wrong_secret`, `revoked`, …).
    pub const fn code(&self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::Public => "public",
            Reason::Credential(e) => e.code(),
            Reason::InsecureTransport => "insecure_transport",
            Reason::AmbiguousPath(_) => "ambiguous_path",
            Reason::MalformedKey(_) => "malformed_key",
            Reason::WrongEnvironment => "wrong_environment",
            Reason::UnknownKey => "unknown_key",
            Reason::WrongSecret => "wrong_secret",
            Reason::RecordMismatch => "record_mismatch",
            Reason::UnknownPepper => "unknown_pepper",
            Reason::CorruptRecord => "corrupt_record",
            Reason::LegacyHashRefused => "legacy_hash_refused",
            Reason::Revoked => "revoked",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::MaxAgeExceeded => "max_age_exceeded",
            Reason::InsufficientScope => "insufficient_scope",
            Reason::UnknownRoute => "unknown_route",
            Reason::LookupFailed => "lookup_failed",
            Reason::ForeignPending => "foreign_pending",
            Reason::AccessToken(e) => e.code(),
            Reason::RateLimited => "rate_limited",
            Reason::LimiterUnavailable => "limiter_unavailable",
            Reason::CreditsExhausted => "credits_exhausted",
        }
    }

    /// The code of what is wrong underneath, for logs: the key error of `malformed_key`
    /// (`checksum`, `length`, …), the path error of `ambiguous_path` (`dot_segment`, …).
    pub const fn detail(&self) -> Option<&'static str> {
        match self {
            Reason::MalformedKey(e) => Some(e.code()),
            Reason::AmbiguousPath(e) => Some(e.code()),
            _ => None,
        }
    }

    /// The HTTP status this reason maps to.
    pub const fn status(&self) -> u16 {
        match self {
            Reason::Allowed | Reason::Public => 200,
            Reason::Credential(ExtractError::Missing | ExtractError::WrongScheme) => 401,
            Reason::Credential(_) | Reason::InsecureTransport | Reason::AmbiguousPath(_) => 400,
            Reason::InsufficientScope | Reason::UnknownRoute => 403,
            Reason::LookupFailed | Reason::ForeignPending | Reason::LimiterUnavailable => 503,
            Reason::RateLimited | Reason::CreditsExhausted => 429,
            _ => 401,
        }
    }

    /// The RFC 6750 error code, if the response carries one.
    pub const fn error(&self) -> Option<ErrorCode> {
        match self.status() {
            400 => Some(ErrorCode::InvalidRequest),
            401 if matches!(self, Reason::Credential(_)) => None,
            401 => Some(ErrorCode::InvalidToken),
            403 => Some(ErrorCode::InsufficientScope),
            _ => None,
        }
    }

    /// The `error_description` sent to the client. Every invalid-token reason gets the
    /// same text, so the client cannot tell why.
    pub const fn description(&self) -> Option<&'static str> {
        Some(match self {
            Reason::Credential(ExtractError::MalformedHeader) => {
                "The Authorization header must be 'Bearer <token>'"
            }
            Reason::Credential(ExtractError::BothPresent) => {
                "Send the credential in one place only"
            }
            Reason::Credential(ExtractError::QueryRefused) => {
                "Send the credential in the Authorization header, not the query string"
            }
            Reason::Credential(ExtractError::MalformedQuery) => {
                "The credential query parameter is repeated or empty"
            }
            Reason::InsecureTransport => "HTTPS is required",
            Reason::AmbiguousPath(_) => "The request path is ambiguous",
            Reason::InsufficientScope => "The token lacks the scope this request requires",
            Reason::UnknownRoute => "The token does not grant access to this resource",
            _ if matches!(self.error(), Some(ErrorCode::InvalidToken)) => {
                "The access token is invalid"
            }
            _ => return None,
        })
    }
}

/// Non-fatal observations, returned with allowed and denied decisions alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Warning {
    /// The key is older than the policy's maximum age: rotate it.
    RotationDue,
    /// The key expires within the policy's warning window.
    ExpiringSoon,
    /// The credential came in the query string (allowed here, but it leaks into logs).
    CredentialInQuery,
    /// The record uses an old pepper or the legacy scheme: store a fresh hash.
    NeedsRehash,
    /// The record grants scopes the catalog does not know; they grant nothing.
    UnknownScopes,
    /// The key was used from a client network it had not been used from (usage recorder:
    /// see [`crate::usage`]).
    NewNetwork,
    /// The key was used after a long idle time (usage recorder: see [`crate::usage`]).
    AfterDormancy,
}

impl Warning {
    const ALL: [Warning; 7] = [
        Warning::RotationDue,
        Warning::ExpiringSoon,
        Warning::CredentialInQuery,
        Warning::NeedsRehash,
        Warning::UnknownScopes,
        Warning::NewNetwork,
        Warning::AfterDormancy,
    ];

    /// A stable machine-readable name.
    pub const fn code(&self) -> &'static str {
        match self {
            Warning::RotationDue => "rotation_due",
            Warning::ExpiringSoon => "expiring_soon",
            Warning::CredentialInQuery => "credential_in_query",
            Warning::NeedsRehash => "needs_rehash",
            Warning::UnknownScopes => "unknown_scopes",
            Warning::NewNetwork => "new_network",
            Warning::AfterDormancy => "after_dormancy",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A small set of warnings (no allocation).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Warnings(u8);

impl Warnings {
    /// Adds a warning.
    pub fn insert(&mut self, w: Warning) {
        self.0 |= w.bit();
    }
    /// Whether it holds `w`.
    pub fn contains(&self, w: Warning) -> bool {
        self.0 & w.bit() != 0
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// Adds every warning of `other`.
    pub fn extend(&mut self, other: Warnings) {
        self.0 |= other.0;
    }
    /// The warnings, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = Warning> + '_ {
        Warning::ALL.into_iter().filter(|w| self.contains(*w))
    }
}

impl fmt::Debug for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Who is calling, on an authenticated decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// The key's record.
    pub record: Arc<KeyRecord>,
    /// Its effective scopes under the policy's catalog.
    pub granted: ScopeSet,
}

/// The owned, policy-independent part of a decision (what bindings keep).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Why.
    pub reason: Reason,
    /// The caller, when the key was verified (also on a 403).
    pub principal: Option<Principal>,
    /// The matched route's number in the policy, if any.
    pub route: Option<usize>,
    /// Missing scopes, on a 403 for insufficient scope.
    pub missing: ScopeSet,
    /// On a 403, every scope of the route's alternative closest to being met (what the
    /// `scope` attribute of `WWW-Authenticate` lists).
    pub required: ScopeSet,
    /// Warnings.
    pub warnings: Warnings,
    /// The host's lookup error, on [`Reason::LookupFailed`].
    pub lookup_error: Option<LookupError>,
    /// The rate limit to report: the one that refused, or the closest to its end.
    pub limit: Option<LimitState>,
    /// The key's credits left after this request, when it has credits.
    pub credits: Option<u32>,
}

/// Where a request stands under one limit of the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitState {
    /// The limit's number in the policy ([`Policy::limits`]), or
    /// [`LimitState::CREDITS`].
    pub index: u16,
    /// Requests that could still be made at once.
    pub remaining: u32,
    /// Microseconds until the full burst is back.
    pub reset_us: u64,
    /// On a refusal, microseconds until a request would be allowed.
    pub retry_after_us: u64,
}

impl LimitState {
    /// [`LimitState::index`] of a refusal for credits (no limit of the policy).
    pub const CREDITS: u16 = u16::MAX;
}

impl Outcome {
    pub(crate) fn new(reason: Reason) -> Self {
        Outcome {
            reason,
            principal: None,
            route: None,
            missing: ScopeSet::EMPTY,
            required: ScopeSet::EMPTY,
            warnings: Warnings::default(),
            lookup_error: None,
            limit: None,
            credits: None,
        }
    }
}

/// A decision, read through the policy that made it (for scope names and the realm).
///
/// It owns its [`Outcome`] (`Decision<'p>`, what [`crate::Checker::check`] returns) or
/// borrows one kept elsewhere (`Decision<'p, &Outcome>`, see [`Decision::view`]): a
/// binding's decision object reads its outcome in place, since a copy would take a
/// reference to the caller's record (a write to a count every thread checking that key
/// also writes) at each read.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'p, O = Outcome> {
    outcome: O,
    policy: &'p Policy,
}

impl<'p, O: Borrow<Outcome>> Decision<'p, O> {
    /// Pairs an outcome (owned, or a reference to one) with the policy that produced it.
    pub fn new(outcome: O, policy: &'p Policy) -> Self {
        Decision { outcome, policy }
    }

    /// The same decision over a borrow of its outcome.
    pub fn view(&self) -> Decision<'p, &Outcome> {
        Decision::new(self.outcome(), self.policy)
    }
    /// Whether the request may proceed.
    pub fn allowed(&self) -> bool {
        self.status() == 200
    }
    /// The HTTP status: 200, 400, 401, 403 (or 503 when the lookup failed or a pending
    /// check was finished by another checker).
    pub fn status(&self) -> u16 {
        self.outcome().reason.status()
    }
    /// The RFC 6750 error code, if any.
    pub fn error(&self) -> Option<ErrorCode> {
        self.outcome().reason.error()
    }
    /// The internal reason, for logs.
    pub fn reason(&self) -> Reason {
        self.outcome().reason
    }
    /// The caller, when the key was verified.
    pub fn principal(&self) -> Option<&Principal> {
        self.outcome().principal.as_ref()
    }
    /// The caller's key id.
    pub fn key_id(&self) -> Option<KeyId> {
        self.principal().map(|p| p.record.id())
    }
    /// The caller's owner.
    pub fn owner(&self) -> Option<&str> {
        self.principal().map(|p| p.record.owner())
    }
    /// The caller's effective scopes, in catalog order.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        let set = self.principal().map_or(&ScopeSet::EMPTY, |p| &p.granted);
        self.policy.catalog().names(set)
    }
    /// Scopes missing on a 403, in catalog order.
    pub fn missing(&self) -> impl Iterator<Item = &str> {
        self.policy.catalog().names(&self.outcome().missing)
    }
    /// On a 403, the scopes of the route's closest alternative, in catalog order.
    pub fn required(&self) -> impl Iterator<Item = &str> {
        self.policy.catalog().names(&self.outcome().required)
    }
    /// Warnings.
    pub fn warnings(&self) -> Warnings {
        self.outcome().warnings
    }
    /// The matched route (method, path template), if any.
    pub fn route(&self) -> Option<(&'p str, &'p str)> {
        self.outcome().route.and_then(|i| self.policy.route_info(i))
    }
    /// The `WWW-Authenticate` value for a 400, 401 or 403; `None` otherwise.
    pub fn www_authenticate(&self) -> Option<WwwAuthenticate<'_>> {
        matches!(self.status(), 400 | 401 | 403).then(|| WwwAuthenticate {
            outcome: self.outcome(),
            policy: self.policy,
            resource_metadata: None,
        })
    }
    /// On a refusal for a rate limit or credits (429) or an unavailable limiter (503),
    /// the seconds to send in `Retry-After` (rounded up, at least 1; none for credits that
    /// never refill).
    pub fn retry_after(&self) -> Option<u64> {
        let o = self.outcome();
        match (o.reason, o.limit) {
            // Credits that never refill: no time will do.
            (Reason::CreditsExhausted, Some(l)) if l.retry_after_us == 0 => None,
            (Reason::RateLimited | Reason::LimiterUnavailable | Reason::CreditsExhausted, l) => {
                let us = l.map_or(1_000_000, |l| l.retry_after_us);
                Some(us.div_ceil(1_000_000).max(1))
            }
            _ => None,
        }
    }
    /// The `RateLimit-Policy` field of the limit reported ([`Outcome::limit`]), as
    /// draft-ietf-httpapi-ratelimit-headers-10 writes it: `"per_key";q=100;w=1`.
    pub fn rate_limit_policy(&self) -> Option<String> {
        let state = self.outcome().limit?;
        let limit = self.policy.limits.get(usize::from(state.index))?;
        let q = limit.quota();
        Some(format!(
            "\"{}\";q={};w={}",
            limit.name(),
            q.rate(),
            q.window()
        ))
    }
    /// The `RateLimit` field of the limit reported: `"per_key";r=42;t=1` (`r`: requests
    /// left at once, `t`: seconds until the full burst is back, rounded up).
    pub fn rate_limit(&self) -> Option<String> {
        let state = self.outcome().limit?;
        let limit = self.policy.limits.get(usize::from(state.index))?;
        let t = state.reset_us.div_ceil(1_000_000);
        Some(format!("\"{}\";r={};t={t}", limit.name(), state.remaining))
    }
    /// The key's credits left after this request, when it has credits and they were
    /// counted.
    pub fn credits_remaining(&self) -> Option<u32> {
        self.outcome().credits
    }
    /// The outcome.
    pub fn outcome(&self) -> &Outcome {
        self.outcome.borrow()
    }
    /// Gives up the policy borrow, keeping the outcome (owned or borrowed, as it was
    /// given).
    pub fn into_outcome(self) -> O {
        self.outcome
    }

    /// This decision with a further requirement, such as the scopes a handler declares
    /// beside the policy's routes (built by [`Requirement::parse`] from this decision's
    /// policy's catalog): when the caller was verified and allowed, or verified on a path
    /// the policy has no route for, and its scopes do not meet `requirement`, the 403
    /// `insufficient_scope` decision naming the missing scopes and those of the closest
    /// alternative, as the checker words it for a route; otherwise this decision
    /// unchanged. A public route's decision has no caller and so stays as it is: a host
    /// must not declare scopes on a public route.
    pub fn require(&self, requirement: &Requirement) -> Decision<'p> {
        let mut outcome = self.outcome().clone();
        if matches!(outcome.reason, Reason::Allowed | Reason::UnknownRoute)
            && let Some(principal) = &outcome.principal
            && let Err(short) = requirement.evaluate(&principal.granted)
        {
            outcome.reason = Reason::InsufficientScope;
            outcome.missing = short.missing;
            outcome.required = short.required;
        }
        Decision::new(outcome, self.policy)
    }
}

impl Decision<'_> {
    /// The owned outcome, to amend in place.
    pub(crate) fn outcome_mut(&mut self) -> &mut Outcome {
        &mut self.outcome
    }
}

/// A `WWW-Authenticate` header value; format it with `to_string()` or `write!`.
///
/// `Bearer realm="api"` for a missing credential; with `error`, `error_description` and, on
/// 403, `scope` (the scopes the closest alternative of the route needs) otherwise.
/// [`WwwAuthenticate::resource_metadata`] adds the RFC 9728 §5.1 parameter.
#[derive(Clone, Copy, Debug)]
pub struct WwwAuthenticate<'d> {
    outcome: &'d Outcome,
    policy: &'d Policy,
    resource_metadata: Option<&'d str>,
}

impl<'d> WwwAuthenticate<'d> {
    /// Adds `resource_metadata="URL"` (RFC 9728 §5.1): where a client finds the protected
    /// resource's metadata, and through it the authorization server. `url` must be an
    /// absolute URL without `"` or a backslash (a server's own configured URL); one that is not is
    /// left out rather than sent malformed.
    pub fn resource_metadata(mut self, url: &'d str) -> Self {
        let quotable = url
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if quotable && (url.starts_with("https://") || url.starts_with("http://")) {
            self.resource_metadata = Some(url);
        }
        self
    }
}

impl fmt::Display for WwwAuthenticate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (reason, policy) = (self.outcome.reason, self.policy);
        write!(f, "Bearer realm=\"{}\"", policy.realm())?;
        if let Some(url) = self.resource_metadata {
            write!(f, ", resource_metadata=\"{url}\"")?;
        }
        let Some(error) = reason.error() else {
            return Ok(());
        };
        write!(f, ", error=\"{}\"", error.as_str())?;
        if let Some(text) = reason.description() {
            write!(f, ", error_description=\"{text}\"")?;
        }
        if reason == Reason::InsufficientScope {
            f.write_str(", scope=\"")?;
            for (i, name) in policy.catalog().names(&self.outcome.required).enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}
