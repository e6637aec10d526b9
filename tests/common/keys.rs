//! Key pairs of every algorithm Better Auth can use, generated per test run,
//! their public JWKs, and a local JWKS server the tests can rotate or take down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey};
use rand_core::OsRng;
use serde_json::{Value, json};

pub enum Private {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::SecretKey),
    P521(p521::ecdsa::SigningKey),
    Rsa { key: Box<rsa::RsaPrivateKey>, pss: bool },
}

pub struct TestKey {
    pub kid: String,
    pub alg: &'static str,
    pub private: Private,
}

impl TestKey {
    pub fn generate(alg: &'static str, kid: &str) -> Self {
        let private = match alg {
            "EdDSA" => Private::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng)),
            "ES256" => Private::P256(p256::SecretKey::random(&mut OsRng)),
            "ES512" => Private::P521(p521::ecdsa::SigningKey::random(&mut OsRng)),
            "RS256" | "PS256" => Private::Rsa {
                key: Box::new(rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()),
                pss: alg == "PS256",
            },
            other => panic!("no test key for {other}"),
        };
        Self { kid: kid.to_owned(), alg, private }
    }

    /// The public JWK as Better Auth publishes it (`alg` and `kid`, no `use`).
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.private {
            Private::Ed25519(key) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(key.verifying_key().to_bytes())})
            }
            Private::P256(key) => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let point = key.public_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())})
            }
            Private::P521(key) => {
                let point = p521::ecdsa::VerifyingKey::from(key).to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-521", "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())})
            }
            Private::Rsa { key, .. } => {
                use rsa::traits::PublicKeyParts;
                json!({"kty": "RSA", "n": B64.encode(key.n().to_bytes_be()), "e": B64.encode(key.e().to_bytes_be())})
            }
        };
        jwk["alg"] = json!(self.alg);
        jwk["kid"] = json!(self.kid);
        jwk
    }

    /// Signs `claims` (raw JSON) with this key, naming `header_alg` and this kid.
    pub fn sign_as(&self, header_alg: &str, claims: &str) -> String {
        let header = json!({"alg": header_alg, "kid": self.kid}).to_string();
        let message = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let signature = match &self.private {
            Private::P521(key) => {
                use p521::ecdsa::signature::Signer;
                let signature: p521::ecdsa::Signature = key.sign(message.as_bytes());
                B64.encode(signature.to_bytes())
            }
            other => {
                let (key, alg) = encoding_key(other);
                jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap()
            }
        };
        format!("{message}.{signature}")
    }

    pub fn sign(&self, claims: &str) -> String {
        self.sign_as(self.alg, claims)
    }
}

fn encoding_key(private: &Private) -> (EncodingKey, Algorithm) {
    match private {
        Private::Ed25519(key) => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            (EncodingKey::from_ed_der(key.to_pkcs8_der().unwrap().as_bytes()), Algorithm::EdDSA)
        }
        Private::P256(key) => {
            use p256::pkcs8::EncodePrivateKey;
            (EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes()), Algorithm::ES256)
        }
        Private::Rsa { key, pss } => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let der = key.to_pkcs1_der().unwrap();
            (
                EncodingKey::from_rsa_der(der.as_bytes()),
                if *pss { Algorithm::PS256 } else { Algorithm::RS256 },
            )
        }
        Private::P521(_) => unreachable!("signed with p521 directly"),
    }
}

/// Claims shaped like Better Auth's: `sub`, `iat`, `exp` (+15 min), `iss` and
/// `aud` set to `origin`, and the user's fields.
pub fn better_auth_claims(sub: &str, origin: &str) -> String {
    let now = super::now();
    json!({
        "iat": now, "exp": now + 900, "sub": sub, "iss": origin, "aud": origin,
        "id": sub, "name": "Test User", "email": format!("{sub}@example.com"), "emailVerified": false,
        "image": null, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    })
    .to_string()
}

/// A stand-in for Better Auth's `GET /api/auth/jwks`.
#[derive(Clone)]
pub struct JwksServer {
    pub addr: SocketAddr,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl JwksServer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let server = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            keys: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk()).collect())),
            fetches: Arc::default(),
            down: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind(server.addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/api/auth/jwks", get(serve_jwks)).with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, ..server }
    }

    /// What Better Auth's `baseURL` would be, and so the `iss`/`aud` origin.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
    }

    pub fn publish_raw(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// While down, every fetch gets a 503, as from a crashed auth server behind a proxy.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

async fn serve_jwks(State(server): State<JwksServer>) -> Response {
    server.fetches.fetch_add(1, Ordering::SeqCst);
    if server.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = server.keys.lock().unwrap().clone();
    axum::Json(json!({ "keys": keys })).into_response()
}
