//! A crash loses no acknowledged order: the real `octopus` binary takes orders under
//! concurrent load, is killed with SIGKILL, and after a restart every order it acknowledged is
//! there. Also shows `octopus merchant create` working while a server runs on the database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use octopus_client::{Client, NewOrder};

use crate::helpers::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_octopus");

fn db_args(db: &TestDb) -> Vec<String> {
    let mut args = vec!["--data-dir".to_string(), db.data_dir.path().display().to_string()];
    if let Some(url) = db.database_url() {
        args.extend(["--database-url".to_string(), url]);
    }
    args
}

/// Starts `octopus serve` and returns it with its base URL (read from its first line).
fn serve(db: &TestDb) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(db_args(db))
        .env_remove("OCTOPUS_DATABASE_URL")
        .env_remove("OCTOPUS_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start octopus serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (child, url)
}

fn merchant_create(db: &TestDb) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["merchant", "create", "--name", "Crash Test Shop"])
        .args(db_args(db))
        .env_remove("OCTOPUS_DATABASE_URL")
        .env_remove("OCTOPUS_MASTER_KEY")
        .output()
        .expect("run octopus merchant create");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("merchant create prints JSON")
}

async fn a_crash_loses_no_acknowledged_order(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let (mut server, url) = serve(&db);
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
    server.kill().expect("SIGKILL the server");
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    let (mut server, url) = serve(&db);
    let client = Client::new(&url, key, secret);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 300);
    for (id, payment_uid) in &acknowledged {
        let found = client.get_order(id).await.unwrap_or_else(|e| panic!("acknowledged order {id} lost: {e}"));
        assert_eq!(&found.payment_uid, payment_uid);
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

crate::on_both_backends!(a_crash_loses_no_acknowledged_order);
