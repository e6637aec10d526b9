//! The benchmark's anchor: the fastest shape of "one row by id per request"
//! this hardware allows (TechEmpower's `/db` test): axum, one tokio-postgres
//! connection per worker thread, pipelined, its SELECT prepared once, the row
//! as JSON. No auth, no validation: what todo-api's `get` is compared with.
//!
//!   cargo run --release --example anchor -- PORT DATABASE_URL
//! serves `GET /api/{user_id}/tasks/{id}` from the `tasks` table.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_postgres::{Client, NoTls, Statement};

const SELECT: &str = "SELECT id, user_id, title, description, completed, created_at, updated_at \
                      FROM tasks WHERE id = $1 AND user_id = $2";

struct Db {
    connections: Vec<(Client, Statement)>,
    next: AtomicUsize,
}

async fn task(State(db): State<Arc<Db>>, Path((user, id)): Path<(String, i64)>) -> Response {
    let (client, statement) = &db.connections[db.next.fetch_add(1, Ordering::Relaxed) % db.connections.len()];
    match client.query_opt(statement, &[&id, &user]).await {
        Ok(Some(row)) => {
            let created: time::OffsetDateTime = row.get(5);
            let updated: time::OffsetDateTime = row.get(6);
            let body = serde_json::json!({
                "id": row.get::<_, i64>(0), "user_id": row.get::<_, &str>(1), "title": row.get::<_, &str>(2),
                "description": row.get::<_, Option<&str>>(3), "completed": row.get::<_, bool>(4),
                "created_at": created.unix_timestamp(), "updated_at": updated.unix_timestamp(),
            });
            axum::Json(body).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().expect("PORT").parse().expect("a port");
    let url = args.next().expect("DATABASE_URL");
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut connections = Vec::new();
    for _ in 0..workers {
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connects");
        tokio::spawn(connection);
        let statement = client.prepare(SELECT).await.expect("prepares");
        connections.push((client, statement));
    }
    let db = Arc::new(Db { connections, next: AtomicUsize::new(0) });
    let app = Router::new()
        .route("/api/{user_id}/tasks/{id}", get(task))
        .route("/health", get(|| async { "ok" }))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("binds");
    axum::serve(listener, app).await.expect("serves");
}
