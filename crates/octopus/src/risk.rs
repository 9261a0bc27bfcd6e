//! `octopus key|blocklist|velocity|review` and `octopus payout in-review|approve|reject`:
//! merchant safety administered straight on the database, like `channel` (a running gateway
//! sees keys within a second, blocklists at once, rules and thresholds within its cache time).
//! The work is `services::merchants` and `services::risk`, which the admin API calls too; this
//! module reads the flags and prints.

use anyhow::{anyhow, Context};
use octopus_domain::money::format_amount;
use octopus_server::clock::{now_ms, rfc3339};
use octopus_server::services::merchants::{self, KeyRequest};
use octopus_server::services::operators::Actor;
use octopus_server::services::risk::{self as risk_service, BlockInput, RuleInput};
use octopus_storage::Storage;
use serde_json::json;

use crate::cli::{
    BlocklistArgs, BlocklistCommand, KeyArgs, KeyCommand, ReviewArgs, ReviewCommand, VelocityArgs,
    VelocityCommand,
};

/// How many rows a list prints at most.
const LIST_LIMIT: u32 = 100_000;

pub async fn run_key(args: KeyArgs) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match args.command {
        KeyCommand::Create {
            merchant: uid,
            test,
            label,
            expires_in,
            allow_ip,
            database,
        } => {
            let (storage, master_key) = crate::serve::open(&database).await?;
            let request = KeyRequest {
                test,
                label,
                expires_in,
                allowed_ips: allow_ip.unwrap_or_default(),
            };
            let created = merchants::create_key_by(
                storage.as_ref(),
                &master_key,
                &cli,
                &uid,
                &request,
                now_ms(),
            )
            .await?;
            println!("{}", serde_json::to_string(&created.key)?);
        }
        KeyCommand::List {
            merchant: uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            for k in merchants::keys(storage.as_ref(), &uid).await? {
                println!("{k}");
            }
        }
        KeyCommand::Revoke { api_key, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            merchants::revoke_key(storage.as_ref(), &cli, &api_key, now_ms()).await?;
            println!("{}", json!({"api_key": api_key, "revoked": true}));
        }
        KeyCommand::Rotate {
            api_key,
            expires_in,
            database,
        } => {
            let (storage, master_key) = crate::serve::open(&database).await?;
            let created = merchants::rotate_key_by(
                storage.as_ref(),
                &master_key,
                &cli,
                &api_key,
                &expires_in,
                now_ms(),
            )
            .await?;
            println!("{}", serde_json::to_string(&created.key)?);
        }
        KeyCommand::Allow {
            api_key,
            ip,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let key =
                merchants::set_allowlist(storage.as_ref(), &cli, &api_key, &ip, now_ms()).await?;
            println!(
                "{}",
                json!({"api_key": api_key, "allowed_ips": key["allowed_ips"]})
            );
        }
    }
    Ok(())
}

pub async fn run_blocklist(args: BlocklistArgs) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match args.command {
        BlocklistCommand::Add {
            kind,
            value,
            merchant,
            reason,
            expires_in,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let input = BlockInput {
                kind,
                value,
                merchant_uid: merchant,
                reason,
                expires_in,
            };
            let entry =
                risk_service::add_block_by(storage.as_ref(), &cli, &actor.name(), &input, now_ms())
                    .await?;
            println!("{entry}");
        }
        BlocklistCommand::Remove {
            kind,
            value,
            merchant,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let removed = risk_service::remove_block_by(
                storage.as_ref(),
                &cli,
                &kind,
                &value,
                merchant.as_deref(),
                now_ms(),
            )
            .await?;
            println!("{removed}");
        }
        BlocklistCommand::List {
            merchant,
            operator_wide,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let scope =
                risk_service::block_scope(storage.as_ref(), merchant.as_deref(), operator_wide)
                    .await?;
            let mut after: Option<String> = None;
            let mut printed = 0u32;
            loop {
                let page = risk_service::blocks(
                    storage.as_ref(),
                    scope,
                    after.as_deref(),
                    Some(octopus_server::services::setup::MAX_PAGE),
                )
                .await?;
                for e in &page.items {
                    println!("{e}");
                }
                printed += page.items.len() as u32;
                match page.next {
                    Some(next) if printed < LIST_LIMIT => after = Some(next),
                    _ => break,
                }
            }
        }
        BlocklistCommand::Import {
            file,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let count =
                risk_service::import_by(storage.as_ref(), &cli, &actor.name(), &text, now_ms())
                    .await?;
            println!("{}", json!({"imported": count}));
        }
    }
    Ok(())
}

pub async fn run_velocity(args: VelocityArgs) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match args.command {
        VelocityCommand::Add {
            merchant,
            subject,
            r#type,
            window,
            max_orders,
            max_volume,
            currency,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let input = RuleInput {
                merchant_uid: merchant,
                subject,
                transaction_type: r#type,
                window,
                max_orders,
                max_volume,
                currency,
            };
            let rule = risk_service::add_rule_by(storage.as_ref(), &cli, &input, now_ms()).await?;
            println!("{rule}");
        }
        VelocityCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for r in risk_service::rules(storage.as_ref(), None).await? {
                println!("{r}");
            }
        }
        VelocityCommand::Remove { id, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let removed =
                risk_service::remove_rule_by(storage.as_ref(), &cli, id, now_ms()).await?;
            println!("{removed}");
        }
    }
    Ok(())
}

pub async fn run_review(args: ReviewArgs) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match args.command {
        ReviewCommand::Set {
            currency,
            above,
            merchant,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let set = risk_service::set_threshold_by(
                storage.as_ref(),
                &cli,
                merchant.as_deref(),
                &currency,
                &above,
                now_ms(),
            )
            .await?;
            println!(
                "{}",
                json!({"merchant": merchant, "currency": set["currency"], "above": set["above"]})
            );
        }
        ReviewCommand::Clear {
            currency,
            merchant,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let cleared = risk_service::clear_threshold_by(
                storage.as_ref(),
                &cli,
                merchant.as_deref(),
                &currency,
                now_ms(),
            )
            .await?;
            println!("{cleared}");
        }
        ReviewCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for t in risk_service::thresholds(storage.as_ref()).await? {
                println!("{t}");
            }
        }
    }
    Ok(())
}

/// `octopus payout in-review`.
pub async fn in_review(storage: &dyn Storage) -> anyhow::Result<()> {
    for o in storage.payouts_in_review(LIST_LIMIT).await? {
        println!(
            "{}",
            json!({
                "payment_uid": o.payment_uid,
                "merchant_uid": o.merchant_uid,
                "merchant_order_id": o.merchant_order_id,
                "amount": format_amount(o.amount, o.currency),
                "currency": o.currency.code(),
                "channel": o.channel,
                "to": o.to,
                "to_name": o.to_name,
                "test": o.test,
                "created_at": rfc3339(o.created_at),
            })
        );
    }
    Ok(())
}

/// `octopus payout approve|reject`.
pub async fn decide(
    storage: &dyn Storage,
    payment_uid: &str,
    approve: bool,
    by: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let result = if approve {
        risk_service::approve(storage, payment_uid, by, reason, now_ms()).await
    } else {
        risk_service::reject(storage, payment_uid, by, reason, now_ms()).await
    };
    let order = result.map_err(|e| anyhow!("{}", e.data()))?;
    println!(
        "{}",
        json!({
            "payment_uid": order.payment_uid,
            "payment_status": order.payment_status.as_str(),
            "payment_fail_reason": order.payment_fail_reason,
        })
    );
    Ok(())
}
