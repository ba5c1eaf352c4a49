//! Reactions to a message.

#[allow(unused_imports)]
use super::*;

/// A reaction to a message (up to 30 days old); an empty emoji removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction {
    pub(super) message_id: String,
    pub(super) emoji: String,
}

impl Reaction {
    /// Reacts to a message with an emoji.
    pub fn new(message_id: impl Into<String>, emoji: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            emoji: emoji.into(),
        }
    }
    /// Removes our reaction from a message.
    pub fn remove(message_id: impl Into<String>) -> Self {
        Self::new(message_id, "")
    }
}

impl From<Reaction> for Content {
    fn from(reaction: Reaction) -> Self {
        Content::Reaction { reaction }
    }
}
