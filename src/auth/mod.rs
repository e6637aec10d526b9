//! Authentication: bearer token in, verified user out.
//!
//! `Verifier` is the seam. It reads the token once, picks the key by the
//! token's `alg` among the algorithms the configuration enables (HS256 with
//! `BETTER_AUTH_SECRET`; EdDSA, ES256, ES512, RS256 and PS256 with keys from a
//! JWKS), checks the signature with a key pinned to that algorithm, then applies
//! one set of claim rules. The asymmetric path never accepts HS256 and the
//! shared secret never verifies anything else, so keys cannot be confused.

mod bearer;
mod claims;
mod error;
mod extract;
mod hs256;
mod jwks;
mod keys;
mod sessions;
mod token;
mod user;
mod verifier;

pub use bearer::{MAX_TOKEN_BYTES, bearer_token};
pub use claims::ClaimRules;
pub use error::AuthError;
pub use hs256::{MIN_SECRET_BYTES, mint_hs256};
pub use jwks::{FetchStatus, JwksCache, JwksError, JwksSource};
pub use keys::Alg;
pub use sessions::{Reachability, SessionLookup, SessionSettings};
pub use user::AuthUser;
pub use verifier::Verifier;
