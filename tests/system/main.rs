//! The system suite: tests that run the real `todo-api` binary as a process,
//! throwaway PostgreSQL clusters, PgBouncer, nginx, Node.js (Better Auth) or
//! Chromium: startup and configuration, faults (kill -9, database restarts),
//! drain, abuse limits, several instances on one database, interop.
//!
//! Kept apart from the in-process API suite (tests/api) so a slow or
//! process-heavy subject is easy to run alone: `cargo test --test system`.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod better_auth_interop;
mod better_auth_sessions;
mod browser_sync;
mod early_answers;
mod failover;
mod faults;
mod faults_drain;
mod faults_keyed;
mod operability;
mod pooler;
mod postgres_tls;
mod realtime_cluster;
mod replicas;
mod session_flood;
mod startup;
mod user_data;
