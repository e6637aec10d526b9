//! Prometheus metrics (OpenMetrics text at `GET /metrics`). One process-wide
//! registry: counters are bumped from places that have no application state at
//! hand (the error type, the JWKS cache), and a process serves one API.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

type Labels = Vec<(&'static str, String)>;

/// A request's labels: static text and a number, so counting a request
/// allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<StatusLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    in_flight: Gauge,
    connections: Gauge,
    worker_connections: Family<Labels, Gauge>,
    auth_failures: Family<Labels, Counter>,
    jwks_refreshes: Family<Labels, Counter>,
    pool_size: Family<Labels, Gauge>,
    pool_idle: Family<Labels, Gauge>,
    pool_max: Family<Labels, Gauge>,
    replica_reads: Family<Labels, Counter>,
    streams_open: Gauge,
    events_sent: Family<Labels, Counter>,
    streams_refused: Family<Labels, Counter>,
    session_lookups: Family<Labels, Counter>,
    limited: Family<Labels, Counter>,
    verifications: Counter,
}

/// `metric`, registered under `name` (the registry keeps a handle to the same values).
fn register<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// A new metric of its default kind, registered.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    register(registry, name, help, M::default())
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("todo_api");
        let r = &mut registry;
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        Self {
            requests: registered(r, "http_requests", "HTTP requests by route template, method and status"),
            latency: register(
                r,
                "http_request_duration_seconds",
                "HTTP request latency by route template and method",
                latency,
            ),
            in_flight: registered(r, "http_requests_in_flight", "HTTP requests being served"),
            connections: registered(r, "http_connections_open", "Client connections open"),
            worker_connections: registered(
                r,
                "worker_connections_open",
                "Client connections open, by worker (one per core)",
            ),
            auth_failures: registered(r, "auth_failures", "Rejected tokens by reason"),
            jwks_refreshes: registered(r, "jwks_refreshes", "JWKS fetches by result"),
            pool_size: registered(r, "db_pool_connections", "Open database connections by pool"),
            pool_idle: registered(r, "db_pool_idle_connections", "Idle database connections by pool"),
            pool_max: registered(r, "db_pool_max_connections", "Database pool capacity by pool"),
            replica_reads: registered(
                r,
                "db_replica_reads",
                "Task reads with DATABASE_READ_URL set, by who answered: replica, primary_behind (the replica \
                 had not replayed the user's latest write) or primary_failed (the replica's read failed)",
            ),
            streams_open: registered(r, "event_streams_open", "Change streams (SSE) open"),
            events_sent: registered(r, "events_sent", "Change events sent on streams, by type"),
            streams_refused: registered(r, "event_streams_refused", "Change streams refused, by reason"),
            session_lookups: registered(
                r,
                "session_lookups",
                "Better Auth session lookups, by result (session, unknown, unavailable)",
            ),
            limited: registered(
                r,
                "requests_limited",
                "Requests refused with 429 by a rate limit, by reason (user_rate, auth_failures)",
            ),
            verifications: registered(
                r,
                "token_verifications",
                "Token signatures checked (tokens not already verified and cached)",
            ),
            registry,
        }
    }

    pub fn session_looked_up(&self, result: &'static str) {
        self.session_lookups.get_or_create(&vec![("result", result.to_owned())]).inc();
    }

    pub fn limited(&self, reason: &'static str) {
        self.limited.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    pub fn token_verified(&self) {
        self.verifications.inc();
    }

    pub fn stream_opened(&self) {
        self.streams_open.inc();
    }

    pub fn stream_closed(&self) {
        self.streams_open.dec();
    }

    pub fn event_sent(&self, kind: &'static str) {
        self.events_sent.get_or_create(&vec![("type", kind.to_owned())]).inc();
    }

    pub fn stream_refused(&self, reason: &'static str) {
        self.streams_refused.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    pub fn request_started(&self) {
        self.in_flight.inc();
    }

    pub fn request_ended(&self) {
        self.in_flight.dec();
    }

    pub fn request_finished(&self, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        self.latency.get_or_create(&RouteLabels { route, method }).observe(seconds);
        self.requests.get_or_create(&StatusLabels { route, method, status }).inc();
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    pub fn auth_failed(&self, reason: &'static str) {
        self.auth_failures.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    pub fn jwks_refreshed(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.jwks_refreshes.get_or_create(&vec![("result", result.to_owned())]).inc();
    }

    /// Each worker's open connections, read at scrape time.
    pub fn set_worker_connections(&self, open: &[usize]) {
        for (worker, &open) in open.iter().enumerate() {
            let labels = vec![("worker", worker.to_string())];
            self.worker_connections.get_or_create(&labels).set(i64::try_from(open).unwrap_or(i64::MAX));
        }
    }

    /// The store's read counters, read at scrape time: `(answered by, count so far)`.
    pub fn set_replica_reads(&self, reads: &[(&'static str, u64)]) {
        for &(answered_by, count) in reads {
            let counter = self.replica_reads.get_or_create(&vec![("answered_by", answered_by.to_owned())]);
            counter.inc_by(count.saturating_sub(counter.get()));
        }
    }

    /// Pool gauges are read at scrape time: `(pool name, open, idle, max)`.
    pub fn set_pools(&self, pools: &[(&'static str, u32, usize, u32)]) {
        for &(name, size, idle, max) in pools {
            let labels = vec![("pool", name.to_owned())];
            self.pool_size.get_or_create(&labels).set(i64::from(size));
            self.pool_idle.get_or_create(&labels).set(i64::try_from(idle).unwrap_or(i64::MAX));
            self.pool_max.get_or_create(&labels).set(i64::from(max));
        }
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

pub fn metrics() -> &'static Metrics {
    &METRICS
}
