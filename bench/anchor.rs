//! The benchmark's anchor: TechEmpower's axum `/db` entry (axum-pg) in its
//! own shape, on this hardware: one thread per core, each with a
//! `current_thread` tokio runtime, its own `SO_REUSEPORT` listener (backlog
//! 4096, TCP_NODELAY), its own pipelined tokio-postgres connection with the
//! SELECT prepared once, and hyper's HTTP/1 with pipeline flushing. No auth,
//! no validation: one row by (id, user_id) as JSON, what todo-api's `get` is
//! compared with.
//!
//!   cargo run --release --example anchor -- PORT DATABASE_URL
//! serves `GET /api/{user_id}/tasks/{id}` from the `tasks` table, and
//! TechEmpower's own `GET /db` (one random row of a 10,000-row `world` table,
//! created on start if missing), so the anchor itself can be held to the
//! figure axum-pg's `/db` reaches on the same machine.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio_postgres::{Client, NoTls, Statement};

const SELECT: &str = "SELECT id, user_id, title, description, completed, created_at, updated_at \
                      FROM tasks WHERE id = $1 AND user_id = $2";
const SELECT_WORLD: &str = "SELECT id, randomnumber FROM world WHERE id = $1";
const WORLD: &str = "CREATE TABLE IF NOT EXISTS world (id integer PRIMARY KEY, randomnumber integer NOT NULL); \
                     INSERT INTO world SELECT i, (random() * 9999)::integer + 1 FROM generate_series(1, 10000) i \
                     ON CONFLICT DO NOTHING";

struct Db {
    client: Client,
    select: Statement,
    world: Statement,
}

#[derive(serde::Serialize)]
struct Task<'a> {
    id: i64,
    user_id: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    completed: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(serde::Serialize)]
struct World {
    id: i32,
    #[serde(rename = "randomNumber")]
    random_number: i32,
}

async fn task(State(db): State<Arc<Db>>, Path((user, id)): Path<(String, i64)>) -> Response {
    match db.client.query_opt(&db.select, &[&id, &user]).await {
        Ok(Some(row)) => {
            let created: time::OffsetDateTime = row.get(5);
            let updated: time::OffsetDateTime = row.get(6);
            let body = Task {
                id: row.get(0),
                user_id: row.get(1),
                title: row.get(2),
                description: row.get(3),
                completed: row.get(4),
                created_at: created.unix_timestamp(),
                updated_at: updated.unix_timestamp(),
            };
            axum::Json(body).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn world(State(db): State<Arc<Db>>) -> Response {
    // TechEmpower draws each id from a thread-local small RNG too.
    let id: i32 = rand::random_range(1..=10_000);
    match db.client.query_one(&db.world, &[&id]).await {
        Ok(row) => axum::Json(World { id: row.get(0), random_number: row.get(1) }).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn listener(addr: SocketAddr) -> std::net::TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    socket.set_reuse_port(true).expect("SO_REUSEPORT");
    socket.set_nonblocking(true).expect("non-blocking");
    socket.bind(&addr.into()).expect("binds");
    socket.listen(4096).expect("listens");
    socket.into()
}

async fn worker(addr: SocketAddr, url: String) {
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connects");
    tokio::spawn(connection);
    let select = client.prepare(SELECT).await.expect("prepares");
    let world_select = client.prepare(SELECT_WORLD).await.expect("prepares");
    let app = Router::new()
        .route("/api/{user_id}/tasks/{id}", get(task))
        .route("/db", get(world))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::new(Db { client, select, world: world_select }));
    let listener = tokio::net::TcpListener::from_std(listener(addr)).expect("registers");
    let mut http = hyper::server::conn::http1::Builder::new();
    http.pipeline_flush(true);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().expect("PORT").parse().expect("a port");
    let url = args.next().expect("DATABASE_URL");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let setup = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    setup.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connects");
        tokio::spawn(connection);
        client.batch_execute(WORLD).await.expect("creates the world table");
    });
    drop(setup);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(worker(addr, url));
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
