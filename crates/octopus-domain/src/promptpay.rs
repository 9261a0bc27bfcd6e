//! The Thai QR Payment (EMVCo merchant-presented) payload of a PromptPay transfer, as the
//! cashier page shows it in a QR code for a THB deposit on one of the operator's own
//! accounts: the payer scans it with any Thai banking app, which fills in the PromptPay ID and
//! the exact `final_amount` (so the floating offset that identifies the order is not mistyped).
//!
//! A payload is a string of fields `TTLLvalue` (two-digit tag, two-digit length, value):
//! `00` "01" (format), `01` "12" (dynamic: one payment), `29` the PromptPay merchant account
//! (sub-tag `00` the application ID `A000000677010111`, then the ID in sub-tag `01` a mobile
//! number as `0066` + 9 digits, `02` a 13-digit national or tax ID, or `03` a 15-digit
//! e-wallet ID), `53` "764" (baht), `54` the amount with 2 decimals, `58` "TH", and last `63`
//! the CRC-16/CCITT-FALSE of everything before it including `6304`, in upper-case hex.

use std::fmt;

use rust_decimal::Decimal;

use crate::money::format_places;

/// The application ID of PromptPay credit transfers (tag 29, sub-tag 00).
pub const APPLICATION_ID: &str = "A000000677010111";

/// A PromptPay ID a transfer can be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPayId {
    /// A Thai mobile number, kept as its 9 digits after the leading 0 (`0812345678` → `812345678`).
    Mobile(String),
    /// A 13-digit national ID or tax ID.
    NationalId(String),
    /// A 15-digit e-wallet ID.
    EWallet(String),
}

/// Why a text is not a PromptPay ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptPayIdError {
    #[error("A PromptPay ID must be digits: a Thai mobile number (0XXXXXXXXX), a 13-digit national or tax ID, or a 15-digit e-wallet ID.")]
    NotDigits,
    #[error("A PromptPay ID must be a Thai mobile number (10 digits starting with 0, or +66 and 9 digits), a 13-digit national or tax ID, or a 15-digit e-wallet ID; this one has {0} digits.")]
    WrongLength(usize),
}

impl PromptPayId {
    /// Reads a PromptPay ID as operators write it: spaces and dashes are ignored; a mobile is
    /// `0` + 9 digits (or `+66` / `0066` + 9 digits), a national or tax ID 13 digits, an
    /// e-wallet ID 15 digits.
    pub fn parse(text: &str) -> Result<PromptPayId, PromptPayIdError> {
        let compact: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let (international, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PromptPayIdError::NotDigits);
        }
        if international {
            // +66 and the 9 digits after the mobile number's leading 0.
            return match digits.strip_prefix("66") {
                Some(national) if national.len() == 9 => {
                    Ok(PromptPayId::Mobile(national.to_string()))
                }
                _ => Err(PromptPayIdError::WrongLength(digits.len())),
            };
        }
        match digits.len() {
            10 if digits.starts_with('0') => Ok(PromptPayId::Mobile(digits[1..].to_string())),
            13 if digits.starts_with("0066") => Ok(PromptPayId::Mobile(digits[4..].to_string())),
            13 => Ok(PromptPayId::NationalId(digits.to_string())),
            15 => Ok(PromptPayId::EWallet(digits.to_string())),
            n => Err(PromptPayIdError::WrongLength(n)),
        }
    }

    /// The sub-tag of tag 29 that carries this kind of ID, and its value there.
    fn account_field(&self) -> (&'static str, String) {
        match self {
            PromptPayId::Mobile(nine) => ("01", format!("0066{nine}")),
            PromptPayId::NationalId(id) => ("02", id.clone()),
            PromptPayId::EWallet(id) => ("03", id.clone()),
        }
    }
}

impl fmt::Display for PromptPayId {
    /// The ID as a payer types it into a banking app (`0812345678`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromptPayId::Mobile(nine) => write!(f, "0{nine}"),
            PromptPayId::NationalId(id) | PromptPayId::EWallet(id) => f.write_str(id),
        }
    }
}

/// One `TTLLvalue` field. Every value written here is ASCII and shorter than 100 characters.
fn field(tag: &str, value: &str) -> String {
    debug_assert!(value.is_ascii() && value.len() < 100, "{tag}: {value}");
    format!("{tag}{:02}{value}", value.len())
}

/// The payload of a one-time PromptPay transfer of `amount` baht to `id`.
pub fn payload(id: &PromptPayId, amount: Decimal) -> String {
    let (sub_tag, account) = id.account_field();
    let merchant_account = field("00", APPLICATION_ID) + &field(sub_tag, &account);
    let mut text = String::with_capacity(96);
    text.push_str(&field("00", "01"));
    text.push_str(&field("01", "12"));
    text.push_str(&field("29", &merchant_account));
    text.push_str(&field("53", "764"));
    text.push_str(&field("54", &format_places(amount.round_dp(2), 2)));
    text.push_str(&field("58", "TH"));
    text.push_str("6304");
    let crc = crc16_ccitt_false(text.as_bytes());
    text.push_str(&format!("{crc:04X}"));
    text
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR.
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    /// Splits a payload into its `(tag, value)` fields, as a scanning app reads it.
    fn fields(mut text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while !text.is_empty() {
            let tag = &text[..2];
            let len: usize = text[2..4].parse().unwrap();
            out.push((tag.to_string(), text[4..4 + len].to_string()));
            text = &text[4 + len..];
        }
        out
    }

    #[test]
    fn the_crc_is_ccitt_false() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
        assert_eq!(crc16_ccitt_false(b""), 0xFFFF);
        // Payloads made by a widely used PromptPay generator (fields in another order), whose
        // last four characters are the CRC of all before them.
        for reference in [
            "00020101021129370016A000000677010111011300668123456785802TH530376463045D82",
            "00020101021229370016A000000677010111011300668123456785802TH53037645406100.006304BB8A",
            "00020101021229370016A000000677010111011300668123456785802TH53037645406150.006304CC46",
        ] {
            let (body, crc) = reference.split_at(reference.len() - 4);
            assert_eq!(
                format!("{:04X}", crc16_ccitt_false(body.as_bytes())),
                crc,
                "{reference}"
            );
        }
    }

    #[test]
    fn ids_are_read_as_operators_write_them() {
        let mobile = PromptPayId::Mobile("812345678".into());
        assert_eq!(PromptPayId::parse("0812345678"), Ok(mobile.clone()));
        assert_eq!(PromptPayId::parse("081-234-5678"), Ok(mobile.clone()));
        assert_eq!(PromptPayId::parse(" +66 81 234 5678 "), Ok(mobile.clone()));
        assert_eq!(PromptPayId::parse("0066812345678"), Ok(mobile.clone()));
        assert_eq!(mobile.to_string(), "0812345678");
        assert_eq!(
            PromptPayId::parse("1-1017-00207-03-0"),
            Ok(PromptPayId::NationalId("1101700207030".into()))
        );
        assert_eq!(
            PromptPayId::parse("123456789012345"),
            Ok(PromptPayId::EWallet("123456789012345".into()))
        );
        assert_eq!(
            PromptPayId::parse("812345678"),
            Err(PromptPayIdError::WrongLength(9))
        );
        assert_eq!(
            PromptPayId::parse("1812345678"),
            Err(PromptPayIdError::WrongLength(10)),
            "ten digits are a mobile only with the leading 0"
        );
        assert_eq!(
            PromptPayId::parse("+6681234567"),
            Err(PromptPayIdError::WrongLength(10))
        );
        assert_eq!(
            PromptPayId::parse("08x2345678"),
            Err(PromptPayIdError::NotDigits)
        );
        assert_eq!(PromptPayId::parse(""), Err(PromptPayIdError::NotDigits));
        assert!(PromptPayId::parse("12345")
            .unwrap_err()
            .to_string()
            .contains("13-digit national or tax ID"));
    }

    #[test]
    fn a_mobile_payload_has_every_field_in_order_and_a_valid_crc() {
        let id = PromptPayId::parse("0812345678").unwrap();
        let text = payload(&id, d("500.37"));
        // As docs/cashier.md shows it (its CRC computed apart from this code).
        assert_eq!(
            text,
            "00020101021229370016A0000006770101110113006681234567853037645406500.375802TH63045DB2"
        );
        let parsed = fields(&text);
        let tags: Vec<&str> = parsed.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(tags, ["00", "01", "29", "53", "54", "58", "63"]);
        assert_eq!(parsed[0].1, "01");
        assert_eq!(parsed[1].1, "12");
        assert_eq!(
            fields(&parsed[2].1),
            [
                ("00".to_string(), APPLICATION_ID.to_string()),
                ("01".to_string(), "0066812345678".to_string())
            ]
        );
        assert_eq!(parsed[3].1, "764");
        assert_eq!(parsed[4].1, "500.37");
        assert_eq!(parsed[5].1, "TH");
        let (body, crc) = text.split_at(text.len() - 4);
        assert!(body.ends_with("6304"));
        assert_eq!(format!("{:04X}", crc16_ccitt_false(body.as_bytes())), crc);
        assert_eq!(crc, crc.to_uppercase());
    }

    #[test]
    fn national_and_ewallet_ids_use_their_sub_tags_and_amounts_two_decimals() {
        let national = PromptPayId::parse("1101700207030").unwrap();
        let text = payload(&national, d("100"));
        let parsed = fields(&text);
        assert_eq!(
            fields(&parsed[2].1)[1],
            ("02".into(), "1101700207030".into())
        );
        assert_eq!(parsed[4].1, "100.00");
        let wallet = PromptPayId::parse("123456789012345").unwrap();
        let parsed = fields(&payload(&wallet, d("0.5")));
        assert_eq!(
            fields(&parsed[2].1)[1],
            ("03".into(), "123456789012345".into())
        );
        assert_eq!(parsed[4].1, "0.50");
        assert_eq!(parsed[2].1.len(), 20 + 19);
    }
}
