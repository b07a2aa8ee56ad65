//! The server's shared state and its one way to decide: [`Service::decide`].

use crate::config::ServeConfig;
use crate::forwarded::Original;
use crate::keys_api::KeysState;
use crate::log::Log;
use crate::metrics::Metrics;
use crate::oauth::OAuthState;
use crate::verdict::Verdict;
use portcullis::{Checker, LookupError, Prepared, Request, Timestamp};
use portcullis_store::Store;
use std::sync::Arc;
use std::time::Instant;

/// Everything a request handler reads: the checker, the store, the configuration, the
/// counters and the log. Shared by every connection (`Arc<Service>`).
#[derive(Debug)]
pub struct Service {
    /// The policy and peppers that decide (with the store's access-token verifier, usage
    /// recorder and limits, when configured).
    pub checker: Arc<Checker>,
    /// Where key records and OAuth state live.
    pub store: Arc<Store>,
    /// How the server was configured.
    pub config: ServeConfig,
    /// The counters `/metrics` shows.
    pub metrics: Metrics,
    /// The structured log.
    pub log: Log,
    /// The RFC 9728 metadata URL named in `WWW-Authenticate`, when a public URL is set.
    pub resource_metadata: Option<String>,
    /// The OAuth endpoints' engine and host secret; `None`: `/oauth/…` and the metadata
    /// documents answer 404 ([`Service::with_oauth`]).
    pub oauth: Option<Arc<OAuthState>>,
    /// The key-management API and the Settings > API Keys page; `None`: `/api/keys…` and
    /// `/settings/api-keys…` answer 404 ([`Service::with_keys`]).
    pub keys: Option<Arc<KeysState>>,
}

impl Service {
    /// A service deciding with `checker` over `store`.
    pub fn new(checker: Arc<Checker>, store: Arc<Store>, config: ServeConfig) -> Self {
        let resource_metadata = config.public_url.as_ref().map(|base| {
            format!(
                "{}/.well-known/oauth-protected-resource",
                base.trim_end_matches('/')
            )
        });
        Service {
            checker,
            store,
            log: Log::new(config.log),
            config,
            metrics: Metrics::default(),
            resource_metadata,
            oauth: None,
            keys: None,
        }
    }

    /// The same service serving the OAuth endpoints with `state` (whose verifier the
    /// checker should hold, with `Checker::with_access_tokens`, for `/auth` to accept the
    /// tokens it grants).
    pub fn with_oauth(mut self, state: OAuthState) -> Self {
        self.oauth = Some(Arc::new(state));
        self
    }

    /// The same service serving the key-management API and page with `state`.
    pub fn with_keys(mut self, state: KeysState) -> Self {
        self.keys = Some(Arc::new(state));
        self
    }

    /// Decides the original request a proxy asks about, counts it and logs it.
    ///
    /// A record the store's cache holds is decided on the calling task; a miss, which reads
    /// the database, runs on a blocking thread so the runtime's workers never wait on it,
    /// and past [`crate::Bounds::request_timeout`] is 503 `lookup_failed` (fail closed).
    pub async fn decide(
        &self,
        endpoint: &'static str,
        original: &Original<'_>,
        started: Instant,
    ) -> Verdict {
        let request = Request {
            method: original.method,
            path: original.path,
            authorization: original.authorization,
            query: original.query.map(str::as_bytes),
            https: original.https,
            client: Some(original.client),
        };
        let now = Timestamp::now();
        let checker = &self.checker;
        let verdict = match checker.prepare_at(&request, now) {
            Prepared::Done(decision) => Verdict::of(&decision, self.resource_metadata.as_deref()),
            Prepared::Lookup(pending) => {
                let id = pending.key_id();
                let record = match self.store.lookup_cached(&id) {
                    Some(record) => Ok(record),
                    // Boxed: the timer and the join handle stay off the hit path's future.
                    None => Box::pin(self.read_through_in_time(id)).await,
                };
                let decision = match record {
                    Ok(record) => checker.finish(pending, record, now),
                    Err(error) => checker.finish_failed(pending, error),
                };
                Verdict::of(&decision, self.resource_metadata.as_deref())
            }
        };
        let took = started.elapsed();
        self.metrics
            .decision(endpoint, verdict.reason, verdict.status, took);
        self.log.decision(endpoint, original, &verdict, took);
        verdict
    }

    /// [`Service::read_through`] within [`crate::Bounds::request_timeout`].
    async fn read_through_in_time(
        &self,
        id: portcullis::KeyId,
    ) -> Result<Option<Arc<portcullis::KeyRecord>>, LookupError> {
        let wait = self.config.bounds.request_timeout;
        tokio::time::timeout(wait, self.read_through(id))
            .await
            .unwrap_or_else(|_| Err(LookupError::new("the database did not answer in time")))
    }

    /// Reads a record the cache does not hold, on a blocking thread.
    async fn read_through(
        &self,
        id: portcullis::KeyId,
    ) -> Result<Option<Arc<portcullis::KeyRecord>>, LookupError> {
        use portcullis::KeyLookup;
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.lookup(&id)).await {
            Ok(result) => result,
            Err(_) => Err(LookupError::new("the lookup thread stopped")),
        }
    }
}
