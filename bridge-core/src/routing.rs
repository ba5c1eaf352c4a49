//! Routing: which record a message makes, with which priority and purpose.
//!
//! The default [`KeywordRouter`] makes a Case of messages with support words
//! ("help", "refund", "broken", "not working"...) and a Lead of the rest;
//! matching is case- and accent-insensitive, on whole words and phrases. Urgent
//! words raise the Case priority. A [`ChannelTable`] says which channels use the
//! keywords and which always make one object (Viber → Case).
//!
//! ```
//! use bridge_core::routing::{KeywordRouter, Priority, Purpose, RecordKind};
//!
//! let router = KeywordRouter::default();
//! let r = router.route("My order arrived BROKEN, please help ASAP");
//! assert_eq!(r.record, RecordKind::Case);
//! assert_eq!(r.priority, Priority::High);
//! assert_eq!(r.purpose, Purpose::CustomerService);
//! assert_eq!(router.route("I'd like a quote").record, RecordKind::Lead);
//! assert_eq!(router.route("Mi pedido llegó dañado").record, RecordKind::Case, "accents folded");
//! assert_eq!(router.route("helpful staff!").record, RecordKind::Lead, "whole words only");
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::inbound::Channel;

/// Which Salesforce object a message should make.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A Case (support).
    Case,
    /// A Lead (sales).
    Lead,
    /// Another object, by API name.
    Other(String),
}

/// What the message is about; apps map it to an owner queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// Customer service (urgent first).
    CustomerService,
    /// Sales enquiries.
    Sales,
    /// Automated updates (system notifications).
    AutomatedUpdate,
}

/// Case priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Priority {
    /// Low.
    Low,
    /// Medium (Salesforce's default).
    Medium,
    /// High.
    High,
}

impl Priority {
    /// The picklist value.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
        }
    }
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route {
    /// The object to make.
    pub record: RecordKind,
    /// What it is about.
    pub purpose: Purpose,
    /// The priority (for Cases).
    pub priority: Priority,
    /// The keywords that decided, folded (for the audit trail).
    pub matched: Vec<String>,
}

/// Case- and accent-insensitive whole-word keyword routing.
///
/// Phrases are indexed by their first word, so routing a message costs one
/// table look-up per word of the message, whatever the number of phrases.
#[derive(Debug, Clone)]
pub struct KeywordRouter {
    phrases: Vec<Phrase>,
    by_first_word: HashMap<Box<str>, Vec<usize>, BuildHasherDefault<Fnv>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Support,
    Urgent,
    Automated,
}

#[derive(Debug, Clone)]
struct Phrase {
    words: Vec<Box<str>>,
    kind: Kind,
}

const SUPPORT: &[&str] = &[
    "help",
    "problem",
    "issue",
    "refund",
    "return",
    "broken",
    "damaged",
    "not working",
    "doesn't work",
    "does not work",
    "complaint",
    "cancel",
    "missing",
    "late",
    "wrong",
    "defective",
    "support",
    "error",
    "ayuda",
    "problema",
    "dañado",
    "roto",
    "reembolso",
];
const URGENT: &[&str] = &[
    "urgent",
    "asap",
    "immediately",
    "emergency",
    "right now",
    "urgente",
];
const AUTOMATED: &[&str] = &["unsubscribe", "stop", "auto-reply", "out of office"];

impl Default for KeywordRouter {
    fn default() -> Self {
        Self::new(SUPPORT, URGENT).automated_words(AUTOMATED)
    }
}

impl KeywordRouter {
    /// A router with your support and urgent words (phrases allowed).
    pub fn new(support: &[&str], urgent: &[&str]) -> Self {
        let mut r = Self {
            phrases: Vec::new(),
            by_first_word: HashMap::default(),
        };
        r.add(support, Kind::Support);
        r.add(urgent, Kind::Urgent);
        r
    }

    fn add(&mut self, list: &[&str], kind: Kind) {
        for p in list {
            let words: Vec<Box<str>> = tokenize(p)
                .into_iter()
                .map(String::into_boxed_str)
                .collect();
            let Some(first) = words.first().cloned() else {
                continue;
            };
            if self
                .phrases
                .iter()
                .any(|x| x.kind == kind && x.words == words)
            {
                continue;
            }
            self.by_first_word
                .entry(first)
                .or_default()
                .push(self.phrases.len());
            self.phrases.push(Phrase { words, kind });
        }
    }

    /// Words that mark automated traffic (out-of-office, opt-outs): such
    /// messages are routed with [`Purpose::AutomatedUpdate`].
    pub fn automated_words(mut self, words: &[&str]) -> Self {
        self.add(words, Kind::Automated);
        self
    }

    /// Adds support words.
    pub fn with_support_words(mut self, words: &[&str]) -> Self {
        self.add(words, Kind::Support);
        self
    }

    /// Routes a text.
    pub fn route(&self, text: &str) -> Route {
        let mut buf = String::with_capacity(text.len());
        let mut spans = Vec::with_capacity(text.len() / 4 + 1);
        tokenize_into(text, &mut buf, &mut spans);
        let word = |i: usize| spans.get(i).and_then(|&(a, b)| buf.get(a..b)).unwrap_or("");
        let mut hits: Vec<usize> = Vec::new();
        for i in 0..spans.len() {
            let Some(ids) = self.by_first_word.get(word(i)) else {
                continue;
            };
            for &id in ids {
                let Some(p) = self.phrases.get(id) else {
                    continue;
                };
                let whole = p
                    .words
                    .iter()
                    .enumerate()
                    .all(|(k, w)| i + k < spans.len() && word(i + k) == &**w);
                if whole && !hits.contains(&id) {
                    hits.push(id);
                }
            }
        }
        if hits.is_empty() {
            return Route {
                record: RecordKind::Lead,
                purpose: Purpose::Sales,
                priority: Priority::Medium,
                matched: Vec::new(),
            };
        }
        hits.sort_unstable();
        let matched = |kind: Kind| -> Vec<String> {
            hits.iter()
                .filter_map(|&id| self.phrases.get(id))
                .filter(|p| p.kind == kind)
                .map(|p| p.words.join(" "))
                .collect()
        };
        let support = matched(Kind::Support);
        if !support.is_empty() {
            let urgent = matched(Kind::Urgent);
            let priority = if urgent.is_empty() {
                Priority::Medium
            } else {
                Priority::High
            };
            let mut all = support;
            all.extend(urgent);
            return Route {
                record: RecordKind::Case,
                purpose: Purpose::CustomerService,
                priority,
                matched: all,
            };
        }
        let automated = matched(Kind::Automated);
        if !automated.is_empty() {
            return Route {
                record: RecordKind::Lead,
                purpose: Purpose::AutomatedUpdate,
                priority: Priority::Low,
                matched: automated,
            };
        }
        Route {
            record: RecordKind::Lead,
            purpose: Purpose::Sales,
            priority: Priority::Medium,
            matched: Vec::new(),
        }
    }
}

/// FNV-1a for the short words of the phrase index (no DoS exposure: the keys
/// are the app's own phrases; message words are only looked up).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Lowercases, folds accents, drops apostrophes and splits into words.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut buf = String::with_capacity(text.len());
    let mut spans = Vec::new();
    tokenize_into(text, &mut buf, &mut spans);
    spans
        .iter()
        .filter_map(|&(a, b)| buf.get(a..b))
        .map(str::to_owned)
        .collect()
}

/// The same, into one buffer with word spans (no allocation per word).
fn tokenize_into(text: &str, buf: &mut String, spans: &mut Vec<(usize, usize)>) {
    let mut start = buf.len();
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                buf.push(c.to_ascii_lowercase());
                continue;
            }
            if c == '\'' {
                continue;
            }
            if buf.len() > start {
                spans.push((start, buf.len()));
            }
            start = buf.len();
            continue;
        }
        for l in c.to_lowercase() {
            if l == '’' {
                continue;
            }
            match fold(l) {
                Some(f) => buf.push_str(f),
                None if l.is_alphanumeric() => buf.push(l),
                None => {
                    if buf.len() > start {
                        spans.push((start, buf.len()));
                    }
                    start = buf.len();
                }
            }
        }
    }
    if buf.len() > start {
        spans.push((start, buf.len()));
    }
}

/// Folds a lowercase Latin letter with a diacritic to its base letters.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => "i",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ś' | 'š' | 'ş' => "s",
        'ź' | 'ż' | 'ž' => "z",
        'ł' => "l",
        'ř' => "r",
        'ť' => "t",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        _ => return None,
    })
}

/// What a channel makes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelRule {
    /// Always this object (e.g. Viber → Case).
    Always(RecordKind),
    /// Support words make a Case; otherwise this object.
    Keywords {
        /// The object when no support word matches.
        otherwise: RecordKind,
    },
}

/// The channel-to-object table: WhatsApp and SMS use keywords (otherwise Lead),
/// Viber always makes a Case, other channels use keywords (otherwise Lead)
/// unless configured.
#[derive(Debug, Clone)]
pub struct ChannelTable {
    rules: HashMap<Channel, ChannelRule>,
    /// Rules of business numbers (phone number ids), before the channel's.
    numbers: HashMap<String, ChannelRule>,
    fallback: ChannelRule,
}

impl Default for ChannelTable {
    fn default() -> Self {
        let keywords = ChannelRule::Keywords {
            otherwise: RecordKind::Lead,
        };
        let mut rules = HashMap::new();
        rules.insert(Channel::WhatsApp, keywords.clone());
        rules.insert(Channel::Sms, keywords.clone());
        rules.insert(Channel::Viber, ChannelRule::Always(RecordKind::Case));
        Self {
            rules,
            numbers: HashMap::new(),
            fallback: keywords,
        }
    }
}

impl ChannelTable {
    /// Sets a channel's rule.
    pub fn set(mut self, channel: Channel, rule: ChannelRule) -> Self {
        self.rules.insert(channel, rule);
        self
    }

    /// The rule for a channel.
    pub fn rule(&self, channel: &Channel) -> &ChannelRule {
        self.rules.get(channel).unwrap_or(&self.fallback)
    }

    /// Sets the rule of one business number (a phone number id): messages
    /// to it follow this rule whatever their channel's (a sales line makes
    /// Leads, a support line Cases).
    ///
    /// ```
    /// use bridge_core::inbound::Channel;
    /// use bridge_core::routing::{ChannelRule, ChannelTable, KeywordRouter, RecordKind};
    ///
    /// let table = ChannelTable::default()
    ///     .number("1234567890", ChannelRule::Always(RecordKind::Case))
    ///     .number("1234567891", ChannelRule::Always(RecordKind::Lead));
    /// let router = KeywordRouter::default();
    /// let route = |number| table.route_for(&router, &Channel::WhatsApp, Some(number), "hello").record;
    /// assert_eq!(route("1234567890"), RecordKind::Case);
    /// assert_eq!(route("1234567891"), RecordKind::Lead);
    /// ```
    pub fn number(mut self, phone_number_id: impl Into<String>, rule: ChannelRule) -> Self {
        self.numbers.insert(phone_number_id.into(), rule);
        self
    }

    /// Routes a message's text on its channel.
    pub fn route(&self, router: &KeywordRouter, channel: &Channel, text: &str) -> Route {
        self.route_for(router, channel, None, text)
    }

    /// Routes a message's text by the business number it came to (when that
    /// number has a rule), else by its channel.
    pub fn route_for(
        &self,
        router: &KeywordRouter,
        channel: &Channel,
        business: Option<&str>,
        text: &str,
    ) -> Route {
        let by_words = router.route(text);
        let rule = business
            .and_then(|b| self.numbers.get(b))
            .unwrap_or_else(|| self.rule(channel));
        match rule {
            ChannelRule::Always(kind) => Route {
                purpose: if *kind == RecordKind::Case {
                    Purpose::CustomerService
                } else {
                    by_words.purpose
                },
                record: kind.clone(),
                ..by_words
            },
            ChannelRule::Keywords { otherwise } if by_words.record != RecordKind::Case => Route {
                record: otherwise.clone(),
                ..by_words
            },
            ChannelRule::Keywords { .. } => by_words,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_words_phrases_and_priorities() {
        let r = KeywordRouter::default();
        for (text, kind) in [
            ("my order arrived broken", RecordKind::Case),
            ("It's NOT WORKING", RecordKind::Case),
            ("the app doesn’t work", RecordKind::Case),
            ("Can I get a refund?", RecordKind::Case),
            ("I'd like a quote", RecordKind::Lead),
            ("not sure what works best", RecordKind::Lead),
            ("helpless? no, helpful!", RecordKind::Lead),
            ("", RecordKind::Lead),
            ("PROBLÈME", RecordKind::Lead),
            ("problème", RecordKind::Lead),
            ("Problema con mi pedido", RecordKind::Case),
        ] {
            assert_eq!(r.route(text).record, kind, "{text}");
        }
        assert_eq!(r.route("broken, urgent!").priority, Priority::High);
        assert_eq!(r.route("broken").priority, Priority::Medium);
        assert_eq!(r.route("STOP").purpose, Purpose::AutomatedUpdate);
        assert_eq!(r.route("broken").matched, vec!["broken"]);
        let custom = KeywordRouter::new(&["warranty claim"], &[]);
        assert_eq!(
            custom.route("Warranty   claim for my TV").record,
            RecordKind::Case
        );
        assert_eq!(custom.route("warranty").record, RecordKind::Lead);
    }

    #[test]
    fn tokenizer_folds_and_splits() {
        assert_eq!(
            tokenize("Ça marche? NON—dañado, Straße"),
            vec!["ca", "marche", "non", "danado", "strasse"]
        );
        assert_eq!(tokenize("doesn't"), vec!["doesnt"]);
    }

    #[test]
    fn channel_table() {
        let t = ChannelTable::default();
        let r = KeywordRouter::default();
        assert_eq!(
            t.route(&r, &Channel::WhatsApp, "quote please").record,
            RecordKind::Lead
        );
        assert_eq!(
            t.route(&r, &Channel::WhatsApp, "broken").record,
            RecordKind::Case
        );
        assert_eq!(
            t.route(&r, &Channel::Viber, "quote please").record,
            RecordKind::Case
        );
        assert_eq!(t.route(&r, &Channel::Sms, "help").record, RecordKind::Case);
        let t = t.set(
            Channel::Telegram,
            ChannelRule::Always(RecordKind::Other("Chat__c".into())),
        );
        assert_eq!(
            t.route(&r, &Channel::Telegram, "help").record,
            RecordKind::Other("Chat__c".into())
        );
        assert_eq!(
            t.route(&r, &Channel::Other("LINE".into()), "hi").record,
            RecordKind::Lead
        );
    }
}
