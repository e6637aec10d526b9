//! Early answers that reach the client whole. A request answered before its
//! body was read (401, 403, 413, 404…) would otherwise end with hyper closing
//! the connection on the unread rest: the kernel then resets it, the client's
//! next write fails (EPIPE) and it may never read the answer, and a proxy in
//! front (nginx) turns the answer into a 502 and takes this instance out of
//! rotation. So, as nginx and Apache do (RFC 9112 §9.6), the answer goes out
//! at once and the rest of the body is read and discarded after it, up to
//! `LINGER_BYTES` and for at most `LINGER_TIME`; within that the connection
//! even stays open for the next request. Past it, the connection is closed,
//! as it is at once after a request timed out (its client is not sending).
//!
//! hyper does not offer this (it only drains what is already buffered), and
//! no tower layer does, hence this code (used by `front`).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use futures_util::StreamExt;
use http_body::{Body as HttpBody, Frame, SizeHint};

/// At most this much of an unread body is read to be discarded.
pub const LINGER_BYTES: usize = 1024 * 1024;
/// For at most this long.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// A request whose body is still to come lends it to the handler; a
/// request without one is passed as it is (no lock, no allocation).
pub fn lend(request: Request) -> (Request, Option<Lent>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let slot = Slot(Arc::new(Mutex::new(Some(body))));
    (Request::from_parts(parts, Body::new(slot.clone())), Some(Lent(slot)))
}

/// The lender's side of a body lent to a handler.
pub struct Lent(Slot);

impl Lent {
    /// What the handler left of the body is read and dropped after the
    /// answer has gone out: hyper goes on reading the body for as long as it
    /// is polled here. Dropped past the bounds, it makes hyper close the
    /// connection.
    pub fn discard_unread(self) {
        let unread = self.0.0.lock().expect("body slot").take().filter(|body| !body.is_end_stream());
        if let Some(unread) = unread {
            tokio::spawn(discard(unread));
        }
    }
}

/// Reads and drops what is left of a body; whether it all came within bounds.
async fn discard(body: Body) -> bool {
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let all = async {
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => read += bytes.len(),
                Err(_) => return false,
            }
            if read > LINGER_BYTES {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(LINGER_TIME, all).await.unwrap_or(false)
}

/// The request body, lent to the handler: whatever it leaves unread stays
/// here for `Lent` to discard.
#[derive(Clone)]
struct Slot(Arc<Mutex<Option<Body>>>);

impl HttpBody for Slot {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.0.lock().expect("body slot").as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().expect("body slot").as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .expect("body slot")
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}
