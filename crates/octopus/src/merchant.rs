//! `octopus merchant ...`: merchant administration straight on the database (works while a
//! server runs on the same database). The work is `services::merchants`, which the admin API
//! calls too.

use octopus_server::services::merchants;
use octopus_server::services::operators::Actor;

use crate::cli::{MerchantArgs, MerchantCommand};

pub async fn run(args: MerchantArgs) -> anyhow::Result<()> {
    match args.command {
        MerchantCommand::Create { name, database } => {
            let (storage, key) = crate::serve::open(&database).await?;
            let created =
                merchants::create_by(storage.as_ref(), &key, &Actor::cli(), &name).await?;
            println!("{}", serde_json::to_string(&created)?);
            Ok(())
        }
        MerchantCommand::Disable { merchant, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let now = octopus_server::clock::now_ms();
            let after =
                merchants::set_disabled_by(storage.as_ref(), &Actor::cli(), &merchant, true, now)
                    .await?;
            println!("{after}");
            Ok(())
        }
        MerchantCommand::Enable { merchant, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let now = octopus_server::clock::now_ms();
            let after =
                merchants::set_disabled_by(storage.as_ref(), &Actor::cli(), &merchant, false, now)
                    .await?;
            println!("{after}");
            Ok(())
        }
    }
}
