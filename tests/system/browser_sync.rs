//! Headless Chromium, as a person would use it: two pages of one user at an
//! allowed origin; a task created in one shows up in the other through
//! `EventSource` with a ticket (docs/live-updates.md's frontend code, in
//! tests/interop/browser/page.html), and a deletion in the other disappears
//! from the first.
//!
//! Needs Node.js, npm (`npm ci` once in tests/interop/browser, for
//! playwright-core) and Debian's Chromium (`/usr/bin/chromium`, or `CHROMIUM`).
//! Without them it fails in CI and is skipped loudly elsewhere.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{Engine, spawn_app_with, token};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/browser");

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// Serves `page` to every request on `listener`: the frontend's origin.
fn serve_page(listener: std::net::TcpListener, page: String) {
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
}

each_engine! {
    async fn a_change_in_one_browser_page_shows_up_in_another(engine: Engine) {
        if !common::node::available("browser sync test", Some(&chromium())) {
            return;
        }
        tokio::task::spawn_blocking(|| common::node::install(BROWSER_DIR, "playwright-core")).await.unwrap();
        // The page's origin must be known before the app starts (CORS_ORIGINS).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let allowed = origin.clone();
        let app = spawn_app_with(engine, move |s| s.cors_origins = allowed).await.unwrap();
        let template = std::fs::read_to_string(Path::new(BROWSER_DIR).join("page.html")).unwrap();
        let page = template
            .replace("__API__", &app.base)
            .replace("__USER__", "alice")
            .replace("__TOKEN__", &token("alice"));
        serve_page(listener, page);
        let output = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .args(["sync.mjs", &format!("{origin}/")])
                .env("CHROMIUM", chromium())
                .current_dir(BROWSER_DIR)
                .output()
                .expect("node runs")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap_or(Value::Null);
        assert_eq!(result["ok"], true, "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        common::loud(&format!("browser sync ({engine:?}): seen in the other page after {} ms", result["seen_ms"]));
        // What the pages did is in the log: created, then deleted.
        let feed = app.call("alice", reqwest::Method::GET, "/api/alice/changes", None).await;
        let types: Vec<&str> = feed.json["changes"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["created", "deleted"]);
    }
}
