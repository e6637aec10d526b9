//! The connection cap: connections beyond `MAX_CONNECTIONS` wait in the listen
//! queue and are served in turn. Its own test binary, apart from tests/api and
//! tests/system, because the open connection gauge is process-wide and other
//! tests' servers would move it.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Engine, spawn_app_with, token};
use futures::future::join_all;
use tokio::net::TcpStream;

fn open_connections(metrics: &str) -> i64 {
    let line = metrics.lines().find(|l| l.starts_with("todo_api_http_connections_open ")).expect("the gauge");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_their_turn_instead_of_failing() {
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.max_connections = 4;
        s.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
    .unwrap();
    let metrics_url = format!("{}/metrics", app.metrics_base.as_ref().unwrap());
    let read_gauge = || async {
        open_connections(&app.http.get(&metrics_url).send().await.unwrap().text().await.unwrap())
    };

    // Four idle connections take every slot...
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(app.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(read_gauge().await, 4);
    // ...so a fifth client waits (it is not refused)...
    let fresh = common::http_client();
    let waiting = tokio::spawn({
        let url = app.url("/health");
        async move { fresh.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "served beyond the cap");
    // ...and is served as soon as one closes.
    idle.pop();
    let status =
        tokio::time::timeout(Duration::from_secs(3), waiting).await.expect("served once a slot freed");
    assert_eq!(status.unwrap().unwrap(), 200);
    drop(idle);

    // 300 clients at once, each on its own connection: all served, never more than 4 open.
    let one_shot =
        common::client_builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(30)).build().unwrap();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let (http, url, sampling) = (app.http.clone(), metrics_url.clone(), sampling.clone());
        async move {
            let mut most = 0;
            while sampling.load(Ordering::Relaxed) {
                let text = http.get(&url).send().await.unwrap().text().await.unwrap();
                most = most.max(open_connections(&text));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            most
        }
    });
    let requests = (0..300).map(|_| {
        let request = one_shot.get(app.url("/api/alice/tasks")).bearer_auth(token("alice"));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    let statuses = join_all(requests).await;
    sampling.store(false, Ordering::Relaxed);
    let most = sampler.await.unwrap();
    assert!(statuses.iter().all(|s| matches!(s, Ok(200))), "{statuses:?}");
    assert!((1..=4).contains(&most), "at most 4 connections open, saw {most}");
}
