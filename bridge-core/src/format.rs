//! US formats: money from integer cents, numbers with thousands separators,
//! `MM/DD/YYYY` dates, 12-hour times with the zone's abbreviation (right across
//! daylight-saving changes), and phone numbers as `+1 (415) 555-0123`.
//!
//! ```
//! use bridge_core::format::{date, money, phone, time};
//! use chrono::{NaiveDate, TimeZone, Utc};
//!
//! assert_eq!(money(149_999), "$1,499.99");
//! assert_eq!(date(NaiveDate::from_ymd_opt(2025, 4, 30).unwrap()), "04/30/2025");
//! let jan = Utc.with_ymd_and_hms(2026, 1, 15, 19, 30, 0).unwrap();
//! assert_eq!(time(jan, chrono_tz::America::New_York), "2:30 PM EST");
//! assert_eq!(phone::format("415.555.0123")?, "+1 (415) 555-0123");
//! # Ok::<(), bridge_core::format::PhoneError>(())
//! ```

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// `$1,499.99` from cents; negative amounts as `-$25.00`. Never floating point.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", group(abs / 100), abs % 100)
}

/// A number with thousands separators and two decimals, from hundredths:
/// `number(100_000_000)` is `1,000,000.00`.
pub fn number(hundredths: i64) -> String {
    let sign = if hundredths < 0 { "-" } else { "" };
    let abs = hundredths.unsigned_abs();
    format!("{sign}{}.{:02}", group(abs / 100), abs % 100)
}

/// An integer with thousands separators: `1,000,000`.
pub fn integer(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}", group(value.unsigned_abs()))
}

/// The `amount_1000` of a WhatsApp currency parameter (cents × 10).
pub fn amount_1000(cents: i64) -> i64 {
    cents.saturating_mul(10)
}

fn group(mut n: u64) -> String {
    if n < 1000 {
        return n.to_string();
    }
    let mut parts = Vec::new();
    while n >= 1000 {
        parts.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    parts.push(n.to_string());
    parts.reverse();
    parts.join(",")
}

/// Parses money as people type it (`$1,499.99`, `1499.9`, `-$25`) into cents.
/// Returns `None` for anything else (more than two decimals, letters...).
pub fn parse_money(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t),
    };
    let t = t.strip_prefix('$').unwrap_or(t).replace(',', "");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let cents = whole.checked_mul(100)?.checked_add(frac)?;
    Some(if neg { -cents } else { cents })
}

/// `MM/DD/YYYY`.
pub fn date(d: NaiveDate) -> String {
    d.format("%m/%d/%Y").to_string()
}

/// `2:30 PM EST`: 12-hour time in a US zone with its abbreviation, which follows
/// daylight saving (`EDT` in July). Midnight is `12:00 AM`, noon `12:00 PM`.
pub fn time(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%-I:%M %p %Z").to_string()
}

/// `04/30/2025 2:30 PM EDT`.
pub fn date_time(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    format!("{} {}", date(local.date_naive()), time(at, zone))
}

/// `April 30, 2025`: the long form some templates use.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%B %-d, %Y").to_string()
}

/// The US zones, by the names people use.
pub fn us_zone(name: &str) -> Option<Tz> {
    use chrono_tz::America;
    use chrono_tz::Pacific;
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "eastern" | "et" | "est" | "edt" | "america/new_york" => America::New_York,
        "central" | "ct" | "cst" | "cdt" | "america/chicago" => America::Chicago,
        "mountain" | "mt" | "mst" | "mdt" | "america/denver" => America::Denver,
        "arizona" | "america/phoenix" => America::Phoenix,
        "pacific" | "pt" | "pst" | "pdt" | "america/los_angeles" => America::Los_Angeles,
        "alaska" | "akst" | "akdt" | "america/anchorage" => America::Anchorage,
        "hawaii" | "hst" | "pacific/honolulu" => Pacific::Honolulu,
        _ => return None,
    })
}

/// A local time in a zone as UTC (for scheduling "2:30 PM Eastern on 04/30").
/// `None` for a time that does not exist (the spring-forward gap); an ambiguous
/// time (fall back) takes the earlier instant.
pub fn local_to_utc(date: NaiveDate, hour: u32, minute: u32, zone: Tz) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(hour, minute, 0)?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

pub use phone::{PhoneError, PhoneNumber};

/// Phone numbers: parse what people type, validate NANP, format for display.
pub mod phone {
    use std::fmt;

    /// Why a phone number was refused.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum PhoneError {
        /// No digits, or letters / symbols a phone number cannot have.
        #[error("not a phone number")]
        NotAPhoneNumber,
        /// The digit count fits neither a US number nor E.164.
        #[error("a phone number has 10 digits (US) or up to 15 with the country code, got {0}")]
        WrongLength(usize),
        /// A US area code cannot start with 0 or 1.
        #[error("invalid US area code: it cannot start with 0 or 1")]
        InvalidAreaCode,
        /// A US exchange cannot start with 0 or 1.
        #[error("invalid US exchange code: it cannot start with 0 or 1")]
        InvalidExchange,
        /// A `+` anywhere but once at the start (`++1...`, `1+415...`).
        #[error("a `+` may only appear once, at the start")]
        MisplacedPlus,
        /// Country code 1 (US, Canada, the Caribbean) is followed by exactly
        /// ten digits.
        #[error("a number with country code 1 has 10 digits after it, got {0}")]
        WrongNanpLength(usize),
    }

    /// A parsed phone number.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum PhoneNumber {
        /// A North American number.
        Nanp {
            /// Area code (NXX).
            area: String,
            /// Exchange (NXX).
            exchange: String,
            /// Line number (XXXX).
            line: String,
        },
        /// Any other number, kept in E.164 digits (without `+`).
        International(String),
    }

    impl PhoneNumber {
        /// `+14155550123` / `+5215512345678`.
        pub fn e164(&self) -> String {
            match self {
                PhoneNumber::Nanp {
                    area,
                    exchange,
                    line,
                } => format!("+1{area}{exchange}{line}"),
                PhoneNumber::International(d) => format!("+{d}"),
            }
        }

        /// The digits WhatsApp uses as a wa_id (`14155550123`).
        pub fn wa_id(&self) -> String {
            self.e164().trim_start_matches('+').to_owned()
        }

        /// `+1 (415) 555-0123` for US numbers, E.164 for the rest.
        pub fn display(&self) -> String {
            match self {
                PhoneNumber::Nanp {
                    area,
                    exchange,
                    line,
                } => format!("+1 ({area}) {exchange}-{line}"),
                PhoneNumber::International(d) => format!("+{d}"),
            }
        }

        /// The forms a US number is commonly stored in (for exact-match lookups
        /// in systems that keep phones as typed).
        pub fn common_forms(&self) -> Vec<String> {
            match self {
                PhoneNumber::Nanp {
                    area,
                    exchange,
                    line,
                } => vec![
                    format!("+1{area}{exchange}{line}"),
                    format!("1{area}{exchange}{line}"),
                    format!("{area}{exchange}{line}"),
                    format!("+1 ({area}) {exchange}-{line}"),
                    format!("({area}) {exchange}-{line}"),
                    format!("{area}-{exchange}-{line}"),
                    format!("{area}.{exchange}.{line}"),
                    format!("+1 {area} {exchange} {line}"),
                    format!("+1-{area}-{exchange}-{line}"),
                    format!("1 ({area}) {exchange}-{line}"),
                ],
                PhoneNumber::International(d) => vec![format!("+{d}"), d.clone()],
            }
        }
    }

    impl fmt::Display for PhoneNumber {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.display())
        }
    }

    /// Parses `+1 415 555 0123`, `(415) 555-0123`, `415.555.0123`, `14155550123`,
    /// a WhatsApp wa_id, or an international number (`+52 55 1234 5678`).
    /// Ten digits, or eleven starting with 1, are US (NANP-validated); other
    /// numbers with a `+` or 11-15 digits are kept in E.164.
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        let t = input.trim();
        let plus = t.starts_with('+');
        let allowed = t
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().\u{a0}".contains(c));
        if !allowed {
            return Err(PhoneError::NotAPhoneNumber);
        }
        if t.matches('+').count() > 1 || (t.contains('+') && !plus) {
            return Err(PhoneError::MisplacedPlus);
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(PhoneError::NotAPhoneNumber);
        }
        // Country code 1 is the North American plan only: after it come
        // exactly ten digits, never an "international" number of another length.
        if digits.starts_with('1') && (12..=15).contains(&digits.len()) {
            return Err(PhoneError::WrongNanpLength(digits.len() - 1));
        }
        let nanp = match digits.len() {
            10 if !plus => Some(digits.as_str()),
            11 if digits.starts_with('1') => digits.get(1..),
            _ => None,
        };
        if let Some(d) = nanp {
            let (area, rest) = d.split_at(3);
            let (exchange, line) = rest.split_at(3);
            if area.starts_with(['0', '1']) {
                return Err(PhoneError::InvalidAreaCode);
            }
            if exchange.starts_with(['0', '1']) {
                return Err(PhoneError::InvalidExchange);
            }
            return Ok(PhoneNumber::Nanp {
                area: area.into(),
                exchange: exchange.into(),
                line: line.into(),
            });
        }
        if (8..=15).contains(&digits.len())
            && (plus || digits.len() >= 11)
            && !digits.starts_with('0')
        {
            return Ok(PhoneNumber::International(digits));
        }
        Err(PhoneError::WrongLength(digits.len()))
    }

    /// Formats for display, or says why it cannot.
    pub fn format(input: &str) -> Result<String, PhoneError> {
        parse(input).map(|p| p.display())
    }

    /// Formats for display, falling back to the input as given: a customer's
    /// message is never dropped because their number did not format.
    pub fn format_or_raw(input: &str) -> String {
        match parse(input) {
            Ok(p) => p.display(),
            Err(e) => {
                tracing::debug!(error = %e, "phone number kept as received");
                input.trim().to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::phone::{PhoneError, PhoneNumber, format, format_or_raw, parse};
    use super::*;
    use chrono_tz::America::{Chicago, Denver, Los_Angeles, New_York, Phoenix};
    use proptest::prelude::*;

    #[test]
    fn money_vectors() {
        for (cents, s) in [
            (149_999, "$1,499.99"),
            (50, "$0.50"),
            (-2_500, "-$25.00"),
            (100_000_000, "$1,000,000.00"),
            (0, "$0.00"),
            (1, "$0.01"),
            (99_999, "$999.99"),
            (100_000, "$1,000.00"),
            (i64::MIN, "-$92,233,720,368,547,758.08"),
            (i64::MAX, "$92,233,720,368,547,758.07"),
        ] {
            assert_eq!(money(cents), s, "{cents}");
        }
        assert_eq!(number(100_000_000), "1,000,000.00");
        assert_eq!(integer(-1_234_567), "-1,234,567");
        assert_eq!(amount_1000(149_999), 1_499_990);
    }

    #[test]
    fn parse_money_vectors() {
        assert_eq!(parse_money("$1,499.99"), Some(149_999));
        assert_eq!(parse_money("1499.9"), Some(149_990));
        assert_eq!(parse_money("-$25"), Some(-2_500));
        for bad in ["", "$", "1.999", "abc", "1,49a", "$-5"] {
            assert_eq!(parse_money(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_and_times_across_daylight_saving() {
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2025, 4, 28).unwrap()),
            "04/28/2025"
        );
        assert_eq!(
            long_date(NaiveDate::from_ymd_opt(2026, 2, 5).unwrap()),
            "February 5, 2026"
        );
        let at = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap();
        assert_eq!(time(at(2026, 1, 15, 19, 30), New_York), "2:30 PM EST");
        assert_eq!(time(at(2026, 7, 15, 18, 30), New_York), "2:30 PM EDT");
        assert_eq!(
            time(at(2026, 1, 15, 5, 0), New_York),
            "12:00 AM EST",
            "midnight"
        );
        assert_eq!(
            time(at(2026, 1, 15, 17, 0), New_York),
            "12:00 PM EST",
            "noon"
        );
        assert_eq!(time(at(2026, 7, 1, 21, 5), Los_Angeles), "2:05 PM PDT");
        assert_eq!(
            time(at(2026, 7, 1, 21, 5), Phoenix),
            "2:05 PM MST",
            "Arizona keeps standard time"
        );
        assert_eq!(time(at(2026, 12, 1, 20, 0), Chicago), "2:00 PM CST");
        assert_eq!(time(at(2026, 12, 1, 21, 0), Denver), "2:00 PM MST");
        // 2026-03-08: clocks go forward at 2:00 AM in New York.
        assert_eq!(time(at(2026, 3, 8, 6, 59), New_York), "1:59 AM EST");
        assert_eq!(time(at(2026, 3, 8, 7, 0), New_York), "3:00 AM EDT");
        // 2026-11-01: clocks go back at 2:00 AM; 1:30 happens twice.
        assert_eq!(time(at(2026, 11, 1, 5, 30), New_York), "1:30 AM EDT");
        assert_eq!(time(at(2026, 11, 1, 6, 30), New_York), "1:30 AM EST");
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(local_to_utc(d, 2, 30, New_York), None, "does not exist");
        let fall = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(
            local_to_utc(fall, 1, 30, New_York),
            Some(at(2026, 11, 1, 5, 30)),
            "earlier instant"
        );
        assert_eq!(
            date_time(at(2025, 4, 30, 18, 30), New_York),
            "04/30/2025 2:30 PM EDT"
        );
        assert_eq!(us_zone("Pacific"), Some(Los_Angeles));
        assert_eq!(us_zone("Mars"), None);
    }

    #[test]
    fn phone_vectors() {
        for input in [
            "+1 415 555 0123",
            "(415) 555-0123",
            "415.555.0123",
            "14155550123",
            "4155550123",
            "+1-415-555-0123",
            "1 (415) 555-0123",
            " +14155550123 ",
        ] {
            assert_eq!(format(input).unwrap(), "+1 (415) 555-0123", "{input}");
        }
        assert_eq!(parse("14155550123").unwrap().wa_id(), "14155550123");
        assert_eq!(format("+52 55 1234 5678").unwrap(), "+525512345678");
        assert_eq!(
            format("5215512345678").unwrap(),
            "+5215512345678",
            "Mexican wa_id kept as is"
        );
        assert_eq!(format("+44 20 7946 0958").unwrap(), "+442079460958");
        assert_eq!(parse("(015) 555-0123"), Err(PhoneError::InvalidAreaCode));
        assert_eq!(parse("(415) 155-0123"), Err(PhoneError::InvalidExchange));
        assert_eq!(parse("555-0123"), Err(PhoneError::WrongLength(7)));
        assert_eq!(parse("call me"), Err(PhoneError::NotAPhoneNumber));
        assert_eq!(parse(""), Err(PhoneError::NotAPhoneNumber));
        assert_eq!(parse("+1234567890123456"), Err(PhoneError::WrongLength(16)));
        assert_eq!(format_or_raw("ext. 12"), "ext. 12");
        let forms = parse("4155550123").unwrap().common_forms();
        assert!(
            forms.contains(&"(415) 555-0123".to_owned())
                && forms.contains(&"+14155550123".to_owned())
        );
        assert!(matches!(
            parse("+1 415 555 0123").unwrap(),
            PhoneNumber::Nanp { .. }
        ));
    }

    proptest! {
        #[test]
        fn any_cents_round_trip(cents in (i64::MIN / 1000)..(i64::MAX / 1000)) {
            prop_assert_eq!(parse_money(&money(cents)), Some(cents));
        }

        #[test]
        fn any_valid_nanp_formats_and_reparses(area in 200u32..1000, exchange in 200u32..1000, line in 0u32..10_000) {
            let raw = format!("{area}{exchange}{line:04}");
            let shown = format(&raw).unwrap();
            prop_assert_eq!(&shown, &format!("+1 ({area}) {exchange}-{line:04}"));
            prop_assert_eq!(format(&shown).unwrap(), shown.as_str());
            for form in parse(&raw).unwrap().common_forms() {
                prop_assert_eq!(format(&form).unwrap(), shown.as_str());
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
            let _ = format_or_raw(&s);
            let _ = parse_money(&s);
        }
    }
}

#[cfg(test)]
mod phone_regressions {
    use super::phone::{PhoneError, parse};

    #[test]
    fn doubled_plus_and_overlong_country_code_1_are_typed_errors() {
        assert_eq!(parse("++14155550123"), Err(PhoneError::MisplacedPlus));
        assert_eq!(parse("1+4155550123"), Err(PhoneError::MisplacedPlus));
        assert_eq!(
            parse("+1 415 555 01234"),
            Err(PhoneError::WrongNanpLength(11))
        );
        assert_eq!(
            parse("+1415555012345"),
            Err(PhoneError::WrongNanpLength(12))
        );
        assert_eq!(parse("1415555012345"), Err(PhoneError::WrongNanpLength(12)));
        assert!(parse("+14155550123").is_ok());
        assert!(
            parse("+52 55 1234 5678").is_ok(),
            "other countries unchanged"
        );
    }
}
