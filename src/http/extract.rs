//! Extractors that turn a request into checked values, in the contract's order:
//! authentication (401), ownership (403), body (413, 415, 422), then the task (404).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value};

use super::{ApiError, AppState};
use crate::auth::AuthUser;
use crate::domain::{FieldError, IfMatch, TaskId, none_match_hits};

/// The authenticated caller, proven to own the `{user_id}` in the path, and
/// within the user's rate limit (one request counted).
#[derive(Debug)]
pub struct Owner(pub AuthUser);

impl Owner {
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !path_user_is(parts, state, &user.id).await {
            return Err(ApiError::Forbidden);
        }
        tracing::Span::current().record("user_id", user.id.as_str());
        if let Some(limit) = &state.user_limit {
            limit.check(&user.id).map_err(ApiError::RateLimited)?;
        }
        Ok(Self(user))
    }
}

/// Whether the path's `{user_id}` is `id`. A path that is not valid UTF-8
/// cannot equal a (string) subject.
pub async fn path_user_is(parts: &mut Parts, state: &AppState, id: &str) -> bool {
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else { return false };
    params.iter().any(|(key, value)| key == "user_id" && value == id)
}

/// A query string the decoder could not read at all (e.g. a repeated key).
pub fn query_unreadable() -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        "query_invalid",
        crate::domain::Location::Query("query"),
        "Query string could not be parsed; give each parameter at most once",
    )])
}

/// The `{id}` of a task route. An id that is not a positive 64-bit integer names
/// no task; the handler answers 404 for it only after authentication and body
/// checks, exactly as for a task that does not exist.
#[derive(Debug)]
pub struct TaskRef(pub Option<TaskId>);

impl FromRequestParts<AppState> for TaskRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = RawPathParams::from_request_parts(parts, state).await.ok().and_then(|params| {
            params.iter().find(|(key, _)| *key == "id").and_then(|(_, v)| TaskId::parse(v))
        });
        Ok(Self(id))
    }
}

impl TaskRef {
    pub fn require(self) -> Result<TaskId, ApiError> {
        self.0.ok_or(ApiError::TaskNotFound)
    }
}

/// A JSON object body, at most `Limits::body_bytes` long.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (is_json, bytes) = read_body(request, state).await?;
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        if bytes.is_empty() {
            return Err(ApiError::Validation(vec![FieldError::missing(crate::domain::Location::BodyRoot)]));
        }
        parse_object(&bytes).map(Self)
    }
}

/// A body that may be absent: no bytes at all (whatever the `Content-Type`,
/// since many clients send `application/json` with nothing) is `None`;
/// anything else must be a JSON object, as for `JsonObject`.
#[derive(Debug)]
pub struct OptionalJsonObject(pub Option<Map<String, Value>>);

impl FromRequest<AppState> for OptionalJsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (is_json, bytes) = read_body(request, state).await?;
        // JSON `null` is no body too, as the document's optional body allows.
        if bytes.is_empty() || (is_json && bytes.trim_ascii() == b"null") {
            return Ok(Self(None));
        }
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_object(&bytes).map(|map| Self(Some(map)))
    }
}

async fn read_body(request: Request, state: &AppState) -> Result<(bool, Bytes), ApiError> {
    let is_json = is_json_content_type(request.headers());
    let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.limits.body_bytes)
        } else {
            ApiError::UnreadableBody
        }
    })?;
    Ok((is_json, bytes))
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(Body::Object(map)) => Ok(map),
        Ok(Body::NotAnObject) => Err(ApiError::Validation(vec![FieldError::not_an_object()])),
        // The only data error `Body` raises: a repeated key.
        Err(error) if error.classify() == Category::Data => {
            Err(ApiError::Validation(vec![FieldError::duplicate_key()]))
        }
        Err(_) => Err(ApiError::Validation(vec![FieldError::invalid_json()])),
    }
}

/// The request's conditional headers (RFC 9110 §13), parsed.
#[derive(Debug)]
pub struct Conditions {
    pub if_match: IfMatch,
    if_none_match: Vec<String>,
}

impl Conditions {
    /// Does `If-None-Match` say the client already has `current`?
    pub fn not_modified(&self, current: &str) -> bool {
        let values: Vec<&str> = self.if_none_match.iter().map(String::as_str).collect();
        none_match_hits(&values, current)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Conditions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let if_none_match =
            header_lines(&parts.headers, IF_NONE_MATCH).into_iter().map(str::to_owned).collect();
        let if_match = IfMatch::parse(&header_lines(&parts.headers, IF_MATCH));
        Ok(Self { if_match, if_none_match })
    }
}

/// Every line of header `name`, as text; a value that is not text holds no
/// entity tag of ours (see `domain::precondition`), so it reads as empty.
pub fn header_lines(headers: &HeaderMap, name: HeaderName) -> Vec<&str> {
    headers.get_all(name).iter().map(|value| value.to_str().unwrap_or("")).collect()
}

/// A body's top level, with a repeated key refused rather than resolved (serde
/// keeps the last one): if a proxy in front judged the first `title` and this
/// service stored the last, the two would disagree about what was sent.
enum Body {
    Object(Map<String, Value>),
    NotAnObject,
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Body, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let value = entries.next_value::<Value>()?;
            if object.insert(key, value).is_some() {
                return Err(A::Error::custom("duplicate key"));
            }
        }
        Ok(Body::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Body, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Body::NotAnObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Body, E> {
        Ok(Body::NotAnObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Body, E> {
        Ok(Body::NotAnObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Body, E> {
        Ok(Body::NotAnObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Body, E> {
        Ok(Body::NotAnObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<Body, E> {
        Ok(Body::NotAnObject)
    }

    fn visit_unit<E>(self) -> Result<Body, E> {
        Ok(Body::NotAnObject)
    }
}

/// `application/json` or any `application/*+json`, with or without parameters.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn json_content_types() {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"] {
            assert!(is_json_content_type(&with_type(ok)), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "application/x-www-form-urlencoded", ""] {
            assert!(!is_json_content_type(&with_type(bad)), "{bad}");
        }
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
