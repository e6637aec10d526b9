//! A throwaway PgBouncer (Debian's `pgbouncer`, 1.18) in transaction mode on
//! loopback, in front of the test PostgreSQL: each test gets its own, and a
//! database of its own behind it (a pooler forwards no `search_path` option).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster::running_as_root;
use super::loud;
use super::process::free_port;

pub struct Bouncer {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Bouncer {
    /// `None`, with a loud skip, where pgbouncer is not installed; in CI
    /// (which installs it) that is a failure instead.
    pub fn start(upstream_port: u16) -> Option<Self> {
        Self::start_with(upstream_port, "")
    }

    /// `start`, with more `[pgbouncer]` settings (`key = value` lines).
    pub fn start_with(upstream_port: u16, more: &str) -> Option<Self> {
        let program = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(program) = program else {
            let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(!in_ci, "pgbouncer not found: CI must install the pgbouncer package");
            loud("*** SKIPPED: test through PgBouncer (pgbouncer is not installed) ***");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let path = dir.path();
        std::fs::write(path.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        let ini = format!(
            "[databases]\n* = host=127.0.0.1 port={upstream_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {dir}/users.txt\n\
             pool_mode = transaction\nmax_client_conn = 1000\ndefault_pool_size = 20\n\
             logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n{more}",
            dir = path.display()
        );
        std::fs::write(path.join("pgbouncer.ini"), ini).unwrap();
        let mut command = Command::new(program);
        if running_as_root() {
            // PgBouncer refuses to run as root; it drops to this user itself.
            Command::new("chown").args(["-R", "postgres"]).arg(path).status().unwrap();
            command.args(["-u", "postgres"]);
        }
        let child = command
            .arg(path.join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let bouncer = Self { child, _dir: dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(bouncer)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
