//! The authentication settings after checking: which verifiers are on, with
//! what claim rules, and Better Auth session lookups.

use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, Settings};
use crate::auth::{ClaimRules, JwksSource, SessionSettings};

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
    settings: &Settings,
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
