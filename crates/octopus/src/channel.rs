//! `octopus channel add|list|disable|enable`: the operator's channels, straight on the
//! database (a running gateway reads them again every second). Credentials are sealed by the
//! master key before they are stored and are never printed.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::Context;
use octopus_connectors::registry::{self, Setup};
use octopus_domain::channel::split_list;
use octopus_domain::{Channel, Currency, TransactionType};
use octopus_server::clock::now_ms;
use octopus_server::services::routing::seal_credentials;
use rust_decimal::Decimal;
use serde_json::json;

use crate::cli::{ChannelArgs, ChannelCommand};

fn decimal(name: &str, text: Option<String>) -> anyhow::Result<Option<Decimal>> {
    text.map(|t| {
        Decimal::from_str(t.trim())
            .with_context(|| format!("--{name} must be a decimal number, not {t:?}"))
    })
    .transpose()
}

fn pairs(flag: &str, items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|item| {
            let (name, value) = item
                .split_once('=')
                .with_context(|| format!("--{flag} takes NAME=VALUE, not {item:?}"))?;
            Ok((name.trim().to_string(), value.to_string()))
        })
        .collect()
}

/// A channel as `list` and `add` print it: everything but the credentials' values.
fn channel_json(c: &Channel, credential_names: &[String]) -> serde_json::Value {
    json!({
        "code": c.code,
        "kind": c.kind,
        "enabled": c.enabled,
        "merchants": c.merchants,
        "types": c.transaction_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "countries": c.countries,
        "currencies": c.currencies.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "payments": c.payments,
        "min": c.min_amount.map(|d| d.to_string()),
        "max": c.max_amount.map(|d| d.to_string()),
        "ttl": c.default_ttl,
        "priority": c.priority,
        "weight": c.weight,
        "daily_limit": c.daily_limit.map(|d| d.to_string()),
        "settings": c.settings,
        "credentials": credential_names,
    })
}

pub async fn run(args: ChannelArgs) -> anyhow::Result<()> {
    match args.command {
        ChannelCommand::Add {
            code,
            kind,
            merchants,
            types,
            countries,
            currencies,
            payments,
            min,
            max,
            ttl,
            priority,
            weight,
            daily_limit,
            settings,
            credentials,
            credentials_file,
            disabled,
            database,
        } => {
            let settings = pairs("setting", &settings)?;
            let mut credentials = pairs("credential", &credentials)?;
            if let Some(path) = credentials_file {
                let text = if path == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?
                };
                let from_file: BTreeMap<String, String> = serde_json::from_str(&text)
                    .context("--credentials-file must hold a JSON object of strings")?;
                credentials.extend(from_file);
            }
            // The connector must build from these settings before they are stored.
            registry::build(
                &kind,
                &Setup {
                    channel: &code,
                    settings: &settings,
                    credentials: &credentials,
                    sandbox_payout_delay: Default::default(),
                },
            )?;
            let countries = split_list(&countries)
                .iter()
                .map(|c| {
                    octopus_domain::country::normalize(c)
                        .map(str::to_string)
                        .with_context(|| format!("unknown country {c:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let currencies = split_list(&currencies)
                .iter()
                .map(|c| Currency::parse(c).with_context(|| format!("unknown currency {c:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let transaction_types = split_list(&types)
                .iter()
                .map(|t| {
                    TransactionType::from_str(t)
                        .map_err(|_| anyhow::anyhow!("--types takes income and expense, not {t:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if ttl.is_some_and(|t| t <= 0) {
                anyhow::bail!("--ttl must be a positive number of seconds");
            }
            let (storage, key) = crate::serve::open(&database).await?;
            let now = now_ms();
            let channel = Channel {
                code,
                kind,
                enabled: !disabled,
                merchants: split_list(&merchants),
                transaction_types,
                countries,
                currencies,
                payments: split_list(&payments)
                    .iter()
                    .map(|p| p.to_lowercase())
                    .collect(),
                min_amount: decimal("min", min)?,
                max_amount: decimal("max", max)?,
                default_ttl: ttl,
                priority,
                weight,
                daily_limit: decimal("daily-limit", daily_limit)?,
                settings,
                sealed_credentials: seal_credentials(&key, &credentials),
                created_at: now,
                updated_at: now,
            };
            channel.validate()?;
            let saved = storage.save_channel(channel).await?;
            println!(
                "{}",
                channel_json(&saved, &credentials.keys().cloned().collect::<Vec<_>>())
            );
        }
        ChannelCommand::List { database } => {
            let (storage, key) = crate::serve::open(&database).await?;
            for c in storage.channels().await? {
                let names = octopus_server::services::routing::open_credentials(
                    &key,
                    &c.sealed_credentials,
                )
                .map(|m| m.into_keys().collect())
                .unwrap_or_else(|_| vec!["(cannot be opened with this master key)".to_string()]);
                println!("{}", channel_json(&c, &names));
            }
        }
        ChannelCommand::Disable { code, database } => set_enabled(&code, false, &database).await?,
        ChannelCommand::Enable { code, database } => set_enabled(&code, true, &database).await?,
    }
    Ok(())
}

async fn set_enabled(
    code: &str,
    enabled: bool,
    database: &crate::cli::DatabaseArgs,
) -> anyhow::Result<()> {
    let storage = crate::serve::open_storage(database).await?;
    let c = storage
        .set_channel_enabled(code, enabled, now_ms())
        .await
        .map_err(|e| match e {
            octopus_storage::StorageError::NotFound => anyhow::anyhow!("no channel {code}"),
            other => other.into(),
        })?;
    println!("{}", json!({"code": c.code, "enabled": c.enabled}));
    Ok(())
}
