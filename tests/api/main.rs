//! The API suite: each test starts the server in this process on port 0 with
//! a fresh database (`common::spawn_app`) and talks to it over a real socket,
//! on SQLite and PostgreSQL (and through PgBouncer, as `::pooled`).
//!
//! One test binary with a module per subject, not a binary per file: each
//! binary links the whole crate and its dependencies, so 28 of them made a
//! cold `cargo test` spend most of its time linking. (tests/backpressure.rs
//! stays a binary of its own: it reads a process-wide gauge.)

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod attacks;
mod auth;
mod bulk;
mod conditional;
mod contract;
mod field_limits;
mod http_fuzz;
mod idempotency;
mod jwks;
mod limits;
mod openapi;
mod properties;
mod realtime;
mod upgrade;
