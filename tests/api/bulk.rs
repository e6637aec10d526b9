//! Bulk actions on the list (`PATCH` and `DELETE /api/{user_id}/tasks`), on
//! both engines and through the pooler: every matching task of the owner and
//! nothing else, one change event each in one contiguous run, the quota
//! given back, `If-Match` on the change number, `Idempotency-Key`, and bad
//! input refused with nothing written.

use crate::common;

use common::{Engine, Reply, TestApp, spawn_app, spawn_app_with, token};
use reqwest::Method;
use serde_json::{Value, json};

const ALICE: &str = "alice";
const BOB: &str = "bob";

impl TestApp {
    /// A bulk action as `user` on `owner`'s list: `method /api/{owner}/tasks{query}`.
    async fn bulk(
        &self,
        user: &str,
        owner: &str,
        method: Method,
        query: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let url = self.url(&format!("/api/{owner}/tasks{query}"));
        let mut request = self.http.request(method, url).bearer_auth(token(user));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Each of `user`'s tasks as `(title, completed)`, by title.
    async fn states(&self, user: &str) -> Vec<(String, bool)> {
        let list = self.list(user, "?sort=title").await;
        assert_eq!(list.status, 200, "{}", list.text);
        let tasks = list.json.as_array().unwrap();
        tasks
            .iter()
            .map(|t| (t["title"].as_str().unwrap().to_owned(), t["completed"].as_bool().unwrap()))
            .collect()
    }

    async fn change_seq(&self, user: &str) -> i64 {
        self.list(user, "").await.header("x-change-seq").unwrap().parse().unwrap()
    }

    /// `(seq, type, task id)` of `user`'s changes after `since`.
    async fn changes_after(&self, user: &str, since: i64) -> Vec<(i64, String, i64)> {
        let feed = self
            .call(user, Method::GET, &format!("/api/{user}/changes?since={since}&limit=1000"), None)
            .await;
        assert_eq!(feed.status, 200, "{}", feed.text);
        let changes = feed.json["changes"].as_array().unwrap();
        let id = |c: &Value| c["task"]["id"].as_i64().or_else(|| c["id"].as_i64()).unwrap();
        changes
            .iter()
            .map(|c| (c["seq"].as_i64().unwrap(), c["type"].as_str().unwrap().to_owned(), id(c)))
            .collect()
    }
}

/// `n` tasks titled `{prefix}{i}`, the first `done` of them completed.
async fn tasks(app: &TestApp, user: &str, prefix: &str, n: usize, done: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let reply = app.create(user, json!({"title": format!("{prefix}{i}"), "completed": i < done})).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        ids.push(reply.id());
    }
    ids
}

fn complete(value: bool) -> Option<Value> {
    Some(json!({ "completed": value }))
}

contract! {
    async fn mark_all_sets_every_matching_task_with_one_event_each(app: TestApp) {
        let ids = tasks(&app, ALICE, "a", 5, 2).await;
        let before = app.change_seq(ALICE).await;
        let reply = app.bulk(ALICE, ALICE, Method::PATCH, "?completed=false", &[], complete(true)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json, json!({"updated": 3}));
        assert_eq!(reply.header("x-change-seq"), Some((before + 3).to_string().as_str()));
        assert_eq!(reply.header("etag"), Some(format!("W/\"{}\"", before + 3).as_str()));
        assert!(app.states(ALICE).await.iter().all(|(_, done)| *done));
        // One `updated` per changed task, numbered one after another.
        let changes = app.changes_after(ALICE, before).await;
        let seqs: Vec<i64> = changes.iter().map(|c| c.0).collect();
        assert_eq!(seqs, vec![before + 1, before + 2, before + 3]);
        assert!(changes.iter().all(|c| c.1 == "updated"), "{changes:?}");
        let mut touched: Vec<i64> = changes.iter().map(|c| c.2).collect();
        touched.sort();
        assert_eq!(touched, ids[2..].to_vec(), "the pending ones, and only those");
        // Without a filter: every task; those that already have the value are left alone.
        let all = app.bulk(ALICE, ALICE, Method::PATCH, "", &[], complete(false)).await;
        assert_eq!(all.json, json!({"updated": 5}), "{}", all.text);
        let again = app.bulk(ALICE, ALICE, Method::PATCH, "?status=all", &[], complete(false)).await;
        assert_eq!(again.json, json!({"updated": 0}), "{}", again.text);
        assert_eq!(app.change_seq(ALICE).await, before + 8);
        // The single-task routes are unchanged by any of it.
        let one = app.call(ALICE, Method::PATCH, &format!("/api/{ALICE}/tasks/{}/complete", ids[0]), None).await;
        assert_eq!((one.status.as_u16(), one.json["completed"].as_bool()), (200, Some(true)), "{}", one.text);
        // ...and still logged one by one (a bulk statement's opt-out of the row trigger ends with it).
        let last = app.changes_after(ALICE, before + 8).await;
        assert_eq!(last, vec![(before + 9, "updated".to_owned(), ids[0])]);
    }

    async fn clear_completed_deletes_only_those_with_one_event_each(app: TestApp) {
        let ids = tasks(&app, ALICE, "a", 5, 3).await;
        let before = app.change_seq(ALICE).await;
        let reply = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=true", &[], None).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json, json!({"deleted": 3}));
        assert_eq!(reply.header("x-change-seq"), Some((before + 3).to_string().as_str()));
        assert_eq!(app.states(ALICE).await, vec![("a3".to_owned(), false), ("a4".to_owned(), false)]);
        let changes = app.changes_after(ALICE, before).await;
        assert_eq!(changes.iter().map(|c| c.0).collect::<Vec<_>>(), vec![before + 1, before + 2, before + 3]);
        assert!(changes.iter().all(|c| c.1 == "deleted"), "{changes:?}");
        let mut gone: Vec<i64> = changes.iter().map(|c| c.2).collect();
        gone.sort();
        assert_eq!(gone, ids[..3].to_vec());
        let get = app.call(ALICE, Method::GET, &format!("/api/{ALICE}/tasks/{}", ids[0]), None).await;
        assert_eq!(get.status, 404);
        let list = app.list(ALICE, "").await;
        assert_eq!(list.header("x-total-count"), Some("2"));
        // Nothing left to clear: a zero, not an error.
        let none = app.bulk(ALICE, ALICE, Method::DELETE, "?status=completed", &[], None).await;
        assert_eq!(none.json, json!({"deleted": 0}), "{}", none.text);
    }

    async fn bulk_actions_never_touch_another_user(app: TestApp) {
        tasks(&app, ALICE, "a", 3, 1).await;
        tasks(&app, BOB, "b", 3, 1).await;
        let bob_before = app.list(BOB, "").await.text;
        let bob_seq = app.change_seq(BOB).await;
        let done = app.bulk(ALICE, ALICE, Method::PATCH, "", &[], complete(true)).await;
        assert_eq!(done.json, json!({"updated": 2}), "{}", done.text);
        let cleared = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=true", &[], None).await;
        assert_eq!(cleared.json, json!({"deleted": 3}), "{}", cleared.text);
        // Alice on Bob's list: 403 for both, whatever the filter.
        for (method, query, body) in [
            (Method::PATCH, "", complete(true)),
            (Method::DELETE, "?completed=true", None),
            (Method::DELETE, "?completed=false", None),
        ] {
            let refused = app.bulk(ALICE, BOB, method, query, &[], body).await;
            assert_eq!(refused.status, 403, "{}", refused.text);
        }
        assert_eq!(app.list(BOB, "").await.text, bob_before, "Bob's list is byte-identical");
        assert_eq!(app.change_seq(BOB).await, bob_seq, "and no change of Bob's was logged");
        assert!(app.states(ALICE).await.is_empty());
    }

    async fn if_match_holds_the_list_at_its_change_number(app: TestApp) {
        tasks(&app, ALICE, "a", 3, 0).await;
        let seen = app.change_seq(ALICE).await;
        // Another device changes the list after this one looked at it.
        app.task(ALICE, "late").await;
        let stale = format!("W/\"{seen}\"");
        for (method, query, body) in [(Method::PATCH, "", complete(true)), (Method::DELETE, "?completed=false", None)] {
            let refused = app.bulk(ALICE, ALICE, method, query, &[("If-Match", &stale)], body).await;
            assert_eq!(refused.status, 412, "{}", refused.text);
            assert_eq!(refused.header("etag"), Some(format!("W/\"{}\"", seen + 1).as_str()));
            assert!(refused.detail().as_str().unwrap().contains("If-Match"), "{}", refused.text);
        }
        assert_eq!(app.states(ALICE).await.len(), 4, "nothing deleted");
        assert!(app.states(ALICE).await.iter().all(|(_, done)| !done), "nothing changed");
        let current = format!("\"{}\", W/\"{}\"", seen - 1, seen + 1);
        let ok = app.bulk(ALICE, ALICE, Method::PATCH, "", &[("If-Match", &current)], complete(true)).await;
        assert_eq!(ok.json, json!({"updated": 4}), "{}", ok.text);
        let any = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=true", &[("If-Match", "*")], None).await;
        assert_eq!(any.json, json!({"deleted": 4}), "{}", any.text);
        // A user with no list yet is at 0.
        let fresh = app.bulk(BOB, BOB, Method::PATCH, "", &[("If-Match", "W/\"0\"")], complete(true)).await;
        assert_eq!(fresh.json, json!({"updated": 0}), "{}", fresh.text);
    }

    async fn bad_bulk_input_is_422_and_writes_nothing(app: TestApp) {
        tasks(&app, ALICE, "a", 2, 1).await;
        let seq = app.change_seq(ALICE).await;
        let cases: Vec<(Method, &str, Option<Value>, &str)> = vec![
            (Method::DELETE, "", None, "filter is required"),
            (Method::DELETE, "?status=all", None, "filter is required"),
            (Method::DELETE, "?completed=maybe", None, "valid boolean"),
            (Method::DELETE, "?completed=true&completed=true", None, "at most once"),
            (Method::DELETE, "?completed=true&title=a0", None, "Unknown query parameter"),
            (Method::DELETE, "?status=completed&completed=false", None, "different tasks"),
            (Method::PATCH, "", Some(json!({})), "Field required"),
            (Method::PATCH, "", Some(json!({"completed": "yes"})), "valid boolean"),
            (Method::PATCH, "", Some(json!({"completed": null})), "valid boolean"),
            (Method::PATCH, "", Some(json!({"completed": true, "title": "x"})), "Unknown field"),
            (Method::PATCH, "", Some(json!([{"completed": true}])), "valid dictionary"),
            (Method::PATCH, "?done=1", Some(json!({"completed": true})), "Unknown query parameter"),
        ];
        for (method, query, body, says) in cases {
            let reply = app.bulk(ALICE, ALICE, method.clone(), query, &[], body.clone()).await;
            assert_eq!(reply.status, 422, "{method} {query} {body:?}: {}", reply.text);
            assert!(reply.text.contains(says), "{method} {query} {body:?}: {}", reply.text);
        }
        // Every problem at once, as FastAPI reports them.
        let both = app.bulk(ALICE, ALICE, Method::PATCH, "?x=1", &[], Some(json!({"completed": 1}))).await;
        assert_eq!(both.detail().as_array().map(Vec::len), Some(2), "{}", both.text);
        let no_body = app.bulk(ALICE, ALICE, Method::PATCH, "", &[], None).await;
        assert_eq!(no_body.status, 415, "{}", no_body.text);
        let text = app.http.patch(app.url(&format!("/api/{ALICE}/tasks"))).bearer_auth(token(ALICE))
            .header("content-type", "text/plain").body("completed=true");
        assert_eq!(app.send(text).await.status, 415);
        let unauthenticated = app.http.delete(app.url(&format!("/api/{ALICE}/tasks?completed=true")));
        assert_eq!(app.send(unauthenticated).await.status, 401);
        assert_eq!(app.states(ALICE).await, vec![("a0".to_owned(), true), ("a1".to_owned(), false)]);
        assert_eq!(app.change_seq(ALICE).await, seq, "nothing was written");
    }

    async fn a_keyed_bulk_action_runs_once_and_replays(app: TestApp) {
        tasks(&app, ALICE, "a", 3, 0).await;
        let key = [("Idempotency-Key", "mark-all-1")];
        let first = app.bulk(ALICE, ALICE, Method::PATCH, "?completed=false", &key, complete(true)).await;
        assert_eq!(first.json, json!({"updated": 3}), "{}", first.text);
        app.task(ALICE, "after").await;
        let retry = app.bulk(ALICE, ALICE, Method::PATCH, "?completed=false", &key, complete(true)).await;
        assert_eq!((retry.status.as_u16(), &retry.json), (200, &json!({"updated": 3})), "{}", retry.text);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        assert_eq!(retry.header("x-change-seq"), first.header("x-change-seq"));
        assert_eq!(retry.header("etag"), first.header("etag"));
        assert!(app.states(ALICE).await.contains(&("after".to_owned(), false)), "not run twice");
        let other = app.bulk(ALICE, ALICE, Method::PATCH, "?completed=false", &key, complete(false)).await;
        assert_eq!(other.status, 422, "the same key for another request: {}", other.text);
        let clear = [("Idempotency-Key", "clear-1")];
        let cleared = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=true", &clear, None).await;
        assert_eq!(cleared.json, json!({"deleted": 3}), "{}", cleared.text);
        let done = app.call(ALICE, Method::PATCH, &format!("/api/{ALICE}/tasks?completed=false"), complete(true)).await;
        assert_eq!(done.json, json!({"updated": 1}), "{}", done.text);
        let replayed = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=true", &clear, None).await;
        assert_eq!(replayed.json, json!({"deleted": 3}), "{}", replayed.text);
        assert_eq!(app.states(ALICE).await, vec![("after".to_owned(), true)], "the retry deleted nothing");
    }
}

each_engine! { @and_pooled
    async fn clearing_gives_the_quota_back(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.max_tasks_per_user = 4).await.unwrap();
        tasks(&app, ALICE, "a", 4, 3).await;
        assert_eq!(app.create(ALICE, json!({"title": "over"})).await.status, 409);
        let cleared = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=true", &[], None).await;
        assert_eq!(cleared.json, json!({"deleted": 3}), "{}", cleared.text);
        for i in 0..3 {
            assert_eq!(app.create(ALICE, json!({"title": format!("b{i}")})).await.status, 201);
        }
        assert_eq!(app.create(ALICE, json!({"title": "over"})).await.status, 409, "exactly 3 given back");
        let pending = app.bulk(ALICE, ALICE, Method::DELETE, "?completed=false", &[], None).await;
        assert_eq!(pending.json, json!({"deleted": 4}), "{}", pending.text);
        assert_eq!(app.create(ALICE, json!({"title": "room"})).await.status, 201);
    }

    async fn concurrent_bulk_actions_and_writes_keep_the_log_contiguous(engine: Engine) {
        let app = spawn_app(engine).await.unwrap();
        tasks(&app, ALICE, "a", 20, 0).await;
        let before = app.change_seq(ALICE).await;
        let mut work = Vec::new();
        for round in 0..6 {
            let app = &app;
            work.push(async move {
                let value = round % 2 == 0;
                app.bulk(ALICE, ALICE, Method::PATCH, "", &[], complete(value)).await.json["updated"].as_i64().unwrap()
            });
        }
        let creates = async { tasks(&app, ALICE, "c", 5, 0).await.len() as i64 };
        let (counts, created) = tokio::join!(futures::future::join_all(work), creates);
        let changed: i64 = counts.iter().sum::<i64>() + created;
        let changes = app.changes_after(ALICE, before).await;
        assert_eq!(changes.len() as i64, changed, "one event per change, none lost: {counts:?}");
        let seqs: Vec<i64> = changes.iter().map(|c| c.0).collect();
        assert_eq!(seqs, (before + 1..=before + changed).collect::<Vec<_>>(), "contiguous");
        assert_eq!(app.change_seq(ALICE).await, before + changed);
    }

    async fn bulk_actions_racing_single_task_writes_never_deadlock(engine: Engine) {
        // A bulk action locks the owner's row, then the tasks; a single write
        // must take them in the same order, or the two wait on each other
        // until PostgreSQL breaks the deadlock by failing one (a 503).
        let app = spawn_app(engine).await.unwrap();
        let ids = tasks(&app, ALICE, "a", 12, 0).await;
        let single = ids.iter().flat_map(|id| [*id, *id]).enumerate().map(|(n, id)| {
            let app = &app;
            async move {
                let path = format!("/api/{ALICE}/tasks/{id}");
                match n % 3 {
                    0 => app.call(ALICE, Method::PATCH, &format!("{path}/complete"), None).await,
                    1 => app.call(ALICE, Method::PUT, &path, Some(json!({"title": format!("t{n}")}))).await,
                    _ => app.call(ALICE, Method::DELETE, &path, None).await,
                }
            }
        });
        let bulk = (0..8).map(|round| {
            let app = &app;
            async move { app.bulk(ALICE, ALICE, Method::PATCH, "", &[], complete(round % 2 == 0)).await }
        });
        let (singles, bulks) =
            tokio::join!(futures::future::join_all(single), futures::future::join_all(bulk));
        for reply in singles.iter().chain(&bulks) {
            assert!(reply.status.as_u16() < 500, "{} {}", reply.status, reply.text);
        }
    }
}
