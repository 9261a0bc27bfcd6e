//! Where the payer sends the money, as the cashier page shows it: the instructions an upstream's
//! connector stored with the order in the upstream log (`Storage::upstream_of`), turned into
//! labelled values with copy buttons, and for the operator's own accounts (the order's account,
//! as `account::pay_to` describes it, with a `method`) the block of its method: a bank account; a PromptPay
//! ID with its Thai QR (`octopus_domain::promptpay`) and the bank account it pays into; a UPI
//! VPA with its QR and the `upi://` link that opens a UPI app (`octopus_domain::upi`); an
//! e-wallet number. The text a QR encodes is also on the page (`data-payload` on the QR's
//! container), so a payer or a tester can read what a banking app will read.
//!
//! The QR codes are inline SVG drawn with SVG attributes only (`fill`, `d`), never a `style`
//! attribute, which the page's Content-Security-Policy (`style-src 'sha256-…'`) would block.
//!
//! Also here, because they decide what the payer reads: which digits of the amount to send are
//! highlighted ([`floating_digits`]) and the time left in words ([`time_left`]).

use octopus_domain::money::format_amount;
use octopus_domain::promptpay::{self, PromptPayId};
use octopus_domain::{upi, Currency, Order, RequestFields};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use rust_decimal::Decimal;

use super::catalog::Words;

/// One value the payer needs, with its label; `copy` puts a copy button next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub label: String,
    /// The element id of the value (`pay-<id>`).
    pub id: String,
    pub value: String,
    pub copy: bool,
}

/// The block of an own account: how to pay, what to pay to, and the QR and app link of the
/// methods that have them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayTo {
    /// `bank`, `promptpay`, `upi` or `wallet`.
    pub method: String,
    pub heading: String,
    pub rows: Vec<Row>,
    /// The QR code of the method, if it has one.
    pub qr: Option<Qr>,
    /// A `upi://` link.
    pub app_link: Option<String>,
}

/// A QR code on the page: the text it encodes (a PromptPay payload, a `upi://` link) and its
/// drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qr {
    pub payload: String,
    /// An inline `<svg>`.
    pub svg: String,
}

impl Qr {
    fn new(payload: String, label: &str) -> Option<Qr> {
        let svg = qr_svg(&payload, label)?;
        Some(Qr { payload, svg })
    }
}

/// What the page shows of an order's instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Labelled values, as an upstream gave them (Paykassma's wallet account).
    Listed(Vec<Row>),
    /// An own account's block.
    OwnAccount(PayTo),
}

/// The page's label for an upstream's instruction.
fn listed_label(key: &str) -> &'static str {
    match key {
        "account" => "label-account",
        "wallet_type" => "label-wallet-type",
        _ => "label-detail",
    }
}

/// The name of a known e-wallet as its users write it (`gcash` → `GCash`), in any case.
pub fn known_wallet(code: &str) -> Option<&'static str> {
    Some(match code.trim().to_ascii_lowercase().as_str() {
        "gcash" => "GCash",
        "bkash" => "bKash",
        "nagad" => "Nagad",
        "rocket" => "Rocket",
        "kbzpay" => "KBZPay",
        "wavepay" => "Wavepay",
        "truemoney" => "TrueMoney",
        "maya" | "paymaya" => "Maya",
        "paytm" => "Paytm",
        "momo" => "MoMo",
        "dana" => "DANA",
        "ovo" => "OVO",
        _ => return None,
    })
}

/// The name of an e-wallet as its users write it (`gcash` → `GCash`); others as they are.
pub fn wallet_name(code: &str) -> String {
    known_wallet(code)
        .map(str::to_string)
        .unwrap_or_else(|| code.trim().to_string())
}

/// What the page shows for `instructions` of `order`, in `words`.
pub fn shown(instructions: &RequestFields, order: &Order, words: &Words) -> Shown {
    match instructions.non_empty("method") {
        Some(method) => Shown::OwnAccount(own_account(method, instructions, order, words)),
        None => Shown::Listed(
            instructions
                .iter()
                .map(|(key, value)| Row {
                    label: words.get(listed_label(key)),
                    id: key.to_string(),
                    value: value.to_string(),
                    copy: key == "account",
                })
                .collect(),
        ),
    }
}

fn own_account(method: &str, fields: &RequestFields, order: &Order, words: &Words) -> PayTo {
    let value = |key: &str| fields.non_empty(key).map(|v| v.trim().to_string());
    let row = |label: String, id: &str, value: String, copy: bool| Row {
        label,
        id: id.to_string(),
        value,
        copy,
    };
    let holder = value("account_holder")
        .map(|v| row(words.get("label-account-holder"), "account-holder", v, true));
    // The bank's name where the account gives it, else its code (Thai bank codes).
    let bank = value("bank_name")
        .or_else(|| value("bank_code"))
        .map(|v| row(words.get("label-bank"), "bank", v, false));
    let method = method.trim().to_ascii_lowercase();
    let mut rows = Vec::new();
    let mut qr = None;
    let mut app_link = None;
    let heading;
    match method.as_str() {
        "promptpay" => {
            heading = words.get("how-promptpay");
            let id = value("promptpay_id").or_else(|| value("account_number"));
            if let Some(id) = id.clone() {
                match PromptPayId::parse(&id) {
                    Ok(parsed) => {
                        let payload = promptpay::payload(&parsed, order.final_amount);
                        qr = Qr::new(payload, &words.get("qr-promptpay"));
                        rows.push(row(
                            words.get("label-promptpay-id"),
                            "promptpay-id",
                            parsed.to_string(),
                            true,
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(payment_uid = %order.payment_uid, error = %e, "the account's PromptPay ID makes no QR");
                        rows.push(row(
                            words.get("label-promptpay-id"),
                            "promptpay-id",
                            id,
                            true,
                        ));
                    }
                }
            }
            // The bank account behind the PromptPay ID, for a payer who transfers to it
            // instead (the bank shown below is that account's).
            if let Some(number) = value("account_number").filter(|n| Some(n) != id.as_ref()) {
                rows.push(row(
                    words.get("label-account-number"),
                    "account-number",
                    number,
                    true,
                ));
            }
            rows.extend(holder);
            rows.extend(bank);
        }
        "upi" => {
            heading = words.get("how-upi");
            if let Some(vpa) = value("vpa").or_else(|| value("account_number")) {
                let link = upi::link(
                    &vpa,
                    &value("account_holder").unwrap_or_default(),
                    order.final_amount,
                    &order.payment_uid,
                );
                qr = Qr::new(link.clone(), &words.get("qr-upi"));
                app_link = Some(link);
                rows.push(row(words.get("label-vpa"), "vpa", vpa, true));
            }
            rows.extend(holder);
        }
        "wallet" => {
            // The wallet's name: the account's; else the payment method the merchant named,
            // when it is a wallet (`gcash`: accounts added without a name); else the words
            // for an e-wallet, never an empty name.
            let wallet = value("wallet")
                .map(|w| wallet_name(&w))
                .or_else(|| known_wallet(&order.payment).map(str::to_string))
                .unwrap_or_else(|| words.get("wallet-unnamed"));
            heading = words.with("how-wallet", &[("wallet", &wallet)]);
            if let Some(number) = value("account_number") {
                rows.push(row(
                    words.with("label-wallet-number", &[("wallet", &wallet)]),
                    "account-number",
                    number,
                    true,
                ));
            }
            rows.extend(holder);
        }
        // A bank account, and any method this page does not know yet: number, name, bank.
        _ => {
            heading = words.get("how-bank");
            if let Some(number) = value("account_number") {
                rows.push(row(
                    words.get("label-account-number"),
                    "account-number",
                    number,
                    true,
                ));
            }
            rows.extend(holder);
            rows.extend(bank);
        }
    }
    PayTo {
        method,
        heading,
        rows,
        qr,
        app_link,
    }
}

/// A QR code of `text` as an inline `<svg>` labelled `label`, one unit per module, sized by
/// the stylesheet. `None` if the text is too long for a QR code.
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .module_dimensions(1, 1)
        .quiet_zone(true)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    // The renderer writes a standalone document; inline, the `<svg>` element alone.
    let start = image.find("<svg")?;
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    Some(format!(
        r#"<svg role="img" aria-label="{label}" {}"#,
        &image[start + "<svg ".len()..]
    ))
}

/// The amount to send split into its plain and highlighted parts: the highlighted digits are
/// the ones the floating offset makes unique. For a currency with decimals that is its whole
/// fractional part (`500.37` → `500.` and `37`, and `499.63` for a negative offset → `499.`
/// and `63`: the payer reads "the cents must be exactly these"); for one without, as many
/// last digits as the offset has (`100037` → `1000` and `37`). An offset reaching further
/// (not made by the own-accounts rule) highlights as many last digits as it has. No offset:
/// nothing highlighted.
pub fn floating_digits(
    final_amount: Decimal,
    amount: Decimal,
    currency: Currency,
) -> (String, String) {
    let text = format_amount(final_amount, currency);
    let offset = (final_amount - amount).abs();
    if offset.is_zero() {
        return (text, String::new());
    }
    let units = (offset * Decimal::from(10u64.pow(currency.precision()))).trunc();
    let offset_digits = units.to_string().trim_start_matches('-').len();
    let highlighted = offset_digits.max(currency.precision() as usize);
    // Walk back over `highlighted` digits (a decimal point among them stays highlighted).
    let mut seen = 0;
    let mut split = text.len();
    for (index, c) in text.char_indices().rev() {
        if seen == highlighted {
            break;
        }
        if c.is_ascii_digit() {
            seen += 1;
            split = index;
        } else if c != '.' {
            break;
        }
    }
    let (plain, floating) = text.split_at(split);
    (plain.to_string(), floating.to_string())
}

/// Whole seconds from `now` (ms) until an open order expires at `expires_at` (ms); `None`
/// without an expiry.
pub fn seconds_left(expires_at: Option<i64>, now: i64) -> Option<i64> {
    expires_at.map(|at| ((at - now) / 1000).max(0))
}

/// The time left in words: hours and minutes from an hour up, else minutes and seconds.
pub fn time_left(seconds: i64, words: &Words) -> String {
    if seconds <= 0 {
        return words.get("time-up");
    }
    if seconds >= 3600 {
        words.with(
            "time-hours-minutes",
            &[
                ("hours", &(seconds / 3600).to_string()),
                ("minutes", &format!("{:02}", seconds % 3600 / 60)),
            ],
        )
    } else {
        words.with(
            "time-minutes-seconds",
            &[
                ("minutes", &(seconds / 60).to_string()),
                ("seconds", &format!("{:02}", seconds % 60)),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use octopus_domain::language::Language;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn the_digits_the_offset_makes_unique_are_highlighted() {
        let split = |f: &str, a: &str, c| {
            let (p, h) = floating_digits(d(f), d(a), c);
            (p, h)
        };
        let pair = |p: &str, h: &str| (p.to_string(), h.to_string());
        assert_eq!(split("500.37", "500.00", Currency::Thb), pair("500.", "37"));
        assert_eq!(split("499.63", "500", Currency::Thb), pair("499.", "63"));
        assert_eq!(split("500.05", "500", Currency::Thb), pair("500.", "05"));
        assert_eq!(split("1.01", "1", Currency::Inr), pair("1.", "01"));
        assert_eq!(split("500.00", "500", Currency::Thb), pair("500.00", ""));
        assert_eq!(split("100037", "100000", Currency::Vnd), pair("1000", "37"));
        assert_eq!(split("99963", "100000", Currency::Vnd), pair("999", "63"));
        assert_eq!(split("100005", "100000", Currency::Vnd), pair("10000", "5"));
        assert_eq!(split("501.37", "500", Currency::Thb), pair("50", "1.37"));
    }

    #[test]
    fn time_left_in_words() {
        let en = Words::new(Language::English);
        assert_eq!(time_left(14 * 60 + 5, &en), "14 min 05 s");
        assert_eq!(time_left(2 * 3600 + 7 * 60 + 59, &en), "2 h 07 min");
        assert_eq!(time_left(0, &en), "Time is up");
        assert_eq!(time_left(65, &Words::new(Language::Thai)), "1 นาที 05 วินาที");
        assert_eq!(seconds_left(Some(10_999), 1_000), Some(9));
        assert_eq!(seconds_left(Some(0), 1_000), Some(0));
        assert_eq!(seconds_left(None, 1_000), None);
    }

    #[test]
    fn a_qr_is_inline_svg_without_style_attributes() {
        let svg = qr_svg("upi://pay?pa=a@b&pn=A&am=1.00&cu=INR&tn=P", "UPI \"QR\"").unwrap();
        assert!(
            svg.starts_with(r#"<svg role="img" aria-label="UPI &quot;QR&quot;" xmlns="#),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style"), "{svg}");
        assert!(!svg.contains("<?xml"));
        assert!(svg.contains("<path fill=\"#000\" d=\"M"));
    }

    #[test]
    fn wallet_names_as_their_users_write_them() {
        assert_eq!(wallet_name("gcash"), "GCash");
        assert_eq!(wallet_name("BKASH"), "bKash");
        assert_eq!(wallet_name("SomePay"), "SomePay");
        assert_eq!(known_wallet(" GCash "), Some("GCash"));
        assert_eq!(known_wallet("philippines"), None);
    }
}
