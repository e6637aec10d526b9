//! A PostgreSQL `DATABASE_URL` as libpq reads it. tokio-postgres parses most
//! of it; what it does not know is taken out first: `sslmode` beyond
//! `require` (`verify-ca`, `verify-full`), `sslrootcert`, and this service's
//! own `pooler` switch.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use tokio_postgres::config::{Host, SslMode as WireSslMode};

use super::super::error::describe;
use super::super::url_error::DatabaseUrlError;

/// libpq's `sslmode`, all five of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// TLS if the server offers it, unverified (libpq's default).
    Prefer,
    /// TLS or nothing, unverified: encrypts, but a man in the middle is not caught.
    Require,
    /// TLS with the certificate chain checked against the roots, any name.
    VerifyCa,
    /// TLS with the chain and the host name checked.
    VerifyFull,
}

/// Whether a transaction-mode pooler (PgBouncer, Neon's `-pooler` endpoint)
/// stands between us and PostgreSQL: then no session state survives between
/// transactions, so nothing may rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooler {
    /// Connected straight to PostgreSQL (or a session-mode pooler).
    None,
    /// Behind a transaction-mode pooler.
    Transaction,
}

#[derive(Debug, Clone)]
pub struct PgConfig {
    pub(super) config: tokio_postgres::Config,
    pub ssl_mode: SslMode,
    pub(super) root_cert: Option<PathBuf>,
    pub pooler: Pooler,
    /// The mode was said (`pooler=` in the URL, or `DATABASE_POOLER`), not
    /// guessed: it is never switched at runtime (see `Connector`).
    pub pooler_forced: bool,
    /// Where task reads may go instead (`DATABASE_READ_URL`).
    pub reads: Option<ReadReplicas>,
}

/// The URL's query parameters this layer reads (the rest go to tokio-postgres).
const OURS: [&str; 3] = ["sslmode", "sslrootcert", "pooler"];

impl FromStr for PgConfig {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut passed = Vec::new();
        let (mut ssl_mode, mut root_cert, mut pooler) = (SslMode::Prefer, None, None);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !OURS.contains(&key) {
                passed.push(pair);
                continue;
            }
            let value = percent_decode_str(value).decode_utf8().map_err(|_| invalid("not UTF-8"))?;
            match key {
                "sslmode" => ssl_mode = parse_ssl_mode(&value)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                _ => pooler = Some(parse_pooler(&value)?),
            }
        }
        let rest = if passed.is_empty() { base.to_owned() } else { format!("{base}?{}", passed.join("&")) };
        let mut config =
            tokio_postgres::Config::from_str(&rest).map_err(|error| invalid(&describe(&error)))?;
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            _ => WireSslMode::Require,
        });
        // `system` is libpq's word for the platform's roots; ours are Mozilla's.
        let root_cert = root_cert.filter(|path| path.as_os_str() != "system");
        let pooler_forced = pooler.is_some();
        let pooler = pooler.unwrap_or_else(|| detect_pooler(&config));
        Ok(Self { config, ssl_mode, root_cert, pooler, pooler_forced, reads: None })
    }
}

impl PgConfig {
    /// Engine, user, host, port and database: never the password or parameters.
    pub fn display(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".into(),
        };
        format!(
            "postgres://{}@{}:{}/{}",
            self.config.get_user().unwrap_or(""),
            host,
            self.config.get_ports().first().copied().unwrap_or(5432),
            self.config.get_dbname().unwrap_or("")
        )
    }

    /// Forces the pooler mode (the `DATABASE_POOLER` setting), whatever the URL says.
    pub fn set_pooler(&mut self, pooler: Pooler) {
        self.pooler = pooler;
        self.pooler_forced = true;
    }
}

/// `DATABASE_READ_URL`, one configuration per host it lists, and the lag bound.
#[derive(Debug, Clone)]
pub struct ReadReplicas {
    pub hosts: Vec<PgConfig>,
    pub max_lag: Duration,
}

impl ReadReplicas {
    /// A libpq URL that may list several hosts (`h1:5432,h2:5432`): each is
    /// read from in turn, rather than only the first that answers.
    pub fn parse(url: &str, max_lag: Duration) -> Result<Self, DatabaseUrlError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DatabaseUrlError::Invalid {
                engine: "PostgreSQL",
                reason: "it must start with postgres:// or postgresql://".into(),
            });
        }
        let hosts = one_url_per_host(url).iter().map(|url| url.parse()).collect::<Result<_, _>>()?;
        Ok(Self { hosts, max_lag })
    }
}

/// `scheme://user@h1:p1,h2:p2/db?q` as `scheme://user@h1:p1/db?q` and
/// `scheme://user@h2:p2/db?q`. Written by hand: tokio-postgres keeps a
/// multi-host URL as one configuration that connects to the first host up.
fn one_url_per_host(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else { return vec![url.to_owned()] };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (userinfo, hosts) = authority.split_at(authority.rfind('@').map_or(0, |at| at + 1));
    hosts.split(',').map(|host| format!("{scheme}://{userinfo}{host}{tail}")).collect()
}

/// Transaction-mode poolers known by their host names: Neon's PgBouncer
/// endpoints `<endpoint>-pooler.<region>...`, and Supabase's pooler
/// `aws-0-<region>.pooler.supabase.com` on port 6543 (its port 5432 is
/// session mode, where prepared statements hold). Any other pooler is found
/// out at runtime (see `Connector`).
fn detect_pooler(config: &tokio_postgres::Config) -> Pooler {
    let ports = config.get_ports();
    let pooled = config.get_hosts().iter().enumerate().any(|(at, host)| match host {
        Host::Tcp(name) => {
            let port = ports.get(at).or(ports.first()).copied().unwrap_or(5432);
            let neon = name.split('.').next().is_some_and(|label| label.ends_with("-pooler"));
            let supabase = name.to_ascii_lowercase().ends_with(".pooler.supabase.com") && port == 6543;
            neon || supabase
        }
        Host::Unix(_) => false,
    });
    if pooled { Pooler::Transaction } else { Pooler::None }
}

fn parse_ssl_mode(value: &str) -> Result<SslMode, DatabaseUrlError> {
    Ok(match value {
        "disable" => SslMode::Disable,
        // libpq's `allow` tries plain text first; TLS when offered is no worse.
        "allow" | "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => return Err(invalid("sslmode must be disable, prefer, require, verify-ca or verify-full")),
    })
}

pub fn parse_pooler(value: &str) -> Result<Pooler, DatabaseUrlError> {
    match value {
        "none" | "off" | "false" => Ok(Pooler::None),
        "transaction" | "on" | "true" => Ok(Pooler::Transaction),
        _ => Err(invalid("pooler must be none or transaction")),
    }
}

fn invalid(reason: &str) -> DatabaseUrlError {
    DatabaseUrlError::Invalid { engine: "PostgreSQL", reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::ChannelBinding;

    #[test]
    fn neon_urls_keep_tls_and_channel_binding() {
        let url = "postgresql://alex:secret@ep-cool-1.eu-central-1.aws.neon.tech/neondb\
                   ?sslmode=require&channel_binding=require";
        let config: PgConfig = url.parse().unwrap();
        assert_eq!(config.ssl_mode, SslMode::Require);
        assert_eq!(config.config.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(config.config.get_dbname(), Some("neondb"));
        assert_eq!(config.pooler, Pooler::None);
        assert_eq!(config.display(), "postgres://alex@ep-cool-1.eu-central-1.aws.neon.tech:5432/neondb");
    }

    #[test]
    fn neon_pooled_hosts_are_detected_and_the_setting_wins() {
        let url = "postgresql://a:b@ep-cool-1-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require";
        assert_eq!(url.parse::<PgConfig>().unwrap().pooler, Pooler::Transaction);
        let forced: PgConfig = format!("{url}&pooler=none").parse().unwrap();
        assert_eq!(forced.pooler, Pooler::None);
        let local: PgConfig = "postgres://u@127.0.0.1:6432/db?pooler=transaction".parse().unwrap();
        assert_eq!((local.pooler, local.pooler_forced), (Pooler::Transaction, true));
        let guessed: PgConfig = "postgres://u@127.0.0.1:6432/db".parse().unwrap();
        assert_eq!((guessed.pooler, guessed.pooler_forced), (Pooler::None, false));
        let supabase = "postgres://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com";
        let transaction: PgConfig = format!("{supabase}:6543/postgres").parse().unwrap();
        assert_eq!(transaction.pooler, Pooler::Transaction);
        let session: PgConfig = format!("{supabase}:5432/postgres").parse().unwrap();
        assert_eq!(session.pooler, Pooler::None, "Supabase's session mode keeps prepared statements");
    }

    #[test]
    fn each_host_gets_its_own_url_with_the_rest_kept() {
        assert_eq!(
            one_url_per_host("postgres://u:p@r1:5433,r2/db?sslmode=require"),
            ["postgres://u:p@r1:5433/db?sslmode=require", "postgres://u:p@r2/db?sslmode=require"]
        );
        assert_eq!(one_url_per_host("postgresql://r1?x=1"), ["postgresql://r1?x=1"]);
        assert_eq!(one_url_per_host("postgres://[::1]:5433/db"), ["postgres://[::1]:5433/db"]);
        let parsed = ReadReplicas::parse("postgres://u@r1:5433,r2:5434/db", Duration::from_secs(1)).unwrap();
        let hosts: Vec<_> = parsed.hosts.iter().map(PgConfig::display).collect();
        assert_eq!(hosts, ["postgres://u@r1:5433/db", "postgres://u@r2:5434/db"]);
        assert!(ReadReplicas::parse("sqlite:x.db", Duration::ZERO).is_err());
        assert!(ReadReplicas::parse("postgres://u@r1:port/db", Duration::ZERO).is_err());
    }

    #[test]
    fn every_libpq_sslmode_is_understood() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let config: PgConfig =
                format!("postgres://h/d?sslmode={text}&sslrootcert=/r.pem").parse().unwrap();
            assert_eq!(config.ssl_mode, mode);
            assert_eq!(config.root_cert.as_deref(), Some(std::path::Path::new("/r.pem")));
        }
        let bad = "postgres://h/d?sslmode=maybe".parse::<PgConfig>().unwrap_err();
        assert!(bad.to_string().contains("sslmode must be"), "{bad}");
    }

    #[test]
    fn bad_urls_name_the_problem_not_the_password() {
        let error = "postgres://u:hunter2@host:notaport/db".parse::<PgConfig>().unwrap_err().to_string();
        assert!(error.starts_with("DATABASE_URL is not a valid PostgreSQL URL"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
