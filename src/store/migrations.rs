//! Versioned schema migrations, embedded in the binary and applied at startup
//! (and by `todo-api migrate`) by refinery, on either engine.
//!
//! Databases made by the sqlx-era releases recorded their migrations in
//! `_sqlx_migrations`. Opened by this release, the versions found there are
//! recorded as applied in refinery's table without running them again
//! (refinery's "fake" target), and the rest run as usual: an upgrade in place.

use refinery::{Migration, Runner, Target};

use super::StoreError;

type Source = (&'static str, &'static str);

const SQLITE: &[Source] = &[
    ("V1__create_users_and_tasks", include_str!("../../migrations/sqlite/0001_create_users_and_tasks.sql")),
    ("V2__count_tasks_per_user", include_str!("../../migrations/sqlite/0002_count_tasks_per_user.sql")),
    ("V3__task_revisions", include_str!("../../migrations/sqlite/0003_task_revisions.sql")),
    ("V4__idempotency_keys", include_str!("../../migrations/sqlite/0004_idempotency_keys.sql")),
    ("V5__change_log", include_str!("../../migrations/sqlite/0005_change_log.sql")),
    (
        "V6__configurable_field_limits",
        include_str!("../../migrations/sqlite/0006_configurable_field_limits.sql"),
    ),
    ("V7__change_log_by_row", include_str!("../../migrations/sqlite/0007_change_log_by_row.sql")),
];

const POSTGRES: &[Source] = &[
    ("V1__create_users_and_tasks", include_str!("../../migrations/postgres/0001_create_users_and_tasks.sql")),
    ("V2__count_tasks_per_user", include_str!("../../migrations/postgres/0002_count_tasks_per_user.sql")),
    ("V3__task_revisions", include_str!("../../migrations/postgres/0003_task_revisions.sql")),
    ("V4__idempotency_keys", include_str!("../../migrations/postgres/0004_idempotency_keys.sql")),
    ("V5__change_log", include_str!("../../migrations/postgres/0005_change_log.sql")),
    (
        "V6__configurable_field_limits",
        include_str!("../../migrations/postgres/0006_configurable_field_limits.sql"),
    ),
    (
        "V7__statements_that_log_themselves",
        include_str!("../../migrations/postgres/0007_statements_that_log_themselves.sql"),
    ),
    (
        "V8__keyed_create_in_one_call",
        include_str!("../../migrations/postgres/0008_keyed_create_in_one_call.sql"),
    ),
];

/// The highest version a sqlx-era release applied, if this database has one.
pub const SQLX_ERA_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";

fn runner(sources: &[Source]) -> Runner {
    let migrations: Vec<Migration> = sources
        .iter()
        .map(|&(name, sql)| Migration::unapplied(name, sql).expect("embedded migration names are valid"))
        .collect();
    Runner::new(&migrations)
}

pub fn sqlite() -> Runner {
    runner(SQLITE)
}

pub fn postgres() -> Runner {
    runner(POSTGRES)
}

/// Records versions up to `version` as applied without running them.
pub fn adopt(runner: Runner, version: i64) -> Runner {
    runner.set_target(Target::FakeVersion(version as i32))
}

pub fn failed(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Migrate(Box::new(error))
}
