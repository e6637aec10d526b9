//! Keys published by the auth server (Better Auth's `/api/auth/jwks`) or read
//! from a file, cached in memory.
//!
//! - An unknown `kid` triggers one refetch, at most one per `min_refetch`
//!   interval and one at a time; then the token is 401 if the key is still
//!   unknown, or 503 if the key server could not be reached.
//! - A failed refresh keeps the cached keys: an auth server that is down never
//!   signs anyone out whose key is already known.
//! - A background task refreshes periodically (quickly while nothing is loaded).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::AuthError;
use super::keys::{Alg, Jwk, VerifyingKey};

/// A key set larger than this is refused (Better Auth's is a few hundred bytes).
const MAX_JWKS_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Retry pace of the background task while no key set has been loaded yet.
const COLD_RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    Url(reqwest::Url),
    File(PathBuf),
}

impl std::fmt::Display for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(url) => write!(f, "{url}"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot reach the key server: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("the key server answered HTTP {0}")]
    Status(u16),
    #[error("cannot read the key file: {0}")]
    File(#[source] std::io::Error),
    #[error("the key set is larger than {} KiB", MAX_JWKS_BYTES / 1024)]
    TooLarge,
    #[error("the key set is not a JWK Set: {0}")]
    NotAKeySet(#[source] serde_json::Error),
    #[error("the key set has no usable signing key")]
    NoUsableKeys,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    without_kid: Vec<Arc<VerifyingKey>>,
}

impl KeySet {
    fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }

    /// Does `next` lack a key this set has?
    fn withdrawn_in(&self, next: &KeySet) -> bool {
        self.by_kid.keys().any(|kid| !next.by_kid.contains_key(kid))
            || self
                .without_kid
                .iter()
                .any(|key| !next.without_kid.iter().any(|other| Arc::ptr_eq(key, other)))
    }

    /// `Ok(None)`: no such key. A token naming a key of another algorithm is
    /// refused outright rather than tried.
    fn lookup(&self, kid: Option<&str>, alg: Alg) -> Result<Option<Vec<Arc<VerifyingKey>>>, AuthError> {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(key) if key.alg() == alg => Ok(Some(vec![Arc::clone(key)])),
                Some(_) => Err(AuthError::AlgorithmKeyMismatch),
                None => Ok(None),
            },
            None => {
                let keys: Vec<_> = self
                    .by_kid
                    .values()
                    .chain(&self.without_kid)
                    .filter(|k| k.alg() == alg)
                    .cloned()
                    .collect();
                Ok((!keys.is_empty()).then_some(keys))
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct FetchStatus {
    pub last_attempt: Option<Instant>,
    pub last_success: Option<Instant>,
    /// Why the last attempt failed; `None` after a success.
    pub last_error: Option<String>,
    pub keys: usize,
}

pub struct JwksCache {
    source: JwksSource,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    status: Mutex<FetchStatus>,
    /// Serializes fetches so a burst of unknown-kid tokens costs one request.
    fetching: tokio::sync::Mutex<()>,
    min_refetch: Duration,
    /// Bumped whenever a refresh drops a key, so tokens verified with it earlier
    /// (and remembered by the `Verifier`) are checked again.
    withdrawals: AtomicU64,
}

impl JwksCache {
    pub fn new(source: JwksSource, min_refetch: Duration) -> Self {
        Self {
            source,
            http: http_client(FETCH_TIMEOUT),
            keys: RwLock::default(),
            status: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
            min_refetch,
            withdrawals: AtomicU64::new(0),
        }
    }

    /// Changes whenever a key has been withdrawn from the set.
    pub fn withdrawals(&self) -> u64 {
        self.withdrawals.load(Ordering::Acquire)
    }

    pub fn status(&self) -> FetchStatus {
        self.status.lock().expect("status lock").clone()
    }

    /// Fetches the key set now and replaces the cache; on failure the cache is kept.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let _one_at_a_time = self.fetching.lock().await;
        self.refresh_locked().await
    }

    async fn refresh_locked(&self) -> Result<usize, JwksError> {
        self.status.lock().expect("status lock").last_attempt = Some(Instant::now());
        let result = self.fetch().await.and_then(|bytes| parse_key_set(&bytes));
        crate::telemetry::metrics().jwks_refreshed(result.is_ok());
        let mut status = self.status.lock().expect("status lock");
        match result {
            Ok(set) => {
                let count = set.len();
                let withdrawn = self.keys.read().expect("keys lock").withdrawn_in(&set);
                *self.keys.write().expect("keys lock") = Arc::new(set);
                if withdrawn {
                    self.withdrawals.fetch_add(1, Ordering::AcqRel);
                }
                status.last_success = Some(Instant::now());
                status.last_error = None;
                status.keys = count;
                tracing::info!(source = %self.source, keys = count, "JWKS loaded");
                Ok(count)
            }
            Err(error) => {
                status.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<u8>, JwksError> {
        let url = match &self.source {
            JwksSource::File(path) => return tokio::fs::read(path).await.map_err(JwksError::File),
            JwksSource::Url(url) => url.clone(),
        };
        let mut response = self.http.get(url).send().await.map_err(JwksError::Unreachable)?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(JwksError::Unreachable)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err(JwksError::TooLarge);
            }
        }
        Ok(body)
    }

    fn lookup(&self, kid: Option<&str>, alg: Alg) -> Result<Option<Vec<Arc<VerifyingKey>>>, AuthError> {
        let keys = Arc::clone(&self.keys.read().expect("keys lock"));
        keys.lookup(kid, alg)
    }

    /// The keys that may have signed a token with this `kid` and `alg`.
    pub async fn keys_for(&self, kid: Option<&str>, alg: Alg) -> Result<Vec<Arc<VerifyingKey>>, AuthError> {
        if let Some(keys) = self.lookup(kid, alg)? {
            return Ok(keys);
        }
        {
            let _one_at_a_time = self.fetching.lock().await;
            // Whoever held the lock before us may have fetched it already.
            if let Some(keys) = self.lookup(kid, alg)? {
                return Ok(keys);
            }
            let last_attempt = self.status().last_attempt;
            if last_attempt.is_none_or(|at| at.elapsed() >= self.min_refetch)
                && let Err(error) = self.refresh_locked().await
            {
                tracing::warn!(source = %self.source, %error, "JWKS refetch for an unknown key failed");
            }
        }
        match self.lookup(kid, alg)? {
            Some(keys) => Ok(keys),
            None if self.status().last_error.is_some() => Err(AuthError::KeysUnavailable),
            None => Err(AuthError::UnknownKey),
        }
    }

    /// Refreshes every `every` (every few seconds until a first set loads).
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let loaded = cache.status().last_success.is_some();
                tokio::time::sleep(if loaded { every } else { COLD_RETRY }).await;
                if let Err(error) = cache.refresh().await {
                    tracing::warn!(source = %cache.source, %error, "JWKS refresh failed; keeping cached keys");
                }
            }
        })
    }
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// Keys that cannot be used (other types, encryption keys, bad material) are
/// skipped, as RFC 7517 §5 asks; a set with none left is an error.
fn parse_key_set(bytes: &[u8]) -> Result<KeySet, JwksError> {
    let raw: RawKeySet = serde_json::from_slice(bytes).map_err(JwksError::NotAKeySet)?;
    let mut set = KeySet::default();
    for value in raw.keys {
        let key = serde_json::from_value::<Jwk>(value).map_err(|e| e.to_string()).and_then(|jwk| {
            let key = jwk.to_key().map_err(|e| e.to_string())?;
            Ok((jwk.kid, key))
        });
        match key {
            Ok((Some(kid), key)) => {
                set.by_kid.insert(kid, Arc::new(key));
            }
            Ok((None, key)) => set.without_kid.push(Arc::new(key)),
            Err(reason) => tracing::debug!(%reason, "skipping a JWK"),
        }
    }
    if set.len() == 0 { Err(JwksError::NoUsableKeys) } else { Ok(set) }
}

/// The one HTTP client stack: reqwest on rustls with ring, the provider the
/// PostgreSQL TLS uses too (no second crypto library in the build).
pub(super) fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("todo-api/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with the ring provider installed")
}
