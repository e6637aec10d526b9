//! `Idempotency-Key` (IETF httpapi draft, as Stripe and others implement it)
//! on the writes that are not idempotent by nature: create, and the toggle.
//! The first request with a key runs and its answer is stored (see
//! `store::idempotency`); a retry with the same key and request gets that
//! answer again, replayed, without a second write; the same key for another
//! request is 422; a retry while the first still runs is 409.

use axum::body::to_bytes;
use axum::extract::FromRequestParts;
use axum::http::header::{CONTENT_TYPE, ETAG, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::responses::{X_CHANGE_SEQ, created, hex, location, with_etag};
use super::{ApiError, AppState};
use crate::domain::{BulkAction, BulkFilter, NewTask, TaskId, change_seq_of};
use crate::store::Writer;
use crate::store::idempotency::KeyTimes;
use crate::store::idempotency::{Claim, Claimed, KeyedCreate, KeyedRequest, StoredResponse};
use crate::store::{ChangeLog, IdempotencyKeys, Tasks};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer, as Stripe does.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Longest key accepted (UUIDs are 36; the draft sets no bound).
pub const KEY_MAX_LEN: usize = 255;

/// The request's `Idempotency-Key`, checked for shape: 1 to 255 visible ASCII characters.
#[derive(Debug)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else { return Ok(Self(None)) };
        let bytes = value.as_bytes();
        let visible = !bytes.is_empty()
            && bytes.len() <= KEY_MAX_LEN
            && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
        if values.next().is_some() || !visible {
            return Err(ApiError::BadIdempotencyKey);
        }
        Ok(Self(Some(String::from_utf8_lossy(bytes).into_owned())))
    }
}

/// Which write a key guards: what a replay of a lost answer looks like.
#[derive(Debug, Clone, Copy)]
pub enum Guarded {
    Create,
    Complete(TaskId),
    /// A bulk action on the list, with its filter.
    Bulk(BulkAction, BulkFilter),
}

/// The digest that says "the same request": the route, and the body as JSON
/// (keys sorted, so formatting and key order do not matter).
fn fingerprint(guarded: Guarded, body: Option<&Map<String, Value>>) -> String {
    let mut digest = Sha256::new();
    match guarded {
        Guarded::Create => digest.update(b"create\n"),
        Guarded::Complete(id) => digest.update(format!("complete {}\n", id.get())),
        Guarded::Bulk(action, filter) => digest.update(format!("bulk {action:?} {:?}\n", filter.completed)),
    }
    if let Some(body) = body {
        digest.update(serde_json::to_vec(body).expect("a JSON map serializes"));
    }
    hex(&digest.finalize())
}

/// Runs `write` under `key`: the first time, with the claim it needs, its
/// answer stored; a retry gets that answer instead (or 422/409).
pub async fn run<'a, F, Fut>(
    state: &AppState,
    owner: &'a str,
    key: &'a str,
    guarded: Guarded,
    body: Option<&Map<String, Value>>,
    write: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Claimed<'a>) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let fingerprint = fingerprint(guarded, body);
    let token = match begin(state, owner, key, &fingerprint, guarded).await? {
        Begun::Claimed(token) => token,
        Begun::Answered(response) => return Ok(response),
    };
    let claim = Claimed { user_id: owner, key, token };
    let result = write(claim).await;
    Ok(finish(state, claim, result).await)
}

/// A create under `key`: claimed and written in one commit (see
/// `Store::create_task_keyed`); a retry gets the task as it was created.
pub async fn create(
    state: &AppState,
    writer: Writer<'_>,
    key: &str,
    body: &Map<String, Value>,
    new: &NewTask,
) -> Result<Response, ApiError> {
    let (owner, limits) = (writer.user_id, &state.limits);
    let fingerprint = fingerprint(Guarded::Create, Some(body));
    let request = KeyedRequest { user_id: owner, key, fingerprint: &fingerprint };
    let times = KeyTimes::from_now(limits.idempotency_ttl, limits.idempotency_takeover);
    let max_tasks = limits.max_tasks_per_user;
    match state.store.create_task_keyed(writer, new, max_tasks, request, times).await? {
        KeyedCreate::Created(task) => created(task),
        KeyedCreate::Full(token) => {
            let claim = Claimed { user_id: owner, key, token };
            Ok(finish(state, claim, Err(ApiError::TaskLimit(max_tasks))).await)
        }
        KeyedCreate::Found(claim) => match answer_due(state, owner, claim, Guarded::Create).await? {
            Begun::Answered(response) => Ok(response),
            // Never found: a claim that is ours was made in the call.
            Begun::Claimed(_) => Err(ApiError::IdempotencyKeyInFlight),
        },
    }
}

/// Either the claim, for the caller to write under, or the answer already due.
enum Begun {
    Claimed(i64),
    Answered(Response),
}

async fn begin(
    state: &AppState,
    owner: &str,
    key: &str,
    fingerprint: &str,
    guarded: Guarded,
) -> Result<Begun, ApiError> {
    let limits = &state.limits;
    let request = KeyedRequest { user_id: owner, key, fingerprint };
    let times = KeyTimes::from_now(limits.idempotency_ttl, limits.idempotency_takeover);
    let claim = state.store.claim_key(request, times).await?;
    answer_due(state, owner, claim, guarded).await
}

/// What a key that was claimed (or found taken) calls for.
async fn answer_due(
    state: &AppState,
    owner: &str,
    claim: Claim,
    guarded: Guarded,
) -> Result<Begun, ApiError> {
    Ok(match claim {
        Claim::Mine(token) => Begun::Claimed(token),
        Claim::Answered(stored) => Begun::Answered(replay(stored)),
        Claim::Written(task_id) => Begun::Answered(rebuilt(state, owner, task_id, guarded).await?),
        Claim::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        Claim::InFlight => return Err(ApiError::IdempotencyKeyInFlight),
    })
}

/// Stores the answer of the write done under `claim` (a client's error too,
/// since a retry would get the same), or gives the key back after a passing
/// failure (5xx), so that a retry can run.
async fn finish(state: &AppState, claim: Claimed<'_>, result: Result<Response, ApiError>) -> Response {
    let response = result.unwrap_or_else(IntoResponse::into_response);
    if response.status().is_server_error() {
        if let Err(error) = state.store.release_key(claim).await {
            tracing::warn!(%error, "could not release an idempotency key after a failed request");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let header =
        |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        etag: header(ETAG),
        location: header(LOCATION),
    };
    if let Err(error) = state.store.store_response(claim, &stored).await {
        // The write stands and is recorded on the key; a retry rebuilds the answer from it.
        tracing::warn!(%error, "could not store an idempotent answer");
    }
    Response::from_parts(parts, bytes.into())
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    // A bulk action's answer carries the list's version: its change number too.
    let change_seq = stored.etag.as_deref().filter(|tag| tag.starts_with("W/")).and_then(change_seq_of);
    if let Some(seq) = change_seq {
        headers.insert(X_CHANGE_SEQ, HeaderValue::from(seq));
    }
    for (name, value) in [(ETAG, stored.etag), (LOCATION, stored.location)] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}

/// The write happened but its answer was not stored: answer with the task as
/// it is now (or 404 if it has been deleted since), never a second write.
async fn rebuilt(
    state: &AppState,
    owner: &str,
    task_id: i64,
    guarded: Guarded,
) -> Result<Response, ApiError> {
    if let Guarded::Bulk(..) = guarded {
        // Never reached: a bulk action stores its answer with its write, and
        // the fingerprint keeps a single-task write's key from matching it.
        return Err(ApiError::IdempotencyKeyReused);
    }
    let id = TaskId::parse(&task_id.to_string()).ok_or(ApiError::TaskNotFound)?;
    // A create answers with the task as it was created: the change log
    // keeps that (unless retention has taken it since: then as it is now).
    let as_created = match guarded {
        Guarded::Create => state.store.created_task(owner, id).await?,
        _ => None,
    };
    let task = match as_created {
        Some(task) => task,
        None => state.store.get_task(owner, id).await?.ok_or(ApiError::TaskNotFound)?,
    };
    let mut response = with_etag(StatusCode::OK, task);
    if let Guarded::Create = guarded {
        *response.status_mut() = StatusCode::CREATED;
        let location = location(owner, task_id);
        response.headers_mut().insert(LOCATION, location);
    }
    response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}
