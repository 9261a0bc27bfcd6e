//! Validation of `order/new`: turns the signed request fields into an [`OrderRequest`] or a
//! single clear error naming the field, in the documents' words
//! ("The 'amount' field is required.").

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::fields::RequestFields;
use crate::money::{format_amount, Amount, AmountError, Currency};
use crate::order::{AccountingType, TransactionType};
use crate::country;

/// A refused request parameter. Displays as the `details` of the documented error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("The '{0}' field is required.")]
    Required(&'static str),
    #[error("The '{field}' field {problem}.")]
    Invalid { field: &'static str, problem: String },
}

impl ValidationError {
    fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        ValidationError::Invalid { field, problem: problem.into() }
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
            if fields.non_empty(field).is_none() {
                return Err(ValidationError::Required(field));
            }
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
        let merchant_order_id = text(fields, "merchant_order_id", MAX_ID_CHARS)?;
        let merchant_uid = text(fields, "merchant_uid", MAX_ID_CHARS)?;
        let payment = text(fields, "payment", MAX_ID_CHARS)?;
        let channel = text(fields, "channel", MAX_ID_CHARS)?;
        let redirect_url = url(fields, "redirect_url")?;
        let notify_url = url(fields, "notify_url")?;

        let response_type_text = fields.get("response_type").unwrap_or_default().to_string();
        let response_type = if response_type_text.is_empty() {
            ResponseType::Redirect
        } else if response_type_text.eq_ignore_ascii_case("json") {
            ResponseType::Json
        } else {
            return Err(ValidationError::invalid("response_type", "must be \"json\" or empty"));
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

        let from = text(fields, "from", MAX_TEXT_CHARS)?;
        let from_name = text(fields, "from_name", MAX_TEXT_CHARS)?;
        let from_bank_name = text(fields, "from_bank_name", MAX_TEXT_CHARS)?;
        if transaction_type == TransactionType::Expense {
            for field in ["to", "to_name", "to_bank_name"] {
                if fields.non_empty(field).is_none() {
                    return Err(ValidationError::Required(field));
                }
            }
        }
        let to = text(fields, "to", MAX_TEXT_CHARS)?;
        let to_name = text(fields, "to_name", MAX_TEXT_CHARS)?;
        let to_bank_name = text(fields, "to_bank_name", MAX_TEXT_CHARS)?;
        let member_id = text(fields, "merchant_id", MAX_TEXT_CHARS)?;

        let ttl = match fields.non_empty("ttl") {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(v) if (1..=MAX_TTL_SECONDS).contains(&v) && t.bytes().all(|b| b.is_ascii_digit()) => {
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
                if value.unsigned_abs() as u32 > currency.precision() {
                    return Err(ValidationError::invalid(
                        "float_precision",
                        format!(
                            "cannot use more than the {} decimal places of {}",
                            currency.precision(),
                            currency
                        ),
                    ));
                }
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

/// An optional text field: at most `max` characters, no control characters.
fn text(fields: &RequestFields, field: &'static str, max: usize) -> Result<String, ValidationError> {
    let value = fields.get(field).unwrap_or_default();
    if value.chars().count() > max {
        return Err(ValidationError::invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

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
        _ => Err(ValidationError::invalid(field, "must be an absolute http or https URL")),
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
        for field in ["transaction_type", "amount", "merchant_order_id", "merchant_uid", "currency", "payment", "country"] {
            let mut f = deposit();
            f.remove(field);
            assert_eq!(details(&f), format!("The '{field}' field is required."));
            f.insert(field, "");
            assert_eq!(details(&f), format!("The '{field}' field is required."));
        }
        let mut f = deposit();
        f.insert("amount", "12.345");
        assert_eq!(details(&f), "The 'amount' field may have at most 2 decimal places for mmk.");
        f.insert("amount", "-1");
        assert_eq!(details(&f), "The 'amount' field must be a decimal number such as \"100.00\".");
        let mut f = deposit();
        f.insert("accounting_type", "pay");
        assert_eq!(details(&f), "The 'accounting_type' field must be recharge or receive for income.");
        let mut f = deposit();
        f.insert("transaction_type", "expense");
        assert_eq!(details(&f), "The 'to' field is required.");
        let mut f = deposit();
        f.insert("notify_url", "ftp://x");
        assert_eq!(details(&f), "The 'notify_url' field must be an absolute http or https URL.");
        let mut f = deposit();
        f.insert("currency", "vnd");
        f.insert("amount", "1000");
        f.insert("float_precision", "2");
        assert!(details(&f).starts_with("The 'float_precision' field cannot use"));
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
        let (x, y) = (OrderRequest::from_fields(&x).unwrap(), OrderRequest::from_fields(&y).unwrap());
        assert_ne!(x.fingerprint(), y.fingerprint());
    }
}
