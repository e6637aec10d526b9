//! The HTTP surface: routes, the layers around them, and the error type.

mod balance;
mod bulk;
mod drain;
mod error;
mod events;
pub mod extract;
mod front;
mod health;
mod idempotent;
mod linger;
mod listen;
mod observe;
pub mod openapi;
mod openapi_bulk;
mod openapi_realtime;
mod paths;
mod responses;
mod router;
mod serve;
mod slash;
mod state;
mod tasks;
mod workers;

pub use balance::Balance;
pub use drain::{Drain, Stopping};
pub use error::{ApiError, RATELIMIT, RATELIMIT_POLICY};
pub use events::LAST_EVENT_ID;
pub use idempotent::IDEMPOTENCY_KEY;
pub use observe::X_REQUEST_ID;
pub use paths::{DOCS_PATH, METRICS_PATH, OPENAPI_PATH};
pub use responses::{X_CHANGE_SEQ, X_TOTAL_COUNT};
pub use router::{metrics_router, openapi_document, router, service, with_layers};
pub use serve::Routed;
pub use state::AppState;
pub use workers::{WorkerFailed, Workers};
