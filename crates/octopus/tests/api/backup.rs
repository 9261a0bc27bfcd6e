//! Backups and restores (issue 14): `octopus backup --to FILE` copies the embedded database
//! while a real gateway process serves a stream of orders; the copy, put in a new data
//! directory with the master key, serves every order acknowledged before the backup began,
//! and `octopus ledger verify` finds its journal sound. A backup never overwrites a file, and
//! PostgreSQL is sent to its own tools.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use octopus_client::{Client, NewOrder};

use crate::helpers::{command, merchant_create, pay, Backend, ServerProcess, TestDb};

fn backup(data_dir: &std::path::Path, to: &std::path::Path) -> (bool, String) {
    let out = command()
        .args(["backup", "--to", to.to_str().unwrap()])
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_into_a_new_data_dir_that_serves_and_verifies() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let server = ServerProcess::start(&db, &[]);
    let creds = merchant_create(&db);
    let field = |k: &str| creds[k].as_str().unwrap().to_string();
    let client = Client::new(
        &server.url,
        &field("test_api_key"),
        &field("test_api_secret"),
    );
    let uid = field("merchant_uid");
    let deposit =
        move |id: String| NewOrder::deposit(&uid, &id, "10.00", "mmk", "wavepay", "myanmar");

    // Money that moved: paid deposits, so the journal has entries to verify.
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let id = format!("paid-{i}");
        let created = client.create_order(&deposit(id.clone())).await.unwrap();
        pay(&created.payment_url).await;
        acknowledged.push(id);
    }
    // Orders keep coming while the backup runs; each is noted once acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (client, stop, acked) = (client.clone(), Arc::clone(&stop), Arc::clone(&acked));
        let deposit = deposit.clone();
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("load-{worker}-{i}");
                client.create_order(&deposit(id.clone())).await.unwrap();
                acked.lock().unwrap().push(id);
                i += 1;
            }
        }));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while acked.lock().unwrap().len() < 50 {
        assert!(
            std::time::Instant::now() < deadline && load.iter().all(|w| !w.is_finished()),
            "the load stopped before 50 orders"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Every order acknowledged by now must be in the copy: the backup begins after this.
    let before: Vec<String> = acked.lock().unwrap().clone();
    let target = tempfile::tempdir().unwrap();
    let file = target.path().join("octopus-backup.db");
    let (dir, to) = (db.data_dir.path().to_path_buf(), file.clone());
    let (ok, report) = tokio::task::spawn_blocking(move || backup(&dir, &to))
        .await
        .unwrap();
    assert!(ok, "{report}");
    let served_meanwhile = acked.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::Relaxed);
    for worker in load {
        worker.await.unwrap();
    }
    let answer: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert!(answer["bytes"].as_u64().unwrap() > 0, "{answer}");
    assert!(answer["schema_version"].as_i64().unwrap() >= 14, "{answer}");
    // One self-contained file: no journal beside it, and its header says so (byte 18: 1 for
    // a rollback journal, 2 for WAL); no temporary file left.
    for beside in ["-wal", "-shm", "-journal"] {
        let mut name = file.clone().into_os_string();
        name.push(beside);
        assert!(
            !std::path::Path::new(&name).exists(),
            "{beside} beside the copy"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap()[18], 1);
    assert_eq!(
        std::fs::read_dir(target.path()).unwrap().count(),
        1,
        "only the copy"
    );
    assert!(
        served_meanwhile > 0,
        "the writers went on while the backup ran"
    );

    // Never over an existing file: refused, the file as it was.
    let size = std::fs::metadata(&file).unwrap().len();
    let (ok, refused) = backup(db.data_dir.path(), &file);
    assert!(!ok && refused.contains("exists already"), "{refused}");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    // PostgreSQL goes to its own tools.
    let out = command()
        .args(["backup", "--to", "/tmp/never.db", "--database-url"])
        .arg("postgres://postgres@127.0.0.1:5432/postgres")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_basebackup"));

    // Restore: a new data directory with the copy and the master key.
    drop(server);
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("octopus.db")).unwrap();
    std::fs::copy(
        db.data_dir.path().join("master.key"),
        restored.path().join("master.key"),
    )
    .unwrap();
    let args = vec![
        "--data-dir".to_string(),
        restored.path().display().to_string(),
    ];
    let again = ServerProcess::start_logged(args, &[], &[]);
    let client = Client::new(
        &again.url,
        &field("test_api_key"),
        &field("test_api_secret"),
    );
    for id in &acknowledged {
        let order = client.get_order(id).await.unwrap();
        assert_eq!(order.payment_status, "completed", "{id}");
    }
    for id in &before {
        client
            .get_order(id)
            .await
            .unwrap_or_else(|e| panic!("{id}, acknowledged before the backup, is lost: {e}"));
    }
    eprintln!(
        "backup: {} orders acknowledged before it, {served_meanwhile} served while it ran",
        before.len()
    );
    client
        .create_order(&deposit("after-restore".into()))
        .await
        .unwrap();
    let out = command()
        .args([
            "ledger",
            "verify",
            "--data-dir",
            restored.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("OK: every entry balances"), "{text}");
}
