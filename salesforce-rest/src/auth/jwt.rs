//! JWT bearer assertions (RS256).

use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::Serialize;

use crate::error::Error;

/// An RSA private key for JWT bearer assertions. Never printed.
#[derive(Clone)]
pub struct JwtKey {
    key: EncodingKey,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKey([redacted])")
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

impl JwtKey {
    /// Reads a PEM private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let key = EncodingKey::from_rsa_pem(pem).map_err(|_| {
            Error::Config("the JWT key is not an RSA private key in PEM form".into())
        })?;
        Ok(Self { key })
    }

    /// Reads a PEM private key from a file.
    pub fn from_pem_file(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the JWT key file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_pem(&pem)
    }

    /// Builds the signed assertion: `iss` = consumer key, `sub` = username,
    /// `aud` = login host, `exp` = `now` + 3 minutes (Salesforce's maximum).
    pub fn assertion(
        &self,
        client_id: &str,
        username: &str,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<SecretString, Error> {
        let claims = Claims {
            iss: client_id,
            sub: username,
            aud: audience,
            exp: now.timestamp() + 180,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(SecretString::from)
            .map_err(|e| Error::Config(format!("cannot sign the JWT assertion: {e}")))
    }
}
