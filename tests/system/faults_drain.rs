//! SIGTERM under load with a drain (DRAIN_SECONDS): `/ready` turns 503 at
//! once, every request is still answered (new connections included; none is
//! reset), responses ask their connections to close, and the process exits 0
//! when the drain and the requests in flight are done. Twenty times per engine.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::process::{free_port, serve_on, sigterm, wait_for_exit};
use common::{Engine, SECRET, fresh_database, loud, token};

#[derive(Default)]
struct Tally {
    answered: usize,
    broken: Vec<String>,
    closing: usize,
}

/// One request per new connection, until told to stop.
async fn load(port: u16, user: String, running: Arc<AtomicBool>) -> Tally {
    let client =
        common::client_builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("http://127.0.0.1:{port}/api/{user}/tasks");
    let bearer = token(&user);
    let mut tally = Tally::default();
    while running.load(Ordering::Relaxed) {
        match client.get(&url).bearer_auth(&bearer).send().await {
            Ok(response) if response.status() == 200 => {
                tally.answered += 1;
                tally.closing +=
                    usize::from(response.headers().get("connection").is_some_and(|v| v == "close"));
            }
            Ok(response) => tally.broken.push(format!("status {}", response.status())),
            Err(error) => tally.broken.push(format!("{error:?}")),
        }
    }
    tally
}

/// `/ready` from the signal on: how long until the first 503, and whether a 200 came after it.
async fn watch_ready(port: u16, running: Arc<AtomicBool>) -> (Option<Duration>, bool) {
    let client = common::client_builder().pool_max_idle_per_host(0).build().unwrap();
    let url = format!("http://127.0.0.1:{port}/ready");
    let signalled = Instant::now();
    let (mut first_503, mut ready_again) = (None, false);
    while running.load(Ordering::Relaxed) {
        if let Ok(response) = client.get(&url).send().await {
            match (response.status().as_u16(), first_503) {
                (503, None) => first_503 = Some(signalled.elapsed()),
                (200, Some(_)) => ready_again = true,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (first_503, ready_again)
}

async fn one_drain(url: &str) -> Tally {
    let port = free_port();
    let mut child = serve_on(
        port,
        &[
            ("BETTER_AUTH_SECRET", SECRET),
            ("DATABASE_URL", url),
            ("DRAIN_SECONDS", "1"),
            ("SHUTDOWN_GRACE_SECONDS", "5"),
        ],
    );
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> =
        (0..16).map(|i| tokio::spawn(load(port, format!("u{i}"), running.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    sigterm(&child);
    let watching = Arc::new(AtomicBool::new(true));
    let ready = tokio::spawn(watch_ready(port, watching.clone()));
    // Well inside the one-second drain: every request must still be answered.
    tokio::time::sleep(Duration::from_millis(700)).await;
    running.store(false, Ordering::Relaxed);
    watching.store(false, Ordering::Relaxed);
    let mut tally = Tally::default();
    for client in clients {
        let part = client.await.unwrap();
        tally.answered += part.answered;
        tally.closing += part.closing;
        tally.broken.extend(part.broken);
    }
    let (first_503, ready_again) = ready.await.unwrap();
    // Watched for 700 ms of a one-second drain: a 503 seen at all came while the server
    // still served, which is the promise. How soon is a benchmark's question, not a
    // test's (a loaded CI machine once took 160 ms).
    first_503.expect("/ready answered 503 during the drain");
    assert!(!ready_again, "/ready stayed 503 once draining");
    let exit = tokio::task::spawn_blocking(move || wait_for_exit(&mut child, Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(signalled.elapsed() >= Duration::from_secs(1), "kept serving for the whole drain");
    tally
}

each_engine! {
    async fn sigterm_under_load_drains_without_breaking_a_request(engine: Engine) {
        let (url, _db) = fresh_database(engine).await.unwrap();
        let (mut answered, mut closing) = (0, 0);
        for run in 0..20 {
            let tally = one_drain(&url).await;
            assert!(tally.broken.is_empty(), "run {run}: {} broken requests: {:?}", tally.broken.len(), tally.broken);
            assert!(tally.answered > 16, "run {run}: the load really ran");
            assert!(tally.closing > 0, "run {run}: responses during the drain ask the connection to close");
            answered += tally.answered;
            closing += tally.closing;
        }
        loud(&format!("drain x20: {answered} requests answered, 0 broken, {closing} with Connection: close"));
    }
}
