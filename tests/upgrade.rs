//! A database made by the sqlx-era release (its schema, its `_sqlx_migrations`
//! bookkeeping, tasks in it) opened by this binary: every row is still there,
//! no migration runs twice, and the service works on it, ids continuing.

#[macro_use]
mod common;

use common::direct::Direct;
use common::{Engine, fresh_database, spawn_app_on_fresh};
use serde_json::json;

/// sqlx 0.9's bookkeeping table, as it creates it on each engine.
const SQLX_TABLE_POSTGRES: &str = "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
    description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
    checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)";
const SQLX_TABLE_SQLITE: &str = "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
    description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
    success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)";

async fn make_sqlx_era_database(direct: &Direct, engine: Engine) {
    let (dir, table, blob) = match engine {
        Engine::Postgres | Engine::PostgresPooled => ("postgres", SQLX_TABLE_POSTGRES, "'\\x00'::bytea"),
        Engine::Sqlite => ("sqlite", SQLX_TABLE_SQLITE, "x'00'"),
    };
    let root = env!("CARGO_MANIFEST_DIR");
    for file in ["0001_create_users_and_tasks.sql", "0002_count_tasks_per_user.sql"] {
        let sql = std::fs::read_to_string(format!("{root}/migrations/{dir}/{file}")).unwrap();
        direct.execute(&sql).await;
    }
    direct.execute(table).await;
    direct
        .execute(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES \
             (1, 'create users and tasks', TRUE, {blob}, 1), (2, 'count tasks per user', TRUE, {blob}, 1)"
        ))
        .await;
    let at = "2026-01-05T10:00:00.123456Z";
    direct
        .execute(&format!(
            "INSERT INTO users (id, email, created_at, task_count) VALUES ('old', 'old@example.com', '{at}', 2); \
             INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) VALUES \
             ('old', 'kept one', 'from before', TRUE, '{at}', '{at}'), ('old', 'kept two', NULL, FALSE, '{at}', '{at}')"
        ))
        .await;
}

each_engine! {
    async fn a_sqlx_era_database_upgrades_in_place(engine: Engine) {
        let (url, db) = fresh_database(engine).await.unwrap();
        make_sqlx_era_database(&Direct::open(&url).await, engine).await;

        let app = spawn_app_on_fresh(url, db, engine).await;
        let list = app.list("old", "?sort=title&order=asc").await;
        assert_eq!(list.status, 200, "{}", list.text);
        let titles: Vec<_> = list.json.as_array().unwrap().iter().map(|t| t["title"].clone()).collect();
        assert_eq!(titles, [json!("kept one"), json!("kept two")]);
        assert_eq!(list.json[0]["created_at"], "2026-01-05T10:00:00.123456Z");
        assert_eq!(list.json[0]["description"], "from before");

        let new = app.task("old", "after the upgrade").await;
        let old_ids = app.direct().await.ids("SELECT id FROM tasks WHERE title LIKE 'kept%'").await;
        assert!(old_ids.iter().all(|&old| old < new), "ids continue after the old ones");
        // The owner's count carried over: the quota still counts the old tasks.
        let count = app.direct().await.ids("SELECT task_count FROM users WHERE id = 'old'").await;
        assert_eq!(count, [3]);
        // Both versions adopted into refinery's history, none run again.
        let versions = app.direct().await.ids("SELECT CAST(version AS BIGINT) FROM refinery_schema_history ORDER BY version").await;
        assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
        app.stop().await;
    }

    async fn a_second_start_migrates_nothing(engine: Engine) {
        let (url, db) = fresh_database(engine).await.unwrap();
        let first = spawn_app_on_fresh(url.clone(), common::TestDb::External, engine).await;
        first.task("u", "survives a restart").await;
        first.stop().await;
        let second = spawn_app_on_fresh(url, db, engine).await;
        assert_eq!(second.list("u", "").await.json.as_array().unwrap().len(), 1);
        let versions = second.direct().await.ids("SELECT CAST(version AS BIGINT) FROM refinery_schema_history").await;
        assert_eq!(versions.len(), 6);
        second.stop().await;
    }
}
