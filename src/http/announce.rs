//! Wakes the change streams of the owner whose task a request wrote: on the
//! task routes only, for writes that succeeded. The owner is known only once
//! `Owner` has authenticated the request inside the handler, so this leaves
//! a slot in the request for it to fill.

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::realtime::Hub;

/// Filled by `Owner` with the authenticated owner's id.
#[derive(Clone, Default)]
pub struct WriterSlot(pub Arc<OnceLock<String>>);

pub async fn announce_changes(State(hub): State<Arc<Hub>>, mut request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let slot = WriterSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    if let Some(owner) = slot.0.get().filter(|_| response.status().is_success()) {
        hub.changed(owner);
    }
    response
}
