//! Live changes: who is watching whose log, and waking them when it grows.
//!
//! The log itself is in the database (see `store::changes`): a stream keeps
//! only its position and reads what is new when woken, so a wake carries no
//! data, one that is missed is caught up by the next, and a slow client costs
//! a position rather than a buffer. Wakes come from this instance's own writes
//! (`Hub::changed`) and, on PostgreSQL, from other instances (see `relay`).

mod hub;
mod relay;

pub use hub::{Hub, Refused, StreamLimits, Subscription};
pub use relay::spawn as spawn_relay;
