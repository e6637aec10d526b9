//! Heap allocations per `GET /api/{user_id}/tasks/{id}`, counted in the
//! server's own process: the real app (auth, store, workers) on the database
//! `DATABASE_URL` names, driven over one keep-alive connection by a client
//! that allocates nothing per request (fixed request bytes, fixed buffer).
//!
//!   DATABASE_URL=sqlite:/tmp/a.db cargo run --release --example allocations
//!   DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --release --example allocations

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use todo_api::app::App;
use todo_api::auth::mint_hs256;
use todo_api::config::{Cli, Config};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SECRET: &str = "allocations-secret-allocations-secret-0";
const USER: &str = "alloc-user";
const REQUESTS: u64 = 20_000;

/// Sends `request` and reads one whole response into `buffer`; its status.
fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut [u8]) -> u16 {
    stream.write_all(request).unwrap();
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buffer[filled..]).unwrap();
        assert!(n > 0, "the server closed the connection");
        filled += n;
        let Some(head) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let length = content_length(&buffer[..head]);
        if filled >= head + 4 + length {
            return std::str::from_utf8(&buffer[9..12]).unwrap().parse().unwrap();
        }
    }
}

fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .find_map(|line| {
            let line = std::str::from_utf8(line).ok()?.trim();
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

fn main() {
    let cli = Cli::parse_from([
        "allocations",
        "--port",
        "0",
        "--better-auth-secret",
        SECRET,
        "--log-level",
        "warn",
    ]);
    let config = Config::from_settings(&cli.settings).expect("valid settings");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let app = runtime.block_on(App::build(config)).expect("the app starts");
    let addr = app.local_addr();
    std::thread::spawn(move || runtime.block_on(app.run_until(std::future::pending())));

    let token = mint_hs256(SECRET.as_bytes(), USER, None, Duration::from_secs(3600));
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buffer = vec![0u8; 64 * 1024];
    let body = r#"{"title":"counted","description":"a task read over and over"}"#;
    let create = format!(
        "POST /api/{USER}/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(exchange(&mut stream, create.as_bytes(), &mut buffer), 201);
    let head = &buffer[..buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap()];
    let location = std::str::from_utf8(head)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("location: "))
        .expect("a Location header")
        .to_owned();
    let get = format!("GET {location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    for _ in 0..2_000 {
        assert_eq!(exchange(&mut stream, get.as_bytes(), &mut buffer), 200);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..REQUESTS {
        assert_eq!(exchange(&mut stream, get.as_bytes(), &mut buffer), 200);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    let per_request = (after - before) as f64 / REQUESTS as f64;
    println!("{per_request:.1} allocations per GET task ({REQUESTS} requests, one keep-alive connection)");
}
