//! TLS and SCRAM against a throwaway cluster of the test's own (`ssl=on`, a
//! certificate from a CA made here, `scram-sha-256` for TCP in pg_hba): each
//! `sslmode` means what it means to libpq, and `channel_binding=require`
//! really requires SCRAM-SHA-256-PLUS.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cluster::{ThrowawayPostgres, run, running_as_root};
use todo_api::store::Lifecycle;
use todo_api::store::{PoolSettings, Store};

const PASSWORD: &str = "tls-test-password";

/// A CA, and a server certificate it signs for `localhost` only.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(dir).args(args).stdout(Stdio::null()).stderr(Stdio::null()))
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=todo-api test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.join("ext.cnf"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    if running_as_root() {
        run(Command::new("chown").args(["postgres", "server.key", "server.crt"]).current_dir(dir));
    }
    run(Command::new("chmod").args(["600", "server.key"]).current_dir(dir));
}

fn tls_cluster() -> Option<ThrowawayPostgres> {
    let scratch = tempfile::tempdir().unwrap();
    let pwfile = scratch.path().join("pw");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    if running_as_root() {
        run(Command::new("chown").args(["-R", "postgres"]).arg(scratch.path()));
    }
    let pwfile_arg = format!("--pwfile={}", pwfile.display());
    ThrowawayPostgres::start_with(&["--auth-local=trust", "--auth-host=scram-sha-256", &pwfile_arg], |dir| {
        certificates(dir);
        format!("-c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key", dir.display())
    })
}

async fn connect(url: &str) -> Result<Store, String> {
    let settings = PoolSettings { max_connections: 1, statement_timeout: Duration::from_secs(5), workers: 0 };
    let config = url.parse().map_err(|e| format!("{e}"))?;
    let store = Store::connect_migrated(&config, settings).await.map_err(|e| e.to_string())?;
    store.ping().await.map_err(|e| e.to_string())?;
    Ok(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmodes_and_channel_binding_mean_what_libpq_means() {
    let Some(pg) = tls_cluster() else { return };
    let ca = pg.dir.path().join("ca.crt").display().to_string();
    let at = |host: &str, query: &str| {
        format!("postgres://postgres:{PASSWORD}@{host}:{}/postgres?{query}", pg.port)
    };

    // Encrypted and bound to the TLS session: SCRAM-SHA-256-PLUS.
    connect(&at("localhost", "sslmode=require&channel_binding=require")).await.expect("PLUS over TLS");
    // Without TLS there is nothing to bind to: refused by the client, clearly.
    let plain = connect(&at("localhost", "sslmode=disable&channel_binding=require")).await.unwrap_err();
    assert!(plain.contains("channel binding"), "{plain}");
    // Without the requirement, plain SCRAM over plain TCP still works.
    connect(&at("localhost", "sslmode=disable")).await.expect("plain SCRAM");
    let wrong = connect(&at("localhost", "sslmode=require").replace(PASSWORD, "wrong")).await.unwrap_err();
    assert!(wrong.contains("password authentication failed"), "{wrong}");

    // verify-full: chain and name. The certificate names localhost, not 127.0.0.1.
    connect(&at("localhost", &format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require")))
        .await
        .expect("verified chain and name");
    let by_ip =
        connect(&at("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"))).await.unwrap_err();
    assert!(by_ip.contains("TLS"), "{by_ip}");
    // verify-ca: the chain only, so the address is fine.
    connect(&at("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await.expect("verified chain");
    // Against the Mozilla roots our CA is unknown: refused even by verify-ca.
    let unknown = connect(&at("localhost", "sslmode=verify-ca")).await.unwrap_err();
    assert!(unknown.contains("TLS"), "{unknown}");
    // require does not verify: an unknown CA and a wrong name still encrypt.
    connect(&at("127.0.0.1", "sslmode=require")).await.expect("encrypted, unverified");
    // A root file that is not there stops startup with its name.
    let missing =
        connect(&at("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/root.crt")).await.unwrap_err();
    assert!(missing.contains("/nonexistent/root.crt"), "{missing}");
}
