//! `octopus callback list|resend`: an order's callbacks with every attempt, and sending one
//! again by hand (recorded as manual; the running gateway delivers it).

use octopus_server::clock::{now_ms, rfc3339};
use octopus_storage::{Callback, CallbackAttempt};
use serde_json::{json, Value};

use crate::cli::{CallbackArgs, CallbackCommand};

fn callback_json(c: &Callback, attempts: &[CallbackAttempt]) -> Value {
    json!({
        "callback_id": c.id,
        "payment_uid": c.payment_uid,
        "notify_url": c.notify_url,
        "state": c.state.as_str(),
        "manual": c.manual,
        "attempts": c.attempts,
        "next_attempt_at": if c.state == octopus_storage::CallbackState::Pending { rfc3339(c.next_attempt_at) } else { String::new() },
        "last_error": c.last_error,
        "created_at": rfc3339(c.created_at),
        "body": c.payload,
        "attempt_log": attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "manual": a.manual,
            "at": rfc3339(a.started_at),
            "http_status": a.http_status,
            "latency_ms": a.latency_ms,
            "error": a.error,
            "response": a.response_head,
        })).collect::<Vec<_>>(),
    })
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
