//! Versioned schema migrations, embedded in the binary and applied at startup
//! (and by `todo-api migrate`). sqlx's `migrate!` macro would embed them too,
//! but it needs sqlx's proc-macro crates and a second build of both drivers;
//! listing the files here costs nothing and keeps cold builds lean.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (1, "create users and tasks", include_str!("../../migrations/sqlite/0001_create_users_and_tasks.sql")),
    (2, "count tasks per user", include_str!("../../migrations/sqlite/0002_count_tasks_per_user.sql")),
];

const POSTGRES: &[Source] = &[
    (1, "create users and tasks", include_str!("../../migrations/postgres/0001_create_users_and_tasks.sql")),
    (2, "count tasks per user", include_str!("../../migrations/postgres/0002_count_tasks_per_user.sql")),
];

fn migrator(sources: &[Source]) -> Migrator {
    let migrations = sources
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

pub fn sqlite() -> Migrator {
    migrator(SQLITE)
}

pub fn postgres() -> Migrator {
    migrator(POSTGRES)
}
