//! The API contract, over a real socket, against SQLite and PostgreSQL alike.

use crate::common;

use common::{Engine, Reply, TestApp, spawn_app, token};
use reqwest::Method;
use serde_json::{Value, json};
use todo_api::store::Lifecycle;

const ALICE: &str = "alice";
const BOB: &str = "bob";
const CAROL: &str = "carol";

fn assert_task_shape(task: &Value) {
    let object = task.as_object().expect("a task is an object");
    let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["completed", "created_at", "description", "id", "title", "updated_at", "user_id"]);
    for field in ["created_at", "updated_at"] {
        let at = task[field].as_str().unwrap();
        // 2026-01-05T10:00:00.123456Z
        assert_eq!(at.len(), 27, "{at}");
        assert!(at.ends_with('Z') && at.as_bytes()[10] == b'T' && at.as_bytes()[19] == b'.', "{at}");
    }
}

fn validation_types(reply: &Reply) -> Vec<(String, Value)> {
    assert_eq!(reply.status, 422, "{}", reply.text);
    reply
        .detail()
        .as_array()
        .unwrap_or_else(|| panic!("422 detail is a list: {}", reply.text))
        .iter()
        .map(|e| {
            assert!(e["msg"].is_string(), "{e}");
            (e["type"].as_str().unwrap().to_owned(), e["loc"].clone())
        })
        .collect()
}

fn ids(reply: &Reply) -> Vec<i64> {
    reply.json.as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

contract! {
    async fn health_and_ready_need_no_token(app: TestApp) {
        let health = app.send(app.http.get(app.url("/health"))).await;
        assert_eq!((health.status.as_u16(), health.json.clone()), (200, json!({"status": "ok"})));
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!(ready.status, 200, "{}", ready.text);
        assert_eq!(ready.json["status"], "ready");
    }

    async fn create_returns_201_location_and_the_task(app: TestApp) {
        let reply = app
            .create(ALICE, json!({"title": "  Buy milk  ", "description": "2 litres", "completed": true}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_task_shape(&reply.json);
        let id = reply.id();
        assert!(id > 0);
        assert_eq!(reply.header("location"), Some(format!("/api/alice/tasks/{id}").as_str()));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.json["user_id"], ALICE);
        assert_eq!(reply.json["title"], "Buy milk");
        assert_eq!(reply.json["description"], "2 litres");
        assert_eq!(reply.json["completed"], true);
        assert_eq!(reply.json["created_at"], reply.json["updated_at"]);

        let fetched = app.call(ALICE, Method::GET, &format!("/api/alice/tasks/{id}"), None).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.json, reply.json);

        let minimal = app.create(ALICE, json!({"title": "x", "description": null})).await;
        assert_eq!(minimal.status, 201);
        assert_eq!((minimal.json["description"].clone(), minimal.json["completed"].clone()), (Value::Null, json!(false)));
    }

    async fn location_escapes_user_ids_that_need_it(app: TestApp) {
        let user = "user with/slash?";
        let path = "/api/user%20with%2Fslash%3F/tasks";
        let reply = app
            .send(app.http.post(app.url(path)).bearer_auth(token(user)).json(&json!({"title": "t"})))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let location = reply.header("location").unwrap().to_owned();
        assert_eq!(location, format!("{path}/{}", reply.id()));
        let fetched = app.send(app.http.get(app.url(&location)).bearer_auth(token(user))).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.json["user_id"], user);
    }

    async fn create_ignores_fields_the_server_owns(app: TestApp) {
        let reply = app
            .create(ALICE, json!({
                "title": "t", "id": 999_999, "user_id": BOB,
                "created_at": "2000-01-01T00:00:00.000000Z", "updated_at": "2000-01-01T00:00:00.000000Z",
                "owner": "mallory"
            }))
            .await;
        assert_eq!(reply.status, 201);
        assert_ne!(reply.id(), 999_999);
        assert_eq!(reply.json["user_id"], ALICE);
        assert!(!reply.json["created_at"].as_str().unwrap().starts_with("2000"));
        assert_eq!(app.list(BOB, "").await.json, json!([]));
    }

    async fn create_validation_is_422_in_fastapi_shape_and_writes_nothing(app: TestApp) {
        let cases = [
            (json!({}), "missing", json!(["body", "title"])),
            (json!({"title": null}), "string_type", json!(["body", "title"])),
            (json!({"title": 5}), "string_type", json!(["body", "title"])),
            (json!({"title": "   "}), "string_too_short", json!(["body", "title"])),
            (json!({"title": "a".repeat(201)}), "string_too_long", json!(["body", "title"])),
            (json!({"title": "a\u{0}b"}), "string_pattern_mismatch", json!(["body", "title"])),
            (json!({"title": "t", "description": "d".repeat(1001)}), "string_too_long", json!(["body", "description"])),
            (json!({"title": "t", "description": 3}), "string_type", json!(["body", "description"])),
            (json!({"title": "t", "completed": "true"}), "bool_type", json!(["body", "completed"])),
            (json!({"title": "t", "completed": null}), "bool_type", json!(["body", "completed"])),
            (json!([{"title": "t"}]), "model_attributes_type", json!(["body"])),
            (json!("t"), "model_attributes_type", json!(["body"])),
        ];
        for (body, kind, loc) in cases {
            let reply = app.create(ALICE, body.clone()).await;
            assert_eq!(validation_types(&reply), [(kind.to_owned(), loc)], "{body}");
        }
        let both = app.create(ALICE, json!({"title": "", "completed": 1})).await;
        assert_eq!(validation_types(&both).len(), 2);

        let raw = |body: &'static str| {
            app.http.post(app.url("/api/alice/tasks")).bearer_auth(token(ALICE))
                .header("content-type", "application/json").body(body)
        };
        for body in ["{", "{\"title\": \"t\",}", "nul", "{\"title\": \"\\ud800\"}", ""] {
            let reply = app.send(raw(body)).await;
            assert_eq!(reply.status, 422, "{body:?}: {}", reply.text);
        }
        let deep = "[".repeat(10_000);
        let reply = app.send(app.http.post(app.url("/api/alice/tasks")).bearer_auth(token(ALICE))
            .header("content-type", "application/json").body(deep)).await;
        assert_eq!(reply.status, 422);
        let invalid_utf8 = app.send(app.http.post(app.url("/api/alice/tasks")).bearer_auth(token(ALICE))
            .header("content-type", "application/json").body(b"{\"title\": \"\xff\"}".to_vec())).await;
        assert_eq!(invalid_utf8.status, 422);

        assert_eq!(app.create(ALICE, json!({"title": "a".repeat(200)})).await.status, 201);
        let list = app.list(ALICE, "").await;
        assert_eq!(list.json.as_array().unwrap().len(), 1, "only the valid create was written");
    }

    async fn body_limits_and_content_type(app: TestApp) {
        let post = || app.http.post(app.url("/api/alice/tasks")).bearer_auth(token(ALICE));
        let text = app.send(post().header("content-type", "text/plain").body(r#"{"title":"t"}"#)).await;
        assert_eq!((text.status.as_u16(), text.detail().clone()), (415, json!("Content-Type must be application/json")));
        let none = app.send(post().body(r#"{"title":"t"}"#)).await;
        assert_eq!(none.status, 415);
        let utf8 = app.send(post().header("content-type", "application/json; charset=utf-8").body(r#"{"title":"t"}"#)).await;
        assert_eq!(utf8.status, 201);

        let huge = format!(r#"{{"title":"t","description":"{}"}}"#, "x".repeat(64 * 1024));
        let too_big = app.send(post().header("content-type", "application/json").body(huge.clone())).await;
        assert_eq!(too_big.status, 413, "{}", too_big.text);
        assert!(too_big.detail().is_string());
        // Size is checked before the content type.
        let too_big_text = app.send(post().header("content-type", "text/plain").body(huge)).await;
        assert_eq!(too_big_text.status, 413);
        // Under the limit but over the field's bound: a validation error, not 413.
        let long = format!(r#"{{"title":"t","description":"{}"}}"#, "x".repeat(60 * 1024));
        assert_eq!(app.send(post().header("content-type", "application/json").body(long)).await.status, 422);
        assert_eq!(app.list(ALICE, "").await.json.as_array().unwrap().len(), 1);
    }

    async fn update_is_partial_and_moves_updated_at(app: TestApp) {
        let created = app.create(ALICE, json!({"title": "t", "description": "d"})).await;
        let id = created.id();
        let path = format!("/api/alice/tasks/{id}");

        let same = app.call(ALICE, Method::PUT, &path, Some(json!({}))).await;
        assert_eq!(same.status, 200);
        assert_eq!(same.json, created.json, "an empty update changes nothing");

        let renamed = app.call(ALICE, Method::PUT, &path, Some(json!({"title": " new "}))).await;
        assert_eq!(renamed.status, 200);
        assert_task_shape(&renamed.json);
        assert_eq!(renamed.json["title"], "new");
        assert_eq!(renamed.json["description"], "d");
        assert_eq!(renamed.json["completed"], false);
        assert_eq!(renamed.json["created_at"], created.json["created_at"]);
        assert!(renamed.json["updated_at"].as_str() > created.json["updated_at"].as_str());

        let patched = app.call(ALICE, Method::PATCH, &path, Some(json!({"completed": true, "description": null}))).await;
        assert_eq!(patched.status, 200);
        assert_eq!((patched.json["title"].clone(), patched.json["description"].clone(), patched.json["completed"].clone()),
            (json!("new"), Value::Null, json!(true)));
        assert!(patched.json["updated_at"].as_str() > renamed.json["updated_at"].as_str());

        for (body, kind) in [
            (json!({"title": null}), "string_type"),
            (json!({"title": "  "}), "string_too_short"),
            (json!({"completed": null}), "bool_type"),
            (json!({"description": "d".repeat(1001)}), "string_too_long"),
        ] {
            let reply = app.call(ALICE, Method::PUT, &path, Some(body.clone())).await;
            assert_eq!(validation_types(&reply)[0].0, kind, "{body}");
        }
        let after = app.call(ALICE, Method::GET, &path, None).await;
        assert_eq!(after.json, patched.json, "rejected updates wrote nothing");
    }

    async fn toggle_flips_and_delete_is_204_then_404(app: TestApp) {
        let id = app.task(ALICE, "t").await;
        let toggle = format!("/api/alice/tasks/{id}/complete");
        let on = app.call(ALICE, Method::PATCH, &toggle, None).await;
        assert_eq!((on.status.as_u16(), on.json["completed"].clone()), (200, json!(true)));
        assert_task_shape(&on.json);
        let off = app.call(ALICE, Method::PATCH, &toggle, None).await;
        assert_eq!(off.json["completed"], false);

        let path = format!("/api/alice/tasks/{id}");
        let deleted = app.call(ALICE, Method::DELETE, &path, None).await;
        assert_eq!(deleted.status, 204);
        assert_eq!(deleted.text, "");
        let again = app.call(ALICE, Method::DELETE, &path, None).await;
        assert_eq!((again.status.as_u16(), again.json.clone()), (404, json!({"detail": "Task not found"})));
        assert_eq!(app.call(ALICE, Method::GET, &path, None).await.status, 404);
        assert_eq!(app.call(ALICE, Method::PATCH, &toggle, None).await.status, 404);
    }

    async fn list_filters_sorts_pages_and_counts(app: TestApp) {
        let mut made = Vec::new();
        for title in ["cherry", "apple", "banana", "date", "elder"] {
            made.push(app.task(ALICE, title).await);
        }
        for id in [made[1], made[3]] {
            let reply = app.call(ALICE, Method::PATCH, &format!("/api/alice/tasks/{id}/complete"), None).await;
            assert_eq!(reply.status, 200);
        }
        let newest_first: Vec<i64> = made.iter().rev().copied().collect();

        let all = app.list(ALICE, "").await;
        assert_eq!(all.status, 200);
        assert_eq!(ids(&all), newest_first);
        assert_eq!(all.header("x-total-count"), Some("5"));
        all.json.as_array().unwrap().iter().for_each(assert_task_shape);

        assert_eq!(ids(&app.list(ALICE, "?sort=created_at&order=asc").await), made);
        assert_eq!(ids(&app.list(ALICE, "?sort=created&order=desc").await), newest_first);
        let by_title = app.list(ALICE, "?sort=title").await;
        let titles: Vec<_> = by_title.json.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["apple", "banana", "cherry", "date", "elder"]);
        let titles_desc = app.list(ALICE, "?sort=title&order=desc").await;
        assert_eq!(titles_desc.json[0]["title"], "elder");
        // The last toggled task was updated last.
        assert_eq!(ids(&app.list(ALICE, "?sort=updated_at").await)[0], made[3]);
        assert_eq!(ids(&app.list(ALICE, "?sort=updated&order=asc").await)[4], made[3]);

        let completed = app.list(ALICE, "?status=completed&order=asc").await;
        assert_eq!(ids(&completed), [made[1], made[3]]);
        assert_eq!(completed.header("x-total-count"), Some("2"));
        let pending = app.list(ALICE, "?status=pending").await;
        assert_eq!(ids(&pending), [made[4], made[2], made[0]]);
        assert_eq!(ids(&app.list(ALICE, "?status=all").await).len(), 5);

        let page = app.list(ALICE, "?limit=2&offset=1").await;
        assert_eq!(ids(&page), newest_first[1..3]);
        assert_eq!(page.header("x-total-count"), Some("5"));
        let past_end = app.list(ALICE, "?limit=2&offset=10").await;
        assert_eq!((past_end.json.clone(), past_end.header("x-total-count")), (json!([]), Some("5")));
        let pending_past_end = app.list(ALICE, "?status=pending&offset=3").await;
        assert_eq!(pending_past_end.header("x-total-count"), Some("3"));
        assert_eq!(ids(&app.list(ALICE, "?limit=1000").await).len(), 5);

        let empty = app.list(BOB, "").await;
        assert_eq!((empty.json.clone(), empty.header("x-total-count")), (json!([]), Some("0")));
    }

    async fn list_rejects_every_bad_parameter(app: TestApp) {
        for (query, kind, field) in [
            ("?status=done", "literal_error", "status"),
            ("?status=", "literal_error", "status"),
            ("?sort=priority", "literal_error", "sort"),
            ("?order=up", "literal_error", "order"),
            ("?limit=0", "greater_than_equal", "limit"),
            ("?limit=1001", "less_than_equal", "limit"),
            ("?limit=ten", "int_parsing", "limit"),
            ("?limit=", "int_parsing", "limit"),
            ("?offset=-1", "greater_than_equal", "offset"),
            ("?offset=1.5", "int_parsing", "offset"),
            ("?offset=99999999999999999999", "int_parsing", "offset"),
        ] {
            let reply = app.list(ALICE, query).await;
            assert_eq!(validation_types(&reply), [(kind.to_owned(), json!(["query", field]))], "{query}");
        }
        assert_eq!(app.list(ALICE, "?status=all&status=pending").await.status, 422);
        assert_eq!(app.list(ALICE, "?unknown=1").await.status, 200, "unknown parameters are ignored");
    }

    async fn one_trailing_slash_is_the_same_route(app: TestApp) {
        let id = app.task(ALICE, "t").await;
        assert_eq!(app.list(ALICE, "/").await.status, 200);
        assert_eq!(app.list(ALICE, "/?status=pending").await.header("x-total-count"), Some("1"));
        let reply = app.call(ALICE, Method::GET, &format!("/api/alice/tasks/{id}/"), None).await;
        assert_eq!(reply.status, 200);
        let toggled = app.call(ALICE, Method::PATCH, &format!("/api/alice/tasks/{id}/complete/"), None).await;
        assert_eq!(toggled.status, 200);
        assert_eq!(app.send(app.http.get(app.url("/health/"))).await.status, 200);
        let two = app.call(ALICE, Method::GET, &format!("/api/alice/tasks/{id}//"), None).await;
        assert_eq!(two.status, 404);
    }

    async fn unknown_routes_and_methods_come_before_auth(app: TestApp) {
        for path in ["/", "/api", "/api/alice", "/api/alice/task", "/api/alice/tasks/1/x", "/docs.php"] {
            let reply = app.send(app.http.get(app.url(path))).await;
            assert_eq!((reply.status.as_u16(), reply.json.clone()), (404, json!({"detail": "Not Found"})), "{path}");
        }
        for (method, path, allow) in [
            (Method::PUT, "/api/alice/tasks", "GET,HEAD,POST,PATCH,DELETE"),
            (Method::POST, "/api/alice/tasks/1", "GET,HEAD,PUT,PATCH,DELETE"),
            (Method::GET, "/api/alice/tasks/1/complete", "PATCH"),
            (Method::TRACE, "/api/alice/tasks", "GET,HEAD,POST,PATCH,DELETE"),
        ] {
            let reply = app.send(app.http.request(method.clone(), app.url(path))).await;
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.json, json!({"detail": "Method Not Allowed"}));
            let mut got: Vec<_> = reply.header("allow").unwrap().split(',').collect();
            let mut want: Vec<_> = allow.split(',').collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{method} {path}");
        }
    }

    async fn every_route_needs_a_valid_token(app: TestApp) {
        let id = app.task(ALICE, "t").await;
        let routes = [
            (Method::GET, "/api/alice/tasks".to_owned()),
            (Method::POST, "/api/alice/tasks".to_owned()),
            (Method::GET, format!("/api/alice/tasks/{id}")),
            (Method::PUT, format!("/api/alice/tasks/{id}")),
            (Method::PATCH, format!("/api/alice/tasks/{id}")),
            (Method::DELETE, format!("/api/alice/tasks/{id}")),
            (Method::PATCH, format!("/api/alice/tasks/{id}/complete")),
        ];
        for (method, path) in &routes {
            let reply = app.send(app.http.request(method.clone(), app.url(path)).json(&json!({"title": "x"}))).await;
            assert_eq!(reply.status, 401, "{method} {path}");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            assert_eq!(reply.json, json!({"detail": "Not authenticated"}));
            let bad = app.send(app.http.request(method.clone(), app.url(path)).bearer_auth("not.a.jwt")).await;
            assert_eq!(bad.status, 401, "{method} {path}");
            assert_eq!(bad.header("www-authenticate"), Some(r#"Bearer error="invalid_token""#));
        }
        let task = app.call(ALICE, Method::GET, &format!("/api/alice/tasks/{id}"), None).await;
        assert_eq!((task.status.as_u16(), task.json["title"].clone()), (200, json!("t")), "nothing was changed");
    }

    async fn authorization_header_forms(app: TestApp) {
        let get = || app.http.get(app.url("/api/alice/tasks"));
        let good = token(ALICE);
        assert_eq!(app.send(get().header("authorization", format!("bearer {good}"))).await.status, 200);
        assert_eq!(app.send(get().header("authorization", format!("BEARER  {good}"))).await.status, 200);
        for value in [format!("Basic {good}"), format!("Token {good}"), "Bearer".into(), good.clone()] {
            let reply = app.send(get().header("authorization", value.clone())).await;
            assert_eq!(reply.status, 401, "{value}");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
        let twice = app.send(get().header("authorization", format!("Bearer {good}"))
            .header("authorization", format!("Bearer {good}"))).await;
        assert_eq!(twice.status, 401);
        assert_eq!(twice.json["detail"], "Send exactly one Authorization header");
        let huge = format!("Bearer {good}{}", "A".repeat(9000));
        let reply = app.send(get().header("authorization", huge)).await;
        assert_eq!((reply.status.as_u16(), reply.json["detail"].clone()), (401, json!("Token is too large")));
    }

    async fn ownership_is_checked_after_auth_and_before_the_body(app: TestApp) {
        let id = app.task(BOB, "bob's").await;
        let routes = [
            (Method::GET, "/api/bob/tasks".to_owned()),
            (Method::POST, "/api/bob/tasks".to_owned()),
            (Method::GET, format!("/api/bob/tasks/{id}")),
            (Method::PUT, format!("/api/bob/tasks/{id}")),
            (Method::PATCH, format!("/api/bob/tasks/{id}")),
            (Method::DELETE, format!("/api/bob/tasks/{id}")),
            (Method::PATCH, format!("/api/bob/tasks/{id}/complete")),
        ];
        for (method, path) in &routes {
            // Alice's valid token on Bob's path, with a body that would be invalid.
            let reply = app.send(app.http.request(method.clone(), app.url(path)).bearer_auth(token(ALICE))
                .header("content-type", "application/json").body("{oops")).await;
            assert_eq!(reply.status, 403, "{method} {path}");
            assert!(reply.detail().is_string());
            // An invalid token is 401 before ownership is even considered.
            let unauth = app.send(app.http.request(method.clone(), app.url(path)).bearer_auth("x.y.z")).await;
            assert_eq!(unauth.status, 401);
        }
        // Case and encoding variants of another user id are other users.
        for path in ["/api/Bob/tasks", "/api/bob%20/tasks", "/api/%62ob/tasks"] {
            let reply = app.call(ALICE, Method::GET, path, None).await;
            assert_eq!(reply.status, 403, "{path}");
        }
        let list = app.list(BOB, "").await;
        assert_eq!(ids(&list), [id], "bob's task is untouched");
    }

    async fn foreign_tasks_are_404_on_every_route_and_untouched(app: TestApp) {
        let alice_task = app.create(ALICE, json!({"title": "alice secret", "description": "d"})).await;
        let id = alice_task.id();
        app.task(BOB, "bob's").await;
        app.task(CAROL, "carol's").await;
        let alice_path = format!("/api/alice/tasks/{id}");
        let before = app.list(ALICE, "").await.text;

        for attacker in [BOB, CAROL] {
            // The owner can read it, so a 404 below is isolation, not breakage.
            assert_eq!(app.call(ALICE, Method::GET, &alice_path, None).await.status, 200);
            let own_path = format!("/api/{attacker}/tasks/{id}");
            let attempts = [
                app.call(attacker, Method::GET, &own_path, None).await,
                app.call(attacker, Method::PUT, &own_path, Some(json!({"title": "pwned"}))).await,
                app.call(attacker, Method::PATCH, &own_path, Some(json!({"completed": true}))).await,
                app.call(attacker, Method::PATCH, &format!("{own_path}/complete"), None).await,
                app.call(attacker, Method::DELETE, &own_path, None).await,
            ];
            for reply in &attempts {
                assert_eq!((reply.status.as_u16(), reply.json.clone()), (404, json!({"detail": "Task not found"})));
            }
            let never = app.call(attacker, Method::GET, &format!("/api/{attacker}/tasks/999999999"), None).await;
            assert_eq!((never.status, never.text.as_str()), (attempts[0].status, attempts[0].text.as_str()),
                "not yours and not there look the same");
            let listed = app.list(attacker, "").await;
            assert_eq!(listed.header("x-total-count"), Some("1"));
            assert!(!listed.text.contains("alice secret"));
            // And on the victim's path, every route is 403.
            for (method, path) in [(Method::GET, alice_path.clone()), (Method::DELETE, alice_path.clone()),
                (Method::PATCH, format!("{alice_path}/complete"))] {
                assert_eq!(app.call(attacker, method, &path, None).await.status, 403);
            }
        }
        assert_eq!(app.list(ALICE, "").await.text, before, "the victim's data is byte-identical");
    }

    async fn ids_that_are_not_positive_i64_are_404(app: TestApp) {
        app.task(ALICE, "t").await;
        for id in ["0", "-1", "abc", "1.0", "%201", "9223372036854775808", "99999999999999999999999"] {
            let path = format!("/api/alice/tasks/{id}");
            for (method, suffix, body) in [
                (Method::GET, "", None),
                (Method::PUT, "", Some(json!({"title": "x"}))),
                (Method::DELETE, "", None),
                (Method::PATCH, "/complete", None),
            ] {
                let reply = app.call(ALICE, method.clone(), &format!("{path}{suffix}"), body).await;
                assert_eq!((reply.status.as_u16(), reply.json.clone()), (404, json!({"detail": "Task not found"})),
                    "{method} {path}{suffix}");
            }
        }
        // Body checks come before the lookup.
        let reply = app.call(ALICE, Method::PUT, "/api/alice/tasks/abc", Some(json!({"title": ""}))).await;
        assert_eq!(reply.status, 422);
    }

    async fn sql_metacharacters_are_stored_literally(app: TestApp) {
        let nasty = "'; DROP TABLE tasks; -- \" \\ % _ $1 ?";
        let reply = app.create(ALICE, json!({"title": nasty, "description": nasty})).await;
        assert_eq!(reply.status, 201);
        let list = app.list(ALICE, "?sort=title").await;
        assert_eq!(list.json[0]["title"], nasty);
        assert_eq!(list.json[0]["description"], nasty);
        let path = "/api/'%20OR%201=1--/tasks";
        let reply = app.send(app.http.get(app.url(path)).bearer_auth(token("' OR 1=1--"))).await;
        assert_eq!((reply.status.as_u16(), reply.json.clone()), (200, json!([])));
    }

    async fn a_thousand_parallel_toggles_creates_and_deletes_stay_consistent(app: TestApp) {
        const N: usize = 1000;
        let id = app.task(ALICE, "t").await;
        let toggle = format!("/api/alice/tasks/{id}/complete");
        let replies = futures::future::join_all((0..N).map(|_| app.call(ALICE, Method::PATCH, &toggle, None))).await;
        let trues = replies.iter().filter(|r| { assert_eq!(r.status, 200, "{}", r.text); r.json["completed"] == true }).count();
        assert_eq!(trues, N / 2, "each toggle saw a distinct state");
        let now = app.call(ALICE, Method::GET, &format!("/api/alice/tasks/{id}"), None).await;
        assert_eq!(now.json["completed"], false, "an even number of flips");

        let created = futures::future::join_all((0..N).map(|i| app.create(BOB, json!({"title": format!("t{i}")})))).await;
        let mut new_ids: Vec<i64> = created.iter().map(|r| { assert_eq!(r.status, 201, "{}", r.text); r.id() }).collect();
        new_ids.sort_unstable();
        new_ids.dedup();
        assert_eq!(new_ids.len(), N, "distinct ids");
        assert_eq!(app.list(BOB, "").await.header("x-total-count"), Some("1000"));

        let victim = format!("/api/bob/tasks/{}", new_ids[0]);
        let deletes = futures::future::join_all((0..N).map(|_| app.call(BOB, Method::DELETE, &victim, None))).await;
        let statuses: Vec<u16> = deletes.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "exactly one delete wins");
        assert_eq!(statuses.iter().filter(|s| **s == 404).count(), N - 1);
        assert_eq!(app.list(BOB, "").await.header("x-total-count"), Some("999"));
    }

    async fn cors_only_for_listed_origins(app: TestApp) {
        let allowed = app.send(app.http.get(app.url("/api/alice/tasks")).bearer_auth(token(ALICE))
            .header("origin", "http://localhost:3000")).await;
        assert_eq!(allowed.header("access-control-allow-origin"), Some("http://localhost:3000"));
        assert_eq!(allowed.header("access-control-allow-credentials"), Some("true"));
        let exposed = allowed.header("access-control-expose-headers").unwrap().to_ascii_lowercase();
        assert!(exposed.contains("location") && exposed.contains("x-total-count"));

        let preflight = app.send(app.http.request(Method::OPTIONS, app.url("/api/alice/tasks/1"))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", "DELETE")
            .header("access-control-request-headers", "authorization, content-type")).await;
        assert!(preflight.status.is_success());
        assert_eq!(preflight.header("access-control-allow-origin"), Some("http://localhost:3000"));
        assert!(preflight.header("access-control-allow-methods").unwrap().contains("DELETE"));
        assert!(preflight.header("access-control-allow-headers").unwrap().to_ascii_lowercase().contains("authorization"));

        for request in [
            app.http.get(app.url("/api/alice/tasks")).bearer_auth(token(ALICE)).header("origin", "https://evil.example"),
            app.http.request(Method::OPTIONS, app.url("/api/alice/tasks")).header("origin", "https://evil.example")
                .header("access-control-request-method", "GET"),
        ] {
            let reply = app.send(request).await;
            let cors: Vec<_> = reply.headers.keys().filter(|k| k.as_str().starts_with("access-control-")).collect();
            assert!(cors.is_empty(), "{cors:?}");
        }
    }

    async fn writers_are_recorded_once_with_their_email(app: TestApp) {
        let with_email = todo_api::auth::mint_hs256(
            common::SECRET.as_bytes(), "dana", Some("dana@example.com"), std::time::Duration::from_secs(60));
        for _ in 0..2 {
            let reply = app.send(app.http.post(app.url("/api/dana/tasks")).bearer_auth(&with_email)
                .json(&json!({"title": "t"}))).await;
            assert_eq!(reply.status, 201);
        }
        assert_eq!(app.users().await, [("dana".to_owned(), Some("dana@example.com".to_owned()))]);
        // A token without e-mail keeps the recorded one; a new e-mail replaces it.
        assert_eq!(app.create("dana", json!({"title": "t"})).await.status, 201);
        assert_eq!(app.users().await[0].1.as_deref(), Some("dana@example.com"));
        let moved = todo_api::auth::mint_hs256(
            common::SECRET.as_bytes(), "dana", Some("dana@new.example"), std::time::Duration::from_secs(60));
        let reply = app.send(app.http.post(app.url("/api/dana/tasks")).bearer_auth(&moved)
            .json(&json!({"title": "t"}))).await;
        assert_eq!(reply.status, 201);
        assert_eq!(app.users().await, [("dana".to_owned(), Some("dana@new.example".to_owned()))]);
        let engine = app.store.engine();
        assert_eq!(engine, if app.engine == Engine::Sqlite { "sqlite" } else { "postgres" });
    }

    async fn graceful_stop_finishes_cleanly(app: TestApp) {
        app.task(ALICE, "t").await;
        app.stop().await;
    }
}

contract! {
    async fn a_real_server_fault_is_a_generic_500_without_internals(app: TestApp) {
        app.task(ALICE, "t").await;
        // Break the schema under the running server: every task query now fails.
        app.execute("DROP TABLE tasks").await;
        let reply = app.list(ALICE, "").await;
        assert_eq!((reply.status.as_u16(), reply.json.clone()), (500, json!({"detail": "Internal server error"})));
        for leak in ["tasks", "SELECT", "sqlx", "no such table", "relation", ".rs", "db error", "rusqlite", "tokio"] {
            assert!(!reply.text.contains(leak), "{leak} leaked: {}", reply.text);
        }
    }
}

contract! {
    async fn a_database_that_stops_answering_is_503_and_not_ready(app: TestApp) {
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!(ready.status, 200);
        app.store.close().await;
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!((ready.status.as_u16(), ready.json.clone()),
            (503, json!({"detail": "Database unavailable, try again shortly"})));
        let started = std::time::Instant::now();
        let list = app.list(ALICE, "").await;
        assert_eq!(list.status, 503, "{}", list.text);
        assert_eq!(list.header("retry-after"), Some("1"));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "fails fast, does not hang");
        assert_eq!(app.send(app.http.get(app.url("/health"))).await.status, 200, "liveness is not readiness");
    }
}
