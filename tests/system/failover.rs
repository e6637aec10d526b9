//! Failover with a libpq multi-host URL, for real on loopback: a primary with
//! a synchronous standby (`pg_basebackup -R`), the primary killed under a
//! write load and the standby promoted. What must hold: no acknowledged
//! write lost, nothing but 201s and 503s (never a 500) meanwhile, and new
//! writes succeeding within seconds of the promotion, and an idempotency key
//! that still replays its first answer; change streams on another instance
//! go on with nothing missed or repeated.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::ThrowawayPostgres;
use common::direct::Direct;
use common::{Engine, TestApp, spawn_app_on, sse};
use serde_json::json;

/// A primary with a synchronous standby, and the multi-host URL of both.
async fn replicated() -> Option<(ThrowawayPostgres, ThrowawayPostgres, String)> {
    let primary = ThrowawayPostgres::start()?;
    let standby = primary.standby();
    // Synchronous from here on: a commit is acknowledged once the standby has it.
    let admin = Direct::open(&primary.url()).await;
    admin.execute("ALTER SYSTEM SET synchronous_standby_names = '*'").await;
    admin.execute("SELECT pg_reload_conf()").await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    Some((primary, standby, url))
}

/// Creates `n` tasks for `user` through `app`, waiting out 503s (at most 15 s).
async fn write_through(app: &TestApp, user: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut written = 0;
    while written < n {
        assert!(Instant::now() < deadline, "writes did not resume");
        let reply = app.create(user, json!({"title": format!("task {written}")})).await;
        match reply.status.as_u16() {
            201 => written += 1,
            503 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("{other}: {}", reply.text),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_go_on_after_a_failover_with_nothing_missed() {
    let Some((primary, standby, url)) = replicated().await else { return };
    let writer = spawn_app_on(url.clone(), Engine::Postgres, |_| {}).await;
    let reader = spawn_app_on(url, Engine::Postgres, |_| {}).await;
    let bearer = common::token("watched");
    let mut stream = sse::open(&reader, "watched", "?since=0", Some(&bearer), None).await.unwrap();
    write_through(&writer, "watched", 3).await;
    primary.kill_server();
    tokio::time::sleep(Duration::from_millis(300)).await;
    standby.promote();
    write_through(&writer, "watched", 3).await;
    // The open stream, on the other instance: every change once, in order.
    let mut seqs = Vec::new();
    for _ in 0..6 {
        seqs.push(stream.event(Duration::from_secs(10)).await.seq());
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    stream.quiet(Duration::from_millis(500)).await;
    // A client that reconnects where it was gets the rest from the log.
    let mut resumed = sse::open(&reader, "watched", "", Some(&bearer), Some("3")).await.unwrap();
    let mut rest = Vec::new();
    for _ in 0..3 {
        rest.push(resumed.event(Duration::from_secs(10)).await.seq());
    }
    assert_eq!(rest, [4, 5, 6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_standby_takes_over_with_every_acknowledged_write() {
    let Some((primary, standby, url)) = replicated().await else { return };
    let app = Arc::new(spawn_app_on(url, Engine::Postgres, |_| {}).await);

    let keyed = || {
        app.http
            .post(app.url("/api/keyed/tasks"))
            .bearer_auth(common::token("keyed"))
            .header("Idempotency-Key", "across-the-failover")
            .json(&json!({"title": "once"}))
    };
    let first = app.send(keyed()).await;
    assert_eq!(first.status, 201, "{}", first.text);

    let acknowledged = Arc::new(Mutex::new(Vec::<(Instant, i64)>::new()));
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (app, acknowledged, statuses, running) =
                (app.clone(), acknowledged.clone(), statuses.clone(), running.clone());
            tokio::spawn(async move {
                let user = format!("writer{writer}");
                while running.load(Ordering::Relaxed) {
                    let reply = app.create(&user, json!({"title": "through a failover"})).await;
                    *statuses.lock().unwrap().entry(reply.status.as_u16()).or_default() += 1;
                    match reply.status.as_u16() {
                        201 => acknowledged.lock().unwrap().push((Instant::now(), reply.id())),
                        503 => {
                            assert!(reply.header("retry-after").is_some(), "{}", reply.text);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => panic!("{other} during a failover: {}", reply.text),
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    primary.kill_server();
    tokio::time::sleep(Duration::from_millis(300)).await;
    standby.promote();
    let promoted = Instant::now();
    let deadline = promoted + Duration::from_secs(15);
    let first_after = loop {
        let after = acknowledged.lock().unwrap().iter().find(|(at, _)| *at > promoted).map(|(at, _)| *at);
        if let Some(at) = after {
            break at;
        }
        assert!(Instant::now() < deadline, "no write succeeded within 15 s of the promotion");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    let waited = first_after - promoted;
    assert!(waited < Duration::from_secs(5), "first write {waited:?} after the promotion");
    let stored: std::collections::HashSet<i64> =
        Direct::open(&standby.url()).await.ids("SELECT id FROM tasks").await.into_iter().collect();
    let acked: Vec<i64> = acknowledged.lock().unwrap().iter().map(|(_, id)| *id).collect();
    let lost: Vec<&i64> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged creates lost: {lost:?}", lost.len(), acked.len());
    let ready = app.send(app.http.get(app.url("/ready"))).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    // The key's claim and answer were committed with the task: a retry now is a replay.
    let retried = app.send(keyed()).await;
    assert_eq!((retried.status.as_u16(), retried.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(retried.id(), first.id(), "not created twice");
    common::loud(&format!(
        "failover: {} creates acknowledged, 0 lost, statuses {:?}, first 201 {waited:?} after the promotion",
        acked.len(),
        statuses.lock().unwrap()
    ));
}
