//! `octopus order new|get`: a merchant's view of the API from the command line, through the
//! client library. Prints the gateway's JSON answer.

use octopus_client::{Client, NewOrder};
use rand::Rng;

use crate::cli::{ClientArgs, OrderArgs, OrderCommand};

fn client(args: &ClientArgs) -> Client {
    Client::new(&args.url, &args.key, &args.secret)
}

pub async fn run(args: OrderArgs) -> anyhow::Result<()> {
    let answer = match args.command {
        OrderCommand::New(a) => {
            let merchant_order_id = a
                .merchant_order_id
                .clone()
                .unwrap_or_else(|| format!("cli-{:016x}", rand::thread_rng().gen::<u64>()));
            let mut order = NewOrder::deposit(
                &a.merchant_uid,
                &merchant_order_id,
                &a.amount,
                &a.currency,
                &a.payment,
                &a.country,
            );
            order.transaction_type = a.transaction_type.clone();
            order.to = a.to.clone();
            order.to_name = a.to_name.clone();
            order.to_bank_name = a.to_bank_name.clone();
            order.notify_url = a.notify_url.clone();
            order.redirect_url = a.redirect_url.clone();
            let mut fields = order.to_fields();
            // --field adds any other field, or overrides a documented one.
            for (k, v) in &a.fields {
                fields.insert(k.as_str(), v.as_str());
            }
            client(&a.client)
                .post_signed("/octopus/api/order/new", &fields)
                .await?
        }
        OrderCommand::Get {
            client: c,
            merchant_order_id,
        } => {
            let fields = [("merchant_order_id", merchant_order_id.as_str())]
                .into_iter()
                .collect();
            client(&c)
                .post_signed("/octopus/api/order/get", &fields)
                .await?
        }
        OrderCommand::History {
            payment_uid,
            database,
        } => {
            use octopus_server::admin::views;
            let storage = crate::serve::open_storage(&database).await?;
            let order = storage
                .order_by_payment_uid(&payment_uid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no order {payment_uid}"))?;
            let events = storage.order_events(&payment_uid).await?;
            let (instructions, exchanges) = storage.upstream_of(&payment_uid).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "payment_uid": order.payment_uid,
                    "channel": order.channel,
                    "payment_status": order.payment_status.as_str(),
                    "distribute_rules": serde_json::from_str::<serde_json::Value>(&order.distribute_rules).unwrap_or_default(),
                    "status_changes": views::status_changes(&events),
                    "payer_instructions": instructions,
                    "upstream": views::upstream_exchanges(&exchanges),
                }))?
            );
            return Ok(());
        }
        OrderCommand::Confirm {
            payment_uid,
            reference,
            amount,
            reason,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            return crate::accounts::confirm(
                storage.as_ref(),
                &payment_uid,
                &reference,
                &amount,
                &reason,
                &actor.name(),
            )
            .await;
        }
        OrderCommand::Refund {
            payment_uid,
            reason,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let order =
                octopus_server::services::orders::refund(storage.as_ref(), &payment_uid, &reason)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.data()))?;
            println!(
                "{}",
                serde_json::json!({
                    "payment_uid": order.payment_uid,
                    "payment_status": order.payment_status.as_str(),
                    "accounting_status": order.accounting_status.as_str(),
                })
            );
            return Ok(());
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer.body)?);
    if answer.status >= 400 {
        anyhow::bail!("the gateway answered HTTP {}", answer.status);
    }
    Ok(())
}
