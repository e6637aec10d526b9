//! An operator's commands beside a serving instance: `todo-api user export`
//! and `user delete` (one user's data, and nothing of anyone else's), and
//! `todo-api backup` of a SQLite database that is being written.

use std::process::Output;

use crate::common;

use common::process::binary;
use common::{Engine, TestApp, spawn_app, token};
use reqwest::Method;
use serde_json::{Value, json};

fn cli(app: &TestApp, args: &[&str]) -> Output {
    binary(&[("DATABASE_URL", &app.database_url)]).args(args).output().expect("the todo-api binary runs")
}

fn stdout(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    text
}

fn export(app: &TestApp, user: &str) -> Value {
    serde_json::from_str(&stdout(&cli(app, &["user", "export", user]))).expect("the export is JSON")
}

fn titles(export: &Value) -> Vec<&str> {
    export["tasks"].as_array().unwrap().iter().map(|task| task["title"].as_str().unwrap()).collect()
}

each_engine! {
    async fn export_and_erase_one_user_while_the_server_serves(engine: Engine) {
        let app = spawn_app(engine).await.unwrap();
        let (a1, a2) = (app.task("alice", "a1").await, app.task("alice", "a2").await);
        app.task("alice", "a3").await;
        app.call("alice", Method::PATCH, &format!("/api/alice/tasks/{a1}/complete"), None).await;
        app.call("alice", Method::DELETE, &format!("/api/alice/tasks/{a2}"), None).await;
        let keyed = app.http.post(app.url("/api/alice/tasks")).bearer_auth(token("alice"))
            .header("Idempotency-Key", "k1").json(&json!({"title": "keyed"}));
        assert_eq!(app.send(keyed).await.status, 201);
        let ticket = app.call("alice", Method::POST, "/api/alice/events/ticket", None).await;
        assert_eq!(ticket.status, 201, "{}", ticket.text);
        app.task("bob", "bob's secret").await;
        let bob_before = app.list("bob", "").await.text;

        let data = export(&app, "alice");
        assert_eq!(data["user_id"], "alice");
        assert_eq!(titles(&data), ["a1", "a3", "keyed"]);
        assert_eq!(data["tasks"][0]["completed"], true);
        let kinds: Vec<&str> = data["changes"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["created", "created", "created", "updated", "deleted", "created"]);
        assert!(!data.to_string().contains("bob"), "nothing of another user: {data}");

        let erased = stdout(&cli(&app, &["user", "delete", "alice"]));
        assert_eq!(
            erased.trim(),
            "erased user \"alice\": 3 tasks, 6 changes, 1 idempotency keys, 1 stream tickets, 1 owner row"
        );
        let list = app.list("alice", "").await;
        assert_eq!((list.text.as_str(), list.header("x-change-seq")), ("[]", Some("0")));
        assert_eq!(app.list("bob", "").await.text, bob_before, "Bob's list is untouched");
        let empty = export(&app, "alice");
        assert_eq!((empty["tasks"].as_array().unwrap().len(), empty["changes"].as_array().unwrap().len()), (0, 0));
        // The key was erased with the rest: the same key is a new request now.
        let again = app.http.post(app.url("/api/alice/tasks")).bearer_auth(token("alice"))
            .header("Idempotency-Key", "k1").json(&json!({"title": "new life"}));
        let again = app.send(again).await;
        assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (201, None), "{}", again.text);
        assert_eq!(titles(&export(&app, "alice")), ["new life"]);
        let nobody = stdout(&cli(&app, &["user", "delete", "nobody"]));
        assert!(nobody.contains("0 tasks, 0 changes"), "{nobody}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_sqlite_database_while_it_is_written() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let writer = {
        let (http, url, token) = (app.http.clone(), app.url("/api/alice/tasks"), token("alice"));
        tokio::spawn(async move {
            for i in 0..300 {
                let create = http.post(&url).bearer_auth(&token).json(&json!({"title": format!("t{i}")}));
                assert_eq!(create.send().await.unwrap().status(), 201);
            }
        })
    };
    while app.list("alice", "").await.header("x-total-count") == Some("0") {
        tokio::task::yield_now().await;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let copy_path = copy.to_str().unwrap();
    let backed_up = stdout(&cli(&app, &["backup", copy_path]));
    assert!(backed_up.contains(copy_path), "{backed_up}");
    writer.await.unwrap();

    // A consistent copy: sound, and every task in it has its change event.
    let check: String = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let restored = binary(&[("DATABASE_URL", &format!("sqlite:{copy_path}"))])
        .args(["user", "export", "alice"])
        .output()
        .unwrap();
    let data: Value = serde_json::from_str(&stdout(&restored)).unwrap();
    let (tasks, changes) =
        (data["tasks"].as_array().unwrap().len(), data["changes"].as_array().unwrap().len());
    assert!(tasks > 0 && tasks == changes, "{tasks} tasks, {changes} changes in the copy");

    let twice = cli(&app, &["backup", copy_path]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already exists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_postgresql_points_to_its_own_tools() {
    if !common::postgres_enabled() {
        return;
    }
    let app = spawn_app(Engine::Postgres).await.unwrap();
    let refused = cli(&app, &["backup", "/tmp/never-written.db"]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("pg_dump") && said.lines().count() == 1, "{said}");
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}
