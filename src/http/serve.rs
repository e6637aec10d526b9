//! The accept loop: HTTP/1.1 over TCP with a cap on open connections and a
//! deadline for request headers. `axum::serve` offers neither (it gives hyper
//! no timer, so a client that never finishes its headers, or idles forever on
//! keep-alive, holds its connection forever), so this drives hyper's own
//! connection builder, with hyper-util's graceful shutdown, directly.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::drain::Stopping;
use crate::config::Limits;
use crate::limit::PeerAddr;
use crate::telemetry::metrics;

/// Serves `service` on `listener` until `shutdown` completes, then drains
/// (see `drain`), stops accepting and waits up to the grace period for open
/// requests to finish. Returns whether they all did. Uses
/// `limits.max_connections` and `limits.header_timeout`.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    stopping: Stopping,
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
    let drained = tokio::time::sleep(Duration::MAX);
    tokio::pin!(drained);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown, if !stopping.drain.started() => {
                stopping.drain.start();
                tracing::info!(
                    drain_secs = stopping.drain_for.as_secs(),
                    "draining: /ready answers 503, still serving with Connection: close"
                );
                drained.as_mut().reset(tokio::time::Instant::now() + stopping.drain_for);
                continue;
            }
            () = &mut drained => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else { continue };
        // Responses are small and complete: send them now, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let drain = stopping.drain.clone();
        let service = service
            .clone()
            .map_request(move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(PeerAddr(peer));
                request
            })
            .map_response(move |mut response: Response| {
                if drain.started() {
                    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
                }
                response
            });
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
    tokio::time::timeout(stopping.grace, graceful.shutdown()).await.is_ok()
}

/// Waits for a free slot, then for a connection. `None` after an accept error,
/// which is logged; when it is the process running out of file descriptors,
/// the loop pauses briefly rather than spinning.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(tokio::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.expect("the semaphore is never closed");
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
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
