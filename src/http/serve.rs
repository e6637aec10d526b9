//! The accept loop: HTTP/1.1 over TCP with a cap on open connections and a
//! deadline for request headers. `axum::serve` offers neither (it gives hyper
//! no timer, so a client that never finishes its headers, or idles forever on
//! keep-alive, holds its connection forever), so this drives hyper's own
//! connection builder, with hyper-util's graceful shutdown, directly.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::Limits;
use crate::telemetry::metrics;

/// Serves `service` on `listener` until `shutdown` completes, then stops
/// accepting and waits up to `grace` for open requests to finish. Returns
/// whether they all did. Uses `limits.max_connections` and `limits.header_timeout`.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, slot)) = accepted else { continue };
        // Responses are small and complete: send them now, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let service = service.clone().map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        metrics().connection_opened();
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, malformed request); hyper
            // has already answered what could be answered.
            let _ = connection.await;
            metrics().connection_closed();
            drop(slot);
        });
    }
    drop(listener);
    tokio::time::timeout(grace, graceful.shutdown()).await.is_ok()
}

/// Waits for a free slot, then for a connection. `None` after an accept error,
/// which is logged; when it is the process running out of file descriptors,
/// the loop pauses briefly rather than spinning.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(tokio::net::TcpStream, tokio::sync::OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.expect("the semaphore is never closed");
    match listener.accept().await {
        Ok((stream, _peer)) => Some((stream, slot)),
        Err(error) => {
            let per_connection = matches!(
                error.kind(),
                std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
            );
            if !per_connection {
                tracing::error!(%error, "accept failed; pausing");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None
        }
    }
}
