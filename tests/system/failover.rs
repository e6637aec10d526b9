//! Failover with a libpq multi-host URL, for real on loopback: a primary with
//! a synchronous standby (`pg_basebackup -R`), the primary killed under a
//! write load and the standby promoted. What must hold: no acknowledged
//! write lost, nothing but 201s and 503s (never a 500) meanwhile, and new
//! writes succeeding within seconds of the promotion, and an idempotency key
//! that still replays its first answer.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::ThrowawayPostgres;
use common::direct::Direct;
use common::{Engine, spawn_app_on};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_standby_takes_over_with_every_acknowledged_write() {
    let Some(primary) = ThrowawayPostgres::start() else { return };
    let standby = primary.standby();
    // Synchronous from here on: a commit is acknowledged once the standby has it.
    let admin = Direct::open(&primary.url()).await;
    admin.execute("ALTER SYSTEM SET synchronous_standby_names = '*'").await;
    admin.execute("SELECT pg_reload_conf()").await;
    drop(admin);
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
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
