//! The UPI payment link of an INR deposit on one of the operator's own UPI accounts:
//! `upi://pay?pa=<vpa>&pn=<name>&am=<amount>&cu=INR&tn=<reference>`. On a phone the link opens
//! the payer's UPI app with the payee and the exact `final_amount` filled in; the cashier page
//! also shows it as a QR code for a payer on another device.
//!
//! Values are percent-encoded (UTF-8, upper-case hex) except the characters RFC 3986 leaves
//! unreserved and the `@` of a VPA, which UPI apps expect as it is; a space is `%20`, not `+`
//! (not every app reads form encoding).

use rust_decimal::Decimal;

use crate::money::format_places;

/// Percent-encodes one query value of a UPI link.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The link that pays `amount` rupees to `vpa` (shown to the payer as `payee_name`), with
/// `reference` as the transfer's note (the order's payment_uid, so a payer's statement names
/// the order).
pub fn link(vpa: &str, payee_name: &str, amount: Decimal, reference: &str) -> String {
    format!(
        "upi://pay?pa={}&pn={}&am={}&cu=INR&tn={}",
        encode(vpa.trim()),
        encode(payee_name.trim()),
        format_places(amount.round_dp(2), 2),
        encode(reference)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_link_names_the_payee_the_amount_and_the_order() {
        assert_eq!(
            link("shop@okaxis", "Shop", d("500.37"), "P123abc"),
            "upi://pay?pa=shop@okaxis&pn=Shop&am=500.37&cu=INR&tn=P123abc"
        );
        assert_eq!(
            link("shop@ybl", "Shop", d("100"), "P1"),
            "upi://pay?pa=shop@ybl&pn=Shop&am=100.00&cu=INR&tn=P1",
            "always two decimals"
        );
    }

    #[test]
    fn values_are_percent_encoded() {
        let text = link(" a.b-c_d@upi ", "Ravi & Sons Pvt. Ltd", d("1.5"), "x=y&z");
        assert_eq!(
            text,
            "upi://pay?pa=a.b-c_d@upi&pn=Ravi%20%26%20Sons%20Pvt.%20Ltd&am=1.50&cu=INR&tn=x%3Dy%26z"
        );
        // A name in Devanagari is UTF-8, byte by byte.
        assert_eq!(
            link("r@upi", "रवि", d("1"), "P"),
            "upi://pay?pa=r@upi&pn=%E0%A4%B0%E0%A4%B5%E0%A4%BF&am=1.00&cu=INR&tn=P"
        );
        // Decoding gives the values back, and no value can add a parameter.
        let parsed = url::Url::parse(&text).unwrap();
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("pa".to_string(), "a.b-c_d@upi".to_string()),
                ("pn".into(), "Ravi & Sons Pvt. Ltd".into()),
                ("am".into(), "1.50".into()),
                ("cu".into(), "INR".into()),
                ("tn".into(), "x=y&z".into()),
            ]
        );
    }
}
