//! The OpenAPI document and the docs page: a snapshot guards the document so
//! any API change shows up in review, and the page is served from the binary.

use crate::common;

use common::{Engine, spawn_app};
use serde_json::Value;

/// The document of a server on the default settings.
fn default_document() -> utoipa::openapi::OpenApi {
    document_with(|_| {})
}

fn document_with(adjust: impl FnOnce(&mut todo_api::config::Settings)) -> utoipa::openapi::OpenApi {
    let mut settings = common::settings("sqlite::memory:".into());
    adjust(&mut settings);
    let config = todo_api::config::Config::from_settings(&settings).unwrap();
    todo_api::http::openapi_document(&config.limits)
}

#[test]
fn the_document_states_the_configured_field_limits() {
    let raised = serde_json::to_value(document_with(|s| {
        s.max_title_chars = 5000;
        s.max_description_chars = 10_000;
    }))
    .unwrap();
    for body in ["TaskCreate", "TaskUpdate"] {
        let schema = &raised["components"]["schemas"][body]["properties"];
        assert!(schema["title"]["pattern"].as_str().unwrap().contains("{0,4998}"), "{schema}");
        assert!(schema["title"]["description"].as_str().unwrap().contains("1-5000 characters"));
        assert_eq!(schema["description"]["maxLength"], 10_000);
    }
    // The body limit grows with them (every character escaped, plus room for the rest).
    let too_large = &raised["paths"]["/api/{user_id}/tasks"]["post"]["responses"]["413"]["description"];
    assert_eq!(too_large, "Body over 179 KiB.");
    let lowered = serde_json::to_value(document_with(|s| s.max_title_chars = 1)).unwrap();
    let title = &lowered["components"]["schemas"]["TaskCreate"]["properties"]["title"]["pattern"];
    assert!(!title.as_str().unwrap().contains("{0,"), "{title}");
}

#[test]
fn openapi_document_snapshot() {
    let document = serde_json::to_value(default_document()).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}

#[test]
fn every_route_declares_auth_and_its_error_answers() {
    let document = serde_json::to_value(default_document()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let paths = document["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths.iter().filter(|(path, _)| path.starts_with("/api/")) {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            assert_eq!(operation["security"][0]["bearer"], Value::Array(vec![]), "{method} {path}");
            let responses = operation["responses"].as_object().unwrap();
            for status in ["401", "403", "405", "503"] {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
            assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
            if operation.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                }
            }
            if path.ends_with("{id}") || path.ends_with("/complete") {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
        }
    }
    assert_eq!(
        operations, 12,
        "list, create, mark all, clear, get, put, patch, delete, toggle, changes, events, ticket"
    );
    for method in ["patch", "delete"] {
        let bulk = &paths["/api/{user_id}/tasks"][method];
        assert!(bulk["responses"]["200"]["headers"]["X-Change-Seq"].is_object(), "{method}");
        for status in ["412", "422", "429"] {
            assert!(bulk["responses"].get(status).is_some(), "bulk {method} lacks {status}");
        }
        let names: Vec<&str> =
            bulk["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        for name in ["completed", "status", "If-Match", "Idempotency-Key"] {
            assert!(names.contains(&name), "bulk {method} lacks {name}: {names:?}");
        }
    }
    let changes = &paths["/api/{user_id}/changes"]["get"];
    assert!(changes["responses"].get("410").is_some());
    let events = &paths["/api/{user_id}/events"]["get"];
    assert!(events["responses"]["200"]["content"].get("text/event-stream").is_some());
    assert!(events["responses"].get("429").is_some());
    // A ticket instead of the bearer token is the alternative (an empty requirement).
    assert_eq!(events["security"][1], serde_json::json!({}));
    let list_headers = &paths["/api/{user_id}/tasks"]["get"]["responses"]["200"]["headers"];
    assert!(list_headers["X-Change-Seq"].is_object());
    let list = &paths["/api/{user_id}/tasks"]["get"];
    assert!(list["responses"]["200"]["headers"]["X-Total-Count"].is_object());
    let create = &paths["/api/{user_id}/tasks"]["post"];
    assert!(create["responses"]["201"]["headers"]["Location"].is_object());
}

#[tokio::test]
async fn docs_are_served_from_the_binary() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let served = app.send(app.http.get(app.url("/openapi.json"))).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json, serde_json::to_value(default_document()).unwrap());

    let page = app.send(app.http.get(app.url("/docs/"))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let redirect = app.send(app.http.get(app.url("/docs"))).await;
    assert_eq!(redirect.status, 200, "/docs redirects to /docs/");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"] {
        let reply = app.send(app.http.get(app.url(&format!("/docs/{asset}")))).await;
        assert_eq!(reply.status, 200, "{asset}");
        assert!(reply.text.len() > 100, "{asset}");
        assert!(
            !reply.text.contains("unpkg.com") && !reply.text.contains("cdn."),
            "{asset} loads nothing remote"
        );
    }
    let initializer = app.send(app.http.get(app.url("/docs/swagger-initializer.js"))).await;
    assert!(initializer.text.contains("/openapi.json"));
}
