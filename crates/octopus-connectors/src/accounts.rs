//! The own-accounts connector (kind `accounts`): the operator's own receiving accounts, watched
//! by devices, instead of an upstream provider. Nothing is called upstream: a deposit is given
//! one of the channel's accounts and a unique final amount when it is created
//! (`octopus_server::services::accounts`), and completes when a device reports the transfer;
//! a payout waits in the operator's queue until it is marked sent or failed. What a payout
//! needs to be paid this way (a payee of the right form for its method) is checked here,
//! before anything is stored.

use async_trait::async_trait;
use octopus_domain::{Order, OrderRequest, Timestamp};

use crate::{CheckOutcome, Connector, ConnectorError, Plan};

#[derive(Debug, Default)]
pub struct AccountsConnector;

#[async_trait]
impl Connector for AccountsConnector {
    fn kind(&self) -> &'static str {
        "accounts"
    }

    /// Deposits wait for a device's report, payouts for the operator: nothing to ask.
    fn plan(&self, _order: &Order, _now: Timestamp) -> Plan {
        Plan::default()
    }

    async fn check(&self, _order: &Order, _now: Timestamp) -> Result<CheckOutcome, ConnectorError> {
        Ok(CheckOutcome::Pending {
            next_check_at: None,
        })
    }

    fn uses_own_accounts(&self) -> bool {
        true
    }

    fn accepts(&self, request: &OrderRequest) -> Result<(), String> {
        crate::payee::accepts(request)
    }
}
