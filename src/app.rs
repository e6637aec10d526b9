//! Assembly: config → storage → verifier → router → listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::ServiceExt;
use axum::extract::Request;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::{Hs256Verifier, Verifier};
use crate::config::{AuthConfig, Config};
use crate::http::{self, AppState};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server that is connected, migrated and bound, but not yet serving.
pub struct App {
    state: AppState,
    config: Config,
    listener: TcpListener,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let store = Store::connect(&config.database, config.database_max_connections).await?;
        store.migrate().await?;
        let verifier = Arc::new(verifier(&config.auth));
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    addr: config.listen,
                    source,
                })?;
        Ok(Self {
            state: AppState { store, verifier },
            config,
            listener,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// and closes the pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.local_addr();
        tracing::info!(
            %addr,
            database = %self.config.database_display(),
            pool = self.config.database_max_connections,
            auth = if self.config.auth.is_configured() { "hs256" } else { "none" },
            leeway_secs = self.config.auth.leeway.as_secs(),
            cors_origins = ?self.config.cors_origins,
            "todo-api listening"
        );
        let store = self.state.store.clone();
        let service = http::service(self.state, self.config.cors_origins);
        axum::serve(
            self.listener,
            ServiceExt::<Request>::into_make_service(service),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        store.close().await;
        tracing::info!("todo-api stopped");
        Ok(())
    }
}

fn verifier(auth: &AuthConfig) -> Verifier {
    let hs256 = auth
        .hs256_secret
        .as_ref()
        .map(|secret| Hs256Verifier::new(secret.expose_secret().as_bytes(), auth.leeway));
    Verifier::new(hs256)
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
