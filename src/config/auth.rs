//! The authentication settings as given (`AuthSettings`) and after checking
//! (`AuthConfig`): which verifiers are on, with what claim rules, and Better Auth
//! session lookups.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use super::ConfigError;
use crate::auth::{ClaimRules, JwksSource, SessionSettings};

/// How tokens are verified: HS256, Better Auth's JWKS, or its session tokens.
#[derive(Debug, Clone, Args)]
pub struct AuthSettings {
    /// Shared secret for HS256 tokens (at least 32 bytes), as set in Better Auth.
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true, value_parser = secret, global = true)]
    pub better_auth_secret: Option<SecretString>,

    /// Base URL of the Better Auth server, e.g. https://app.example.com: enables
    /// JWKS verification with keys from {URL}/api/auth/jwks, and expects `iss`
    /// and `aud` to be its origin.
    #[arg(long, env = "BETTER_AUTH_URL", global = true)]
    pub better_auth_url: Option<String>,

    /// Also accept Better Auth session tokens (its bearer() plugin): a bearer
    /// value that is not a JWT is looked up at {BETTER_AUTH_URL}/api/auth/get-session.
    #[arg(long, env = "BETTER_AUTH_SESSIONS", default_value_t = false, action = clap::ArgAction::Set,
          global = true)]
    pub better_auth_sessions: bool,

    /// Seconds a session lookup is remembered (never past the session's expiry):
    /// a sign-out takes effect within this.
    #[arg(long, env = "BETTER_AUTH_SESSION_TTL_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub better_auth_session_ttl_seconds: u64,

    /// Most session lookups in flight at once; more are refused with 429.
    #[arg(long, env = "BETTER_AUTH_SESSION_LOOKUPS", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=1000), global = true)]
    pub better_auth_session_lookups: u64,

    /// Where to fetch the JWKS instead of {BETTER_AUTH_URL}/api/auth/jwks.
    #[arg(long, env = "JWKS_URL", global = true)]
    pub jwks_url: Option<String>,

    /// A JWK Set file to use instead of fetching one (air-gapped setups, tests).
    #[arg(long, env = "JWKS_FILE", global = true)]
    pub jwks_file: Option<PathBuf>,

    /// Accepted `iss` values, comma-separated (default: BETTER_AUTH_URL's origin,
    /// for JWKS tokens). When set, HS256 tokens must match too.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,

    /// Accepted `aud` values, comma-separated (default: BETTER_AUTH_URL's origin,
    /// for JWKS tokens). When set, HS256 tokens must match too.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,

    /// Seconds between background JWKS refreshes.
    #[arg(long, env = "JWKS_REFRESH_SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(10..=86_400), global = true)]
    pub jwks_refresh_seconds: u64,

    /// Least seconds between JWKS refetches triggered by an unknown key id.
    #[arg(long, env = "JWKS_MIN_REFETCH_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub jwks_min_refetch_seconds: u64,

    /// Clock skew allowed when checking `exp` and `nbf`, in seconds (0-60).
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=60), global = true)]
    pub jwt_leeway_seconds: u64,
}

/// Secrets go straight into a wrapper that cannot be printed, even by `{:?}`.
fn secret(value: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(value))
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub hs256_secret: Option<SecretString>,
    /// Better Auth session tokens (`BETTER_AUTH_SESSIONS`).
    pub sessions: Option<SessionSettings>,
    /// Claim rules for HS256 tokens (issuer and audience only when set explicitly).
    pub hs256_rules: ClaimRules,
    pub jwks: Option<JwksConfig>,
}

#[derive(Debug, Clone)]
pub struct JwksConfig {
    pub source: JwksSource,
    /// Claim rules for JWKS tokens (issuer and audience default to Better Auth's origin).
    pub rules: ClaimRules,
    pub refresh: Duration,
    pub min_refetch: Duration,
}

impl AuthConfig {
    pub fn is_configured(&self) -> bool {
        self.hs256_secret.is_some() || self.jwks.is_some() || self.sessions.is_some()
    }

    /// For logs: which verifiers are on.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.hs256_secret.is_some() {
            parts.push("hs256".to_owned());
        }
        if let Some(jwks) = &self.jwks {
            parts.push(format!("jwks({})", jwks.source));
        }
        if let Some(sessions) = &self.sessions {
            parts.push(format!("sessions({})", sessions.endpoint));
        }
        if parts.is_empty() { "none".into() } else { parts.join("+") }
    }
}

pub(super) fn auth_config(
    settings: &AuthSettings,
    hs256_secret: Option<SecretString>,
) -> Result<AuthConfig, ConfigError> {
    let leeway = settings.jwt_leeway_seconds;
    let issuers = list(settings.jwt_issuer.as_deref());
    let audiences = list(settings.jwt_audience.as_deref());
    let hs256_rules = ClaimRules { leeway, issuers: issuers.clone(), audiences: audiences.clone() };

    let better_auth =
        settings.better_auth_url.as_deref().map(|url| http_url(url, "BETTER_AUTH_URL")).transpose()?;
    let source = match (&settings.jwks_url, &settings.jwks_file, &better_auth) {
        (Some(_), Some(_), _) => return Err(ConfigError::TwoJwksSources),
        (Some(url), None, _) => Some(JwksSource::Url(http_url(url, "JWKS_URL")?)),
        (None, Some(path), _) => Some(JwksSource::File(path.clone())),
        (None, None, Some(base)) => {
            let jwks = format!("{}/api/auth/jwks", base.as_str().trim_end_matches('/'));
            Some(JwksSource::Url(http_url(&jwks, "BETTER_AUTH_URL")?))
        }
        (None, None, None) => None,
    };
    // Better Auth sets both `iss` and `aud` to the origin of its base URL.
    let origin = better_auth.as_ref().map(|url| vec![url.origin().ascii_serialization()]);
    let jwks = source.map(|source| JwksConfig {
        source,
        rules: ClaimRules { leeway, issuers: issuers.or(origin.clone()), audiences: audiences.or(origin) },
        refresh: Duration::from_secs(settings.jwks_refresh_seconds),
        min_refetch: Duration::from_secs(settings.jwks_min_refetch_seconds),
    });
    let sessions = match (settings.better_auth_sessions, &better_auth) {
        (false, _) => None,
        (true, None) => return Err(ConfigError::SessionsNeedUrl),
        (true, Some(base)) => Some(SessionSettings {
            endpoint: http_url(
                &format!("{}/api/auth/get-session", base.as_str().trim_end_matches('/')),
                "BETTER_AUTH_URL",
            )?,
            ttl: Duration::from_secs(settings.better_auth_session_ttl_seconds),
            max_lookups: settings.better_auth_session_lookups as usize,
        }),
    };
    Ok(AuthConfig { hs256_secret, hs256_rules, jwks, sessions })
}

fn list(value: Option<&str>) -> Option<Vec<String>> {
    let items: Vec<String> =
        value?.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect();
    (!items.is_empty()).then_some(items)
}

fn http_url(value: &str, setting: &'static str) -> Result<reqwest::Url, ConfigError> {
    reqwest::Url::parse(value)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or(ConfigError::BadUrl(setting))
}
