//! Assembly: config → storage → verifier → router → listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::ServiceExt;
use axum::extract::Request;
use axum::serve::ListenerExt;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::{JwksCache, JwksError, JwksSource, Verifier};
use crate::config::{AuthConfig, Config};
use crate::http::{self, AppState};
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

/// A server that is connected, migrated and bound, but not yet serving.
pub struct App {
    state: AppState,
    config: Config,
    listener: TcpListener,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let store = Store::connect(&config.database, config.database_max_connections).await?;
        store.migrate().await?;
        let (verifier, background) = verifier(&config.auth).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartupError::Listen { addr: config.listen, source })?;
        let state = AppState { store, verifier: Arc::new(verifier) };
        Ok(Self { state, config, listener, background })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// and closes the pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let addr = self.local_addr();
        tracing::info!(
            %addr,
            database = %self.config.database_display(),
            pool = self.config.database_max_connections,
            auth = %self.config.auth.describe(),
            cors_origins = ?self.config.cors_origins,
            "todo-api listening"
        );
        let store = self.state.store.clone();
        let service = http::service(self.state, self.config.cors_origins);
        // Responses are small and complete: send them now, not after Nagle's delay.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, ServiceExt::<Request>::into_make_service(service))
            .with_graceful_shutdown(shutdown)
            .await?;
        self.background.iter().for_each(|task| task.abort());
        store.close().await;
        tracing::info!("todo-api stopped");
        Ok(())
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
    Ok((verifier, background))
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
    tracing::info!("shutdown signal received; draining in-flight requests");
}
