//! What the setup services share — merchants and keys, fees, channels, own accounts and
//! devices, blocklists, velocity rules and review thresholds, as the CLI and the admin API
//! change them: one error type (a refusal names the field, as the admin API's 400 answers
//! do), the audit line every change writes with the thing before and after (never a secret),
//! the reading of the operator's words (durations, decimals, currencies) and of a page of a
//! long list. Each resource's own rules are in its service (`merchants`, `fees`, `channels`,
//! `accounts`, `risk`), so the two front ends cannot decide differently.

use octopus_domain::{Currency, Merchant, Timestamp};
use octopus_storage::{AuditEntry, Merchants, Operators, StorageError};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::services::operators::Actor;

/// What is missing when a setup change names something that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Merchant,
    ApiKey,
    Channel,
    Account,
    Device,
    BlockEntry,
    VelocityRule,
    ReviewThreshold,
}

impl Missing {
    /// The admin API's 404 message.
    pub fn message(self) -> &'static str {
        match self {
            Missing::Merchant => "No such merchant",
            Missing::ApiKey => "No such API key",
            Missing::Channel => "No such channel",
            Missing::Account => "No such account",
            Missing::Device => "No such device",
            Missing::BlockEntry => "No such blocklist entry",
            Missing::VelocityRule => "No such velocity rule",
            Missing::ReviewThreshold => "No such review threshold",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Missing::Merchant => "merchant",
            Missing::ApiKey => "API key",
            Missing::Channel => "channel",
            Missing::Account => "account",
            Missing::Device => "device",
            Missing::BlockEntry => "blocklist entry",
            Missing::VelocityRule => "velocity rule",
            Missing::ReviewThreshold => "review threshold",
        }
    }
}

/// Why a setup change is refused. The CLI prints it; the admin API answers it
/// (`crate::error::Error`'s `From`: 400, 404, 409).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A field is wrong: `"<field>: <why>"`.
    #[error("{0}")]
    Invalid(String),
    #[error("no {} {id}", what.noun())]
    NotFound { what: Missing, id: String },
    /// The change does not fit the thing's state (a key revoked already).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A refusal of `field`.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> SetupError {
    SetupError::Invalid(format!("{field}: {why}"))
}

pub fn not_found(what: Missing, id: impl Into<String>) -> SetupError {
    SetupError::NotFound {
        what,
        id: id.into(),
    }
}

impl From<super::merchants::MerchantError> for SetupError {
    fn from(e: super::merchants::MerchantError) -> Self {
        use super::merchants::MerchantError as E;
        match e {
            E::InvalidName(e) => invalid("name", e),
            E::InvalidLabel => invalid("label", E::InvalidLabel),
            E::NoSuchKey => SetupError::NotFound {
                what: Missing::ApiKey,
                id: "(or it is revoked or expired)".into(),
            },
            E::Storage(e) => SetupError::Storage(e),
        }
    }
}

/// Appends a setup change to the audit log: `before` and `after` as JSON (`Null`: nothing,
/// as when a thing is created or removed). The views passed here never hold a secret.
pub async fn audit<S: Operators + ?Sized>(
    storage: &S,
    actor: &Actor,
    action: &str,
    target: &str,
    before: &Value,
    after: &Value,
    at: Timestamp,
) -> Result<(), StorageError> {
    let text = |v: &Value| {
        if v.is_null() {
            String::new()
        } else {
            v.to_string()
        }
    };
    storage
        .append_audit(AuditEntry {
            id: 0,
            at,
            actor: actor.name.clone(),
            role: actor.role.clone(),
            ip: actor.ip.clone(),
            action: action.to_string(),
            target: target.to_string(),
            before: text(before),
            after: text(after),
        })
        .await?;
    Ok(())
}

/// The name of something stored (a merchant uid, an API key, a channel code, an account or
/// device id), trimmed. One with a control character names nothing (and PostgreSQL refuses
/// NUL in text): it is not found, without asking storage.
pub fn named(what: Missing, text: &str) -> Result<&str, SetupError> {
    let text = text.trim();
    if text.chars().any(char::is_control) {
        return Err(not_found(what, text.escape_debug().to_string()));
    }
    Ok(text)
}

/// Text the operator gives to be stored (a holder's name, an account number, a setting):
/// one line, no control characters.
pub fn plain(field: &str, text: &str) -> Result<(), SetupError> {
    if text.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// The live merchant of `uid`.
pub async fn merchant<S: Merchants + ?Sized>(
    storage: &S,
    uid: &str,
) -> Result<Merchant, SetupError> {
    let uid = named(Missing::Merchant, uid)?;
    storage
        .merchant_by_uid(uid)
        .await?
        .ok_or_else(|| not_found(Missing::Merchant, uid))
}

/// The id things of a merchant are kept under: its live book's, or 0 for operator-wide
/// (no uid, or an empty one).
pub async fn scope<S: Merchants + ?Sized>(
    storage: &S,
    uid: Option<&str>,
) -> Result<i64, SetupError> {
    match uid.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(0),
        Some(uid) => Ok(merchant(storage, uid).await?.id),
    }
}

/// When something given `expires_in` (`24h`, `30d`, ...) from `now` ends.
pub fn expiry(
    field: &str,
    expires_in: Option<&str>,
    now: Timestamp,
) -> Result<Option<Timestamp>, SetupError> {
    expires_in
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|text| {
            octopus_domain::risk::parse_duration_ms(text)
                .map(|ms| now + ms)
                .map_err(|e| invalid(field, e))
        })
        .transpose()
}

/// A decimal the operator wrote — digits with an optional sign and fraction (`"2.5"`,
/// `"-1"`; no exponent, no separators) — or a refusal of `field`.
pub fn decimal(field: &str, text: &str) -> Result<Decimal, SetupError> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let plain = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !(plain(whole) && plain(fraction)) {
        return Err(invalid(
            field,
            format!("must be a decimal number, not {text:?}"),
        ));
    }
    t.parse::<Decimal>()
        .map_err(|_| invalid(field, format!("must be a decimal number, not {text:?}")))
}

/// An optional decimal: absent or empty is none.
pub fn optional_decimal(field: &str, text: Option<&str>) -> Result<Option<Decimal>, SetupError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| decimal(field, t))
        .transpose()
}

pub fn currency(field: &str, text: &str) -> Result<Currency, SetupError> {
    Currency::parse(text.trim()).ok_or_else(|| invalid(field, format!("unknown currency {text:?}")))
}

/// The most items a page of a long list answers.
pub const MAX_PAGE: u32 = 500;

/// A page size the caller asked for (default 100), within 1 to [`MAX_PAGE`].
pub fn page_size(limit: Option<u32>) -> Result<u32, SetupError> {
    let limit = limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(invalid("limit", format!("1 to {MAX_PAGE}")));
    }
    Ok(limit)
}

/// Where a page starts: after the item of this id (a page's `next`), or at the start.
pub fn cursor(after: Option<&str>) -> Result<i64, SetupError> {
    match after.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(0),
        Some(a) => a
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| invalid("after", "not a cursor of this list")),
    }
}

/// A page of a long list: its items, and the cursor of the next page (none on the last).
pub struct Page {
    pub items: Vec<Value>,
    pub next: Option<String>,
}

impl Page {
    /// A page of `limit` asked for, read as `found` (each with its id, ascending).
    pub fn of<T>(
        found: Vec<T>,
        limit: u32,
        id: impl Fn(&T) -> i64,
        view: impl Fn(&T) -> Value,
    ) -> Page {
        let next = (found.len() == limit as usize)
            .then(|| found.last().map(|t| id(t).to_string()))
            .flatten();
        Page {
            items: found.iter().map(view).collect(),
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_plain_digits() {
        assert_eq!(decimal("x", " 2.50 ").unwrap(), Decimal::new(250, 2));
        assert_eq!(decimal("x", "-1").unwrap(), Decimal::NEGATIVE_ONE);
        for bad in ["1e3", "", ".5", "5.", "1,000", "+1", "--1", "0x10", "NaN"] {
            assert!(
                matches!(decimal("x", bad), Err(SetupError::Invalid(d)) if d.starts_with("x:")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_page_says_where_the_next_one_starts() {
        let page = Page::of(vec![3_i64, 7], 2, |i| *i, |i| Value::from(*i));
        assert_eq!(page.next.as_deref(), Some("7"));
        let last = Page::of(vec![9_i64], 2, |i| *i, |i| Value::from(*i));
        assert_eq!(last.next, None);
        assert!(page_size(Some(0)).is_err() && page_size(Some(MAX_PAGE + 1)).is_err());
        assert_eq!(cursor(None).unwrap(), 0);
        assert!(cursor(Some("-3")).is_err() && cursor(Some("abc")).is_err());
    }
}
