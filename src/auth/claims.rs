//! The registered claims every token must satisfy, whatever signed it. One set
//! of rules for all algorithms, because ES512 tokens are verified outside
//! jsonwebtoken (which does not implement P-521) and must be judged the same.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{AuthError, AuthUser};

/// What a token's claims must say. Issuer and audience are checked only when set.
#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    /// Seconds of clock skew tolerated for `exp` and `nbf`.
    pub leeway: u64,
    pub issuers: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default, deserialize_with = "string_or_none")]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    /// Informational only, so a non-string value is dropped rather than fatal.
    #[serde(default, deserialize_with = "string_or_none")]
    email: Option<String>,
}

fn string_or_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        _ => None,
    })
}

/// The last second of year 9999. Later dates are not dates anyone means: they
/// are attempts at "never expires" through overflow, and are refused.
const LATEST_DATE: u64 = 253_402_300_799;

/// RFC 7519 NumericDate: a non-negative number of seconds, possibly fractional,
/// no later than `LATEST_DATE`.
fn numeric_date(value: Option<&Value>, claim: &'static str) -> Result<Option<u64>, AuthError> {
    let seconds = match value {
        None => return Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(whole), _) => whole,
            // Saturates, so anything huge lands past `LATEST_DATE` below.
            (None, Some(f)) if f.is_finite() && f >= 0.0 => f as u64,
            _ => return Err(AuthError::MissingClaim(claim)),
        },
        Some(_) => return Err(AuthError::MissingClaim(claim)),
    };
    if seconds > LATEST_DATE {
        return Err(AuthError::MissingClaim(claim));
    }
    Ok(Some(seconds))
}

/// A subject is a user id: non-empty and free of control characters, which no
/// auth server issues and which PostgreSQL cannot even store (NUL).
pub(super) fn valid_subject(sub: &str) -> bool {
    !sub.is_empty() && !sub.chars().any(char::is_control)
}

impl ClaimRules {
    /// Checks the (already signature-verified) payload at time `now` (Unix
    /// seconds): the user it proves, and until when (Unix seconds, leeway
    /// included) the token stays acceptable.
    pub fn validate(&self, payload: &[u8], now: u64) -> Result<(AuthUser, u64), AuthError> {
        // A JWT claims set is an object; serde would also read a struct from an array.
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(AuthError::Malformed);
        }
        // Duplicate claim names fail here rather than picking one.
        let claims: Claims = serde_json::from_slice(payload).map_err(|_| AuthError::Malformed)?;
        let exp = numeric_date(claims.exp.as_ref(), "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
        if exp.saturating_add(self.leeway) < now {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = numeric_date(claims.nbf.as_ref(), "nbf")?
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(AuthError::NotYetValid);
        }
        // `iat` is optional, but one that is not a date, or is in the future, is
        // a token nobody honest minted.
        if let Some(iat) = numeric_date(claims.iat.as_ref(), "iat")?
            && iat > now.saturating_add(self.leeway)
        {
            return Err(AuthError::NotYetValid);
        }
        if let Some(issuers) = &self.issuers {
            let issuer = claims.iss.as_ref().and_then(Value::as_str);
            if !issuer.is_some_and(|iss| issuers.iter().any(|accepted| accepted == iss)) {
                return Err(AuthError::WrongIssuer);
            }
        }
        if let Some(audiences) = &self.audiences
            && !audience_matches(claims.aud.as_ref(), audiences)
        {
            return Err(AuthError::WrongAudience);
        }
        match claims.sub {
            Some(sub) if valid_subject(&sub) => {
                let valid_until = exp.saturating_add(self.leeway);
                Ok((AuthUser { id: sub, email: claims.email, valid_until }, valid_until))
            }
            _ => Err(AuthError::MissingClaim("sub")),
        }
    }
}

/// `aud` may be one string or an array of them (RFC 7519 §4.1.3); one match is enough.
fn audience_matches(aud: Option<&Value>, accepted: &[String]) -> bool {
    let is_accepted = |value: &Value| value.as_str().is_some_and(|aud| accepted.iter().any(|a| a == aud));
    match aud {
        Some(Value::Array(values)) => values.iter().any(is_accepted),
        Some(value) => is_accepted(value),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            leeway: 30,
            issuers: Some(vec!["https://auth.example".into()]),
            audiences: Some(vec!["https://auth.example".into(), "api".into()]),
        }
    }

    fn check(claims: &str) -> Result<AuthUser, AuthError> {
        rules().validate(claims.as_bytes(), NOW).map(|(user, _)| user)
    }

    #[test]
    fn a_good_token_yields_its_subject_and_email() {
        let user = check(
            r#"{"sub":"u1","exp":1800000600,"iss":"https://auth.example","aud":["x","api"],"email":"e@x"}"#,
        );
        let leeway = rules().leeway;
        let expected =
            AuthUser { id: "u1".into(), email: Some("e@x".into()), valid_until: 1800000600 + leeway };
        assert_eq!(user, Ok(expected));
    }

    #[test]
    fn time_claims_honour_the_leeway() {
        let at = |exp: u64, nbf: u64| {
            check(&format!(
                r#"{{"sub":"u","exp":{exp},"nbf":{nbf},"iss":"https://auth.example","aud":"api"}}"#
            ))
        };
        assert!(at(NOW - 30, NOW).is_ok());
        assert_eq!(at(NOW - 31, NOW), Err(AuthError::Expired));
        assert!(at(NOW + 60, NOW + 30).is_ok());
        assert_eq!(at(NOW + 60, NOW + 31), Err(AuthError::NotYetValid));
    }

    #[test]
    fn issuer_and_audience_must_match_when_configured() {
        let base = r#""sub":"u","exp":1800000600"#;
        assert_eq!(check(&format!(r#"{{{base},"aud":"api"}}"#)), Err(AuthError::WrongIssuer));
        assert_eq!(
            check(&format!(r#"{{{base},"iss":"https://evil","aud":"api"}}"#)),
            Err(AuthError::WrongIssuer)
        );
        let iss = r#""iss":"https://auth.example""#;
        assert_eq!(check(&format!(r#"{{{base},{iss}}}"#)), Err(AuthError::WrongAudience));
        assert_eq!(check(&format!(r#"{{{base},{iss},"aud":["other"]}}"#)), Err(AuthError::WrongAudience));
        assert_eq!(check(&format!(r#"{{{base},{iss},"aud":7}}"#)), Err(AuthError::WrongAudience));
        let open = ClaimRules { leeway: 0, issuers: None, audiences: None };
        assert!(open.validate(format!(r#"{{{base},"aud":"anything"}}"#).as_bytes(), NOW).is_ok());
    }

    #[test]
    fn bad_claims_are_named() {
        assert_eq!(check(r#"{"sub":"u"}"#), Err(AuthError::MissingClaim("exp")));
        assert_eq!(check(r#"{"sub":"u","exp":"soon"}"#), Err(AuthError::MissingClaim("exp")));
        assert_eq!(check(r#"{"sub":"u","exp":-5}"#), Err(AuthError::MissingClaim("exp")));
        assert_eq!(check(r#"{"sub":"u","exp":1800000600,"nbf":true}"#), Err(AuthError::MissingClaim("nbf")));
        assert_eq!(check(r#"{"sub":"u","exp":1800000600,"iat":"now"}"#), Err(AuthError::MissingClaim("iat")));
        assert_eq!(check(r#"{"sub":"u","exp":18446744073709551616}"#), Err(AuthError::MissingClaim("exp")));
        assert_eq!(check(r#"{"sub":"u","exp":253402300800}"#), Err(AuthError::MissingClaim("exp")));
        assert_eq!(check(r#"{"sub":"u","exp":1e20}"#), Err(AuthError::MissingClaim("exp")));
        let with_subject = |sub: &str| {
            format!(r#"{{"sub":"{sub}","exp":1800000600,"iss":"https://auth.example","aud":"api"}}"#)
        };
        assert!(check(&with_subject("u")).is_ok());
        for control in ["u\\u0000", "u\\n", "\\u007f", "\\u0085x"] {
            assert_eq!(check(&with_subject(control)), Err(AuthError::MissingClaim("sub")), "{control}");
        }
        assert_eq!(check(r#"{"sub":"u","exp":1800000600,"iat":1800009999}"#), Err(AuthError::NotYetValid));
        assert_eq!(check(r#"{"sub":"u","sub":"v","exp":1800000600}"#), Err(AuthError::Malformed));
        assert_eq!(check(r#"[1]"#), Err(AuthError::Malformed));
    }
}
