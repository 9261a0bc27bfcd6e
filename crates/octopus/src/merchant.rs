//! `octopus merchant ...`: merchant administration straight on the database (works while a
//! server runs on the same database).

use octopus_server::services::merchants;

use crate::cli::{MerchantArgs, MerchantCommand};

pub async fn run(args: MerchantArgs) -> anyhow::Result<()> {
    match args.command {
        MerchantCommand::Create { name, database } => {
            let (storage, key) = crate::serve::open(&database).await?;
            let created = merchants::create(storage.as_ref(), &key, &name).await?;
            println!(
                "{}",
                serde_json::json!({
                    "merchant_uid": created.merchant_uid,
                    "merchant_name": created.merchant_name,
                    "api_key": created.api_key,
                    "api_secret": created.api_secret,
                    "test_api_key": created.test_api_key,
                    "test_api_secret": created.test_api_secret,
                })
            );
            Ok(())
        }
    }
}
