//! What the channels' health is computed from (`octopus_domain::channel::health`): for the
//! orders created since a time, their count by channel, own account and status, how long each
//! completed one took, and every upstream call made for them. One set of statements for both
//! backends; reading the orders of a period goes by `orders_created`, and their events and
//! upstream calls by the order. The calls counted are those made for the orders created in
//! the period (a later poll of an older order is not), and the completions those of its orders.

use octopus_domain::channel::health::{Completion, OrderCount, UpstreamCall};
use octopus_domain::Timestamp;

use crate::rows::Columns;
use crate::{Result, SearchDialect};

/// The most completions, and the most upstream calls, one reading takes (those of the newest
/// orders): the percentiles of a busy day stay the cost of a page.
pub const SAMPLES: usize = 100_000;

/// The samples of one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSamples {
    pub since: Timestamp,
    pub counts: Vec<OrderCount>,
    pub completions: Vec<Completion>,
    pub calls: Vec<UpstreamCall>,
}

/// The three statements (counts, completions, upstream calls), each with one value: `since`
/// (an integer). Orders refused before any channel was chosen (no channel) are left out.
pub fn statements(dialect: &dyn SearchDialect) -> [String; 3] {
    let since = dialect.placeholder(1);
    [
        format!(
            "SELECT channel, account_id AS account, payment_status, COUNT(*) AS count
             FROM orders WHERE created_at >= {since} AND channel <> ''
             GROUP BY channel, account_id, payment_status"
        ),
        format!(
            "SELECT o.channel AS channel, o.account_id AS account,
                    e.created_at - o.created_at AS after_ms
             FROM orders o JOIN order_events e ON e.order_id = o.id
             WHERE o.created_at >= {since} AND o.channel <> '' AND e.to_status = 'completed'
             ORDER BY o.created_at DESC LIMIT {SAMPLES}"
        ),
        format!(
            "SELECT x.channel AS channel, x.latency_ms AS latency_ms,
                    CASE WHEN x.error = '' AND x.http_status IS NOT NULL AND x.http_status < 500
                         THEN 1 ELSE 0 END AS answered
             FROM orders o JOIN upstream_exchanges x ON x.order_id = o.id
             WHERE o.created_at >= {since}
             ORDER BY o.created_at DESC LIMIT {SAMPLES}"
        ),
    ]
}

/// A row of the first statement.
pub fn order_count(r: &impl Columns) -> Result<OrderCount> {
    Ok(OrderCount {
        channel: r.text("health.channel")?,
        account: r.text("health.account")?,
        status: r.parsed("health.payment_status")?,
        count: r.int("health.count")?,
    })
}

/// A row of the second statement.
pub fn completion(r: &impl Columns) -> Result<Completion> {
    Ok(Completion {
        channel: r.text("health.channel")?,
        account: r.text("health.account")?,
        after_ms: r.int("health.after_ms")?,
    })
}

/// A row of the third statement.
pub fn upstream_call(r: &impl Columns) -> Result<UpstreamCall> {
    Ok(UpstreamCall {
        channel: r.text("health.channel")?,
        latency_ms: r.int("health.latency_ms")?,
        answered: r.int("health.answered")? == 1,
    })
}
