//! What every request passes through, written as one plain service and one
//! future instead of a stack of layers (each tower or `from_fn` layer adds
//! its own future to every request, `from_fn` a boxed one and a clone of
//! everything below it): the peer's address, one trailing slash dropped, the
//! request id, the log line and the metrics, the deadline
//! (`REQUEST_TIMEOUT_SECONDS`), the linger for an unread body, and the
//! headers every response gets.
//!
//! The deadline answers 503 in the contract's error shape (tower-http's
//! `TimeoutLayer` would answer with an empty body). Cancelling drops the
//! handler's future: an open SQLite transaction rolls back, and a PostgreSQL
//! statement already sent either commits or is stopped by `statement_timeout`
//! (shorter by default), so nothing is half-written.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL,
    CONNECTION,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use tokio::time::Sleep;

use super::drain::Drain;
use super::linger::{self, Lent};
use super::observe::{InFlight, X_REQUEST_ID, method_label, request_id, route_of};
use super::{ApiError, slash};
use crate::limit::PeerAddr;
use crate::telemetry::metrics;

/// One client connection's view of the service (`inner`: CORS and the router).
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
    peer: SocketAddr,
    drain: Drain,
    deadline: Duration,
}

impl<S> Front<S> {
    pub fn new(inner: S, peer: SocketAddr, drain: Drain, deadline: Duration) -> Self {
        Self { inner, peer, drain, deadline }
    }
}

impl<S> tower::Service<Request<Incoming>> for Front<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let started = Instant::now();
        let in_flight = InFlight::start();
        let (request, lent) = linger::lend(request.map(Body::new));
        let mut request = slash::strip_one_trailing_slash(request);
        request.extensions_mut().insert(PeerAddr(self.peer));
        let id = request_id(request.headers());
        let route = route_of(request.uri().path());
        let method = method_label(request.method());
        // The `Owner` extractor fills in `user_id` once the token has verified.
        let span = tracing::info_span!(
            "request",
            request_id = id.to_str().unwrap_or_default(),
            method,
            route,
            user_id = tracing::field::Empty
        );
        let inner = span.in_scope(|| self.inner.call(request));
        Answer {
            inner,
            deadline: tokio::time::sleep(self.deadline),
            limit: self.deadline,
            done: Done {
                span,
                started,
                route,
                method,
                id,
                lent,
                drain: self.drain.clone(),
                _in_flight: in_flight,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The router's answer, or the 503 once the deadline has passed.
    pub struct Answer<F> {
        #[pin]
        inner: F,
        #[pin]
        deadline: Sleep,
        limit: Duration,
        done: Done,
    }
}

/// What is done with the response, whichever way it came.
struct Done {
    span: tracing::Span,
    started: Instant,
    route: &'static str,
    method: &'static str,
    id: HeaderValue,
    lent: Option<Lent>,
    drain: Drain,
    _in_flight: InFlight,
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Answer<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let entered = this.done.span.enter();
        let (response, timed_out) = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => (response, false),
            Poll::Pending => match this.deadline.poll(cx) {
                Poll::Ready(()) => (ApiError::Timeout(*this.limit).into_response(), true),
                Poll::Pending => return Poll::Pending,
            },
        };
        drop(entered);
        Poll::Ready(Ok(this.done.finish(response, timed_out)))
    }
}

impl Done {
    fn finish(&mut self, mut response: Response, timed_out: bool) -> Response {
        // Within its bounds, what the handler left of the body is read after
        // the answer goes out (see `linger`); after a timeout the client is
        // not sending, and the connection closes.
        if let Some(lent) = self.lent.take()
            && !timed_out
        {
            lent.discard_unread();
        }
        let status = response.status().as_u16();
        let elapsed = self.started.elapsed();
        self.span.in_scope(|| tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request"));
        metrics().request_finished(self.route, self.method, status, elapsed.as_secs_f64());
        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID, self.id.clone());
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        only_for_allowed_origins(headers);
        if self.drain.started() {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// tower-http adds `Access-Control-Allow-Credentials` and friends to every
/// response and only withholds `Access-Control-Allow-Origin` from origins not
/// listed. Browsers ignore the rest without it, but the contract is stricter:
/// an origin that is not allowed sees no CORS headers at all.
fn only_for_allowed_origins(headers: &mut HeaderMap) {
    if !headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        for name in [
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            ACCESS_CONTROL_ALLOW_HEADERS,
            ACCESS_CONTROL_ALLOW_METHODS,
            ACCESS_CONTROL_EXPOSE_HEADERS,
            ACCESS_CONTROL_MAX_AGE,
        ] {
            headers.remove(name);
        }
    }
}
