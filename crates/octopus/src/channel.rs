//! `octopus channel add|list|disable|enable`: the operator's channels, straight on the
//! database (a running gateway reads them again every second). Credentials are sealed by the
//! master key before they are stored and are never printed. The work is
//! `services::channels`, which the admin API calls too; this module only reads the flags.

use std::collections::BTreeMap;

use anyhow::Context;
use octopus_domain::channel::split_list;
use octopus_server::clock::now_ms;
use octopus_server::services::channels::{self, ChannelInput};
use octopus_server::services::operators::Actor;

use crate::cli::{ChannelArgs, ChannelCommand};

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
            let input = ChannelInput {
                code,
                kind,
                merchants: split_list(&merchants),
                types: split_list(&types),
                countries: split_list(&countries),
                currencies: split_list(&currencies),
                payments: split_list(&payments),
                min,
                max,
                ttl,
                priority,
                weight,
                daily_limit,
                settings,
                // The command line replaces the channel whole, credentials too.
                credentials: Some(credentials),
                enabled: !disabled,
            };
            let (storage, key) = crate::serve::open(&database).await?;
            let saved =
                channels::save_by(storage.as_ref(), &key, &Actor::cli(), &input, now_ms()).await?;
            println!("{saved}");
        }
        ChannelCommand::List { database } => {
            let (storage, key) = crate::serve::open(&database).await?;
            for c in channels::list(storage.as_ref(), &key).await? {
                println!("{c}");
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
    // Without the master key: a channel can be taken out of routing in a hurry.
    let storage = crate::serve::open_storage(database).await?;
    let c = channels::set_enabled_by(
        storage.as_ref(),
        None,
        &Actor::cli(),
        code,
        enabled,
        now_ms(),
    )
    .await?;
    println!("{c}");
    Ok(())
}
