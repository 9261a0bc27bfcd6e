//! Channels: the operator's configured routes to upstream providers. A channel is one instance
//! of a connector kind with its own settings and credentials, and says which orders it takes
//! (transaction types, countries, currencies, payment codes, an amount range). Whether a
//! channel fits an order, and if not why, is decided here, so routing can name what did not
//! match.

pub mod health;

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::money::Currency;
use crate::order::TransactionType;
use crate::request::OrderRequest;
use crate::Timestamp;

/// A configured channel. Lists that are empty accept anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The operator's name for it: 1 to 64 of `a-z 0-9 _ -`.
    pub code: String,
    /// The connector kind (`sandbox`, `paykassma`, ...).
    pub kind: String,
    pub enabled: bool,
    /// Merchant UIDs served.
    pub merchants: Vec<String>,
    pub transaction_types: Vec<TransactionType>,
    /// ISO 3166 alpha-2 codes, upper case.
    pub countries: Vec<String>,
    pub currencies: Vec<Currency>,
    /// Payment method codes, lower case (`wavepay`, `kbzpay`, ...).
    pub payments: Vec<String>,
    pub min_amount: Option<Decimal>,
    pub max_amount: Option<Decimal>,
    /// Seconds a deposit on this channel may stay open when the merchant sends no ttl.
    pub default_ttl: Option<i64>,
    /// Lower is tried first.
    pub priority: i32,
    /// Share of the orders among channels of the same priority.
    pub weight: u32,
    /// Most volume (sum of amounts, any currency's units) the channel takes per UTC day.
    pub daily_limit: Option<Decimal>,
    /// Settings that are not secret (base URL, wallet type, ...).
    pub settings: BTreeMap<String, String>,
    /// Credentials as a JSON object of strings, sealed by the master key ("" when none).
    pub sealed_credentials: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("a channel code must have 1 to 64 characters of a-z, 0-9, '_' and '-'")]
    Code,
    #[error("a channel's weight must be at least 1")]
    Weight,
    #[error("the minimum amount is above the maximum")]
    AmountRange,
    #[error("amounts and limits must be positive")]
    NotPositive,
}

impl Channel {
    /// A channel of `kind` that takes every order: enabled, priority 100, weight 1, no
    /// settings or credentials.
    pub fn new(code: &str, kind: &str, at: Timestamp) -> Channel {
        Channel {
            code: code.into(),
            kind: kind.into(),
            enabled: true,
            merchants: vec![],
            transaction_types: vec![],
            countries: vec![],
            currencies: vec![],
            payments: vec![],
            min_amount: None,
            max_amount: None,
            default_ttl: None,
            priority: 100,
            weight: 1,
            daily_limit: None,
            settings: BTreeMap::new(),
            sealed_credentials: String::new(),
            created_at: at,
            updated_at: at,
        }
    }

    /// Checks what the operator configured.
    pub fn validate(&self) -> Result<(), ChannelError> {
        let code_ok = !self.code.is_empty()
            && self.code.len() <= 64
            && self
                .code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !code_ok {
            return Err(ChannelError::Code);
        }
        if self.weight == 0 {
            return Err(ChannelError::Weight);
        }
        for limit in [self.min_amount, self.max_amount, self.daily_limit]
            .into_iter()
            .flatten()
        {
            if limit <= Decimal::ZERO {
                return Err(ChannelError::NotPositive);
            }
        }
        if let (Some(min), Some(max)) = (self.min_amount, self.max_amount) {
            if min > max {
                return Err(ChannelError::AmountRange);
            }
        }
        Ok(())
    }

    /// Why this channel does not take the order, or `None` when it does.
    pub fn mismatch(&self, request: &OrderRequest) -> Option<String> {
        let amount = request.amount.value();
        if !self.enabled {
            Some("disabled".into())
        } else if !self.merchants.is_empty()
            && !self.merchants.iter().any(|m| m == &request.merchant_uid)
        {
            Some(format!("merchant {} not served", request.merchant_uid))
        } else if !self.transaction_types.is_empty()
            && !self.transaction_types.contains(&request.transaction_type)
        {
            Some(format!(
                "transaction_type {} not served",
                request.transaction_type.as_str()
            ))
        } else if !self.countries.is_empty()
            && !self.countries.iter().any(|c| c == request.country_code)
        {
            Some(format!("country {} not served", request.country_code))
        } else if !self.currencies.is_empty() && !self.currencies.contains(&request.currency) {
            Some(format!("currency {} not served", request.currency.code()))
        } else if !self.payments.is_empty()
            && !self
                .payments
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&request.payment))
        {
            Some(format!("payment {} not served", request.payment))
        } else if self.min_amount.is_some_and(|min| amount < min) {
            Some(format!(
                "amount below {}",
                self.min_amount.unwrap_or_default()
            ))
        } else if self.max_amount.is_some_and(|max| amount > max) {
            Some(format!(
                "amount above {}",
                self.max_amount.unwrap_or_default()
            ))
        } else {
            None
        }
    }
}

/// A comma list of a channel's column ("" for an empty list).
pub fn join_list<T: AsRef<str>>(items: &[T]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

/// The items of a comma list, trimmed, empty ones left out.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample_channel(code: &str) -> Channel {
        Channel::new(code, "sandbox", 0)
    }

    fn request(currency: &str, country: &str, payment: &str, amount: &str) -> OrderRequest {
        let fields: crate::fields::RequestFields = [
            ("transaction_type", "income"),
            ("amount", amount),
            ("currency", currency),
            ("payment", payment),
            ("country", country),
            ("merchant_order_id", "o-1"),
            ("merchant_uid", "M1"),
        ]
        .into_iter()
        .collect();
        OrderRequest::from_fields(&fields).expect("a valid request")
    }

    #[test]
    fn a_channel_names_what_it_does_not_serve() {
        let mut c = sample_channel("pk-1");
        let r = request("mmk", "myanmar", "wavepay", "6000.00");
        assert_eq!(c.mismatch(&r), None);
        c.countries = vec!["TH".into()];
        assert_eq!(c.mismatch(&r).as_deref(), Some("country MM not served"));
        c.countries = vec!["MM".into()];
        c.currencies = vec![Currency::parse("thb").unwrap()];
        assert_eq!(c.mismatch(&r).as_deref(), Some("currency mmk not served"));
        c.currencies = vec![];
        c.payments = vec!["kbzpay".into()];
        assert_eq!(
            c.mismatch(&r).as_deref(),
            Some("payment wavepay not served")
        );
        c.payments = vec!["WavePay".into()];
        c.min_amount = Some(Decimal::new(10000, 0));
        assert_eq!(c.mismatch(&r).as_deref(), Some("amount below 10000"));
        c.min_amount = None;
        c.max_amount = Some(Decimal::new(5000, 0));
        assert_eq!(c.mismatch(&r).as_deref(), Some("amount above 5000"));
        c.max_amount = Some(Decimal::new(6000, 0));
        assert_eq!(c.mismatch(&r), None, "limits are inclusive");
        c.merchants = vec!["M2".into()];
        assert_eq!(c.mismatch(&r).as_deref(), Some("merchant M1 not served"));
        c.merchants = vec!["M1".into()];
        assert_eq!(c.mismatch(&r), None);
        c.transaction_types = vec![TransactionType::Expense];
        assert_eq!(
            c.mismatch(&r).as_deref(),
            Some("transaction_type income not served")
        );
        c.enabled = false;
        assert_eq!(c.mismatch(&r).as_deref(), Some("disabled"));
    }

    #[test]
    fn channel_settings_are_checked() {
        let mut c = sample_channel("Bad Code");
        assert_eq!(c.validate(), Err(ChannelError::Code));
        c.code = "pk_mm-1".into();
        assert_eq!(c.validate(), Ok(()));
        c.weight = 0;
        assert_eq!(c.validate(), Err(ChannelError::Weight));
        c.weight = 3;
        c.min_amount = Some(Decimal::new(10, 0));
        c.max_amount = Some(Decimal::new(5, 0));
        assert_eq!(c.validate(), Err(ChannelError::AmountRange));
        c.max_amount = Some(Decimal::ZERO);
        assert_eq!(c.validate(), Err(ChannelError::NotPositive));
        assert_eq!(split_list(" MM, TH ,,"), vec!["MM", "TH"]);
        assert_eq!(join_list(&["a", "b"]), "a,b");
    }
}
