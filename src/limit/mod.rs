//! Rate limits: a token bucket per key (governor's GCRA), kept in a store of
//! bounded size, plus who a client is (`ClientKey`, `TrustedProxies`).

mod address;
mod store;

use std::fmt::Display;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};

pub use address::{ClientKey, PeerAddr, TrustedProxies};
use store::BoundedStore;

/// What a limit allows: `burst` requests at once, one more every `refill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: NonZeroU32,
    pub refill: Duration,
}

impl Rate {
    /// `per_window` requests every `window` on average, `burst` at once; `None` for 0 (off).
    pub fn new(per_window: u32, window: Duration, burst: u32) -> Option<Self> {
        let burst = NonZeroU32::new(burst)?;
        (per_window > 0).then(|| Self { burst, refill: window / per_window })
    }

    /// Seconds an empty bucket takes to fill again: the policy's window.
    fn window_secs(&self) -> u64 {
        (self.refill * self.burst.get()).as_secs_f64().ceil() as u64
    }
}

/// Which limit refused a request: the metric's `reason` and the policy's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A user's requests (`RATE_LIMIT_*`).
    User,
    /// A client address's failed authentications (`AUTH_FAILURES_*`).
    AuthFailures,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Self::User => "user_rate",
            Self::AuthFailures => "auth_failures",
        }
    }

    fn policy(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::AuthFailures => "auth-failures",
        }
    }
}

/// A refusal, with what the client is told (429, `Retry-After`, and the IETF
/// httpapi `RateLimit-Policy` / `RateLimit` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub reason: Reason,
    pub rate: Rate,
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        (self.retry_after.as_secs_f64().ceil() as u64).max(1)
    }

    /// `"user";q=100;w=5`: the quota and the seconds it refills in.
    pub fn policy_field(&self) -> String {
        format!("\"{}\";q={};w={}", self.reason.policy(), self.rate.burst, self.rate.window_secs())
    }

    /// `"user";r=0;t=1`: nothing remains; the next request may go in `t` seconds.
    pub fn limit_field(&self) -> String {
        format!("\"{}\";r=0;t={}", self.reason.policy(), self.retry_after_secs())
    }
}

/// A token bucket per key, for at most `capacity` keys at once.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, BoundedStore<K>, DefaultClock, StateInformationMiddleware>,
    rate: Rate,
    reason: Reason,
    /// Keys found over the limit, and until when: `refusing` answers from
    /// here without taking a token, and each limited window is logged once.
    over: quick_cache::sync::Cache<K, Instant>,
}

impl<K: Hash + Eq + Clone + Display> KeyedLimit<K> {
    pub fn new(reason: Reason, rate: Rate, capacity: usize) -> Self {
        let quota = Quota::with_period(rate.refill)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(rate.burst);
        let limiter: RateLimiter<K, _, _> =
            RateLimiter::new(quota, BoundedStore::new(capacity), DefaultClock::default());
        let limiter = limiter.with_middleware::<StateInformationMiddleware>();
        Self { limiter, rate, reason, over: quick_cache::sync::Cache::new((capacity / 8).max(64)) }
    }

    /// Takes one token from `key`'s bucket for a request, or refuses it.
    pub fn check(&self, key: &K) -> Result<(), Limited> {
        self.take(key).map(|_| ()).map_err(|wait| self.refused(wait))
    }

    /// Takes one token from `key`'s bucket, answering how many are left, or
    /// how long until there is one (and remembers that `key` is over till then).
    fn take(&self, key: &K) -> Result<u32, Duration> {
        match self.limiter.check_key(key) {
            Ok(state) => Ok(state.remaining_burst_capacity()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                let now = Instant::now();
                let logged = self.over.get(key).is_some_and(|until| until > now);
                self.over.insert(key.clone(), now + wait);
                if !logged {
                    tracing::warn!(client = %key, limit = self.reason.code(), "rate limited");
                }
                Err(wait)
            }
        }
    }

    /// Counts one event against `key` without refusing anything now; once
    /// the bucket is empty, `refusing` says so until it refills.
    pub fn count(&self, key: &K) {
        // An empty bucket is found out by one more (refused) take, which
        // tells how long until it refills.
        if self.take(key) == Ok(0) {
            let _ = self.take(key);
        }
    }

    /// Whether `key` was found over the limit and still is, without taking a token.
    pub fn refusing(&self, key: &K) -> Option<Limited> {
        let until = self.over.get(key)?;
        let wait = until.checked_duration_since(Instant::now())?;
        Some(self.refused(wait))
    }

    fn refused(&self, wait: Duration) -> Limited {
        crate::telemetry::metrics().limited(self.reason.code());
        Limited { reason: self.reason, rate: self.rate, retry_after: wait }
    }

    /// Keys holding a bucket now (bounded by the capacity).
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }
}

/// Failed authentications per client address (`AUTH_FAILURES_*`), with who
/// the client is behind `TRUSTED_PROXIES`.
pub struct FailureLimit {
    limit: KeyedLimit<ClientKey>,
    trusted: TrustedProxies,
}

impl FailureLimit {
    /// Client addresses remembered at once.
    const CLIENTS: usize = 50_000;

    pub fn new(rate: Rate, trusted: TrustedProxies) -> Self {
        Self { limit: KeyedLimit::new(Reason::AuthFailures, rate, Self::CLIENTS), trusted }
    }

    /// One authentication attempt by the client of a request that came from
    /// `peer` with `headers`, or its refusal when that client has failed too
    /// often lately (before anything it presented is looked at).
    pub fn attempt(
        &self,
        peer: Option<PeerAddr>,
        headers: &axum::http::HeaderMap,
    ) -> Result<Attempt<'_>, Limited> {
        let peer = peer.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |peer| peer.0.ip());
        let client = ClientKey::from(self.trusted.client(peer, headers));
        match self.limit.refusing(&client) {
            Some(limited) => Err(limited),
            None => Ok(Attempt { limit: self, client }),
        }
    }
}

/// An authentication attempt let through by a `FailureLimit`.
pub struct Attempt<'a> {
    limit: &'a FailureLimit,
    client: ClientKey,
}

impl Attempt<'_> {
    /// It failed: counts against its client.
    pub fn failed(&self) {
        self.limit.limit.count(&self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(burst: u32, per_second: u32) -> KeyedLimit<String> {
        KeyedLimit::new(Reason::User, Rate::new(per_second, Duration::from_secs(1), burst).unwrap(), 1000)
    }

    #[test]
    fn a_burst_then_refusals_with_the_policy() {
        let limit = limit(3, 1);
        let key = "u".to_owned();
        assert!((0..3).all(|_| limit.check(&key).is_ok()));
        let refused = limit.check(&key).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 1);
        assert_eq!(refused.policy_field(), "\"user\";q=3;w=3");
        assert_eq!(refused.limit_field(), "\"user\";r=0;t=1");
        assert!(limit.refusing(&key).is_some());
        assert!(limit.check(&"other".to_owned()).is_ok(), "another key has its own bucket");
        assert!(limit.refusing(&"other".to_owned()).is_none());
    }

    #[test]
    fn the_bucket_refills() {
        let limit = limit(1, 20);
        let key = "u".to_owned();
        assert!(limit.check(&key).is_ok());
        assert!(limit.check(&key).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limit.refusing(&key).is_none());
        assert!(limit.check(&key).is_ok());
    }

    #[test]
    fn memory_is_bounded_under_100_000_distinct_keys() {
        let limit = KeyedLimit::new(Reason::User, Rate::new(1, Duration::from_secs(60), 1).unwrap(), 10_000);
        for n in 0..100_000u32 {
            let key = format!("user-{n}");
            assert!(limit.check(&key).is_ok());
            let _ = limit.check(&key);
        }
        assert!(limit.keys() <= 11_000, "{} keys held", limit.keys());
        assert!(limit.over.len() <= 2_000, "{} refusals remembered", limit.over.len());
    }

    #[test]
    fn counting_refuses_exactly_after_the_burst() {
        let limit = limit(3, 1);
        let key = "u".to_owned();
        for _ in 0..2 {
            limit.count(&key);
            assert!(limit.refusing(&key).is_none());
        }
        limit.count(&key);
        assert!(limit.refusing(&key).is_some(), "the third of three empties the bucket");
    }

    #[test]
    fn zero_is_off() {
        assert!(Rate::new(0, Duration::from_secs(1), 100).is_none());
        assert!(Rate::new(20, Duration::from_secs(1), 0).is_none());
    }
}
