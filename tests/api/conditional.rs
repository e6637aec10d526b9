//! Conditional requests (RFC 9110 §13) on both engines and through the pooler:
//! every task response carries a strong `ETag` that every write advances;
//! `If-Match` makes a write happen only at that revision (checked in the same
//! statement, so of two writers holding one tag exactly one wins); `If-None-Match`
//! makes a read of a task or of the list a cheap 304 while nothing changed.

use crate::common;

use common::{Engine, Reply, TestApp, spawn_app, token};
use reqwest::Method;
use serde_json::{Value, json};

const ALICE: &str = "alice";

impl TestApp {
    /// `method path` as alice with extra headers and an optional JSON body.
    async fn with_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token(ALICE));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }
}

fn etag(reply: &Reply) -> String {
    reply.header("etag").unwrap_or_else(|| panic!("no ETag on {} {}", reply.status, reply.text)).to_owned()
}

contract! {
    async fn every_task_response_has_an_etag_that_every_write_advances(app: TestApp) {
        let created = app.create(ALICE, json!({"title": "tagged"})).await;
        assert_eq!(created.status, 201);
        let path = format!("/api/{ALICE}/tasks/{}", created.id());
        let mut seen = vec![etag(&created)];
        let read = app.call(ALICE, Method::GET, &path, None).await;
        assert_eq!(etag(&read), seen[0], "a read does not move it");
        for (method, suffix, body) in [
            (Method::PUT, "", Some(json!({"title": "put"}))),
            (Method::PATCH, "", Some(json!({"description": "patched"}))),
            (Method::PATCH, "/complete", None),
            (Method::PATCH, "/complete", Some(json!({"completed": false}))),
        ] {
            let reply = app.call(ALICE, method, &format!("{path}{suffix}"), body).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            let tag = etag(&reply);
            assert!(tag.starts_with('"') && !tag.starts_with("W/"), "strong: {tag}");
            assert!(!seen.contains(&tag), "{tag} repeats {seen:?}");
            seen.push(tag);
        }
        // The body is the contract's, unchanged: no revision field in it.
        assert!(created.json.get("revision").is_none(), "{}", created.text);
    }

    async fn if_match_writes_only_at_that_revision(app: TestApp) {
        let created = app.create(ALICE, json!({"title": "v1"})).await;
        let path = format!("/api/{ALICE}/tasks/{}", created.id());
        let v1 = etag(&created);
        let ok = app.with_headers(Method::PUT, &path, &[("If-Match", &v1)], Some(json!({"title": "v2"}))).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        let v2 = etag(&ok);
        // A second device still holding v1 loses, sees the current tag, and nothing changes.
        let stale = app.with_headers(Method::PATCH, &path, &[("If-Match", &v1)], Some(json!({"title": "lost"}))).await;
        assert_eq!(stale.status, 412, "{}", stale.text);
        assert_eq!(etag(&stale), v2);
        assert!(stale.detail().as_str().unwrap().contains("If-Match"), "{}", stale.text);
        for (method, suffix) in [(Method::PATCH, "/complete"), (Method::DELETE, "")] {
            let refused = app.with_headers(method, &format!("{path}{suffix}"), &[("If-Match", &v1)], None).await;
            assert_eq!(refused.status, 412, "{}", refused.text);
        }
        let now = app.call(ALICE, Method::GET, &path, None).await;
        assert_eq!((now.json["title"].clone(), now.json["completed"].clone()), (json!("v2"), json!(false)));
        assert_eq!(etag(&now), v2);
        // A list of tags, weak tags (never strong matches) and `*`.
        let listed = format!("\"999\", {v2}");
        let toggled = app.with_headers(Method::PATCH, &format!("{path}/complete"), &[("If-Match", &listed)], None).await;
        assert_eq!(toggled.status, 200, "{}", toggled.text);
        let weak = format!("W/{}", etag(&toggled));
        let refused = app.with_headers(Method::PUT, &path, &[("If-Match", &weak)], Some(json!({"title": "w"}))).await;
        assert_eq!(refused.status, 412);
        let any = app.with_headers(Method::PUT, &path, &[("If-Match", "*")], Some(json!({"title": "any"}))).await;
        assert_eq!(any.status, 200);
        // Missing (or foreign) stays 404 with or without a condition: nothing leaks.
        let foreign = app.create("bob", json!({"title": "bob's"})).await.id();
        for target in [format!("/api/{ALICE}/tasks/{foreign}"), format!("/api/{ALICE}/tasks/999999")] {
            for tag in ["\"1\"", "*"] {
                let reply = app.with_headers(Method::PUT, &target, &[("If-Match", tag)], Some(json!({"title": "x"}))).await;
                assert_eq!(reply.status, 404, "{target} {tag}: {}", reply.text);
            }
        }
        // The delete with the current tag goes through.
        let current = etag(&app.call(ALICE, Method::GET, &path, None).await);
        let deleted = app.with_headers(Method::DELETE, &path, &[("If-Match", &current)], None).await;
        assert_eq!(deleted.status, 204);
    }

    async fn two_writers_with_one_tag_one_wins_one_gets_412(app: TestApp) {
        let created = app.create(ALICE, json!({"title": "contended"})).await;
        let path = format!("/api/{ALICE}/tasks/{}", created.id());
        let tag = etag(&created);
        for round in 0..10 {
            let tag = if round == 0 { tag.clone() } else { etag(&app.call(ALICE, Method::GET, &path, None).await) };
            let headers = [("If-Match", tag.as_str())];
            let (a, b) = tokio::join!(
                app.with_headers(Method::PUT, &path, &headers, Some(json!({"title": "phone"}))),
                app.with_headers(Method::PUT, &path, &headers, Some(json!({"title": "laptop"}))),
            );
            let mut statuses = [a.status.as_u16(), b.status.as_u16()];
            statuses.sort();
            assert_eq!(statuses, [200, 412], "round {round}: {} / {}", a.text, b.text);
        }
        // Ten rounds, one winning write each, plus the create.
        assert_eq!(etag(&app.call(ALICE, Method::GET, &path, None).await), "\"11\"");
    }

    async fn if_none_match_is_a_cheap_304_until_something_changes(app: TestApp) {
        let id = app.task(ALICE, "watched").await;
        let path = format!("/api/{ALICE}/tasks/{id}");
        let tag = etag(&app.call(ALICE, Method::GET, &path, None).await);
        let unchanged = app.with_headers(Method::GET, &path, &[("If-None-Match", &tag)], None).await;
        assert_eq!((unchanged.status.as_u16(), unchanged.text.as_str()), (304, ""));
        assert_eq!(etag(&unchanged), tag);
        let weak = format!("W/{tag}");
        assert_eq!(app.with_headers(Method::GET, &path, &[("If-None-Match", &weak)], None).await.status, 304);
        let list_path = format!("/api/{ALICE}/tasks?sort=title&order=asc");
        let list = app.call(ALICE, Method::GET, &list_path, None).await;
        let list_tag = etag(&list);
        let same = app.with_headers(Method::GET, &list_path, &[("If-None-Match", &list_tag)], None).await;
        assert_eq!((same.status.as_u16(), same.text.as_str()), (304, ""));
        // A write to a listed task changes both tags; so does a new task (page and total).
        app.call(ALICE, Method::PATCH, &format!("{path}/complete"), None).await;
        assert_eq!(app.with_headers(Method::GET, &path, &[("If-None-Match", &tag)], None).await.status, 200);
        let after_toggle = app.with_headers(Method::GET, &list_path, &[("If-None-Match", &list_tag)], None).await;
        assert_eq!(after_toggle.status, 200);
        let toggled_tag = etag(&after_toggle);
        app.task(ALICE, "another").await;
        let grown = app.with_headers(Method::GET, &list_path, &[("If-None-Match", &toggled_tag)], None).await;
        assert_eq!((grown.status.as_u16(), grown.json.as_array().unwrap().len()), (200, 2));
        // Another user's list has its own tag; their writes do not touch alice's.
        let tag_now = etag(&grown);
        app.task("bob", "bob's").await;
        assert_eq!(app.with_headers(Method::GET, &list_path, &[("If-None-Match", &tag_now)], None).await.status, 304);
        // Malformed tags match nothing: the read is answered in full, the write refused.
        let read = app.with_headers(Method::GET, &path, &[("If-None-Match", "nope")], None).await;
        assert_eq!(read.status, 200);
        let unquoted = app.with_headers(Method::DELETE, &path, &[("If-Match", "3")], None).await;
        assert_eq!(unquoted.status, 412, "{}", unquoted.text);
        assert_eq!(app.call(ALICE, Method::GET, &path, None).await.status, 200, "not deleted");
    }

    async fn complete_sets_with_a_body_and_flips_without(app: TestApp) {
        let id = app.task(ALICE, "done?").await;
        let path = format!("/api/{ALICE}/tasks/{id}/complete");
        for _ in 0..2 {
            let set = app.call(ALICE, Method::PATCH, &path, Some(json!({"completed": true}))).await;
            assert_eq!((set.status.as_u16(), set.json["completed"].clone()), (200, json!(true)), "set, idempotent");
        }
        // No body, an empty body labelled JSON, and `{}` each flip.
        let flipped = app.call(ALICE, Method::PATCH, &path, None).await;
        assert_eq!(flipped.json["completed"], false);
        let empty = app.send(app.http.patch(app.url(&path)).bearer_auth(token(ALICE))
            .header("content-type", "application/json").body("")).await;
        assert_eq!((empty.status.as_u16(), empty.json["completed"].clone()), (200, json!(true)));
        let object = app.call(ALICE, Method::PATCH, &path, Some(json!({}))).await;
        assert_eq!(object.json["completed"], false);
        // A body that is there must be right.
        let wrong = app.call(ALICE, Method::PATCH, &path, Some(json!({"completed": "yes"}))).await;
        assert_eq!(wrong.status, 422, "{}", wrong.text);
        let not_json = app.send(app.http.patch(app.url(&path)).bearer_auth(token(ALICE))
            .header("content-type", "text/plain").body("completed")).await;
        assert_eq!(not_json.status, 415);
        let unchanged = app.call(ALICE, Method::GET, &format!("/api/{ALICE}/tasks/{id}"), None).await;
        assert_eq!(unchanged.json["completed"], false);
    }
}

#[tokio::test]
async fn cors_exposes_etag_and_allows_the_conditional_headers() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let preflight = app
        .send(
            app.http
                .request(Method::OPTIONS, app.url("/api/alice/tasks/1"))
                .header("origin", "http://localhost:3000")
                .header("access-control-request-method", "PUT")
                .header("access-control-request-headers", "if-match, if-none-match, idempotency-key"),
        )
        .await;
    let allowed = preflight.header("access-control-allow-headers").unwrap_or_default().to_lowercase();
    for header in ["if-match", "if-none-match", "idempotency-key"] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    let id = app.task(ALICE, "cors").await;
    let read = app
        .send(
            app.http
                .get(app.url(&format!("/api/{ALICE}/tasks/{id}")))
                .bearer_auth(token(ALICE))
                .header("origin", "http://localhost:3000"),
        )
        .await;
    let exposed = read.header("access-control-expose-headers").unwrap_or_default().to_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
}
