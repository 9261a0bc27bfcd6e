//! `octopus callback list|resend`: an order's callbacks with every attempt, and sending one
//! again by hand (recorded as manual; the running gateway delivers it).

use octopus_server::clock::now_ms;
use octopus_storage::{Callback, CallbackAttempt};
use serde_json::Value;

use crate::cli::{CallbackArgs, CallbackCommand};

fn callback_json(c: &Callback, attempts: &[CallbackAttempt]) -> Value {
    octopus_server::admin::views::callback(c, attempts)
}

pub async fn run(args: CallbackArgs) -> anyhow::Result<()> {
    match args.command {
        CallbackCommand::List {
            payment_uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let all = storage.callbacks_of(&payment_uid).await?;
            let list: Vec<Value> = all.iter().map(|(c, a)| callback_json(c, a)).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        CallbackCommand::Resend {
            payment_uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let c = storage
                .resend_callback(&payment_uid, now_ms())
                .await
                .map_err(|e| match e {
                    octopus_storage::StorageError::NotFound => {
                        anyhow::anyhow!("no order {payment_uid}")
                    }
                    octopus_storage::StorageError::NoNotifyUrl => {
                        anyhow::anyhow!("order {payment_uid} has no notify_url")
                    }
                    other => other.into(),
                })?;
            println!("{}", callback_json(&c, &[]));
        }
    }
    Ok(())
}
