//! The id of a job in a queue (re-exported as `queue::JobId`); a module of
//! its own so that the error types can name it without depending on the
//! queue.

use std::fmt;

/// A job's id, unique within its queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    /// Wraps an id (store implementations make them).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
