//! Token attacks (RFC 8725): every malformed, forged or misused token is a 401
//! with `WWW-Authenticate: Bearer error="invalid_token"`, on both engines.

use crate::common;

use common::{Engine, SECRET, TestApp, forge, now, spawn_app};
use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
use serde_json::json;

const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

async fn status_and_detail(app: &TestApp, token: &str) -> (u16, String) {
    let reply = app.send(app.http.get(app.url("/api/alice/tasks")).bearer_auth(token)).await;
    if reply.status == 401 {
        assert_eq!(reply.header("www-authenticate"), Some(r#"Bearer error="invalid_token""#));
        assert!(!reply.text.contains(token), "the token is never echoed");
    }
    (reply.status.as_u16(), reply.json["detail"].as_str().unwrap_or_default().to_owned())
}

fn claims(extra: &str) -> String {
    format!(r#"{{"sub":"alice","exp":{}{extra}}}"#, now() + 600)
}

contract! {
    async fn well_formed_forgeries_are_accepted_so_the_rejections_mean_something(app: TestApp) {
        let token = forge(HS256_HEADER, &claims(""), SECRET.as_bytes(), HS256);
        assert_eq!(status_and_detail(&app, &token).await.0, 200);
        // A numeric date may be fractional (RFC 7519 NumericDate).
        let fractional = format!(r#"{{"sub":"alice","exp":{}.5}}"#, now() + 600);
        assert_eq!(status_and_detail(&app, &forge(HS256_HEADER, &fractional, SECRET.as_bytes(), HS256)).await.0, 200);
        // jku/x5u/jwk are never followed: a correctly signed token is judged on its signature alone.
        let header = r#"{"alg":"HS256","jku":"http://127.0.0.1:1/jwks","x5u":"http://127.0.0.1:1/x"}"#;
        assert_eq!(status_and_detail(&app, &forge(header, &claims(""), SECRET.as_bytes(), HS256)).await.0, 200);
    }

    async fn signatures_and_algorithms(app: TestApp) {
        let cases = [
            (forge(HS256_HEADER, &claims(""), b"wrong-secret-wrong-secret-wrong-secret", HS256), "Token signature is invalid"),
            (forge(HS256_HEADER, &claims(""), b"", HS256), "Token signature is invalid"),
            (forge(r#"{"alg":"HS512"}"#, &claims(""), SECRET.as_bytes(), HS512), "Token algorithm is not accepted"),
            (forge(r#"{"alg":"HS384"}"#, &claims(""), SECRET.as_bytes(), HS384), "Token algorithm is not accepted"),
            (forge(r#"{"alg":"RS256"}"#, &claims(""), SECRET.as_bytes(), HS256), "Token algorithm is not accepted"),
            // The header says HS512 but the signature is HS256: still not accepted.
            (forge(r#"{"alg":"HS512"}"#, &claims(""), SECRET.as_bytes(), HS256), "Token algorithm is not accepted"),
        ];
        for (token, detail) in cases {
            assert_eq!(status_and_detail(&app, &token).await, (401, detail.to_owned()));
        }
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for alg in ["none", "None", "NONE", "nOnE", ""] {
            let header = b64.encode(format!(r#"{{"alg":"{alg}"}}"#));
            let body = b64.encode(claims(""));
            for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
                assert_eq!(status_and_detail(&app, &token).await.0, 401, "alg {alg:?}");
            }
        }
        // A token signed with a key it carries itself proves nothing.
        let jwk = r#"{"alg":"HS256","jwk":{"kty":"oct","k":"YXR0YWNrZXI"}}"#;
        assert_eq!(status_and_detail(&app, &forge(jwk, &claims(""), b"attacker", HS256)).await.0, 401);
    }

    async fn time_claims(app: TestApp) {
        let sign = |claims: String| forge(HS256_HEADER, &claims, SECRET.as_bytes(), HS256);
        let t = now();
        let cases = [
            (format!(r#"{{"sub":"alice","exp":{}}}"#, t - 120), "Token has expired"),
            (format!(r#"{{"sub":"alice","exp":{},"nbf":{}}}"#, t + 600, t + 300), "Token is not yet valid"),
            (r#"{"sub":"alice"}"#.to_owned(), "Token is missing a valid exp claim"),
            (r#"{"sub":"alice","exp":null}"#.to_owned(), "Token is missing a valid exp claim"),
            (format!(r#"{{"sub":"alice","exp":"{}"}}"#, t + 600), "Token is missing a valid exp claim"),
            (r#"{"sub":"alice","exp":1e400}"#.to_owned(), "Token is malformed"),
            (r#"{"sub":"alice","exp":-1}"#.to_owned(), "Token is missing a valid exp claim"),
            (format!(r#"{{"sub":"alice","exp":{},"nbf":"soon"}}"#, t + 600), "Token is missing a valid nbf claim"),
        ];
        for (claims, detail) in cases {
            assert_eq!(status_and_detail(&app, &sign(claims.clone())).await, (401, detail.to_owned()), "{claims}");
        }
        // nbf in the past is fine.
        let ok = format!(r#"{{"sub":"alice","exp":{},"nbf":{}}}"#, t + 600, t - 10);
        assert_eq!(status_and_detail(&app, &sign(ok)).await.0, 200);
    }

    async fn subject_claims(app: TestApp) {
        let exp = now() + 600;
        for claims in [
            format!(r#"{{"exp":{exp}}}"#),
            format!(r#"{{"sub":"","exp":{exp}}}"#),
            format!(r#"{{"sub":null,"exp":{exp}}}"#),
            format!(r#"{{"sub":5,"exp":{exp}}}"#),
        ] {
            let token = forge(HS256_HEADER, &claims, SECRET.as_bytes(), HS256);
            assert_eq!(status_and_detail(&app, &token).await, (401, "Token is missing a valid sub claim".to_owned()), "{claims}");
        }
        // Containers where a string belongs make the claims unreadable as a whole.
        for claims in [format!(r#"{{"sub":["alice"],"exp":{exp}}}"#), format!(r#"{{"sub":{{"id":"alice"}},"exp":{exp}}}"#)] {
            let token = forge(HS256_HEADER, &claims, SECRET.as_bytes(), HS256);
            assert_eq!(status_and_detail(&app, &token).await.0, 401, "{claims}");
        }
    }

    async fn structural_tricks(app: TestApp) {
        let good = forge(HS256_HEADER, &claims(""), SECRET.as_bytes(), HS256);
        let exp = now() + 600;
        let cases = [
            forge(r#"{"alg":"HS256","crit":["exp"]}"#, &claims(""), SECRET.as_bytes(), HS256),
            forge(r#"{"alg":"HS256","alg":"HS256"}"#, &claims(""), SECRET.as_bytes(), HS256),
            forge(HS256_HEADER, &format!(r#"{{"sub":"bob","sub":"alice","exp":{exp}}}"#), SECRET.as_bytes(), HS256),
            forge("not json", &claims(""), SECRET.as_bytes(), HS256),
            forge(HS256_HEADER, "[1,2]", SECRET.as_bytes(), HS256),
            format!("{good}.extra"),
            format!("{good}="),
            format!("{good}garbage!"),
            good.replacen('.', ".!", 1),
            good.replace('.', ".."),
            good.split('.').take(2).collect::<Vec<_>>().join("."),
            "..".to_owned(),
            ".".repeat(5),
        ];
        for token in cases {
            assert_eq!(status_and_detail(&app, &token).await.0, 401, "{token}");
        }
        let crit = forge(r#"{"alg":"HS256","crit":["exp"]}"#, &claims(""), SECRET.as_bytes(), HS256);
        assert_eq!(status_and_detail(&app, &crit).await.1, "Token has critical header parameters this server does not support");
        // The same token, sent properly, still works: the rejections were about the tricks.
        assert_eq!(status_and_detail(&app, &good).await.0, 200);
        let reply = app.send(app.http.post(app.url("/api/alice/tasks")).bearer_auth(&good).json(&json!({"title": "t"}))).await;
        assert_eq!(reply.status, 201);
    }
}
