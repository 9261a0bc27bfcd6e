//! `octopus bench`: the benchmark harness. Opens N connections to a running gateway and runs
//! one scenario as fast as the gateway answers (one request in flight per connection):
//!
//! - `deposit`: signed `order/new` deposits;
//! - `payout`: payouts, each holding amount plus fee in the ledger (the merchant is funded
//!   first through a recharge deposit paid in the sandbox);
//! - `complete`: a deposit, then the payer's "pay" on the cashier page (the ledger credit; the
//!   page is fetched first for its form token, as a browser does);
//! - `fail`: a deposit, then "fail" (the same status change without a ledger posting);
//! - `completion`: the completion alone, one request: "pay" on the cashier page of a deposit
//!   created, and its page fetched, before the run (`--prepared` of them);
//! - `callback`: like `complete`, with a notify_url: the harness runs the merchant's receiver
//!   and counts the callbacks it gets;
//! - `own-accounts`: a THB deposit on the operator's own accounts (given an online account and
//!   a unique final amount), then the signed report of its account's device (`--device`), which
//!   matches and completes it;
//! - `callback-backlog`: the `callback` scenario's steady rate first; then, while the
//!   receiver holds every request, `--backlog` more paid deposits whose callbacks fall due
//!   for its one host; then the receiver answers at once and the drain rate is measured
//!   (and every order_uid checked to arrive once).
//!
//! It reports iterations per second and latency percentiles of the measured window (the
//! warm-up is excluded). The method and results are in docs/benchmarks.md.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use octopus_client::{Connection, NewOrder};
use rand::Rng;

use crate::cli::{BenchArgs, Scenario};

struct Worker {
    latencies: Histogram<u64>,
    ok: u64,
    failed: u64,
    first_error: Option<String>,
}

/// The deposit's cashier path (`/octopus/pay/<uid>`) from an `order/new` answer.
fn cashier_path(answer: &octopus_client::RawAnswer) -> Result<String, String> {
    let body = answer.parse().body;
    let url = body["data"]["payment_url"]
        .as_str()
        .ok_or_else(|| format!("no payment_url in {body}"))?;
    let start = url
        .find("/octopus/pay/")
        .ok_or_else(|| format!("unexpected payment_url {url}"))?;
    Ok(url[start..].to_string())
}

/// The payer's choice on a sandbox cashier page, posted as the page does: the page first, for
/// its form token, then the form.
async fn pay_or_fail(
    client: &mut Connection,
    cashier_path: &str,
    outcome: &str,
) -> Result<(), String> {
    let token = form_token(client, cashier_path).await?;
    post_outcome(client, cashier_path, &token, outcome).await
}

/// The form token on a cashier page.
async fn form_token(client: &mut Connection, cashier_path: &str) -> Result<String, String> {
    let page = client.get(cashier_path).await.map_err(|e| e.to_string())?;
    let page = String::from_utf8_lossy(&page.body);
    page.split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
        .ok_or_else(|| format!("no form token on the cashier page {cashier_path}"))
}

/// The cashier page's form, posted with the page's token; taken when the page redirects the
/// payer (303).
async fn post_outcome(
    client: &mut Connection,
    cashier_path: &str,
    token: &str,
    outcome: &str,
) -> Result<(), String> {
    let form = format!("outcome={outcome}&token={token}");
    let paid = client
        .post_form(&format!("{cashier_path}/simulate"), &form)
        .await
        .map_err(|e| e.to_string())?;
    if paid.status != 303 {
        return Err(format!(
            "simulate HTTP {}: {}",
            paid.status,
            String::from_utf8_lossy(&paid.body)
        ));
    }
    Ok(())
}

/// A deposit of the completion scenario, ready to be paid: its cashier path and form token.
struct Prepared {
    path: String,
    token: String,
}

/// The completion scenario's deposits, created and their pages fetched before the run, over
/// every connection at once; one list per connection.
async fn prepare(args: &BenchArgs, run_id: &str) -> anyhow::Result<Vec<Vec<Prepared>>> {
    let per_connection = args.prepared.div_ceil(args.connections);
    let mut tasks = Vec::with_capacity(args.connections);
    for connection in 0..args.connections {
        let mut client =
            Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?;
        let merchant_uid = args.merchant_uid.clone();
        let run_id = run_id.to_string();
        tasks.push(tokio::spawn(async move {
            let mut prepared = Vec::with_capacity(per_connection);
            for n in 0..per_connection {
                let id = format!("bench-{run_id}-prepared-{connection}-{n}");
                let order =
                    NewOrder::deposit(&merchant_uid, &id, "100.00", "mmk", "myanmar", "myanmar");
                let answer = client
                    .post_signed("/octopus/api/order/new", &order.to_fields())
                    .await
                    .map_err(|e| e.to_string())?;
                if answer.status != 200 {
                    return Err(format!("HTTP {}: {}", answer.status, answer.parse().body));
                }
                let path = cashier_path(&answer)?;
                let token = form_token(&mut client, &path).await?;
                prepared.push(Prepared { path, token });
            }
            Ok::<_, String>(prepared)
        }));
    }
    let mut all = Vec::with_capacity(tasks.len());
    for task in tasks {
        all.push(task.await?.map_err(anyhow::Error::msg)?);
    }
    Ok(all)
}

/// The own-accounts scenario's devices by account id.
type Devices = std::collections::HashMap<String, octopus_client::device::DeviceClient>;

fn devices(args: &BenchArgs) -> anyhow::Result<Devices> {
    args.devices
        .iter()
        .map(|d| {
            let mut parts = d.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(account), Some(device), Some(secret)) => Ok((
                    account.to_string(),
                    octopus_client::device::DeviceClient::new(&args.client.url, device, secret),
                )),
                _ => anyhow::bail!("--device takes ACCOUNT:DEVICE_ID:SECRET, not {d:?}"),
            }
        })
        .collect()
}

/// A deposit on own accounts, then its device's report of exactly its final amount.
async fn own_account_deposit(
    client: &mut Connection,
    devices: &Devices,
    merchant_uid: &str,
    id: &str,
) -> Result<(), String> {
    let amount = format!("{}.00", rand::thread_rng().gen_range(100..1000));
    let mut order = NewOrder::deposit(merchant_uid, id, &amount, "thb", "thailand", "thailand");
    order.float_precision = Some("2".into());
    let answer = client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await
        .map_err(|e| e.to_string())?;
    let body = answer.parse().body;
    if answer.status != 200 {
        return Err(format!("HTTP {}: {body}", answer.status));
    }
    let payment = &body["data"]["payment"];
    let rules: serde_json::Value =
        serde_json::from_str(payment["distribute_rules"].as_str().unwrap_or("{}"))
            .map_err(|e| e.to_string())?;
    let account = rules["account"]["chosen"]
        .as_str()
        .ok_or_else(|| format!("not on an own account: {rules}"))?;
    let device = devices
        .get(account)
        .ok_or_else(|| format!("no --device for account {account}"))?;
    let report = octopus_client::device::TransferReport {
        account: account.to_string(),
        amount: payment["final_amount"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        currency: "thb".into(),
        reference: id.to_string(),
        ..Default::default()
    };
    let reported = device.report(&report).await.map_err(|e| e.to_string())?;
    match reported.body["data"]["outcome"].as_str() {
        Some("matched") => Ok(()),
        _ => Err(format!(
            "report HTTP {}: {}",
            reported.status, reported.body
        )),
    }
}

/// The completion scenario's iteration: "pay" on a prepared deposit's page.
async fn complete_prepared(client: &mut Connection, prepared: &Prepared) -> Result<(), String> {
    post_outcome(client, &prepared.path, &prepared.token, "completed").await
}

/// One iteration of a scenario. `notify_url` is the harness's receiver (callback scenario).
async fn iteration(
    client: &mut Connection,
    scenario: Scenario,
    merchant_uid: &str,
    id: &str,
    notify_url: Option<&str>,
    devices: &Devices,
) -> Result<(), String> {
    if scenario == Scenario::OwnAccounts {
        return own_account_deposit(client, devices, merchant_uid, id).await;
    }
    let mut order = match scenario {
        Scenario::Payout => NewOrder::payout(
            merchant_uid,
            id,
            "100.00",
            "mmk",
            "wavepay",
            "myanmar",
            "09123456789",
            "Bench",
            "wavepay",
        ),
        _ => NewOrder::deposit(merchant_uid, id, "100.00", "mmk", "myanmar", "myanmar"),
    };
    // A member id and a payer account, as merchants send them: the blocklists and velocity
    // rules look both up (docs/benchmarks.md, "Merchant safety"). 100,000 members and
    // 1,000,000 payer accounts: a merchant's payers, not a few machines ordering nonstop.
    let n = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    order.member_id = Some(format!("member-{}", n % 100_000));
    if order.transaction_type == "income" {
        order.from = Some(format!("0164{:07}", n % 1_000_000));
    }
    order.notify_url = notify_url.map(str::to_string);
    let answer = client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("HTTP {}: {}", answer.status, answer.parse().body));
    }
    let outcome = match scenario {
        Scenario::Complete | Scenario::Callback | Scenario::CallbackBacklog => "completed",
        Scenario::Fail => "failed",
        Scenario::Deposit | Scenario::Payout | Scenario::OwnAccounts | Scenario::Completion => {
            return Ok(())
        }
    };
    pay_or_fail(client, &cashier_path(&answer)?, outcome).await
}

/// The merchant's callback receiver of the callback scenario: answers every callback
/// `success` at once and counts them.
async fn start_receiver(counted: Arc<AtomicU64>) -> anyhow::Result<String> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/callback",
        post(move || {
            let counted = Arc::clone(&counted);
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                "success"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/callback", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// Funds the merchant for the payout scenario: one large recharge deposit, paid.
async fn fund(args: &BenchArgs, run_id: &str) -> anyhow::Result<()> {
    let mut client =
        Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?;
    let mut order = NewOrder::deposit(
        &args.merchant_uid,
        &format!("bench-{run_id}-funding"),
        "100000000000.00",
        "mmk",
        "myanmar",
        "myanmar",
    );
    order.accounting_type = Some("recharge".into());
    let answer = client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await?;
    anyhow::ensure!(
        answer.status == 200,
        "funding deposit refused: {}",
        answer.parse().body
    );
    let path = cashier_path(&answer).map_err(anyhow::Error::msg)?;
    pay_or_fail(&mut client, &path, "completed")
        .await
        .map_err(|e| anyhow::anyhow!("funding deposit not paid: {e}"))
}

/// The merchant's receiver of the callback-backlog scenario: while slow it holds each request
/// (at most [`HOLD`], well under the gateway's callback timeout, so no attempt times out and is
/// rightly sent again); it counts what it acknowledged and the order_uids that came twice.
struct BacklogReceiver {
    url: String,
    acknowledged: Arc<AtomicU64>,
    duplicates: Arc<AtomicU64>,
    fast: tokio::sync::watch::Sender<bool>,
}

const HOLD: Duration = Duration::from_secs(5);

impl BacklogReceiver {
    async fn start() -> anyhow::Result<BacklogReceiver> {
        use axum::routing::post;
        let acknowledged = Arc::new(AtomicU64::new(0));
        let duplicates = Arc::new(AtomicU64::new(0));
        let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
        let (fast, fast_rx) = tokio::sync::watch::channel(true);
        let (counted, twice) = (Arc::clone(&acknowledged), Arc::clone(&duplicates));
        let app = axum::Router::new().route(
            "/callback",
            post(move |body: axum::body::Bytes| {
                let (counted, twice, seen, mut fast) = (
                    Arc::clone(&counted),
                    Arc::clone(&twice),
                    Arc::clone(&seen),
                    fast_rx.clone(),
                );
                async move {
                    if !*fast.borrow() {
                        let _ = tokio::time::timeout(HOLD, fast.wait_for(|f| *f)).await;
                    }
                    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let uid = json["order_uid"].as_str().unwrap_or_default().to_string();
                    if !seen.lock().expect("seen lock").insert(uid) {
                        twice.fetch_add(1, Ordering::Relaxed);
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                    "success"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/callback", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(BacklogReceiver {
            url,
            acknowledged,
            duplicates,
            fast,
        })
    }

    fn count(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Waits until `n` callbacks were acknowledged; the seconds it took.
    async fn wait_for(&self, n: u64, timeout: Duration) -> anyhow::Result<f64> {
        let started = Instant::now();
        while self.count() < n {
            anyhow::ensure!(
                started.elapsed() < timeout,
                "only {} of {n} callbacks arrived in {timeout:?}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(started.elapsed().as_secs_f64())
    }
}

/// The callback-backlog scenario (see the module's comment).
async fn run_backlog(args: &BenchArgs, run_id: &str) -> anyhow::Result<()> {
    let receiver = BacklogReceiver::start().await?;
    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        clients
            .push(Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?);
    }

    // 1. Steady: the callback scenario, counting orders paid and callbacks received in the window.
    let made = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (connection, mut client) in clients.into_iter().enumerate() {
        let (made, stop) = (Arc::clone(&made), Arc::clone(&stop));
        let (merchant_uid, url, run_id) = (
            args.merchant_uid.clone(),
            receiver.url.clone(),
            run_id.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = format!("bench-{run_id}-steady-{connection}-{n}");
                if iteration(
                    &mut client,
                    Scenario::Callback,
                    &merchant_uid,
                    &id,
                    Some(&url),
                    &Devices::new(),
                )
                .await
                .is_ok()
                {
                    made.fetch_add(1, Ordering::Relaxed);
                }
            }
            client
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let (made_before, received_before, started) = (
        made.load(Ordering::Relaxed),
        receiver.count(),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let steady_orders = (made.load(Ordering::Relaxed) - made_before) as f64 / elapsed;
    let steady_callbacks = (receiver.count() - received_before) as f64 / elapsed;
    stop.store(true, Ordering::Relaxed);
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await?);
    }
    let steady_total = made.load(Ordering::Relaxed);
    // What the steady load left behind (when it paid orders faster than their callbacks went).
    let left_behind = steady_total.saturating_sub(receiver.count());
    let left_drained_in = receiver
        .wait_for(steady_total, Duration::from_secs(600))
        .await?;

    // 2. The backlog: the receiver holds every request while the orders are made and paid.
    receiver.fast.send_replace(false);
    let next = Arc::new(AtomicU64::new(0));
    let building = Instant::now();
    let mut tasks = Vec::new();
    for (connection, mut client) in clients.into_iter().enumerate() {
        let next = Arc::clone(&next);
        let (merchant_uid, url, run_id, backlog) = (
            args.merchant_uid.clone(),
            receiver.url.clone(),
            run_id.to_string(),
            args.backlog,
        );
        tasks.push(tokio::spawn(async move {
            let mut failed = 0u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= backlog {
                    break;
                }
                let id = format!("bench-{run_id}-backlog-{connection}-{n}");
                if iteration(
                    &mut client,
                    Scenario::Callback,
                    &merchant_uid,
                    &id,
                    Some(&url),
                    &Devices::new(),
                )
                .await
                .is_err()
                {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += task.await?;
    }
    anyhow::ensure!(failed == 0, "{failed} backlog orders failed");
    let built_in = building.elapsed().as_secs_f64();
    let while_slow = receiver.count() - steady_total;

    // 3. The drain: the receiver answers at once.
    receiver.fast.send_replace(true);
    let drained_in = receiver
        .wait_for(steady_total + args.backlog, Duration::from_secs(600))
        .await?;
    let drained = args.backlog - while_slow;
    let drain_rate = drained as f64 / drained_in;
    let duplicates = receiver.duplicates.load(Ordering::Relaxed);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "scenario": args.scenario.as_str(),
                "connections": args.connections,
                "steady_orders_per_second": steady_orders.round(),
                "steady_callbacks_per_second": steady_callbacks.round(),
                "left_behind": left_behind,
                "left_behind_drain_seconds": left_drained_in,
                "backlog": args.backlog,
                "backlog_built_seconds": built_in,
                "delivered_while_slow": while_slow,
                "drained": drained,
                "drain_seconds": drained_in,
                "drain_callbacks_per_second": drain_rate.round(),
                "duplicates": duplicates,
            })
        );
    } else {
        println!("scenario         {}", args.scenario.as_str());
        println!("connections      {}", args.connections);
        println!("steady           {steady_orders:.0} orders/s, {steady_callbacks:.0} callbacks/s ({elapsed:.1} s after {:.1} s warm-up)", args.warmup);
        println!("left behind      {left_behind} callbacks at the end of the steady load, delivered {left_drained_in:.1} s later");
        println!("backlog          {} orders paid in {built_in:.1} s while the receiver was slow ({while_slow} delivered meanwhile)", args.backlog);
        println!("drain            {drained} callbacks in {drained_in:.1} s = {drain_rate:.0} callbacks/s ({:.2} x steady)", drain_rate / steady_callbacks);
        println!("sent twice       {duplicates}");
    }
    Ok(())
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let run_id = format!("{:08x}", rand::thread_rng().gen::<u32>());
    if args.scenario == Scenario::CallbackBacklog {
        return run_backlog(&args, &run_id).await;
    }
    if args.scenario == Scenario::Payout {
        fund(&args, &run_id).await?;
    }
    let mut prepared = if args.scenario == Scenario::Completion {
        let started = Instant::now();
        let prepared = prepare(&args, &run_id).await?;
        eprintln!(
            "prepared         {} deposits in {:.1} s",
            prepared.iter().map(Vec::len).sum::<usize>(),
            started.elapsed().as_secs_f64()
        );
        prepared
    } else {
        Vec::new()
    };
    let devices = Arc::new(devices(&args)?);
    if args.scenario == Scenario::OwnAccounts {
        anyhow::ensure!(
            !devices.is_empty(),
            "the own-accounts scenario needs --device"
        );
        // The devices stay online for the run (a heartbeat now and every 30 s).
        for device in devices.values() {
            let device = device.clone();
            let beat = device.heartbeat().await?;
            anyhow::ensure!(beat.status == 200, "heartbeat refused: {}", beat.body);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    let _ = device.heartbeat().await;
                }
            });
        }
    }
    let callbacks = Arc::new(AtomicU64::new(0));
    let notify_url = match args.scenario {
        Scenario::Callback => Some(start_receiver(Arc::clone(&callbacks)).await?),
        _ => None,
    };
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::with_capacity(args.connections);
    for connection in 0..args.connections {
        let mut client =
            Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?;
        let merchant_uid = args.merchant_uid.clone();
        let run_id = run_id.clone();
        let scenario = args.scenario;
        let notify_url = notify_url.clone();
        let devices = Arc::clone(&devices);
        let (measuring, stop) = (Arc::clone(&measuring), Arc::clone(&stop));
        let mut prepared = prepared.pop().unwrap_or_default().into_iter();
        tasks.push(tokio::spawn(async move {
            let mut w = Worker {
                latencies: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
                ok: 0,
                failed: 0,
                first_error: None,
            };
            let mut n: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = format!("bench-{run_id}-{connection}-{n}");
                let started = Instant::now();
                let outcome = if scenario == Scenario::Completion {
                    match prepared.next() {
                        Some(p) => complete_prepared(&mut client, &p).await,
                        // Even in the warm-up: the run would measure fewer connections.
                        None => {
                            w.failed += 1;
                            w.first_error.get_or_insert(
                                "the prepared deposits ran out (raise --prepared)".into(),
                            );
                            break;
                        }
                    }
                } else {
                    iteration(
                        &mut client,
                        scenario,
                        &merchant_uid,
                        &id,
                        notify_url.as_deref(),
                        &devices,
                    )
                    .await
                };
                let micros = started.elapsed().as_micros() as u64;
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                match outcome {
                    Ok(()) => {
                        w.ok += 1;
                        let _ = w.latencies.record(micros.max(1));
                    }
                    Err(e) => {
                        w.failed += 1;
                        w.first_error.get_or_insert(e);
                    }
                }
            }
            w
        }));
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let callbacks_before = callbacks.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let callbacks_per_second =
        (callbacks.load(Ordering::Relaxed) - callbacks_before) as f64 / elapsed;
    stop.store(true, Ordering::Relaxed);

    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut failed, mut first_error) = (0u64, 0u64, None);
    for task in tasks {
        let w = task.await?;
        all.add(&w.latencies)?;
        ok += w.ok;
        failed += w.failed;
        if first_error.is_none() {
            first_error = w.first_error;
        }
    }
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    let throughput = ok as f64 / elapsed;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "scenario": args.scenario.as_str(),
                "connections": args.connections,
                "seconds": elapsed,
                "iterations": ok,
                "errors": failed,
                "per_second": throughput.round(),
                "callbacks_per_second": callbacks_per_second.round(),
                "p50_ms": ms(0.50),
                "p90_ms": ms(0.90),
                "p99_ms": ms(0.99),
                "p999_ms": ms(0.999),
                "max_ms": all.max() as f64 / 1000.0,
                "first_error": first_error,
            })
        );
    } else {
        println!("scenario         {}", args.scenario.as_str());
        println!("connections      {}", args.connections);
        println!(
            "measured         {elapsed:.1} s (after {:.1} s warm-up)",
            args.warmup
        );
        println!("iterations       {ok}");
        println!("errors           {failed}");
        println!("throughput       {throughput:.0} iterations/s");
        if notify_url.is_some() {
            println!("callbacks        {callbacks_per_second:.0} received/s");
        }
        println!(
            "latency          p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   p99.9 {:.2} ms   max {:.2} ms",
            ms(0.50),
            ms(0.90),
            ms(0.99),
            ms(0.999),
            all.max() as f64 / 1000.0
        );
        if let Some(e) = first_error {
            println!("first error      {e}");
        }
    }
    Ok(())
}
