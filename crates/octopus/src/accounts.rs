//! `octopus account|device|suspense|payout`: the operator's own accounts, straight on the
//! database like `octopus channel` (a running gateway sees the changes at once), plus
//! `device report|heartbeat`, which act as a device over HTTP and sign exactly like one. Every
//! command prints JSON (one object per line for lists) so other tools can drive them; the
//! payout export prints CSV for a bank's bulk upload. Accounts and devices are changed by
//! `services::accounts`, which the admin API calls too.

use anyhow::bail;
use octopus_client::device::{DeviceClient, TransferReport};
use octopus_domain::money::format_amount;
use octopus_domain::transfer::{Transfer, TransferStatus};
use octopus_domain::Order;
use octopus_server::clock::{now_ms, rfc3339};
use octopus_server::services::accounts::{self as own, AccountInput};
use octopus_server::services::operators::Actor;
use octopus_server::services::transfers::{self, Operator};
use serde_json::{json, Value};

use crate::cli::{
    AccountArgs, AccountCommand, DeviceArgs, DeviceCommand, PayoutArgs, PayoutCommand,
    SuspenseArgs, SuspenseCommand,
};

/// How many rows a list prints at most.
const LIST_LIMIT: u32 = 10_000;

fn refused(e: octopus_server::error::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", e.data())
}

fn transfer_json(t: &Transfer) -> Value {
    octopus_server::admin::views::transfer(t)
}

fn payout_json(o: &Order) -> Value {
    json!({
        "payment_uid": o.payment_uid,
        "merchant_uid": o.merchant_uid,
        "merchant_order_id": o.merchant_order_id,
        "amount": format_amount(o.amount, o.currency),
        "currency": o.currency.code(),
        "to": o.to,
        "to_name": o.to_name,
        "to_bank_name": o.to_bank_name,
        "payment_status": o.payment_status.as_str(),
        "created_at": rfc3339(o.created_at),
    })
}

fn order_json(o: &Order) -> Value {
    json!({
        "payment_uid": o.payment_uid,
        "payment_status": o.payment_status.as_str(),
        "final_amount": format_amount(o.final_amount, o.currency),
        "reference": o.reference,
        "accounting_status": o.accounting_status.as_str(),
    })
}

pub async fn run_account(args: AccountArgs) -> anyhow::Result<()> {
    match args.command {
        AccountCommand::Add {
            channel,
            method,
            number,
            holder,
            currency,
            bank_code,
            promptpay_id,
            vpa,
            wallet,
            daily_limit,
            max_open,
            disabled,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let input = AccountInput {
                channel,
                method,
                number,
                holder,
                currency,
                bank_code,
                promptpay_id,
                vpa,
                wallet,
                daily_limit,
                max_open,
                disabled,
            };
            let added =
                own::add_account_by(storage.as_ref(), &Actor::cli(), &input, now_ms()).await?;
            println!("{added}");
        }
        AccountCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for a in own::accounts(storage.as_ref(), None).await? {
                println!("{a}");
            }
        }
        AccountCommand::Disable { id, database } => set_enabled(&id, false, &database).await?,
        AccountCommand::Enable { id, database } => set_enabled(&id, true, &database).await?,
    }
    Ok(())
}

async fn set_enabled(
    id: &str,
    enabled: bool,
    database: &crate::cli::DatabaseArgs,
) -> anyhow::Result<()> {
    let storage = crate::serve::open_storage(database).await?;
    let account =
        own::set_account_enabled_by(storage.as_ref(), &Actor::cli(), id, enabled, now_ms()).await?;
    println!("{account}");
    Ok(())
}

pub async fn run_device(args: DeviceArgs) -> anyhow::Result<()> {
    match args.command {
        DeviceCommand::Add { account, database } => {
            let (storage, master_key) = crate::serve::open(&database).await?;
            let enrolled = own::add_device_by(
                storage.as_ref(),
                &master_key,
                &Actor::cli(),
                &account,
                now_ms(),
            )
            .await?;
            println!("{}", serde_json::to_string(&enrolled)?);
        }
        DeviceCommand::Revoke { id, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let device =
                own::revoke_device_by(storage.as_ref(), &Actor::cli(), &id, now_ms()).await?;
            println!("{device}");
        }
        DeviceCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for d in own::devices(storage.as_ref(), now_ms()).await? {
                println!("{d}");
            }
        }
        DeviceCommand::Report {
            client,
            account,
            amount,
            currency,
            reference,
            occurred_at,
            payer_account,
            payer_name,
            text,
        } => {
            let device = DeviceClient::new(&client.url, &client.device, &client.secret);
            let answer = device
                .report(&TransferReport {
                    account,
                    amount,
                    currency,
                    reference,
                    occurred_at,
                    payer_account,
                    payer_name,
                    text,
                })
                .await?;
            println!("{}", answer.body);
            if answer.status >= 400 {
                bail!("the gateway answered HTTP {}", answer.status);
            }
        }
        DeviceCommand::Heartbeat { client, every } => {
            let device = DeviceClient::new(&client.url, &client.device, &client.secret);
            loop {
                let answer = device.heartbeat().await?;
                println!("{}", answer.body);
                if answer.status >= 400 {
                    bail!("the gateway answered HTTP {}", answer.status);
                }
                match every {
                    Some(seconds) => {
                        tokio::time::sleep(std::time::Duration::from_secs(seconds.max(1))).await
                    }
                    None => break,
                }
            }
        }
    }
    Ok(())
}

pub async fn run_suspense(args: SuspenseArgs) -> anyhow::Result<()> {
    match args.command {
        SuspenseCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for t in storage
                .transfers_in(TransferStatus::Suspense, LIST_LIMIT)
                .await?
            {
                println!("{}", transfer_json(&t));
            }
        }
        SuspenseCommand::Assign {
            transfer,
            payment_uid,
            reason,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let by = actor.name();
            let t = transfers::assign(
                storage.as_ref(),
                &transfer,
                &payment_uid,
                Operator {
                    by: &by,
                    reason: &reason,
                },
                now_ms(),
            )
            .await
            .map_err(refused)?;
            println!("{}", transfer_json(&t));
        }
        SuspenseCommand::Returned {
            transfer,
            reference,
            reason,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let by = actor.name();
            let t = transfers::returned(
                storage.as_ref(),
                &transfer,
                &reference,
                Operator {
                    by: &by,
                    reason: &reason,
                },
                now_ms(),
            )
            .await
            .map_err(refused)?;
            println!("{}", transfer_json(&t));
        }
    }
    Ok(())
}

pub async fn run_payout(args: PayoutArgs) -> anyhow::Result<()> {
    match args.command {
        PayoutCommand::List { channel, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for o in storage.pending_payouts(&channel, LIST_LIMIT).await? {
                println!("{}", payout_json(&o));
            }
        }
        PayoutCommand::Export { channel, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            use octopus_server::admin::money::{payout_csv, PAYOUTS_CSV_HEADER};
            print!("{PAYOUTS_CSV_HEADER}");
            for o in storage.pending_payouts(&channel, LIST_LIMIT).await? {
                print!("{}", payout_csv(&o));
            }
        }
        PayoutCommand::InReview { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            crate::risk::in_review(storage.as_ref()).await?;
        }
        PayoutCommand::Approve {
            payment_uid,
            reason,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            crate::risk::decide(storage.as_ref(), &payment_uid, true, &actor.name(), &reason)
                .await?;
        }
        PayoutCommand::Reject {
            payment_uid,
            reason,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            crate::risk::decide(
                storage.as_ref(),
                &payment_uid,
                false,
                &actor.name(),
                &reason,
            )
            .await?;
        }
        PayoutCommand::Sent {
            payment_uid,
            reference,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let order = transfers::payout_sent(
                storage.as_ref(),
                &payment_uid,
                &reference,
                &actor.name(),
                now_ms(),
            )
            .await
            .map_err(refused)?;
            println!("{}", order_json(&order));
        }
        PayoutCommand::Failed {
            payment_uid,
            reason,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let order = transfers::payout_failed(
                storage.as_ref(),
                &payment_uid,
                &reason,
                &actor.name(),
                now_ms(),
            )
            .await
            .map_err(refused)?;
            println!("{}", order_json(&order));
        }
    }
    Ok(())
}

/// `octopus order confirm`: a deposit completed by hand.
pub async fn confirm(
    storage: &dyn octopus_storage::Storage,
    payment_uid: &str,
    reference: &str,
    amount: &str,
    reason: &str,
    by: &str,
) -> anyhow::Result<()> {
    let order = transfers::confirm(
        storage,
        payment_uid,
        reference,
        amount,
        Operator { by, reason },
        now_ms(),
    )
    .await
    .map_err(refused)?;
    println!("{}", order_json(&order));
    Ok(())
}
