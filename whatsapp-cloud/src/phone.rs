//! Business phone number management: registration, verification codes, the
//! two-step PIN, display names, QR codes, conversational components, commerce
//! settings and blocked users. The data of [`Client::phone`](crate::Client::phone)
//! (feature `client`).

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::serde_util::open_enum;

/// Most users in one block or unblock request.
pub const MAX_BLOCK_USERS: usize = 1_000;
/// Longest QR code prefilled message, in characters.
pub const MAX_QR_MESSAGE: usize = 140;
/// Most commands in the conversational components.
pub const MAX_COMMANDS: usize = 30;
/// Longest command name, in characters.
pub const MAX_COMMAND_NAME: usize = 32;
/// Longest command description, in characters.
pub const MAX_COMMAND_DESCRIPTION: usize = 256;
/// Most ice breakers (prompts).
pub const MAX_ICE_BREAKERS: usize = 4;
/// Longest ice breaker, in characters.
pub const MAX_ICE_BREAKER: usize = 80;

/// How the registration code is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum CodeMethod {
    /// By text message.
    Sms,
    /// By a voice call.
    Voice,
}

/// Checks a two-step verification PIN: exactly six digits.
pub fn check_pin(pin: &str) -> Result<(), ValidationError> {
    if pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ValidationError::new("pin", "expected exactly 6 digits"))
    }
}

/// The image format of a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum QrImageFormat {
    /// PNG.
    Png,
    /// SVG.
    Svg,
}

/// A QR code (and its short link) that opens a chat with a prefilled message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct QrCode {
    /// The code, used to update or delete it.
    #[serde(default)]
    pub code: String,
    /// The message the customer's chat opens with.
    #[serde(default)]
    pub prefilled_message: String,
    /// The `wa.me` short link.
    #[serde(default)]
    pub deep_link_url: Option<String>,
    /// The image URL, when an image format was asked for.
    #[serde(default)]
    pub qr_image_url: Option<String>,
}

/// Checks a QR code's prefilled message (1 to 140 characters).
pub fn check_qr_message(message: &str) -> Result<(), ValidationError> {
    let n = message.chars().count();
    if message.trim().is_empty() || n > MAX_QR_MESSAGE {
        Err(ValidationError::new(
            "prefilled_message",
            format!("1 to {MAX_QR_MESSAGE} characters, got {n}"),
        ))
    } else {
        Ok(())
    }
}

open_enum! {
    /// The review status of a display name change.
    NameStatus {
        /// Approved.
        Approved = "APPROVED",
        /// Available without review.
        AvailableWithoutReview = "AVAILABLE_WITHOUT_REVIEW",
        /// Declined.
        Declined = "DECLINED",
        /// Expired.
        Expired = "EXPIRED",
        /// In review.
        PendingReview = "PENDING_REVIEW",
        /// No change requested.
        None = "NONE",
    }
}

/// The display name of a number and any change in review.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DisplayName {
    /// The verified (current) name.
    #[serde(default)]
    pub verified_name: Option<String>,
    /// The name asked for, while in review.
    #[serde(default)]
    pub new_display_name: Option<String>,
    /// The review status of the asked-for name.
    #[serde(default)]
    pub new_name_status: Option<NameStatus>,
}

/// A command customers see when they type `/` in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotCommand {
    /// The command, without the slash (at most 32 characters).
    pub command_name: String,
    /// What it does (at most 256 characters).
    pub command_description: String,
}

impl BotCommand {
    /// A command and its description.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            command_name: name.into(),
            command_description: description.into(),
        }
    }
}

/// Conversational components: the welcome message, commands and ice breakers.
///
/// ```
/// use whatsapp_cloud::phone::{BotCommand, ConversationalComponents};
///
/// let components = ConversationalComponents::new()
///     .welcome_message(true)
///     .commands(vec![BotCommand::new("status", "Where is my order?")])
///     .ice_breakers(vec!["Book an appointment".into(), "Talk to a person".into()]);
/// assert!(components.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationalComponents {
    /// Whether WhatsApp sends a `request_welcome` event when a customer opens
    /// the chat for the first time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_welcome_message: Option<bool>,
    /// Up to 30 commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<BotCommand>>,
    /// Up to 4 ice breakers (the API calls them `prompts`).
    #[serde(default, rename = "prompts", skip_serializing_if = "Option::is_none")]
    pub ice_breakers: Option<Vec<String>>,
}

impl ConversationalComponents {
    /// An update that changes nothing; set the parts to change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns the welcome-message event on or off.
    pub fn welcome_message(mut self, on: bool) -> Self {
        self.enable_welcome_message = Some(on);
        self
    }

    /// Sets the commands (an empty list removes them).
    pub fn commands(mut self, commands: Vec<BotCommand>) -> Self {
        self.commands = Some(commands);
        self
    }

    /// Sets the ice breakers (an empty list removes them).
    pub fn ice_breakers(mut self, prompts: Vec<String>) -> Self {
        self.ice_breakers = Some(prompts);
        self
    }

    /// Checks the documented limits.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let too_long = |field: &'static str, value: &str, max: usize| {
            let n = value.chars().count();
            if value.trim().is_empty() || n > max {
                Err(ValidationError::new(
                    field,
                    format!("1 to {max} characters, got {n}"),
                ))
            } else {
                Ok(())
            }
        };
        if let Some(commands) = &self.commands {
            if commands.len() > MAX_COMMANDS {
                return Err(ValidationError::new(
                    "commands",
                    format!("at most {MAX_COMMANDS} commands, got {}", commands.len()),
                ));
            }
            for c in commands {
                too_long("commands.command_name", &c.command_name, MAX_COMMAND_NAME)?;
                too_long(
                    "commands.command_description",
                    &c.command_description,
                    MAX_COMMAND_DESCRIPTION,
                )?;
            }
        }
        if let Some(prompts) = &self.ice_breakers {
            if prompts.len() > MAX_ICE_BREAKERS {
                return Err(ValidationError::new(
                    "prompts",
                    format!(
                        "at most {MAX_ICE_BREAKERS} ice breakers, got {}",
                        prompts.len()
                    ),
                ));
            }
            for p in prompts {
                too_long("prompts", p, MAX_ICE_BREAKER)?;
            }
        }
        Ok(())
    }
}

/// Whether the cart and the catalog are shown on a number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommerceSettings {
    /// Whether customers can add to a cart.
    #[serde(default)]
    pub is_cart_enabled: bool,
    /// Whether the catalog is shown in the chat and the profile.
    #[serde(default)]
    pub is_catalog_visible: bool,
}

impl CommerceSettings {
    /// Settings with the cart and the catalog on or off.
    pub fn new(cart_enabled: bool, catalog_visible: bool) -> Self {
        Self {
            is_cart_enabled: cart_enabled,
            is_catalog_visible: catalog_visible,
        }
    }
}

/// The answer to a block or unblock request: who was (un)blocked and who was
/// not, each with the input as given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct BlockOutcome {
    /// The users blocked (or unblocked).
    #[serde(default, alias = "removed_users")]
    pub added_users: Vec<BlockedUser>,
    /// The users that failed, with the API's errors.
    #[serde(default)]
    pub failed_users: Vec<FailedBlock>,
}

/// A user on the block list.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BlockedUser {
    /// What the request had (absent in listings).
    #[serde(default)]
    pub input: Option<String>,
    /// The user's wa_id.
    #[serde(default)]
    pub wa_id: Option<String>,
}

impl std::fmt::Debug for BlockedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockedUser")
            .field("input", &self.input.as_deref().map(crate::redact::phone))
            .field("wa_id", &self.wa_id.as_deref().map(crate::redact::phone))
            .finish()
    }
}

/// A user that could not be blocked or unblocked.
#[derive(Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FailedBlock {
    /// What the request had.
    #[serde(default)]
    pub input: Option<String>,
    /// The user's wa_id, when known.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// The errors, as sent (`{code, message, error_data}`).
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

impl FailedBlock {
    /// The first error's code (`139100` and up).
    pub fn code(&self) -> Option<i64> {
        self.errors
            .first()
            .and_then(|e| e.get("code"))
            .and_then(serde_json::Value::as_i64)
    }
}

impl std::fmt::Debug for FailedBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailedBlock")
            .field("input", &self.input.as_deref().map(crate::redact::phone))
            .field("wa_id", &self.wa_id.as_deref().map(crate::redact::phone))
            .field("code", &self.code())
            .finish()
    }
}
