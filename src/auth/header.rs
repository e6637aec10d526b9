//! The JOSE header, read before any verification to choose the verifier.
//! jsonwebtoken's own `Header` type has no `crit`, and RFC 7515 §4.1.11 says a
//! token with critical parameters we do not understand must be rejected, so the
//! few fields that decide anything are read here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};

use super::AuthError;

#[derive(Debug, Deserialize)]
pub struct JoseHeader {
    pub alg: String,
    #[allow(dead_code)] // read by the JWKS verifier to pick a key
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Parses the header of a compact JWS (`header.payload.signature`). `jku`,
/// `x5u` and `jwk` are never read, so they can never be followed.
pub fn parse(token: &str) -> Result<JoseHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(encoded), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| AuthError::Malformed)?;
    // Duplicate `alg`, `kid` or `crit` keys fail here rather than picking one.
    let header: JoseHeader = serde_json::from_slice(&json).map_err(|_| AuthError::Malformed)?;
    if header.crit {
        return Err(AuthError::CriticalHeader);
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str) -> String {
        format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn reads_alg_and_kid() {
        let header = parse(&token(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(
            (header.alg.as_str(), header.kid.as_deref()),
            ("HS256", Some("k1"))
        );
    }

    #[test]
    fn rejects_crit_duplicates_and_bad_shapes() {
        assert_eq!(
            parse(&token(r#"{"alg":"HS256","crit":["exp"]}"#)).unwrap_err(),
            AuthError::CriticalHeader
        );
        assert_eq!(
            parse(&token(r#"{"alg":"HS256","crit":null}"#)).unwrap_err(),
            AuthError::CriticalHeader
        );
        assert_eq!(
            parse(&token(r#"{"alg":"HS256","alg":"none"}"#)).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            parse(&token(r#"{"typ":"JWT"}"#)).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(parse("a.b").unwrap_err(), AuthError::Malformed);
        assert_eq!(parse("a.b.c.d").unwrap_err(), AuthError::Malformed);
        assert_eq!(parse("!!.b.c").unwrap_err(), AuthError::Malformed);
    }
}
