//! Behind PgBouncer 1.18 in transaction mode (a throwaway one per test, see
//! `common::pooler`): the contract suite runs through it (`contract!`'s
//! `pooled` variants); here, what a pooler changes: timeouts come from the
//! database's (or role's) defaults and still cancel, `todo-api check` says
//! whether they match the setting, and instances starting together migrate once.

use crate::common;

use std::time::{Duration, Instant};

use common::direct::Direct;
use common::process::binary;
use common::{Engine, SECRET, fresh_database, settings, spawn_app_on_fresh};
use futures::StreamExt;
use serde_json::json;
use todo_api::app::App;
use todo_api::config::Config;

/// Gives the pooled test database default timeouts of `millis` for new sessions.
async fn database_timeouts(direct: &Direct, millis: u64) {
    direct
        .execute(&format!(
            "DO $$ BEGIN \
             EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '{millis}ms'); \
             EXECUTE format('ALTER DATABASE %I SET lock_timeout = %L', current_database(), '{millis}ms'); END $$"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_hold_through_the_pooler_and_check_reports_them() {
    if !Engine::PostgresPooled.enabled() {
        return;
    }
    let Some((url, db)) = fresh_database(Engine::PostgresPooled).await else { return };
    let direct_url = db.direct_url().unwrap();
    database_timeouts(&Direct::open(&direct_url).await, 1000).await;

    // `check` compares what the server applies with the setting.
    for (seconds, verdict) in [("1", "ok    timeouts: statement_timeout 1000 ms"), ("5", "FAIL  timeouts:")] {
        let output = binary(&[
            ("BETTER_AUTH_SECRET", SECRET),
            ("DATABASE_URL", &url),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", seconds),
        ])
        .arg("check")
        .output()
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(verdict), "{seconds}: {stdout}");
    }

    let app = spawn_app_on_fresh(url, db, Engine::PostgresPooled).await;
    let id = app.task("alice", "locked out").await;
    let lock = Direct::open(&direct_url).await;
    lock.execute("BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE").await;
    let started = Instant::now();
    let path = format!("/api/alice/tasks/{id}");
    let stuck = app.call("alice", reqwest::Method::PUT, &path, Some(json!({"title": "x"}))).await;
    let waited = started.elapsed();
    assert_eq!(stuck.status, 503, "{}", stuck.text);
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "{waited:?}");
    lock.execute("ROLLBACK").await;
    let after = app.call("alice", reqwest::Method::PUT, &path, Some(json!({"title": "free"}))).await;
    assert_eq!((after.status.as_u16(), after.json["title"].clone()), (200, json!("free")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_through_the_pooler_migrate_once() {
    if !Engine::PostgresPooled.enabled() {
        return;
    }
    let Some((url, db)) = fresh_database(Engine::PostgresPooled).await else { return };
    let build = || App::build(Config::from_settings(&settings(url.clone())).unwrap());
    let (first, second, third) = tokio::join!(build(), build(), build());
    for app in [first, second, third] {
        app.expect("every instance starts");
    }
    let direct = Direct::open(&db.direct_url().unwrap()).await;
    let versions =
        direct.ids("SELECT CAST(version AS BIGINT) FROM refinery_schema_history ORDER BY version").await;
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8], "each migration recorded once");
    assert_eq!(
        direct.ids("SELECT count(*) FROM information_schema.tables WHERE table_name = 'tasks'").await,
        [1]
    );
}

/// A pooler the URL does not name is found out and served through: 200
/// requests, 16 at a time, every one answered 2xx, and the store says so.
async fn serves_through_an_unnamed_pooler(url: String, db: common::TestDb) {
    let app = spawn_app_on_fresh(url, db, Engine::PostgresPooled).await;
    let titles: Vec<String> = (0..16).map(|i| format!("t{i}")).collect();
    let ids: Vec<i64> = futures::future::join_all(titles.iter().map(|title| app.task("alice", title))).await;
    let calls = (0..200).map(|n| {
        let (app, id) = (&app, ids[n % ids.len()]);
        async move {
            let path = format!("/api/alice/tasks/{id}");
            match n % 4 {
                0 => app.call("alice", reqwest::Method::GET, &path, None).await,
                1 => app.call("alice", reqwest::Method::PATCH, &format!("{path}/complete"), None).await,
                2 => app.list("alice", "").await,
                _ => app.create("alice", json!({"title": format!("n{n}")})).await,
            }
        }
    });
    let replies = futures::stream::iter(calls).buffer_unordered(16).collect::<Vec<_>>().await;
    for reply in &replies {
        assert!(reply.status.is_success(), "{} {}", reply.status, reply.text);
    }
    assert_eq!(app.store.pooler(), todo_api::store::Pooler::Transaction);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooler_that_refuses_startup_options_is_found_out_at_connect() {
    if !Engine::PostgresPooled.enabled() {
        return;
    }
    let Some((url, db)) = fresh_database(Engine::PostgresPooled).await else { return };
    let unnamed = url.replace("?pooler=transaction", "");
    assert!(!unnamed.contains("pooler"), "{unnamed}");
    serves_through_an_unnamed_pooler(unnamed, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooler_that_loses_prepared_statements_is_found_out_on_the_next_query() {
    if !Engine::PostgresPooled.enabled() {
        return;
    }
    let Some((url, db)) = fresh_database(Engine::PostgresPooled).await else { return };
    // Like Supabase's and many self-hosted ones: startup options ignored, not refused.
    let admin_url = common::postgres_url().unwrap();
    let server = admin_url.split('?').next().unwrap().rsplit_once('/').unwrap().0.to_owned();
    let upstream_port = server.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(5432);
    let Some(lenient) =
        common::pooler::Bouncer::start_with(upstream_port, "ignore_startup_parameters = options\n")
    else {
        return;
    };
    let database = url.split('?').next().unwrap().rsplit_once('/').unwrap().1.to_owned();
    let unnamed = format!("postgres://postgres@127.0.0.1:{}/{database}", lenient.port);
    serves_through_an_unnamed_pooler(unnamed, db).await;
    drop(lenient);
}
