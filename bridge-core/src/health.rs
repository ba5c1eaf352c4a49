//! Readiness: whether a bridge can do its work now.
//!
//! A liveness probe (`/health` in the examples) only says the process
//! answers. Readiness says whether it is worth sending it traffic: its
//! stores take writes, its queue workers run, and neither Salesforce nor
//! WhatsApp refused its credentials on the last call that reached them.
//! [`crate::service::BridgeService::readiness`] puts the three together;
//! [`Health`] is the part the service feeds as calls succeed or fail.
//!
//! ```
//! use bridge_core::health::{Api, Health};
//!
//! let health = Health::new();
//! health.auth_failed(Api::Salesforce, "invalid_grant: expired access/refresh token");
//! assert_eq!(health.auth_problems().len(), 1);
//! health.call_succeeded(Api::Salesforce); // credentials fixed, a call went through
//! assert!(health.auth_problems().is_empty());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// An API the bridge calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Api {
    /// The Salesforce org.
    Salesforce,
    /// The WhatsApp Cloud API.
    WhatsApp,
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::Salesforce => "Salesforce",
            Api::WhatsApp => "WhatsApp",
        })
    }
}

/// The credentials' state per API, as the last call that reached it left
/// it. Cheap to clone: clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Health {
    refused: Arc<Mutex<BTreeMap<Api, String>>>,
}

impl Health {
    /// Nothing refused yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `api` refused our credentials; `detail` says how (no customer data,
    /// no secret: an error's text).
    pub fn auth_failed(&self, api: Api, detail: impl Into<String>) {
        if let Ok(mut m) = self.refused.lock() {
            m.insert(api, detail.into());
        }
    }

    /// A call to `api` went through: its credentials work again.
    pub fn call_succeeded(&self, api: Api) {
        if let Ok(mut m) = self.refused.lock()
            && !m.is_empty()
        {
            m.remove(&api);
        }
    }

    /// Records a call's outcome: credentials refused for good (an error
    /// about them that retrying cannot fix) mark the API, success clears
    /// it, other errors say nothing about them.
    pub fn record<T>(&self, api: Api, outcome: &Result<T, crate::BridgeError>) {
        match outcome {
            Ok(_) => self.call_succeeded(api),
            Err(e) if e.credentials_refused() => self.auth_failed(api, e.to_string()),
            Err(_) => {}
        }
    }

    /// The APIs whose last call refused our credentials, and how.
    pub fn auth_problems(&self) -> Vec<(Api, String)> {
        self.refused
            .lock()
            .map(|m| m.iter().map(|(a, d)| (*a, d.clone())).collect())
            .unwrap_or_default()
    }
}

/// Whether the bridge can do its work, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// What failed, one line each (`store: ...`, `workers: ...`,
    /// `Salesforce: ...`).
    pub reasons: Vec<String>,
}

impl Readiness {
    /// From the failed checks' reasons (none: ready).
    pub fn from_reasons(reasons: Vec<String>) -> Self {
        Self {
            ready: reasons.is_empty(),
            reasons,
        }
    }

    /// `{"ready": bool, "reasons": [...]}`, the body of a `/ready` answer.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "ready": self.ready, "reasons": self.reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_lasts_until_a_call_goes_through() {
        let h = Health::new();
        let clone = h.clone();
        clone.auth_failed(Api::WhatsApp, "190: token expired");
        h.auth_failed(Api::Salesforce, "invalid_grant");
        assert_eq!(
            h.auth_problems(),
            vec![
                (Api::Salesforce, "invalid_grant".to_owned()),
                (Api::WhatsApp, "190: token expired".to_owned())
            ]
        );
        h.record::<()>(
            Api::Salesforce,
            &Err(crate::BridgeError::Store("down".into())),
        );
        assert_eq!(
            h.auth_problems().len(),
            2,
            "a store error says nothing of credentials"
        );
        h.record(Api::Salesforce, &Ok(()));
        assert_eq!(
            h.auth_problems(),
            vec![(Api::WhatsApp, "190: token expired".to_owned())]
        );
        let r = Readiness::from_reasons(vec!["WhatsApp: 190".into()]);
        assert!(!r.ready);
        assert_eq!(r.to_json()["reasons"][0], "WhatsApp: 190");
        assert!(Readiness::from_reasons(Vec::new()).ready);
    }
}
