//! What an operator relies on: metrics that count, request ids, logs free of
//! secrets, a graceful stop that finishes in-flight requests, and `check`.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use common::process::{binary, free_port, serve_on, sigterm, wait_for_exit, wait_until_listening};
use common::{Engine, TestApp, spawn_app, spawn_app_with, token};
use serde_json::{Value, json};

/// The value of the sample whose line starts with `prefix` (name and labels), or 0.
fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0.0, |value| value.parse().unwrap())
}

async fn scrape(app: &TestApp) -> String {
    let base = app.metrics_base.as_deref().unwrap_or(&app.base);
    let reply = app.send(app.http.get(format!("{base}/metrics"))).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    reply.text
}

const LIST_200: &str =
    r#"todo_api_http_requests_total{route="/api/{user_id}/tasks",method="GET",status="200"}"#;
const MISSING_TOKEN: &str = r#"todo_api_auth_failures_total{reason="missing_credentials"}"#;

contract! {
    async fn metrics_count_requests_failures_and_pools(app: TestApp) {
        let before = scrape(&app).await;
        app.list("alice", "").await;
        app.list("alice", "").await;
        app.send(app.http.get(app.url("/api/alice/tasks"))).await;
        app.send(app.http.get(app.url("/no/such/route"))).await;
        let after = scrape(&app).await;

        assert!(sample(&after, LIST_200) >= sample(&before, LIST_200) + 2.0, "{after}");
        assert!(sample(&after, MISSING_TOKEN) >= sample(&before, MISSING_TOKEN) + 1.0);
        assert!(sample(&after, r#"todo_api_http_requests_total{route="unmatched",method="GET",status="404"}"#) >= 1.0);
        assert!(after.contains(r#"todo_api_http_request_duration_seconds_bucket{le="0.00025",route="/api/{user_id}/tasks",method="GET"}"#)
            || after.contains(r#"todo_api_http_request_duration_seconds_bucket{route="/api/{user_id}/tasks",method="GET",le="0.00025"}"#),
            "{after}");
        assert!(after.contains("todo_api_http_requests_in_flight"));
        let pool = if app.engine == Engine::Sqlite { "sqlite_reads" } else { "postgres" };
        assert_eq!(sample(&after, &format!(r#"todo_api_db_pool_max_connections{{pool="{pool}"}}"#)), 8.0, "{after}");
        // Write connections open in the background: give them a moment under a loaded test run.
        let open = format!(r#"todo_api_db_pool_connections{{pool="{pool}"}}"#);
        let waited = std::time::Instant::now();
        while sample(&scrape(&app).await, &open) < 1.0 {
            assert!(waited.elapsed() < std::time::Duration::from_secs(5), "no {pool} connection open: {after}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Route templates only: no user id or task id ever becomes a label.
        assert!(!after.contains("alice"));
    }

    async fn request_ids_round_trip(app: TestApp) {
        let with_id = app.send(app.http.get(app.url("/api/alice/tasks")).bearer_auth(token("alice"))
            .header("x-request-id", "req-42.a")).await;
        assert_eq!(with_id.header("x-request-id"), Some("req-42.a"));
        for request in [
            app.http.get(app.url("/api/alice/tasks")),
            app.http.get(app.url("/nowhere")),
            app.http.get(app.url("/health")).header("x-request-id", "no spaces allowed"),
        ] {
            let reply = app.send(request).await;
            let id = reply.header("x-request-id").expect("every response has an id");
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.metrics_addr = Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    assert!(scrape(&app).await.contains("todo_api_http_requests_in_flight"));
    let on_api = app.send(app.http.get(app.url("/metrics"))).await;
    assert_eq!(on_api.status, 404, "not on the public address");
}

fn http(port: u16, raw: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// With debug logs, JSON format and a password in the database URL, a run of
/// requests leaves no token, secret or password in any log line, and the
/// request line has what an operator needs.
#[test]
fn logs_are_structured_and_free_of_secrets() {
    let secret = "log-test-secret-log-test-secret-log-test";
    let password = "hunter2-db-password";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pg = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let use_pg = common::postgres_enabled();
    let database = if use_pg {
        // Trust auth ignores the password, but the server must not print it.
        pg.replacen("postgres://postgres@", &format!("postgres://postgres:{password}@"), 1)
    } else {
        format!("sqlite:{}", dir.path().join("logs.db").display())
    };
    let port_text = port.to_string();
    let mut child = binary(&[
        ("BETTER_AUTH_SECRET", secret),
        ("DATABASE_URL", &database),
        ("PORT", &port_text),
        ("LOG_LEVEL", "debug"),
        ("LOG_FORMAT", "json"),
    ])
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    wait_until_listening(port);

    let good = todo_api::auth::mint_hs256(
        secret.as_bytes(),
        "log-user",
        Some("log@example.com"),
        Duration::from_secs(60),
    );
    let bad = format!("{good}x");
    let body = json!({"title": "logged"}).to_string();
    let created = http(
        port,
        &format!(
            "POST /api/log-user/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good}\r\nX-Request-Id: trace-me-1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let rejected = http(
        port,
        &format!(
            "GET /api/log-user/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bad}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(rejected.starts_with("HTTP/1.1 401"), "{rejected}");
    sigterm(&child);
    assert!(child.wait().unwrap().success());

    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    for forbidden in [good.as_str(), bad.as_str(), secret, password, &good[good.rfind('.').unwrap() + 1..]] {
        assert!(!logs.contains(forbidden), "a log line carries a secret");
    }
    let lines: Vec<Value> =
        logs.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request" && l["span"]["request_id"] == "trace-me-1")
        .expect("a line for the request");
    assert_eq!(request["fields"]["status"], 201);
    assert_eq!(request["span"]["route"], "/api/{user_id}/tasks");
    assert_eq!(request["span"]["user_id"], "log-user");
    assert!(request["fields"]["latency_ms"].as_f64().is_some());
    let startup =
        lines.iter().find(|l| l["fields"]["message"] == "todo-api listening").expect("startup line");
    assert!(startup["fields"]["database"].as_str().unwrap().len() > 5);
}

/// SIGTERM while a request is half sent: it is completed, then the process exits 0.
#[test]
fn graceful_shutdown_completes_an_in_flight_request() {
    let secret = "shutdown-secret-shutdown-secret-shutdown";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let database = format!("sqlite:{}", dir.path().join("stop.db").display());
    let mut child = serve_on(port, &[("BETTER_AUTH_SECRET", secret), ("DATABASE_URL", &database)]);

    let token = todo_api::auth::mint_hs256(secret.as_bytes(), "u", None, Duration::from_secs(60));
    let body = json!({"title": "finished after SIGTERM"}).to_string();
    let (first, rest) = body.split_at(10);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/u/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                    Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "still draining");
    stream.write_all(rest.as_bytes()).unwrap();
    let mut status = String::new();
    BufReader::new(&stream).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 201"), "{status}");

    let exit = wait_for_exit(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn check_reports_each_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("check.db").display());
    let secret = ("BETTER_AUTH_SECRET", "check-secret-check-secret-check-secret-00");
    let ok = binary(&[secret, ("DATABASE_URL", &database)]).arg("check").output().unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{stdout}");
    assert!(stdout.contains("ok    database: sqlite:"), "{stdout}");
    assert!(stdout.contains("ok    configuration: auth hs256"), "{stdout}");

    let bad = binary(&[
        secret,
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
        ("JWKS_URL", "http://127.0.0.1:1/jwks"),
    ])
    .arg("check")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  database:"), "{stdout}");
    assert!(stdout.contains("FAIL  jwks:"), "{stdout}");
}

#[tokio::test]
async fn ready_reports_each_dependency() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let ready = app.send(app.http.get(app.url("/ready"))).await;
    assert_eq!(
        ready.json,
        json!({"status": "ready", "database": "ok", "jwks": "not configured", "sessions": "not configured"})
    );
}

/// A keep-alive connection that has been answered once.
async fn answered_connection(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut read = vec![0; 1024];
    let n = stream.read(&mut read).await.unwrap();
    assert!(read[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&read[..n]));
    stream
}

each_engine! {
    // Two connections on two workers keep both busy: each worker serves one,
    // every time. The kernel's SO_REUSEPORT hash alone puts both on one
    // worker half the time, so twenty rounds without the balance would pass
    // about once in a million.
    async fn two_connections_are_served_by_two_workers(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.workers = Some(2)).await.unwrap();
        for round in 0..20 {
            let first = answered_connection(&app).await;
            let second = answered_connection(&app).await;
            assert_eq!(app.balance.open(), [1, 1], "round {round}");
            drop((first, second));
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while app.balance.open() != [0, 0] {
                assert!(std::time::Instant::now() < deadline, "connections never closed: {:?}", app.balance.open());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let metrics = scrape(&app).await;
        assert!(metrics.contains(r#"todo_api_worker_connections_open{worker="1"}"#), "{metrics}");
        app.stop().await;
    }
}

/// Connections still waiting in the accept queue when the listener closes
/// have sent their requests: they are answered (once, `Connection: close`),
/// not reset. With MAX_CONNECTIONS=1 held by an idle keep-alive connection,
/// five more wait through the whole drain (each worker has accepted one of
/// them and waits for a slot; the rest are in the kernel's queues).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accept_queue_is_answered_when_the_listener_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.max_connections = 1;
        s.protection.drain_seconds = 1;
    })
    .await
    .unwrap();
    let held = answered_connection(&app).await;
    let mut waiting = Vec::new();
    for _ in 0..5 {
        let mut stream = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        waiting.push(tokio::spawn(async move {
            let mut response = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response)).await;
            (read.map(|r| r.map_err(|e| e.kind())), String::from_utf8_lossy(&response).into_owned())
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.balance.open().iter().sum::<usize>(), 1, "the others are still waiting");
    app.stop().await;
    drop(held);
    for waiter in waiting {
        let (read, response) = waiter.await.unwrap();
        assert!(matches!(read, Ok(Ok(_))), "{read:?}: {response}");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
    }
}
