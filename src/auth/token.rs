//! A compact JWS split into what verification needs, decoded strictly
//! (base64url without padding, exactly three parts). jsonwebtoken's `Header`
//! has no `crit`, and RFC 7515 §4.1.11 says a token with critical parameters we
//! do not understand must be rejected, so the header is read here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};

use super::AuthError;

#[derive(Debug, Deserialize)]
pub struct JoseHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

#[derive(Debug)]
pub struct Jws<'a> {
    pub header: JoseHeader,
    /// `header.payload` as sent: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The signature part, still base64url (as jsonwebtoken's verifier takes it).
    pub signature: &'a str,
    pub payload: Vec<u8>,
}

/// `jku`, `x5u`, `x5c` and `jwk` are never read, so they can never be followed
/// or trusted.
pub fn parse(token: &str) -> Result<Jws<'_>, AuthError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
    let (encoded_header, encoded_payload) = signing_input.split_once('.').ok_or(AuthError::Malformed)?;
    if encoded_payload.contains('.') || signature.is_empty() {
        return Err(AuthError::Malformed);
    }
    let header_json = URL_SAFE_NO_PAD.decode(encoded_header).map_err(|_| AuthError::Malformed)?;
    // Duplicate `alg`, `kid` or `crit` keys fail here rather than picking one.
    let header: JoseHeader = serde_json::from_slice(&header_json).map_err(|_| AuthError::Malformed)?;
    if header.crit {
        return Err(AuthError::CriticalHeader);
    }
    let payload = URL_SAFE_NO_PAD.decode(encoded_payload).map_err(|_| AuthError::Malformed)?;
    if URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err(AuthError::Malformed);
    }
    Ok(Jws { header, signing_input, signature, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn reads_alg_kid_and_payload() {
        let token = token(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
        let jws = parse(&token).unwrap();
        assert_eq!((jws.header.alg.as_str(), jws.header.kid.as_deref()), ("HS256", Some("k1")));
        assert_eq!(jws.payload, b"{}");
        assert_eq!(jws.signature, "c2ln");
    }

    #[test]
    fn rejects_crit_duplicates_and_bad_shapes() {
        let crit = parse(&token(r#"{"alg":"HS256","crit":["exp"]}"#)).unwrap_err();
        assert_eq!(crit, AuthError::CriticalHeader);
        let null_crit = parse(&token(r#"{"alg":"HS256","crit":null}"#)).unwrap_err();
        assert_eq!(null_crit, AuthError::CriticalHeader);
        for bad in [
            token(r#"{"alg":"HS256","alg":"none"}"#),
            token(r#"{"typ":"JWT"}"#),
            "a.b".into(),
            "a.b.c.d".into(),
            "!!.e30.c2ln".into(),
            format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#)),
            format!("{}.e30=.c2ln", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#)),
            format!("{}.e30.c2ln=", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#)),
        ] {
            assert_eq!(parse(&bad).unwrap_err(), AuthError::Malformed, "{bad}");
        }
    }
}
