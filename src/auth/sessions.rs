//! Better Auth session tokens (`BETTER_AUTH_SESSIONS=true`): what its `bearer()`
//! plugin hands a client (`set-auth-token`), or `session.token` from
//! `getSession()`, sent as `Authorization: Bearer <token>`. Such a token is no
//! JWS; only Better Auth knows whose it is, so it is asked, with the same
//! header, at `{BETTER_AUTH_URL}/api/auth/get-session`, which answers the
//! session and its user, or `null` (200 either way: a 200 alone proves nothing).
//!
//! What it said is cached by the token's SHA-256 (the token itself is kept no
//! longer than the request) for `BETTER_AUTH_SESSION_TTL_SECONDS`, never past
//! the session's `expiresAt`, unknown tokens included; one lookup per token at
//! a time (quick_cache's placeholder guard makes the others wait for its
//! answer), and at most `BETTER_AUTH_SESSION_LOOKUPS` lookups in flight, so a
//! flood of random tokens cannot turn this server into an amplifier against
//! the auth server: past the bound they are refused at once.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::{AuthError, AuthUser, claims};

/// Sessions (and unknown tokens) remembered.
const CACHED: usize = 100_000;
/// A slow auth server holds a request at most this long.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `{BETTER_AUTH_URL}/api/auth/get-session`.
    pub endpoint: reqwest::Url,
    pub ttl: Duration,
    pub max_lookups: usize,
}

#[derive(Clone)]
enum Known {
    Session { user: AuthUser, until: u64 },
    Unknown { until: u64 },
}

impl Known {
    fn until(&self) -> u64 {
        match self {
            Self::Session { until, .. } | Self::Unknown { until } => *until,
        }
    }
}

/// What the last lookup found of the auth server, for `/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reachability {
    NotAskedYet,
    Answered,
    Unreachable,
}

pub struct SessionLookup {
    settings: SessionSettings,
    http: reqwest::Client,
    cache: quick_cache::sync::Cache<[u8; 32], Known>,
    lookups: Semaphore,
    last: Mutex<Reachability>,
}

/// Better Auth's `get-session` answer (only what is read of it).
#[derive(Deserialize)]
struct Found {
    session: FoundSession,
    user: FoundUser,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FoundSession {
    expires_at: String,
}

#[derive(Deserialize)]
struct FoundUser {
    id: String,
    email: Option<String>,
}

impl SessionLookup {
    pub fn new(settings: SessionSettings) -> Self {
        Self {
            lookups: Semaphore::new(settings.max_lookups),
            http: super::jwks::http_client(LOOKUP_TIMEOUT),
            cache: quick_cache::sync::Cache::new(CACHED),
            last: Mutex::new(Reachability::NotAskedYet),
            settings,
        }
    }

    pub fn endpoint(&self) -> &reqwest::Url {
        &self.settings.endpoint
    }

    /// For `todo-api check`: does the endpoint answer as Better Auth does
    /// (200, `null` for no session)?
    pub async fn probe(&self) -> Result<String, String> {
        let response = self.http.get(self.settings.endpoint.clone()).send().await;
        let endpoint = &self.settings.endpoint;
        match response {
            Ok(response) if response.status().is_success() => match response.bytes().await {
                Ok(body) if body.trim_ascii() == b"null" => Ok(format!("{endpoint} answers")),
                _ => Err(format!(
                    "{endpoint} answered 200 but not as Better Auth does (null without a session)"
                )),
            },
            Ok(response) => Err(format!("{endpoint} answered {}", response.status())),
            Err(error) => Err(format!("{endpoint} unreachable: {error}")),
        }
    }

    pub fn reachability(&self) -> Reachability {
        *self.last.lock().expect("reachability lock")
    }

    /// The user of `token` if it is a session already looked up and still valid.
    pub fn cached_user(&self, token: &str, now: u64) -> Option<AuthUser> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match self.cache.get(&key)? {
            Known::Session { user, until } if until > now => Some(user),
            _ => None,
        }
    }

    /// The user whose session `token` is, or why it proves nothing.
    pub async fn verify(&self, token: &str, now: u64) -> Result<AuthUser, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        loop {
            let guard = match self.cache.get_value_or_guard_async(&key).await {
                Ok(known) if known.until() > now => return answer(known),
                Ok(_expired) => {
                    self.cache.remove(&key);
                    continue;
                }
                Err(guard) => guard,
            };
            // Past the bound, refused at once (the placeholder goes with the
            // guard, and a waiter for the same token tries in its turn).
            let Ok(_permit) = self.lookups.try_acquire() else {
                return Err(AuthError::SessionLookupsBusy);
            };
            let known = self.look_up(token, now).await?;
            let _ = guard.insert(known.clone());
            return answer(known);
        }
    }

    async fn look_up(&self, token: &str, now: u64) -> Result<Known, AuthError> {
        let sent = self.http.get(self.settings.endpoint.clone()).bearer_auth(token).send().await;
        let known = match sent {
            Ok(response) if response.status().is_success() => {
                let body = response.bytes().await.ok();
                match body.as_deref().map(serde_json::from_slice::<Option<Found>>) {
                    Some(Ok(Some(found))) => self.session(found, now),
                    Some(Ok(None)) => Ok(Known::Unknown { until: now + self.settings.ttl.as_secs() }),
                    // Not Better Auth's answer (a proxy's page, a cut-off body).
                    _ => Err(AuthError::SessionsUnavailable),
                }
            }
            // Better Auth answers an unknown session with `null`; a 401 or 403 means the same.
            Ok(response) if matches!(response.status().as_u16(), 401 | 403) => {
                Ok(Known::Unknown { until: now + self.settings.ttl.as_secs() })
            }
            Ok(_) | Err(_) => Err(AuthError::SessionsUnavailable),
        };
        let reached = !matches!(known, Err(AuthError::SessionsUnavailable));
        let result = match &known {
            Ok(Known::Session { .. }) => "session",
            Ok(Known::Unknown { .. }) => "unknown",
            Err(_) => "unavailable",
        };
        crate::telemetry::metrics().session_looked_up(result);
        *self.last.lock().expect("reachability lock") =
            if reached { Reachability::Answered } else { Reachability::Unreachable };
        if !reached {
            tracing::warn!(endpoint = %self.settings.endpoint, "Better Auth's session endpoint did not answer");
        }
        known
    }

    fn session(&self, found: Found, now: u64) -> Result<Known, AuthError> {
        let expires = time::OffsetDateTime::parse(
            &found.session.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .and_then(|at| u64::try_from(at.unix_timestamp()).ok())
        .ok_or(AuthError::SessionsUnavailable)?;
        if expires <= now {
            return Ok(Known::Unknown { until: now + self.settings.ttl.as_secs() });
        }
        // The rule a JWT's subject follows.
        if !claims::valid_subject(&found.user.id) {
            return Err(AuthError::MissingClaim("user.id"));
        }
        let user = AuthUser { id: found.user.id, email: found.user.email, valid_until: expires };
        Ok(Known::Session { user, until: expires.min(now + self.settings.ttl.as_secs()) })
    }
}

fn answer(known: Known) -> Result<AuthUser, AuthError> {
    match known {
        Known::Session { user, .. } => Ok(user),
        Known::Unknown { .. } => Err(AuthError::UnknownSession),
    }
}

/// Compact JWS has exactly three dot-separated parts; a session token has
/// none (or one, when signed like Better Auth's cookie value).
pub fn looks_like_jws(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}
