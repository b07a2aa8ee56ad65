//! Store contracts (what the host implements over its database) and in-memory
//! implementations for tests, examples and single-process servers.
//!
//! Every secret is stored only as its [`TokenHash`]. The two operations that must be
//! atomic in the host's database are [`CodeStore::consume_code`] (mark used and return
//! the record, in one step) and [`RefreshStore::rotate`] (a compare-and-swap on the old
//! token's `rotated_at`, plus the insert of its successor).
//!
//! The token endpoint reads a code with [`CodeStore::code`] and checks the client, the
//! redirect URI and the PKCE verifier before it consumes the code, so a request failing
//! those checks leaves the code redeemable.

use super::client::Client;
use super::code::CodeRecord;
use super::opaque::TokenHash;
use super::refresh::RefreshRecord;
use crate::format::KeyId;
use crate::lookup::LookupError;
use crate::time::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The result of consuming a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consumed {
    /// First use: the record.
    First(CodeRecord),
    /// The code was already used: the record, so its family can be revoked.
    Again(CodeRecord),
    /// No such code.
    Unknown,
}

/// The result of a rotation attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotated {
    /// The old token is marked rotated and the successor stored.
    Done,
    /// The old token's `rotated_at` was no longer the expected value (a concurrent
    /// rotation won); nothing changed.
    Conflict,
}

/// Registered clients.
pub trait ClientStore: Send + Sync {
    /// The client with this id.
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, LookupError>;
}

/// Authorization codes.
pub trait CodeStore: Send + Sync {
    /// Stores a new code's record.
    fn put_code(&self, hash: TokenHash, record: CodeRecord) -> Result<(), LookupError>;
    /// The record of a code (used ones included), without changing anything.
    fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, LookupError>;
    /// Atomically marks a code used and returns its record (keep used codes until they
    /// expire, so reuse is recognised).
    fn consume_code(&self, hash: &TokenHash) -> Result<Consumed, LookupError>;
}

/// Refresh tokens and grant families.
pub trait RefreshStore: Send + Sync {
    /// Stores a new refresh token's record.
    fn put_refresh(&self, hash: TokenHash, record: RefreshRecord) -> Result<(), LookupError>;
    /// The record of a refresh token (rotated ones included).
    fn refresh(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, LookupError>;
    /// Atomically: if `old`'s `rotated_at` equals `expected`, set it to `rotated_at`
    /// and store the successor; otherwise change nothing and answer
    /// [`Rotated::Conflict`]. A plain compare-and-swap: the engine picks the new value
    /// (the time of a first rotation, or [`super::refresh::GRACE_SPENT`]).
    fn rotate(
        &self,
        old: &TokenHash,
        expected: Option<Timestamp>,
        rotated_at: Timestamp,
        successor: (TokenHash, RefreshRecord),
    ) -> Result<Rotated, LookupError>;
    /// Revokes a grant family: none of its refresh tokens works again.
    fn revoke_family(&self, family: &KeyId, now: Timestamp) -> Result<(), LookupError>;
    /// Whether a family is revoked.
    fn is_family_revoked(&self, family: &KeyId) -> Result<bool, LookupError>;
}

#[derive(Default)]
struct Inner {
    clients: HashMap<String, Arc<Client>>,
    codes: HashMap<TokenHash, (CodeRecord, bool)>,
    refresh: HashMap<TokenHash, RefreshRecord>,
    revoked: HashSet<KeyId>,
}

/// An in-memory implementation of every store contract (one mutex; fine for tests and
/// small single-process servers).
#[derive(Default)]
pub struct MemoryOAuthStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryOAuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("MemoryOAuthStore")
            .field("clients", &g.clients.len())
            .field("codes", &g.codes.len())
            .field("refresh_tokens", &g.refresh.len())
            .field("revoked_families", &g.revoked.len())
            .finish()
    }
}

impl MemoryOAuthStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated (each write
        // is one insert), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers (or replaces) a client.
    pub fn add_client(&self, client: Client) {
        self.lock()
            .clients
            .insert(client.id.clone(), Arc::new(client));
    }

    /// Drops used and expired codes (call now and then).
    pub fn purge_codes(&self, now: Timestamp) {
        self.lock().codes.retain(|_, (r, _)| r.expires_at > now);
    }
}

impl ClientStore for MemoryOAuthStore {
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, LookupError> {
        Ok(self.lock().clients.get(id).cloned())
    }
}

impl CodeStore for MemoryOAuthStore {
    fn put_code(&self, hash: TokenHash, record: CodeRecord) -> Result<(), LookupError> {
        self.lock().codes.insert(hash, (record, false));
        Ok(())
    }

    fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, LookupError> {
        Ok(self
            .lock()
            .codes
            .get(hash)
            .map(|(record, _)| record.clone()))
    }

    fn consume_code(&self, hash: &TokenHash) -> Result<Consumed, LookupError> {
        let mut g = self.lock();
        Ok(match g.codes.get_mut(hash) {
            None => Consumed::Unknown,
            Some((record, used)) if *used => Consumed::Again(record.clone()),
            Some((record, used)) => {
                *used = true;
                Consumed::First(record.clone())
            }
        })
    }
}

impl RefreshStore for MemoryOAuthStore {
    fn put_refresh(&self, hash: TokenHash, record: RefreshRecord) -> Result<(), LookupError> {
        self.lock().refresh.insert(hash, record);
        Ok(())
    }

    fn refresh(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, LookupError> {
        Ok(self.lock().refresh.get(hash).cloned())
    }

    fn rotate(
        &self,
        old: &TokenHash,
        expected: Option<Timestamp>,
        rotated_at: Timestamp,
        successor: (TokenHash, RefreshRecord),
    ) -> Result<Rotated, LookupError> {
        let mut g = self.lock();
        match g.refresh.get_mut(old) {
            Some(r) if r.rotated_at == expected => r.rotated_at = Some(rotated_at),
            _ => return Ok(Rotated::Conflict),
        }
        g.refresh.insert(successor.0, successor.1);
        Ok(Rotated::Done)
    }

    fn revoke_family(&self, family: &KeyId, _now: Timestamp) -> Result<(), LookupError> {
        self.lock().revoked.insert(*family);
        Ok(())
    }

    fn is_family_revoked(&self, family: &KeyId) -> Result<bool, LookupError> {
        Ok(self.lock().revoked.contains(family))
    }
}
