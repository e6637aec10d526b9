//! A bounded random HTTP fuzz of every route, on both engines: seeded (so a
//! failure replays), sent over raw sockets (so nothing is cleaned up on the
//! way). Whatever arrives, the server answers, never with a 5xx, and the
//! victim's data neither leaks nor changes.

use crate::common;

use common::{Engine, SECRET, TestApp, forge, now, spawn_app, token};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

const SEED: u64 = 20_261_124;
const CASES: usize = 3_000;
const MARKER: &str = "ALICE-SECRET";

/// Everything the generator draws from: real ids of both users among junk.
struct Pools {
    alice_ids: Vec<i64>,
    mallory_ids: Vec<i64>,
    tokens: Vec<String>,
}

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).unwrap()
}

fn junk(rng: &mut StdRng, max: usize) -> String {
    let len = rng.random_range(0..=max);
    (0..len).map(|_| format!("%{:02X}", rng.random::<u8>())).collect()
}

fn user_segment(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0..=4 => "mallory".into(),
        5 => "alice".into(),
        6 => pick(
            rng,
            &["", "..", "%2e%2e", "mallory%2F..%2Falice", "ALICE", "%61lice", "mallory%00", "%D0%B0lice"],
        )
        .into(),
        _ => junk(rng, 6),
    }
}

fn id_segment(rng: &mut StdRng, pools: &Pools) -> String {
    match rng.random_range(0..10) {
        0..=2 => pools.alice_ids.choose(rng).unwrap().to_string(),
        3..=5 => pools.mallory_ids.choose(rng).unwrap().to_string(),
        6 => rng.random::<i64>().to_string(),
        7 => pick(rng, &["0", "-1", "9223372036854775808", "1e3", "+1", "01", "%31", "1.0", "%EF%BC%91"])
            .into(),
        _ => junk(rng, 4),
    }
}

/// A path and a method, usually one the route accepts (so the request gets
/// past routing and into authentication, validation and the database).
fn target(rng: &mut StdRng, pools: &Pools) -> (&'static str, String) {
    const ANY: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW"];
    let user = user_segment(rng);
    let (methods, mut path): (&[&str], String) = match rng.random_range(0..12) {
        0..=3 => {
            let filter = pick(rng, &["", "", "?completed=true", "?completed=false", "?status=all", "?x=1"]);
            (&["GET", "POST", "POST", "PATCH", "DELETE"], format!("/api/{user}/tasks{filter}"))
        }
        4..=7 => {
            (&["GET", "PUT", "PATCH", "DELETE"], format!("/api/{user}/tasks/{}", id_segment(rng, pools)))
        }
        8..=9 => (&["PATCH"], format!("/api/{user}/tasks/{}/complete", id_segment(rng, pools))),
        10 => (
            &["GET"],
            pick(
                rng,
                &["/health", "/ready", "/openapi.json", "/docs/", "/metrics", "/", "//api", "/api/tasks"],
            )
            .into(),
        ),
        _ => (ANY, format!("/{}/{}", junk(rng, 5), junk(rng, 5))),
    };
    let method = if rng.random_bool(0.8) { methods.choose(rng).unwrap() } else { ANY.choose(rng).unwrap() };
    if rng.random_bool(0.2) {
        path.push('/');
    }
    if rng.random_bool(0.3) {
        let keys = ["status", "sort", "order", "limit", "offset", "user_id", "x"];
        let values = [
            "all",
            "pending",
            "completed",
            "title",
            "created",
            "updated",
            "asc",
            "desc",
            "0",
            "1",
            "1000",
            "1001",
            "-1",
            "",
            "'--",
            "%00",
        ];
        let pairs: Vec<String> = (0..rng.random_range(1..4))
            .map(|_| format!("{}={}", pick(rng, &keys), pick(rng, &values)))
            .collect();
        path = format!("{path}?{}", pairs.join("&"));
    }
    (method, path)
}

fn body(rng: &mut StdRng) -> Vec<u8> {
    let strings = ["t", "", "   ", "é", "\u{0}", "x'; DROP TABLE tasks;--", "\u{202e}rtl", "a\nb"];
    let value = |rng: &mut StdRng| match rng.random_range(0..9) {
        0..=2 => json!(pick(rng, &strings)),
        3 => json!("x".repeat(rng.random_range(0..300))),
        4 => json!(rng.random::<bool>()),
        5 => json!(rng.random::<i64>()),
        6 => json!(null),
        7 => json!([1, "a"]),
        _ => json!({"nested": true}),
    };
    let mut object = serde_json::Map::new();
    for key in ["title", "description", "completed", "id", "user_id", "created_at"] {
        if rng.random_bool(0.5) {
            object.insert(key.to_owned(), value(rng));
        }
    }
    // Often a body that is valid but for what a mass-assigner would add.
    if rng.random_bool(0.5) {
        object.insert("title".into(), json!(pick(rng, &["t", "é", "x'; DROP TABLE tasks;--", "a\nb"])));
        object.insert("description".into(), json!(pick(rng, &["d", ""])));
        object.insert("completed".into(), json!(rng.random::<bool>()));
    }
    let mut bytes = serde_json::to_vec(&object).unwrap();
    match rng.random_range(0..10) {
        0 => (0..rng.random_range(1..5)).for_each(|_| {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }),
        1 => bytes.truncate(rng.random_range(0..bytes.len())),
        2 => bytes = (0..rng.random_range(0..200)).map(|_| rng.random()).collect(),
        _ => {}
    }
    bytes
}

fn request(rng: &mut StdRng, pools: &Pools) -> Vec<u8> {
    let (method, path) = target(rng, pools);
    let mut head = format!(
        "{method} {path} HTTP/1.1
Host: t
Connection: close
"
    );
    if rng.random_bool(0.85) {
        head += &format!("Authorization: Bearer {}\r\n", pools.tokens.choose(rng).unwrap());
    }
    let content_type = pick(
        rng,
        &[
            "application/json",
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
        ],
    );
    if !content_type.is_empty() {
        head += &format!("Content-Type: {content_type}\r\n");
    }
    if rng.random_bool(0.2) {
        head += pick(
            rng,
            &[
                "Origin: https://evil.example\r\n",
                "Origin: http://localhost:3000\r\n",
                "X-Request-Id: ../../etc\r\n",
                "Transfer-Encoding: chunked, identity\r\n",
            ],
        );
    }
    let body = if matches!(method, "POST" | "PUT" | "PATCH") || rng.random_bool(0.1) {
        body(rng)
    } else {
        Vec::new()
    };
    let mut bytes = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend(body);
    bytes
}

contract! {
    async fn random_requests_never_5xx_and_never_cross_users(app: TestApp) {
        let mut alice_ids = Vec::new();
        for i in 0..3 {
            let created = app.create("alice", json!({"title": format!("{MARKER} {i}"), "description": MARKER})).await;
            alice_ids.push(created.id());
        }
        let mallory_ids = vec![app.task("mallory", "m1").await, app.task("mallory", "m2").await];
        let snapshot = app.list("alice", "").await.text;
        let forged = |claims: String| forge(r#"{"alg":"HS256"}"#, &claims, SECRET.as_bytes(), jsonwebtoken::Algorithm::HS256);
        let tokens = vec![
            token("mallory"), token("mallory"), token("mallory"), token("mallory"),
            token("mallory"), token("mallory"), token("mallory"), token("mallory"),
            token("eve"),
            forged(format!(r#"{{"sub":"mallory","exp":{}}}"#, now() - 100)),
            forged(format!(r#"{{"sub":"alice","exp":{}}}"#, now() + 100)).replace('.', ".x"),
            "e30.e30.".to_owned(),
            "garbage".to_owned(),
        ];
        let pools = Pools { alice_ids, mallory_ids, tokens };
        let mut rng = StdRng::seed_from_u64(SEED);
        let requests: Vec<Vec<u8>> = (0..CASES).map(|_| request(&mut rng, &pools)).collect();

        let addr = app.addr();
        let answers: Vec<(usize, u16, String)> = futures::stream::iter(requests.iter().enumerate())
            .map(|(n, bytes)| async move {
                let (status, body) = common::raw_http(addr, bytes).await;
                (n, status, body)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut by_status = std::collections::BTreeMap::new();
        for (n, status, body) in &answers {
            let sent = String::from_utf8_lossy(&requests[*n]);
            assert!((200..500).contains(status), "case {n}: {status} for\n{sent}\n{body}");
            assert!(!body.contains(MARKER), "case {n} leaked the victim's data:\n{sent}\n{body}");
            *by_status.entry(*status).or_insert(0) += 1;
        }
        assert!(by_status.len() >= 8, "the fuzz reached many outcomes: {by_status:?}");
        assert!(by_status.get(&201).is_some_and(|n| *n > 10) && by_status.get(&200).is_some_and(|n| *n > 10), "{by_status:?}");
        assert_eq!(app.list("alice", "").await.text, snapshot, "the victim's data is byte-identical");
        common::loud(&format!("http fuzz ({:?}): {CASES} requests, statuses {by_status:?}", app.engine));
    }
}
