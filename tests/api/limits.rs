//! Resource limits: the per-user task quota (exact under concurrency), the
//! database statement timeout, the request timeout, the header timeout and the
//! connection cap (back-pressure, not refusal). Database-bound limits run on
//! both engines.

use crate::common;

use std::time::{Duration, Instant};

use common::direct::Direct;
use common::{Engine, TestApp, raw_http, spawn_app_with, token};
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const QUOTA_DETAIL: &str = "Task limit reached: a user can have at most 3 tasks; delete some to create more";

/// A write lock on the tasks table held from outside the app, until released.
struct HeldLock(Direct);

impl HeldLock {
    async fn take(app: &TestApp) -> Self {
        let direct = app.direct().await;
        match &direct {
            Direct::Postgres(_) => direct.execute("BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE").await,
            Direct::Sqlite(_) => direct.execute("BEGIN IMMEDIATE").await,
        }
        HeldLock(direct)
    }

    async fn release(self) {
        self.0.execute("ROLLBACK").await
    }
}

each_engine! {
    async fn the_task_quota_is_a_409_that_writes_nothing(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.max_tasks_per_user = 3).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(app.task("alice", &format!("t{i}")).await);
        }
        let over = app.create("alice", json!({"title": "one too many"})).await;
        assert_eq!((over.status.as_u16(), over.detail().as_str()), (409, Some(QUOTA_DETAIL)));
        assert_eq!(app.list("alice", "").await.header("x-total-count"), Some("3"), "nothing was written");
        // Each user has a quota of their own.
        app.task("bob", "b").await;
        // Deletes that delete nothing give nothing back: a missing id, a foreign id.
        let missing = app.call("alice", Method::DELETE, "/api/alice/tasks/999999999", None).await;
        let foreign = app.call("bob", Method::DELETE, &format!("/api/bob/tasks/{}", ids[0]), None).await;
        assert_eq!((missing.status.as_u16(), foreign.status.as_u16()), (404, 404));
        assert_eq!(app.create("alice", json!({"title": "still full"})).await.status, 409);
        // A real delete gives exactly one slot back.
        assert_eq!(app.call("alice", Method::DELETE, &format!("/api/alice/tasks/{}", ids[0]), None).await.status, 204);
        assert_eq!(app.create("alice", json!({"title": "again"})).await.status, 201);
        assert_eq!(app.create("alice", json!({"title": "full again"})).await.status, 409);
        assert_eq!(app.list("alice", "").await.header("x-total-count"), Some("3"));
    }

    async fn the_quota_is_exact_under_concurrent_creates(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.max_tasks_per_user = 25).await.unwrap();
        let creates = (0..300).map(|i| {
            let user = if i % 3 == 0 { "bob" } else { "alice" };
            let app = &app;
            async move { (user, app.create(user, json!({"title": format!("t{i}")})).await) }
        });
        let replies = join_all(creates).await;
        for user in ["alice", "bob"] {
            let mine: Vec<_> = replies.iter().filter(|(u, _)| *u == user).map(|(_, r)| r).collect();
            let created = mine.iter().filter(|r| r.status == 201).count();
            let refused = mine.iter().filter(|r| r.status == 409).count();
            assert_eq!((created, refused), (25, mine.len() - 25), "{user}: every create is 201 or 409, 25 of them 201");
            assert_eq!(app.list(user, "").await.header("x-total-count"), Some("25"));
        }
    }

    async fn a_statement_stuck_on_a_lock_is_a_503_after_the_statement_timeout(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.database_statement_timeout_seconds = 1).await.unwrap();
        let id = app.task("alice", "t").await;
        let toggle = format!("/api/alice/tasks/{id}/complete");
        let lock = HeldLock::take(&app).await;
        let started = Instant::now();
        let reply = app.call("alice", Method::PATCH, &toggle, None).await;
        let waited = started.elapsed();
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert_eq!(reply.detail(), "Database unavailable, try again shortly");
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "answered after {waited:?}");
        lock.release().await;
        let after = app.call("alice", Method::PATCH, &toggle, None).await;
        assert_eq!((after.status.as_u16(), after.json["completed"].clone()), (200, json!(true)), "flipped once, not twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlives_the_timeout_is_cancelled_with_503_and_writes_nothing() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.request_timeout_seconds = 1).await.unwrap();
    let mut stream = TcpStream::connect(app.addr()).await.unwrap();
    let head = format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"title\":",
        token("alice")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes.
    let started = Instant::now();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(
        response
            .contains(r#"{"detail":"Request took longer than 1 s and was cancelled; try again shortly"}"#)
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(app.list("alice", "").await.header("x-total-count"), Some("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_finish_their_headers_or_idle_are_disconnected() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.header_timeout_seconds = 1).await.unwrap();
    for opening in ["GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ", ""] {
        let started = Instant::now();
        let mut stream = TcpStream::connect(app.addr()).await.unwrap();
        stream.write_all(opening.as_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "{opening:?}: still open after 5 s");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{opening:?}: closed after {:?}",
            started.elapsed()
        );
    }
    // A prompt client on a fresh connection is unaffected.
    let (status, _) =
        raw_http(app.addr(), b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 200);
}
