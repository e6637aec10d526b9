//! Property tests (proptest) over what parses untrusted input: the token
//! verifier (JWS parsing, signature, claims) and the request-body and query
//! parsers. Deterministic: a fixed seed, so CI runs the same cases each time
//! (set PROPTEST_CASES to run more locally).

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value, json};
use todo_api::auth::{AuthError, ClaimRules, Verifier, mint_hs256};
use todo_api::domain::{FieldLimits, LIMIT_MAX, ListParams, ListQuery, NewTask, TaskPatch};

const SECRET: &[u8] = b"property-secret-property-secret-0123456789";

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024);
    Config { cases, rng_seed: RngSeed::Fixed(20_261_124), failure_persistence: None, ..Config::default() }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());

static VERIFIER: LazyLock<Verifier> =
    LazyLock::new(|| Verifier::new().with_hs256(SECRET, ClaimRules { leeway: 0, ..Default::default() }));

fn verify(token: &str) -> Result<String, AuthError> {
    RUNTIME.block_on(VERIFIER.verify(token)).map(|user| user.id)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn sign(header: &str, claims: &str) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[ \t\n]{0,3}[a-z]{0,8}[ \t\n]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like task bodies: the known fields (often), with any values.
fn task_body() -> impl Strategy<Value = Map<String, Value>> {
    let field = |name: &'static str| prop::option::weighted(0.7, json_value()).prop_map(move |v| (name, v));
    (
        field("title"),
        field("description"),
        field("completed"),
        prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..3),
    )
        .prop_map(|(title, description, completed, extra)| {
            let mut body: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in [title, description, completed] {
                if let Some(value) = value {
                    body.insert(name.to_owned(), value);
                }
            }
            body
        })
}

fn valid_title(title: &str) -> bool {
    let trimmed = title.trim();
    !trimmed.is_empty() && trimmed.chars().count() <= 200 && !trimmed.contains('\0')
}

proptest! {
    #![proptest_config(config())]

    /// No string at all verifies by chance, and none makes the verifier panic.
    #[test]
    fn arbitrary_strings_never_verify(token in prop_oneof![
        ".{0,300}",
        "[A-Za-z0-9_\\-]{0,60}\\.[A-Za-z0-9_\\-]{0,120}\\.[A-Za-z0-9_\\-=+/]{0,60}",
        "[A-Za-z0-9_\\-\\.]{0,400}",
    ]) {
        prop_assert!(verify(&token).is_err());
    }

    /// Any single-character edit of a valid token is rejected.
    #[test]
    fn every_edit_of_a_valid_token_is_rejected(
        position in any::<prop::sample::Index>(),
        replacement in prop::sample::select(vec!['A', 'B', 'a', 'z', '0', '9', '-', '_', '.', '=', '+', '/', ' ']),
        edit in 0..3u8,
    ) {
        let token = mint_hs256(SECRET, "alice", None, Duration::from_secs(600));
        let mut chars: Vec<char> = token.chars().collect();
        let at = position.index(chars.len());
        match edit {
            0 => chars[at] = replacement,
            1 => { chars.remove(at); }
            _ => chars.insert(at, replacement),
        }
        let edited: String = chars.into_iter().collect();
        prop_assume!(edited != token);
        prop_assert!(verify(&edited).is_err(), "accepted {edited}");
    }

    /// Correctly signed claims of any shape: a verdict, never a panic; an
    /// acceptance only for a real subject and an unexpired, sane `exp`.
    #[test]
    fn signed_claims_of_any_shape_are_judged_by_the_rules(
        sub in json_value(), exp_offset in -1_000i64..1_000_000, exp_shape in 0..4u8, extra in json_value(),
    ) {
        let exp = now() as i64 + exp_offset;
        let exp_value = match exp_shape { 0 => json!(exp), 1 => json!(exp as f64 + 0.5), 2 => json!(exp.to_string()), _ => extra.clone() };
        let claims = json!({"sub": sub, "exp": exp_value, "x": extra}).to_string();
        match verify(&sign(r#"{"alg":"HS256","typ":"JWT"}"#, &claims)) {
            Ok(id) => {
                prop_assert_eq!(Value::String(id.clone()), sub);
                prop_assert!(!id.is_empty() && !id.chars().any(char::is_control));
                let exp = exp_value.as_f64();
                prop_assert!(exp.is_some_and(|exp| exp >= now() as f64 && exp <= 253_402_300_799.0), "exp {}", exp_value);
            }
            Err(error) => prop_assert!(!matches!(error, AuthError::KeysUnavailable)),
        }
    }

    /// Headers of any shape, correctly signed: only a plain HS256 header passes.
    #[test]
    fn signed_headers_of_any_shape_never_confuse_the_verifier(alg in json_value(), extra in json_value()) {
        let header = json!({"alg": alg, "kid": extra}).to_string();
        let claims = json!({"sub": "alice", "exp": now() + 600}).to_string();
        let verdict = verify(&sign(&header, &claims));
        prop_assert_eq!(verdict.is_ok(), alg == json!("HS256"), "{}", header);
    }

    /// Create bodies: a verdict, never a panic, and acceptance means a valid title.
    #[test]
    fn create_bodies_are_accepted_only_when_valid(body in task_body()) {
        match NewTask::from_json(&body, FieldLimits::default()) {
            Ok(task) => {
                let sent = body["title"].as_str().unwrap();
                prop_assert!(valid_title(sent));
                prop_assert_eq!(task.title.as_str(), sent.trim());
                prop_assert!(body.get("completed").is_none_or(Value::is_boolean));
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }

    /// Update bodies: the same rules, every field optional.
    #[test]
    fn update_bodies_are_accepted_only_when_valid(body in task_body()) {
        match TaskPatch::from_json(&body, FieldLimits::default()) {
            Ok(patch) => {
                if let Some(title) = &patch.title {
                    prop_assert_eq!(title.as_str(), body["title"].as_str().unwrap().trim());
                }
                prop_assert_eq!(patch.title.is_some(), body.contains_key("title"));
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }

    /// Every plausible title is accepted as its trimmed self.
    #[test]
    fn every_valid_title_round_trips(title in "\\PC{1,200}") {
        prop_assume!(valid_title(&title));
        let body: Map<String, Value> = [("title".to_owned(), json!(title))].into_iter().collect();
        let task = NewTask::from_json(&body, FieldLimits::default()).unwrap();
        prop_assert_eq!(task.title.as_str(), title.trim());
    }

    /// Query parameters: a verdict, never a panic, and what passes is in bounds.
    #[test]
    fn list_queries_stay_in_bounds(
        status in prop::option::of(".{0,12}"), sort in prop::option::of(".{0,12}"), order in prop::option::of(".{0,6}"),
        limit in prop::option::of(prop_oneof![".{0,8}", any::<i64>().prop_map(|n| n.to_string())]),
        offset in prop::option::of(prop_oneof![".{0,8}", any::<i64>().prop_map(|n| n.to_string())]),
    ) {
        let params = ListParams { status, sort, order, limit, offset };
        if let Ok(query) = ListQuery::parse(&params) {
            prop_assert!(query.limit.is_none_or(|limit| (1..=LIMIT_MAX).contains(&limit)));
            prop_assert!(query.offset >= 0);
        }
    }
}
