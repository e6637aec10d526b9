//! Early answers (401, 403, 413 before the body is read) reach the client
//! whole: the server reads and discards the rest of the body before answering,
//! so the client's writes never fail and the connection stays usable; and
//! behind a real nginx (default `max_fails`), no such answer becomes a 502.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::{Engine, loud, spawn_app, token};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug)]
enum Case {
    NoToken,
    OtherUsersPath,
    OverTheLimit,
}

impl Case {
    fn expected(self) -> u16 {
        match self {
            Self::NoToken => 401,
            Self::OtherUsersPath => 403,
            Self::OverTheLimit => 413,
        }
    }
}

/// A POST of `size` bytes sent in 4 KiB pieces, the way a client uploads.
fn head(case: Case, size: usize) -> String {
    let auth = match case {
        Case::NoToken => String::new(),
        Case::OtherUsersPath => format!("Authorization: Bearer {}\r\n", token("mallory")),
        Case::OverTheLimit => format!("Authorization: Bearer {}\r\n", token("alice")),
    };
    format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: t\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {size}\r\n\r\n"
    )
}

fn body(size: usize) -> Vec<u8> {
    let mut body = format!("{{\"title\": \"t\", \"description\": \"{}", "x".repeat(size)).into_bytes();
    body.truncate(size - 2);
    body.extend_from_slice(b"\"}");
    body
}

/// One response: status, headers (lowercased) and body, read by Content-Length.
async fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.expect("reading the answer");
        assert!(n > 0, "connection closed before a complete answer: {head}");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.expect("reading the answer's body");
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// Sends one early-answered POST and then a GET on the same connection: every
/// write must succeed, the answer must be the server's, and the connection
/// must still serve the next request.
async fn early_answer_then_keep_alive(addr: SocketAddr, case: Case, size: usize) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(head(case, size).as_bytes()).await.unwrap();
    for piece in body(size).chunks(4096) {
        if let Err(error) = reader.get_mut().write_all(piece).await {
            panic!("{case:?} {size} B: a write failed ({error}) after an early answer");
        }
    }
    let (status, _, detail) = read_response(&mut reader).await;
    assert_eq!(status, case.expected(), "{case:?} {size} B: {detail}");
    assert!(detail.contains("\"detail\""), "the server's own body: {detail}");
    reader.get_mut().write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let (status, _, _) = read_response(&mut reader).await;
    assert_eq!(status, 200, "{case:?} {size} B: the connection is still usable");
}

each_engine! {
    async fn early_answers_reach_the_client_whole_and_keep_the_connection(engine: Engine) {
        let Some(app) = spawn_app(engine).await else { return };
        let addr = app.addr();
        let mut cases = Vec::new();
        for size in [20_000, 70_000, 200_000] {
            cases.push((Case::NoToken, size));
            cases.push((Case::OtherUsersPath, size));
            if size > 64 * 1024 {
                cases.push((Case::OverTheLimit, size));
            }
        }
        let runs = cases.into_iter().map(|(case, size)| {
            tokio::spawn(async move {
                for _ in 0..100 {
                    early_answer_then_keep_alive(addr, case, size).await;
                }
            })
        });
        for run in futures::future::join_all(runs).await {
            run.unwrap();
        }
        let tasks = app.list("alice", "").await;
        assert_eq!(tasks.json, serde_json::json!([]), "nothing was written");
    }
}

/// A throwaway nginx (Debian's package) on loopback, balancing two upstreams
/// with its defaults (`max_fails=1`, `fail_timeout=10s`, request buffering).
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    fn start(upstreams: &[SocketAddr]) -> Option<Self> {
        let program = Path::new("/usr/sbin/nginx");
        if !program.exists() {
            let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(!in_ci, "nginx not found: CI must install the nginx package");
            loud("*** SKIPPED: early answers behind nginx (nginx is not installed) ***");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = common::process::free_port();
        let servers: String = upstreams.iter().map(|a| format!("server {a};\n")).collect();
        let path = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {path}/nginx.pid;\nerror_log {path}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n access_log off;\n client_body_temp_path {path}/body;\n proxy_temp_path {path}/proxy;\n\
             fastcgi_temp_path {path}/fcgi;\n uwsgi_temp_path {path}/uwsgi;\n scgi_temp_path {path}/scgi;\n\
             upstream api {{\n{servers}}}\n\
             server {{\n listen 127.0.0.1:{port};\n location / {{ proxy_pass http://api; }}\n }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new(program)
            .args(["-p", &path.to_string(), "-e", &format!("{path}/error.log"), "-c"])
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::process::wait_until_listening(port);
        Some(Self { child, _dir: dir, port })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

each_engine! {
    async fn behind_nginx_early_answers_are_never_502(engine: Engine) {
        let Some(a) = spawn_app(engine).await else { return };
        let Some(b) = spawn_app(engine).await else { return };
        let Some(nginx) = Nginx::start(&[a.addr(), b.addr()]) else { return };
        let proxy: SocketAddr = ([127, 0, 0, 1], nginx.port).into();
        let started = Instant::now();
        let mut seen = std::collections::BTreeMap::new();
        for n in 0..100 {
            let case = [Case::NoToken, Case::OtherUsersPath, Case::OverTheLimit][n % 3];
            let size = if matches!(case, Case::OverTheLimit) { 70_000 } else { [20_000, 70_000][n % 2] };
            let mut stream = TcpStream::connect(proxy).await.unwrap();
            let head = head(case, size).replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            for piece in body(size).chunks(4096) {
                stream.write_all(piece).await.unwrap();
            }
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            let status: u16 = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            assert_eq!(status, case.expected(), "request {n} ({case:?}, {size} B): {answer}");
            assert!(answer.contains("\"detail\""), "the server's answer, not nginx's: {answer}");
            *seen.entry(status).or_insert(0) += 1;
        }
        for _ in 0..10 {
            let (status, body) = common::raw_http(proxy, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
            assert_eq!(status, 200, "both instances still in rotation: {body}");
        }
        loud(&format!("behind nginx: 100 early answers {seen:?}, then /health 200 x10, in {:?}", started.elapsed()));
    }
}
