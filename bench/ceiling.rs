//! The benchmark's ceiling (H): todo-api's own HTTP stack — listener, layers,
//! bearer parsing and JWT verification (with its cache), ownership check, body
//! parsing and validation, JSON responses — with the database taken out. Each
//! route answers what the real one would, from memory.
//!
//!   cargo run --release --example ceiling -- PORT SECRET

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use clap::Parser;
use todo_api::auth::{ClaimRules, Verifier};
use todo_api::config::{Cli, Config};
use todo_api::domain::{NewTask, Task, TaskPatch, Timestamp};
use todo_api::http::extract::{JsonObject, Owner, TaskRef};
use todo_api::http::{ApiError, AppState, Drain, Stopping, Workers, X_TOTAL_COUNT, with_layers};
use todo_api::store::{PoolSettings, Store};

fn task(owner: &Owner, id: i64) -> Task {
    let now = Timestamp::now();
    Task {
        id,
        user_id: owner.id().to_owned(),
        title: format!("task {id} of {}", owner.id()),
        description: Some("seeded by benchmark seeded by benchmark seeded by benchmark ".into()),
        completed: false,
        created_at: now,
        updated_at: now,
        revision: 1,
    }
}

async fn list(owner: Owner) -> Response {
    let tasks: Vec<Task> = (1..=20).map(|id| task(&owner, id)).collect();
    ([(X_TOTAL_COUNT, HeaderValue::from(20))], Json(tasks)).into_response()
}

async fn create(
    State(state): State<AppState>,
    owner: Owner,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let new = NewTask::from_json(&body, state.limits.fields).map_err(ApiError::Validation)?;
    let mut created = task(&owner, 1);
    created.title = new.title.as_str().to_owned();
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn one(owner: Owner, id: TaskRef) -> Result<Json<Task>, ApiError> {
    Ok(Json(task(&owner, id.require()?.get())))
}

async fn update(
    State(state): State<AppState>,
    owner: Owner,
    id: TaskRef,
    JsonObject(body): JsonObject,
) -> Result<Json<Task>, ApiError> {
    let patch = TaskPatch::from_json(&body, state.limits.fields).map_err(ApiError::Validation)?;
    let mut updated = task(&owner, id.require()?.get());
    if let Some(title) = patch.title {
        updated.title = title.as_str().to_owned();
    }
    Ok(Json(updated))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("usage: ceiling PORT SECRET");
    let secret = args.next().expect("usage: ceiling PORT SECRET");
    // The server's defaults (and any limits set in the environment).
    let config = Config::from_settings(&Cli::parse_from(["ceiling"]).settings).expect("valid settings");
    // Handlers here never touch it; AppState just needs one.
    let pool = PoolSettings { max_connections: 1, ..config.pool_settings() };
    let store = Store::connect(&"sqlite::memory:".parse().unwrap(), pool).await.unwrap();
    let verifier =
        Verifier::new().with_hs256(secret.as_bytes(), ClaimRules { leeway: 30, ..Default::default() });
    let (hub, _) = todo_api::realtime::Hub::new(config.realtime.streams, false);
    let realtime = Arc::new(config.realtime.clone());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let workers = Workers::bind(addr, config.workers).expect("binds");
    // The ceiling has no rate limit (the server's is measured by bench/run.py).
    let state = AppState {
        store,
        verifier: Arc::new(verifier),
        limits: config.limits,
        hub,
        realtime,
        user_limit: None,
        drain: Drain::default(),
        balance: workers.balance(),
    };
    let routes = |state| {
        let router = Router::new()
            .route("/api/{user_id}/tasks", get(list).post(create))
            .route("/api/{user_id}/tasks/{id}", get(one).put(update).patch(update))
            .route("/api/{user_id}/tasks/{id}/complete", patch(one))
            .with_state(state);
        with_layers(router, vec![HeaderValue::from_static("http://localhost:3000")])
    };
    let stopping = Stopping { drain: Drain::default(), drain_for: Duration::ZERO, grace: Duration::ZERO };
    let _ = workers.run(state, routes, stopping, std::future::pending()).await;
}
