//! Structured values the storage interfaces take typed (a callback's body, a payer's
//! instructions): both backends give back what was recorded, say "nothing" when nothing was,
//! and refuse a stored value that does not decode rather than read it as empty.

use octopus_client::NewOrder;
use octopus_domain::RequestFields;
use octopus_storage::StorageError;

use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{spawn_app, Backend};

async fn stored_values_round_trip_and_fail_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let mut order = NewOrder::deposit(
        &m.merchant_uid,
        "sv-1",
        "120.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.notify_url = Some(receiver.url.clone());
    let created = app.client.create_order(&order).await.unwrap();
    let uid = created.payment.payment_uid.clone();
    let storage = app.storage();

    // Pay instructions: none recorded for a sandbox deposit, then exactly what was recorded.
    let (none, _) = storage.upstream_of(&uid).await.unwrap();
    assert_eq!(none, None, "nothing was recorded");
    let shown: RequestFields = [("account", "09 123 456"), ("holder", "Aung Aung")]
        .into_iter()
        .collect();
    storage
        .record_upstream(&uid, "sandbox", Some(shown.clone()), Vec::new())
        .await
        .unwrap();
    let (back, _) = storage.upstream_of(&uid).await.unwrap();
    assert_eq!(back, Some(shown));

    // A callback's body: what the order's state was when it was queued.
    let queued = storage
        .resend_callback(&uid, octopus_server::clock::now_ms())
        .await
        .unwrap();
    assert_eq!(queued.payload.get("merchant_order_id"), Some("sv-1"));
    assert_eq!(queued.payload.get("payment_status"), Some("pending"));
    assert_eq!(queued.payload.get("order_uid"), Some(uid.as_str()));

    // Values that do not decode are refused, naming the column.
    app.execute_sql("UPDATE order_upstream SET instructions = '[\"not\", \"an object\"]'")
        .await;
    assert!(matches!(
        storage.upstream_of(&uid).await,
        Err(StorageError::Corrupt("order_upstream.instructions"))
    ));
    app.execute_sql("UPDATE callbacks SET payload = '{\"amount\": {\"nested\": 1}}'")
        .await;
    assert!(matches!(
        storage.callbacks_of(&uid).await,
        Err(StorageError::Corrupt("callbacks.payload"))
    ));
}

crate::on_both_backends!(stored_values_round_trip_and_fail_closed);
