//! `octopus operator create|list|disable|enable|reset|audit|token-*`: the people who run the
//! gateway and the admin tokens of their automation, administered straight on the database
//! like `channel`. Every change is in the audit log,
//! with `cli` as who did it.

use octopus_domain::operator::Role;
use octopus_server::clock::now_ms;
use octopus_server::services::operators::{self, Actor, AuditView};

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
        OperatorCommand::Invite {
            email,
            merchant,
            database,
        } => {
            let (storage, _) = crate::serve::open(&database).await?;
            let invited =
                operators::invite(storage.as_ref(), &cli, &email, &merchant, now_ms()).await?;
            println!("{}", serde_json::to_string(&invited)?);
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
            let query = octopus_storage::AuditQuery {
                limit,
                ..Default::default()
            };
            for e in storage.audit_entries(&query).await? {
                println!("{}", serde_json::to_string(&AuditView::from(e))?);
            }
        }
        OperatorCommand::TokenCreate {
            name,
            role,
            database,
        } => {
            let role: Role = role.parse()?;
            let (storage, _) = crate::serve::open(&database).await?;
            let created =
                operators::create_token(storage.as_ref(), &cli, &name, role, now_ms()).await?;
            println!("{}", serde_json::to_string(&created)?);
        }
        OperatorCommand::TokenList { database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            for t in operators::list_tokens(storage.as_ref()).await? {
                println!("{}", serde_json::to_string(&t)?);
            }
        }
        OperatorCommand::TokenRevoke { name, database } => {
            let (storage, _) = crate::serve::open(&database).await?;
            operators::revoke_token(storage.as_ref(), &cli, &name, now_ms()).await?;
            println!("{}", serde_json::json!({"revoked": name}));
        }
    }
    Ok(())
}
