//! A PostgreSQL cluster of the test's own (initdb on a free port, loopback
//! only), for tests that kill it, restart it, or need settings the shared
//! server does not have (TLS, passwords).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::loud;
use super::process::free_port;

/// A PostgreSQL cluster of the test's own (initdb on a free port), so it can
/// be killed and restarted without touching the shared server.
pub struct ThrowawayPostgres {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// Extra `-c` settings for the server (TLS, say).
    options: String,
}

impl ThrowawayPostgres {
    /// `None`, with a loud skip, where PostgreSQL's server programs are not
    /// installed; in CI (which installs them) that is a failure instead.
    pub fn start() -> Option<Self> {
        Self::start_with(&["--auth=trust"], |_| String::new())
    }

    /// `initdb` with `initdb_args`, then `prepare` (which may write files
    /// into the cluster's directory and returns extra server settings), then start.
    pub fn start_with(initdb_args: &[&str], prepare: impl FnOnce(&Path) -> String) -> Option<Self> {
        let Some(bin) = server_programs() else {
            let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(!in_ci, "initdb/pg_ctl not found: CI must install PostgreSQL's server package");
            loud("*** SKIPPED: PostgreSQL restart test (no initdb/pg_ctl under /usr/lib/postgresql) ***");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if running_as_root() {
            run(Command::new("chown").args(["postgres", &dir.path().display().to_string()]));
        }
        let mut cluster = Self { dir, bin, port: free_port(), options: String::new() };
        run(cluster
            .pg("initdb")
            .args(["-U", "postgres", "--no-sync"])
            .args(initdb_args)
            .arg("-D")
            .arg(cluster.data()));
        cluster.options = prepare(cluster.dir.path());
        cluster.start_on_a_free_port();
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn pg(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    }

    /// The first start: a port found free can be taken by another test's
    /// server before this one binds it, so a refused start tries another.
    fn start_on_a_free_port(&mut self) {
        for _ in 0..4 {
            if self.try_start_server() {
                return;
            }
            self.port = free_port();
        }
        self.start_server();
    }

    pub fn start_server(&self) {
        assert!(
            self.try_start_server(),
            "pg_ctl start failed on port {}: see {}/log",
            self.port,
            self.dir.path().display()
        );
    }

    fn try_start_server(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off {}",
            self.port,
            self.dir.path().display(),
            self.options
        );
        let log = self.dir.path().join("log");
        let mut start = self.pg("pg_ctl");
        start.args(["-w", "-t", "30", "-o", &options, "-l"]).arg(log).arg("-D").arg(self.data()).arg("start");
        start.status().is_ok_and(|status| status.success())
    }

    /// A streaming-replication standby of this cluster (`pg_basebackup -R`),
    /// started on a port of its own.
    pub fn standby(&self) -> Self {
        self.standby_with("")
    }

    /// A standby with server settings of its own (`-c recovery_min_apply_delay=400ms`).
    pub fn standby_with(&self, options: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if running_as_root() {
            run(Command::new("chown").args(["postgres", &dir.path().display().to_string()]));
        }
        let options = format!("{} {options}", self.options);
        let mut standby = Self { dir, bin: self.bin.clone(), port: free_port(), options };
        run(self
            .pg("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-R",
                "-D",
            ])
            .arg(standby.data()));
        standby.start_on_a_free_port();
        standby
    }

    /// Ends recovery: this standby becomes a primary.
    pub fn promote(&self) {
        run(self.pg("pg_ctl").args(["-w", "-t", "30", "-D"]).arg(self.data()).arg("promote"));
    }

    /// Like a crash: no shutdown checkpoint, clients cut off mid-statement.
    pub fn kill_server(&self) {
        run(self.pg("pg_ctl").args(["-w", "-m", "immediate", "-D"]).arg(self.data()).arg("stop"));
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl").args(["-m", "immediate", "-D"]).arg(self.data()).arg("stop").status();
    }
}

fn server_programs() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent().and_then(Path::file_name).and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    versions.pop()
}

pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

pub fn run(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?}: {status}");
}
