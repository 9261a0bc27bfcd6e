//! Deposits on the operator's own accounts: which of a channel's accounts a new deposit may
//! go to (`account::choose` over the accounts' loads), and storing it there with a final
//! amount no other open deposit of that account holds — the database refuses a taken one, so
//! two nodes can never give out the same amount; the next offset, then the next account, then
//! the next channel is tried. What the payer is shown (the account, its holder and bank) is
//! recorded with the order like an upstream's instructions, for the cashier page.

use std::collections::BTreeMap;
use std::sync::Arc;

use octopus_domain::account::{self, AccountChoice};
use octopus_domain::risk::VelocityRule;
use octopus_domain::routing::AccountDecision;
use octopus_domain::{Order, Timestamp};
use octopus_storage::{CreateOutcome, StorageError};

use crate::error::Error;
use crate::services::routing::{ChannelEntry, Route};
use crate::services::OrderServices;

const DAY_MS: i64 = 86_400_000;

/// The accounts of an own-accounts channel that may take a deposit of `amount`.
pub async fn choice(
    services: &OrderServices,
    channel: &ChannelEntry,
    order_currency: octopus_domain::Currency,
    amount: rust_decimal::Decimal,
    now: Timestamp,
) -> Result<AccountChoice, Error> {
    let loads = services
        .accounts
        .account_loads(channel.code(), now.div_euclid(DAY_MS) * DAY_MS)
        .await?;
    Ok(account::choose(&loads, order_currency, amount, now))
}

/// Why no account of a channel takes the order, for `skipped` and the merchant's 422.
pub fn no_account(choice: &AccountChoice) -> String {
    if choice.skipped.is_empty() {
        return "no account".to_string();
    }
    let why: Vec<String> = choice
        .skipped
        .iter()
        .map(|(id, why)| format!("{id} {why}"))
        .collect();
    format!("no account takes it ({})", why.join(", "))
}

/// What storing a deposit on own accounts came to.
pub enum Stored {
    /// Stored (or the merchant's earlier order with this id found). Boxed: an order is large.
    Done(Box<CreateOutcome>),
    /// No account of these channels had a free amount; the route goes on with the others.
    Exhausted,
}

/// Stores a deposit on the first own-accounts candidate of `route` (in order) whose accounts
/// have a free final amount, trying each fitting account least loaded first. The channels
/// tried without success leave the route's candidates, with why under `skipped`.
pub async fn store(
    services: &OrderServices,
    route: &mut Route,
    order: &Order,
    final_amounts: impl Fn() -> Vec<rust_decimal::Decimal>,
    velocity: &[VelocityRule],
) -> Result<Stored, Error> {
    while let Some(channel) = route
        .candidates
        .first()
        .filter(|c| c.connector.uses_own_accounts())
        .map(Arc::clone)
    {
        let choice = route
            .accounts
            .get(channel.code())
            .cloned()
            .unwrap_or(AccountChoice {
                candidates: vec![],
                skipped: vec![],
            });
        let mut skipped: BTreeMap<String, String> = choice.skipped.iter().cloned().collect();
        for account_id in &choice.candidates {
            let mut candidate = order.clone();
            candidate.channel = channel.code().to_string();
            candidate.account = account_id.clone();
            let mut decision = route.decision(channel.code(), &[]);
            decision.account = Some(AccountDecision {
                candidates: choice.candidates.clone(),
                chosen: account_id.clone(),
                skipped: skipped.clone(),
            });
            candidate.distribute_rules = decision.to_json();
            // Only the amounts not held now are tried (the database still refuses one taken
            // meanwhile): a busy account would otherwise cost one refused insert per offset.
            let held: std::collections::HashSet<rust_decimal::Decimal> = services
                .accounts
                .held_amounts(channel.code(), account_id, order.currency)
                .await?
                .into_iter()
                .map(|d| d.normalize())
                .collect();
            let free: Vec<rust_decimal::Decimal> = final_amounts()
                .into_iter()
                .filter(|a| !held.contains(&a.normalize()))
                .collect();
            let outcome = if free.is_empty() {
                // A retry of a deposit that holds the account's last amount is that deposit.
                match services
                    .orders
                    .order_by_merchant_order_id(order.merchant_id, &order.merchant_order_id)
                    .await?
                {
                    Some(existing) => Ok(CreateOutcome::Existing(existing)),
                    None => Err(StorageError::NoFreeAmount),
                }
            } else {
                services
                    .orders
                    .create_order_counted(candidate, free, velocity.to_vec())
                    .await
            };
            match outcome {
                Ok(CreateOutcome::Created(created)) => {
                    // A deposit refused by a velocity rule holds nothing of the channel's.
                    if !created.refused_at_creation() {
                        services.channels.count(&channel.config, created.amount);
                    }
                    return Ok(Stored::Done(Box::new(CreateOutcome::Created(created))));
                }
                Ok(existing @ CreateOutcome::Existing(_)) => {
                    return Ok(Stored::Done(Box::new(existing)))
                }
                Err(StorageError::NoFreeAmount) => {
                    skipped.insert(account_id.clone(), "no free amount".into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        let why = if choice.candidates.is_empty() {
            no_account(&choice)
        } else {
            "no account has a free amount".to_string()
        };
        route.skipped.insert(channel.code().to_string(), why);
        route.candidates.remove(0);
    }
    Ok(Stored::Exhausted)
}
