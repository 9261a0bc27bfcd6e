//! Deposits on the operator's own accounts: which of a channel's accounts a new deposit may
//! go to (`account::choose` over the accounts' loads), and storing it there with a final
//! amount no other open deposit of that account holds — the database refuses a taken one, so
//! two nodes can never give out the same amount; the next offset, then the next account, then
//! the next channel is tried. What the payer is shown (the account, its holder and bank) is
//! recorded with the order like an upstream's instructions, for the cashier page.
//!
//! The operator's side of own accounts is here too, for `octopus account|device` and the
//! admin API alike: adding an account (read and checked once, [`parse_account`]), taking it
//! out of routing and back, enrolling a device (its secret shown once, stored sealed by the
//! master key) and revoking one — each change audited with the thing before and after.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use octopus_domain::account::{self, Account, AccountChoice, AccountError, AccountMethod};
use octopus_domain::device::Device;
use octopus_domain::ids::{new_account_id, new_device_id, new_device_secret};
use octopus_domain::risk::VelocityRule;
use octopus_domain::routing::AccountDecision;
use octopus_domain::secret_box::MasterKey;
use octopus_domain::{Order, Timestamp};
use octopus_storage::{Accounts, ChannelStore, CreateOutcome, Devices, Operators, StorageError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::error::Error;
use crate::services::operators::Actor;
use crate::services::routing::{ChannelEntry, Route};
use crate::services::setup::{self, invalid, not_found, Missing, SetupError};
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

/// An account as the operator describes it.
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    /// The channel (of kind `accounts`) it belongs to.
    pub channel: String,
    /// `bank`, `promptpay`, `upi` or `wallet`.
    pub method: String,
    pub number: String,
    pub holder: String,
    pub currency: String,
    /// Thai bank code or short name (`004`, `KBANK`).
    pub bank_code: Option<String>,
    pub promptpay_id: Option<String>,
    pub vpa: Option<String>,
    /// The e-wallet of method wallet (`gcash`, `bkash`, ...).
    pub wallet: Option<String>,
    pub daily_limit: Option<String>,
    pub max_open: Option<u32>,
    pub disabled: bool,
}

fn account_error(e: AccountError) -> SetupError {
    let field = match e {
        AccountError::Method(_) => "method",
        AccountError::Number => "number",
        AccountError::Holder => "holder",
        AccountError::PromptpayId => "promptpay_id",
        AccountError::Vpa => "vpa",
        AccountError::Limit => "daily_limit, max_open",
        AccountError::Invalid(_) => "account",
    };
    invalid(field, e)
}

/// The account `input` describes, checked (`Account::validate`), with a new id.
pub fn parse_account(input: &AccountInput, now: Timestamp) -> Result<Account, SetupError> {
    let method = AccountMethod::from_str(&input.method).map_err(account_error)?;
    let currency = setup::currency("currency", &input.currency)?;
    let bank_code = match input.bank_code.as_deref().map(str::trim) {
        Some(code) if !code.is_empty() => octopus_domain::thai_bank::ThaiBank::parse(code)
            .map_err(|e| invalid("bank_code", e))?
            .code()
            .to_string(),
        _ => String::new(),
    };
    for (field, value) in [
        ("channel", Some(&input.channel)),
        ("number", Some(&input.number)),
        ("holder", Some(&input.holder)),
        ("promptpay_id", input.promptpay_id.as_ref()),
        ("vpa", input.vpa.as_ref()),
        ("wallet", input.wallet.as_ref()),
    ] {
        setup::plain(field, value.map_or("", String::as_str))?;
    }
    let text = |t: &Option<String>| t.as_deref().unwrap_or_default().trim().to_string();
    let account = Account {
        id: new_account_id(),
        channel: input.channel.trim().to_string(),
        method,
        bank_code,
        number: input.number.trim().to_string(),
        holder: input.holder.trim().to_string(),
        currency,
        promptpay_id: text(&input.promptpay_id),
        vpa: text(&input.vpa),
        wallet: text(&input.wallet).to_ascii_lowercase(),
        daily_limit: setup::optional_decimal("daily_limit", input.daily_limit.as_deref())?,
        max_open: input.max_open,
        enabled: !input.disabled,
        created_at: now,
        updated_at: now,
    };
    account.validate().map_err(account_error)?;
    Ok(account)
}

/// An account as the CLI prints it and the admin API answers it.
pub fn account_view(a: &Account) -> Value {
    json!({
        "id": a.id,
        "channel": a.channel,
        "method": a.method.as_str(),
        "bank_code": a.bank_code,
        "number": a.number,
        "holder": a.holder,
        "currency": a.currency.code(),
        "promptpay_id": a.promptpay_id,
        "vpa": a.vpa,
        "wallet": a.wallet,
        "daily_limit": a.daily_limit.map(|d| d.to_string()),
        "max_open": a.max_open,
        "enabled": a.enabled,
        "created_at": rfc3339(a.created_at),
    })
}

/// A device as the operator is shown it (never its secret): online while heard from within
/// `account::OFFLINE_AFTER_MS` and not revoked.
pub fn device_view(d: &Device, now: Timestamp) -> Value {
    json!({
        "device_id": d.id,
        "account": d.account,
        "created_at": rfc3339(d.created_at),
        "revoked_at": d.revoked_at.map(rfc3339),
        "last_heartbeat_at": d.last_heartbeat_at.map(rfc3339),
        "online": d.revoked_at.is_none() && account::online(d.last_heartbeat_at, now),
    })
}

/// Adds an account to a channel of kind `accounts`; audited as `account.add`.
pub async fn add_account_by<S>(
    storage: &S,
    actor: &Actor,
    input: &AccountInput,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Accounts + ChannelStore + Operators + ?Sized,
{
    let account = parse_account(input, now)?;
    let channels = storage.channels().await?;
    match channels.iter().find(|c| c.code == account.channel) {
        None => {
            return Err(invalid(
                "channel",
                format!(
                    "there is no channel {:?} (add one of kind accounts first)",
                    account.channel
                ),
            ))
        }
        Some(c) if c.kind != "accounts" => {
            return Err(invalid(
                "channel",
                format!("channel {:?} is of kind {}, not accounts", c.code, c.kind),
            ))
        }
        Some(_) => {}
    }
    let stored = storage.add_account(account).await?;
    let after = account_view(&stored);
    setup::audit(
        storage,
        actor,
        "account.add",
        &stored.id,
        &Value::Null,
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// Every account (of one channel, when named).
pub async fn accounts<S: Accounts + ?Sized>(
    storage: &S,
    channel: Option<&str>,
) -> Result<Vec<Value>, SetupError> {
    let channel = channel.map(str::trim).filter(|c| !c.is_empty());
    Ok(storage
        .accounts()
        .await?
        .iter()
        .filter(|a| channel.is_none_or(|c| a.channel == c))
        .map(account_view)
        .collect())
}

/// Takes an account out of routing (its open orders still finish) or puts it back; audited
/// as `account.disable` / `account.enable`.
pub async fn set_account_enabled_by<S>(
    storage: &S,
    actor: &Actor,
    id: &str,
    enabled: bool,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Accounts + Operators + ?Sized,
{
    let id = setup::named(Missing::Account, id)?;
    let before = storage
        .account(id)
        .await?
        .ok_or_else(|| not_found(Missing::Account, id))?;
    let after = storage
        .set_account_enabled(id, enabled, now)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => not_found(Missing::Account, id),
            other => other.into(),
        })?;
    let action = if enabled {
        "account.enable"
    } else {
        "account.disable"
    };
    let after = account_view(&after);
    setup::audit(
        storage,
        actor,
        action,
        id,
        &account_view(&before),
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// A device just enrolled: its id and secret (shown this once), and its account.
#[derive(Debug, Clone, Serialize)]
pub struct EnrolledDevice {
    pub device_id: String,
    pub secret: String,
    pub account: String,
}

/// Enrolls a device for an account; audited as `device.add` (without the secret).
pub async fn add_device_by<S>(
    storage: &S,
    master_key: &MasterKey,
    actor: &Actor,
    account: &str,
    now: Timestamp,
) -> Result<EnrolledDevice, SetupError>
where
    S: Accounts + Devices + Operators + ?Sized,
{
    let account = account.trim();
    setup::plain("account", account)?;
    if account.is_empty() {
        return Err(invalid("account", "the account the device watches"));
    }
    if storage.account(account).await?.is_none() {
        return Err(invalid(
            "account",
            format!("there is no account {account:?}"),
        ));
    }
    let secret = new_device_secret();
    let stored = storage
        .add_device(Device {
            id: new_device_id(),
            account: account.to_string(),
            sealed_secret: master_key.seal(&secret),
            revoked_at: None,
            last_heartbeat_at: None,
            created_at: now,
        })
        .await?;
    setup::audit(
        storage,
        actor,
        "device.add",
        &stored.id,
        &Value::Null,
        &device_view(&stored, now),
        now,
    )
    .await?;
    Ok(EnrolledDevice {
        device_id: stored.id,
        secret,
        account: stored.account,
    })
}

/// Revokes a device: its requests are refused from now on. A device revoked before is a
/// conflict. Audited as `device.revoke`.
pub async fn revoke_device_by<S>(
    storage: &S,
    actor: &Actor,
    id: &str,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Devices + Operators + ?Sized,
{
    let id = setup::named(Missing::Device, id)?;
    let before = storage
        .device(id)
        .await?
        .ok_or_else(|| not_found(Missing::Device, id))?;
    if before.revoked_at.is_some() {
        return Err(SetupError::Conflict(format!(
            "the device {id} is revoked already"
        )));
    }
    let after = storage.revoke_device(id, now).await.map_err(|e| match e {
        StorageError::NotFound => not_found(Missing::Device, id),
        other => other.into(),
    })?;
    let after = device_view(&after, now);
    setup::audit(
        storage,
        actor,
        "device.revoke",
        id,
        &device_view(&before, now),
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// Every device with its last heartbeat and whether it is online at `now`.
pub async fn devices<S: Devices + ?Sized>(
    storage: &S,
    now: Timestamp,
) -> Result<Vec<Value>, SetupError> {
    Ok(storage
        .devices()
        .await?
        .iter()
        .map(|d| device_view(d, now))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_read_from_the_operators_words() {
        let input = AccountInput {
            channel: "own".into(),
            method: "PromptPay".into(),
            number: " 123-4-56789-0 ".into(),
            holder: "Somchai Jaidee".into(),
            currency: "thb".into(),
            bank_code: Some("kbank".into()),
            promptpay_id: Some("0812345678".into()),
            ..AccountInput::default()
        };
        let account = parse_account(&input, 9).unwrap();
        assert!(account.id.starts_with("acc_"), "{}", account.id);
        assert_eq!(
            (
                account.method,
                account.bank_code.as_str(),
                account.number.as_str()
            ),
            (AccountMethod::Promptpay, "004", "123-4-56789-0")
        );
        assert!(account.enabled);
        let refusal = |input: AccountInput| match parse_account(&input, 0) {
            Err(SetupError::Invalid(details)) => details,
            other => panic!("{other:?}"),
        };
        for (change, field) in [
            (
                AccountInput {
                    method: "cash".into(),
                    ..input.clone()
                },
                "method:",
            ),
            (
                AccountInput {
                    currency: "zzz".into(),
                    ..input.clone()
                },
                "currency:",
            ),
            (
                AccountInput {
                    bank_code: Some("999".into()),
                    ..input.clone()
                },
                "bank_code:",
            ),
            (
                AccountInput {
                    promptpay_id: None,
                    ..input.clone()
                },
                "promptpay_id:",
            ),
            (
                AccountInput {
                    max_open: Some(0),
                    ..input.clone()
                },
                "daily_limit, max_open:",
            ),
        ] {
            let details = refusal(change);
            assert!(details.starts_with(field), "{field} {details}");
        }
    }
}
