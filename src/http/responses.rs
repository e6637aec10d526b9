//! What the handlers answer with, shared by the task routes, the bulk
//! actions and the idempotency layer's replays: the list and change-number
//! headers, entity tags, a task as a response, and a task's `Location`.

use axum::Json;
use axum::http::header::ETAG;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::{ApiError, AppState};
use crate::domain::{Task, task_etag};

pub const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
/// The owner's change number as of the list: where to resume `/changes` or `/events`.
pub const X_CHANGE_SEQ: HeaderName = HeaderName::from_static("x-change-seq");

/// Characters escaped when a user id is put back into a path segment
/// (RFC 3986 `pchar` minus what would end or split the segment).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// Lower-case hex, without a `format!` per byte (the list's tag is on every list request).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

pub fn tag_header(etag: &str) -> HeaderValue {
    HeaderValue::from_str(etag).expect("entity tags are visible ASCII")
}

/// 304: no body, the tag the client already holds.
pub fn not_modified(etag: &str) -> Response {
    (StatusCode::NOT_MODIFIED, [(ETAG, tag_header(etag))]).into_response()
}

/// A task as a response: its JSON, and its revision as the `ETag`.
pub fn with_etag(status: StatusCode, task: Task) -> Response {
    let etag = tag_header(&task_etag(task.revision));
    (status, [(ETAG, etag)], Json(task)).into_response()
}

/// `Location` of a task: its path, the owner's id percent-encoded.
/// `201 Created` with the task, its `Location` and `ETag`.
pub fn created(task: Task) -> Result<Response, ApiError> {
    let location = location(&task.user_id, task.id);
    let mut response = with_etag(StatusCode::CREATED, task);
    response.headers_mut().insert(axum::http::header::LOCATION, location);
    Ok(response)
}

pub fn location(owner: &str, id: i64) -> HeaderValue {
    let location = format!("/api/{}/tasks/{id}", utf8_percent_encode(owner, PATH_SEGMENT));
    HeaderValue::try_from(location).expect("percent-encoded paths are valid header values")
}

/// This instance wrote one of `owner`'s tasks: their change streams look at
/// the log (here, and through NOTIFY on other instances).
pub fn announced(
    state: &AppState,
    owner: &str,
    outcome: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    if outcome.as_ref().is_ok_and(|response| response.status().is_success()) {
        state.hub.changed(owner);
    }
    outcome
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
