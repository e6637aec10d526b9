//! A flood of random session tokens must not turn todo-api into an amplifier
//! against Better Auth: the auth server (a counting stand-in for its
//! `get-session`, answering `null` after a delay, as Better Auth does for an
//! unknown token) sees at most `BETTER_AUTH_SESSION_LOOKUPS` lookups at any
//! moment and each distinct token at most once, while a user whose session is
//! cached keeps being served.

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use common::{Engine, spawn_app_with};
use futures::StreamExt;
use serde_json::{Value, json};

const LEGIT: &str = "LegitimateSessionToken0123456789";
const BOUND: usize = 4;

#[derive(Default)]
struct Seen {
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    per_token: Mutex<HashMap<String, usize>>,
}

async fn get_session(seen: Arc<Seen>, headers: HeaderMap) -> axum::Json<Value> {
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let token = headers
        .get("authorization")
        .map_or("", |value| value.to_str().unwrap())
        .trim_start_matches("Bearer ")
        .to_owned();
    *seen.per_token.lock().unwrap().entry(token.clone()).or_default() += 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    axum::Json(if token == LEGIT {
        json!({"session": {"expiresAt": "2099-01-01T00:00:00.000Z", "token": LEGIT}, "user": {"id": "legit", "email": null}})
    } else {
        Value::Null
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_session_tokens_reach_better_auth_bounded_and_once_each() {
    let seen = Arc::new(Seen::default());
    let router = axum::Router::new().route(
        "/api/auth/get-session",
        get({
            let seen = seen.clone();
            move |headers: HeaderMap| get_session(seen.clone(), headers)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let url = auth_base.clone();
    let app = spawn_app_with(Engine::Sqlite, move |s| {
        s.auth.better_auth_secret = None;
        s.auth.better_auth_url = Some(url);
        s.auth.better_auth_sessions = true;
        s.auth.better_auth_session_lookups = BOUND as u64;
    })
    .await
    .unwrap();
    let legit = || app.send(app.http.get(app.url("/api/legit/tasks")).bearer_auth(LEGIT));
    assert_eq!(legit().await.status, 200, "the legitimate session, now cached");

    let tokens: Vec<String> =
        (0..2000).map(|i| format!("Flood{i:05}{:016x}", rand::random::<u64>())).collect();
    let flood = futures::stream::iter(tokens.iter().cloned())
        .map(|token| {
            let app = &app;
            async move {
                app.send(app.http.get(app.url("/api/victim/tasks")).bearer_auth(token)).await.status.as_u16()
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<u16>>();
    let meanwhile = async {
        let mut served = Vec::new();
        for _ in 0..50 {
            served.push(legit().await.status.as_u16());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        served
    };
    let (statuses, served) = tokio::join!(flood, meanwhile);

    assert!(statuses.iter().all(|s| matches!(s, 401 | 429)), "only 401 or 429");
    let busy = app.send(app.http.get(app.url("/api/victim/tasks")).bearer_auth("x")).await;
    assert!(matches!(busy.status.as_u16(), 401 | 429));
    assert!(served.iter().all(|&s| s == 200), "the cached user was served throughout: {served:?}");
    let most = seen.most_in_flight.load(Ordering::SeqCst);
    assert!(most <= BOUND, "at most {BOUND} lookups at once, saw {most}");
    let repeated: Vec<(String, usize)> = seen
        .per_token
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    assert!(repeated.is_empty(), "each distinct token looked up at most once: {repeated:?}");

    // Concurrent requests with one new token share one lookup.
    let shared = "SharedNewSessionToken0123456789ab";
    let together = (0..20).map(|_| app.send(app.http.get(app.url("/api/victim/tasks")).bearer_auth(shared)));
    let answers = futures::future::join_all(together).await;
    assert!(answers.iter().all(|reply| reply.status == 401), "unknown to the auth server");
    assert_eq!(seen.per_token.lock().unwrap()[shared], 1, "twenty requests, one lookup");

    // `todo-api check` asks the session endpoint too.
    let output = common::process::binary(&[
        ("BETTER_AUTH_URL", &auth_base),
        ("BETTER_AUTH_SESSIONS", "true"),
        ("DATABASE_URL", "sqlite::memory:"),
    ])
    .arg("check")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok    sessions: ") && stdout.contains("/api/auth/get-session answers"),
        "{stdout}"
    );
    let per_token = seen.per_token.lock().unwrap();
    common::loud(&format!(
        "session flood: 2000 random tokens -> {} lookups (at most {most} at once), {} x 401, {} x 429",
        per_token.keys().filter(|token| token.starts_with("Flood")).count(),
        statuses.iter().filter(|&&s| s == 401).count(),
        statuses.iter().filter(|&&s| s == 429).count()
    ));
}
