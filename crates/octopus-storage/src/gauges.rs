//! What the operations gauges of the metrics read (`octopus_server::metrics`, sampled every
//! 15 s on each node): the callback queue, own accounts online, transfers waiting in suspense
//! and orders whose accounting failed. One statement for both backends, each count served by a
//! partial or leading index (callbacks `callbacks_due`, transfers `transfers_status`, orders
//! `orders_accounting_failed`; devices are a handful of rows).

use octopus_domain::{account, Timestamp};

use crate::rows::Columns;
use crate::{Result, SearchDialect};

/// The counts, as of one reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Callbacks waiting to be sent now (the queue), and those waiting for a later retry.
    pub callbacks_due: i64,
    pub callbacks_scheduled: i64,
    /// Own accounts with a device heard from recently (`account::online`).
    pub accounts_online: i64,
    /// Transfers in suspense, not yet matched, returned or written off.
    pub suspense_waiting: i64,
    /// Orders whose accounting failed and is being retried.
    pub accounting_failed: i64,
}

/// The statement, with two values: now (1), and the oldest heartbeat still online (2): see
/// [`values`].
pub fn statement(dialect: &dyn SearchDialect) -> String {
    let (now, online_since) = (dialect.placeholder(1), dialect.placeholder(2));
    format!(
        "SELECT
            (SELECT COUNT(*) FROM callbacks WHERE state = 'pending' AND next_attempt_at <= {now})
                AS callbacks_due,
            (SELECT COUNT(*) FROM callbacks WHERE state = 'pending' AND next_attempt_at > {now})
                AS callbacks_scheduled,
            (SELECT COUNT(DISTINCT account_id) FROM devices
             WHERE revoked_at IS NULL AND last_heartbeat_at >= {online_since}) AS accounts_online,
            (SELECT COUNT(*) FROM transfers WHERE status = 'suspense') AS suspense_waiting,
            (SELECT COUNT(*) FROM orders WHERE accounting_status = 'failed') AS accounting_failed"
    )
}

/// The statement's values at `now`.
pub fn values(now: Timestamp) -> [i64; 2] {
    [now, now - account::OFFLINE_AFTER_MS]
}

/// Its one row.
pub fn row(r: &impl Columns) -> Result<Gauges> {
    Ok(Gauges {
        callbacks_due: r.int("gauges.callbacks_due")?,
        callbacks_scheduled: r.int("gauges.callbacks_scheduled")?,
        accounts_online: r.int("gauges.accounts_online")?,
        suspense_waiting: r.int("gauges.suspense_waiting")?,
        accounting_failed: r.int("gauges.accounting_failed")?,
    })
}
