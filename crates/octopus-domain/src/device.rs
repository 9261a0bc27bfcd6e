//! Devices: the apps that watch an operator's account (reading its bank SMS or notifications)
//! and report each incoming transfer. Every device request is signed with the device's own
//! secret over what it says and when, with a nonce, so that a captured request can neither be
//! altered nor replayed (the weaknesses of the tools operators use today: a push signed over a
//! timestamp only, no nonce). What a report says is parsed here, strictly: an amount that is
//! not exactly an amount of its currency is refused, never guessed.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::money::{Amount, Currency};
use crate::signing::SigningKey;
use crate::Timestamp;

/// A request whose timestamp is further than this from the gateway's clock is refused.
pub const TIMESTAMP_WINDOW_MS: i64 = 300_000;
/// Nonce length bounds (characters of `A-Z a-z 0-9 - _`).
pub const NONCE_MIN: usize = 16;
pub const NONCE_MAX: usize = 64;

/// The request headers of the device protocol.
pub const HEADER_DEVICE: &str = "x-octopus-device";
pub const HEADER_TIMESTAMP: &str = "x-octopus-timestamp";
pub const HEADER_NONCE: &str = "x-octopus-nonce";
pub const HEADER_SIGNATURE: &str = "x-octopus-signature";

/// An enrolled device as stored (its secret sealed by the master key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `dev_...`, sent in `X-Octopus-Device`.
    pub id: String,
    /// The account it watches.
    pub account: String,
    pub sealed_secret: String,
    pub revoked_at: Option<Timestamp>,
    pub last_heartbeat_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// The string a device signs: timestamp, nonce, method, path and body, one per line.
pub fn message(timestamp: &str, nonce: &str, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 96);
    for part in [timestamp, nonce, method, path] {
        m.extend_from_slice(part.as_bytes());
        m.push(b'\n');
    }
    m.extend_from_slice(body);
    m
}

/// The signature of a device request (lowercase hex HMAC-SHA256), as a device computes it.
pub fn sign(
    secret: &str,
    timestamp: &str,
    nonce: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> String {
    SigningKey::new(secret.as_bytes()).sign_bytes(&message(timestamp, nonce, method, path, body))
}

/// Why a device request is refused. The device is told only which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    #[error("The request is not signed: the X-Octopus-Device, X-Octopus-Timestamp, X-Octopus-Nonce and X-Octopus-Signature headers are required")]
    Missing,
    #[error("The X-Octopus-Timestamp header must be unix seconds within 300 seconds of the gateway's clock")]
    Timestamp,
    #[error(
        "The X-Octopus-Nonce header must be 16 to 64 characters of A-Z, a-z, 0-9, '-' and '_'"
    )]
    NonceFormat,
    #[error("This nonce was used before")]
    Replayed,
    /// Unknown device, revoked device or wrong signature: one answer, so a caller cannot tell
    /// which devices exist.
    #[error("Invalid device signature")]
    Signature,
}

/// The signed headers of a device request, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub device: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    /// Checks what can be checked without the device's secret: the timestamp is within the
    /// window of `now` and the nonce has the allowed form. Returns the timestamp in ms.
    pub fn check_form(&self, now: Timestamp) -> Result<Timestamp, DeviceAuthError> {
        let t = &self.timestamp;
        if t.is_empty() || t.len() > 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DeviceAuthError::Timestamp);
        }
        let seconds: i64 = t.parse().map_err(|_| DeviceAuthError::Timestamp)?;
        let at = seconds * 1000;
        if (at - now).abs() > TIMESTAMP_WINDOW_MS {
            return Err(DeviceAuthError::Timestamp);
        }
        let n = &self.nonce;
        if n.len() < NONCE_MIN
            || n.len() > NONCE_MAX
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DeviceAuthError::NonceFormat);
        }
        Ok(at)
    }

    /// Whether the signature is the device's over this request (constant time).
    pub fn verify(&self, secret: &str, method: &str, path: &str, body: &[u8]) -> bool {
        SigningKey::new(secret.as_bytes()).verify_bytes(
            &message(&self.timestamp, &self.nonce, method, path, body),
            &self.signature,
        )
    }
}

/// A transfer a device saw arrive on its account, parsed strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub account: String,
    pub amount: Decimal,
    pub currency: Currency,
    /// The bank's reference of the transfer: the same reference twice is one transfer.
    pub reference: String,
    pub occurred_at: Timestamp,
    /// The payer's account as the bank shows it (often masked: `xxx-x-x1234-x`).
    pub payer_account: String,
    pub payer_name: String,
    /// The raw notification text, kept for the operator.
    pub text: String,
}

/// Why a report cannot be read; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

const TEXT_MAX: usize = 4096;

impl Report {
    /// Reads a report body: a JSON object of strings with `account`, `amount`, `currency`,
    /// `reference` and `occurred_at` (RFC 3339) required and `payer_account`, `payer_name`,
    /// `text` optional. The amount must be a plain decimal exact in the currency ("1,160.00"
    /// or "1e3" is refused, not read as something else).
    pub fn parse(body: &[u8]) -> Result<Report, ReportError> {
        let fields: BTreeMap<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|_| ReportError("The body must be a JSON object".into()))?;
        let text = |name: &str, required: bool, max: usize| -> Result<String, ReportError> {
            match fields.get(name) {
                None | Some(serde_json::Value::Null) if !required => Ok(String::new()),
                None | Some(serde_json::Value::Null) => {
                    Err(ReportError(format!("The '{name}' field is required")))
                }
                Some(serde_json::Value::String(s)) => {
                    let s = s.trim();
                    if required && s.is_empty() {
                        Err(ReportError(format!("The '{name}' field is required")))
                    } else if s.chars().count() > max {
                        Err(ReportError(format!(
                            "The '{name}' field is longer than {max} characters"
                        )))
                    } else {
                        Ok(s.to_string())
                    }
                }
                Some(_) => Err(ReportError(format!("The '{name}' field must be a string"))),
            }
        };
        let account = text("account", true, 64)?;
        let currency_text = text("currency", true, 8)?;
        let currency = Currency::parse(&currency_text).ok_or_else(|| {
            ReportError("The 'currency' field is not a supported currency".into())
        })?;
        let amount_text = text("amount", true, 40)?;
        let amount = Amount::parse(&amount_text, currency).map_err(|e| {
            ReportError(format!(
                "The 'amount' field must be a positive amount of {}: {e}",
                currency.code()
            ))
        })?;
        let reference = text("reference", true, 128)?;
        let occurred = text("occurred_at", true, 64)?;
        let occurred_at = parse_rfc3339(&occurred).ok_or_else(|| {
            ReportError("The 'occurred_at' field must be an RFC 3339 time".into())
        })?;
        Ok(Report {
            account,
            amount: amount.value(),
            currency,
            reference,
            occurred_at,
            payer_account: text("payer_account", false, 64)?,
            payer_name: text("payer_name", false, 128)?,
            text: text("text", false, TEXT_MAX)?,
        })
    }
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-12-01T10:00:00Z`,
/// `2026-12-01T17:00:00.250+07:00`).
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_every_part_and_verify_in_constant_time() {
        let h = SignedHeaders {
            device: "dev_1".into(),
            timestamp: "1764583200".into(),
            nonce: "n0nce-0123456789ab".into(),
            signature: sign(
                "s3cret",
                "1764583200",
                "n0nce-0123456789ab",
                "POST",
                "/octopus/device/v1/report",
                b"{}",
            ),
        };
        assert!(h.verify("s3cret", "POST", "/octopus/device/v1/report", b"{}"));
        assert!(!h.verify("other", "POST", "/octopus/device/v1/report", b"{}"));
        assert!(!h.verify("s3cret", "POST", "/octopus/device/v1/heartbeat", b"{}"));
        assert!(!h.verify("s3cret", "POST", "/octopus/device/v1/report", b"{ }"));
        let mut upper = h.clone();
        upper.signature = upper.signature.to_uppercase();
        assert!(upper.verify("s3cret", "POST", "/octopus/device/v1/report", b"{}"));
        let mut other_nonce = h.clone();
        other_nonce.nonce = "n0nce-0123456789ac".into();
        assert!(!other_nonce.verify("s3cret", "POST", "/octopus/device/v1/report", b"{}"));
    }

    /// The worked example of docs/accounts.md.
    #[test]
    fn the_documented_example_signs_as_documented() {
        let body = br#"{"account":"acc_K3v9QmT2xW7p","amount":"500.37","currency":"thb","reference":"FT2612011000123","occurred_at":"2026-12-01T17:00:00+07:00","payer_account":"xxx-x-x1234-x"}"#;
        assert_eq!(
            sign(
                "0b7Yd2kQ9sVx3LmN8pRt4WcZ6aHj1UeF5gXiKo7B",
                "1796119200",
                "f3b9c2d4e5a6b7c8d9e0f1a2b3c4d5e6",
                "POST",
                "/octopus/device/v1/report",
                body
            ),
            "f1a309113f7de2ab850e8a1274801367b33923de5f8e16646fb9b204642b602f"
        );
        let report = Report::parse(body).unwrap();
        assert_eq!(report.amount, Decimal::new(50037, 2));
        assert_eq!(report.occurred_at, 1_796_119_200_000);
    }

    #[test]
    fn the_timestamp_window_and_the_nonce_form_are_enforced() {
        let now = 1_764_583_200_000;
        let h = |timestamp: &str, nonce: &str| SignedHeaders {
            device: "d".into(),
            timestamp: timestamp.into(),
            nonce: nonce.into(),
            signature: String::new(),
        };
        let nonce = "abcdefghijklmnop";
        assert_eq!(h("1764583200", nonce).check_form(now), Ok(now));
        assert!(
            h("1764583500", nonce).check_form(now).is_ok(),
            "300 s ahead"
        );
        assert_eq!(
            h("1764583501", nonce).check_form(now),
            Err(DeviceAuthError::Timestamp)
        );
        assert_eq!(
            h("1764582899", nonce).check_form(now),
            Err(DeviceAuthError::Timestamp)
        );
        for bad in [
            "",
            "-1764583200",
            "1764583200.0",
            "1e9",
            "17645832000000000",
        ] {
            assert_eq!(
                h(bad, nonce).check_form(now),
                Err(DeviceAuthError::Timestamp),
                "{bad:?}"
            );
        }
        for bad in [
            "short",
            &"x".repeat(65),
            "abcdefghijklmno!",
            "abcdefghijklmnö",
        ] {
            assert_eq!(
                h("1764583200", bad).check_form(now),
                Err(DeviceAuthError::NonceFormat),
                "{bad:?}"
            );
        }
        assert!(h("1764583200", &"x".repeat(64)).check_form(now).is_ok());
    }

    #[test]
    fn reports_are_parsed_strictly() {
        let ok = br#"{"account":"acc_1","amount":"100.37","currency":"THB","reference":"FT123",
            "occurred_at":"2026-12-01T17:00:00+07:00","payer_account":"xxx-x-x1234-x"}"#;
        let r = Report::parse(ok).unwrap();
        assert_eq!(r.amount, Decimal::new(10037, 2));
        assert_eq!(r.currency, Currency::Thb);
        assert_eq!(r.occurred_at, 1_796_119_200_000);
        assert_eq!(r.payer_account, "xxx-x-x1234-x");
        assert_eq!(r.text, "");
        let with = |amount: &str| {
            format!(
                r#"{{"account":"a","amount":"{amount}","currency":"thb","reference":"r","occurred_at":"2026-12-01T10:00:00Z"}}"#
            )
        };
        for bad in ["1,160.00", "1e3", "-5", "0", "100.001", "", " ", "12abc"] {
            let e = Report::parse(with(bad).as_bytes()).unwrap_err();
            assert!(e.0.contains("'amount'"), "{bad:?}: {e}");
        }
        let e = Report::parse(br#"{"account":"a","amount":100,"currency":"thb","reference":"r","occurred_at":"2026-12-01T10:00:00Z"}"#).unwrap_err();
        assert_eq!(e.0, "The 'amount' field must be a string");
        let e = Report::parse(br#"{"account":"a","amount":"1","currency":"thb","occurred_at":"2026-12-01T10:00:00Z"}"#).unwrap_err();
        assert_eq!(e.0, "The 'reference' field is required");
        let e = Report::parse(br#"{"account":"a","amount":"1","currency":"xyz","reference":"r","occurred_at":"2026-12-01T10:00:00Z"}"#).unwrap_err();
        assert!(e.0.contains("'currency'"));
        assert!(Report::parse(b"[]").is_err());
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-12-01T10:00:00.250Z"),
            Some(1_796_119_200_250)
        );
        assert_eq!(
            parse_rfc3339("2026-12-01T05:30:00-04:30"),
            Some(1_796_119_200_000)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        for bad in [
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-01 10:00",
            "2026-12-01T10:00:00",
            "2026-12-01T10:00:00+0700",
            "yesterday",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
