//! Finding out, at runtime, that a transaction-mode pooler stands in front of
//! PostgreSQL when its host name did not say so (a self-hosted PgBouncer,
//! another provider's pooler). Its signs: it refuses the startup options that
//! carry our timeouts, or a prepared statement is gone on the next query
//! (each transaction may run on another server connection). From then on,
//! every connection of the store sends its statements unnamed and connects
//! without startup options, as `DATABASE_POOLER=transaction` would have had it.

use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by every connection of a store and of its workers' stores.
#[derive(Debug)]
pub struct PoolerWatch {
    /// The mode was guessed (direct), not said: it may switch.
    may_switch: bool,
    found: AtomicBool,
}

impl PoolerWatch {
    pub fn new(may_switch: bool) -> Self {
        Self { may_switch, found: AtomicBool::new(false) }
    }

    /// A pooler was found: statements go unnamed.
    pub fn found(&self) -> bool {
        self.found.load(Ordering::Relaxed)
    }

    /// `error` is a sign of a pooler: switch (logging it once) and say
    /// whether the caller should try again the pooler's way.
    pub fn is_a_sign(&self, error: &tokio_postgres::Error) -> bool {
        let Some(sign) = sign_of_pooler(error) else { return false };
        if !self.may_switch {
            return false;
        }
        if !self.found.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                sign,
                "a transaction-mode pooler is in front of PostgreSQL: statements are sent unnamed from now \
                 on and the statement timeouts are the role's or database's defaults (set \
                 DATABASE_POOLER=transaction to start that way, or DATABASE_POOLER=none if this is wrong)"
            );
        }
        true
    }
}

/// What a transaction-mode pooler answers that PostgreSQL itself does not:
/// a startup parameter refused (PgBouncer without `ignore_startup_parameters`),
/// or a statement this connection prepared missing (SQLSTATE 26000).
fn sign_of_pooler(error: &tokio_postgres::Error) -> Option<&'static str> {
    let db = error.as_db_error()?;
    match db.code().code() {
        "26000" => Some("a prepared statement vanished between transactions"),
        "08P01" if db.message().contains("startup parameter") => Some("the startup options were refused"),
        _ => None,
    }
}
