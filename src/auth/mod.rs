//! Authentication: bearer token in, verified user out.
//!
//! `Verifier` is the seam. It reads the token's header once, then hands the token
//! to the verifier configured for that algorithm; algorithms are pinned by
//! configuration, never taken from the token. HS256 (a shared
//! `BETTER_AUTH_SECRET`) lives in `hs256`; an asymmetric-key (JWKS) verifier
//! plugs in beside it without touching the handlers.

mod bearer;
mod error;
mod extract;
mod header;
mod hs256;

pub use bearer::{MAX_TOKEN_BYTES, bearer_token};
pub use error::AuthError;
pub use hs256::{Hs256Verifier, MIN_SECRET_BYTES, mint_hs256};

/// A caller whose token verified. `id` is the token's `sub`, an opaque string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: String,
    pub email: Option<String>,
}

/// Maps a bearer token to the user it proves, or says why it proves nothing.
pub struct Verifier {
    hs256: Option<Hs256Verifier>,
}

impl Verifier {
    pub fn new(hs256: Option<Hs256Verifier>) -> Self {
        Self { hs256 }
    }

    /// Async so that verifiers which may fetch keys fit the same seam.
    pub async fn verify(&self, token: &str) -> Result<AuthUser, AuthError> {
        let header = header::parse(token)?;
        match (header.alg.as_str(), &self.hs256) {
            ("HS256", Some(hs256)) => hs256.verify(token),
            _ => Err(AuthError::AlgorithmNotAccepted),
        }
    }
}
