//! Validation of `order/new`: turns the signed request fields into an [`OrderRequest`] or a
//! single clear error naming the field, in the documents' words
//! ("The 'amount' field is required.").

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::country;
use crate::fields::RequestFields;
use crate::money::{format_amount, Amount, AmountError, Currency};
use crate::order::{AccountingType, TransactionType};
use crate::thai_bank::ThaiBank;

/// A refused request parameter. Displays as the `details` of the documented error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("The '{0}' field is required.")]
    Required(&'static str),
    #[error("The '{field}' field {problem}.")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

impl ValidationError {
    fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        ValidationError::Invalid {
            field,
            problem: problem.into(),
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ValidationError::Required(f) => f,
            ValidationError::Invalid { field, .. } => field,
        }
    }
}

/// How the merchant wants the answer of `order/new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `"json"`: a JSON answer.
    Json,
    /// Empty or absent: a 302 redirect to the payment page (deposits).
    Redirect,
}

/// Fields of `order/new` that Octopus reads; everything else is kept as `extra`.
pub const KNOWN_FIELDS: &[&str] = &[
    "transaction_type",
    "amount",
    "merchant_order_id",
    "merchant_uid",
    "currency",
    "payment",
    "channel",
    "redirect_url",
    "notify_url",
    "response_type",
    "country",
    "accounting_type",
    "from",
    "from_name",
    "from_bank_name",
    "to",
    "to_name",
    "to_bank_name",
    "merchant_id",
    "ttl",
    "float_precision",
    "additional",
];

/// Limits on request values.
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_TEXT_CHARS: usize = 255;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_ADDITIONAL_CHARS: usize = 1000;
pub const MAX_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// A valid `order/new` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub transaction_type: TransactionType,
    pub accounting_type: AccountingType,
    pub amount: Amount,
    pub currency: Currency,
    pub merchant_order_id: String,
    pub merchant_uid: String,
    pub payment: String,
    /// The channel the merchant asked for, if any (routing decides the real one).
    pub channel: String,
    pub country: String,
    pub country_code: &'static str,
    pub response_type: ResponseType,
    pub response_type_text: String,
    pub redirect_url: String,
    pub notify_url: String,
    pub from: String,
    pub from_name: String,
    pub from_bank_name: String,
    pub to: String,
    pub to_name: String,
    pub to_bank_name: String,
    /// The request field `merchant_id`: the merchant's id of its end user.
    pub member_id: String,
    pub ttl: Option<i64>,
    /// Decimal places of the floating offset; positive adds, negative subtracts, 0 is none.
    pub float_precision: i8,
    pub additional: String,
    /// Unknown fields, accepted, signed and stored.
    pub extra: BTreeMap<String, String>,
}

impl OrderRequest {
    /// Validates the fields of an `order/new` request. Checks run in the documents' order of
    /// parameters and stop at the first problem.
    pub fn from_fields(fields: &RequestFields) -> Result<OrderRequest, ValidationError> {
        for field in [
            "transaction_type",
            "amount",
            "merchant_order_id",
            "merchant_uid",
            "currency",
            "payment",
            "country",
        ] {
            required_present(fields, field)?;
        }
        let required = |f: &'static str| fields.non_empty(f).unwrap_or_default();

        let transaction_type = match required("transaction_type").to_ascii_lowercase().as_str() {
            "income" => TransactionType::Income,
            "expense" => TransactionType::Expense,
            _ => {
                return Err(ValidationError::invalid(
                    "transaction_type",
                    "must be income or expense",
                ))
            }
        };
        let currency = Currency::parse(required("currency")).ok_or_else(|| {
            let codes: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
            ValidationError::invalid("currency", format!("must be one of {}", codes.join(", ")))
        })?;
        let amount = Amount::parse(required("amount"), currency).map_err(|e| {
            ValidationError::invalid(
                "amount",
                match e {
                    AmountError::TooPrecise => format!(
                        "may have at most {} decimal places for {}",
                        currency.precision(),
                        currency
                    ),
                    other => other.to_string(),
                },
            )
        })?;
        let merchant_order_id = identifier(fields, "merchant_order_id", MAX_ID_CHARS)?;
        let merchant_uid = identifier(fields, "merchant_uid", MAX_ID_CHARS)?;
        let payment = identifier(fields, "payment", MAX_ID_CHARS)?;
        let channel = identifier(fields, "channel", MAX_ID_CHARS)?;
        let redirect_url = url(fields, "redirect_url")?;
        let notify_url = url(fields, "notify_url")?;

        let response_type_text = fields.get("response_type").unwrap_or_default().to_string();
        let response_type = if response_type_text.is_empty() {
            ResponseType::Redirect
        } else if response_type_text.eq_ignore_ascii_case("json") {
            ResponseType::Json
        } else {
            return Err(ValidationError::invalid(
                "response_type",
                "must be \"json\" or empty",
            ));
        };

        let country = text(fields, "country", MAX_ID_CHARS)?;
        let country_code = country::normalize(&country).ok_or_else(|| {
            ValidationError::invalid(
                "country",
                "must be a country name or ISO 3166 code, such as \"myanmar\" or \"TH\"",
            )
        })?;

        let accounting_type = match fields.non_empty("accounting_type") {
            None => AccountingType::default_for(transaction_type),
            Some(text) => {
                let parsed: Option<AccountingType> = text.to_ascii_lowercase().parse().ok();
                match parsed {
                    Some(a) if a.fits(transaction_type) => a,
                    _ => {
                        return Err(ValidationError::invalid(
                            "accounting_type",
                            match transaction_type {
                                TransactionType::Income => "must be recharge or receive for income",
                                TransactionType::Expense => "must be pay or settle for expense",
                            },
                        ))
                    }
                }
            }
        };

        let from = identifier(fields, "from", MAX_TEXT_CHARS)?;
        let from_name = text(fields, "from_name", MAX_TEXT_CHARS)?;
        let from_bank_name = text(fields, "from_bank_name", MAX_TEXT_CHARS)?;
        bank_of_country("from_bank_name", &from_bank_name, country_code)?;
        if transaction_type == TransactionType::Expense {
            for field in ["to", "to_name", "to_bank_name"] {
                required_present(fields, field)?;
            }
        }
        let to = identifier(fields, "to", MAX_TEXT_CHARS)?;
        let to_name = text(fields, "to_name", MAX_TEXT_CHARS)?;
        let to_bank_name = text(fields, "to_bank_name", MAX_TEXT_CHARS)?;
        bank_of_country("to_bank_name", &to_bank_name, country_code)?;
        let member_id = identifier(fields, "merchant_id", MAX_TEXT_CHARS)?;

        let ttl = match fields.non_empty("ttl") {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(v)
                    if (1..=MAX_TTL_SECONDS).contains(&v)
                        && t.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Some(v)
                }
                _ => {
                    return Err(ValidationError::invalid(
                        "ttl",
                        format!("must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}"),
                    ))
                }
            },
        };

        let float_precision = match fields.non_empty("float_precision") {
            None => 0,
            Some(p) => {
                let value: i8 = match p {
                    "0" => 0,
                    "1" => 1,
                    "2" => 2,
                    "-1" => -1,
                    "-2" => -2,
                    _ => {
                        return Err(ValidationError::invalid(
                            "float_precision",
                            "must be one of -2, -1, 0, 1, 2",
                        ))
                    }
                };
                // A currency without decimals takes a whole-unit offset ("2": 1 to 99).
                value
            }
        };
        let additional = text(fields, "additional", MAX_ADDITIONAL_CHARS)?;

        let extra = fields
            .iter()
            .filter(|(k, _)| !KNOWN_FIELDS.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();

        Ok(OrderRequest {
            transaction_type,
            accounting_type,
            amount,
            currency,
            merchant_order_id,
            merchant_uid,
            payment,
            channel,
            country,
            country_code,
            response_type,
            response_type_text,
            redirect_url,
            notify_url,
            from,
            from_name,
            from_bank_name,
            to,
            to_name,
            to_bank_name,
            member_id,
            ttl,
            float_precision,
            additional,
            extra,
        })
    }

    /// Refuses a `notify_url` written with a loopback, private, link-local or otherwise
    /// non-public address (`http://127.0.0.1/`, `http://[::1]/`, `http://10.0.0.1/`, also in
    /// the numeric forms URLs allow, such as `http://2130706433/`), for a gateway that does not
    /// allow private callbacks: such a callback could never be delivered. A host name is
    /// checked when the callback is sent, after DNS (`callback::forbidden_address`).
    pub fn check_notify_destination(&self) -> Result<(), ValidationError> {
        if self.notify_url.is_empty() {
            return Ok(());
        }
        match crate::callback::forbidden_literal(&self.notify_url) {
            Some((ip, why)) => Err(ValidationError::invalid(
                "notify_url",
                format!("points to {ip}, {why}; private destinations are not allowed"),
            )),
            None => Ok(()),
        }
    }

    /// A hash of everything that defines the order (not how the answer is formatted), used to
    /// tell an idempotent retry from a different order reusing a `merchant_order_id`.
    /// Values are compared after normalization: `"100.5"` and `"100.50"` are the same amount.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        // Length-prefixed, so no choice of keys and values can make two parameter sets hash
        // the same.
        let mut put = |k: &str, v: &str| {
            h.update((k.len() as u64).to_be_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        };
        put("transaction_type", self.transaction_type.as_str());
        put("accounting_type", self.accounting_type.as_str());
        put("amount", &format_amount(self.amount.value(), self.currency));
        put("currency", self.currency.code());
        put("payment", &self.payment);
        put("channel", &self.channel);
        put("country", self.country_code);
        put("redirect_url", &self.redirect_url);
        put("notify_url", &self.notify_url);
        put("from", &self.from);
        put("from_name", &self.from_name);
        put("from_bank_name", &self.from_bank_name);
        put("to", &self.to);
        put("to_name", &self.to_name);
        put("to_bank_name", &self.to_bank_name);
        put("merchant_id", &self.member_id);
        put("ttl", &self.ttl.map(|t| t.to_string()).unwrap_or_default());
        put("float_precision", &self.float_precision.to_string());
        put("additional", &self.additional);
        for (k, v) in &self.extra {
            put(k, v);
        }
        hex::encode(h.finalize())
    }
}

/// Fields that identify something (an order, a merchant, a method, an account, an end user):
/// when present they must not be blank, because an id of white space cannot be told apart
/// from a missing one, or from another blank id, on a console or in an export. Every other text
/// field (names, banks, the remark, URLs) is a name: any visible text.
pub const IDENTIFIER_FIELDS: &[&str] = &[
    "merchant_order_id",
    "merchant_uid",
    "payment",
    "channel",
    "from",
    "to",
    "merchant_id",
];

/// A required field: present, not empty, and not only white space.
fn required_present(fields: &RequestFields, field: &'static str) -> Result<(), ValidationError> {
    match fields.non_empty(field) {
        None => Err(ValidationError::Required(field)),
        Some(value) if is_blank(value) => Err(ValidationError::invalid(field, "must not be blank")),
        Some(_) => Ok(()),
    }
}

/// Non-empty and nothing but white space (any Unicode white space: U+00A0, U+3000, ...).
fn is_blank(value: &str) -> bool {
    !value.is_empty() && value.chars().all(char::is_whitespace)
}

/// An optional text field: at most `max` characters, no control characters and no invisible
/// characters (bidirectional overrides, zero-width characters, a byte order mark: see
/// [`crate::invisible`]), which would make what a console shows differ from what is stored.
fn text(
    fields: &RequestFields,
    field: &'static str,
    max: usize,
) -> Result<String, ValidationError> {
    let value = fields.get(field).unwrap_or_default();
    if value.chars().count() > max {
        return Err(ValidationError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    if let Some(c) = crate::invisible::first_invisible(value) {
        return Err(invisible_character(field, c));
    }
    Ok(value.to_string())
}

/// The refusal of a text with an invisible character, naming it.
pub fn invisible_character(field: &'static str, c: char) -> ValidationError {
    let what = crate::invisible::invisible(c)
        .map(|r| r.what)
        .unwrap_or("invisible");
    ValidationError::invalid(
        field,
        format!(
            "must not contain invisible characters (U+{:04X}, {what})",
            c as u32
        ),
    )
}

/// An optional identifier (see [`IDENTIFIER_FIELDS`]): a text field that is empty (absent) or
/// not blank.
fn identifier(
    fields: &RequestFields,
    field: &'static str,
    max: usize,
) -> Result<String, ValidationError> {
    debug_assert!(
        IDENTIFIER_FIELDS.contains(&field),
        "{field} is listed as an identifier"
    );
    let value = text(fields, field, max)?;
    if is_blank(&value) {
        return Err(ValidationError::invalid(field, "must not be blank"));
    }
    Ok(value)
}

/// A bank name where the country has a list of banks: in Thailand (`TH`) a bank name given
/// must be a code or short name of the Thai bank list ([`ThaiBank::parse`]), because that is
/// what the Thailand document asks for and what an operator's bank needs to pay; elsewhere any
/// text. The value is kept as the merchant sent it (`"kbank "` stays `"kbank "`): the order's
/// fingerprint and `order/get` show what was sent, and whoever pays reads the bank through
/// [`ThaiBank::parse`] again.
fn bank_of_country(
    field: &'static str,
    value: &str,
    country_code: &str,
) -> Result<(), ValidationError> {
    if country_code != "TH" || value.is_empty() || ThaiBank::parse(value).is_ok() {
        return Ok(());
    }
    Err(ValidationError::invalid(field, THAI_BANK_PROBLEM))
}

/// What a Thailand bank name that is not on the list is told (after "The 'to_bank_name' field").
pub const THAI_BANK_PROBLEM: &str =
    "must be a Thai bank code or short name, such as \"004\" or \"KBANK\" (see \"Thai bank codes\" in docs/api.md)";

/// An optional URL field: empty, or an absolute http(s) URL.
fn url(fields: &RequestFields, field: &'static str) -> Result<String, ValidationError> {
    let value = text(fields, field, MAX_URL_CHARS)?;
    if value.is_empty() {
        return Ok(value);
    }
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() && !value.contains(' ') => {
            Ok(value)
        }
        _ => Err(ValidationError::invalid(
            field,
            "must be an absolute http or https URL",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deposit() -> RequestFields {
        [
            ("transaction_type", "income"),
            ("amount", "100.00"),
            ("currency", "mmk"),
            ("payment", "myanmar"),
            ("merchant_order_id", "123qq"),
            ("merchant_uid", "M1"),
            ("response_type", "json"),
            ("country", "myanmar"),
            ("channel", "myanmar"),
        ]
        .into_iter()
        .collect()
    }

    fn details(f: &RequestFields) -> String {
        OrderRequest::from_fields(f).unwrap_err().to_string()
    }

    #[test]
    fn accepts_the_documented_deposit_with_defaults() {
        let r = OrderRequest::from_fields(&deposit()).unwrap();
        assert_eq!(r.accounting_type, AccountingType::Receive);
        assert_eq!(r.country_code, "MM");
        assert_eq!(r.response_type, ResponseType::Json);
        assert!(r.extra.is_empty());
    }

    #[test]
    fn names_the_missing_or_malformed_field() {
        for field in [
            "transaction_type",
            "amount",
            "merchant_order_id",
            "merchant_uid",
            "currency",
            "payment",
            "country",
        ] {
            let mut f = deposit();
            f.remove(field);
            assert_eq!(details(&f), format!("The '{field}' field is required."));
            f.insert(field, "");
            assert_eq!(details(&f), format!("The '{field}' field is required."));
        }
        let mut f = deposit();
        f.insert("amount", "12.345");
        assert_eq!(
            details(&f),
            "The 'amount' field may have at most 2 decimal places for mmk."
        );
        f.insert("amount", "-1");
        assert_eq!(
            details(&f),
            "The 'amount' field must be a decimal number such as \"100.00\"."
        );
        let mut f = deposit();
        f.insert("accounting_type", "pay");
        assert_eq!(
            details(&f),
            "The 'accounting_type' field must be recharge or receive for income."
        );
        let mut f = deposit();
        f.insert("transaction_type", "expense");
        assert_eq!(details(&f), "The 'to' field is required.");
        let mut f = deposit();
        f.insert("notify_url", "ftp://x");
        assert_eq!(
            details(&f),
            "The 'notify_url' field must be an absolute http or https URL."
        );
        let mut f = deposit();
        f.insert("float_precision", "3");
        assert!(details(&f).starts_with("The 'float_precision' field must be one of"));
        let mut f = deposit();
        f.insert("currency", "vnd");
        f.insert("amount", "1000");
        f.insert("float_precision", "2");
        assert_eq!(
            OrderRequest::from_fields(&f).unwrap().float_precision,
            2,
            "a currency without decimals takes whole-unit offsets"
        );
    }

    fn payout() -> RequestFields {
        let mut f = deposit();
        f.insert("transaction_type", "expense");
        f.insert("to", "1234567890");
        f.insert("to_name", "Jane Doe");
        f.insert("to_bank_name", "kbz");
        f
    }

    #[test]
    fn blank_identifiers_are_refused_naming_the_field() {
        OrderRequest::from_fields(&payout()).unwrap();
        for field in [
            "merchant_order_id",
            "merchant_uid",
            "payment",
            "to",
            "to_name",
            "to_bank_name",
        ] {
            for blank in [" ", "   ", "\u{3000}", "\u{00A0}"] {
                let mut f = payout();
                f.insert(field, blank);
                assert_eq!(
                    details(&f),
                    format!("The '{field}' field must not be blank."),
                    "{field} {blank:?}"
                );
            }
        }
        for field in ["channel", "from", "merchant_id"] {
            let mut f = payout();
            f.insert(field, " ");
            assert_eq!(
                details(&f),
                format!("The '{field}' field must not be blank.")
            );
            // Empty is absent, as before.
            f.insert(field, "");
            OrderRequest::from_fields(&f).unwrap();
        }
        // A name may hold spaces between words; an optional name may be blank.
        let mut f = payout();
        f.insert("from_name", " ");
        f.insert("to_name", "  Jane  Doe ");
        OrderRequest::from_fields(&f).unwrap();
    }

    #[test]
    fn invisible_characters_are_refused_in_identifiers_and_names() {
        let fields = [
            "merchant_order_id",
            "merchant_uid",
            "payment",
            "channel",
            "from",
            "from_name",
            "from_bank_name",
            "to",
            "to_name",
            "to_bank_name",
            "merchant_id",
            "additional",
            "redirect_url",
            "notify_url",
        ];
        for field in fields {
            for (c, what) in [
                ('\u{202E}', "U+202E, bidirectional embeddings and overrides"),
                ('\u{200B}', "U+200B, zero-width space, non-joiner, joiner, left-to-right and right-to-left marks"),
                ('\u{FEFF}', "U+FEFF, byte order mark (zero-width no-break space)"),
                ('\u{00AD}', "U+00AD, soft hyphen"),
            ] {
                let mut f = payout();
                let base = if field.ends_with("_url") { "https://example.com/x" } else { "ab" };
                f.insert(field, format!("{base}{c}1"));
                assert_eq!(
                    details(&f),
                    format!("The '{field}' field must not contain invisible characters ({what})."),
                    "{field}"
                );
            }
        }
        // Alone, a zero-width character is not blank: it is refused as invisible.
        let mut f = payout();
        f.insert("merchant_order_id", "\u{200B}");
        assert!(
            details(&f).contains("invisible characters (U+200B"),
            "{}",
            details(&f)
        );
    }

    #[test]
    fn thai_bank_names_are_codes_or_short_names_of_the_list() {
        let thai = |field: &str, bank: &str| {
            let mut f = payout();
            f.insert("currency", "thb");
            f.insert("country", "thailand");
            f.insert("to_bank_name", "004");
            f.insert(field, bank);
            f
        };
        for field in ["from_bank_name", "to_bank_name"] {
            for bank in ["004", "kbank", "KBANK", "Kbank ", " scb", "065", "tbank"] {
                let r = OrderRequest::from_fields(&thai(field, bank)).unwrap();
                // Kept as sent.
                let kept = if field == "to_bank_name" {
                    &r.to_bank_name
                } else {
                    &r.from_bank_name
                };
                assert_eq!(kept, bank, "{field}");
            }
            for bank in ["KBANK2", "999", "4", "Kasikornbank", "kbz"] {
                assert_eq!(
                    details(&thai(field, bank)),
                    format!(
                        "The '{field}' field must be a Thai bank code or short name, such as \"004\" or \"KBANK\" (see \"Thai bank codes\" in docs/api.md)."
                    ),
                    "{field} {bank:?}"
                );
            }
        }
        // A blank payer bank is no Thai bank; a payout's blank one is refused as blank first.
        assert!(details(&thai("from_bank_name", " ")).contains("must be a Thai bank code"));
        assert_eq!(
            details(&thai("to_bank_name", " ")),
            "The 'to_bank_name' field must not be blank."
        );
        // The country decides, in any of its spellings; an absent payer bank is fine.
        let mut f = thai("to_bank_name", "kbz");
        f.insert("country", "TH");
        assert!(details(&f).starts_with("The 'to_bank_name' field must be a Thai bank"));
        let mut f = thai("from_bank_name", "");
        OrderRequest::from_fields(&f).unwrap();
        f.insert("country", "myanmar");
        f.insert("to_bank_name", "kbz");
        f.insert("from_bank_name", "Bank of Example");
        OrderRequest::from_fields(&f).unwrap();
        // Spelled differently, the bank is a different parameter: retries send what they sent.
        let a = OrderRequest::from_fields(&thai("to_bank_name", "004")).unwrap();
        let b = OrderRequest::from_fields(&thai("to_bank_name", "KBANK")).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn literal_private_notify_urls_are_refused() {
        for url in [
            "http://127.0.0.1/cb",
            "http://10.0.0.1/",
            "https://[::1]:8443/cb",
            "http://2130706433/",
            "http://169.254.169.254/latest",
            "http://[::ffff:192.168.1.1]/",
            "http://0x7f.1/",
        ] {
            let mut f = deposit();
            f.insert("notify_url", url);
            let r = OrderRequest::from_fields(&f).unwrap();
            let e = r.check_notify_destination().unwrap_err();
            assert_eq!(e.field(), "notify_url", "{url}");
            assert!(
                e.to_string()
                    .ends_with("private destinations are not allowed."),
                "{url}: {e}"
            );
        }
        let mut f = deposit();
        f.insert("notify_url", "http://127.0.0.1/cb");
        assert_eq!(
            OrderRequest::from_fields(&f).unwrap().check_notify_destination().unwrap_err().to_string(),
            "The 'notify_url' field points to 127.0.0.1, a loopback address; private destinations are not allowed."
        );
        // Names are checked at delivery, after DNS; public addresses and no URL pass.
        for url in [
            "http://localhost:9/",
            "https://example.com/notify",
            "http://8.8.8.8/",
            "",
        ] {
            let mut f = deposit();
            f.insert("notify_url", url);
            OrderRequest::from_fields(&f)
                .unwrap()
                .check_notify_destination()
                .unwrap();
        }
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://127.0.0.1/",
            "javascript:alert(1)",
        ] {
            let mut f = deposit();
            f.insert("notify_url", url);
            assert_eq!(
                details(&f),
                "The 'notify_url' field must be an absolute http or https URL.",
                "{url}"
            );
        }
    }

    #[test]
    fn fingerprint_ignores_formatting_but_not_parameters() {
        let a = OrderRequest::from_fields(&deposit()).unwrap();
        let mut f = deposit();
        f.insert("amount", "100");
        f.insert("response_type", "");
        let b = OrderRequest::from_fields(&f).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        f.insert("amount", "100.01");
        let c = OrderRequest::from_fields(&f).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
        // extra fields whose bytes could be shifted between key and value still differ
        let mut x = deposit();
        x.insert("x\u{1f}y", "z");
        let mut y = deposit();
        y.insert("x", "y\u{1f}z");
        let (x, y) = (
            OrderRequest::from_fields(&x).unwrap(),
            OrderRequest::from_fields(&y).unwrap(),
        );
        assert_ne!(x.fingerprint(), y.fingerprint());
    }
}
