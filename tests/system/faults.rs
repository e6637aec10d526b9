//! Faults injected for real, on loopback, each bounded in time: PostgreSQL
//! killed and restarted under load, SIGTERM under load, `kill -9` while
//! writing to SQLite. What must hold: fast 503s instead of hangs, recovery
//! without a restart of the service, and no acknowledged write lost.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::ThrowawayPostgres;
use common::process::{free_port, serve_on, signal, sigterm, wait_for_exit};
use common::{Engine, SECRET, fresh_database, loud, spawn_app_on, stored_task_ids, token};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// One create under load: when it started, how long it took, and its answer.
struct Outcome {
    started: Instant,
    took: Duration,
    status: u16,
    id: Option<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_under_load_gives_fast_503s_then_recovers_and_keeps_every_201() {
    let Some(pg) = ThrowawayPostgres::start() else { return };
    let app = Arc::new(spawn_app_on(pg.url(), Engine::Postgres, |_| {}).await);
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (app, outcomes, running) = (app.clone(), outcomes.clone(), running.clone());
            tokio::spawn(async move {
                let user = format!("load{worker}");
                while running.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let reply = app.create(&user, json!({"title": "under load"})).await;
                    let id = (reply.status == 201).then(|| reply.id());
                    let outcome =
                        Outcome { started, took: started.elapsed(), status: reply.status.as_u16(), id };
                    outcomes.lock().unwrap().push(outcome);
                    if reply.status == 503 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    pg.kill_server();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let asked = Instant::now();
    let ready = app.send(app.http.get(app.url("/ready"))).await;
    assert_eq!(
        (ready.status.as_u16(), ready.header("retry-after")),
        (503, Some("1")),
        "/ready says the database is down"
    );
    assert!(asked.elapsed() < Duration::from_millis(500), "/ready answered at once");

    let restarting = Instant::now();
    pg.start_server();
    let up = Instant::now();
    let recovered = loop {
        let first_201 = outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.started >= up && o.status == 201)
            .map(|o| o.started)
            .min();
        if let Some(at) = first_201 {
            break at - up;
        }
        assert!(up.elapsed() < Duration::from_secs(5), "no 201 within 5 s of the database coming back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Each connection set retries on its own, at most every 500 ms: the set
    // that answers `/ready` may notice the database a little after the one
    // that answered the first 201.
    let noticed = Instant::now();
    while app.send(app.http.get(app.url("/ready"))).await.status != 200 {
        assert!(noticed.elapsed() < Duration::from_secs(2), "/ready is 200 within 2 s of the first 201");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.store(false, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let unexpected: Vec<_> =
        outcomes.iter().filter(|o| !matches!(o.status, 201 | 503)).map(|o| o.status).collect();
    assert!(unexpected.is_empty(), "only 201 or 503, never {unexpected:?}");
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap();
    assert!(slowest < Duration::from_secs(7), "no request hung: slowest {slowest:?}");
    let while_down: Vec<_> = outcomes
        .iter()
        .filter(|o| o.started > killed + Duration::from_millis(500) && o.started < restarting)
        .collect();
    assert!(while_down.len() > 20, "load kept coming while the database was down ({})", while_down.len());
    assert!(while_down.iter().all(|o| o.status == 503), "all 503 while down");
    let slowest_down = while_down.iter().map(|o| o.took).max().unwrap();
    assert!(slowest_down < Duration::from_millis(500), "503s are fast while down: slowest {slowest_down:?}");
    let acknowledged: HashSet<i64> = outcomes.iter().filter_map(|o| o.id).collect();
    let stored = stored_task_ids(&pg.url()).await;
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "every 201 survives the crash; lost {lost:?}");
    loud(&format!(
        "postgres kill: {} requests, {} acknowledged creates kept, {} fast 503s while down (slowest {slowest_down:?}), \
         recovered {recovered:?} after restart",
        outcomes.len(),
        acknowledged.len(),
        while_down.len()
    ));
}

/// A request sent in two halves over a raw socket, so it is in flight for as long as the test likes.
async fn half_sent_create(port: u16, secret: &str) -> (tokio::net::TcpStream, String) {
    let token = todo_api::auth::mint_hs256(secret.as_bytes(), "slow", None, Duration::from_secs(600));
    let body = json!({"title": "finished after SIGTERM"}).to_string();
    let (first, rest) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /api/slow/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    (stream, rest.to_owned())
}

/// Creates as fast as it can on fresh connections until told to stop or
/// refused; returns the created ids and every status seen.
async fn create_until(port: u16, user: String, running: Arc<AtomicBool>) -> (Vec<i64>, Vec<u16>) {
    let client =
        common::client_builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(20)).build().unwrap();
    let url = format!("http://127.0.0.1:{port}/api/{user}/tasks");
    let (mut ids, mut statuses) = (Vec::new(), Vec::new());
    while running.load(Ordering::Relaxed) {
        let Ok(response) =
            client.post(&url).bearer_auth(token(&user)).json(&json!({"title": "t"})).send().await
        else {
            break;
        };
        statuses.push(response.status().as_u16());
        if let Ok(task) = response.json::<Value>().await
            && let Some(id) = task["id"].as_i64()
        {
            ids.push(id);
        }
    }
    (ids, statuses)
}

each_engine! {
    async fn sigterm_under_load_finishes_what_was_accepted_and_exits_zero(engine: Engine) {
        let (url, _db) = fresh_database(engine).await.unwrap();
        let port = free_port();
        let mut child = serve_on(
            port,
            &[("BETTER_AUTH_SECRET", SECRET), ("DATABASE_URL", &url), ("SHUTDOWN_GRACE_SECONDS", "10")],
        );
        let running = Arc::new(AtomicBool::new(true));
        let load: Vec<_> =
            (0..12).map(|i| tokio::spawn(create_until(port, format!("u{i}"), running.clone()))).collect();
        let mut slow = Vec::new();
        for _ in 0..4 {
            slow.push(half_sent_create(port, SECRET).await);
        }
        tokio::time::sleep(Duration::from_millis(700)).await;

        let signalled = Instant::now();
        sigterm(&child);
        // The listener closes: new connections are refused while the slow requests are still open.
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                break;
            }
            assert!(signalled.elapsed() < Duration::from_secs(2), "still accepting after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(child.try_wait().unwrap().is_none(), "draining, not gone");
        // The requests in flight complete.
        let mut slow_ids = Vec::new();
        for (mut stream, rest) in slow {
            stream.write_all(rest.as_bytes()).await.unwrap();
            let mut response = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response).await.unwrap();
            assert!(response.starts_with("HTTP/1.1 201"), "{response}");
            let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
            slow_ids.push(body["id"].as_i64().unwrap());
        }
        let exit = tokio::task::spawn_blocking(move || wait_for_exit(&mut child, Duration::from_secs(10))).await.unwrap();
        assert!(exit.success(), "{exit:?}");
        assert!(signalled.elapsed() < Duration::from_secs(10));
        running.store(false, Ordering::Relaxed);

        let mut acknowledged: HashSet<i64> = slow_ids.into_iter().collect();
        let mut statuses = Vec::new();
        for worker in load {
            let (ids, seen) = worker.await.unwrap();
            acknowledged.extend(ids);
            statuses.extend(seen);
        }
        assert!(statuses.iter().all(|s| *s == 201), "nothing but 201 for what was accepted: {statuses:?}");
        assert!(acknowledged.len() > 4, "the load really ran");
        let stored = stored_task_ids(&url).await;
        assert!(acknowledged.is_subset(&stored), "every 201 is stored");
    }
}

/// What one writer knows for sure after its acknowledged requests: tasks that
/// exist (with their `completed`), tasks that are gone, and the one task (if
/// any) whose last request was unanswered when the server died.
#[derive(Default)]
struct Ledger {
    present: HashMap<i64, bool>,
    absent: HashSet<i64>,
    uncertain: Option<i64>,
}

/// Create, toggle, and delete every other task, one request at a time,
/// until the server stops answering.
async fn write_until_killed(port: u16, user: String) -> Ledger {
    let client = common::client_builder().timeout(Duration::from_secs(20)).build().unwrap();
    let base = format!("http://127.0.0.1:{port}/api/{user}/tasks");
    let bearer = token(&user);
    let mut ledger = Ledger::default();
    for n in 0.. {
        let created =
            client.post(&base).bearer_auth(&bearer).json(&json!({"title": format!("t{n}")})).send().await;
        let Ok(Ok(task)) = (match created {
            Ok(response) => Ok(response.json::<Value>().await),
            Err(error) => Err(error),
        }) else {
            break;
        };
        let id = task["id"].as_i64().expect("a created task");
        ledger.present.insert(id, false);
        ledger.uncertain = Some(id);
        let Ok(toggled) = client.patch(format!("{base}/{id}/complete")).bearer_auth(&bearer).send().await
        else {
            break;
        };
        let Ok(toggled) = toggled.json::<Value>().await else { break };
        assert_eq!(toggled["completed"], true);
        ledger.present.insert(id, true);
        if n % 2 == 1 {
            let Ok(deleted) = client.delete(format!("{base}/{id}")).bearer_auth(&bearer).send().await else {
                break;
            };
            assert_eq!(deleted.status(), 204);
            ledger.present.remove(&id);
            ledger.absent.insert(id);
        }
        ledger.uncertain = None;
    }
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_writing_to_sqlite_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("crash.db").display());
    let serve = |port: u16| serve_on(port, &[("BETTER_AUTH_SECRET", SECRET), ("DATABASE_URL", &url)]);
    let port = free_port();
    let mut child = serve(port);
    let users: Vec<String> = (0..8).map(|i| format!("writer{i}")).collect();
    let writers: Vec<_> =
        users.iter().map(|user| tokio::spawn(write_until_killed(port, user.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&child, "KILL");
    let exit = wait_for_exit(&mut child, Duration::from_secs(5));
    assert!(!exit.success(), "killed, not exited");
    let mut ledgers = Vec::new();
    for writer in writers {
        ledgers.push(writer.await.unwrap());
    }

    let port = free_port();
    let mut restarted = serve(port);
    let client = common::http_client();
    let (mut checked, mut gone) = (0, 0);
    for (user, ledger) in users.iter().zip(&ledgers) {
        let url = format!("http://127.0.0.1:{port}/api/{user}/tasks?limit=1000");
        let tasks: Vec<Value> =
            client.get(url).bearer_auth(token(user)).send().await.unwrap().json().await.unwrap();
        let stored: HashMap<i64, bool> =
            tasks.iter().map(|t| (t["id"].as_i64().unwrap(), t["completed"].as_bool().unwrap())).collect();
        for (id, completed) in &ledger.present {
            if Some(*id) != ledger.uncertain {
                assert_eq!(stored.get(id), Some(completed), "{user}: acknowledged task {id}");
                checked += 1;
            }
        }
        for id in &ledger.absent {
            assert!(!stored.contains_key(id), "{user}: acknowledged delete of {id}");
            gone += 1;
        }
    }
    assert!(checked > 8 && gone > 8, "the writers really wrote ({checked} kept, {gone} deleted)");
    sigterm(&restarted);
    assert!(wait_for_exit(&mut restarted, Duration::from_secs(10)).success());
    loud(&format!(
        "kill -9 on SQLite: {checked} acknowledged tasks and {gone} acknowledged deletes all intact"
    ));
}
