//! `octopus fee set|list`: the operator sets merchants' fee schedules, straight on the
//! database (a running server picks a change up within two seconds).

use anyhow::Context;
use octopus_domain::ledger::{FeeRule, FeeSchedule};
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
            let rule = FeeRule::new(
                decimal("percent", &percent)?,
                decimal("fixed", &fixed)?,
                decimal("min", &min)?,
                max.as_deref().map(|m| decimal("max", m)).transpose()?,
            )?;
            let schedule = FeeSchedule::parse(&payment, &accounting_type, rule)?;
            let storage = crate::serve::open_storage(&database).await?;
            let m = storage
                .merchant_by_uid(&merchant)
                .await?
                .with_context(|| format!("no merchant {merchant}"))?;
            storage
                .set_fee_rule(m.id, &schedule, octopus_server::clock::now_ms())
                .await?;
            println!("{}", schedule_json(&merchant, &schedule));
        }
        FeeCommand::List { merchant, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let m = storage
                .merchant_by_uid(&merchant)
                .await?
                .with_context(|| format!("no merchant {merchant}"))?;
            for s in storage.fee_rules(m.id).await? {
                println!("{}", schedule_json(&merchant, &s));
            }
        }
    }
    Ok(())
}

fn schedule_json(merchant: &str, schedule: &FeeSchedule) -> serde_json::Value {
    let rule = &schedule.rule;
    serde_json::json!({
        "merchant_uid": merchant,
        "payment": schedule.payment.as_stored(),
        "accounting_type": schedule.accounting_type.as_stored(),
        "percent": rule.percent.normalize().to_string(),
        "fixed": rule.fixed.normalize().to_string(),
        "min": rule.minimum.normalize().to_string(),
        "max": rule.maximum.map(|m| m.normalize().to_string()),
    })
}
