//! What the per-user rate limiter costs one request, without the noise of a
//! whole HTTP benchmark: nanoseconds per `check` on the limiter the server
//! builds (the defaults' rate, 50,000 keys at most), with the benchmark's 50
//! users from one and from two threads, and with 100,000 distinct users
//! churning through the bounded store.
//!
//!   cargo run --release --example limiter

use std::sync::Arc;
use std::time::{Duration, Instant};

use todo_api::limit::{KeyedLimit, Rate, Reason};

const CHECKS: usize = 4_000_000;

fn limiter() -> Arc<KeyedLimit<String>> {
    // A rate nobody reaches, so every check does its whole work and refuses nothing.
    let rate = Rate::new(1_000_000, Duration::from_secs(1), 1_000_000).expect("a nonzero rate");
    Arc::new(KeyedLimit::new(Reason::User, rate, 50_000))
}

fn per_check(users: usize, threads: usize) -> f64 {
    let limit = limiter();
    let keys: Arc<Vec<String>> = Arc::new((0..users).map(|u| (100_000 + u).to_string()).collect());
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (limit, keys) = (Arc::clone(&limit), Arc::clone(&keys));
            std::thread::spawn(move || {
                for i in 0..CHECKS / threads {
                    let key = &keys[(i * 7 + t) % keys.len()];
                    assert!(limit.check(key).is_ok(), "a rate nobody reaches refused a check");
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|worker| worker.join().expect("worker"));
    // Wall time over all checks: with two threads on two cores, the cost per
    // check as the server's throughput sees it.
    started.elapsed().as_nanos() as f64 / CHECKS as f64
}

fn main() {
    for (users, threads) in [(50, 1), (50, 2), (100_000, 1), (100_000, 2)] {
        println!("{users:>7} users, {threads} thread(s): {:.0} ns per check", per_check(users, threads));
    }
}
