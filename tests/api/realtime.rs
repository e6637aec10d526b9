//! The change feed (`/changes`) and change streams (`/events`), on both
//! engines (and PostgreSQL through PgBouncer): order, resumption, isolation,
//! retention, tickets, limits and the ends of streams.

use crate::common;

use std::time::Duration;

use common::sse::{self, Next};
use common::{Engine, SECRET, TestApp, spawn_app, spawn_app_with, token};
use reqwest::Method;
use serde_json::{Value, json};
use todo_api::auth::mint_hs256;
use todo_api::store::ChangeLog;

const SOON: Duration = Duration::from_secs(5);

async fn feed(app: &TestApp, user: &str, query: &str) -> common::Reply {
    app.call(user, Method::GET, &format!("/api/{user}/changes{query}"), None).await
}

/// Creates two tasks, updates, toggles and deletes: six changes.
async fn six_changes(app: &TestApp, user: &str) -> (i64, i64) {
    let (a, b) = (app.task(user, "a").await, app.task(user, "b").await);
    let path = |id: i64| format!("/api/{user}/tasks/{id}");
    assert_eq!(app.call(user, Method::PUT, &path(a), Some(json!({"title": "a2"}))).await.status, 200);
    assert_eq!(app.call(user, Method::PATCH, &format!("{}/complete", path(a)), None).await.status, 200);
    assert_eq!(app.call(user, Method::DELETE, &path(b), None).await.status, 204);
    let c = app.task(user, "c").await;
    (a, c)
}

fn kinds(changes: &Value) -> Vec<(i64, String)> {
    changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["seq"].as_i64().unwrap(), c["type"].as_str().unwrap().to_owned()))
        .collect()
}

contract! {
    async fn the_feed_lists_changes_in_order_and_pages(app: TestApp) {
        let (a, c) = six_changes(&app, "alice").await;
        let all = feed(&app, "alice", "").await;
        assert_eq!(all.status, 200, "{}", all.text);
        let expected = [(1, "created"), (2, "created"), (3, "updated"), (4, "updated"), (5, "deleted"), (6, "created")];
        let expected: Vec<(i64, String)> = expected.iter().map(|(s, k)| (*s, k.to_string())).collect();
        assert_eq!(kinds(&all.json), expected);
        assert_eq!(all.json["next"], 6);
        // The task as each change left it; a deletion carries only the id.
        assert_eq!(all.json["changes"][2]["task"]["title"], "a2");
        assert_eq!(all.json["changes"][3]["task"]["completed"], true);
        assert_eq!(all.json["changes"][3]["task"]["id"], a);
        assert_eq!(all.json["changes"][4], json!({"seq": 5, "type": "deleted", "id": a + 1}));
        assert_eq!(all.json["changes"][5]["task"]["id"], c);
        // Pages: `next` is where to go on from.
        let page = feed(&app, "alice", "?since=2&limit=3").await;
        assert_eq!(kinds(&page.json).iter().map(|(s, _)| *s).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(page.json["next"], 5);
        let rest = feed(&app, "alice", "?since=5").await;
        assert_eq!(rest.json["next"], 6);
        let nothing = feed(&app, "alice", "?since=6").await;
        assert_eq!((nothing.status.as_u16(), nothing.json.clone()), (200, json!({"changes": [], "next": 6})));
        // The list says where its state is in the log.
        let list = app.list("alice", "").await;
        assert_eq!(list.header("x-change-seq"), Some("6"));
        assert_eq!(app.list("nobody-yet", "").await.header("x-change-seq"), Some("0"));
        assert_eq!(app.list("alice", "?offset=50").await.header("x-change-seq"), Some("6"));
        // A position ahead of the log was never in it.
        let ahead = feed(&app, "alice", "?since=7").await;
        assert_eq!(ahead.status, 410, "{}", ahead.text);
        assert!(ahead.detail().as_str().unwrap().contains("fetch the task list again"));
        for bad in ["?since=-1", "?since=abc", "?since=99999999999999999999", "?limit=0", "?limit=1001", "?since=1&since=2"] {
            let reply = feed(&app, "alice", bad).await;
            assert_eq!(reply.status, 422, "{bad}: {}", reply.text);
        }
    }

    async fn the_feed_is_the_owners_only(app: TestApp) {
        six_changes(&app, "alice").await;
        app.task("bob", "bob's").await;
        let reply = app.call("bob", Method::GET, "/api/alice/changes", None).await;
        assert_eq!(reply.status, 403);
        let bob = feed(&app, "bob", "").await;
        assert_eq!(kinds(&bob.json), [(1, "created".to_owned())]);
        assert_eq!(bob.json["changes"][0]["task"]["user_id"], "bob");
        let none = app.send(app.http.get(app.url("/api/alice/changes"))).await;
        assert_eq!(none.status, 401);
        // A write that failed logs nothing.
        let missing = app.call("bob", Method::PUT, "/api/bob/tasks/999999", Some(json!({"title": "x"}))).await;
        assert_eq!(missing.status, 404);
        assert_eq!(feed(&app, "bob", "").await.json["next"], 1);
    }

    async fn a_stream_delivers_live_changes_and_resumes_without_gap_or_repeat(app: TestApp) {
        let bearer = token("alice");
        let mut live = sse::open(&app, "alice", "", Some(&bearer), None).await.unwrap();
        assert_eq!(live.headers().get("x-accel-buffering").unwrap(), "no");
        let id = app.task("alice", "first").await;
        let created = live.event(SOON).await;
        assert_eq!((created.seq(), created.event.as_deref()), (1, Some("created")));
        assert_eq!(created.json()["task"]["id"], id);
        assert_eq!(created.json()["type"], "created");
        app.call("alice", Method::PATCH, &format!("/api/alice/tasks/{id}/complete"), None).await;
        assert_eq!(live.event(SOON).await.seq(), 2);
        drop(live);
        // Written while no stream was open.
        for title in ["x", "y", "z"] {
            app.task("alice", title).await;
        }
        let mut resumed = sse::open(&app, "alice", "?since=0", Some(&bearer), Some("2")).await.unwrap();
        let seqs = [resumed.event(SOON).await.seq(), resumed.event(SOON).await.seq(), resumed.event(SOON).await.seq()];
        assert_eq!(seqs, [3, 4, 5], "Last-Event-ID wins over since");
        resumed.quiet(Duration::from_millis(300)).await;
        app.task("alice", "after").await;
        assert_eq!(resumed.event(SOON).await.seq(), 6);
        let mut from_since = sse::open(&app, "alice", "?since=4", Some(&bearer), None).await.unwrap();
        assert_eq!(from_since.event(SOON).await.seq(), 5);
        for bad in [(Some("x"), ""), (None, "?since=-3")] {
            let refused = sse::open(&app, "alice", bad.1, Some(&bearer), bad.0).await.err().unwrap();
            assert_eq!(refused.0, 422, "{bad:?}");
        }
    }

    async fn streams_never_carry_another_users_changes(app: TestApp) {
        let users: Vec<String> = (0..6).map(|i| format!("user-{i}")).collect();
        let mut streams = Vec::new();
        for user in &users {
            streams.push(sse::open(&app, user, "", Some(&token(user)), None).await.unwrap());
        }
        assert_eq!(sse::open(&app, "user-0", "", Some(&token("user-1")), None).await.err().unwrap().0, 403);
        // Many users writing at once.
        let writes = users.iter().map(|user| {
            let app = &app;
            async move {
                for n in 0..5 {
                    app.task(user, &format!("{user}-{n}")).await;
                }
            }
        });
        futures::future::join_all(writes).await;
        for (user, stream) in users.iter().zip(&mut streams) {
            for seq in 1..=5 {
                let event = stream.event(SOON).await;
                assert_eq!(event.seq(), seq, "{user}");
                assert_eq!(event.json()["task"]["user_id"], user.as_str());
                assert!(event.json()["task"]["title"].as_str().unwrap().starts_with(user.as_str()));
            }
            stream.quiet(Duration::from_millis(200)).await;
        }
    }

    async fn a_position_past_retention_is_gone_and_a_stream_resets(app: TestApp) {
        six_changes(&app, "alice").await;
        // Keep the latest two, whatever their age (as the background pruner would).
        let future = common::now() as i64 + 10;
        assert_eq!(app.store.prune_changes(future, 2).await.unwrap(), 4);
        assert_eq!(feed(&app, "alice", "").await.status, 410);
        assert_eq!(feed(&app, "alice", "?since=3").await.status, 410);
        assert_eq!(kinds(&feed(&app, "alice", "?since=4").await.json).len(), 2);
        let mut stream = sse::open(&app, "alice", "?since=1", Some(&token("alice")), None).await.unwrap();
        let reset = stream.event(SOON).await;
        assert_eq!((reset.event.as_deref(), reset.seq()), (Some("reset"), 6));
        assert_eq!(reset.json()["seq"], 6);
        // Then it goes on from there.
        app.task("alice", "next").await;
        assert_eq!(stream.event(SOON).await.seq(), 7);
        // Changes within retention stay.
        assert_eq!(app.store.prune_changes(common::now() as i64 - 3600, 2).await.unwrap(), 0);
    }

    async fn pruning_goes_in_batches_and_keeps_each_owners_latest(app: TestApp) {
        // More changes than one pruning statement deletes (`PRUNE_BATCH`, 1,000):
        // 600 creates and a bulk update of all 600 for alice, six for bob.
        for chunk in 0..12 {
            let creates = (0..50).map(|i| app.task("alice", if (chunk + i) % 2 == 0 { "even" } else { "odd" }));
            futures::future::join_all(creates).await;
        }
        let done = app.call("alice", Method::PATCH, "/api/alice/tasks", Some(json!({"completed": true}))).await;
        assert_eq!(done.json["updated"], 600, "{}", done.text);
        six_changes(&app, "bob").await;
        let future = common::now() as i64 + 10;
        assert_eq!(app.store.prune_changes(future, 3).await.unwrap(), 1_197 + 3);
        // Each owner keeps exactly their latest three.
        assert_eq!(kinds(&feed(&app, "alice", "?since=1197").await.json).len(), 3);
        assert_eq!(feed(&app, "alice", "?since=1196").await.status, 410);
        assert_eq!(kinds(&feed(&app, "bob", "?since=3").await.json).len(), 3);
        assert_eq!(feed(&app, "bob", "?since=2").await.status, 410);
        assert_eq!(app.store.prune_changes(future, 3).await.unwrap(), 0);
        // Numbering goes on from each owner's latest.
        app.task("alice", "after").await;
        assert_eq!(kinds(&feed(&app, "alice", "?since=1200").await.json), [(1201, "created".to_owned())]);
    }
}

each_engine! {
    async fn tickets_open_streams_for_their_user_until_they_expire(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.realtime.events_ticket_ttl_seconds = 2).await.unwrap();
        let issued = app.call("alice", Method::POST, "/api/alice/events/ticket", None).await;
        assert_eq!(issued.status, 201, "{}", issued.text);
        assert_eq!(issued.json["expires_in"], 2);
        let ticket = issued.json["ticket"].as_str().unwrap().to_owned();
        assert_eq!(ticket.len(), 43);
        let query = format!("?ticket={ticket}");
        let mut stream = sse::open(&app, "alice", &query, None, None).await.unwrap();
        app.task("alice", "seen").await;
        assert_eq!(stream.event(SOON).await.json()["task"]["title"], "seen");
        // Reusable within its window (EventSource reconnects with it).
        assert!(sse::open(&app, "alice", &query, None, Some("1")).await.is_ok());
        // Another user's path, a forged or a malformed ticket: 401.
        assert_eq!(sse::open(&app, "bob", &query, None, None).await.err().unwrap().0, 401);
        let forged = format!("?ticket={}", "A".repeat(43));
        let (status, body) = sse::open(&app, "alice", &forged, None, None).await.err().unwrap();
        assert_eq!(status, 401);
        assert!(body.contains("ticket"), "{body}");
        assert_eq!(sse::open(&app, "alice", "?ticket=short", None, None).await.err().unwrap().0, 401);
        assert_eq!(sse::open(&app, "alice", "", None, None).await.err().unwrap().0, 401);
        // Only a bearer token gets a ticket, and only for its own path.
        let anonymous = app.send(app.http.post(app.url("/api/alice/events/ticket"))).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(app.call("bob", Method::POST, "/api/alice/events/ticket", None).await.status, 403);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(sse::open(&app, "alice", &query, None, None).await.err().unwrap().0, 401, "expired");
        // The stream it opened outlives the ticket (it lives as long as the token).
        app.task("alice", "still").await;
        assert_eq!(stream.event(SOON).await.json()["task"]["title"], "still");
    }

    async fn a_stream_ends_when_its_token_expires(engine: Engine) {
        let app = spawn_app(engine).await.unwrap();
        let short = mint_hs256(SECRET.as_bytes(), "alice", None, Duration::from_secs(2));
        let mut stream = sse::open(&app, "alice", "", Some(&short), None).await.unwrap();
        let issued = app
            .send(app.http.post(app.url("/api/alice/events/ticket")).bearer_auth(&short))
            .await;
        let ticket = issued.json["ticket"].as_str().unwrap_or_else(|| panic!("{}", issued.text)).to_owned();
        let mut by_ticket = sse::open(&app, "alice", &format!("?ticket={ticket}"), None, None).await.unwrap();
        let started = std::time::Instant::now();
        assert!(stream.ends_within(Duration::from_secs(5)).await, "the stream ended");
        assert!(by_ticket.ends_within(Duration::from_secs(2)).await, "the ticket's stream ended with its token");
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
        // Past the second of `exp` itself (whole seconds, no leeway here).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let expired = sse::open(&app, "alice", "", Some(&short), None).await.err().unwrap();
        assert_eq!(expired.0, 401);
    }

    async fn a_stream_ends_after_events_max_seconds_and_resumes(engine: Engine) {
        let app = spawn_app_with(engine, |s| s.realtime.events_max_seconds = 1).await.unwrap();
        let bearer = token("alice");
        let mut stream = sse::open(&app, "alice", "?since=0", Some(&bearer), None).await.unwrap();
        app.task("alice", "before the end").await;
        assert_eq!(stream.event(SOON).await.seq(), 1);
        assert!(stream.ends_within(Duration::from_secs(3)).await, "ended after EVENTS_MAX_SECONDS");
        app.task("alice", "while closed").await;
        let mut again = sse::open(&app, "alice", "", Some(&bearer), Some("1")).await.unwrap();
        assert_eq!(again.event(SOON).await.seq(), 2, "reopened where it ended");
    }

    async fn streams_are_limited_per_user_and_per_server(engine: Engine) {
        let app = spawn_app_with(engine, |s| {
            s.realtime.max_streams_per_user = 2;
            s.realtime.max_streams = 3;
        })
        .await
        .unwrap();
        let (alice, bob, carol) = (token("alice"), token("bob"), token("carol"));
        let first = sse::open(&app, "alice", "", Some(&alice), None).await.unwrap();
        let _second = sse::open(&app, "alice", "", Some(&alice), None).await.unwrap();
        let (status, body) = sse::open(&app, "alice", "", Some(&alice), None).await.err().unwrap();
        assert_eq!(status, 429);
        assert!(body.contains("at most 2"), "{body}");
        let _bob = sse::open(&app, "bob", "", Some(&bob), None).await.unwrap();
        let (status, body) = sse::open(&app, "carol", "", Some(&carol), None).await.err().unwrap();
        assert_eq!(status, 429);
        assert!(body.contains("(3)"), "{body}");
        drop(first);
        // The server notices the closed stream when it next writes to it.
        let mut reopened = None;
        for _ in 0..50 {
            app.task("alice", "poke").await;
            if let Ok(stream) = sse::open(&app, "carol", "", Some(&carol), None).await {
                reopened = Some(stream);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(reopened.is_some(), "a closed stream frees its place");
        let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
        // Process-wide: other tests' streams count too.
        assert!(metrics.contains("todo_api_event_streams_open "), "{metrics}");
        assert!(metrics.contains("todo_api_event_streams_refused_total{reason=\"user_limit\"}"), "{metrics}");
        assert!(metrics.contains("todo_api_events_sent_total{type=\"created\"}"), "{metrics}");
    }

    async fn idle_streams_get_heartbeats_and_shutdown_ends_them(engine: Engine) {
        let app = spawn_app_with(engine, |s| {
            s.realtime.events_heartbeat_seconds = 1;
            s.request_timeout_seconds = 1;
        })
        .await
        .unwrap();
        let mut stream = sse::open(&app, "alice", "", Some(&token("alice")), None).await.unwrap();
        assert!(matches!(stream.next(Duration::from_millis(2500)).await, Next::Comment), "a heartbeat");
        // Past REQUEST_TIMEOUT_SECONDS: a stream is not a request that runs too long.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        app.task("alice", "still streaming").await;
        assert_eq!(stream.event(SOON).await.json()["task"]["title"], "still streaming");
        let started = std::time::Instant::now();
        app.stop().await;
        assert!(started.elapsed() < Duration::from_secs(2), "streams did not hold the shutdown: {:?}", started.elapsed());
        assert!(stream.ends_within(Duration::from_secs(1)).await, "the stream ended cleanly");
    }
}
