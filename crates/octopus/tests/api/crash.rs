//! A crash loses no acknowledged order: the real `octopus` binary takes orders under
//! concurrent load, is killed with SIGKILL, and after a restart every order it acknowledged is
//! there. Also shows `octopus merchant create` working while a server runs on the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use octopus_client::{Client, NewOrder};

use crate::helpers::{merchant_create, Backend, ServerProcess, TestDb};

async fn a_crash_loses_no_acknowledged_order(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let mut server = ServerProcess::start(&db, &[]);
    let url = server.url.clone();
    // The CLI works against the same database while the server runs.
    let creds = merchant_create(&db);
    let (uid, key, secret) = (
        creds["merchant_uid"].as_str().unwrap().to_string(),
        creds["api_key"].as_str().unwrap(),
        creds["api_secret"].as_str().unwrap(),
    );
    assert_eq!(creds["merchant_name"], "Crash Test Shop");
    let client = Client::new(&url, key, secret);

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (client, uid, acknowledged, stop) = (client.clone(), uid.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = format!("crash-{w}-{i}");
                let order = NewOrder::deposit(&uid, &id, "12.34", "usd", "card", "US");
                match client.create_order(&order).await {
                    Ok(created) => acknowledged.lock().unwrap().push((id, created.payment.payment_uid)),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Let orders flow, then kill the server in the middle of them.
    while acknowledged.lock().unwrap().len() < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    let mut server = ServerProcess::start(&db, &[]);
    let client = Client::new(&server.url, key, secret);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 300);
    for (id, payment_uid) in &acknowledged {
        let found = client.get_order(id).await.unwrap_or_else(|e| panic!("acknowledged order {id} lost: {e}"));
        assert_eq!(&found.payment_uid, payment_uid);
    }
    server.kill();
}

crate::on_both_backends!(a_crash_loses_no_acknowledged_order);
