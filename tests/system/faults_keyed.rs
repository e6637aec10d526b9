//! Idempotency keys through real faults: clients retry each keyed create
//! until they get an answer while the server is `kill -9`ed (SQLite) or the
//! database is killed and restarted (PostgreSQL). Every key must end with
//! exactly one task, whatever was lost in flight.

use crate::common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::cluster::ThrowawayPostgres;
use common::process::{binary, free_port, signal, sigterm, wait_for_exit, wait_until_listening};
use common::{Engine, SECRET, loud, spawn_app_on, token};
use serde_json::{Value, json};

const CLIENTS: usize = 6;

/// Creates under key after key until `stop`, sending each key's create until
/// it is answered 201 (connection errors, 5xx and 409 "still in flight" are
/// retried, as a client would); returns (keys used, attempts in all).
async fn create_each_key_until_answered(base: String, user: String, stop: Arc<AtomicBool>) -> (usize, usize) {
    let client = common::client_builder().timeout(Duration::from_secs(3)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut keys, mut attempts) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let k = keys;
        keys += 1;
        let key = format!("{user}-key-{k}");
        loop {
            assert!(Instant::now() < deadline, "{key}: no answer within 30 s");
            attempts += 1;
            let sent = client
                .post(format!("{base}/api/{user}/tasks"))
                .bearer_auth(token(&user))
                .header("Idempotency-Key", &key)
                .json(&json!({"title": key}))
                .send()
                .await;
            match sent.map(|reply| reply.status().as_u16()) {
                Ok(201) => break,
                Ok(409 | 500..=599) | Err(_) => {}
                Ok(other) => panic!("{key}: unexpected {other}"),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    (keys, attempts)
}

/// Every key of every client is exactly one task.
async fn assert_one_task_per_key(base: &str, users: &[String], keys: &[usize]) {
    let client = common::http_client();
    for (user, &keys) in users.iter().zip(keys) {
        let url = format!("{base}/api/{user}/tasks");
        let tasks: Vec<Value> =
            client.get(url).bearer_auth(token(user)).send().await.unwrap().json().await.unwrap();
        let mut per_key: HashMap<String, usize> = HashMap::new();
        for task in &tasks {
            *per_key.entry(task["title"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        assert_eq!(per_key.len(), keys, "{user}: every key made a task");
        let doubled: Vec<_> = per_key.iter().filter(|(_, n)| **n != 1).collect();
        assert!(doubled.is_empty(), "{user}: keys that wrote twice: {doubled:?}");
    }
}

type Clients = Vec<tokio::task::JoinHandle<(usize, usize)>>;

fn start_clients(base: &str) -> (Vec<String>, Arc<AtomicBool>, Clients) {
    let users: Vec<String> = (0..CLIENTS).map(|i| format!("retrier{i}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let clients = users
        .iter()
        .map(|u| tokio::spawn(create_each_key_until_answered(base.to_owned(), u.clone(), stop.clone())))
        .collect();
    (users, stop, clients)
}

/// Stops the clients (each finishes its key) and returns the keys each used;
/// more attempts than keys shows the fault really cut requests off.
async fn finish_clients(stop: Arc<AtomicBool>, clients: Clients) -> (Vec<usize>, usize) {
    stop.store(true, Ordering::Relaxed);
    let (mut keys, mut attempts) = (Vec::new(), 0);
    for client in clients {
        let (used, tried) = client.await.unwrap();
        keys.push(used);
        attempts += tried;
    }
    let total: usize = keys.iter().sum();
    assert!(attempts > total, "some requests were cut off and retried ({attempts} attempts, {total} keys)");
    (keys, attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_creates_retried_through_kill_9_on_sqlite_write_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("keys.db").display());
    let port = free_port();
    let serve = || {
        let env =
            [("BETTER_AUTH_SECRET", SECRET), ("DATABASE_URL", url.as_str()), ("PORT", &port.to_string())];
        let child = binary(&env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        wait_until_listening(port);
        child
    };
    let mut child = serve();
    let base = format!("http://127.0.0.1:{port}");
    let (users, stop, clients) = start_clients(&base);
    tokio::time::sleep(Duration::from_millis(600)).await;
    signal(&child, "KILL");
    assert!(!wait_for_exit(&mut child, Duration::from_secs(5)).success(), "killed, not exited");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut restarted = serve();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (keys, attempts) = finish_clients(stop, clients).await;
    assert_one_task_per_key(&base, &users, &keys).await;
    sigterm(&restarted);
    assert!(wait_for_exit(&mut restarted, Duration::from_secs(10)).success());
    let total: usize = keys.iter().sum();
    loud(&format!("keyed kill -9 on SQLite: {total} keys, {attempts} attempts, one task each"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_creates_retried_through_a_postgres_restart_write_once() {
    let Some(pg) = ThrowawayPostgres::start() else { return };
    let app = spawn_app_on(pg.url(), Engine::Postgres, |_| {}).await;
    let (users, stop, clients) = start_clients(&app.base);
    tokio::time::sleep(Duration::from_millis(600)).await;
    pg.kill_server();
    tokio::time::sleep(Duration::from_millis(800)).await;
    pg.start_server();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (keys, attempts) = finish_clients(stop, clients).await;
    assert_one_task_per_key(&app.base, &users, &keys).await;
    let total: usize = keys.iter().sum();
    loud(&format!("keyed postgres restart: {total} keys, {attempts} attempts, one task each"));
}
