//! `AuthUser` as an axum extractor: any handler that names it is authenticated.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::{AuthError, AuthUser, Verifier, bearer_token};

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verified = match bearer_token(&parts.headers) {
            Ok(token) => Arc::<Verifier>::from_ref(state).verify(token).await,
            Err(missing) => Err(missing),
        };
        // Counted where authentication fails, not where errors are rendered.
        verified.inspect_err(|cause| crate::telemetry::metrics().auth_failed(cause.code()))
    }
}
