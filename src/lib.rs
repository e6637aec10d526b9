//! todo-api: a multi-user task service for Next.js + Better Auth frontends.
//!
//! Layout follows the architecture: `config` (settings), `auth` (token
//! verification), `store` (SQLite/PostgreSQL), `http` (routes, extractors,
//! the one error type), `realtime` (live change streams), `app` (assembly),
//! `telemetry` (logs, metrics).

pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod http;
pub mod limit;
pub mod realtime;
pub mod store;
pub mod telemetry;
