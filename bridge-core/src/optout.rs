//! Opt-outs: customers who wrote STOP (or its common Spanish and Portuguese
//! forms), or whom WhatsApp reported as having stopped marketing messages
//! (error 131050), get no marketing template until they write START again.
//! Utility, authentication and service messages stay allowed, as Meta's rules
//! say.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::BridgeError> {
//! use bridge_core::optout::{keyword, MemoryOptOutStore, OptOutStore, ConsentChange};
//!
//! assert_eq!(keyword("  Stop "), Some(ConsentChange::Stop));
//! assert_eq!(keyword("baja"), Some(ConsentChange::Stop));
//! assert_eq!(keyword("START"), Some(ConsentChange::Start));
//! assert_eq!(keyword("stop sending me the wrong size"), None, "only the keyword alone");
//!
//! let store = MemoryOptOutStore::default();
//! let now = chrono::Utc::now();
//! store.opt_out("+1 (415) 555-0123", "keyword STOP", now).await?;
//! assert!(store.get("14155550123").await?.is_some(), "any formatting of the number");
//! store.opt_in("14155550123", now).await?;
//! assert!(store.get("14155550123").await?.is_none());
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::BridgeError;

/// `sha256:<hex>` of a number's digits: how an erased customer's opt-out is
/// kept (opt-out stores look it up under this key too).
pub fn opt_out_hash(customer_key: &str) -> String {
    crate::ledger::sha256_hex("sha256:", customer_key.as_bytes())
}

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsentChange {
    /// Stop marketing messages.
    Stop,
    /// Start them again.
    Start,
}

const STOP: &[&str] = &[
    "stop",
    "stopall",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "optout",
    "opt out",
    "opt-out", // Spanish
    "baja",
    "darme de baja",
    "alto",
    "parar",
    "cancelar",
    "detener", // Portuguese
    "sair",
    "descadastrar",
    "cancelar inscricao",
    "pare",
];

const START: &[&str] = &[
    "start",
    "unstop",
    "subscribe",
    "optin",
    "opt in",
    "opt-in", // Spanish
    "alta",
    "iniciar",
    "comenzar",
    "suscribir", // Portuguese
    "voltar",
    "comecar",
    "inscrever",
    "assinar",
];

fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        let c = match c {
            'á' | 'à' | 'â' | 'ã' | 'Á' | 'À' | 'Â' | 'Ã' => 'a',
            'é' | 'ê' | 'É' | 'Ê' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'ô' | 'õ' | 'Ó' | 'Ô' | 'Õ' => 'o',
            'ú' | 'Ú' => 'u',
            'ç' | 'Ç' => 'c',
            c => c.to_ascii_lowercase(),
        };
        if c.is_alphanumeric() || c == ' ' || c == '-' {
            out.push(c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a message is an opt-out or opt-in keyword: the whole message (case,
/// accents, punctuation and spacing ignored), never a word inside a sentence.
pub fn keyword(text: &str) -> Option<ConsentChange> {
    let t = fold(text);
    if STOP.contains(&t.as_str()) {
        Some(ConsentChange::Stop)
    } else if START.contains(&t.as_str()) {
        Some(ConsentChange::Start)
    } else {
        None
    }
}

/// The key of a customer: the digits of a phone number (any formatting), or
/// the address as given when it has none (a user id).
pub fn customer_key(address: &str) -> String {
    let digits: String = address.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 7 {
        digits
    } else {
        address.trim().to_owned()
    }
}

/// A recorded opt-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptOut {
    /// When.
    pub at: DateTime<Utc>,
    /// Why (`keyword STOP`, `WhatsApp error 131050`...).
    pub reason: String,
}

impl OptOut {
    /// A record (for `OptOutStore` implementations outside this crate).
    pub fn new(at: DateTime<Utc>, reason: impl Into<String>) -> Self {
        Self {
            at,
            reason: reason.into(),
        }
    }
}

/// Where opt-outs are kept. Keys are normalized by [`customer_key`] inside the
/// provided methods' callers; implementations store what they are given.
#[async_trait]
pub trait OptOutStore: Send + Sync {
    /// Records an opt-out (a second one keeps the first date).
    async fn opt_out(
        &self,
        customer: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), BridgeError>;
    /// Removes an opt-out.
    async fn opt_in(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError>;
    /// The opt-out of a customer, if any.
    async fn get(&self, customer: &str) -> Result<Option<OptOut>, BridgeError>;
}

/// Opt-outs in memory (tests; not durable).
#[derive(Debug, Default)]
pub struct MemoryOptOutStore {
    map: Mutex<HashMap<String, OptOut>>,
}

#[async_trait]
impl OptOutStore for MemoryOptOutStore {
    async fn opt_out(
        &self,
        customer: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        if let Ok(mut m) = self.map.lock() {
            m.entry(customer_key(customer))
                .or_insert_with(|| OptOut::new(at, reason));
        }
        Ok(())
    }
    async fn opt_in(&self, customer: &str, _at: DateTime<Utc>) -> Result<(), BridgeError> {
        if let Ok(mut m) = self.map.lock() {
            let key = customer_key(customer);
            m.remove(&opt_out_hash(&key));
            m.remove(&key);
        }
        Ok(())
    }
    async fn get(&self, customer: &str) -> Result<Option<OptOut>, BridgeError> {
        Ok(self.map.lock().ok().and_then(|m| {
            let key = customer_key(customer);
            m.get(&key).or_else(|| m.get(&opt_out_hash(&key))).cloned()
        }))
    }
}

/// The behaviour every [`OptOutStore`] must have; run it against yours.
pub mod conformance {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    /// Runs the suite on an empty store; panics naming the broken rule.
    ///
    /// The same signature as every conformance suite of the workspace:
    /// the store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves (build the store with it when it keeps time).
    ///
    /// # Panics
    ///
    /// When the store breaks a rule.
    #[allow(clippy::panic)]
    pub async fn run<S: OptOutStore + ?Sized + 'static>(store: Arc<S>, clock: &ManualClock) {
        let store = &*store;
        let t0 = clock.now();
        clock.advance(std::time::Duration::from_secs(86_400));
        let t1 = clock.now();
        let who = format!("1415555{:04}", crate::dedup::random_token() % 10_000);
        assert!(
            store
                .get(&who)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none(),
            "nobody is opted out at first"
        );
        store
            .opt_out(&who, "keyword STOP", t0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .opt_out(&who, "WhatsApp error 131050", t1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let o = store
            .get(&who)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("an opt-out must be kept"));
        assert_eq!(
            (o.at, o.reason.as_str()),
            (t0, "keyword STOP"),
            "the first opt-out is kept"
        );
        let formatted = format!(
            "+{} ({}) {}-{}",
            &who[..1],
            &who[1..4],
            &who[4..7],
            &who[7..]
        );
        assert!(
            store
                .get(&formatted)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_some(),
            "any formatting of the number"
        );
        store
            .opt_in(&formatted, t1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            store
                .get(&who)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none(),
            "START removes the opt-out"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_in_three_languages_and_only_alone() {
        for k in [
            "STOP",
            "stop.",
            "Unsubscribe",
            "BAJA",
            "Darme de baja",
            "PARAR",
            "Sair",
            "cancelar inscrição",
        ] {
            assert_eq!(keyword(k), Some(ConsentChange::Stop), "{k}");
        }
        for k in ["START", "Unstop", "ALTA", "Começar", "voltar!"] {
            assert_eq!(keyword(k), Some(ConsentChange::Start), "{k}");
        }
        for k in ["please stop calling", "start my order", "", "stopp"] {
            assert_eq!(keyword(k), None, "{k}");
        }
    }

    #[tokio::test]
    async fn the_memory_store_passes_the_suite() {
        conformance::run(
            std::sync::Arc::new(MemoryOptOutStore::default()),
            &crate::clock::ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn the_redis_store_passes_the_suite() {
        for url in crate::redis::test_urls() {
            let s = crate::redis::RedisOptOutStore::connect(
                &url,
                &format!("wa-sf:test{}:", crate::dedup::random_token()),
            )
            .await
            .unwrap();
            conformance::run(
                std::sync::Arc::new(s),
                &crate::clock::ManualClock::new(Utc::now()),
            )
            .await;
        }
    }
}
