//! Read replicas (`DATABASE_READ_URL`) for real on loopback: a primary and a
//! streaming replica (`pg_basebackup -R`) that applies WAL 400 ms late
//! (`recovery_min_apply_delay`), so every write is missing from it for a
//! while. What must hold: a client reads its own writes at once, through
//! either of two instances; a read load is served by the replica; a replica
//! that lags past the bound, is promoted, goes down or cannot be reached
//! leaves reads on the primary, and the service answers throughout.

use crate::common;

use std::time::{Duration, Instant};

use common::cluster::ThrowawayPostgres;
use common::direct::Direct;
use common::process::free_port;
use common::{Engine, TestApp, spawn_app_on};
use reqwest::Method;
use serde_json::json;

const APPLY_DELAY: &str = "-c recovery_min_apply_delay=400ms";

/// A primary and a replica 400 ms behind it.
fn replicated() -> Option<(ThrowawayPostgres, ThrowawayPostgres)> {
    let primary = ThrowawayPostgres::start()?;
    let replica = primary.standby_with(APPLY_DELAY);
    Some((primary, replica))
}

async fn app_reading_from(primary: &ThrowawayPostgres, read_url: String, max_lag_ms: u64) -> TestApp {
    spawn_app_on(primary.url(), Engine::Postgres, |settings| {
        settings.database_read_url = Some(read_url);
        settings.database_read_max_lag_ms = max_lag_ms;
    })
    .await
}

/// `(answered by the replica, read again on the primary because it was behind)`.
fn reads(app: &TestApp) -> (u64, u64) {
    let reads = app.store.replica_reads();
    let count = |name| reads.iter().find(|(by, _)| *by == name).map_or(0, |(_, n)| *n);
    (count("replica"), count("primary_behind"))
}

/// Lists `user`'s tasks until the replica answers one (it is connected,
/// has the schema and is within the lag bound), at most 20 s.
async fn until_the_replica_answers(app: &TestApp, user: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = reads(app).0;
    while reads(app).0 == before {
        assert!(Instant::now() < deadline, "the replica never answered a read");
        assert_eq!(app.list(user, "").await.status, 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reads_its_own_writes_at_once_through_any_instance() {
    let Some((primary, replica)) = replicated() else { return };
    let writer = app_reading_from(&primary, replica.url(), 5_000).await;
    let reader = app_reading_from(&primary, replica.url(), 5_000).await;
    until_the_replica_answers(&reader, "warm").await;
    for round in 0..10 {
        let title = format!("task {round}");
        let id = writer.create("ann", json!({"title": title})).await.id();
        // At once, on the other instance: the replica has not applied it yet.
        let got = reader.call("ann", Method::GET, &format!("/api/ann/tasks/{id}"), None).await;
        assert_eq!((got.status.as_u16(), &got.json["title"]), (200, &json!(title)), "round {round}");
        let listed = reader.list("ann", "").await;
        assert_eq!(listed.json.as_array().unwrap().len(), round + 1, "round {round}");
        let renamed = json!({"title": format!("renamed {round}")});
        assert_eq!(
            writer.call("ann", Method::PUT, &format!("/api/ann/tasks/{id}"), Some(renamed)).await.status,
            200
        );
        let got = reader.call("ann", Method::GET, &format!("/api/ann/tasks/{id}"), None).await;
        assert_eq!(got.json["title"], json!(format!("renamed {round}")), "round {round}");
        let changes = reader.call("ann", Method::GET, "/api/ann/changes?since=0", None).await;
        assert_eq!(changes.json["changes"].as_array().unwrap().len(), 2 * (round + 1), "round {round}");
    }
    let deleted = writer.call("ann", Method::DELETE, "/api/ann/tasks/1", None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(reader.call("ann", Method::GET, "/api/ann/tasks/1", None).await.status, 404);
    // The replica really was behind (the reads above fell back), and once it
    // has caught up the same reads are its own.
    assert!(reads(&reader).1 > 0, "no read found the replica behind: {:?}", reads(&reader));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = reads(&reader).0;
    assert_eq!(reader.list("ann", "").await.json.as_array().unwrap().len(), 9);
    assert_eq!(reads(&reader).0, before + 1, "an in-step replica answers");
    // And /metrics says so (one registry per process: other tests' apps count there too).
    let metrics = reader.http.get(reader.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let answered = metrics
        .lines()
        .find_map(|line| line.strip_prefix("todo_api_db_replica_reads_total{answered_by=\"replica\"} "))
        .expect("the replica reads counter");
    assert!(answered.parse::<f64>().unwrap() >= 1.0, "{answered}");
}

/// Tuples read from the user tables, as the server's statistics have them.
async fn tuples_read(url: &str) -> i64 {
    let sql = "SELECT (COALESCE(SUM(seq_tup_read), 0) + COALESCE(SUM(idx_tup_fetch), 0))::bigint \
               FROM pg_stat_user_tables";
    Direct::open(url).await.ids(sql).await[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_load_is_served_by_the_replica() {
    let Some((primary, replica)) = replicated() else { return };
    let seeder = app_reading_from(&primary, replica.url(), 1_000).await;
    for user in ["u1", "u2", "u3", "u4"] {
        for n in 0..20 {
            assert_eq!(seeder.create(user, json!({"title": format!("t{n}")})).await.status, 201);
        }
    }
    // A server's backends flush their statistics when they end (or idle for
    // 10 s): each count is taken with no instance connected.
    seeder.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (primary_before, replica_before) =
        (tuples_read(&primary.url()).await, tuples_read(&replica.url()).await);
    let app = app_reading_from(&primary, replica.url(), 1_000).await;
    until_the_replica_answers(&app, "u1").await;
    let mut load = tokio::task::JoinSet::new();
    for user in ["u1", "u2", "u3", "u4"] {
        let (http, base, bearer) = (app.http.clone(), app.url(""), common::token(user));
        load.spawn(async move {
            for n in 0..50 {
                let path = if n % 2 == 0 {
                    format!("/api/{user}/tasks")
                } else {
                    format!("/api/{user}/tasks/{}", n % 20 + 1)
                };
                let reply = http.get(format!("{base}{path}")).bearer_auth(&bearer).send().await.unwrap();
                assert!(matches!(reply.status().as_u16(), 200 | 404), "{path}: {}", reply.status());
            }
        });
    }
    load.join_all().await;
    app.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let on_primary = tuples_read(&primary.url()).await - primary_before;
    let on_replica = tuples_read(&replica.url()).await - replica_before;
    let share = on_replica as f64 / (on_primary + on_replica) as f64;
    eprintln!(
        "tuples read: replica {on_replica}, primary {on_primary} ({:.0}% from the replica)",
        share * 100.0
    );
    assert!(share >= 0.8, "replica read {on_replica} tuples, primary {on_primary}: {share:.2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_promoted_down_or_unreachable_replica_leaves_reads_on_the_primary() {
    let Some((primary, replica)) = replicated() else { return };
    // Unreachable from the start: the service starts and serves from the primary.
    let nowhere = format!("postgres://postgres@127.0.0.1:{}/postgres", free_port());
    let alone = app_reading_from(&primary, nowhere, 1_000).await;
    assert_eq!(alone.create("bo", json!({"title": "x"})).await.status, 201);
    assert_eq!(alone.list("bo", "").await.json.as_array().unwrap().len(), 1);
    assert_eq!(reads(&alone), (0, 0));
    // A bound below the replica's 400 ms: under a steady write load it is
    // left out (another user's reads never reach it), and back once writes stop.
    let app = app_reading_from(&primary, replica.url(), 150).await;
    until_the_replica_answers(&app, "cy").await;
    let writing = tokio::spawn({
        let (http, url, bearer) = (app.http.clone(), app.url("/api/dee/tasks"), common::token("dee"));
        async move {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(2) {
                let reply =
                    http.post(&url).bearer_auth(&bearer).json(&json!({"title": "w"})).send().await.unwrap();
                assert_eq!(reply.status(), 201);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = reads(&app);
    for _ in 0..10 {
        assert_eq!(app.list("cy", "").await.status, 200);
    }
    assert_eq!(reads(&app), before, "a replica past the bound was read from");
    writing.await.unwrap();
    until_the_replica_answers(&app, "cy").await;
    // Promoted: a primary of its own now, never read from (nor written to).
    replica.promote();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = reads(&app);
    assert_eq!(app.create("cy", json!({"title": "after the promotion"})).await.status, 201);
    for _ in 0..10 {
        assert_eq!(app.list("cy", "").await.json.as_array().unwrap().len(), 1);
    }
    assert_eq!(reads(&app), before, "a promoted replica was read from");
    let on_replica =
        Direct::open(&replica.url()).await.ids("SELECT COUNT(*) FROM tasks WHERE user_id = 'cy'").await;
    assert_eq!(on_replica, [0], "the write went to the primary only");
    // Down: reads go on, from the primary.
    replica.kill_server();
    for _ in 0..10 {
        assert_eq!(app.list("cy", "").await.status, 200);
        assert_eq!(app.list("dee", "?limit=1").await.status, 200);
    }
}
