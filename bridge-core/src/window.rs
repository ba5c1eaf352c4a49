//! The 24-hour customer service window: a tracker of each customer's last
//! inbound message and the policy that says whether a free-form message is
//! allowed or a template is required.
//!
//! ```
//! use bridge_core::window::{delivery, Delivery};
//! use chrono::{Duration, Utc};
//!
//! let now = Utc::now();
//! assert_eq!(delivery(Some(now - Duration::hours(3)), now), Delivery::FreeForm);
//! assert_eq!(delivery(Some(now - Duration::hours(25)), now), Delivery::TemplateRequired);
//! assert_eq!(delivery(None, now), Delivery::TemplateRequired);
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::error::BridgeError;

/// The window's length.
pub const WINDOW: Duration = Duration::hours(24);

/// What may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Inside the window: any message.
    FreeForm,
    /// Outside the window: only an approved template.
    TemplateRequired,
}

/// The policy: free-form within 24 hours of the last inbound message.
pub fn delivery(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Delivery {
    match last_inbound {
        Some(t) if now < t + WINDOW => Delivery::FreeForm,
        _ => Delivery::TemplateRequired,
    }
}

/// The window key of a customer on a business number: the 24-hour window is
/// per business number and customer (a message to the sales line does not
/// open the support line). The bridge records every inbound message under
/// both `customer` (any number) and `business/customer`; a send that knows
/// its number checks the second, one that does not, the first.
///
/// ```
/// use bridge_core::window::window_key;
/// assert_eq!(window_key(Some("1234567890"), "14155550123"), "1234567890/14155550123");
/// assert_eq!(window_key(None, "14155550123"), "14155550123");
/// ```
pub fn window_key(business: Option<&str>, customer: &str) -> String {
    match business.map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => format!("{b}/{customer}"),
        None => customer.to_owned(),
    }
}

/// When the window closes (None: closed).
pub fn closes_at(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    last_inbound.map(|t| t + WINDOW).filter(|c| *c > now)
}

/// Keeps each customer's last inbound time.
#[async_trait]
pub trait WindowTracker: Send + Sync {
    /// Records an inbound message (an older time never replaces a newer one).
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError>;
    /// The last inbound time, if within the window's memory.
    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError>;
    /// What may be sent to the customer at `now`.
    async fn delivery(&self, customer: &str, now: DateTime<Utc>) -> Result<Delivery, BridgeError> {
        Ok(delivery(self.last_inbound(customer).await?, now))
    }
}

/// The in-memory tracker, bounded: when full, the customer who wrote least
/// recently is forgotten first, in O(1) amortized time per message.
pub struct MemoryWindowTracker {
    state: Mutex<Lru>,
    capacity: usize,
}

/// Last inbound time per customer, and the order of activity (an entry per
/// message; entries a later message made stale are skipped when popped).
#[derive(Default)]
struct Lru {
    last: HashMap<String, DateTime<Utc>>,
    order: std::collections::VecDeque<(String, DateTime<Utc>)>,
}

impl std::fmt::Debug for MemoryWindowTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Customers' numbers are never printed.
        let len = self.state.lock().map(|s| s.last.len()).unwrap_or(0);
        f.debug_struct("MemoryWindowTracker")
            .field("customers", &len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryWindowTracker {
    /// A tracker of at most `capacity` customers.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(Lru::default()),
            capacity: capacity.max(1),
        }
    }

    /// How many customers it holds.
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.last.len()).unwrap_or(0)
    }

    /// Whether it holds nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Lru {
    /// Forgets the least recently active customers until the map fits (a
    /// stale entry costs one pop), and drops stale entries from the queue once
    /// it is twice the capacity (one pass per `capacity` messages at most):
    /// O(1) amortized.
    fn shrink(&mut self, capacity: usize) {
        while self.last.len() > capacity {
            let Some((customer, at)) = self.order.pop_front() else {
                break;
            };
            if self.last.get(&customer) == Some(&at) {
                self.last.remove(&customer);
            }
        }
        if self.order.len() > capacity.saturating_mul(2).max(16) {
            let last = &self.last;
            self.order.retain(|(c, at)| last.get(c) == Some(at));
        }
    }
}

impl Default for MemoryWindowTracker {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

#[async_trait]
impl WindowTracker for MemoryWindowTracker {
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| BridgeError::Store("poisoned lock".into()))?;
        let newer = match s.last.get(customer) {
            Some(t) => at > *t,
            None => true,
        };
        if newer {
            s.last.insert(customer.to_owned(), at);
            s.order.push_back((customer.to_owned(), at));
            s.shrink(self.capacity);
        }
        Ok(())
    }

    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError> {
        let s = self
            .state
            .lock()
            .map_err(|_| BridgeError::Store("poisoned lock".into()))?;
        Ok(s.last.get(customer).copied())
    }
}

/// The behaviour every tracker must have.
pub mod conformance {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    /// Runs the suite against a tracker. Start the clock at the real time
    /// for a tracker whose backend expires keys itself (Redis).
    ///
    /// The same signature as every conformance suite of the workspace:
    /// the store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves (build the store with it when it keeps time).
    ///
    /// # Panics
    ///
    /// When the tracker breaks a rule.
    #[allow(clippy::panic)]
    pub async fn run<T: WindowTracker + ?Sized + 'static>(t: Arc<T>, clock: &ManualClock) {
        let t = &*t;
        let who = format!(
            "conformance-{}-{}",
            std::process::id(),
            crate::dedup::random_token()
        );
        assert_eq!(
            t.delivery(&who, clock.now()).await.ok(),
            Some(Delivery::TemplateRequired),
            "unknown customer: template"
        );
        let now = clock.now();
        t.record_inbound(&who, now - Duration::hours(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.delivery(&who, now).await.ok(), Some(Delivery::FreeForm));
        clock.advance(std::time::Duration::from_secs(23 * 3_600));
        assert_eq!(
            t.delivery(&who, clock.now()).await.ok(),
            Some(Delivery::TemplateRequired),
            "the window closes 24 hours after the last message"
        );
        t.record_inbound(&who, now - Duration::hours(20))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let last = t
            .last_inbound(&who)
            .await
            .ok()
            .flatten()
            .map(|l| l.timestamp_millis());
        assert_eq!(
            last,
            Some((now - Duration::hours(2)).timestamp_millis()),
            "an older time never wins"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eviction_is_least_recent_first_and_stays_bounded() {
        let t = MemoryWindowTracker::new(1_000);
        let t0 = DateTime::from_timestamp(1_735_689_600, 0).unwrap();
        for i in 0..40_000i64 {
            t.record_inbound(&format!("1415{i:07}"), t0 + chrono::Duration::seconds(i))
                .await
                .unwrap();
        }
        assert_eq!(t.len(), 1_000);
        assert!(
            t.last_inbound("14150039999").await.unwrap().is_some(),
            "the newest are kept"
        );
        assert!(
            t.last_inbound("14150000000").await.unwrap().is_none(),
            "the oldest are forgotten"
        );
        // A chatty customer does not grow the activity queue without bound.
        for i in 0..100_000i64 {
            t.record_inbound("14155550123", t0 + chrono::Duration::seconds(50_000 + i))
                .await
                .unwrap();
        }
        let queued = t.state.lock().unwrap().order.len();
        assert!(queued <= 2_000, "{queued}");
        assert!(!format!("{t:?}").contains("1415"), "no number in Debug");
    }

    #[tokio::test]
    async fn memory_tracker_passes_the_suite() {
        conformance::run(
            std::sync::Arc::new(MemoryWindowTracker::default()),
            &crate::clock::ManualClock::new(Utc::now()),
        )
        .await;
    }

    #[test]
    fn window_edges() {
        let now = Utc::now();
        assert_eq!(
            delivery(Some(now - WINDOW + Duration::seconds(1)), now),
            Delivery::FreeForm
        );
        assert_eq!(
            delivery(Some(now - WINDOW), now),
            Delivery::TemplateRequired
        );
        assert_eq!(
            closes_at(Some(now - Duration::hours(1)), now),
            Some(now + Duration::hours(23))
        );
        assert_eq!(closes_at(Some(now - Duration::hours(30)), now), None);
    }
}
