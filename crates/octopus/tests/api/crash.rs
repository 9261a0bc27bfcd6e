//! A crash loses no acknowledged order: the real `octopus` binary takes orders under
//! concurrent load, is killed with SIGKILL, and after a restart every order it acknowledged is
//! there. Also shows `octopus merchant create` working while a server runs on the database,
//! and a payout stored but not sent upstream when its server was killed being sent after the
//! restart.

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
        creds["test_api_key"].as_str().unwrap(),
        creds["test_api_secret"].as_str().unwrap(),
    );
    assert_eq!(creds["merchant_name"], "Crash Test Shop");
    let client = Client::new(&url, key, secret);

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (client, uid, acknowledged, stop) = (
            client.clone(),
            uid.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = format!("crash-{w}-{i}");
                let order = NewOrder::deposit(&uid, &id, "12.34", "usd", "card", "US");
                match client.create_order(&order).await {
                    Ok(created) => acknowledged
                        .lock()
                        .unwrap()
                        .push((id, created.payment.payment_uid)),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Let orders flow, then kill the server in the middle of them.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server acknowledged too few orders before the crash"
        );
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
        let found = client
            .get_order(id)
            .await
            .unwrap_or_else(|e| panic!("acknowledged order {id} lost: {e}"));
        assert_eq!(&found.payment_uid, payment_uid);
    }
    server.kill();
}

/// The server is killed while a payout is on its way to Paykassma (the simulator answers
/// slowly): the payout was stored, its send never settled. After a restart the background
/// worker sends it again (same withdrawal id: Paykassma holds one withdrawal) and it becomes
/// processing.
async fn a_payout_cut_off_by_a_crash_is_sent_after_the_restart(backend: Backend) {
    use octopus_paykassma_sim::{Faults, SimConfig};
    let db = TestDb::new(&backend).await;
    let mut server = ServerProcess::start(&db, &[]);
    let creds = merchant_create(&db);
    let field = |k: &str| creds[k].as_str().unwrap().to_string();
    // A Paykassma payout moves real money: the live key, funded for real.
    let client = Client::new(&server.url, &field("api_key"), &field("api_secret"));
    let uid = field("merchant_uid");
    crate::helpers::accounts::fund_live_on(
        &db,
        None,
        &server.url,
        &client,
        &uid,
        "mmk",
        "50000.00",
    )
    .await;

    let config = SimConfig {
        postback_url: format!("{}/octopus/postback/pk-c", server.url),
        ..SimConfig::default()
    };
    let sim = crate::helpers::paykassma::start_for_processes(
        &db,
        "pk-c",
        config,
        &[
            "--priority",
            "10",
            "--setting",
            "timeout_ms=5000",
            "--setting",
            "resend_after_ms=6000",
        ],
    )
    .await;
    crate::helpers::wait_for_channel(&server.url, "pk-c").await;

    sim.set_faults(Faults {
        latency_ms: 3000,
        ..Faults::default()
    });
    let payout = NewOrder::payout(
        &uid,
        "crash-out",
        "1000.00",
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "U Ba",
        "wavepay",
    );
    let pending = {
        let client = client.clone();
        tokio::spawn(async move { client.create_order(&payout).await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sim.state()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["call"] == "withdrawal")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the payout never reached Paykassma"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    assert!(
        pending.await.unwrap().is_err(),
        "the merchant never got an answer"
    );
    sim.set_faults(Faults::default());

    let restarted = ServerProcess::start(&db, &[]);
    let client = Client::new(&restarted.url, &field("api_key"), &field("api_secret"));
    let stored = client
        .get_order("crash-out")
        .await
        .expect("the payout was stored");
    assert_eq!(stored.channel, "pk-c");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let order = client.get_order("crash-out").await.unwrap();
        if order.payment_status == "processing" {
            break;
        }
        assert_eq!(order.payment_status, "pending", "{order:?}");
        assert!(std::time::Instant::now() < deadline, "never sent again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state = sim.state();
    let sends = state["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call"] == "withdrawal")
        .count();
    assert!(sends >= 2, "sent again after the restart: {state}");
    assert_eq!(
        state["withdrawals"].as_array().unwrap().len(),
        1,
        "one withdrawal at Paykassma"
    );
}

crate::on_both_backends!(
    a_payout_cut_off_by_a_crash_is_sent_after_the_restart,
    a_crash_loses_no_acknowledged_order,
);
