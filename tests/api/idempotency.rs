//! `Idempotency-Key` on create and on the toggle, on both engines and through
//! the pooler: a retried request writes once and gets the first answer again;
//! the key is per user, bound to its request, refused when malformed, and
//! forgotten after its lifetime.

use crate::common;

use std::time::Duration;

use common::{Engine, Reply, TestApp, spawn_app, spawn_app_with, token};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

const ALICE: &str = "alice";

impl TestApp {
    async fn keyed(&self, user: &str, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        let mut request =
            self.http.request(method, self.url(path)).bearer_auth(token(user)).header("Idempotency-Key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    async fn count(&self, user: &str) -> usize {
        self.list(user, "").await.json.as_array().unwrap().len()
    }
}

/// What must be identical between an answer and its replay.
fn answer(reply: &Reply) -> (u16, String, Option<String>, Option<String>) {
    (
        reply.status.as_u16(),
        reply.text.clone(),
        reply.header("location").map(str::to_owned),
        reply.header("etag").map(str::to_owned),
    )
}

contract! {
    async fn a_retried_create_writes_once_and_replays_the_answer(app: TestApp) {
        let path = format!("/api/{ALICE}/tasks");
        let first = app.keyed(ALICE, Method::POST, &path, "k-1", Some(json!({"title": "once"}))).await;
        assert_eq!(first.status, 201, "{}", first.text);
        assert!(first.header("idempotent-replayed").is_none());
        for _ in 0..3 {
            let again = app.keyed(ALICE, Method::POST, &path, "k-1", Some(json!({"title": "once"}))).await;
            assert_eq!(answer(&again), answer(&first));
            assert_eq!(again.header("idempotent-replayed"), Some("true"));
        }
        assert_eq!(app.count(ALICE).await, 1);
        // The same JSON, keys in another order, is the same request.
        let reordered = app
            .send(app.http.post(app.url(&path)).bearer_auth(token(ALICE)).header("Idempotency-Key", "k-2")
                .header("content-type", "application/json").body(r#"{"completed":false,"title":"two"}"#))
            .await;
        let same = app
            .send(app.http.post(app.url(&path)).bearer_auth(token(ALICE)).header("Idempotency-Key", "k-2")
                .header("content-type", "application/json").body(r#"{ "title": "two", "completed": false }"#))
            .await;
        assert_eq!(answer(&same), answer(&reordered));
        // Another body under a used key is refused, and writes nothing.
        let other = app.keyed(ALICE, Method::POST, &path, "k-1", Some(json!({"title": "different"}))).await;
        assert_eq!(other.status, 422, "{}", other.text);
        assert_eq!(other.detail()[0]["loc"], json!(["header", "Idempotency-Key"]), "{}", other.text);
        assert_eq!(other.detail()[0]["type"], "idempotency_key_reused");
        assert_eq!(app.count(ALICE).await, 2);
        // Keys are per user: bob's "k-1" is his own.
        let bob = app.keyed("bob", Method::POST, "/api/bob/tasks", "k-1", Some(json!({"title": "once"}))).await;
        assert_eq!(bob.status, 201);
        assert_ne!(bob.id(), first.id());
        // Without a key, nothing changes: two creates are two tasks.
        app.task(ALICE, "plain").await;
        app.task(ALICE, "plain").await;
        assert_eq!(app.count(ALICE).await, 4);
    }

    async fn a_retry_answers_with_the_task_as_created_even_after_it_changed(app: TestApp) {
        let path = format!("/api/{ALICE}/tasks");
        let first = app.keyed(ALICE, Method::POST, &path, "k-9", Some(json!({"title": "as made"}))).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let task = format!("{path}/{}", first.id());
        let renamed = app.call(ALICE, Method::PUT, &task, Some(json!({"title": "renamed"}))).await;
        assert_eq!(renamed.status, 200);
        let again = app.keyed(ALICE, Method::POST, &path, "k-9", Some(json!({"title": "as made"}))).await;
        assert_eq!(answer(&again), answer(&first), "the first answer, not the task as it is now");
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(app.call(ALICE, Method::DELETE, &task, None).await.status, 204);
        let after_delete = app.keyed(ALICE, Method::POST, &path, "k-9", Some(json!({"title": "as made"}))).await;
        assert_eq!(answer(&after_delete), answer(&first));
        assert_eq!(app.count(ALICE).await, 0, "a replay never writes");
    }

    async fn fifty_parallel_retries_make_exactly_one_task(app: TestApp) {
        let path = format!("/api/{ALICE}/tasks");
        let tries = (0..50).map(|_| app.keyed(ALICE, Method::POST, &path, "storm", Some(json!({"title": "storm"}))));
        let replies = join_all(tries).await;
        let done: Vec<_> = replies.iter().filter(|r| r.status == 201).map(answer).collect();
        let busy = replies.iter().filter(|r| r.status == 409).count();
        assert_eq!(done.len() + busy, 50, "only 201 or 409: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        assert!(!done.is_empty());
        assert!(done.iter().all(|a| *a == done[0]), "every 201 is the same answer");
        for reply in replies.iter().filter(|r| r.status == 409) {
            assert_eq!(reply.header("retry-after"), Some("1"));
        }
        // Retried until answered, the 409s get that same answer.
        let settled = app.keyed(ALICE, Method::POST, &path, "storm", Some(json!({"title": "storm"}))).await;
        assert_eq!(answer(&settled), done[0]);
        assert_eq!(app.count(ALICE).await, 1);
    }

    async fn a_replayed_toggle_never_flips_twice(app: TestApp) {
        let id = app.task(ALICE, "flip once").await;
        let path = format!("/api/{ALICE}/tasks/{id}/complete");
        let first = app.keyed(ALICE, Method::PATCH, &path, "t-1", None).await;
        assert_eq!((first.status.as_u16(), first.json["completed"].clone()), (200, json!(true)));
        let replays = join_all((0..10).map(|_| app.keyed(ALICE, Method::PATCH, &path, "t-1", None))).await;
        assert!(replays.iter().all(|r| answer(r) == answer(&first)));
        let now = app.call(ALICE, Method::GET, &format!("/api/{ALICE}/tasks/{id}"), None).await;
        assert_eq!((now.json["completed"].clone(), now.header("etag")), (json!(true), first.header("etag")));
        // A new key flips again; the same key on another task is another request.
        let second = app.keyed(ALICE, Method::PATCH, &path, "t-2", None).await;
        assert_eq!(second.json["completed"], false);
        let other = app.task(ALICE, "other").await;
        let reused = app.keyed(ALICE, Method::PATCH, &format!("/api/{ALICE}/tasks/{other}/complete"), "t-2", None).await;
        assert_eq!(reused.status, 422);
        // A 404 is an answer too: replayed, not re-run.
        let missing = app.keyed(ALICE, Method::PATCH, &format!("/api/{ALICE}/tasks/999999/complete"), "t-3", None).await;
        assert_eq!(missing.status, 404);
        let again = app.keyed(ALICE, Method::PATCH, &format!("/api/{ALICE}/tasks/999999/complete"), "t-3", None).await;
        assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (404, Some("true")));
    }

    async fn malformed_keys_are_400_and_write_nothing(app: TestApp) {
        let path = format!("/api/{ALICE}/tasks");
        let long = "k".repeat(256);
        for key in ["", "has space", "tab\there", long.as_str(), "ünï"] {
            let request = app.http.post(app.url(&path)).bearer_auth(token(ALICE)).json(&json!({"title": "x"}));
            let request = match reqwest::header::HeaderValue::from_bytes(key.as_bytes()) {
                Ok(value) => request.header("Idempotency-Key", value),
                Err(_) => continue,
            };
            let reply = app.send(request).await;
            assert_eq!(reply.status, 400, "{key:?}: {}", reply.text);
            assert!(reply.detail().as_str().unwrap().contains("Idempotency-Key"));
        }
        let twice = app.send(app.http.post(app.url(&path)).bearer_auth(token(ALICE))
            .header("Idempotency-Key", "a").header("Idempotency-Key", "b").json(&json!({"title": "x"}))).await;
        assert_eq!(twice.status, 400);
        let exact = app.keyed(ALICE, Method::POST, &path, &"k".repeat(255), Some(json!({"title": "x"}))).await;
        assert_eq!(exact.status, 201);
        assert_eq!(app.count(ALICE).await, 1);
    }
}

each_engine! {
    async fn a_keyed_create_past_the_quota_is_refused_once_and_replayed(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.max_tasks_per_user = 1).await.unwrap();
        let path = format!("/api/{ALICE}/tasks");
        let first = app.keyed(ALICE, Method::POST, &path, "fills", Some(json!({"title": "a"}))).await;
        assert_eq!(first.status, 201);
        let refused = app.keyed(ALICE, Method::POST, &path, "over", Some(json!({"title": "b"}))).await;
        assert_eq!(refused.status, 409, "{}", refused.text);
        assert!(refused.header("idempotent-replayed").is_none());
        // Room again: the key still answers as it did, and writes nothing.
        let id = first.id();
        assert_eq!(app.call(ALICE, Method::DELETE, &format!("{path}/{id}"), None).await.status, 204);
        let again = app.keyed(ALICE, Method::POST, &path, "over", Some(json!({"title": "b"}))).await;
        assert_eq!((again.status.as_u16(), &again.text), (409, &refused.text));
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(app.count(ALICE).await, 0);
    }

    async fn keys_expire_after_their_lifetime(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.idempotency_key_ttl_seconds = 1).await.unwrap();
        let path = format!("/api/{ALICE}/tasks");
        let first = app.keyed(ALICE, Method::POST, &path, "short", Some(json!({"title": "a"}))).await;
        let replay = app.keyed(ALICE, Method::POST, &path, "short", Some(json!({"title": "a"}))).await;
        assert_eq!(replay.id(), first.id());
        tokio::time::sleep(Duration::from_millis(2200)).await;
        // Forgotten: the same key is a new request (even with another body).
        let later = app.keyed(ALICE, Method::POST, &path, "short", Some(json!({"title": "b"}))).await;
        assert_eq!(later.status, 201);
        assert_ne!(later.id(), first.id());
        // And the pruner deletes expired rows in the background (every second here).
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let rows = app.direct().await.ids("SELECT COUNT(*) FROM idempotency_keys").await;
        assert_eq!(rows, [0]);
    }
}

/// Two instances on one PostgreSQL agree on keys: retries spread over both
/// still make one task, and a key used on one is replayed by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_share_their_keys() {
    if !Engine::Postgres.enabled() {
        return;
    }
    let (url, _db) = common::fresh_database(Engine::Postgres).await.unwrap();
    let a = common::spawn_app_on(url.clone(), Engine::Postgres, |_| {}).await;
    let b = common::spawn_app_on(url, Engine::Postgres, |_| {}).await;
    let path = format!("/api/{ALICE}/tasks");
    let body = || Some(json!({"title": "shared"}));
    let tries = (0..40).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.keyed(ALICE, Method::POST, &path, "across", body())
    });
    let replies = join_all(tries).await;
    let done: Vec<_> = replies.iter().filter(|r| r.status == 201).map(answer).collect();
    assert!(replies.iter().all(|r| matches!(r.status.as_u16(), 201 | 409)));
    assert!(!done.is_empty() && done.iter().all(|d| *d == done[0]));
    for app in [&a, &b] {
        let settled = app.keyed(ALICE, Method::POST, &path, "across", body()).await;
        assert_eq!(answer(&settled), done[0]);
        assert_eq!(app.count(ALICE).await, 1);
    }
    let other = b.keyed(ALICE, Method::POST, &path, "across", Some(json!({"title": "not the same"}))).await;
    assert_eq!(other.status, 422);
}
