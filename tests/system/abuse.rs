//! Abuse resistance: each user's request rate is limited (429 with
//! Retry-After and the RateLimit fields, no work done, other users
//! unaffected, the bucket refills), and a client address that keeps failing
//! to authenticate is refused before its tokens are verified, while already
//! verified tokens from it, and other addresses, are not.

use crate::common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::process::{free_port, serve_on};
use common::{Engine, SECRET, fresh_database, spawn_app_with, token};
use reqwest::StatusCode;
use serde_json::json;

fn from(addr: &str) -> reqwest::Client {
    let local: IpAddr = addr.parse().unwrap();
    common::client_builder().local_address(local).timeout(Duration::from_secs(20)).build().unwrap()
}

each_engine! {
    async fn a_burst_over_the_user_limit_gets_exactly_the_burst(engine: Engine) {
        let Some(app) = spawn_app_with(engine, |s| {
            s.protection.rate_limit_per_second = 1;
            s.protection.rate_limit_burst = 10;
        })
        .await else { return };
        let client = common::http_client();
        let alice = token("alice");
        let started = Instant::now();
        let burst = (0..15).map(|n| {
            client.post(app.url("/api/alice/tasks")).bearer_auth(&alice).json(&json!({"title": format!("t{n}")})).send()
        });
        let replies = futures::future::join_all(burst).await;
        let elapsed = started.elapsed();
        let bob = app.call("bob", reqwest::Method::GET, "/api/bob/tasks", None).await;
        assert_eq!(bob.status, StatusCode::OK, "another user is not limited meanwhile");

        let replies: Vec<_> = replies.into_iter().map(Result::unwrap).collect();
        let created = replies.iter().filter(|r| r.status() == StatusCode::CREATED).count();
        let refilled = elapsed.as_secs() as usize;
        assert!((10..=10 + refilled).contains(&created), "{created} created in {elapsed:?}");
        let limited: Vec<_> = replies.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).collect();
        assert_eq!(created + limited.len(), 15, "nothing but 201 and 429");
        for reply in &limited {
            let header = |name: &str| reply.headers().get(name).unwrap().to_str().unwrap().to_owned();
            let retry: u64 = header("retry-after").parse().unwrap();
            assert!((1..=2).contains(&retry), "Retry-After {retry}");
            assert_eq!(header("ratelimit-policy"), "\"user\";q=10;w=10");
            assert_eq!(header("ratelimit"), format!("\"user\";r=0;t={retry}"));
        }
        let detail: serde_json::Value = serde_json::from_str(&{
            let again = client.get(app.url("/api/alice/tasks")).bearer_auth(&alice).send().await.unwrap();
            assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "reads count too");
            again.text().await.unwrap()
        })
        .unwrap();
        assert!(detail["detail"].as_str().unwrap().contains("Too many requests for this user"), "{detail}");

        // The bucket refills: one request a second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let list = client.get(app.url("/api/alice/tasks")).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(list.status(), StatusCode::OK);
        let tasks: Vec<serde_json::Value> = list.json().await.unwrap();
        assert_eq!(tasks.len(), created, "a refused request did no work");
    }
}

/// The server as a process of its own, so its metrics count only this test.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    fn start(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut env = vec![
            ("BETTER_AUTH_SECRET", SECRET),
            ("DATABASE_URL", database_url),
            ("AUTH_FAILURES_PER_MINUTE", "60"),
            ("AUTH_FAILURES_BURST", "5"),
        ];
        env.extend_from_slice(extra);
        Self { child: serve_on(port, &env), port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn verifications(&self) -> u64 {
        let text = from("127.0.0.1").get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("todo_api_token_verifications_total "))
            .map_or(0, |v| v.trim().parse().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token that looks right but is signed with another secret: verifying it costs a signature check.
fn forged(n: usize) -> String {
    todo_api::auth::mint_hs256(
        b"not-the-secret-not-the-secret-not-the-",
        &format!("f{n}"),
        None,
        Duration::from_secs(600),
    )
}

async fn statuses(client: &reqwest::Client, url: &str, tokens: impl Iterator<Item = String>) -> Vec<u16> {
    let mut seen = Vec::new();
    for token in tokens {
        seen.push(client.get(url).bearer_auth(token).send().await.unwrap().status().as_u16());
    }
    seen
}

each_engine! {
    async fn forged_token_floods_are_refused_before_verification(engine: Engine) {
        let (url, _db) = fresh_database(engine).await.unwrap();
        let server = Server::start(&url, &[]);
        let (flooder, neighbour) = (from("127.0.0.2"), from("127.0.0.3"));
        let alice = token("alice");
        let tasks = server.url("/api/alice/tasks");
        // Alice's token is verified (and cached) before her address floods.
        assert_eq!(flooder.get(&tasks).bearer_auth(&alice).send().await.unwrap().status(), 200);

        let before = server.verifications().await;
        let started = Instant::now();
        let seen = statuses(&flooder, &tasks, (0..60).map(forged)).await;
        let elapsed = started.elapsed();
        let verified = server.verifications().await - before;
        let failed = seen.iter().filter(|s| **s == 401).count();
        let refused = seen.iter().filter(|s| **s == 429).count();
        assert_eq!(failed + refused, 60, "{seen:?}");
        let refills = elapsed.as_secs() as usize + 1;
        assert!((5..=5 + refills).contains(&failed), "the burst, then refusals: {failed} 401s in {elapsed:?}");
        assert_eq!(verified as usize, failed, "a refused token is never verified");

        let refusal = flooder.get(&tasks).bearer_auth(forged(99)).send().await.unwrap();
        assert_eq!(refusal.status(), 429);
        assert_eq!(refusal.headers()["ratelimit-policy"], "\"auth-failures\";q=5;w=5");
        assert!(refusal.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(flooder.get(&tasks).send().await.unwrap().status(), 429, "no token at all: refused too");
        assert_eq!(
            flooder.get(&tasks).bearer_auth(&alice).send().await.unwrap().status(),
            200,
            "a token already verified is served from a limited address"
        );
        assert_eq!(neighbour.get(&tasks).bearer_auth(forged(100)).send().await.unwrap().status(), 401, "another address is not limited");
        let metrics = from("127.0.0.1").get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("todo_api_requests_limited_total{reason=\"auth_failures\"}"), "counted by reason");
    }
}

#[tokio::test]
async fn behind_trusted_proxies_the_forwarded_client_is_limited() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("proxy.db").display());
    let server = Server::start(&url, &[("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]);
    let tasks = server.url("/api/alice/tasks");
    let (proxy, stranger) = (from("127.0.0.1"), from("127.0.0.4"));
    let via = |client: &reqwest::Client, chain: &str, n: usize| {
        client.get(&tasks).bearer_auth(forged(n)).header("x-forwarded-for", chain).send()
    };
    let mut seen = Vec::new();
    for n in 0..8 {
        seen.push(via(&proxy, "203.0.113.7, 10.1.2.3", n).await.unwrap().status().as_u16());
    }
    assert_eq!(seen[7], 429, "the client behind the proxies is limited: {seen:?}");
    assert_eq!(
        via(&proxy, "203.0.113.8", 50).await.unwrap().status(),
        401,
        "another client of the proxy is not"
    );
    // An untrusted peer's header is ignored: it is limited as itself, whatever it claims.
    let mut claimed = Vec::new();
    for n in 0..8 {
        claimed.push(via(&stranger, &format!("198.51.100.{n}"), 100 + n).await.unwrap().status().as_u16());
    }
    assert_eq!(claimed[7], 429, "{claimed:?}");
}

/// Stream tickets are looked up in the database: guessing them counts as
/// failing to authenticate, and a guessing address is refused like a forger.
#[tokio::test]
async fn guessed_stream_tickets_count_as_failures() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("tickets.db").display());
    let server = Server::start(&url, &[]);
    let (guesser, neighbour) = (from("127.0.0.2"), from("127.0.0.3"));
    let events = |n: usize| server.url(&format!("/api/alice/events?ticket={}{n:05}", "A".repeat(38)));
    let mut seen = Vec::new();
    for n in 0..8 {
        seen.push(guesser.get(events(n)).send().await.unwrap().status().as_u16());
    }
    assert_eq!(seen, [401, 401, 401, 401, 401, 429, 429, 429], "the burst of 5, then refusals");
    assert_eq!(
        neighbour.get(events(9)).send().await.unwrap().status(),
        401,
        "another address is not limited"
    );
}
