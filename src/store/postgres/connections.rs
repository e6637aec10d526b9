//! A fixed set of long-lived connections, each kept open by a supervisor
//! task: when one breaks it is replaced in the background (with backoff), and
//! meanwhile requests use the others; with none open they get 503 at once.
//! Pools such as deadpool hand a connection to one query at a time; here a
//! connection is shared and tokio-postgres pipelines what is sent on it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::StoreError;
use super::super::error::describe;
use super::pooler::PoolerWatch;
use super::statements::Conn;
use super::tls;
use super::url::{PgConfig, Pooler};

const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Bounds how late a database that came back is noticed.
const RETRY_MOST: Duration = Duration::from_millis(500);

/// One connection's place: empty while it is being (re)made.
#[derive(Default)]
struct Slot {
    conn: RwLock<Option<Arc<Conn>>>,
}

pub struct Connections {
    slots: Vec<Arc<Slot>>,
    next: AtomicUsize,
    closing: watch::Sender<bool>,
    /// Logged once per outage rather than once per connection and retry.
    outage_logged: Arc<AtomicBool>,
}

/// What a supervisor needs to (re)connect.
#[derive(Clone)]
pub struct Connector {
    /// With our timeouts in its startup options (direct connections).
    pub config: tokio_postgres::Config,
    /// As the URL gave it: for migrations, which must not time out, and
    /// behind a transaction-mode pooler, which refuses startup options.
    pub plain: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    /// As configured, or guessed from the host name.
    pub configured: Pooler,
    /// Whether a pooler was found out since (see `pooler`).
    pub watch: Arc<PoolerWatch>,
    /// `host:port` of a read replica (see `replicas`), for its log lines; `None` for the primary.
    pub replica: Option<Arc<str>>,
}

impl Connector {
    /// How to reach `config`'s server, with `timeout` as each statement's
    /// and each lock wait's bound.
    pub fn new(config: &PgConfig, timeout: Duration, replica: Option<Arc<str>>) -> Result<Self, StoreError> {
        let tls = tls::connector(config).map_err(|error| StoreError::Unavailable(error.into()))?;
        let mut wire = config.config.clone();
        if config.pooler == Pooler::None {
            // Directly connected, the timeouts ride in the startup packet: no
            // round trip, and they hold for the connection's life. A
            // transaction-mode pooler refuses startup options; there the
            // role's defaults hold them (see `PgStore::timeouts_in_force`).
            let millis = timeout.as_millis();
            let ours = format!("-c statement_timeout={millis} -c lock_timeout={millis}");
            let options = match wire.get_options() {
                Some(theirs) if !theirs.is_empty() => format!("{theirs} {ours}"),
                _ => ours,
            };
            wire.options(options);
        }
        let watch = Arc::new(PoolerWatch::new(config.pooler == Pooler::None && !config.pooler_forced));
        Ok(Self {
            config: wire,
            plain: config.config.clone(),
            tls,
            configured: config.pooler,
            watch,
            replica,
        })
    }

    /// The mode in force: as configured, or a transaction-mode pooler found out since.
    pub fn pooler(&self) -> Pooler {
        match (self.configured, self.watch.found()) {
            (Pooler::None, false) => Pooler::None,
            _ => Pooler::Transaction,
        }
    }

    /// One connection, its driver task spawned, its statements prepared
    /// (unnamed behind a transaction-mode pooler).
    pub async fn open(&self) -> Result<(Conn, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
        if self.pooler() == Pooler::Transaction {
            let (client, driver) = connect(&self.plain, &self.tls).await?;
            return Ok((Conn::unnamed(client, self.watch.clone()), driver));
        }
        let (client, driver) = match connect(&self.config, &self.tls).await {
            Err(error) if self.watch.is_a_sign(&error) => return Box::pin(self.open()).await,
            opened => opened?,
        };
        Ok((Conn::prepared(client, self.watch.clone()).await?, driver))
    }

    /// A bare client on the URL's own settings, its driver task spawned.
    pub async fn open_plain(
        &self,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
        connect(&self.plain, &self.tls).await
    }
}

async fn connect(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = config.connect(tls.clone()).await?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %describe(&error), "database connection ended");
        }
    });
    Ok((client, driver))
}

impl Connections {
    /// `count` slots; the first holds `first` if given (made by the caller, so
    /// that a failure at startup is reported), the others connect in the background.
    pub fn start(
        connector: Connector,
        count: usize,
        first: Option<(Conn, tokio::task::JoinHandle<()>)>,
    ) -> Self {
        let (closing, _) = watch::channel(false);
        // No slots is a set that is always empty: its callers use another.
        let slots: Vec<Arc<Slot>> =
            (0..count.max(usize::from(first.is_some()))).map(|_| Arc::default()).collect();
        let outage_logged = Arc::new(AtomicBool::new(false));
        // In place before this returns, so the store answers at once.
        let mut first = first.map(|(conn, driver)| {
            *slots[0].conn.write().expect("slot lock") = Some(Arc::new(conn));
            driver
        });
        for slot in &slots {
            let supervisor = Supervisor {
                slot: slot.clone(),
                connector: connector.clone(),
                closing: closing.subscribe(),
                outage_logged: outage_logged.clone(),
            };
            tokio::spawn(supervisor.run(first.take()));
        }
        Self { slots, next: AtomicUsize::new(0), closing, outage_logged }
    }

    /// An open connection, round robin; `None` when none is open.
    pub fn pick(&self) -> Option<Arc<Conn>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.slots.len()).find_map(|offset| {
            let slot = &self.slots[(start + offset) % self.slots.len()];
            let conn = slot.conn.read().expect("slot lock").clone();
            conn.filter(|conn| !conn.client.is_closed())
        })
    }

    /// `(open, capacity)`.
    pub fn counts(&self) -> (u32, u32) {
        let open = self.slots.iter().filter(|slot| slot.conn.read().expect("slot lock").is_some()).count();
        (open as u32, self.slots.len() as u32)
    }

    pub fn close(&self) {
        let _ = self.closing.send(true);
        for slot in &self.slots {
            slot.conn.write().expect("slot lock").take();
        }
        self.outage_logged.store(true, Ordering::Relaxed);
    }
}

struct Supervisor {
    slot: Arc<Slot>,
    connector: Connector,
    closing: watch::Receiver<bool>,
    outage_logged: Arc<AtomicBool>,
}

impl Supervisor {
    /// `running`: the driver of the connection already in the slot, if any.
    async fn run(mut self, mut running: Option<tokio::task::JoinHandle<()>>) {
        let mut backoff = RETRY_FIRST;
        loop {
            if *self.closing.borrow() {
                return;
            }
            let opened = match running.take() {
                Some(driver) => Ok(driver),
                None => self.connector.open().await.map(|(conn, driver)| {
                    *self.slot.conn.write().expect("slot lock") = Some(Arc::new(conn));
                    driver
                }),
            };
            match opened {
                Ok(mut driver) => {
                    backoff = RETRY_FIRST;
                    if self.outage_logged.swap(false, Ordering::Relaxed) {
                        match &self.connector.replica {
                            Some(replica) => tracing::info!("read replica {replica} reachable again"),
                            None => tracing::info!("database reachable again"),
                        }
                    }
                    tokio::select! {
                        _ = &mut driver => {}
                        _ = self.closing.wait_for(|closing| *closing) => {}
                    }
                    self.slot.conn.write().expect("slot lock").take();
                    if *self.closing.borrow() {
                        return;
                    }
                    self.log_outage("database connection lost; reconnecting in the background");
                }
                Err(error) => {
                    self.log_outage(&format!("cannot connect to the database: {}", describe(&error)));
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = self.closing.wait_for(|closing| *closing) => return,
                    }
                    backoff = (backoff * 2).min(RETRY_MOST);
                }
            }
        }
    }

    fn log_outage(&self, message: &str) {
        if self.outage_logged.swap(true, Ordering::Relaxed) {
            return;
        }
        match &self.connector.replica {
            // Reads go to the primary meanwhile: nobody gets a 503 for it.
            Some(replica) => tracing::warn!("read replica {replica}: {message}; reading from the primary"),
            None => tracing::error!("{message}; answering 503 while no connection is open"),
        }
    }
}
