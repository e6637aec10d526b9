//! The real binary as a child process, for tests about signals and crashes.

use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `todo-api` with exactly `env` (and PATH): nothing leaks in from the test's
/// environment. Rate limits and the drain are off unless `env` sets them: the
/// load these tests make is no frontend's, and most stop the server at once.
pub fn binary(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_todo-api"));
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, off) in
        [("RATE_LIMIT_PER_SECOND", "0"), ("AUTH_FAILURES_PER_MINUTE", "0"), ("DRAIN_SECONDS", "0")]
    {
        command.env(key, off);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// The server on `port` with `env` (its output discarded), once it accepts.
pub fn serve_on(port: u16, env: &[(&str, &str)]) -> Child {
    let port_text = port.to_string();
    let child = binary(env)
        .env("PORT", &port_text)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the todo-api binary starts");
    wait_until_listening(port);
    child
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts on `port`. A connect to a port nobody
/// listens on can succeed by connecting to itself (Linux picks the same port
/// as the source from the ephemeral range: TCP simultaneous open), so a
/// connection whose two ends are the same port does not count.
pub fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let accepted = || {
        TcpStream::connect(("127.0.0.1", port))
            .is_ok_and(|s| s.local_addr().is_ok_and(|local| local.port() != port))
    };
    while !accepted() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
}

pub fn sigterm(child: &Child) {
    signal(child, "TERM");
}

/// The child's exit status, or a failed test if it takes longer than `bound`.
pub fn wait_for_exit(child: &mut Child, bound: Duration) -> ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("did not exit within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
