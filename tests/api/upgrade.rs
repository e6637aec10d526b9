//! A database made by the sqlx-era release (its schema, its `_sqlx_migrations`
//! bookkeeping, tasks in it) opened by this binary: every row is still there,
//! no migration runs twice, and the service works on it, ids continuing.

use crate::common;

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

/// The versions this binary embeds for `engine`: one per file in its migrations folder.
fn embedded_versions(engine: Engine) -> Vec<i64> {
    let dir = match engine {
        Engine::Postgres | Engine::PostgresPooled => "postgres",
        Engine::Sqlite => "sqlite",
    };
    let files = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    (1..=files.filter(|file| file.as_ref().unwrap().path().extension().is_some_and(|e| e == "sql")).count()
        as i64)
        .collect()
}

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
        // Both versions adopted into refinery's history, none run again, the rest run.
        let versions = app.direct().await.ids("SELECT CAST(version AS BIGINT) FROM refinery_schema_history ORDER BY version").await;
        assert_eq!(versions, embedded_versions(engine));
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
        assert_eq!(versions.len(), embedded_versions(engine).len());
        second.stop().await;
    }
}

/// A SQLite database at V6 (as the previous release left it, migrated by refinery
/// with the same names) holding changes: V7 rebuilds the log, and every change
/// keeps its number, its kind and its task; numbering goes on after the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rebuilt_sqlite_change_log_keeps_every_change_and_numbering_goes_on() {
    let (url, db) = fresh_database(Engine::Sqlite).await.unwrap();
    let path = url.strip_prefix("sqlite:").unwrap().split('?').next().unwrap().to_owned();
    let names = [
        ("V1__create_users_and_tasks", "0001_create_users_and_tasks.sql"),
        ("V2__count_tasks_per_user", "0002_count_tasks_per_user.sql"),
        ("V3__task_revisions", "0003_task_revisions.sql"),
        ("V4__idempotency_keys", "0004_idempotency_keys.sql"),
        ("V5__change_log", "0005_change_log.sql"),
        ("V6__configurable_field_limits", "0006_configurable_field_limits.sql"),
    ];
    let root = env!("CARGO_MANIFEST_DIR");
    let migrations: Vec<_> = names
        .iter()
        .map(|(name, file)| {
            let sql = std::fs::read_to_string(format!("{root}/migrations/sqlite/{file}")).unwrap();
            refinery::Migration::unapplied(name, &sql).unwrap()
        })
        .collect();
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    refinery::Runner::new(&migrations).run(&mut conn).unwrap();
    let at = "2026-01-05T10:00:00.123456Z";
    conn.execute_batch(&format!(
        "INSERT INTO users (id, created_at, task_count) VALUES ('old', '{at}', 1), ('other', '{at}', 1); \
         INSERT INTO tasks (user_id, title, created_at, updated_at) VALUES ('old', 'one', '{at}', '{at}'), \
         ('other', 'theirs', '{at}', '{at}'), ('old', 'two', '{at}', '{at}'); \
         UPDATE tasks SET completed = TRUE, revision = 2 WHERE title = 'one'; \
         DELETE FROM tasks WHERE title = 'two';"
    ))
    .unwrap();
    drop(conn);

    let app = spawn_app_on_fresh(url, db, Engine::Sqlite).await;
    let feed = app.call("old", reqwest::Method::GET, "/api/old/changes", None).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let changes = feed.json["changes"].as_array().unwrap();
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c["seq"].as_i64().unwrap(), c["type"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [(1, "created"), (2, "created"), (3, "updated"), (4, "deleted")];
    assert_eq!(seen, expected.map(|(seq, kind)| (seq, kind.to_owned())), "{}", feed.text);
    assert_eq!(changes[2]["task"]["completed"], true);
    assert_eq!(changes[2]["task"]["title"], "one");
    let other = app.call("other", reqwest::Method::GET, "/api/other/changes", None).await;
    assert_eq!(other.json["changes"].as_array().unwrap().len(), 1, "{}", other.text);

    app.task("old", "after the upgrade").await;
    let next = app.call("old", reqwest::Method::GET, "/api/old/changes?since=4", None).await;
    assert_eq!(next.json["changes"][0]["seq"], 5, "{}", next.text);
    assert_eq!(next.json["changes"][0]["task"]["title"], "after the upgrade");
    app.stop().await;
}
