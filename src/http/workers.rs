//! The server's shape: one thread per worker (`WORKERS`, one per core by
//! default), each running a single-threaded tokio runtime with its own
//! listener, its own connections and its own database connections, as
//! TechEmpower's fastest entries do. A request never leaves the thread that
//! accepted its connection (`balance` moves a few connections, once, at
//! accept). What is shared (the verifier, the limits, the change hub,
//! SQLite's threads) is behind `Arc`s and locks that are not held across
//! an await.
//!
//! A worker that panics is logged (the panic message, then which worker) and
//! stops the server, which then exits non-zero: a supervisor restarts the
//! whole process, rather than this one limping on with fewer cores.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{Semaphore, mpsc::UnboundedReceiver, oneshot, watch};

use super::AppState;
use super::balance::{Arrival, Balance};
use super::drain::Stopping;
use super::serve::{Routed, WorkerIo, serve};

/// The bound listeners, one per worker, before any worker runs.
pub struct Workers {
    listeners: Vec<std::net::TcpListener>,
    inboxes: Vec<UnboundedReceiver<Arrival>>,
    balance: Arc<Balance>,
}

/// How a worker ended.
type Ended = Result<std::io::Result<bool>, oneshot::error::RecvError>;

#[derive(Debug, thiserror::Error)]
#[error("worker {0} stopped unexpectedly; stopping the server")]
pub struct WorkerFailed(usize);

impl Workers {
    /// `count` listeners on `addr` (see `listen`).
    pub fn bind(addr: SocketAddr, count: usize) -> std::io::Result<Self> {
        let listeners = super::listen::bind(addr, count.max(1))?;
        let (balance, inboxes) = Balance::new(listeners.len());
        Ok(Self { listeners, inboxes, balance: Arc::new(balance) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listeners[0].local_addr().expect("a bound listener has an address")
    }

    pub fn balance(&self) -> Arc<Balance> {
        Arc::clone(&self.balance)
    }

    /// Runs every worker until `shutdown` completes (or one fails), then
    /// stops them all as `stopping` says. `Ok(false)`: requests were still in
    /// flight when the grace period ended.
    /// Each worker serves what `routes` makes of its own `AppState`.
    pub async fn run<S: Routed>(
        self,
        state: AppState,
        routes: impl Fn(AppState) -> S + Clone + Send + 'static,
        stopping: Stopping,
        shutdown: impl Future<Output = ()>,
    ) -> Result<bool, WorkerFailed> {
        let (stop, stopped) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(state.limits.max_connections));
        let mut running = FuturesUnordered::new();
        for (index, (listener, inbox)) in self.listeners.into_iter().zip(self.inboxes).enumerate() {
            let io =
                WorkerIo { index, listener, inbox, balance: Arc::clone(&self.balance), slots: slots.clone() };
            let worker = Worker { io, state: state.clone(), routes: routes.clone() };
            let (done, ended) = oneshot::channel();
            let (stopped, stopping) = (stopped.clone(), stopping.clone());
            std::thread::Builder::new()
                .name(format!("todo-api-worker-{index}"))
                .spawn(move || {
                    let _ = done.send(worker.run(stopped, stopping));
                })
                .map_err(|_| WorkerFailed(index))?;
            running.push(async move { (index, ended.await) });
        }
        tokio::pin!(shutdown);
        let failed = tokio::select! {
            () = &mut shutdown => None,
            Some((index, ended)) = running.next() => Some(report(index, &ended)),
        };
        stopping.drain.start();
        tracing::info!(
            drain_secs = stopping.drain_for.as_secs(),
            "draining: /ready answers 503, still serving with Connection: close"
        );
        let _ = stop.send(true);
        let mut all_finished = true;
        while let Some((index, ended)) = running.next().await {
            all_finished &= matches!(ended, Ok(Ok(true)));
            if !matches!(ended, Ok(Ok(_))) {
                report(index, &ended);
            }
        }
        match failed {
            Some(index) => Err(WorkerFailed(index)),
            None => Ok(all_finished),
        }
    }
}

fn report(index: usize, ended: &Ended) -> usize {
    match ended {
        Ok(Ok(_)) => tracing::error!(worker = index, "worker stopped before the server did"),
        Ok(Err(error)) => tracing::error!(worker = index, %error, "worker could not serve"),
        Err(_) => tracing::error!(worker = index, "worker panicked"),
    }
    index
}

/// What one worker thread needs.
struct Worker<R> {
    io: WorkerIo,
    state: AppState,
    routes: R,
}

impl<S: Routed, R: Fn(AppState) -> S> Worker<R> {
    fn run(self, stop: watch::Receiver<bool>, stopping: Stopping) -> std::io::Result<bool> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let Self { io, mut state, routes } = self;
            // Its connections are tasks on this runtime: they end with it.
            state.store = state.store.for_worker(io.index).await;
            let limits = state.limits;
            serve(io, routes(state), limits, stop, stopping).await
        })
    }
}
