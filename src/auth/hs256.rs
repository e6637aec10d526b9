//! HS256 tokens signed with the shared `BETTER_AUTH_SECRET`: minting (for the
//! `token` subcommand, `serve --dev` and tests). Verification is the shared
//! path in `Verifier` with an HS256-pinned key.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    iat: u64,
    exp: u64,
}

/// Signs an HS256 token for `sub` that expires after `ttl`.
pub fn mint_hs256(secret: &[u8], sub: &str, email: Option<&str>, ttl: Duration) -> String {
    let iat = jsonwebtoken::get_current_timestamp();
    let claims = MintedClaims { sub, email, iat, exp: iat.saturating_add(ttl.as_secs()) };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing with an in-memory key cannot fail")
}
