//! The crate's error types: [`BridgeError`], and the queue's and the
//! senders' own ([`QueueError`], [`SendError`]), re-exported where they are
//! used. This module depends on no other module of the crate but the ids
//! and channels its errors carry, so every module can use it.

use crate::inbound::Channel;
use crate::job_id::JobId;

/// Everything that can go wrong while bridging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A Salesforce call failed.
    #[cfg(feature = "salesforce")]
    #[error("Salesforce: {0}")]
    Salesforce(#[from] salesforce_rest::Error),
    /// A WhatsApp call failed.
    #[cfg(feature = "whatsapp")]
    #[error("WhatsApp: {0}")]
    WhatsApp(#[from] whatsapp_cloud::Error),
    /// The job queue failed (an enqueue that was not made durable, a lost lease).
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    /// A store (dedup, window) failed.
    #[error("store: {0}")]
    Store(String),
    /// A store failed, with the underlying error kept as the source.
    #[error("store: {what}: {source}")]
    StoreFailed {
        /// What was being done.
        what: String,
        /// The underlying error (Redis, redb, serde...).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The org is not set up for what the bridge was configured to do: a field
    /// is missing or lacks a property. Not retryable; the message says how to
    /// fix it.
    #[error(
        "Salesforce setup: {object}.{field} {problem}. Fix: Setup > Object Manager > {object} > Fields & Relationships > New > Text(80) named {field}, tick External ID and Unique, give the integration user's profile edit access to it, then restart (or configure another field)"
    )]
    Setup {
        /// The object (`Case`, `Lead`).
        object: String,
        /// The field's API name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The customer opted out of marketing messages (STOP, or WhatsApp error
    /// 131050): the marketing message was refused before any call.
    #[error(
        "the customer opted out of marketing messages ({reason}); utility and service messages are still allowed"
    )]
    OptedOut {
        /// Why the registry holds the opt-out.
        reason: String,
    },
    /// The work was held back, not failed: the org's API usage is above the
    /// budget's threshold and this work can wait. Retryable after `retry_after`.
    #[error(
        "deferred while the org's API usage is above the budget; trying again in {retry_after:?}"
    )]
    Deferred {
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// A writer stopped before answering (its task ended). Retryable.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// A mapper refused a message.
    #[error("mapping: {0}")]
    Mapping(String),
    /// Sending failed.
    #[error(transparent)]
    Send(#[from] SendError),
}

impl BridgeError {
    /// A store failure with its underlying error as the source.
    pub fn store(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        BridgeError::StoreFailed {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Whether Salesforce or WhatsApp refused our credentials (a revoked
    /// grant, an expired or invalid token): nothing succeeds until they are
    /// fixed. [`crate::health::Health`] reports it.
    pub fn is_auth(&self) -> bool {
        match self {
            #[cfg(feature = "salesforce")]
            BridgeError::Salesforce(e) => e.is_auth(),
            #[cfg(feature = "whatsapp")]
            BridgeError::WhatsApp(e) => e.is_auth(),
            BridgeError::Send(e) => e.auth,
            _ => false,
        }
    }

    /// Whether the credentials were refused for good: an auth error that
    /// trying again cannot fix (a revoked grant), unlike an expired session
    /// the client renews on its own. Readiness reports it, and a job waits
    /// ([`crate::queue::AUTH_RETRY_AFTER`]) instead of being dead-lettered.
    pub fn credentials_refused(&self) -> bool {
        self.is_auth() && !self.is_retryable()
    }

    /// Whether trying again later can succeed (a redelivery should be invited).
    pub fn is_retryable(&self) -> bool {
        match self {
            #[cfg(feature = "salesforce")]
            BridgeError::Salesforce(e) => e.is_retryable(),
            #[cfg(feature = "whatsapp")]
            BridgeError::WhatsApp(e) => e.is_retryable(),
            BridgeError::Queue(e) => e.is_retryable(),
            BridgeError::Store(_)
            | BridgeError::StoreFailed { .. }
            | BridgeError::Deferred { .. }
            | BridgeError::Interrupted(_) => true,
            BridgeError::Mapping(_) | BridgeError::Setup { .. } | BridgeError::OptedOut { .. } => {
                false
            }
            BridgeError::Send(e) => e.retryable,
        }
    }

    /// A copy of a [`Setup`](BridgeError::Setup) error (other errors are
    /// not `Clone`: their sources are not); anything else becomes a
    /// [`Store`](BridgeError::Store) error with the same text.
    #[cfg(feature = "salesforce")]
    pub(crate) fn clone_setup(&self) -> BridgeError {
        match self {
            BridgeError::Setup {
                object,
                field,
                problem,
            } => BridgeError::Setup {
                object: object.clone(),
                field: field.clone(),
                problem: problem.clone(),
            },
            other => BridgeError::Store(other.to_string()),
        }
    }

    /// How long to wait before trying again, when the other side said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            #[cfg(feature = "whatsapp")]
            BridgeError::WhatsApp(e) => e.retry_after(),
            #[cfg(feature = "salesforce")]
            BridgeError::Salesforce(e) => e.retry_after(),
            BridgeError::Send(e) => e.retry_after,
            BridgeError::Deferred { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// A plain-words hint for fixing the problem, when the SDK error under
    /// it has one (the same accessor as the SDK crates' errors).
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            #[cfg(feature = "whatsapp")]
            BridgeError::WhatsApp(e) => e.hint(),
            #[cfg(feature = "salesforce")]
            BridgeError::Salesforce(e) => e.hint(),
            _ => None,
        }
    }

    /// Whether the failure is a rate limit (back off longer).
    pub fn is_rate_limited(&self) -> bool {
        match self {
            #[cfg(feature = "whatsapp")]
            BridgeError::WhatsApp(e) => e.is_rate_limited(),
            #[cfg(feature = "salesforce")]
            BridgeError::Salesforce(e) => e.is_rate_limited(),
            BridgeError::Send(e) => e.rate_limited,
            _ => false,
        }
    }
}

/// A boxed error, the source of storage failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong with a queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The store could not be opened (missing permissions, a corrupt file, a
    /// directory another process holds): nothing was started.
    #[error("cannot open the job store at {path}: {source}")]
    Open {
        /// The path that was opened.
        path: std::path::PathBuf,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// The store failed to read or write (disk full, I/O error, Redis down).
    /// Nothing was changed; trying again later can succeed.
    #[error("job store: {source}")]
    Storage {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The lease expired and the job was leased again (or finished) elsewhere.
    #[error("the lease on job {job} was lost (it expired and was taken again)")]
    LeaseLost {
        /// The job.
        job: JobId,
    },
    /// No such job (or not in the state the call needs).
    #[error("no such job: {job}")]
    NotFound {
        /// The job.
        job: JobId,
    },
    /// A job argument is unusable (an empty key, an over-long group).
    #[error("invalid job: {0}")]
    Invalid(String),
}

impl QueueError {
    /// A storage error from any source.
    pub fn storage(source: impl Into<BoxError>) -> Self {
        QueueError::Storage {
            source: source.into(),
        }
    }

    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Storage { .. })
    }
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel} send failed: {message}")]
#[non_exhaustive]
pub struct SendError {
    /// The channel.
    pub channel: Channel,
    /// Whether the customer cannot be reached on this channel (try another).
    pub unreachable: bool,
    /// Whether trying the same channel again later can help.
    pub retryable: bool,
    /// Whether the channel asked us to slow down (back off longer).
    pub rate_limited: bool,
    /// How long to wait before trying again, when the channel said.
    pub retry_after: Option<std::time::Duration>,
    /// Whether the message may have reached the channel anyway (a timeout,
    /// a connection lost after the request went): the outbox then waits for
    /// a status before sending it again.
    pub ambiguous: bool,
    /// Whether the channel refused our credentials (a revoked or expired
    /// token): no send can succeed until they are fixed, which readiness
    /// reports.
    pub auth: bool,
    /// What happened (no customer data).
    pub message: String,
}

impl SendError {
    /// A failure on a channel: not retryable, customer reachable.
    pub fn new(channel: impl Into<Channel>, message: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            unreachable: false,
            retryable: false,
            rate_limited: false,
            retry_after: None,
            ambiguous: false,
            auth: false,
            message: message.into(),
        }
    }

    /// Marks the outcome unknown: the message may have reached the channel.
    pub fn ambiguous(mut self, ambiguous: bool) -> Self {
        self.ambiguous = ambiguous;
        self
    }

    /// Whether the channel refused our credentials for good (see
    /// [`crate::BridgeError::credentials_refused`]).
    pub fn credentials_refused(&self) -> bool {
        self.auth && !self.retryable
    }

    /// Marks the failure as the channel refusing our credentials.
    pub fn auth(mut self, auth: bool) -> Self {
        self.auth = auth;
        self
    }

    /// Marks the failure retryable (or not).
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Marks the customer unreachable on this channel (or not).
    pub fn unreachable(mut self, unreachable: bool) -> Self {
        self.unreachable = unreachable;
        self
    }

    /// Marks the failure a rate limit, with the wait the channel asked for.
    pub fn rate_limited(mut self, retry_after: Option<std::time::Duration>) -> Self {
        self.rate_limited = true;
        self.retryable = true;
        self.retry_after = retry_after;
        self
    }
}
