//! The `Verifier`: one token in, a verified user (or why not) out, with
//! verified tokens remembered.

use super::keys::Alg;
use super::keys::VerifyingKey;
use super::{AuthError, AuthUser, ClaimRules, JwksCache, SessionLookup, sessions, token};
use crate::limit::{FailureLimit, PeerAddr};
use axum::http::HeaderMap;
use std::sync::Arc;

/// How many verified tokens are remembered. A browser session sends the same
/// token for its whole lifetime (15 minutes with Better Auth), so a hit skips
/// the signature check, the costliest step of a request.
const VERIFIED_TOKENS_CACHED: usize = 10_000;

pub struct Verifier {
    hs256: Option<(VerifyingKey, ClaimRules)>,
    jwks: Option<(Arc<JwksCache>, ClaimRules)>,
    /// Exact token string → what verifying it proved. Only tokens that fully
    /// verified are stored; expiry is checked on every hit, and a key withdrawn
    /// from the JWKS invalidates every entry.
    verified: quick_cache::sync::Cache<String, Verified>,
    /// Better Auth session tokens, when enabled: whatever is not a JWS.
    sessions: Option<SessionLookup>,
    /// Failed authentications per client address, when limited.
    failures: Option<FailureLimit>,
}

#[derive(Clone)]
struct Verified {
    user: AuthUser,
    /// Unix second (leeway included) after which the token is expired.
    valid_until: u64,
    /// The JWKS withdrawal count when it was verified.
    withdrawals: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            hs256: None,
            jwks: None,
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS_CACHED),
            sessions: None,
            failures: None,
        }
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept HS256 tokens signed with `secret`.
    pub fn with_hs256(mut self, secret: &[u8], rules: ClaimRules) -> Self {
        self.hs256 = Some((VerifyingKey::hs256(secret), rules));
        self
    }

    /// Accept tokens signed by a key in this JWKS.
    pub fn with_jwks(mut self, cache: Arc<JwksCache>, rules: ClaimRules) -> Self {
        self.jwks = Some((cache, rules));
        self
    }

    /// Accept Better Auth session tokens, looked up with Better Auth.
    pub fn with_sessions(mut self, sessions: SessionLookup) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Refuse clients that fail to authenticate too often, before verifying.
    pub fn with_failure_limit(mut self, failures: FailureLimit) -> Self {
        self.failures = Some(failures);
        self
    }

    pub fn failure_limit(&self) -> Option<&FailureLimit> {
        self.failures.as_ref()
    }

    pub fn sessions(&self) -> Option<&SessionLookup> {
        self.sessions.as_ref()
    }

    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        self.jwks.as_ref().map(|(cache, _)| cache)
    }

    /// `verify`, behind the failure limit when there is one: a token already
    /// verified (and still valid) passes at no cost, so a user behind a
    /// limited address is not refused; anything else from a client that has
    /// failed too often lately is refused before it is looked at, and each
    /// failure the client caused counts against it.
    pub async fn verify_from(
        &self,
        presented: Result<&str, AuthError>,
        peer: Option<PeerAddr>,
        headers: &HeaderMap,
    ) -> Result<AuthUser, AuthError> {
        let Some(failures) = &self.failures else { return self.verify(presented?).await };
        let now = jsonwebtoken::get_current_timestamp();
        let cached = presented.as_ref().ok().and_then(|token| self.cached(token, now));
        if let Some(Ok(user)) = cached {
            return Ok(user);
        }
        let attempt = failures.attempt(peer, headers).map_err(AuthError::TooManyFailures)?;
        let verified = match (cached, presented) {
            (Some(known), _) => known,
            (None, Ok(token)) => self.verify(token).await,
            (None, Err(missing)) => Err(missing),
        };
        if let Err(error) = &verified
            && error.is_clients_fault()
        {
            attempt.failed();
        }
        verified
    }

    /// What the caches already know of `token`, at no cost: its user while a
    /// verified JWT (or session) is still valid, `Expired` once a verified JWT
    /// has expired (then forgotten); `None` for a token to verify.
    fn cached(&self, token: &str, now: u64) -> Option<Result<AuthUser, AuthError>> {
        if let Some(sessions) = &self.sessions
            && !sessions::looks_like_jws(token)
        {
            return sessions.cached_user(token, now).map(Ok);
        }
        self.cached_jwt(token, now, self.withdrawals())
    }

    fn cached_jwt(&self, token: &str, now: u64, withdrawals: u64) -> Option<Result<AuthUser, AuthError>> {
        let hit = self.verified.get(token).filter(|hit| hit.withdrawals == withdrawals)?;
        if now <= hit.valid_until {
            return Some(Ok(hit.user));
        }
        self.verified.remove(token);
        Some(Err(AuthError::Expired))
    }

    /// How many times JWKS keys were withdrawn: a verification cached before
    /// a withdrawal no longer counts.
    fn withdrawals(&self) -> u64 {
        self.jwks().map_or(0, |cache| cache.withdrawals())
    }

    /// Maps a bearer token to the user it proves, or says why it proves nothing.
    pub async fn verify(&self, token: &str) -> Result<AuthUser, AuthError> {
        let now = jsonwebtoken::get_current_timestamp();
        // JWTs keep their path; anything else is a session token, if those are on.
        if let Some(sessions) = &self.sessions
            && !sessions::looks_like_jws(token)
        {
            return sessions.verify(token, now).await;
        }
        let withdrawals = self.withdrawals();
        if let Some(known) = self.cached_jwt(token, now, withdrawals) {
            return known;
        }
        let (user, valid_until) = self.verify_uncached(token, now).await?;
        self.verified.insert(token.to_owned(), Verified { user: user.clone(), valid_until, withdrawals });
        Ok(user)
    }

    async fn verify_uncached(&self, token: &str, now: u64) -> Result<(AuthUser, u64), AuthError> {
        let jws = token::parse(token)?;
        let alg = Alg::from_name(&jws.header.alg).ok_or(AuthError::AlgorithmNotAccepted)?;
        let rules = match (alg, &self.hs256, &self.jwks) {
            (Alg::Hs256, Some((key, rules)), _) => {
                check_signature(&[key], &jws)?;
                rules
            }
            (Alg::Hs256, None, _) | (_, _, None) => return Err(AuthError::AlgorithmNotAccepted),
            (_, _, Some((cache, rules))) => {
                let keys = cache.keys_for(jws.header.kid.as_deref(), alg).await?;
                check_signature(&keys.iter().map(Arc::as_ref).collect::<Vec<_>>(), &jws)?;
                rules
            }
        };
        rules.validate(&jws.payload, now)
    }
}

fn check_signature(keys: &[&VerifyingKey], jws: &token::Jws<'_>) -> Result<(), AuthError> {
    crate::telemetry::metrics().token_verified();
    if keys.iter().any(|key| key.verify(jws.signing_input, jws.signature)) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::mint_hs256;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn verifier() -> Verifier {
        Verifier::new().with_hs256(SECRET, ClaimRules::default())
    }

    fn verify(token: &str) -> Result<AuthUser, AuthError> {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(verifier().verify(token))
    }

    #[test]
    fn minted_tokens_verify() {
        let token = mint_hs256(SECRET, "user-1", Some("a@b.c"), Duration::from_secs(60));
        let user = verify(&token).unwrap();
        assert_eq!((user.id.as_str(), user.email.as_deref()), ("user-1", Some("a@b.c")));
        assert!(user.valid_until >= jsonwebtoken::get_current_timestamp() + 59);
    }

    #[test]
    fn wrong_secret_and_empty_subject_are_refused() {
        let other = mint_hs256(b"another-secret-another-secret-xx", "u", None, Duration::from_secs(60));
        assert_eq!(verify(&other), Err(AuthError::BadSignature));
        let token = mint_hs256(SECRET, "", None, Duration::from_secs(60));
        assert_eq!(verify(&token), Err(AuthError::MissingClaim("sub")));
    }

    #[test]
    fn cached_tokens_still_expire() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let verifier = verifier();
        let token = mint_hs256(SECRET, "u", None, Duration::from_secs(1));
        assert!(runtime.block_on(verifier.verify(&token)).is_ok());
        assert!(runtime.block_on(verifier.verify(&token)).is_ok(), "a cache hit");
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(runtime.block_on(verifier.verify(&token)), Err(AuthError::Expired));
        assert_eq!(runtime.block_on(verifier.verify(&token)), Err(AuthError::Expired), "and stays expired");
    }

    #[test]
    fn without_a_jwks_asymmetric_algorithms_are_not_accepted() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!("{}.e30.c2ln", b64.encode(r#"{"alg":"EdDSA","kid":"k"}"#));
        assert_eq!(verify(&token), Err(AuthError::AlgorithmNotAccepted));
    }
}
