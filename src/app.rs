//! Assembly: config → storage → verifier → router → listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::{JwksCache, JwksError, JwksSource, Verifier};
use crate::config::{AuthConfig, Config};
use crate::domain::Timestamp;
use crate::http::{self, AppState, Drain, Stopping, WorkerFailed, Workers};
use crate::limit::{FailureLimit, KeyedLimit, Reason};
use crate::realtime::{self, Hub};
use crate::store::{ChangeLog, IdempotencyKeys, Lifecycle, Notifier, StreamTickets};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] StoreError),
    #[error("cannot load JWKS_FILE: {0}")]
    JwksFile(#[source] JwksError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Worker(#[from] WorkerFailed),
}

/// Users whose request rate is tracked at once (the least active are
/// forgotten first, and start again with a full bucket).
const USERS_LIMITED: usize = 50_000;

/// A server that is connected, migrated and bound, but not yet serving.
pub struct App {
    state: AppState,
    config: Config,
    workers: Workers,
    metrics_listener: Option<TcpListener>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let store = Store::connect_migrated(&config.database, config.pool_settings()).await?;
        let (mut verifier, background) = verifier(&config.auth).await?;
        let protection = &config.protection;
        if let Some(rate) = protection.auth_failures {
            verifier =
                verifier.with_failure_limit(FailureLimit::new(rate, protection.trusted_proxies.clone()));
        }
        let user_limit =
            protection.user_rate.map(|rate| Arc::new(KeyedLimit::new(Reason::User, rate, USERS_LIMITED)));
        let workers = Workers::bind(config.listen, config.workers)
            .map_err(|source| StartupError::Listen { addr: config.listen, source })?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.map_err(|source| StartupError::Listen { addr, source })?)
            }
            None => None,
        };
        let mut background = background;
        background.push(spawn_key_pruner(store.clone(), config.limits.idempotency_ttl));
        let (hub, outbox) = Hub::new(config.realtime.streams, store.is_shared());
        background.extend(realtime::spawn_relay(&hub, &store, outbox, config.realtime.listen.as_ref())?);
        background.push(spawn_change_pruner(
            store.clone(),
            config.realtime.retention_age,
            config.realtime.retention_events,
        ));
        let state = AppState {
            store,
            verifier: Arc::new(verifier),
            limits: config.limits,
            hub,
            realtime: Arc::new(config.realtime.clone()),
            user_limit,
            drain: Drain::default(),
            balance: workers.balance(),
        };
        Ok(Self { state, config, workers, metrics_listener, background })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.workers.local_addr()
    }

    /// Each worker's open connections.
    pub fn balance(&self) -> Arc<http::Balance> {
        Arc::clone(&self.state.balance)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes; then stops accepting, lets in-flight
    /// requests finish for up to `SHUTDOWN_GRACE_SECONDS`, and closes the pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let config = &self.config;
        tracing::info!(
            addr = %self.local_addr(),
            workers = config.workers,
            database = %config.database_display(),
            read_replicas = %config.database.replicas_display(),
            pool = config.database_max_connections,
            auth = %config.auth.describe(),
            cors_origins = ?config.cors_origins,
            metrics = %config.metrics_addr.map_or("/metrics".to_owned(), |a| format!("http://{a}/metrics")),
            log_format = ?config.log_format,
            shutdown_grace_secs = config.shutdown_grace.as_secs(),
            limits = ?config.limits,
            protection = ?config.protection,
            statement_timeout_secs = config.database_statement_timeout.as_secs(),
            "todo-api listening"
        );
        let store = self.state.store.clone();
        let hub = Arc::clone(&self.state.hub);
        let stopping = Stopping {
            drain: self.state.drain.clone(),
            drain_for: config.protection.drain,
            grace: config.shutdown_grace,
        };
        // Streams would hold their connections open through the whole grace
        // period: they end first (clients reconnect elsewhere and resume).
        let shutdown = async move {
            shutdown.await;
            hub.close();
        };
        let mut background = self.background;
        if let Some(listener) = self.metrics_listener {
            let metrics = http::metrics_router(self.state.clone());
            background.push(tokio::spawn(async move {
                let _ = axum::serve(listener, metrics).await;
            }));
        }
        let grace = config.shutdown_grace;
        let (cors_origins, serve_metrics) = (config.cors_origins.clone(), config.metrics_addr.is_none());
        let routes = move |state| http::service(state, cors_origins.clone(), serve_metrics);
        let served = self.workers.run(self.state, routes, stopping, shutdown).await;
        if let Ok(false) = served {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still in flight after the grace period; stopping anyway"
            );
        }
        background.iter().for_each(|task| task.abort());
        store.close().await;
        tracing::info!("todo-api stopped");
        served.map(drop).map_err(RunError::from)
    }
}

/// The verifier for the configured methods, plus the JWKS refresher if any.
/// An unreachable auth server does not stop startup (it may start after us):
/// it is logged, retried in the background, and reported by `/ready`.
async fn verifier(auth: &AuthConfig) -> Result<(Verifier, Vec<tokio::task::JoinHandle<()>>), StartupError> {
    let mut verifier = Verifier::new();
    let mut background = Vec::new();
    if let Some(secret) = &auth.hs256_secret {
        verifier = verifier.with_hs256(secret.expose_secret().as_bytes(), auth.hs256_rules.clone());
    }
    if let Some(jwks) = &auth.jwks {
        let cache = Arc::new(JwksCache::new(jwks.source.clone(), jwks.min_refetch));
        if let Err(error) = cache.refresh().await {
            if matches!(jwks.source, JwksSource::File(_)) {
                return Err(StartupError::JwksFile(error));
            }
            tracing::warn!(%error, "auth server keys not available yet; retrying in the background");
        }
        background.push(cache.spawn_refresher(jwks.refresh));
        verifier = verifier.with_jwks(cache, jwks.rules.clone());
    }
    if let Some(sessions) = &auth.sessions {
        verifier = verifier.with_sessions(crate::auth::SessionLookup::new(sessions.clone()));
    }
    Ok((verifier, background))
}

/// Deletes expired idempotency keys now and then: every tenth of their
/// lifetime, between a second and ten minutes. Every instance does it; the
/// delete is idempotent, so they need not agree on who.
fn spawn_key_pruner(store: Store, ttl: Duration) -> tokio::task::JoinHandle<()> {
    let every = (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(600));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match store.prune_keys(Timestamp::now()).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "expired idempotency keys deleted"),
                Err(error) => tracing::debug!(%error, "could not prune idempotency keys; trying again later"),
            }
        }
    })
}

/// Deletes changes past retention and expired stream tickets, every minute.
fn spawn_change_pruner(store: Store, age: Duration, keep: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let now = crate::domain::Timestamp::unix_now();
            let older_than = now.saturating_sub(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
            match store.prune_changes(older_than, keep).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "changes past retention deleted"),
                Err(error) => tracing::debug!(%error, "could not prune the change log; trying again later"),
            }
            if let Err(error) = store.prune_tickets(now).await {
                tracing::debug!(%error, "could not prune stream tickets; trying again later");
            }
        }
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
