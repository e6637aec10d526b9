//! `AuthUser` as an axum extractor: any handler that names it is authenticated.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::{AuthError, AuthUser, Verifier, bearer_token};
use crate::limit::PeerAddr;

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<PeerAddr>().copied();
        let verifier = Arc::<Verifier>::from_ref(state);
        let verified = verifier.verify_from(bearer_token(&parts.headers), peer, &parts.headers).await;
        // Counted where authentication fails, not where errors are rendered
        // (refusals by the failure limit are counted as limited requests).
        verified.inspect_err(|cause| {
            if !matches!(cause, AuthError::TooManyFailures(_)) {
                crate::telemetry::metrics().auth_failed(cause.code());
            }
        })
    }
}
