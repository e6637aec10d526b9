//! One worker's accept loop: HTTP/1.1 over TCP with a cap on open connections
//! and a deadline for request headers. `axum::serve` offers neither (it gives
//! hyper no timer, so a client that never finishes its headers, or idles
//! forever on keep-alive, holds its connection forever), so this drives
//! hyper's own connection builder, with hyper-util's graceful shutdown, directly.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::balance::{Arrival, Balance, Placed};
use super::drain::Stopping;
use super::front::Front;
use crate::config::Limits;
use crate::telemetry::metrics;

/// The routed service a worker serves (`http::service`).
pub trait Routed:
    tower::Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

impl<S> Routed for S where
    S: tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// What one worker serves from.
pub struct WorkerIo {
    pub index: usize,
    pub listener: std::net::TcpListener,
    pub inbox: UnboundedReceiver<Arrival>,
    pub balance: Arc<Balance>,
    /// `MAX_CONNECTIONS`, shared by every worker.
    pub slots: Arc<Semaphore>,
}

/// Serves `service` on this worker's listener (and what other workers hand
/// it) until `stop` turns true; then drains (see `drain`), stops accepting,
/// answers what is still queued, and waits up to the grace period for open
/// requests to finish. Returns whether they all did.
pub async fn serve<S>(
    io: WorkerIo,
    service: S,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    stopping: Stopping,
) -> std::io::Result<bool>
where
    S: Routed,
{
    let WorkerIo { index, listener, mut inbox, balance, slots } = io;
    let listener = TcpListener::from_std(listener)?;
    let worker = Worker {
        index,
        balance,
        http: http(&limits, true),
        last: http(&limits, false),
        graceful: GracefulShutdown::new(),
        deadline: limits.request_timeout,
    };
    let drained = tokio::time::sleep(Duration::MAX);
    tokio::pin!(drained);
    let mut draining = false;
    // A connection accepted while every `MAX_CONNECTIONS` slot is taken
    // waits here (one per worker) rather than holding a slot while it waits
    // to accept: one worker holding the last slot while the kernel queues on
    // another's listener would stall that one.
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop), if !draining => {
                draining = true;
                drained.as_mut().reset(tokio::time::Instant::now() + stopping.drain_for);
            }
            () = &mut drained => break,
            Some(arrival) = inbox.recv() => {
                if let Ok(stream) = TcpStream::from_std(arrival.stream) {
                    worker.spawn(stream, arrival.peer, arrival.slot, &service, &stopping);
                } else {
                    worker.balance.closed(index);
                }
            }
            accepted = accept(&listener), if waiting.is_none() => waiting = accepted,
            slot = Arc::clone(&slots).acquire_owned(), if waiting.is_some() => {
                let (Some((stream, peer)), Ok(slot)) = (waiting.take(), slot) else { continue };
                if let Placed::Here(stream, peer, slot) = worker.balance.place(index, stream, peer, slot) {
                    worker.spawn(stream, peer, slot, &service, &stopping);
                }
            }
        }
    }
    let late = worker.answer_queued(listener, waiting, inbox, &service, &stopping);
    let finished = async move {
        worker.graceful.shutdown().await;
        late.join_all().await;
    };
    Ok(tokio::time::timeout(stopping.grace, finished).await.is_ok())
}

fn http(limits: &Limits, keep_alive: bool) -> http1::Builder {
    let mut http = http1::Builder::new();
    // No `pipeline_flush` (TechEmpower's entries set it for pipelined
    // requests): with it, hyper 1.x sent nothing back for a malformed request
    // (tests/http_fuzz.rs, `Transfer-Encoding: chunked, identity`) instead
    // of its 400. Keep-alive clients that do not pipeline gain nothing from it.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(keep_alive);
    http
}

struct Worker {
    index: usize,
    balance: Arc<Balance>,
    http: http1::Builder,
    /// For the last connections, answered once each while stopping.
    last: http1::Builder,
    graceful: GracefulShutdown,
    /// `REQUEST_TIMEOUT_SECONDS`.
    deadline: Duration,
}

impl Worker {
    fn spawn<S>(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
        service: &S,
        stopping: &Stopping,
    ) where
        S: Routed,
    {
        let connection = self.connection(stream, peer, service, stopping, false);
        let connection = self.graceful.watch(connection);
        let (balance, index) = (Arc::clone(&self.balance), self.index);
        metrics().connection_opened();
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, malformed request); hyper
            // has already answered what could be answered.
            let _ = connection.await;
            metrics().connection_closed();
            balance.closed(index);
            drop(slot);
        });
    }

    fn connection<S>(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        service: &S,
        stopping: &Stopping,
        last: bool,
    ) -> http1::Connection<TokioIo<TcpStream>, TowerToHyperService<Front<S>>>
    where
        S: Routed,
    {
        // Responses are small and complete: send them now, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let service = Front::new(service.clone(), peer, stopping.drain.clone(), self.deadline);
        let http = if last { &self.last } else { &self.http };
        http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
    }

    /// Closing a listener resets every connection still in its accept queue,
    /// and those clients have sent their requests. So the queue (and what
    /// other workers handed over) is taken first, even past
    /// `MAX_CONNECTIONS`, and each is answered once with `Connection: close`.
    /// Not under `graceful`: it would close them before their request is read.
    fn answer_queued<S>(
        &self,
        listener: TcpListener,
        waiting: Option<(TcpStream, SocketAddr)>,
        mut inbox: UnboundedReceiver<Arrival>,
        service: &S,
        stopping: &Stopping,
    ) -> JoinSet<()>
    where
        S: Routed,
    {
        inbox.close();
        let mut queued = Vec::new();
        if let Some((stream, peer)) = waiting.and_then(|(stream, peer)| Some((stream.into_std().ok()?, peer)))
        {
            queued.push((stream, peer));
        }
        while let Ok(arrival) = inbox.try_recv() {
            self.balance.closed(self.index);
            queued.push((arrival.stream, arrival.peer));
        }
        if let Ok(listener) = listener.into_std() {
            while let Ok((stream, peer)) = listener.accept() {
                let _ = stream.set_nonblocking(true);
                queued.push((stream, peer));
            }
        }
        let mut late = JoinSet::new();
        for (stream, peer) in queued {
            let Ok(stream) = TcpStream::from_std(stream) else { continue };
            let connection = self.connection(stream, peer, service, stopping, true);
            late.spawn(async move {
                let _ = connection.await;
            });
        }
        late
    }
}

/// The next connection. `None` after an accept error, which is logged; when
/// it is the process running out of file descriptors, the loop pauses
/// briefly rather than spinning.
async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok(accepted) => Some(accepted),
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
