//! HS256 tokens signed with the shared `BETTER_AUTH_SECRET`.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use super::{AuthError, AuthUser};

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
pub const MIN_SECRET_BYTES: usize = 32;

pub struct Hs256Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// The claims this service reads; every other claim is ignored.
#[derive(Deserialize)]
struct Claims {
    /// Read leniently and checked below, so every bad `sub` gets the same answer.
    #[serde(default, deserialize_with = "string_or_none")]
    sub: Option<String>,
    /// Informational only, so a non-string value is dropped rather than fatal.
    #[serde(default, deserialize_with = "string_or_none")]
    email: Option<String>,
}

fn string_or_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        _ => None,
    })
}

impl Hs256Verifier {
    /// `secret`: the UTF-8 bytes of the configured secret (length checked by config).
    pub fn new(secret: &[u8], leeway: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = leeway.as_secs();
        validation.validate_nbf = true;
        // Better Auth sets `aud` to its own origin; with HS256 the shared secret
        // already proves who signed, and no audience is configured to compare.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<AuthUser, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| classify(error.kind()))?
            .claims;
        match claims.sub {
            Some(sub) if !sub.is_empty() => Ok(AuthUser {
                id: sub,
                email: claims.email,
            }),
            _ => Err(AuthError::MissingClaim("sub")),
        }
    }
}

fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => AuthError::AlgorithmNotAccepted,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            match claim.as_str() {
                "exp" => AuthError::MissingClaim("exp"),
                "nbf" => AuthError::MissingClaim("nbf"),
                "sub" => AuthError::MissingClaim("sub"),
                _ => AuthError::Malformed,
            }
        }
        _ => AuthError::Malformed,
    }
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    iat: u64,
    exp: u64,
}

/// Signs an HS256 token for `sub` that expires after `ttl` (the `token`
/// subcommand, `serve --dev`, and tests).
pub fn mint_hs256(secret: &[u8], sub: &str, email: Option<&str>, ttl: Duration) -> String {
    let iat = jsonwebtoken::get_current_timestamp();
    let claims = MintedClaims {
        sub,
        email,
        iat,
        exp: iat.saturating_add(ttl.as_secs()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn verifier() -> Hs256Verifier {
        Hs256Verifier::new(SECRET, Duration::from_secs(0))
    }

    #[test]
    fn minted_tokens_verify() {
        let token = mint_hs256(SECRET, "user-1", Some("a@b.c"), Duration::from_secs(60));
        let user = verifier().verify(&token).unwrap();
        assert_eq!(
            user,
            AuthUser {
                id: "user-1".into(),
                email: Some("a@b.c".into())
            }
        );
    }

    #[test]
    fn wrong_secret_and_expiry_are_told_apart() {
        let other = mint_hs256(
            b"another-secret-another-secret-xx",
            "u",
            None,
            Duration::from_secs(60),
        );
        assert_eq!(verifier().verify(&other), Err(AuthError::BadSignature));
        let expired = mint_hs256(SECRET, "u", None, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(verifier().verify(&expired), Err(AuthError::Expired));
    }

    #[test]
    fn empty_subject_is_refused() {
        let token = mint_hs256(SECRET, "", None, Duration::from_secs(60));
        assert_eq!(
            verifier().verify(&token),
            Err(AuthError::MissingClaim("sub"))
        );
    }
}
