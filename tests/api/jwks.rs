//! Better Auth's asymmetric tokens: keys from a JWKS (served locally here),
//! every algorithm Better Auth can use, rotation, refetch limits, outages, and
//! the key-confusion attacks, on both engines.

use crate::common;

use std::time::Duration;

use common::keys::{JwksServer, TestKey, better_auth_claims};
use common::{Engine, SECRET, TestApp, forge, now, spawn_app_with};
use serde_json::json;

const ALGORITHMS: [&str; 5] = ["EdDSA", "ES256", "ES512", "RS256", "PS256"];

/// An app that trusts `jwks` the way a stock setup does: only BETTER_AUTH_URL.
async fn app_for(engine: Engine, jwks: &JwksServer, min_refetch: u64) -> TestApp {
    let origin = jwks.origin();
    spawn_app_with(engine, move |s| {
        s.auth.better_auth_secret = None;
        s.auth.better_auth_url = Some(origin);
        s.auth.jwks_min_refetch_seconds = min_refetch;
    })
    .await
    .unwrap()
}

async fn get_as(app: &TestApp, user: &str, token: &str) -> (u16, String) {
    let reply = app.send(app.http.get(app.url(&format!("/api/{user}/tasks"))).bearer_auth(token)).await;
    (reply.status.as_u16(), reply.json["detail"].as_str().unwrap_or_default().to_owned())
}

each_engine! {
    async fn every_better_auth_algorithm_verifies(engine: Engine) {
        let keys: Vec<TestKey> =
            ALGORITHMS.iter().enumerate().map(|(i, alg)| TestKey::generate(alg, &format!("kid-{i}-{alg}"))).collect();
        let jwks = JwksServer::start(&keys.iter().collect::<Vec<_>>()).await;
        let app = app_for(engine, &jwks, 30).await;
        for key in &keys {
            let token = key.sign(&better_auth_claims("user-1", &jwks.origin()));
            assert_eq!(get_as(&app, "user-1", &token).await, (200, String::new()), "{}", key.alg);
            let create = app.send(app.http.post(app.url("/api/user-1/tasks")).bearer_auth(&token)
                .json(&json!({"title": key.alg}))).await;
            assert_eq!(create.status, 201, "{}", key.alg);
            assert_eq!(get_as(&app, "user-2", &token).await.0, 403, "{}: another user's path", key.alg);
            // A flipped signature bit is caught for every algorithm.
            let mut tampered = token.clone().into_bytes();
            let last = tampered.len() - 3;
            tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert_eq!(get_as(&app, "user-1", &tampered).await.0, 401, "{}: tampered", key.alg);
        }
        let listed = app.send(app.http.get(app.url("/api/user-1/tasks")).bearer_auth(keys[0].sign(&better_auth_claims("user-1", &jwks.origin())))).await;
        assert_eq!(listed.header("x-total-count"), Some("5"));
        assert_eq!(jwks.fetches(), 1, "one fetch at startup served every key");
    }

    async fn rotation_and_unknown_kid_refetch(engine: Engine) {
        let old = TestKey::generate("EdDSA", "old");
        let new = TestKey::generate("EdDSA", "new");
        let jwks = JwksServer::start(&[&old]).await;
        let app = app_for(engine, &jwks, 1).await;
        let claims = better_auth_claims("u", &jwks.origin());
        assert_eq!(get_as(&app, "u", &old.sign(&claims)).await.0, 200);

        // Rotation: the new key appears beside the old one; its first token triggers a refetch.
        jwks.publish(&[&new, &old]);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(get_as(&app, "u", &new.sign(&claims)).await.0, 200);
        assert_eq!(get_as(&app, "u", &old.sign(&claims)).await.0, 200, "old key still in its grace period");
        assert_eq!(jwks.fetches(), 2);

        // The grace period ends: the old key is dropped at the next refresh.
        jwks.publish(&[&new]);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let unknown = TestKey::generate("EdDSA", "never-published");
        assert_eq!(get_as(&app, "u", &unknown.sign(&claims)).await, (401, "Token signing key is not known to this server".into()));
        assert_eq!(get_as(&app, "u", &old.sign(&claims)).await.0, 401, "retired key no longer verifies");
        assert_eq!(get_as(&app, "u", &new.sign(&claims)).await.0, 200);
    }

    async fn unknown_kids_refetch_at_most_once_per_interval(engine: Engine) {
        let known = TestKey::generate("ES256", "known");
        let jwks = JwksServer::start(&[&known]).await;
        let app = app_for(engine, &jwks, 2).await;
        let claims = better_auth_claims("u", &jwks.origin());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let strangers: Vec<TestKey> = (0..5).map(|i| TestKey::generate("ES256", &format!("stranger-{i}"))).collect();
        let replies = futures::future::join_all(strangers.iter().map(|k| {
            let token = k.sign(&claims);
            let app = &app;
            async move { get_as(app, "u", &token).await }
        }))
        .await;
        for reply in replies {
            assert_eq!(reply, (401, "Token signing key is not known to this server".into()));
        }
        assert_eq!(jwks.fetches(), 2, "startup + one refetch for the whole burst");
        assert_eq!(get_as(&app, "u", &strangers[0].sign(&claims)).await.0, 401);
        assert_eq!(jwks.fetches(), 2, "still inside the interval: no new fetch");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(get_as(&app, "u", &strangers[0].sign(&claims)).await.0, 401);
        assert_eq!(jwks.fetches(), 3);
    }

    async fn an_auth_server_outage_signs_nobody_out(engine: Engine) {
        let cached = TestKey::generate("RS256", "cached");
        let jwks = JwksServer::start(&[&cached]).await;
        let app = app_for(engine, &jwks, 1).await;
        let claims = better_auth_claims("u", &jwks.origin());
        jwks.set_down(true);
        tokio::time::sleep(Duration::from_millis(1100)).await;

        // A key that was cached keeps working.
        assert_eq!(get_as(&app, "u", &cached.sign(&claims)).await.0, 200);
        // A key that cannot be fetched is the server's problem, not the user's: 503.
        let rotated = TestKey::generate("RS256", "rotated");
        let reply = app.send(app.http.get(app.url("/api/u/tasks")).bearer_auth(rotated.sign(&claims))).await;
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert_eq!(reply.json["detail"], "Authentication keys are unavailable; try again shortly");
        assert!(reply.header("retry-after").is_some());
        assert!(reply.header("www-authenticate").is_none());
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!((ready.status.as_u16(), ready.json["jwks"].clone()), (200, json!("stale")));

        // Back up: the rotated key is fetched on its next use.
        jwks.set_down(false);
        jwks.publish(&[&rotated, &cached]);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(get_as(&app, "u", &rotated.sign(&claims)).await.0, 200);
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!(ready.json["jwks"], "ok");
    }

    async fn a_cold_cache_with_the_auth_server_down_is_503_and_not_ready(engine: Engine) {
        let key = TestKey::generate("EdDSA", "k");
        // Nothing listens on port 1: the auth server "has not started yet".
        let app = spawn_app_with(engine, |s| {
            s.auth.better_auth_secret = None;
            s.auth.better_auth_url = Some("http://127.0.0.1:1".into());
        })
        .await
        .unwrap();
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!(ready.status, 503);
        let token = key.sign(&better_auth_claims("u", "http://127.0.0.1:1"));
        assert_eq!(get_as(&app, "u", &token).await.0, 503);
    }

    async fn algorithm_and_key_confusion_is_refused(engine: Engine) {
        let ed = TestKey::generate("EdDSA", "ed");
        let rsa = TestKey::generate("RS256", "rsa");
        let jwks = JwksServer::start(&[&ed, &rsa]).await;
        let origin = jwks.origin();
        let claims = better_auth_claims("u", &origin);
        // JWKS and the shared secret both on: the algorithm picks the path.
        let app = spawn_app_with(engine, {
            let origin = origin.clone();
            move |s| s.auth.better_auth_url = Some(origin)
        })
        .await
        .unwrap();
        assert_eq!(get_as(&app, "u", &ed.sign(&claims)).await.0, 200);

        // The Ed25519 key's token claiming ES256 (and the RSA key's claiming PS256).
        assert_eq!(get_as(&app, "u", &ed.sign_as("ES256", &claims)).await,
            (401, "Token algorithm does not match its signing key".into()));
        assert_eq!(get_as(&app, "u", &rsa.sign_as("PS256", &claims)).await.1, "Token algorithm does not match its signing key");
        // HS256 signed with the public key as the HMAC secret: it goes to the secret, and fails.
        let public_as_secret = serde_json::to_vec(&rsa.jwk()).unwrap();
        let confused = forge(r#"{"alg":"HS256","kid":"rsa"}"#, &claims, &public_as_secret, jsonwebtoken::Algorithm::HS256);
        assert_eq!(get_as(&app, "u", &confused).await, (401, "Token signature is invalid".into()));
        let n = rsa.jwk()["n"].as_str().unwrap().to_owned();
        let confused = forge(r#"{"alg":"HS256","kid":"rsa"}"#, &claims, n.as_bytes(), jsonwebtoken::Algorithm::HS256);
        assert_eq!(get_as(&app, "u", &confused).await.0, 401);
        // Other asymmetric algorithms and `none` are never accepted.
        for alg in ["RS512", "ES384", "EdDSA25519", "none", "HS512"] {
            assert_eq!(get_as(&app, "u", &ed.sign_as(alg, &claims)).await.0, 401, "{alg}");
        }

        // With the JWKS alone, no HS256 token is accepted, however it was signed.
        let jwks_only = app_for(engine, &jwks, 30).await;
        let hs = forge(r#"{"alg":"HS256"}"#, &claims, SECRET.as_bytes(), jsonwebtoken::Algorithm::HS256);
        assert_eq!(get_as(&jwks_only, "u", &hs).await, (401, "Token algorithm is not accepted".into()));
    }

    async fn issuer_audience_and_expiry_follow_better_auth(engine: Engine) {
        let key = TestKey::generate("EdDSA", "k");
        let jwks = JwksServer::start(&[&key]).await;
        let app = app_for(engine, &jwks, 30).await;
        let origin = jwks.origin();
        let t = now();
        let sign = |claims: serde_json::Value| key.sign(&claims.to_string());
        let base = |iss: &str, aud: serde_json::Value| json!({"sub": "u", "iat": t, "exp": t + 900, "iss": iss, "aud": aud});

        assert_eq!(get_as(&app, "u", &sign(base(&origin, json!([origin, "other"])))).await.0, 200, "aud may be a list");
        assert_eq!(get_as(&app, "u", &sign(base("https://evil.example", json!(origin)))).await.1, "Token issuer is not accepted");
        assert_eq!(get_as(&app, "u", &sign(base(&origin, json!("https://evil.example")))).await.1, "Token audience is not accepted");
        assert_eq!(get_as(&app, "u", &sign(json!({"sub": "u", "exp": t + 900, "iss": origin}))).await.1, "Token audience is not accepted");
        assert_eq!(get_as(&app, "u", &sign(json!({"sub": "u", "exp": t + 900, "aud": origin}))).await.1, "Token issuer is not accepted");
        let mut expired = base(&origin, json!(origin));
        expired["exp"] = json!(t - 60);
        assert_eq!(get_as(&app, "u", &sign(expired)).await.1, "Token has expired");
        let mut no_exp = base(&origin, json!(origin));
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(get_as(&app, "u", &sign(no_exp)).await.1, "Token is missing a valid exp claim");
        // A path on BETTER_AUTH_URL does not change the origin Better Auth puts in tokens.
        let with_path = spawn_app_with(engine, {
            let url = format!("{origin}/");
            move |s| {
                s.auth.better_auth_secret = None;
                s.auth.better_auth_url = Some(url);
            }
        })
        .await
        .unwrap();
        assert_eq!(get_as(&with_path, "u", &sign(base(&origin, json!(origin)))).await.0, 200);
    }

    async fn better_auth_session_cookies_are_not_tokens(engine: Engine) {
        // The `session_data` cookie cache (JWT mode) is HS256 with the secret but has no `sub`.
        let app = spawn_app_with(engine, |_| {}).await.unwrap();
        let t = now();
        let session_data = json!({
            "session": {"session": {"id": "s1", "userId": "u", "token": "opaque", "expiresAt": "2026-12-01T00:00:00.000Z"},
                        "user": {"id": "u", "email": "u@example.com", "name": "U"}},
            "expiresAt": (t + 300) * 1000, "iat": t, "exp": t + 300,
        });
        let cookie = forge(r#"{"alg":"HS256","typ":"JWT"}"#, &session_data.to_string(), SECRET.as_bytes(), jsonwebtoken::Algorithm::HS256);
        assert_eq!(get_as(&app, "u", &cookie).await, (401, "Token is missing a valid sub claim".into()));
        // The opaque session token is not a JWT at all.
        assert_eq!(get_as(&app, "u", "N2pL0bJ1sS0mEOpaqueSessionToken.signature").await, (401, "Token is malformed".into()));
    }

    async fn a_jwks_file_works_offline(engine: Engine) {
        let key = TestKey::generate("ES512", "file-key");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, json!({"keys": [key.jwk()]}).to_string()).unwrap();
        let app = spawn_app_with(engine, {
            let path = path.clone();
            move |s| {
                s.auth.better_auth_secret = None;
                s.auth.jwks_file = Some(path);
                s.auth.jwt_issuer = Some("https://auth.example".into());
                s.auth.jwt_audience = Some("https://auth.example, https://other.example".into());
            }
        })
        .await
        .unwrap();
        let token = key.sign(&better_auth_claims("u", "https://auth.example"));
        assert_eq!(get_as(&app, "u", &token).await.0, 200);
        let ready = app.send(app.http.get(app.url("/ready"))).await;
        assert_eq!(ready.json["jwks"], "ok");
    }

    async fn unusable_jwks_entries_are_skipped(engine: Engine) {
        let good = TestKey::generate("EdDSA", "good");
        let jwks = JwksServer::start(&[]).await;
        let mut mislabeled = TestKey::generate("RS256", "mislabeled").jwk();
        mislabeled["alg"] = json!("ES256");
        jwks.publish_raw(vec![
            json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
            json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
            mislabeled,
            json!("not even an object"),
            good.jwk(),
        ]);
        let app = app_for(engine, &jwks, 30).await;
        let claims = better_auth_claims("u", &jwks.origin());
        assert_eq!(get_as(&app, "u", &good.sign(&claims)).await.0, 200);
        let hmac = forge(r#"{"alg":"HS256","kid":"hmac"}"#, &claims, b"secret", jsonwebtoken::Algorithm::HS256);
        assert_eq!(get_as(&app, "u", &hmac).await.0, 401);
    }
}
