//! Realtime routes: the change feed (`GET /api/{user_id}/changes`), change
//! streams over Server-Sent Events (`GET /api/{user_id}/events`) and the
//! tickets that let `EventSource`, which cannot send headers, open one.
//!
//! A stream holds a position in its owner's log and reads on from it each
//! time it is woken (see `realtime`), so resuming from `Last-Event-ID` loses
//! and repeats nothing, and a client that reads slowly falls behind in the log
//! rather than in this server's memory.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::extract::{Owner, path_user_is, query_unreadable};
use super::openapi::{AuthResponses, ErrorBody, UserPath, ValidationErrorBody};
use super::openapi_realtime::{
    ChangeFeed, ChangesParams, EventsParams, LastEventIdHeader, StreamEvent, TicketBody,
};
use super::{ApiError, AppState};
use crate::auth::AuthError;
use crate::domain::{Change, ChangesSince, FieldError, Location, Timestamp};
use crate::realtime::Subscription;
use crate::store::Store;
use crate::store::tickets::TicketRecord;
use crate::store::{ChangeLog, StreamTickets};

pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Changes a stream reads from the log at a time.
const STREAM_BATCH: i64 = 100;
/// Default page of the feed.
const FEED_PAGE: i64 = 100;
/// A stream whose log read failed (database away) tries again after this.
const RETRY_READ: Duration = Duration::from_millis(500);

/// The feed's body; structs (not `json!`) so field order is kept.
#[derive(Serialize)]
struct Feed<'a> {
    changes: &'a [Change],
    next: i64,
}

#[derive(Serialize)]
struct Ticket<'a> {
    ticket: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct Reset {
    detail: &'static str,
    seq: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct RealtimeQuery {
    since: Option<String>,
    limit: Option<String>,
    ticket: Option<String>,
}

fn parse_query(query: Result<Query<RealtimeQuery>, QueryRejection>) -> Result<RealtimeQuery, ApiError> {
    query.map(|Query(query)| query).map_err(|_| query_unreadable())
}

fn invalid(kind: &'static str, loc: Location, msg: &'static str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(kind, loc, msg)])
}

/// A position in the log: a whole number from 0.
fn position(text: &str, loc: Location) -> Result<i64, ApiError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| invalid("int_parsing", loc, "Input should be a whole number from 0 (a change's seq)"))
}

#[utoipa::path(
    get,
    path = "/api/{user_id}/changes",
    operation_id = "list_changes",
    tag = "realtime",
    summary = "The user's changes after a position (delta feed)",
    params(UserPath, ChangesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changes after `since`, in order, and the `since` to ask with next", body = ChangeFeed),
        (status = 410, description = "`since` is older than the log keeps (or ahead of it): refetch the list \
                                      and resume from its `X-Change-Seq`", body = ErrorBody),
        AuthResponses,
        (status = 422, description = "An invalid query parameter", body = ValidationErrorBody),
    )
)]
pub async fn changes(
    State(state): State<AppState>,
    owner: Owner,
    query: Result<Query<RealtimeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = parse_query(query)?;
    let since =
        query.since.as_deref().map(|s| position(s, Location::Query("since"))).transpose()?.unwrap_or(0);
    let limit = match query.limit.as_deref() {
        None => FEED_PAGE,
        Some(text) => text.parse::<i64>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
            invalid("int_parsing", Location::Query("limit"), "Input should be a whole number from 1 to 1000")
        })?,
    };
    match state.store.changes_since(owner.id(), since, limit).await? {
        ChangesSince::Found { changes, .. } => {
            let next = changes.last().map_or(since, |last| last.seq);
            Ok(Json(Feed { changes: &changes, next }).into_response())
        }
        ChangesSince::Gone { .. } => Err(ApiError::ChangesGone),
    }
}

#[utoipa::path(
    post,
    path = "/api/{user_id}/events/ticket",
    operation_id = "create_events_ticket",
    tag = "realtime",
    summary = "A short-lived ticket to open change streams with EventSource",
    params(UserPath),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Send it as `?ticket=` on `GET /api/{user_id}/events`, with no \
                                      Authorization header, within `expires_in` seconds", body = TicketBody),
        AuthResponses,
    )
)]
pub async fn ticket(State(state): State<AppState>, owner: Owner) -> Result<Response, ApiError> {
    let ttl = state.realtime.ticket_ttl.as_secs();
    let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = ticket_hash(&ticket);
    let now = Timestamp::unix_now();
    let record = TicketRecord {
        hash: &hash,
        user_id: owner.id(),
        expires_at: now.saturating_add(ttl as i64),
        stream_until: i64::try_from(owner.0.valid_until).unwrap_or(i64::MAX),
    };
    state.store.issue_ticket(record).await?;
    Ok((StatusCode::CREATED, Json(Ticket { ticket: &ticket, expires_in: ttl })).into_response())
}

/// Only the digest is stored, so the table cannot be replayed from.
fn ticket_hash(ticket: &str) -> String {
    super::responses::hex(&Sha256::digest(ticket.as_bytes()))
}

/// Who opens a stream: the bearer token's owner, or, with no Authorization
/// header, a ticket's. Either way held to the path's user, and until when.
pub struct StreamOwner {
    id: String,
    valid_until: i64,
}

impl FromRequestParts<AppState> for StreamOwner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ticket = match parts.headers.contains_key(AUTHORIZATION) {
            true => None,
            false => {
                Query::<RealtimeQuery>::from_request_parts(parts, state).await.ok().and_then(|q| q.0.ticket)
            }
        };
        let Some(ticket) = ticket else {
            let owner = Owner::from_request_parts(parts, state).await?;
            let valid_until = i64::try_from(owner.0.valid_until).unwrap_or(i64::MAX);
            return Ok(Self { id: owner.0.id, valid_until });
        };
        // Tickets are looked up in the database: behind the failure limit too.
        let attempt = state
            .verifier
            .failure_limit()
            .map(|limit| limit.attempt(parts.extensions.get().copied(), &parts.headers))
            .transpose()
            .map_err(ApiError::RateLimited)?;
        let refuse = || {
            crate::telemetry::metrics().auth_failed(AuthError::BadTicket.code());
            if let Some(attempt) = &attempt {
                attempt.failed();
            }
            ApiError::Unauthorized(AuthError::BadTicket)
        };
        // 32 random bytes in unpadded base64url; anything else was never issued.
        let well_formed =
            ticket.len() == 43 && ticket.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(refuse());
        }
        let now = Timestamp::unix_now();
        let (user, valid_until) =
            state.store.redeem_ticket(&ticket_hash(&ticket), now).await?.ok_or_else(refuse)?;
        // Another user's ticket proves nothing here: 401, as a forged one.
        if !path_user_is(parts, state, &user).await || valid_until < now {
            return Err(refuse());
        }
        tracing::Span::current().record("user_id", user.as_str());
        Ok(Self { id: user, valid_until })
    }
}

#[utoipa::path(
    get,
    path = "/api/{user_id}/events",
    operation_id = "stream_events",
    tag = "realtime",
    summary = "The user's changes as they happen (Server-Sent Events)",
    description = "Each change is an event whose `id` is its seq, whose `event` is its type \
                   (`created`, `updated`, `deleted`) and whose `data` is the change as in `/changes`. \
                   Resumes after `Last-Event-ID` (or `since`); without either, starts from now. A position \
                   the log no longer keeps gets a `reset` event (refetch the list), then the stream goes on. \
                   Comments (`:`) are heartbeats. The stream ends when the token (or the ticket's token) \
                   expires, or after `EVENTS_MAX_SECONDS`: reopen it with `since` (EventSource does it \
                   with `Last-Event-ID`).",
    params(UserPath, EventsParams, LastEventIdHeader),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "An endless `text/event-stream`", content_type = "text/event-stream", body = StreamEvent),
        (status = 429, description = "Too many streams open for this user or on this server", body = ErrorBody),
        AuthResponses,
        (status = 422, description = "An invalid `since` or `Last-Event-ID`", body = ValidationErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    owner: StreamOwner,
    headers: HeaderMap,
    query: Result<Query<RealtimeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = parse_query(query)?;
    // Both are checked; `Last-Event-ID` (an EventSource reconnecting) wins.
    let since = query.since.as_deref().map(|s| position(s, Location::Query("since"))).transpose()?;
    let resume = match headers.get(LAST_EVENT_ID) {
        Some(value) => Some(position(value.to_str().unwrap_or("-"), Location::Header("Last-Event-ID"))?),
        None => since,
    };
    let subscription = state.hub.subscribe(&owner.id).map_err(ApiError::StreamRefused)?;
    // Without a position, the stream starts from now.
    let last = match resume {
        Some(since) => since,
        None => state.store.change_head(&owner.id).await?,
    };
    let lifetime = state.realtime.max_stream.min(Duration::from_secs(
        u64::try_from(owner.valid_until.saturating_sub(Timestamp::unix_now())).unwrap_or(0),
    ));
    let watch = Watch {
        store: state.store.clone(),
        owner: owner.id,
        last,
        subscription,
        until: tokio::time::Instant::now() + lifetime,
        pending: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(watch, Watch::next);
    let mut response =
        Sse::new(stream).keep_alive(KeepAlive::new().interval(state.realtime.heartbeat)).into_response();
    // nginx would otherwise buffer the stream.
    response
        .headers_mut()
        .insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    Ok(response)
}

/// One stream's state.
struct Watch {
    store: Store,
    owner: String,
    /// The last seq sent (or the position resumed from).
    last: i64,
    subscription: Subscription,
    until: tokio::time::Instant,
    pending: VecDeque<Change>,
}

impl Watch {
    /// The next event, or `None` to end the stream.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(change) = self.pending.pop_front() {
                crate::telemetry::metrics().event_sent(change.kind.as_str());
                return Some((Ok(change_event(&change)), self));
            }
            if self.subscription.is_closing() || tokio::time::Instant::now() >= self.until {
                return None;
            }
            self.subscription.mark_seen();
            match self.store.changes_since(&self.owner, self.last, STREAM_BATCH).await {
                Ok(ChangesSince::Found { changes, .. }) if !changes.is_empty() => {
                    self.last = changes.last().map_or(self.last, |last| last.seq);
                    self.pending.extend(changes);
                    continue;
                }
                Ok(ChangesSince::Found { .. }) => {}
                Ok(ChangesSince::Gone { head }) => {
                    self.last = head;
                    crate::telemetry::metrics().event_sent("reset");
                    return Some((Ok(reset_event(head)), self));
                }
                Err(error) => {
                    tracing::debug!(%error, "change stream could not read the log; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_READ) => continue,
                        () = tokio::time::sleep_until(self.until) => return None,
                    }
                }
            }
            tokio::select! {
                woken = self.subscription.woken() => if !woken { return None },
                () = tokio::time::sleep_until(self.until) => return None,
            }
        }
    }
}

fn change_event(change: &Change) -> Event {
    Event::default()
        .id(change.seq.to_string())
        .event(change.kind.as_str())
        .json_data(change)
        .expect("a change serializes")
}

/// The position resumed from is gone: the client refetches its list; the
/// stream goes on from `head` (and an `EventSource` reconnect resumes there).
fn reset_event(head: i64) -> Event {
    let data = Reset {
        detail: "Changes since that position are no longer kept; fetch the task list again",
        seq: head,
    };
    Event::default().id(head.to_string()).event("reset").json_data(data).expect("JSON serializes")
}
