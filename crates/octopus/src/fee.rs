//! `octopus fee set|list`: the operator sets merchants' fee schedules, straight on the
//! database (a running server picks a change up within two seconds).

use anyhow::Context;
use octopus_domain::ledger::FeeRule;
use octopus_domain::AccountingType;
use octopus_server::services::fees::ANY;
use rust_decimal::Decimal;

use crate::cli::{FeeArgs, FeeCommand};

fn decimal(name: &str, text: &str) -> anyhow::Result<Decimal> {
    text.parse::<Decimal>()
        .with_context(|| format!("--{name} must be a decimal number, not {text:?}"))
}

pub async fn run(args: FeeArgs) -> anyhow::Result<()> {
    match args.command {
        FeeCommand::Set {
            merchant,
            payment,
            accounting_type,
            percent,
            fixed,
            min,
            max,
            database,
        } => {
            if accounting_type != ANY && accounting_type.parse::<AccountingType>().is_err() {
                anyhow::bail!("--accounting-type must be recharge, receive, pay, settle or *");
            }
            let rule = FeeRule::new(
                decimal("percent", &percent)?,
                decimal("fixed", &fixed)?,
                decimal("min", &min)?,
                max.as_deref().map(|m| decimal("max", m)).transpose()?,
            )?;
            let storage = crate::serve::open_storage(&database).await?;
            let m = storage
                .merchant_by_uid(&merchant)
                .await?
                .with_context(|| format!("no merchant {merchant}"))?;
            let payment = if payment == ANY {
                payment
            } else {
                payment.to_lowercase()
            };
            storage
                .set_fee_rule(
                    m.id,
                    &payment,
                    &accounting_type,
                    &rule,
                    octopus_server::clock::now_ms(),
                )
                .await?;
            println!(
                "{}",
                schedule_json(&merchant, &payment, &accounting_type, &rule)
            );
        }
        FeeCommand::List { merchant, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let m = storage
                .merchant_by_uid(&merchant)
                .await?
                .with_context(|| format!("no merchant {merchant}"))?;
            for s in storage.fee_rules(m.id).await? {
                println!(
                    "{}",
                    schedule_json(&merchant, &s.payment, &s.accounting_type, &s.rule)
                );
            }
        }
    }
    Ok(())
}

fn schedule_json(
    merchant: &str,
    payment: &str,
    accounting_type: &str,
    rule: &FeeRule,
) -> serde_json::Value {
    serde_json::json!({
        "merchant_uid": merchant,
        "payment": payment,
        "accounting_type": accounting_type,
        "percent": rule.percent.normalize().to_string(),
        "fixed": rule.fixed.normalize().to_string(),
        "min": rule.minimum.normalize().to_string(),
        "max": rule.maximum.map(|m| m.normalize().to_string()),
    })
}
