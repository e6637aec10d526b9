//! Test harness: `spawn_app(engine)` starts the real server on port 0 with a
//! fresh database (a temp SQLite file, or a fresh PostgreSQL schema), and
//! `contract!` runs each test body against both engines.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). If it cannot be reached the
//! PostgreSQL tests fail, saying how to fix it; a developer without PostgreSQL
//! may opt out with `TODO_API_SKIP_POSTGRES=1`, which CI (`CI` set) refuses.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod cluster;
pub mod direct;
pub mod keys;
pub mod node;
pub mod pooler;
pub mod process;
pub mod sse;

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use todo_api::app::App;
use todo_api::auth::mint_hs256;
use todo_api::config::{Config, Settings};
use todo_api::store::Store;

use direct::{Direct, pg_client};

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    /// PostgreSQL through a transaction-mode PgBouncer.
    PostgresPooled,
}

impl Engine {
    pub fn enabled(self) -> bool {
        self == Engine::Sqlite || postgres_enabled()
    }
}

/// Runs each `async fn name(engine: Engine) { ... }` once per engine, as
/// `name::sqlite` and `name::postgres`, for tests that start their own apps.
#[macro_export]
macro_rules! each_engine {
    // Also through PgBouncer in transaction mode, as `name::pooled`.
    (@and_pooled $(async fn $name:ident($engine:ident: Engine) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($engine: Engine) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(Engine::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if Engine::Postgres.enabled() {
                        run(Engine::Postgres).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn pooled() {
                    if Engine::PostgresPooled.enabled() {
                        run(Engine::PostgresPooled).await;
                    }
                }
            }
        )*
    };
    ($(async fn $name:ident($engine:ident: Engine) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($engine: Engine) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(Engine::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if common::postgres_enabled() {
                        run(Engine::Postgres).await;
                    }
                }
            }
        )*
    };
}

/// Runs each `async fn name(app: TestApp) { ... }` once per engine, as
/// `name::sqlite`, `name::postgres` and `name::pooled` (PostgreSQL through
/// PgBouncer in transaction mode), each with a freshly spawned app.
#[macro_export]
macro_rules! contract {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        each_engine! { @and_pooled
            $(
                async fn $name(engine: Engine) {
                    let $app: TestApp = spawn_app(engine).await.expect("the engine is enabled");
                    $body
                }
            )*
        }
    };
}

pub fn settings(database_url: String) -> Settings {
    Settings {
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        workers: None,
        database_url,
        database_max_connections: 8,
        database_statement_timeout_seconds: 5,
        database_pooler: "auto".into(),
        database_read_url: None,
        database_read_max_lag_ms: 1000,
        max_tasks_per_user: 10_000,
        max_title_chars: 200,
        max_description_chars: 1000,
        request_timeout_seconds: 15,
        max_connections: 4096,
        header_timeout_seconds: 30,
        idempotency_key_ttl_seconds: 86_400,
        cors_origins: "http://localhost:3000".into(),
        log_level: "warn".into(),
        log_format: todo_api::telemetry::LogFormat::Text,
        metrics_addr: None,
        shutdown_grace_seconds: 5,
        auth: todo_api::config::AuthSettings {
            better_auth_secret: Some(SECRET.into()),
            jwt_leeway_seconds: 0,
            better_auth_url: None,
            better_auth_sessions: false,
            better_auth_session_ttl_seconds: 30,
            better_auth_session_lookups: 16,
            jwks_url: None,
            jwks_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwks_refresh_seconds: 300,
            jwks_min_refetch_seconds: 30,
        },
        realtime: todo_api::config::RealtimeSettings {
            change_retention_days: 7,
            change_retention_events: 10_000,
            max_streams: 2_000,
            max_streams_per_user: 16,
            events_heartbeat_seconds: 15,
            events_ticket_ttl_seconds: 30,
            events_max_seconds: 3600,
            database_listen_url: None,
        },
        // Off unless a test is about them: many tests send bursts no frontend would.
        protection: todo_api::config::ProtectionSettings {
            rate_limit_per_second: 0,
            rate_limit_burst: 100,
            auth_failures_per_minute: 0,
            auth_failures_burst: 20,
            trusted_proxies: String::new(),
            drain_seconds: 0,
        },
    }
}

/// A fresh database, removed when dropped (even when the test panics).
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin_url: String,
        schema: String,
    },
    /// A database of its own behind a PgBouncer of its own.
    Pooled {
        bouncer: Option<pooler::Bouncer>,
        admin_url: String,
        name: String,
        direct_url: String,
    },
    /// Managed by the test itself.
    External,
}

impl TestDb {
    /// Where the test's own connections go (around the pooler, if any).
    pub fn direct_url(&self) -> Option<String> {
        match self {
            TestDb::Pooled { direct_url, .. } => Some(direct_url.clone()),
            _ => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let cleanup = match self {
            TestDb::Postgres { admin_url, schema } => {
                Some((admin_url.clone(), format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
            }
            TestDb::Pooled { bouncer, admin_url, name, .. } => {
                drop(bouncer.take());
                Some((admin_url.clone(), format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            }
            _ => None,
        };
        if let Some((url, sql)) = cleanup {
            // Drop cannot await; a short-lived runtime on its own thread can.
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                    if let Ok(client) = pg_client(&url).await {
                        let _ = client.batch_execute(&sql).await;
                    }
                })
            })
            .join();
        }
    }
}

/// Straight to the terminal: the test harness captures `eprintln!` of passing
/// tests, and a skip must be seen.
pub fn loud(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

pub fn postgres_enabled() -> bool {
    postgres_url().is_some()
}

pub fn postgres_url() -> Option<String> {
    let skip = std::env::var("TODO_API_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    if skip && !in_ci {
        loud("*** SKIPPED: PostgreSQL test (TODO_API_SKIP_POSTGRES=1) ***");
        return None;
    }
    Some(std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned()))
}

pub async fn fresh_database(engine: Engine) -> Option<(String, TestDb)> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("todo.db").display());
            Some((url, TestDb::Sqlite(dir)))
        }
        Engine::Postgres => {
            let admin_url = postgres_url()?;
            let client = pg_client(&admin_url).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at TEST_DATABASE_URL ({e}). Start it, point \
                     TEST_DATABASE_URL at one, or set TODO_API_SKIP_POSTGRES=1 to skip (not in CI)."
                )
            });
            let schema = format!("todo_test_{}", uuid_like());
            client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
            let separator = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
            Some((url, TestDb::Postgres { admin_url, schema }))
        }
        Engine::PostgresPooled => {
            let admin_url = postgres_url()?;
            let client = pg_client(&admin_url).await.expect("PostgreSQL is reachable at TEST_DATABASE_URL");
            let name = format!("todo_pool_{}", uuid_like());
            let (server, _) = admin_url.split('?').next().unwrap().rsplit_once('/').unwrap();
            let upstream = server.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or(5432);
            let bouncer = pooler::Bouncer::start(upstream)?;
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
            let url = format!("postgres://postgres@127.0.0.1:{}/{name}?pooler=transaction", bouncer.port);
            let direct_url = format!("{server}/{name}");
            Some((url, TestDb::Pooled { bouncer: Some(bouncer), admin_url, name, direct_url }))
        }
    }
}

fn uuid_like() -> String {
    format!("{:016x}{:08x}", rand::random::<u64>(), std::process::id())
}

pub struct TestApp {
    pub base: String,
    /// Where `/metrics` is served when `METRICS_ADDR` is set.
    pub metrics_base: Option<String>,
    pub http: reqwest::Client,
    pub store: Store,
    pub engine: Engine,
    /// The app's own `DATABASE_URL`, for the test's direct connections.
    pub database_url: String,
    /// Each worker's open connections.
    pub balance: std::sync::Arc<todo_api::http::Balance>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), todo_api::app::RunError>>>,
    _db: TestDb,
}

pub async fn spawn_app(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, |_| {}).await
}

/// `spawn_app` with settings adjusted by `adjust` (auth methods, limits, ...).
pub async fn spawn_app_with(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let (url, db) = fresh_database(engine).await?;
    Some(start(url, db, engine, adjust).await)
}

/// An app on a database the test manages itself (e.g. a PostgreSQL it restarts).
pub async fn spawn_app_on(url: String, engine: Engine, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    start(url, TestDb::External, engine, adjust).await
}

/// An app on a fresh database the test has already filled (see `fresh_database`).
pub async fn spawn_app_on_fresh(url: String, db: TestDb, engine: Engine) -> TestApp {
    start(url, db, engine, |_| {}).await
}

async fn start(url: String, db: TestDb, engine: Engine, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = settings(url);
    adjust(&mut settings);
    let config = Config::from_settings(&settings).unwrap();
    let app = App::build(config).await.expect("the app starts");
    let url = db.direct_url().unwrap_or_else(|| settings.database_url.clone());
    let base = format!("http://{}", app.local_addr());
    let metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
    let store = app.store().clone();
    let balance = app.balance();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        base,
        metrics_base,
        http: http_client(),
        store,
        engine,
        database_url: url,
        balance,
        shutdown: Some(tx),
        server: Some(server),
        _db: db,
    }
}

/// The ids of every task in the database at `url`, read directly (no server).
pub async fn stored_task_ids(url: &str) -> std::collections::HashSet<i64> {
    Direct::open(url).await.ids("SELECT id FROM tasks").await.into_iter().collect()
}

/// reqwest is built without a default TLS provider (the service brings ring);
/// tests install the same one before building a client.
pub fn http_client() -> reqwest::Client {
    client_builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// For clients with other settings; the provider is installed first (see `http_client`).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

pub fn token(sub: &str) -> String {
    mint_hs256(SECRET.as_bytes(), sub, None, Duration::from_secs(600))
}

/// What a test looks at in a response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is empty or not JSON.
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn detail(&self) -> &Value {
        &self.json["detail"]
    }

    pub fn id(&self) -> i64 {
        self.json["id"].as_i64().unwrap_or_else(|| panic!("no id in {}", self.text))
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    /// `method path` as `user` (bearer token for that sub), with an optional JSON body.
    pub async fn call(&self, user: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token(user));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn create(&self, user: &str, body: Value) -> Reply {
        self.call(user, Method::POST, &format!("/api/{user}/tasks"), Some(body)).await
    }

    /// Creates a task titled `title` and returns its id.
    pub async fn task(&self, user: &str, title: &str) -> i64 {
        let reply = self.create(user, json!({ "title": title })).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.id()
    }

    pub async fn list(&self, user: &str, query: &str) -> Reply {
        self.call(user, Method::GET, &format!("/api/{user}/tasks{query}"), None).await
    }

    /// `(id, email)` of every row in `users`, read straight from the app's database.
    pub async fn users(&self) -> Vec<(String, Option<String>)> {
        self.direct().await.pairs("SELECT id, email FROM users ORDER BY id").await
    }

    /// Runs `sql` on the app's database behind its back (to break it on purpose).
    pub async fn execute(&self, sql: &'static str) {
        self.direct().await.execute(sql).await
    }

    /// A connection of the test's own to the app's database.
    pub async fn direct(&self) -> Direct {
        Direct::open(&self.database_url).await
    }

    /// The server's address, for raw sockets.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }

    /// Sends `request` byte for byte over a new connection (no client-side
    /// normalisation of paths or headers) and returns the status and body.
    pub async fn raw(&self, request: &str) -> (u16, String) {
        raw_http(self.addr(), request.as_bytes()).await
    }

    /// Stops the server gracefully and waits for it to exit.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// Writes `request` to a new connection and reads the response until the
/// server closes it (send `Connection: close`). `(0, "")` if nothing came back.
pub async fn raw_http(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response)).await;
    read.expect("the server answers and closes").unwrap_or_default();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// A compact JWS from raw header and claims JSON (so tests can send duplicate
/// keys, odd types or any `alg`), HMAC-signed with `secret` using `alg`.
pub fn forge(header: &str, claims: &str, secret: &[u8], alg: jsonwebtoken::Algorithm) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!("{}.{}", b64.encode(header), b64.encode(claims));
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
    format!("{message}.{signature}")
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}
