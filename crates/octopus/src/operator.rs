//! `octopus operator create|list|disable|enable|reset|audit`: the people who run the gateway,
//! administered straight on the database like `channel`. Every change is in the audit log,
//! with `cli` as who did it.

use octopus_domain::operator::Role;
use octopus_server::clock::{now_ms, rfc3339};
use octopus_server::services::operators::{self, Actor};
use serde_json::json;

use crate::cli::{OperatorArgs, OperatorCommand};

pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match args.command {
        OperatorCommand::Create {
            email,
            role,
            database,
        } => {
            let role: Role = role.parse()?;
            let (storage, _) = crate::serve::open(&database).await?;
            let created = operators::create(storage.as_ref(), &cli, &email, role, now_ms()).await?;
            println!("{}", serde_json::to_string(&created)?);
        }
        OperatorCommand::List { database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            for o in operators::list(storage.as_ref()).await? {
                println!("{}", serde_json::to_string(&o)?);
            }
        }
        OperatorCommand::Disable { email, database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            let o = operators::set_disabled(storage.as_ref(), &cli, &email, true, now_ms()).await?;
            println!("{}", serde_json::to_string(&o)?);
        }
        OperatorCommand::Enable { email, database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            let o =
                operators::set_disabled(storage.as_ref(), &cli, &email, false, now_ms()).await?;
            println!("{}", serde_json::to_string(&o)?);
        }
        OperatorCommand::Reset { email, database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            let reset = operators::reset(storage.as_ref(), &cli, &email, now_ms()).await?;
            println!("{}", serde_json::to_string(&reset)?);
        }
        OperatorCommand::Audit { limit, database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            for e in storage.audit_entries(limit).await? {
                println!(
                    "{}",
                    json!({
                        "id": e.id,
                        "at": rfc3339(e.at),
                        "actor": e.actor,
                        "role": e.role,
                        "ip": e.ip,
                        "action": e.action,
                        "target": e.target,
                        "before": e.before,
                        "after": e.after,
                    })
                );
            }
        }
    }
    Ok(())
}
