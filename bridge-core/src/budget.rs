//! The org's API allowance is shared by every integration: above a share of
//! it, work that can wait (reminders, enrichment) pauses, and new Cases still
//! go through.
//!
//! ```
//! use bridge_core::budget::{ApiBudget, Urgency};
//!
//! let budget = ApiBudget::new(0.9);
//! assert!(budget.allows(Urgency::Deferrable, Some((80_000, 100_000))));
//! assert!(!budget.allows(Urgency::Deferrable, Some((95_000, 100_000))));
//! assert!(budget.allows(Urgency::Urgent, Some((95_000, 100_000))), "Cases still go through");
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

/// How much a piece of work can wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Urgency {
    /// A customer is waiting (a new Case, a reply).
    Urgent,
    /// It can run later (reminders, lead enrichment, reports).
    Deferrable,
}

/// A threshold on the share of the daily API allowance used.
#[derive(Debug)]
pub struct ApiBudget {
    threshold: f64,
    over: AtomicBool,
}

impl Default for ApiBudget {
    /// 90%.
    fn default() -> Self {
        Self::new(0.9)
    }
}

impl ApiBudget {
    /// Deferrable work pauses at or above `threshold` (a share, 0 to 1).
    pub fn new(threshold: f64) -> Self {
        Self {
            threshold: threshold.clamp(0.0, 1.0),
            over: AtomicBool::new(false),
        }
    }

    /// Whether work of this urgency may spend API calls, given the last known
    /// usage `(used, max)` (from `Sforce-Limit-Info`; `None`: unknown, allowed).
    /// A tracing warning says so once each time the threshold is crossed, and
    /// once when usage falls back under it.
    pub fn allows(&self, urgency: Urgency, usage: Option<(u64, u64)>) -> bool {
        let Some((used, max)) = usage.filter(|(_, max)| *max > 0) else {
            return true;
        };
        let share = used as f64 / max as f64;
        let over = share >= self.threshold;
        if over != self.over.swap(over, Ordering::Relaxed) {
            if over {
                tracing::warn!(
                    used,
                    max,
                    "API usage reached {:.0}% of the daily allowance: deferrable work pauses, new Cases still go through",
                    self.threshold * 100.0
                );
            } else {
                tracing::info!(
                    used,
                    max,
                    "API usage is under the threshold again: deferrable work resumes"
                );
            }
        }
        !over || urgency == Urgency::Urgent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferrable_work_pauses_above_the_threshold_only() {
        let b = ApiBudget::new(0.5);
        assert!(b.allows(Urgency::Deferrable, None));
        assert!(b.allows(Urgency::Deferrable, Some((10, 0))), "no max known");
        assert!(b.allows(Urgency::Deferrable, Some((49, 100))));
        assert!(!b.allows(Urgency::Deferrable, Some((50, 100))));
        assert!(b.allows(Urgency::Urgent, Some((150, 100))));
        assert!(b.allows(Urgency::Deferrable, Some((10, 100))), "resumes");
    }
}
