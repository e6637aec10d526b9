//! Interop with the real thing: Better Auth itself (npm `better-auth`, its jwt
//! plugin, memory adapter, email + password; it runs offline) signs up two
//! users per algorithm and issues their tokens and JWKS. todo-api, configured
//! with nothing but BETTER_AUTH_URL, must accept each token for its own user and
//! keep the users apart.
//!
//! Needs Node.js and npm (it runs `npm ci` once in tests/interop/better-auth).
//! Without Node it fails in CI and is skipped loudly elsewhere.

use crate::common;

use std::process::Command;

use common::keys::JwksServer;
use common::{Engine, spawn_app_with};
use serde_json::{Value, json};

const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/better-auth");

/// Better Auth's tokens and JWKS for every algorithm, issued for `base_url`.
fn mint(base_url: &str) -> Value {
    common::node::install(INTEROP_DIR, "better-auth");
    let output = Command::new("node")
        .args(["mint.mjs", base_url])
        .current_dir(INTEROP_DIR)
        .output()
        .expect("node runs");
    assert!(output.status.success(), "mint.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("mint.mjs prints JSON")
}

each_engine! {
    async fn real_better_auth_tokens_work_for_their_user_only(engine: Engine) {
        if !common::node::available("Better Auth interop test", None) {
            return;
        }
        // The "auth server": its JWKS endpoint serves what Better Auth published.
        let server = JwksServer::start(&[]).await;
        let minted = tokio::task::spawn_blocking({
            let origin = server.origin();
            move || mint(&origin)
        })
        .await
        .unwrap();
        let results = minted["results"].as_array().unwrap();
        let keys: Vec<Value> =
            results.iter().flat_map(|r| r["jwks"]["keys"].as_array().unwrap().clone()).collect();
        assert_eq!(keys.len(), 5, "one key per algorithm");
        server.publish_raw(keys);

        let origin = server.origin();
        let app = spawn_app_with(engine, move |s| {
            s.auth.better_auth_secret = None;
            s.auth.better_auth_url = Some(origin);
        })
        .await
        .unwrap();

        for result in results {
            let alg = result["alg"].as_str().unwrap();
            let users = result["users"].as_array().unwrap();
            let (alice, bob) = (&users[0], &users[1]);
            let (alice_id, alice_token) = (alice["id"].as_str().unwrap(), alice["token"].as_str().unwrap());
            let (bob_id, bob_token) = (bob["id"].as_str().unwrap(), bob["token"].as_str().unwrap());

            let created = app.send(app.http.post(app.url(&format!("/api/{alice_id}/tasks")))
                .bearer_auth(alice_token).json(&json!({"title": format!("{alg} task")}))).await;
            assert_eq!(created.status, 201, "{alg}: {}", created.text);
            let task_id = created.id();
            let own = app.send(app.http.get(app.url(&format!("/api/{alice_id}/tasks/{task_id}"))).bearer_auth(alice_token)).await;
            assert_eq!(own.status, 200, "{alg}");

            let bobs_list = app.send(app.http.get(app.url(&format!("/api/{bob_id}/tasks"))).bearer_auth(bob_token)).await;
            assert_eq!((bobs_list.status.as_u16(), bobs_list.json.clone()), (200, json!([])), "{alg}");
            let across = app.send(app.http.get(app.url(&format!("/api/{alice_id}/tasks"))).bearer_auth(bob_token)).await;
            assert_eq!(across.status, 403, "{alg}: bob's token on alice's path");
            let foreign = app.send(app.http.get(app.url(&format!("/api/{bob_id}/tasks/{task_id}"))).bearer_auth(bob_token)).await;
            assert_eq!(foreign.status, 404, "{alg}: alice's task through bob's path");
        }
        // Better Auth's email claim was recorded with the user.
        let emails = app.users().await;
        assert_eq!(emails.len(), 5);
        assert!(emails.iter().all(|(_, email)| email.as_deref().is_some_and(|e| e.starts_with("alice-"))));
    }
}
