//! `MAX_TITLE_CHARS` and `MAX_DESCRIPTION_CHARS`, on both engines: raised and
//! lowered limits hold at their new boundary, in characters (not bytes), on
//! create and update; the body size limit grows with them; the served
//! document states them. (The defaults are the contract suite's.)

use crate::common;

use common::{Engine, spawn_app_with};
use reqwest::Method;
use serde_json::json;

each_engine! {
    async fn raised_limits_hold_at_their_boundary_in_characters(engine: Engine) {
        let app = spawn_app_with(engine, |s| {
            s.max_title_chars = 5000;
            s.max_description_chars = 10_000;
        })
        .await
        .unwrap();
        // Two bytes a character in UTF-8, and six as a JSON escape: ~90 KB, over the default 64 KiB.
        let body = format!(
            r#"{{"title": "{}", "description": "{}"}}"#,
            "\\u00e9".repeat(5000),
            "\\u00e9".repeat(10_000)
        );
        let request = app.http.post(app.url("/api/alice/tasks")).bearer_auth(common::token("alice"));
        let created = app.send(request.header("content-type", "application/json").body(body)).await;
        assert_eq!(created.status, 201, "{}", &created.text[..created.text.len().min(300)]);
        assert_eq!(created.json["title"].as_str().unwrap().chars().count(), 5000);
        assert_eq!(created.json["description"].as_str().unwrap().chars().count(), 10_000);
        let id = created.id();

        let too_long = app.create("alice", json!({"title": "é".repeat(5001)})).await;
        assert_eq!(too_long.status, 422);
        assert_eq!(too_long.detail()[0]["msg"], "String should have at most 5000 characters");
        let path = format!("/api/alice/tasks/{id}");
        let update = app.call("alice", Method::PATCH, &path, Some(json!({"description": "d".repeat(10_001)}))).await;
        assert_eq!(update.status, 422);
        assert_eq!(update.detail()[0]["msg"], "String should have at most 10000 characters");
        let update = app.call("alice", Method::PUT, &path, Some(json!({"title": "t".repeat(5000)}))).await;
        assert_eq!(update.status, 200, "{}", update.text);

        let document = app.send(app.http.get(app.url("/openapi.json"))).await.json;
        let schema = &document["components"]["schemas"]["TaskCreate"]["properties"];
        assert_eq!(schema["description"]["maxLength"], 10_000);
        assert!(schema["title"]["pattern"].as_str().unwrap().contains("{0,4998}"));
    }

    async fn lowered_limits_hold_at_their_boundary(engine: Engine) {
        let app = spawn_app_with(engine, |s| {
            s.max_title_chars = 10;
            s.max_description_chars = 20;
        })
        .await
        .unwrap();
        let ok = app.create("alice", json!({"title": "ü".repeat(10), "description": "ß".repeat(20)})).await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        let long = app.create("alice", json!({"title": "a".repeat(11)})).await;
        assert_eq!(long.status, 422);
        assert_eq!(long.detail()[0]["msg"], "String should have at most 10 characters");
        assert_eq!(long.detail()[0]["loc"], json!(["body", "title"]));
        let long = app.create("alice", json!({"title": "a", "description": "b".repeat(21)})).await;
        assert_eq!(long.detail()[0]["msg"], "String should have at most 20 characters");
        let path = format!("/api/alice/tasks/{}", ok.id());
        let update = app.call("alice", Method::PUT, &path, Some(json!({"title": "a".repeat(11)}))).await;
        assert_eq!(update.status, 422);
        // Nothing was written by the refused ones.
        let list = app.list("alice", "").await;
        assert_eq!(list.json.as_array().unwrap().len(), 1);
        assert_eq!(list.json[0]["title"], "ü".repeat(10));
    }
}
