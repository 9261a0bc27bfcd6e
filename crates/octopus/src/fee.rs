//! `octopus fee set|list`: the operator sets merchants' fee schedules, straight on the
//! database (a running server picks a change up within two seconds). The work is
//! `services::fees`, which the admin API calls too.

use octopus_server::clock::now_ms;
use octopus_server::services::fees::{self, FeeInput};
use octopus_server::services::operators::Actor;

use crate::cli::{FeeArgs, FeeCommand};

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
            let input = FeeInput {
                payment,
                accounting_type,
                percent,
                fixed,
                min,
                max,
            };
            // The schedule is checked before the database is opened.
            fees::parse_schedule(&input)?;
            let storage = crate::serve::open_storage(&database).await?;
            let set =
                fees::set_by(storage.as_ref(), &Actor::cli(), &merchant, &input, now_ms()).await?;
            println!("{set}");
        }
        FeeCommand::List { merchant, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for s in fees::schedules(storage.as_ref(), &merchant).await? {
                println!("{s}");
            }
        }
    }
    Ok(())
}
