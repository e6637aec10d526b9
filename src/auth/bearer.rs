use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::AuthError;

/// Larger tokens are refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The token of the request's single `Authorization: Bearer <token>` header.
/// The scheme is case-insensitive (RFC 9110); several headers are refused
/// rather than guessing which one counts.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::MissingCredentials)?;
    if values.next().is_some() {
        return Err(AuthError::MultipleHeaders);
    }
    let value = value.to_str().map_err(|_| AuthError::Malformed)?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim_start();
    if token.is_empty() {
        return Err(AuthError::MissingCredentials);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::TooLarge);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn accepts_bearer_in_any_case() {
        assert_eq!(bearer_token(&headers(&["Bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["bEaReR   abc"])), Ok("abc"));
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(bearer_token(&headers(&[])), Err(AuthError::MissingCredentials));
        assert_eq!(bearer_token(&headers(&["Bearer"])), Err(AuthError::MissingCredentials));
        assert_eq!(bearer_token(&headers(&["Bearer  "])), Err(AuthError::MissingCredentials));
        assert_eq!(bearer_token(&headers(&["Basic abc"])), Err(AuthError::NotBearer));
        assert_eq!(bearer_token(&headers(&["Bearerabc"])), Err(AuthError::NotBearer));
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer a"])), Err(AuthError::MultipleHeaders));
        let big = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(bearer_token(&headers(&[&big])), Err(AuthError::TooLarge));
    }
}
