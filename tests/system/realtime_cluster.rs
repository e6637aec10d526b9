//! Change streams across instances on one PostgreSQL: a write through one
//! instance reaches streams held by another (LISTEN/NOTIFY directly; through
//! PgBouncer with a direct listen URL, or by polling without one), and a
//! database restart while streams are open loses and repeats nothing.

use crate::common;

use std::time::Duration;

use common::cluster::ThrowawayPostgres;
use common::sse;
use common::{Engine, TestApp, fresh_database, loud, spawn_app_on, spawn_app_on_fresh, token};
use todo_api::store::Heard;
use todo_api::store::Notifier;

const SOON: Duration = Duration::from_secs(5);

/// Writes through `writer`, reads on a stream held by `reader`; every change once, in order.
async fn writes_reach(writer: &TestApp, reader: &TestApp, user: &str) {
    let mut stream = sse::open(reader, user, "", Some(&token(user)), None).await.unwrap();
    let mut latencies = Vec::new();
    for n in 1..=20 {
        let started = std::time::Instant::now();
        let id = writer.task(user, &format!("task {n}")).await;
        let event = stream.event(SOON).await;
        latencies.push(started.elapsed());
        assert_eq!((event.seq(), event.json()["task"]["id"].as_i64()), (n, Some(id)));
    }
    stream.quiet(Duration::from_millis(300)).await;
    latencies.sort();
    loud(&format!("cross-instance write -> event (20 writes): max {:?}", latencies.last().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_reaches_a_stream_on_another() {
    if !Engine::Postgres.enabled() {
        return;
    }
    let (url, db) = fresh_database(Engine::Postgres).await.unwrap();
    let a = spawn_app_on_fresh(url.clone(), db, Engine::Postgres).await;
    let b = spawn_app_on(url, Engine::Postgres, |_| {}).await;
    writes_reach(&a, &b, "alice").await;
    writes_reach(&b, &a, "bob").await;
}

/// The streams above would also get their events through the 1 s safety
/// poll; this proves the NOTIFY path itself: a write through A is heard on a
/// listener of B's store, carrying the owner's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_heard_through_notify_by_another_instances_listener() {
    if !Engine::Postgres.enabled() {
        return;
    }
    let (url, db) = fresh_database(Engine::Postgres).await.unwrap();
    let a = spawn_app_on_fresh(url.clone(), db, Engine::Postgres).await;
    let b = spawn_app_on(url, Engine::Postgres, |_| {}).await;
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let listener = b.store.listen(None, tx).unwrap().expect("a direct connection listens");
    let first = tokio::time::timeout(SOON, heard.recv()).await.unwrap().unwrap();
    assert_eq!(first, Heard::Listening);
    let user = format!("notify-{}", rand::random::<u32>());
    a.task(&user, "heard elsewhere").await;
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        // Other tests on the same database notify too; wait for this owner.
        let news = tokio::time::timeout_at(deadline, heard.recv()).await.expect("heard within 5 s").unwrap();
        if matches!(&news, Heard::Changed(owners) if owners.contains(&user)) {
            break;
        }
    }
    listener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_transaction_pooler_streams_hear_by_a_direct_listen_url_or_by_polling() {
    if !Engine::PostgresPooled.enabled() {
        return;
    }
    let (url, db) = fresh_database(Engine::PostgresPooled).await.unwrap();
    let direct = db.direct_url().unwrap();
    let a = spawn_app_on_fresh(url.clone(), db, Engine::PostgresPooled).await;
    let listening =
        spawn_app_on(url.clone(), Engine::PostgresPooled, |s| s.realtime.database_listen_url = Some(direct))
            .await;
    let polling = spawn_app_on(url, Engine::PostgresPooled, |_| {}).await;
    writes_reach(&a, &listening, "alice").await;
    writes_reach(&a, &polling, "bob").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_with_streams_open_loses_and_repeats_nothing() {
    if !Engine::Postgres.enabled() {
        return;
    }
    let Some(pg) = ThrowawayPostgres::start() else { return };
    let a = spawn_app_on(pg.url(), Engine::Postgres, |_| {}).await;
    let b = spawn_app_on(pg.url(), Engine::Postgres, |_| {}).await;
    let bearer = token("alice");
    let mut on_b = sse::open(&b, "alice", "?since=0", Some(&bearer), None).await.unwrap();
    let mut on_a = sse::open(&a, "alice", "?since=0", Some(&bearer), None).await.unwrap();
    for n in 0..3 {
        a.task("alice", &format!("before {n}")).await;
    }
    pg.kill_server();
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.start_server();
    // Writes as soon as the database takes them again.
    let mut written = 3;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while written < 6 {
        assert!(std::time::Instant::now() < deadline, "writes resumed after the restart");
        let reply = a.create("alice", serde_json::json!({"title": format!("after {written}")})).await;
        match reply.status.as_u16() {
            201 => written += 1,
            503 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("{other}: {}", reply.text),
        }
    }
    for stream in [&mut on_b, &mut on_a] {
        let seqs: Vec<i64> = {
            let mut seqs = Vec::new();
            for _ in 0..6 {
                seqs.push(stream.event(Duration::from_secs(10)).await.seq());
            }
            seqs
        };
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
        stream.quiet(Duration::from_millis(500)).await;
    }
}
