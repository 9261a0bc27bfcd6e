//! Finding orders for the consoles: by any id they are known by (the merchant's order id, the
//! payment_uid, a bank or upstream reference) and by filters (merchant, channel, status, type,
//! currency, amount, time, test or live), newest first, a page at a time with a keyset cursor
//! (so the millionth row costs what the first does, and an export can walk the whole set).
//! The filter becomes one SQL statement here, for both backends; each backend only says how
//! it writes a placeholder, compares two decimal texts exactly and which index it reads
//! (docs/benchmarks.md, "Console search", measures the statements on a million orders).

use octopus_domain::{Currency, PaymentStatus, Timestamp, TransactionType};
use rust_decimal::Decimal;

/// Which orders, and which page of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderQuery {
    /// Matches the order's merchant_order_id, payment_uid, bank reference or an upstream
    /// reference, exactly.
    pub any_id: Option<String>,
    /// The merchant (both its books: `test` tells them apart).
    pub merchant_uid: Option<String>,
    pub channel: Option<String>,
    pub status: Option<PaymentStatus>,
    pub transaction_type: Option<TransactionType>,
    pub currency: Option<Currency>,
    /// The amount asked, inclusive.
    pub amount_min: Option<Decimal>,
    pub amount_max: Option<Decimal>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Test orders only (true), live only (false), or both.
    pub test: Option<bool>,
    /// The page after this order (its `created_at` and `id`): the last row of the page before.
    pub after: Option<(Timestamp, i64)>,
    pub limit: u32,
}

/// A value bound in [`OrderQuery::conditions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchValue {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// How a backend writes what the shared condition needs.
pub trait SearchDialect {
    /// The placeholder of the `n`th value (1-based).
    fn placeholder(&self, n: usize) -> String;
    /// An exact comparison `column <op> value` of a decimal text column with a decimal text
    /// placeholder (`op` is `>=` or `<=`).
    fn decimal_compare(&self, column: &str, op: &str, placeholder: &str) -> String;
    /// The exact sum of a decimal text column, as decimal text (an aggregate).
    fn decimal_sum(&self, column: &str) -> String;
    /// What the filtered list reads `orders` as: the table, or (SQLite) the table with the
    /// index it must be read by.
    fn orders_table(&self) -> &'static str {
        "orders"
    }
}

/// The orders known by the id bound at `p`, one column `order_id`: a handful at most.
fn known_by(p: &str) -> String {
    format!(
        "SELECT id AS order_id FROM orders WHERE payment_uid = {p}
         UNION SELECT id FROM orders WHERE merchant_order_id = {p}
         UNION SELECT id FROM orders WHERE bank_reference = {p} AND bank_reference <> ''
         UNION SELECT order_id FROM upstream_references WHERE reference = {p}"
    )
}

/// The dashboard's numbers: orders created since `since`, counted by hour, channel, status,
/// type and currency, with their volume (the amounts asked, summed exactly) and how many of
/// them the merchant could not be called back about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStat {
    /// The start of the hour (Unix milliseconds).
    pub hour: Timestamp,
    pub channel: String,
    pub status: PaymentStatus,
    pub transaction_type: TransactionType,
    pub currency: Currency,
    pub count: i64,
    pub volume: Decimal,
    pub callbacks_failed: i64,
}

/// The statement of [`OrderStat`]s; its values: `since` (an integer) and `test` (a boolean).
pub fn stats_statement(dialect: &dyn SearchDialect) -> String {
    let (since, test) = (dialect.placeholder(1), dialect.placeholder(2));
    format!(
        "SELECT (created_at / 3600000) * 3600000 AS hour, channel, payment_status,
                    transaction_type, currency, COUNT(*) AS count, {} AS volume,
                    SUM(CASE WHEN notify_status = 'failed' THEN 1 ELSE 0 END) AS callbacks_failed
             FROM orders WHERE created_at >= {since} AND test = {test}
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1",
        dialect.decimal_sum("amount")
    )
}

impl OrderQuery {
    /// The FROM and WHERE clauses (over `orders`) and their values.
    ///
    /// A search by id reads the few orders known by it first (`found`, joined in that order:
    /// SQLite keeps the order of a CROSS JOIN) and filters them. As a condition,
    /// `id IN (...)`, SQLite without statistics walked instead a filter's index (a merchant's
    /// half a million orders) testing each order against the ids.
    pub fn conditions(&self, dialect: &dyn SearchDialect) -> (String, String, Vec<SearchValue>) {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        let mut bind = |value: SearchValue| {
            values.push(value);
            dialect.placeholder(values.len())
        };
        let from = match &self.any_id {
            Some(id) => {
                let p = bind(SearchValue::Text(id.clone()));
                clauses.push("orders.id = found.order_id".to_string());
                format!("({}) AS found CROSS JOIN orders", known_by(&p))
            }
            None => dialect.orders_table().to_string(),
        };
        if let Some(merchant) = &self.merchant_uid {
            let p = bind(SearchValue::Text(merchant.clone()));
            clauses.push(format!("merchant_uid = {p}"));
        }
        if let Some(channel) = &self.channel {
            clauses.push(format!(
                "channel = {}",
                bind(SearchValue::Text(channel.clone()))
            ));
        }
        if let Some(status) = self.status {
            let p = bind(SearchValue::Text(status.as_str().into()));
            clauses.push(format!("payment_status = {p}"));
        }
        if let Some(t) = self.transaction_type {
            let p = bind(SearchValue::Text(t.as_str().into()));
            clauses.push(format!("transaction_type = {p}"));
        }
        if let Some(currency) = &self.currency {
            let p = bind(SearchValue::Text(currency.code().into()));
            clauses.push(format!("currency = {p}"));
        }
        if let Some(min) = self.amount_min {
            let p = bind(SearchValue::Text(min.to_string()));
            clauses.push(dialect.decimal_compare("amount", ">=", &p));
        }
        if let Some(max) = self.amount_max {
            let p = bind(SearchValue::Text(max.to_string()));
            clauses.push(dialect.decimal_compare("amount", "<=", &p));
        }
        if let Some(since) = self.since {
            clauses.push(format!("created_at >= {}", bind(SearchValue::Int(since))));
        }
        if let Some(until) = self.until {
            clauses.push(format!("created_at < {}", bind(SearchValue::Int(until))));
        }
        if let Some(test) = self.test {
            clauses.push(format!("test = {}", bind(SearchValue::Bool(test))));
        }
        if let Some((at, id)) = self.after {
            let at = bind(SearchValue::Int(at));
            let id = bind(SearchValue::Int(id));
            clauses.push(format!("(created_at, id) < ({at}, {id})"));
        }
        let clause = if clauses.is_empty() {
            "TRUE".to_string()
        } else {
            clauses.join(" AND ")
        };
        (from, clause, values)
    }

    /// The whole statement: the page's orders, newest first.
    pub fn statement(&self, dialect: &dyn SearchDialect) -> (String, Vec<SearchValue>) {
        let (from, clause, values) = self.conditions(dialect);
        (
            format!(
                "SELECT {} FROM {from} WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT {}",
                crate::rows::ORDER_COLUMNS,
                self.limit
            ),
            values,
        )
    }
}
