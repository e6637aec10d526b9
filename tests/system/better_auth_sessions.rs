//! Better Auth session tokens (BETTER_AUTH_SESSIONS=true), against the real
//! thing: `better-auth` with its `bearer()` plugin, served by its Node handler
//! (tests/interop/better-auth/session-server.mjs). Users signed up through it
//! call todo-api with the `set-auth-token` value and with `session.token`:
//! their own path works, another's is 403, a signed-out session is 401 within
//! the cache TTL, a random token is 401 (looked up once), and with the auth
//! server stopped cached sessions still work while uncached ones get 503.
//!
//! Both engines run one after another in one test: the lookup counts it reads
//! are process-wide metrics.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Engine, TestApp, spawn_app_with};
use reqwest::Method;
use serde_json::json;

const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/better-auth");

/// The auth server, killed when dropped.
struct BetterAuth {
    child: Child,
    base: String,
}

impl BetterAuth {
    fn start() -> Self {
        common::node::install(INTEROP_DIR, "better-auth");
        let port = common::process::free_port();
        let mut child = Command::new("node")
            .args(["session-server.mjs", &port.to_string()])
            .current_dir(INTEROP_DIR)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening", "session-server.mjs started");
        Self { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// Signs a user up: their id, the `set-auth-token` value, and `session.token`.
    async fn sign_up(&self, name: &str) -> (String, String, String) {
        let http = common::http_client();
        let response = http
            .post(format!("{}/api/auth/sign-up/email", self.base))
            .header("origin", &self.base)
            .json(&json!({"email": format!("{name}@example.com"), "password": "correct horse battery staple", "name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bearer = response.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let user: serde_json::Value = response.json().await.unwrap();
        let session: serde_json::Value = http
            .get(format!("{}/api/auth/get-session", self.base))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let raw = session["session"]["token"].as_str().unwrap().to_owned();
        (user["user"]["id"].as_str().unwrap().to_owned(), bearer, raw)
    }

    async fn sign_out(&self, bearer: &str) {
        let response = common::http_client()
            .post(format!("{}/api/auth/sign-out", self.base))
            .header("origin", &self.base)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn as_token(app: &TestApp, token: &str, method: Method, path: &str) -> common::Reply {
    app.send(app.http.request(method, app.url(path)).bearer_auth(token)).await
}

/// The lookups todo-api has made with this result, from its metrics.
async fn lookups(app: &TestApp, result: &str) -> u64 {
    let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
    let line = format!("todo_api_session_lookups_total{{result=\"{result}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).map_or(0, |n| n.trim().parse().unwrap())
}

async fn run(engine: Engine) {
    let auth = BetterAuth::start();
    let base = auth.base.clone();
    let app = spawn_app_with(engine, move |s| {
        s.auth.better_auth_secret = None;
        s.auth.better_auth_url = Some(base);
        s.auth.better_auth_sessions = true;
        s.auth.better_auth_session_ttl_seconds = 2;
    })
    .await
    .unwrap();
    let (alice, alice_bearer, alice_raw) = auth.sign_up("alice").await;
    let (bob, bob_bearer, bob_raw) = auth.sign_up("bob").await;

    // Both forms of the session token work, for their own user only.
    for token in [&alice_bearer, &alice_raw] {
        let mine = as_token(&app, token, Method::GET, &format!("/api/{alice}/tasks")).await;
        assert_eq!(mine.status, 200, "{}", mine.text);
    }
    let created = app
        .send(
            app.http
                .post(app.url(&format!("/api/{alice}/tasks")))
                .bearer_auth(&alice_bearer)
                .json(&json!({"title": "from a session"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["user_id"], alice.as_str());
    let foreign = as_token(&app, &alice_bearer, Method::GET, &format!("/api/{bob}/tasks")).await;
    assert_eq!(foreign.status, 403);
    let id = created.id();
    let foreign_task = as_token(&app, &bob_bearer, Method::GET, &format!("/api/{bob}/tasks/{id}")).await;
    assert_eq!(foreign_task.status, 404, "owner scoping holds for sessions too");

    // A random token: 401, and asked about once, then answered from the cache.
    let unknown_before = lookups(&app, "unknown").await;
    let random = "NotARealSessionTokenAtAll0123456";
    for _ in 0..3 {
        let reply = as_token(&app, random, Method::GET, &format!("/api/{alice}/tasks")).await;
        assert_eq!(reply.status, 401);
        assert!(reply.detail().as_str().unwrap().contains("not known to Better Auth"), "{}", reply.text);
    }
    let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
    let session_lines: Vec<&str> = metrics.lines().filter(|l| l.contains("session")).collect();
    assert_eq!(
        lookups(&app, "unknown").await - unknown_before,
        1,
        "one lookup for three requests: {session_lines:?}"
    );

    // Signed out: refused once the cached answer (2 s here) runs out.
    auth.sign_out(&alice_bearer).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let revoked = as_token(&app, &alice_bearer, Method::GET, &format!("/api/{alice}/tasks")).await;
    assert_eq!(revoked.status, 401, "{}", revoked.text);

    // The auth server goes away: bob's cached session still works; a token
    // never seen is 503 (not the client's fault), and /ready says so.
    assert_eq!(as_token(&app, &bob_bearer, Method::GET, &format!("/api/{bob}/tasks")).await.status, 200);
    drop(auth);
    assert_eq!(as_token(&app, &bob_bearer, Method::GET, &format!("/api/{bob}/tasks")).await.status, 200);
    let uncached = as_token(&app, &bob_raw, Method::GET, &format!("/api/{bob}/tasks")).await;
    assert_eq!(uncached.status, 503, "{}", uncached.text);
    assert_eq!(uncached.header("retry-after"), Some("5"));
    let ready = app.send(app.http.get(app.url("/ready"))).await;
    assert_eq!((ready.status.as_u16(), ready.json["sessions"].as_str()), (200, Some("unreachable")));
    // JWTs keep their own path: an HS256 token is not looked up (no secret here: 401 at once).
    let jwt = common::token(&bob);
    assert_eq!(as_token(&app, &jwt, Method::GET, &format!("/api/{bob}/tasks")).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_session_tokens_work_for_their_user_until_signed_out() {
    if !common::node::available("Better Auth session test", None) {
        return;
    }
    run(Engine::Sqlite).await;
    if Engine::Postgres.enabled() {
        run(Engine::Postgres).await;
    }
}
