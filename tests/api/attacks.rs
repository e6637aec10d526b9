//! Attacks, as an attacker would send them (OWASP API Security Top 10 2023,
//! RFC 8725), on both engines. Paths go over a raw socket so nothing is
//! normalised on the way. Each group asserts the answer and that the victim's
//! data is byte-identical afterwards. The token, contract and JWKS suites hold
//! more cases of the same classes (see the closing note of issue 6).

use crate::common;

use common::{Engine, Reply, SECRET, TestApp, forge, now, spawn_app, token};
use jsonwebtoken::Algorithm::HS256;
use reqwest::Method;
use serde_json::json;

const VICTIM: &str = "alice";
const ATTACKER: &str = "mallory";

/// What a response may never contain.
fn assert_no_internals(what: &str, body: &str) {
    for needle in [
        "sqlx",
        "rusqlite",
        "tokio_postgres",
        "db error",
        "SELECT",
        "INSERT",
        "UPDATE ",
        "DELETE FROM",
        "/tmp",
        "src/",
        "panicked",
        "Bearer ey",
        "postgres://",
        "sqlite:",
    ] {
        assert!(!body.contains(needle), "{what}: leaks {needle:?}: {body}");
    }
}

/// The victim's task and an exact snapshot of everything the victim can see.
struct Victim {
    id: i64,
    snapshot: String,
}

async fn victim(app: &TestApp) -> Victim {
    let created = app.create(VICTIM, json!({"title": "alice secret", "description": "diary"})).await;
    app.task(VICTIM, "second").await;
    app.task(ATTACKER, "mallory's own").await;
    Victim { id: created.id(), snapshot: app.list(VICTIM, "").await.text }
}

async fn assert_untouched(app: &TestApp, victim: &Victim) {
    assert_eq!(app.list(VICTIM, "").await.text, victim.snapshot, "the victim's data is byte-identical");
    let users: Vec<String> = app.users().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(users, [VICTIM, ATTACKER], "no other owner was created");
}

fn request(method: &str, path: &str, bearer: &str, body: Option<&str>) -> String {
    let body = body.unwrap_or("");
    let content =
        if body.is_empty() { String::new() } else { "Content-Type: application/json\r\n".to_owned() };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {bearer}\r\n{content}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

contract! {
    async fn bola_path_variants_never_reach_another_users_task(app: TestApp) {
        let victim = victim(&app).await;
        let id = victim.id;
        let mallory = token(ATTACKER);
        // (path, expected status) with the attacker's token, over a raw socket.
        let cases = [
            (format!("/api/alice/tasks/{id}"), 403),
            (format!("/api/mallory/tasks/{id}"), 404),
            (format!("/api/mallory/tasks/{id}/"), 404),
            (format!("/api/alice/tasks/{id}/"), 403),
            (format!("//api/alice/tasks/{id}"), 404),
            (format!("/api//alice/tasks/{id}"), 404),
            (format!("/api/alice//tasks/{id}"), 404),
            (format!("/api/mallory/../alice/tasks/{id}"), 404),
            (format!("/api/mallory/tasks/../../alice/tasks/{id}"), 404),
            (format!("/api/mallory/tasks/..%2F..%2Falice%2Ftasks%2F{id}"), 404),
            (format!("/api/mallory/tasks/%2e%2e%2f{id}"), 404),
            (format!("/api/alice%2F..%2Fmallory/tasks/{id}"), 403),
            (format!("/api/mallory%2F..%2Falice/tasks/{id}"), 403),
            (format!("/api/ALICE/tasks/{id}"), 403),
            (format!("/api/Alice/tasks/{id}"), 403),
            (format!("/api/%61lice/tasks/{id}"), 403),
            (format!("/api/%D0%B0lice/tasks/{id}"), 403), // Cyrillic a
            (format!("/api/alice%00/tasks/{id}"), 403),
            (format!("/api/mallory%00/tasks/{id}"), 403),
            (format!("/api/mallory/tasks/{}", id.to_string().bytes().map(|b| format!("%{b:02X}")).collect::<String>()), 404),
            (format!("/api/mallory/tasks/{id}%00"), 404),
            (format!("/api/mallory/tasks/0{id}"), 404),
            (format!("/api/mallory/tasks/+{id}"), 404),
            (format!("/api/mallory/tasks/{id}.0"), 404),
            ("/api/mallory/tasks/%EF%BC%91".to_owned(), 404), // fullwidth 1
            (format!("/api/mallory/tasks/{id}?user_id=alice"), 404),
            ("/api/mallory/tasks?user_id=alice&owner=alice".to_string(), 200),
        ];
        let mut checked = 0;
        for (path, expected) in &cases {
            for (method, body) in [("GET", None), ("PUT", Some(r#"{"title":"pwned"}"#)), ("PATCH", Some(r#"{"completed":true}"#)), ("DELETE", None)] {
                if *expected == 200 && method != "GET" {
                    continue;
                }
                let (status, text) = app.raw(&request(method, path, &mallory, body)).await;
                assert_eq!(status, *expected, "{method} {path}: {text}");
                assert!(!text.contains("alice secret") && !text.contains("diary"), "{method} {path} leaked: {text}");
                assert_no_internals(path, &text);
                checked += 1;
            }
            if !path.contains('?') {
                let (status, text) = app.raw(&request("PATCH", &format!("{path}/complete"), &mallory, None)).await;
                assert!(matches!(status, 403 | 404), "PATCH {path}/complete: {status} {text}");
                checked += 1;
            }
        }
        assert!(checked > 100);
        assert_untouched(&app, &victim).await;
    }

    async fn look_alike_subjects_are_other_users(app: TestApp) {
        let victim = victim(&app).await;
        let id = victim.id;
        // Tokens whose subject resembles the victim's own a namespace of their own.
        for (sub, path_user) in [("alice ", "alice%20"), ("\u{430}lice", "%D0%B0lice"), ("ALICE", "ALICE"), ("alice/..", "alice%2F..")] {
            let bearer = token(sub);
            let (status, text) = app.raw(&request("GET", &format!("/api/{path_user}/tasks/{id}"), &bearer, None)).await;
            assert_eq!(status, 404, "{sub:?}: {text}");
            let (status, text) = app.raw(&request("GET", &format!("/api/{path_user}/tasks"), &bearer, None)).await;
            assert_eq!((status, text.as_str()), (200, "[]"), "{sub:?}");
            let (status, _) = app.raw(&request("GET", &format!("/api/alice/tasks/{id}"), &bearer, None)).await;
            assert_eq!(status, 403, "{sub:?} on the victim's path");
        }
        // A subject with a control character is no user at all.
        for sub in ["alice\u{0}", "alice\n", "\u{7f}"] {
            let reply = app.send(app.http.get(app.url("/api/alice/tasks")).bearer_auth(token(sub))).await;
            assert_eq!((reply.status.as_u16(), reply.detail().as_str()), (401, Some("Token is missing a valid sub claim")), "{sub:?}");
        }
        assert_untouched(&app, &victim).await;
    }

    async fn enumeration_finds_nothing_and_learns_nothing(app: TestApp) {
        let victim = victim(&app).await;
        let own = app.list(ATTACKER, "").await.json[0]["id"].as_i64().unwrap();
        let mut answers = Vec::new();
        for id in 1..=60 {
            let reply = app.call(ATTACKER, Method::GET, &format!("/api/mallory/tasks/{id}"), None).await;
            if id == own {
                assert_eq!(reply.status, 200);
                continue;
            }
            answers.push((id, reply));
        }
        // A foreign task and one that never existed answer alike: status, body, headers.
        let comparable = |reply: &Reply| {
            let mut headers: Vec<(String, String)> = reply.headers.iter()
                .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned())).collect();
            headers.sort();
            (reply.status, reply.text.clone(), headers)
        };
        let first = comparable(&answers[0].1);
        assert_eq!(first.0, 404);
        for (id, reply) in &answers {
            assert_eq!(comparable(reply), first, "id {id} answers differently");
        }
        // The victim's path answers 403 whatever the id: no existence signal there either.
        let foreign = app.call(ATTACKER, Method::GET, &format!("/api/alice/tasks/{}", victim.id), None).await;
        let missing = app.call(ATTACKER, Method::GET, "/api/alice/tasks/999999999", None).await;
        assert_eq!(comparable(&foreign), comparable(&missing));
        assert_untouched(&app, &victim).await;
    }

    async fn mass_assignment_changes_nothing_the_server_owns(app: TestApp) {
        let victim = victim(&app).await;
        let own = app.task(ATTACKER, "mine").await;
        let before = app.call(ATTACKER, Method::GET, &format!("/api/mallory/tasks/{own}"), None).await.json;
        let owned = json!({
            "id": victim.id, "user_id": VICTIM, "owner": VICTIM, "userId": VICTIM,
            "created_at": "2000-01-01T00:00:00.000000Z", "updated_at": "2000-01-01T00:00:00.000000Z",
        });
        for method in [Method::PUT, Method::PATCH] {
            let mut body = owned.clone();
            body["title"] = json!("renamed");
            let reply = app.call(ATTACKER, method.clone(), &format!("/api/mallory/tasks/{own}"), Some(body)).await;
            assert_eq!(reply.status, 200, "{method}");
            assert_eq!((reply.json["id"].clone(), reply.json["user_id"].clone()), (json!(own), json!(ATTACKER)));
            assert_eq!(reply.json["created_at"], before["created_at"]);
            assert_ne!(reply.json["updated_at"], json!("2000-01-01T00:00:00.000000Z"));
            // Only server-owned fields: an empty patch as far as the server is concerned.
            let only_owned = app.call(ATTACKER, method.clone(), &format!("/api/mallory/tasks/{own}"), Some(owned.clone())).await;
            assert_eq!((only_owned.status.as_u16(), only_owned.json["user_id"].clone()), (200, json!(ATTACKER)));
        }
        let mut body = owned.clone();
        body["title"] = json!("created");
        let created = app.create(ATTACKER, body).await;
        assert_eq!((created.status.as_u16(), created.json["user_id"].clone()), (201, json!(ATTACKER)));
        assert_ne!(created.id(), victim.id);
        assert_untouched(&app, &victim).await;
    }

    async fn injection_is_stored_and_matched_literally(app: TestApp) {
        let victim = victim(&app).await;
        let payloads = [
            "' OR '1'='1", "'; DROP TABLE tasks; --", "\" OR \"\"=\"", "1; SELECT pg_sleep(10)--",
            "%", "_", "\\", "$1", "?", "' UNION SELECT id, user_id FROM users --", "\u{0}", "--", "/* */",
        ];
        for payload in payloads {
            let body = json!({"title": format!("t{payload}"), "description": payload});
            let reply = app.create(ATTACKER, body).await;
            if payload.contains('\u{0}') {
                assert_eq!(reply.status, 422, "NUL is refused, not stored");
                continue;
            }
            assert_eq!(reply.status, 201, "{payload}: {}", reply.text);
            let stored = app.call(ATTACKER, Method::GET, &format!("/api/mallory/tasks/{}", reply.id()), None).await;
            assert_eq!((stored.json["title"].clone(), stored.json["description"].clone()), (json!(format!("t{payload}")), json!(payload)));
        }
        // Query parameters are parsed, never spliced: every injection is a 422.
        for query in ["status=all'--", "status=completed%20OR%201=1", "sort=title;DROP%20TABLE%20tasks", "order=asc,id",
            "limit=1%20OR%201=1", "offset=0;--", "sort=created_at%20DESC--", "limit=-1", "offset=-5"] {
            let reply = app.list(ATTACKER, &format!("?{query}")).await;
            assert_eq!(reply.status, 422, "{query}: {}", reply.text);
            assert_no_internals(query, &reply.text);
        }
        // Path segments and subjects carry metacharacters as plain data.
        for sub in ["' OR 1=1--", "x'); DELETE FROM tasks; --", "%", "a_b"] {
            let path_user = percent_encoding::utf8_percent_encode(sub, percent_encoding::NON_ALPHANUMERIC).to_string();
            let bearer = token(sub);
            let (status, text) = app.raw(&request("GET", &format!("/api/{path_user}/tasks"), &bearer, None)).await;
            assert_eq!((status, text.as_str()), (200, "[]"), "{sub}");
            let (status, _) = app.raw(&request("GET", &format!("/api/{path_user}/tasks/{}", victim.id), &bearer, None)).await;
            assert_eq!(status, 404, "{sub}");
        }
        assert_eq!(app.list(ATTACKER, "").await.header("x-total-count"), Some(&*(payloads.len()).to_string()), "every literal stored once");
        assert_untouched(&app, &victim).await;
    }

    async fn malformed_input_is_4xx_and_writes_nothing(app: TestApp) {
        let victim = victim(&app).await;
        let own = app.task(ATTACKER, "mine").await;
        let big_array = format!(r#"{{"title":[{}]}}"#, vec!["0"; 30_000].join(","));
        // 5,000 unknown keys (ignored, as FastAPI ignores them) and then a bad title.
        let wide_object =
            format!(r#"{{{},"title":5}}"#, (0..5_000).map(|i| format!(r#""k{i}":{i}"#)).collect::<Vec<_>>().join(","));
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("invalid UTF-8", b"{\"title\":\"\xc3\x28\"}".to_vec()),
            ("overlong UTF-8", b"{\"title\":\"\xc0\xaf\"}".to_vec()),
            ("NUL escape", br#"{"title":"a\u0000b"}"#.to_vec()),
            ("raw NUL", b"{\"title\":\"a\x00b\"}".to_vec()),
            ("lone high surrogate", br#"{"title":"\ud800"}"#.to_vec()),
            ("lone low surrogate", br#"{"title":"\udc00x"}"#.to_vec()),
            ("reversed surrogates", br#"{"title":"\udc00\ud800"}"#.to_vec()),
            ("deep arrays", "[".repeat(50_000).into_bytes()),
            ("deep objects", r#"{"title":"#.repeat(5_000).into_bytes()),
            ("huge array as title", big_array.into_bytes()),
            ("wide object, bad title last", wide_object.into_bytes()),
            ("title too long", format!(r#"{{"title":"{}"}}"#, "é".repeat(201)).into_bytes()),
            ("title array", br#"{"title":["t"]}"#.to_vec()),
            ("title object", br#"{"title":{"$ne":null}}"#.to_vec()),
            ("title number", br#"{"title":1e999}"#.to_vec()),
            ("completed number", br#"{"title":"t","completed":1}"#.to_vec()),
            ("completed string", br#"{"title":"t","completed":"false"}"#.to_vec()),
            ("duplicate keys", br#"{"title":"a","title":"b"}"#.to_vec()),
            ("bare string", br#""title""#.to_vec()),
            ("bare number", b"12".to_vec()),
            ("null", b"null".to_vec()),
            ("array of objects", br#"[{"title":"t"}]"#.to_vec()),
            ("trailing garbage", br#"{"title":"t"} x"#.to_vec()),
            ("two documents", br#"{"title":"t"}{"title":"u"}"#.to_vec()),
            ("BOM", b"\xef\xbb\xbf{\"title\":\"t\"}".to_vec()),
            ("empty", Vec::new()),
            ("whitespace", b"   ".to_vec()),
            ("truncated", br#"{"title":"t"#.to_vec()),
        ];
        let mut cases = 0;
        for (what, body) in &bodies {
            for (method, path) in [(Method::POST, "/api/mallory/tasks".to_owned()), (Method::PUT, format!("/api/mallory/tasks/{own}")), (Method::PATCH, format!("/api/mallory/tasks/{own}"))] {
                let reply = app.send(app.http.request(method.clone(), app.url(&path)).bearer_auth(token(ATTACKER))
                    .header("content-type", "application/json").body(body.clone())).await;
                let status = reply.status.as_u16();
                assert!((400..500).contains(&status), "{what} on {method}: {status} {}", reply.text);
                assert!(reply.detail().is_string() || reply.detail().is_array(), "{what}: FastAPI shape");
                assert_no_internals(what, &reply.text);
                cases += 1;
            }
        }
        assert!(cases > 80);
        // A repeated key is refused, not resolved: a proxy reading the first and us the last would disagree.
        let twice = app.send(app.http.post(app.url("/api/mallory/tasks")).bearer_auth(token(ATTACKER))
            .header("content-type", "application/json").body(r#"{"title":"a","title":"b"}"#)).await;
        assert_eq!(twice.json["detail"][0]["msg"], "JSON decode error: an object has the same key twice");
        // Ids out of range, on every id route.
        for id in ["0", "-1", "-9223372036854775808", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e3", "0x10", " 1", "1 ", "٣"] {
            let path = format!("/api/mallory/tasks/{}", percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC));
            for (method, suffix) in [(Method::GET, ""), (Method::PUT, ""), (Method::PATCH, ""), (Method::DELETE, ""), (Method::PATCH, "/complete")] {
                let reply = app.call(ATTACKER, method.clone(), &format!("{path}{suffix}"), Some(json!({"title": "x"}))).await;
                assert_eq!(reply.status, 404, "{method} {id:?}{suffix}: {}", reply.text);
            }
        }
        let mine = app.call(ATTACKER, Method::GET, &format!("/api/mallory/tasks/{own}"), None).await;
        assert_eq!(mine.json["title"], "mine", "no malformed update got through");
        assert_eq!(app.list(ATTACKER, "").await.header("x-total-count"), Some("2"), "no malformed create got through");
        assert_untouched(&app, &victim).await;
    }

    async fn broken_authentication_is_401_everywhere(app: TestApp) {
        let victim = victim(&app).await;
        let t = now();
        let sign = |claims: String| forge(r#"{"alg":"HS256","typ":"JWT"}"#, &claims, SECRET.as_bytes(), HS256);
        let exp = t + 600;
        let claims_cases = [
            r#"{"sub":"alice","exp":18446744073709551616}"#.to_owned(),
            r#"{"sub":"alice","exp":1e20}"#.to_owned(),
            format!(r#"{{"sub":"alice","exp":{exp},"nbf":1e400}}"#),
            format!(r#"{{"sub":"alice","exp":{exp},"nbf":18446744073709551615}}"#),
            format!(r#"{{"sub":"alice","exp":{exp},"iat":"{t}"}}"#),
            format!(r#"{{"sub":"alice","exp":{exp},"iat":{}}}"#, t + 3600),
            format!(r#"{{"sub":"alice","exp":{exp},"iat":-1}}"#),
            format!(r#"{{"sub":"alice","exp":{exp},"iat":18446744073709551616}}"#),
            r#"{"sub":"alice","exp":true}"#.to_owned(),
            format!(r#"{{"sub":"alice","exp":[{exp}]}}"#),
            format!(r#"{{"sub":"alice","exp":{exp},"exp":{exp}}}"#),
            format!(r#"{{"sub":"mallory","exp":{exp},"sub":"alice"}}"#),
            format!(r#"{{"sub":"","exp":{exp}}}"#),
            format!(r#"{{"sub":false,"exp":{exp}}}"#),
        ];
        let mut tokens: Vec<(String, String)> = claims_cases.iter().map(|c| (c.clone(), sign(c.clone()))).collect();
        let good_claims = format!(r#"{{"sub":"alice","exp":{exp}}}"#);
        for (header, secret) in [
            (r#"{"alg":"HS256","alg":"none"}"#, SECRET.as_bytes()),
            (r#"{"alg":"HS256","crit":["b64"],"b64":false}"#, SECRET.as_bytes()),
            (r#"{"alg":"HS256","kid":"../../../../dev/null"}"#, b"".as_slice()),
            (r#"{"alg":"HS256","kid":"' UNION SELECT 'secret"}"#, b"secret".as_slice()),
            (r#"{"alg":"HS256","jku":"http://127.0.0.1:9/jwks.json"}"#, b"attacker-attacker-attacker-attacker".as_slice()),
            (r#"{"alg":"HS256","x5u":"http://127.0.0.1:9/cert.pem"}"#, b"attacker-attacker-attacker-attacker".as_slice()),
            (r#"{"alg":"HS256","x5c":["MIIB"]}"#, b"attacker-attacker-attacker-attacker".as_slice()),
            (r#"{"alg":"HS256","jwk":{"kty":"oct","k":"c2VjcmV0"}}"#, b"secret".as_slice()),
        ] {
            tokens.push((header.to_owned(), forge(header, &good_claims, secret, HS256)));
        }
        let good = sign(good_claims.clone());
        let (head, rest) = good.split_once('.').unwrap();
        for (what, forged) in [
            ("base64 padding", format!("{head}=.{rest}")),
            ("standard alphabet", good.replace('-', "+").replace('_', "/") + if good.contains(['-', '_']) { "" } else { "+" }),
            ("whitespace inside", format!("{head}. {rest}")),
            ("oversized", format!("{good}{}", "A".repeat(20_000))),
            ("four parts", format!("{good}.{rest}")),
            ("empty signature", format!("{head}.{}.", rest.split('.').next().unwrap())),
        ] {
            tokens.push((what.to_owned(), forged));
        }
        for (what, bad) in &tokens {
            for (method, path) in [("GET", "/api/alice/tasks".to_owned()), ("DELETE", format!("/api/alice/tasks/{}", victim.id))] {
                let reply = app.send(app.http.request(method.parse().unwrap(), app.url(&path)).header("authorization", format!("Bearer {bad}"))).await;
                assert_eq!(reply.status, 401, "{what} {method}: {}", reply.text);
                assert!(reply.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer")), "{what}");
                assert!(!reply.text.contains(bad.as_str()));
            }
        }
        // Header forms: odd whitespace, other schemes, several headers.
        let get = || app.http.get(app.url("/api/alice/tasks"));
        for value in [format!("Bearer\t{good}"), format!("Bearer{good}"), format!("Bearer {good} x"), format!("Bearer ,{good}"),
            format!("Bearer {good},{good}"), format!("Bearer \"{good}\""), format!("Basic {good}"), format!("Bearer: {good}")] {
            let reply = app.send(get().header("authorization", value.clone())).await;
            assert_eq!(reply.status, 401, "{value:?}");
        }
        for (first, second) in [("", good.as_str()), (good.as_str(), ""), (good.as_str(), "x.y.z")] {
            let reply = app.send(get().header("authorization", format!("Bearer {first}")).header("authorization", format!("Bearer {second}"))).await;
            assert_eq!(reply.status, 401, "two headers ({first:?}, {second:?})");
        }
        let non_ascii = app.send(get().header("authorization", reqwest::header::HeaderValue::from_bytes(b"Bearer \xe9").unwrap())).await;
        assert_eq!(non_ascii.status, 401);
        // Surrounding whitespace is not part of the header value (RFC 9110 §5.5).
        assert_eq!(app.send(get().header("authorization", format!("Bearer {good}  "))).await.status, 200);
        assert_untouched(&app, &victim).await;
    }

    async fn misconfiguration_probes_get_nothing(app: TestApp) {
        let victim = victim(&app).await;
        let bearer = token(VICTIM);
        for method in ["TRACE", "TRACK", "CONNECT", "PROPFIND", "FOO", "DEBUG"] {
            let path = if method == "CONNECT" { "t:443".to_owned() } else { "/api/alice/tasks".to_owned() };
            let (status, text) = app.raw(&request(method, &path, &bearer, None)).await;
            assert!(matches!(status, 400 | 404 | 405), "{method}: {status} {text}");
            assert!(!text.contains("alice secret") && !text.contains("Authorization"), "{method} echoed: {text}");
        }
        for origin in ["https://evil.example", "null", "http://localhost:3000.evil.example", "http://localhost:3001", "HTTP://LOCALHOST:3000"] {
            let reply = app.send(app.http.get(app.url("/api/alice/tasks")).bearer_auth(&bearer).header("origin", origin)).await;
            assert_eq!(reply.status, 200);
            assert!(reply.headers.keys().all(|name| !name.as_str().starts_with("access-control-")), "{origin} got CORS headers");
            let preflight = app.send(app.http.request(Method::OPTIONS, app.url("/api/alice/tasks")).header("origin", origin)
                .header("access-control-request-method", "DELETE")).await;
            assert!(preflight.headers.keys().all(|name| !name.as_str().starts_with("access-control-")), "{origin} preflight");
        }
        for path in ["/.env", "/.git/config", "/api", "/api/", "/admin", "/debug/pprof", "/server-status", "/openapi.json/../.env"] {
            let reply = app.send(app.http.get(app.url(path)).bearer_auth(&bearer)).await;
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.json, json!({"detail": "Not Found"}));
        }
        assert_untouched(&app, &victim).await;
    }
}
