//! The sandbox connector: deposits are paid or failed by pressing a button on the cashier page;
//! payouts complete after a configurable delay, except to the documented test account
//! [`DECLINED_ACCOUNT`], which always fails (like a test card number).

use std::time::Duration;

use async_trait::async_trait;
use octopus_domain::{Order, Timestamp, TransactionType};

use crate::{CheckOutcome, Connector, ConnectorError, Plan};

/// Payouts to this account always fail in the sandbox.
pub const DECLINED_ACCOUNT: &str = "4000000000";
/// The reason a payout to [`DECLINED_ACCOUNT`] fails with.
pub const DECLINED_REASON: &str = "Sandbox: payouts to test account 4000000000 are always declined";

pub struct SandboxConnector {
    payout_delay: Duration,
}

impl SandboxConnector {
    pub fn new(payout_delay: Duration) -> Self {
        SandboxConnector { payout_delay }
    }
}

#[async_trait]
impl Connector for SandboxConnector {
    fn kind(&self) -> &'static str {
        "sandbox"
    }

    fn plan(&self, order: &Order, now: Timestamp) -> Plan {
        match order.transaction_type {
            // Deposits wait for the payer on the cashier page.
            TransactionType::Income => Plan::default(),
            TransactionType::Expense => Plan {
                next_check_at: Some(now + self.payout_delay.as_millis() as i64),
            },
        }
    }

    async fn check(&self, order: &Order, _now: Timestamp) -> Result<CheckOutcome, ConnectorError> {
        Ok(match order.transaction_type {
            TransactionType::Income => CheckOutcome::Pending {
                next_check_at: None,
            },
            TransactionType::Expense if order.to == DECLINED_ACCOUNT => CheckOutcome::Failed {
                reason: DECLINED_REASON.to_string(),
            },
            TransactionType::Expense => CheckOutcome::Completed {
                final_amount: order.amount,
                reason: "sandbox payout completed".to_string(),
            },
        })
    }

    fn simulates_payments(&self) -> bool {
        true
    }
}
