//! The checker: policy + peppers → decisions, in one call or in two phases.
//!
//! Decisions made here:
//! - A [`Pending`] is bound to the checker that prepared it (it holds that checker's
//!   identity, not only a route index): [`Checker::finish`] on any other checker — another
//!   policy, or the same policy after a reload — answers 503 [`Reason::ForeignPending`]
//!   (fail closed, and retrying the request prepares it afresh), never a decision against
//!   whatever route now has that index.
//! - The deployment-environment rule (a `sk_test_…` key is refused on a live deployment)
//!   is one function, applied by [`Checker::check`], [`Checker::prepare`] and
//!   [`Checker::verify`] alike.

use crate::bytes::eq_public;
use crate::decision::{Decision, LimitState, Outcome, Principal, Reason, Warning, Warnings};
use crate::extract::{Credential, ExtractError, Source, extract_unvalidated, is_b64token};
use crate::format::{KeyError, KeyId, ParsedKey, PresentedKey};
use crate::hash::{HashCheck, StoredHash, burn, check_digest};
use crate::limit::{Credits, Limits, Per, Spent, Taken};
use crate::lookup::{KeyLookup, LookupError};
use crate::oauth::{AccessVerifier, TokenError, access};
use crate::pepper::Peppers;
use crate::policy::{Access, Policy, UnknownRoutes};
use crate::record::{KeyRecord, KeyState, Scheme};
use crate::request::Request;
use crate::scope::{CatalogMismatch, ScopeSet};
use crate::time::Timestamp;
use crate::usage::{UsageRecorder, Use};
use std::net::IpAddr;
use std::sync::Arc;

/// Turns requests into decisions under one policy and one pepper set.
///
/// Immutable; share it between threads (`Arc<Checker>` or a static).
#[derive(Debug)]
pub struct Checker {
    policy: Policy,
    peppers: Peppers,
    access: Option<Arc<AccessVerifier>>,
    usage: Option<Arc<UsageRecorder>>,
    limits: Option<Arc<dyn Limits>>,
    /// Who made a [`Pending`]: compared by address, and held by every pending check so the
    /// address cannot be reused while one is outstanding.
    identity: Arc<Identity>,
}

/// A checker's identity (see [`Checker::finish`]).
#[derive(Debug)]
struct Identity;

/// The first phase of a two-phase check.
#[derive(Debug)]
pub enum Prepared<'p> {
    /// Decided without a record (public route, missing or malformed credential, …).
    Done(Decision<'p>),
    /// Fetch the record of [`Pending::key_id`], then call [`Checker::finish`].
    Lookup(Pending),
}

/// A request waiting for its record. Owns a zeroizing copy of the presented key, so it
/// outlives the request; finish it with the checker that prepared it (any other checker
/// answers 503 [`Reason::ForeignPending`]).
///
/// Moving a value leaves its old bytes behind, so a `Pending` that lives in the heap (a
/// binding's handle, a batch's vector) should not be moved out to be finished: finish a
/// clone (another zeroizing copy) and drop the original where it lies, which wipes it.
#[derive(Clone, Debug)]
pub struct Pending {
    key: PresentedKey,
    route: Option<usize>,
    warnings: Warnings,
    client: Option<IpAddr>,
    class: u8,
    checker: Arc<Identity>,
}

impl Pending {
    /// The key id to fetch.
    pub fn key_id(&self) -> KeyId {
        self.key.id()
    }
}

/// The result of verifying a key against a record, without a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verification {
    /// [`Reason::Allowed`] when the key is valid now; otherwise why not.
    pub reason: Reason,
    /// Lifecycle and hash warnings.
    pub warnings: Warnings,
    /// The key's effective scopes (empty unless valid).
    pub granted: ScopeSet,
}

impl Verification {
    /// Whether the key is valid.
    pub fn is_valid(&self) -> bool {
        self.reason == Reason::Allowed
    }
}

impl Checker {
    /// A checker for `policy` with `peppers`.
    pub fn new(policy: Policy, peppers: Peppers) -> Self {
        Checker {
            policy,
            peppers,
            access: None,
            usage: None,
            limits: None,
            identity: Arc::new(Identity),
        }
    }

    /// The same checker, also accepting OAuth access tokens (`at.…`, see
    /// [`crate::oauth::AccessVerifier`]) verified by `verifier`, in the same check path as API
    /// keys. Keep a clone of the `Arc` to push revocations. The two-phase API needs the
    /// time for them: use [`Checker::prepare_at`].
    ///
    /// # Errors
    /// [`CatalogMismatch`] when `verifier` was built for another scope catalog than the
    /// policy's: its tokens' scopes would name other scopes.
    pub fn with_access_tokens(
        mut self,
        verifier: Arc<AccessVerifier>,
    ) -> Result<Self, CatalogMismatch> {
        verifier.same_catalog(&self.policy.catalog)?;
        self.access = Some(verifier);
        Ok(self)
    }

    /// The same checker, recording every decision made against a key's record in
    /// `recorder` (see [`crate::usage`]): counts per hour, first and last use, and
    /// unusual-activity signals, two of which also come back as decision warnings. Keep a
    /// clone of the `Arc` to drain it.
    pub fn with_usage(mut self, recorder: Arc<UsageRecorder>) -> Self {
        self.usage = Some(recorder);
        self
    }

    /// The same checker, counting the policy's rate limits (`[[limits]]`) in `limits`: in
    /// this process ([`crate::limit::LocalLimits`]) or across a fleet. A request allowed
    /// by its key and scopes is then refused with 429 [`Reason::RateLimited`] over a
    /// limit, or 503 [`Reason::LimiterUnavailable`] when the limiter cannot tell; the
    /// decision reports the limit ([`Decision::rate_limit`]). Without limits attached,
    /// the policy's limits are not applied.
    pub fn with_limits(mut self, limits: Arc<dyn Limits>) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The attached limits, if any.
    pub fn limits(&self) -> Option<&Arc<dyn Limits>> {
        self.limits.as_ref()
    }

    /// The attached usage recorder, if any.
    pub fn usage(&self) -> Option<&Arc<UsageRecorder>> {
        self.usage.as_ref()
    }

    /// The attached access-token verifier, if any.
    pub fn access_tokens(&self) -> Option<&Arc<AccessVerifier>> {
        self.access.as_ref()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The peppers.
    pub fn peppers(&self) -> &Peppers {
        &self.peppers
    }

    /// Parses a presented key with this policy's kinds and environments.
    pub fn parse<'a>(&self, key: &'a [u8]) -> Result<ParsedKey<'a>, KeyError> {
        self.policy.format.parse(key)
    }

    /// Decides a request in one call, fetching the record through `lookup`.
    ///
    /// A host or binding that keeps one outcome per thread or per handle stores
    /// [`Decision::into_outcome`] in it, and reads it back through
    /// [`Decision::new`]`(&outcome, checker.policy())`.
    pub fn check<L: KeyLookup + ?Sized>(
        &self,
        request: &Request<'_>,
        lookup: &L,
        now: Timestamp,
    ) -> Decision<'_> {
        // `front` is matched by reference where it is returned: moving it out first made
        // the copy wait on its own just-written stores (benches/OPTIMISATIONS.md).
        match self.front(request, Some(now)) {
            Err(early) => Decision::new(early.outcome(), &self.policy),
            Ok(ref front) => match lookup.lookup(&front.key.id()) {
                Ok(record) => self.back_decision(front, request.client.as_ref(), record, now),
                Err(e) => Decision::new(lookup_failed(front.route, e), &self.policy),
            },
        }
    }

    /// Phase one: everything that needs no record.
    /// An access token cannot be decided without the time: it is refused here
    /// ([`TokenError::TimeRequired`]); use [`Checker::prepare_at`] with access tokens.
    pub fn prepare(&self, request: &Request<'_>) -> Prepared<'_> {
        self.prepare_with(request, None)
    }

    /// Phase one, given the time: access tokens are decided here (no record needed).
    pub fn prepare_at(&self, request: &Request<'_>, now: Timestamp) -> Prepared<'_> {
        self.prepare_with(request, Some(now))
    }

    fn prepare_with(&self, request: &Request<'_>, now: Option<Timestamp>) -> Prepared<'_> {
        match self.front(request, now) {
            Err(early) => Prepared::Done(Decision::new(early.outcome(), &self.policy)),
            Ok(front) => Prepared::Lookup(Pending {
                key: PresentedKey::from_parsed(&front.key),
                route: front.route,
                warnings: front.warnings,
                client: request.client,
                class: front.class,
                checker: self.identity.clone(),
            }),
        }
    }

    /// Phase two: the decision, given the record the host fetched (`None` if unknown).
    ///
    /// A `pending` prepared by another checker (another policy, or this policy before a
    /// reload) gets 503 [`Reason::ForeignPending`]: its route index means nothing here.
    pub fn finish(
        &self,
        pending: Pending,
        record: Option<Arc<KeyRecord>>,
        now: Timestamp,
    ) -> Decision<'_> {
        if let Some(foreign) = self.foreign(&pending) {
            return foreign;
        }
        let key = pending.key.as_parsed();
        let front = Front {
            key,
            route: pending.route,
            warnings: pending.warnings,
            class: pending.class,
        };
        self.back_decision(&front, pending.client.as_ref(), record, now)
    }

    /// Phase two when the host's lookup failed: a 503 decision (fail closed); 503
    /// [`Reason::ForeignPending`] for a `pending` of another checker, as in
    /// [`Checker::finish`].
    pub fn finish_failed(&self, pending: Pending, error: LookupError) -> Decision<'_> {
        if let Some(foreign) = self.foreign(&pending) {
            return foreign;
        }
        Decision::new(lookup_failed(pending.route, error), &self.policy)
    }

    /// Phase two when the host found a record but cannot read it (a row that does not
    /// deserialise, a bad label or hash string): 401 `corrupt_record`, the decision
    /// [`Checker::finish`] gives a record whose hash string does not decode, after the
    /// same MAC work. For bindings that parse the host's record themselves. 503
    /// [`Reason::ForeignPending`] for a `pending` of another checker, as in
    /// [`Checker::finish`].
    pub fn finish_corrupt(&self, pending: Pending) -> Decision<'_> {
        if let Some(foreign) = self.foreign(&pending) {
            return foreign;
        }
        let key = pending.key.as_parsed();
        // The same work as a corrupt hash in `authenticate`: nothing to tell by timing.
        burn(&self.peppers, &key);
        let mut outcome = with_route(Outcome::new(Reason::CorruptRecord), pending.route);
        outcome.warnings = pending.warnings;
        Decision::new(outcome, &self.policy)
    }

    /// The refusal of a pending check this checker did not prepare (no route: its index
    /// belongs to another policy).
    fn foreign(&self, pending: &Pending) -> Option<Decision<'_>> {
        (!Arc::ptr_eq(&pending.checker, &self.identity))
            .then(|| Decision::new(Outcome::new(Reason::ForeignPending), &self.policy))
    }

    /// Verifies a presented key against a record: parse, deployment environment (a key of
    /// another environment is [`Reason::WrongEnvironment`], as in [`Checker::check`]),
    /// secret, lifecycle; no route or transport rules.
    pub fn verify(&self, key: &[u8], record: &KeyRecord, now: Timestamp) -> Verification {
        let mut warnings = Warnings::default();
        let result = self
            .parse(key)
            .map_err(Reason::MalformedKey)
            .and_then(|k| self.deployment_env(&k).map(|()| k))
            .and_then(|k| self.authenticate(&k, record, now, &mut warnings));
        match result {
            Ok(granted) => Verification {
                reason: Reason::Allowed,
                warnings,
                granted,
            },
            Err(reason) => Verification {
                reason,
                warnings,
                granted: ScopeSet::EMPTY,
            },
        }
    }

    /// The record hash of a presented key under the primary pepper
    /// (`hmac-sha256$<pepper>$<digest>`): for storing keys made elsewhere in this format.
    pub fn hash_key(&self, key: &[u8]) -> Result<String, KeyError> {
        Ok(StoredHash::compute(&self.peppers, &self.parse(key)?).encode())
    }

    /// Moves a record to the primary pepper's HMAC once its key is presented: verifies the
    /// key against the record first (so nobody can rehash a record without its key), then,
    /// if the record used an older pepper or the legacy scheme, replaces its hash.
    /// `Ok(true)`: the record changed, store it; `Ok(false)`: it was current.
    pub fn rehash(
        &self,
        key: &[u8],
        record: &mut KeyRecord,
        now: Timestamp,
    ) -> Result<bool, Reason> {
        let verification = self.verify(key, record, now);
        if !verification.is_valid() {
            return Err(verification.reason);
        }
        if !verification.warnings.contains(Warning::NeedsRehash) {
            return Ok(false);
        }
        let parsed = self.parse(key).map_err(Reason::MalformedKey)?;
        record.set_hash(&crate::hash::StoredHash::compute(&self.peppers, &parsed));
        Ok(true)
    }

    fn front<'r>(&self, request: &Request<'r>, now: Option<Timestamp>) -> Result<Front<'r>, Early> {
        let route = match self.policy.routes.find(request.method, request.path) {
            Ok(route) => route,
            // Refused before matching: no route may judge an ambiguous path (path.rs).
            Err(e) => {
                return Err(Early {
                    reason: Reason::AmbiguousPath(e),
                    route: None,
                    warnings: Warnings::default(),
                    done: None,
                });
            }
        };
        let mut early = Early {
            reason: Reason::Public,
            route,
            warnings: Warnings::default(),
            done: None,
        };
        if let Some(Access::Public) = route
            .and_then(|i| self.policy.routes.get(i))
            .map(|r| &r.access)
        {
            return Err(early);
        }
        let t = &self.policy.transport;
        if t.require_https && !request.https {
            early.reason = Reason::InsecureTransport;
            return Err(early);
        }
        let credential = match extract_unvalidated(
            request.authorization,
            request.query,
            &t.query_param,
            t.allow_query_key,
        ) {
            Ok(c) => c,
            Err(e) => {
                early.reason = Reason::Credential(e);
                return Err(early);
            }
        };
        if credential.source == Source::Query {
            early.warnings.insert(Warning::CredentialInQuery);
        }
        if let Some(mut done) = self.access_token(&credential, route, now) {
            done.warnings = early.warnings;
            early.done = Some(Box::new(done));
            return Err(early);
        }
        let key = match self.parse(credential.token) {
            Ok(k) => k,
            Err(e) => {
                let malformed_header =
                    credential.source == Source::Header && !is_b64token(credential.token);
                early.reason = if malformed_header {
                    Reason::Credential(ExtractError::MalformedHeader)
                } else {
                    Reason::MalformedKey(e)
                };
                return Err(early);
            }
        };
        if let Err(reason) = self.deployment_env(&key) {
            early.reason = reason;
            return Err(early);
        }
        // The request's class matters only to limits.
        let class = match self.policy.limits.is_empty() {
            true => 0,
            false => self.policy.class_id(route, request.method),
        };
        Ok(Front {
            key,
            route,
            warnings: early.warnings,
            class,
        })
    }

    /// The deployment-environment rule, for `check`, `prepare` and `verify` alike: only keys
    /// of this deployment's environment are accepted.
    #[inline(always)]
    fn deployment_env(&self, key: &ParsedKey<'_>) -> Result<(), Reason> {
        if eq_public(key.env_bytes(), self.policy.deployment_env.as_bytes()) {
            Ok(())
        } else {
            Err(Reason::WrongEnvironment)
        }
    }

    /// `back` into a new decision.
    fn back_decision(
        &self,
        front: &Front<'_>,
        client: Option<&IpAddr>,
        record: Option<Arc<KeyRecord>>,
        now: Timestamp,
    ) -> Decision<'_> {
        let (key, route, warnings) = (&front.key, front.route, front.warnings);
        let at = At {
            now,
            class: front.class,
        };
        match &self.usage {
            // Built where it is returned: a local would be copied out (OPTIMISATIONS.md).
            None => Decision::new(self.back(key, route, warnings, record, at), &self.policy),
            Some(usage) => self.recorded(usage, key, route, warnings, record, at, client),
        }
    }

    /// `back_decision` with a usage recorder: the decision, then the use recorded into
    /// it where it lies (recording inside `back` made every exit call out before
    /// building the outcome, which cost more: benches/OPTIMISATIONS.md).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn recorded(
        &self,
        usage: &UsageRecorder,
        key: &ParsedKey<'_>,
        route: Option<usize>,
        warnings: Warnings,
        record: Option<Arc<KeyRecord>>,
        at: At,
        client: Option<&IpAddr>,
    ) -> Decision<'_> {
        let mut decision = Decision::new(self.back(key, route, warnings, record, at), &self.policy);
        record_into(usage, key, &mut decision, client, at.now);
        decision
    }

    /// Everything after the lookup. Always inlined, and the outcome is built from values
    /// after the last call, so that it is never built on the stack and copied out
    /// (benches/OPTIMISATIONS.md).
    #[inline(always)]
    fn back(
        &self,
        key: &ParsedKey<'_>,
        route: Option<usize>,
        mut warnings: Warnings,
        record: Option<Arc<KeyRecord>>,
        at: At,
    ) -> Outcome {
        let now = at.now;
        let outcome = |reason,
                       principal,
                       refusal: Option<Refusal>,
                       warnings: Warnings,
                       (limit, credits): (Option<LimitState>, Option<u32>)| {
            let (missing, required) = refusal.map_or((ScopeSet::EMPTY, ScopeSet::EMPTY), |r| {
                (r.missing, r.required)
            });
            Outcome {
                reason,
                principal,
                route,
                missing,
                required,
                warnings,
                lookup_error: None,
                limit,
                credits,
            }
        };
        let Some(record) = record else {
            burn(&self.peppers, key);
            return outcome(Reason::UnknownKey, None, None, warnings, (None, None));
        };
        let granted = match self.authenticate(key, &record, now, &mut warnings) {
            Err(reason) => return outcome(reason, None, None, warnings, (None, None)),
            Ok(granted) => granted,
        };
        let refusal = self.authorize(route, &granted).err();
        let (reason, limit, credits) = match (&refusal, &self.limits) {
            (None, Some(limits)) => self.limit(&**limits, &record, at.class, now),
            (None, None) => (Reason::Allowed, None, None),
            (Some(r), _) => (r.reason, None, None),
        };
        let principal = Some(Principal { record, granted });
        outcome(reason, principal, refusal, warnings, (limit, credits))
    }

    /// Takes one request from every limit of the policy that applies to `record` and the
    /// request's `class`, in file order: the decision's reason (allowed, 429 or 503) and
    /// the limit to report (the refusing one, or the one with the fewest left). A refusal
    /// gives back what the earlier limits took.
    fn limit(
        &self,
        limits: &dyn Limits,
        record: &KeyRecord,
        class: u8,
        now: Timestamp,
    ) -> (Reason, Option<LimitState>, Option<u32>) {
        let tier = match record.has_metadata() {
            true => record.metadata().get("tier").and_then(|t| t.as_str()),
            false => None,
        };
        let id = record.id();
        let mut taken = 0u32;
        let mut report: Option<LimitState> = None;
        for (i, limit) in self.policy.limits.iter().enumerate() {
            let applies = limit.class_id.is_none_or(|c| c == class)
                && (limit.tiers.is_empty()
                    || tier.is_some_and(|t| limit.tiers.iter().any(|x| x == t)));
            if !applies {
                continue;
            }
            let subject = match limit.per {
                Per::Key => id.as_bytes().as_slice(),
                Per::Owner => record.owner().as_bytes(),
            };
            let index = i as u16; // at most MAX_LIMITS
            let (reason, state) = match limits.take(u32::from(index), limit, subject) {
                Taken::Allowed {
                    remaining,
                    reset_us,
                } => {
                    taken |= 1 << i;
                    let state = LimitState {
                        index,
                        remaining,
                        reset_us,
                        retry_after_us: 0,
                    };
                    if report.is_none_or(|r| remaining < r.remaining) {
                        report = Some(state);
                    }
                    continue;
                }
                Taken::Limited {
                    retry_after_us,
                    reset_us,
                } => (
                    Reason::RateLimited,
                    LimitState {
                        index,
                        remaining: 0,
                        reset_us,
                        retry_after_us,
                    },
                ),
                Taken::Unavailable { retry_after_us } => (
                    Reason::LimiterUnavailable,
                    LimitState {
                        index,
                        remaining: 0,
                        reset_us: 0,
                        retry_after_us,
                    },
                ),
            };
            self.refund(limits, record, taken);
            return (reason, Some(state), None);
        }
        // Credits last: a request a limit refuses spends none.
        let Some(credits) = record.has_metadata().then(|| Credits::of(record)).flatten() else {
            return (Reason::Allowed, report, None);
        };
        let refused = |retry_after_us| LimitState {
            index: LimitState::CREDITS,
            remaining: 0,
            reset_us: retry_after_us,
            retry_after_us,
        };
        match limits.spend(&id, &credits, now) {
            Spent::Spent { remaining } => (Reason::Allowed, report, Some(remaining)),
            Spent::Exhausted => {
                self.refund(limits, record, taken);
                let until = credits
                    .next_refill(now)
                    .map_or(0, |t| t.since(now) * 1_000_000);
                (Reason::CreditsExhausted, Some(refused(until)), Some(0))
            }
            Spent::Unavailable { retry_after_us } => {
                self.refund(limits, record, taken);
                let state = refused(retry_after_us);
                (Reason::LimiterUnavailable, Some(state), None)
            }
        }
    }

    /// Gives back the requests taken from the limits whose bits are set in `taken`.
    #[cold]
    fn refund(&self, limits: &dyn Limits, record: &KeyRecord, taken: u32) {
        let id = record.id();
        for (i, limit) in self.policy.limits.iter().enumerate() {
            if taken & (1 << i) != 0 {
                let subject = match limit.per {
                    Per::Key => id.as_bytes().as_slice(),
                    Per::Owner => record.owner().as_bytes(),
                };
                limits.refund(i as u32, limit, subject);
            }
        }
    }

    /// Secret and lifecycle. Always computes exactly one MAC (or legacy digest).
    fn authenticate(
        &self,
        key: &ParsedKey<'_>,
        record: &KeyRecord,
        now: Timestamp,
        warnings: &mut Warnings,
    ) -> Result<ScopeSet, Reason> {
        let (scheme, digest) = record.scheme_and_digest();
        let pepper_id = match scheme {
            Scheme::Hmac(pepper_id) => Some(&**pepper_id),
            Scheme::Sha256 if self.policy.lifecycle.accept_legacy_sha256 => None,
            Scheme::Sha256 => {
                burn(&self.peppers, key);
                return Err(Reason::LegacyHashRefused);
            }
            Scheme::Corrupt(..) => {
                burn(&self.peppers, key);
                return Err(Reason::CorruptRecord);
            }
        };
        match check_digest(pepper_id, digest, &self.peppers, key) {
            HashCheck::Match { needs_rehash } => {
                if needs_rehash {
                    warnings.insert(Warning::NeedsRehash);
                }
            }
            HashCheck::Mismatch => return Err(Reason::WrongSecret),
            HashCheck::UnknownPepper => return Err(Reason::UnknownPepper),
        }
        if record.id() != key.id()
            || !eq_public(record.kind_bytes(), key.kind_bytes())
            || !eq_public(record.env_bytes(), key.env_bytes())
        {
            return Err(Reason::RecordMismatch);
        }
        self.lifecycle(record, now, warnings)?;
        let grant = record.grant(&self.policy.catalog);
        if grant.unknown > 0 {
            warnings.insert(Warning::UnknownScopes);
        }
        Ok(grant.set)
    }

    fn lifecycle(
        &self,
        record: &KeyRecord,
        now: Timestamp,
        warnings: &mut Warnings,
    ) -> Result<(), Reason> {
        match record.state(now) {
            KeyState::Active => {}
            KeyState::Revoked => return Err(Reason::Revoked),
            KeyState::NotYetValid => return Err(Reason::NotYetValid),
            KeyState::Expired => return Err(Reason::Expired),
        }
        if let Some(expires) = record.expires_at()
            && expires.since(now) <= self.policy.lifecycle.expiring_soon
        {
            warnings.insert(Warning::ExpiringSoon);
        }
        let age = now.since(record.created_at());
        if self.policy.lifecycle.max_age.is_some_and(|max| age >= max) {
            if self.policy.lifecycle.enforce_max_age {
                return Err(Reason::MaxAgeExceeded);
            }
            warnings.insert(Warning::RotationDue);
        }
        Ok(())
    }

    /// The access-token branch of `front`: `None` unless a verifier is attached and the
    /// credential has the access-token prefix. Tokens in the query string are refused
    /// (OAuth 2.1: resource servers ignore them).
    fn access_token(
        &self,
        credential: &Credential<'_>,
        route: Option<usize>,
        now: Option<Timestamp>,
    ) -> Option<Outcome> {
        let verifier = self.access.as_ref()?;
        if !access::is_access_token(credential.token) {
            return None;
        }
        let mut outcome = with_route(Outcome::new(Reason::Allowed), route);
        let verified = match (credential.source, now) {
            (Source::Query, _) => Err(Reason::Credential(ExtractError::QueryRefused)),
            (_, None) => Err(Reason::AccessToken(TokenError::TimeRequired)),
            (_, Some(now)) => verifier
                .verify(credential.token, now)
                .map_err(Reason::AccessToken),
        };
        match verified {
            // A revocation made elsewhere may be missing: fail closed, as a lookup would.
            Err(Reason::AccessToken(TokenError::RevocationsStale)) => {
                let error = LookupError::new("access-token revocations are stale");
                return Some(lookup_failed(route, error));
            }
            Err(reason) => outcome.reason = reason,
            Ok(claims) => {
                let granted = claims.scopes;
                let record = access::principal_record(&claims, &self.policy);
                outcome.principal = Some(Principal {
                    record: Arc::new(record),
                    granted,
                });
                if let Err(refusal) = self.authorize(route, &granted) {
                    refusal.apply(&mut outcome);
                }
            }
        }
        Some(outcome)
    }

    /// The route's verdict on `granted`. It answers rather than writing into the outcome,
    /// which would then have to live in memory (benches/OPTIMISATIONS.md).
    fn authorize(&self, route: Option<usize>, granted: &ScopeSet) -> Result<(), Refusal> {
        let access = route
            .and_then(|i| self.policy.routes.get(i))
            .map(|r| &r.access);
        match (access, self.policy.unknown_routes) {
            (Some(Access::Requires(req)), _) => req.evaluate(granted).map_err(|short| Refusal {
                reason: Reason::InsufficientScope,
                missing: short.missing,
                required: short.required,
            }),
            (Some(Access::Public), _) | (None, UnknownRoutes::Authenticated) => Ok(()),
            (None, UnknownRoutes::Deny) => Err(Refusal {
                reason: Reason::UnknownRoute,
                missing: ScopeSet::EMPTY,
                required: ScopeSet::EMPTY,
            }),
        }
    }
}

/// Why a verified caller may not use the route.
struct Refusal {
    reason: Reason,
    missing: ScopeSet,
    required: ScopeSet,
}

impl Refusal {
    fn apply(self, outcome: &mut Outcome) {
        outcome.reason = self.reason;
        outcome.missing = self.missing;
        outcome.required = self.required;
    }
}

/// A decision reached before any record is needed.
struct Early {
    reason: Reason,
    route: Option<usize>,
    warnings: Warnings,
    /// A complete outcome decided early (an access token).
    done: Option<Box<Outcome>>,
}

impl Early {
    fn outcome(self) -> Outcome {
        if let Some(done) = self.done {
            return *done;
        }
        let mut o = with_route(Outcome::new(self.reason), self.route);
        o.warnings = self.warnings;
        o
    }
}

/// Records a decision made against a record in `usage`, adding the warnings the use
/// raised to the decision.
#[inline(never)]
fn record_into(
    usage: &UsageRecorder,
    key: &ParsedKey<'_>,
    decision: &mut Decision<'_>,
    client: Option<&IpAddr>,
    now: Timestamp,
) {
    let o = decision.outcome_mut();
    if let Some(used) = Use::of(o.reason) {
        let raised = usage.record(&key.id(), used, o.warnings, client.copied(), now);
        o.warnings.extend(raised);
    }
}

/// What `back` needs besides the key and its record.
#[derive(Clone, Copy)]
struct At {
    now: Timestamp,
    /// The request's class (limits).
    class: u8,
}

struct Front<'r> {
    key: ParsedKey<'r>,
    route: Option<usize>,
    warnings: Warnings,
    class: u8,
}

fn with_route(mut o: Outcome, route: Option<usize>) -> Outcome {
    o.route = route;
    o
}

fn lookup_failed(route: Option<usize>, error: LookupError) -> Outcome {
    let mut o = with_route(Outcome::new(Reason::LookupFailed), route);
    o.lookup_error = Some(error);
    o
}
