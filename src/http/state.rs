//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;

use super::balance::Balance;
use super::drain::Drain;
use crate::auth::Verifier;
use crate::config::{Limits, RealtimeConfig};
use crate::limit::KeyedLimit;
use crate::realtime::Hub;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub limits: Limits,
    pub hub: Arc<Hub>,
    pub realtime: Arc<RealtimeConfig>,
    /// Each user's request rate (`RATE_LIMIT_*`), when limited.
    pub user_limit: Option<Arc<KeyedLimit<String>>>,
    pub drain: Drain,
    /// Each worker's open connections, for `/metrics`.
    pub balance: Arc<Balance>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.verifier)
    }
}
