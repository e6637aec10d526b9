//! Verifying keys, each pinned to exactly one algorithm: a token is checked only
//! with a key whose algorithm equals the token's `alg`, so no key can be used
//! under another algorithm (no key confusion).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use p521::ecdsa::signature::Verifier as _;
use serde::Deserialize;

/// The algorithms this service verifies. `HS256` only with the shared secret;
/// the rest only with keys from a JWKS (Better Auth's choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Hs256,
    EdDsa,
    Es256,
    Es512,
    Rs256,
    Ps256,
}

impl Alg {
    /// The JOSE name; anything not listed (including `none`) is no algorithm of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "HS256" => Self::Hs256,
            "EdDSA" => Self::EdDsa,
            "ES256" => Self::Es256,
            "ES512" => Self::Es512,
            "RS256" => Self::Rs256,
            "PS256" => Self::Ps256,
            _ => return None,
        })
    }
}

pub enum VerifyingKey {
    /// Verified by jsonwebtoken's RustCrypto backend.
    Jwt { key: DecodingKey, alg: Algorithm, pinned: Alg },
    /// P-521 / SHA-512, verified with the `p521` crate.
    Es512(p521::ecdsa::VerifyingKey),
}

impl VerifyingKey {
    pub fn hs256(secret: &[u8]) -> Self {
        Self::Jwt { key: DecodingKey::from_secret(secret), alg: Algorithm::HS256, pinned: Alg::Hs256 }
    }

    pub fn alg(&self) -> Alg {
        match self {
            Self::Jwt { pinned, .. } => *pinned,
            Self::Es512(_) => Alg::Es512,
        }
    }

    /// Does `signature` (base64url) sign `signing_input` under this key?
    pub fn verify(&self, signing_input: &str, signature: &str) -> bool {
        match self {
            Self::Jwt { key, alg, .. } => {
                jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), key, *alg).unwrap_or(false)
            }
            Self::Es512(key) => {
                let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else { return false };
                // JWS carries the raw r || s (RFC 7518 §3.4), 66 bytes each.
                let Ok(signature) = p521::ecdsa::Signature::from_slice(&bytes) else { return false };
                key.verify(signing_input.as_bytes(), &signature).is_ok()
            }
        }
    }
}

/// One entry of a JWK Set, as far as verification cares.
#[derive(Debug, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("key is not for signatures")]
    NotForSignatures,
    #[error("unsupported key type or curve")]
    Unsupported,
    #[error("the key's alg does not fit its type")]
    AlgMismatch,
    #[error("key material is missing or invalid")]
    Invalid,
}

fn part(value: &Option<String>) -> Result<&str, JwkError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or(JwkError::Invalid)
}

impl Jwk {
    /// The algorithm this key is for: its `alg` when given (it must fit the key
    /// type), else the one its type and curve imply (RSA without `alg`: RS256).
    fn pinned_alg(&self) -> Result<Alg, JwkError> {
        let implied = match (self.kty.as_str(), self.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => vec![Alg::EdDsa],
            ("EC", Some("P-256")) => vec![Alg::Es256],
            ("EC", Some("P-521")) => vec![Alg::Es512],
            ("RSA", _) => vec![Alg::Rs256, Alg::Ps256],
            _ => return Err(JwkError::Unsupported),
        };
        match self.alg.as_deref() {
            None => Ok(implied[0]),
            // RFC 9864 names the Ed25519 algorithm itself.
            Some("Ed25519") if implied == [Alg::EdDsa] => Ok(Alg::EdDsa),
            Some(name) => {
                Alg::from_name(name).filter(|alg| implied.contains(alg)).ok_or(JwkError::AlgMismatch)
            }
        }
    }

    pub fn to_key(&self) -> Result<VerifyingKey, JwkError> {
        if self.usage.as_deref().is_some_and(|usage| usage != "sig") {
            return Err(JwkError::NotForSignatures);
        }
        let pinned = self.pinned_alg()?;
        let jwt = |key: Result<DecodingKey, _>, alg| {
            key.map(|key| VerifyingKey::Jwt { key, alg, pinned }).map_err(|_| JwkError::Invalid)
        };
        match pinned {
            Alg::EdDsa => jwt(DecodingKey::from_ed_components(part(&self.x)?), Algorithm::EdDSA),
            Alg::Es256 => {
                jwt(DecodingKey::from_ec_components(part(&self.x)?, part(&self.y)?), Algorithm::ES256)
            }
            Alg::Rs256 => {
                jwt(DecodingKey::from_rsa_components(part(&self.n)?, part(&self.e)?), Algorithm::RS256)
            }
            Alg::Ps256 => {
                jwt(DecodingKey::from_rsa_components(part(&self.n)?, part(&self.e)?), Algorithm::PS256)
            }
            Alg::Es512 => {
                let x = URL_SAFE_NO_PAD.decode(part(&self.x)?).map_err(|_| JwkError::Invalid)?;
                let y = URL_SAFE_NO_PAD.decode(part(&self.y)?).map_err(|_| JwkError::Invalid)?;
                if x.len() != 66 || y.len() != 66 {
                    return Err(JwkError::Invalid);
                }
                let point = [&[0x04][..], &x, &y].concat();
                p521::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map(VerifyingKey::Es512)
                    .map_err(|_| JwkError::Invalid)
            }
            Alg::Hs256 => Err(JwkError::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(json: &str) -> Jwk {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn algorithms_are_pinned_from_the_key() {
        assert_eq!(jwk(r#"{"kty":"OKP","crv":"Ed25519","x":"a"}"#).pinned_alg(), Ok(Alg::EdDsa));
        assert_eq!(jwk(r#"{"kty":"EC","crv":"P-521"}"#).pinned_alg(), Ok(Alg::Es512));
        assert_eq!(jwk(r#"{"kty":"RSA"}"#).pinned_alg(), Ok(Alg::Rs256));
        assert_eq!(jwk(r#"{"kty":"RSA","alg":"PS256"}"#).pinned_alg(), Ok(Alg::Ps256));
        assert_eq!(jwk(r#"{"kty":"RSA","alg":"ES256"}"#).pinned_alg(), Err(JwkError::AlgMismatch));
        assert_eq!(
            jwk(r#"{"kty":"EC","crv":"P-256","alg":"HS256"}"#).pinned_alg(),
            Err(JwkError::AlgMismatch)
        );
        assert_eq!(jwk(r#"{"kty":"oct","k":"c2VjcmV0"}"#).pinned_alg(), Err(JwkError::Unsupported));
        assert_eq!(jwk(r#"{"kty":"EC","crv":"P-384"}"#).pinned_alg(), Err(JwkError::Unsupported));
    }

    #[test]
    fn encryption_keys_and_broken_material_are_refused() {
        let enc = jwk(r#"{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}"#);
        assert!(matches!(enc.to_key(), Err(JwkError::NotForSignatures)));
        let short = jwk(r#"{"kty":"EC","crv":"P-521","x":"AAAA","y":"AAAA"}"#);
        assert!(matches!(short.to_key(), Err(JwkError::Invalid)));
        let empty = jwk(r#"{"kty":"OKP","crv":"Ed25519","x":""}"#);
        assert!(matches!(empty.to_key(), Err(JwkError::Invalid)));
    }
}
