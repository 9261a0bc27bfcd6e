//! Payee checks: whether a payout's `to` (and, for banks, `to_bank_name`) is something the
//! method that pays can pay to, before the payout is stored and money is held for it. An
//! operator paying from its own accounts types or uploads these values into a bank or wallet
//! app; a VPA without a handle or a 9-digit wallet number would come back failed hours later.
//!
//! The checks belong to the method, not to the merchant API: the own-accounts connector calls
//! [`check`] from its `accepts`, so they apply only when such a channel is the one routed to,
//! and a seed document's example sent to the sandbox is never refused by them. Each check also
//! gives the payee in the form the bank wants ([`Payee`]: digits without separators, a
//! wallet number in its national form, the IFSC and Thai bank code upper case).

use crate::thai_bank::ThaiBank;

/// How an own-accounts payout reaches its payee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayeeMethod {
    /// India, UPI: `to` is a VPA (`name@handle`).
    Upi,
    /// India, bank transfer: `to` is the account number, `to_bank_name` the branch's IFSC.
    IndianBank,
    /// Bangladesh, bKash: `to` is the wallet's mobile number.
    Bkash,
    /// Bangladesh, Nagad: `to` is the wallet's mobile number.
    Nagad,
    /// Philippines, GCash: `to` is the wallet's mobile number.
    Gcash,
    /// Thailand, bank transfer: `to` is the account number, `to_bank_name` a Thai bank.
    ThaiBank,
    /// Anything else: no check here (the operator pays by hand and reads what was sent).
    Other,
}

/// Why a payee cannot be paid by the method. Displays as the whole `details` sentence of the
/// documented 400, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayeeError {
    #[error("The 'to' field must be a UPI VPA such as \"name@bank\": 2 to 256 letters, digits, '.', '-' or '_', one '@', then 2 to 64 letters or digits.")]
    Vpa,
    #[error("The 'to_bank_name' field must be the branch's IFSC, such as \"SBIN0001234\": 4 letters, a 0, then 6 letters or digits.")]
    Ifsc,
    #[error("The 'to' field must be an Indian bank account number of 9 to 18 digits.")]
    IndianAccount,
    #[error("The 'to' field must be a {wallet} number of 11 digits starting 01, such as \"01712345678\" (or +880 and 10 digits).")]
    BangladeshWallet { wallet: &'static str },
    #[error("The 'to' field must be a GCash number of 11 digits starting 09, such as \"09171234567\" (or +63 and 10 digits).")]
    Gcash,
    #[error("The 'to_bank_name' field {}.", crate::request::THAI_BANK_PROBLEM)]
    ThaiBank,
    #[error("The 'to' field must be a Thai bank account number of 10 to 12 digits.")]
    ThaiAccount,
}

impl PayeeError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            PayeeError::Ifsc | PayeeError::ThaiBank => "to_bank_name",
            _ => "to",
        }
    }
}

/// A payee the method can pay, in the form its bank or wallet wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    /// The VPA as sent (trimmed); an account or wallet number as digits only, a wallet number
    /// in its national form (`01712345678`, `09171234567`).
    pub account: String,
    /// The IFSC upper case, or the Thai bank; empty for wallets and UPI.
    pub bank: String,
}

/// Whether `method` can pay `account` (the payout's `to`) at `bank` (its `to_bank_name`).
pub fn check(method: PayeeMethod, account: &str, bank: &str) -> Result<(), PayeeError> {
    parse(method, account, bank).map(|_| ())
}

/// The payee of a payout by `method`, or why it cannot be paid; `to` is checked before
/// `to_bank_name`, in the documents' order of parameters. Surrounding white space is
/// ignored everywhere; inside account and wallet numbers, spaces and '-' between digits are
/// ignored too, as people write them (`123-4-56789-0`, `0917 123 4567`).
pub fn parse(method: PayeeMethod, account: &str, bank: &str) -> Result<Payee, PayeeError> {
    let account = account.trim();
    let bank = bank.trim();
    let payee = |account: String, bank: &str| Payee {
        account,
        bank: bank.to_string(),
    };
    match method {
        PayeeMethod::Upi => {
            if !is_vpa(account) {
                return Err(PayeeError::Vpa);
            }
            Ok(payee(account.to_string(), ""))
        }
        PayeeMethod::IndianBank => {
            let digits = number(account)
                .filter(|d| (9..=18).contains(&d.len()))
                .ok_or(PayeeError::IndianAccount)?;
            if !is_ifsc(bank) {
                return Err(PayeeError::Ifsc);
            }
            Ok(payee(digits, &bank.to_ascii_uppercase()))
        }
        PayeeMethod::Bkash | PayeeMethod::Nagad => {
            let wallet = if method == PayeeMethod::Bkash {
                "bKash"
            } else {
                "Nagad"
            };
            let digits =
                mobile(account, "880", "01").ok_or(PayeeError::BangladeshWallet { wallet })?;
            Ok(payee(digits, ""))
        }
        PayeeMethod::Gcash => {
            let digits = mobile(account, "63", "09").ok_or(PayeeError::Gcash)?;
            Ok(payee(digits, ""))
        }
        PayeeMethod::ThaiBank => {
            let digits = number(account)
                .filter(|d| (10..=12).contains(&d.len()))
                .ok_or(PayeeError::ThaiAccount)?;
            let thai = ThaiBank::parse(bank).map_err(|_| PayeeError::ThaiBank)?;
            Ok(payee(digits, thai.code()))
        }
        PayeeMethod::Other => Ok(payee(account.to_string(), bank)),
    }
}

/// `name@handle`: 2 to 256 of ASCII letters, digits, '.', '-', '_' before a single '@', 2 to 64
/// ASCII letters or digits after it (NPCI's handles are such words: `okaxis`, `ybl`, `paytm`).
fn is_vpa(text: &str) -> bool {
    let Some((name, handle)) = text.split_once('@') else {
        return false;
    };
    (2..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && (2..=64).contains(&handle.len())
        && handle.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An IFSC: 4 letters (the bank), `0`, 6 letters or digits (the branch), in any case: RBI
/// writes them upper case, but the code is the same code in lower case, and refusing
/// `sbin0001234` would only make a merchant resend it.
fn is_ifsc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 11
        && b[..4].iter().all(u8::is_ascii_alphabetic)
        && b[4] == b'0'
        && b[5..].iter().all(u8::is_ascii_alphanumeric)
}

/// The ASCII digits of a number written with optional spaces or '-' between them; `None` when
/// it has anything else, begins or ends with a separator, or has no digit.
fn number(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let separator = |b: &u8| matches!(b, b' ' | b'-');
    if bytes.first().is_none_or(separator) || bytes.last().is_some_and(separator) {
        return None;
    }
    if bytes
        .windows(2)
        .any(|w| separator(&w[0]) && separator(&w[1]))
    {
        return None;
    }
    if !bytes.iter().all(|b| b.is_ascii_digit() || separator(b)) {
        return None;
    }
    Some(
        bytes
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|&b| b as char)
            .collect(),
    )
}

/// A mobile number in its national form: 11 digits starting `trunk` (`01`, `09`), or the same
/// number written internationally, `+<country>` or `<country>` followed by the 10 digits
/// after the leading 0 (`+8801712345678`, `639171234567`). Separators as in [`number`].
fn mobile(text: &str, country: &str, trunk: &str) -> Option<String> {
    let (international, rest) = match text.strip_prefix('+') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let digits = number(rest)?;
    let national = match digits.strip_prefix(country) {
        Some(tail) if tail.len() == 10 => format!("0{tail}"),
        _ if international => return None,
        _ => digits,
    };
    (national.len() == 11 && national.starts_with(trunk)).then_some(national)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PayeeMethod::{Bkash, Gcash, IndianBank, Nagad, Other, ThaiBank, Upi};

    fn refused(method: PayeeMethod, account: &str, bank: &str) -> PayeeError {
        parse(method, account, bank).unwrap_err()
    }

    #[test]
    fn upi_vpas() {
        for vpa in [
            "ravi@okaxis",
            "ravi.kumar-1_2@ybl",
            "9876543210@paytm",
            " RK@SBI ",
            &format!("{}@{}", "a".repeat(256), "b".repeat(64)),
        ] {
            let p = parse(Upi, vpa, "").unwrap_or_else(|e| panic!("{vpa}: {e}"));
            assert_eq!(p.account, vpa.trim());
            assert_eq!(p.bank, "");
        }
        for vpa in [
            "",
            "ravi",
            "@okaxis",
            "r@okaxis",
            "ravi@",
            "ravi@o",
            "ravi@@okaxis",
            "ravi@ok@axis",
            "ravi@ok.axis",
            "ravi kumar@okaxis",
            "ravi@ok-axis",
            "रवि@okaxis",
            "ravi+1@okaxis",
            &format!("{}@ybl", "a".repeat(257)),
            &format!("ravi@{}", "b".repeat(65)),
        ] {
            let e = refused(Upi, vpa, "");
            assert_eq!(e, PayeeError::Vpa, "{vpa}");
            assert_eq!(e.field(), "to");
        }
        assert!(PayeeError::Vpa
            .to_string()
            .starts_with("The 'to' field must be a UPI VPA"));
    }

    #[test]
    fn indian_bank_transfers() {
        let p = parse(IndianBank, "001234567890", "sbin0001234").unwrap();
        assert_eq!(p.account, "001234567890", "leading zeros are the number's");
        assert_eq!(p.bank, "SBIN0001234");
        for (account, ifsc) in [
            ("123456789", "HDFC0ABC123"),
            ("123456789012345678", "ICIC0000001"),
            ("1234 5678 9012", " Kkbk0000958 "),
        ] {
            check(IndianBank, account, ifsc).unwrap_or_else(|e| panic!("{account} {ifsc}: {e}"));
        }
        for ifsc in [
            "",
            "SBIN1001234",
            "SBI00001234",
            "SBIN000123",
            "SBIN00012345",
            "1BIN0001234",
            "SBIN0-01234",
            "UPI",
        ] {
            let e = refused(IndianBank, "123456789", ifsc);
            assert_eq!(e, PayeeError::Ifsc, "{ifsc}");
            assert_eq!(e.field(), "to_bank_name");
        }
        for account in [
            "",
            "12345678",
            "1234567890123456789",
            "12345678a",
            "-123456789",
            "123456789-",
            "1234--56789",
            "١٢٣٤٥٦٧٨٩",
        ] {
            assert_eq!(
                refused(IndianBank, account, "SBIN0001234"),
                PayeeError::IndianAccount,
                "{account}"
            );
        }
    }

    #[test]
    fn bangladesh_wallets() {
        for method in [Bkash, Nagad] {
            for (sent, national) in [
                ("01712345678", "01712345678"),
                (" 01912-345678 ", "01912345678"),
                ("+8801712345678", "01712345678"),
                ("+880 1712 345678", "01712345678"),
                ("8801312345678", "01312345678"),
            ] {
                let p = parse(method, sent, "bkash").unwrap_or_else(|e| panic!("{sent}: {e}"));
                assert_eq!(p.account, national);
                assert_eq!(p.bank, "");
            }
            for sent in [
                "",
                "0171234567",
                "017123456789",
                "02712345678",
                "1712345678",
                "+01712345678",
                "+88001712345678",
                "+8802712345678",
                "880171234567",
                "+63 9171234567",
                "0171234567x",
            ] {
                let e = refused(method, sent, "");
                assert!(matches!(e, PayeeError::BangladeshWallet { .. }), "{sent}");
                assert_eq!(e.field(), "to");
            }
        }
        assert!(refused(Nagad, "1", "")
            .to_string()
            .starts_with("The 'to' field must be a Nagad number of 11 digits starting 01"));
        assert!(refused(Bkash, "1", "")
            .to_string()
            .starts_with("The 'to' field must be a bKash number"));
    }

    #[test]
    fn gcash_numbers() {
        for (sent, national) in [
            ("09171234567", "09171234567"),
            ("0917 123 4567", "09171234567"),
            ("+639171234567", "09171234567"),
            ("+63 917-123-4567", "09171234567"),
            ("639991234567", "09991234567"),
        ] {
            assert_eq!(parse(Gcash, sent, "").unwrap().account, national, "{sent}");
        }
        for sent in [
            "",
            "9171234567",
            "0917123456",
            "091712345678",
            "08171234567",
            "+09171234567",
            "+638171234567",
            "+6309171234567",
            "+8801712345678",
            "0917.123.4567",
        ] {
            assert_eq!(refused(Gcash, sent, ""), PayeeError::Gcash, "{sent}");
        }
    }

    #[test]
    fn thai_bank_transfers() {
        let p = parse(ThaiBank, "123-4-56789-0", "kbank").unwrap();
        assert_eq!(p.account, "1234567890");
        assert_eq!(p.bank, "004");
        assert_eq!(parse(ThaiBank, "020012345678", "GSB").unwrap().bank, "030");
        assert_eq!(parse(ThaiBank, "12345678901", "065").unwrap().bank, "011");
        check(ThaiBank, " 123 456 7890 ", " 014 ").unwrap();
        for bank in ["", "KBANK2", "999", "kbz", "Kasikornbank"] {
            let e = refused(ThaiBank, "1234567890", bank);
            assert_eq!(e, PayeeError::ThaiBank, "{bank}");
            assert_eq!(e.field(), "to_bank_name");
        }
        for account in [
            "",
            "123456789",
            "1234567890123",
            "99999999",
            "123456789O",
            "123_456_7890",
        ] {
            assert_eq!(
                refused(ThaiBank, account, "004"),
                PayeeError::ThaiAccount,
                "{account}"
            );
        }
        // In the documents' order of parameters, as request validation: `to` first.
        assert_eq!(refused(ThaiBank, "1", "x"), PayeeError::ThaiAccount);
        assert_eq!(refused(IndianBank, "1", "x"), PayeeError::IndianAccount);
    }

    #[test]
    fn other_methods_take_what_was_sent() {
        let p = parse(Other, " 99999999 ", "kbz").unwrap();
        assert_eq!((p.account.as_str(), p.bank.as_str()), ("99999999", "kbz"));
        check(Other, "", "").unwrap();
    }

    #[test]
    fn every_message_names_its_field() {
        for e in [
            PayeeError::Vpa,
            PayeeError::Ifsc,
            PayeeError::IndianAccount,
            PayeeError::BangladeshWallet { wallet: "bKash" },
            PayeeError::Gcash,
            PayeeError::ThaiBank,
            PayeeError::ThaiAccount,
        ] {
            assert!(
                e.to_string()
                    .starts_with(&format!("The '{}' field must be ", e.field())),
                "{e}"
            );
        }
    }
}
