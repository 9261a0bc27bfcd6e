//! `octopus bench`: the benchmark harness. Opens N connections to a running gateway and runs
//! one scenario as fast as the gateway answers (one request in flight per connection):
//!
//! - `deposit`: signed `order/new` deposits;
//! - `payout`: payouts, each holding amount plus fee in the ledger (the merchant is funded
//!   first through a recharge deposit paid in the sandbox);
//! - `complete`: a deposit, then the payer's "pay" on the cashier page (the ledger credit; the
//!   page is fetched first for its form token, as a browser does);
//! - `fail`: a deposit, then "fail" (the same status change without a ledger posting);
//! - `callback`: like `complete`, with a notify_url: the harness runs the merchant's receiver
//!   and counts the callbacks it gets.
//!
//! It reports iterations per second and latency percentiles of the measured window (the
//! warm-up is excluded). The method and results are in docs/benchmarks.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
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
    let url = body["data"]["payment_url"].as_str().ok_or_else(|| format!("no payment_url in {body}"))?;
    let start = url.find("/octopus/pay/").ok_or_else(|| format!("unexpected payment_url {url}"))?;
    Ok(url[start..].to_string())
}

/// The payer's choice on a sandbox cashier page, posted as the page does: the page first, for
/// its form token, then the form.
async fn pay_or_fail(client: &mut Connection, cashier_path: &str, outcome: &str) -> Result<octopus_client::RawAnswer, String> {
    let page = client.get(cashier_path).await.map_err(|e| e.to_string())?;
    let page = String::from_utf8_lossy(&page.body);
    let token = page
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| format!("no form token on the cashier page {cashier_path}"))?;
    let form = format!("outcome={outcome}&token={token}");
    client.post_form(&format!("{cashier_path}/simulate"), &form).await.map_err(|e| e.to_string())
}

/// One iteration of a scenario. `notify_url` is the harness's receiver (callback scenario).
async fn iteration(
    client: &mut Connection,
    scenario: Scenario,
    merchant_uid: &str,
    id: &str,
    notify_url: Option<&str>,
) -> Result<(), String> {
    let mut order = match scenario {
        Scenario::Payout => NewOrder::payout(merchant_uid, id, "100.00", "mmk", "wavepay", "myanmar", "09123456789", "Bench", "wavepay"),
        _ => NewOrder::deposit(merchant_uid, id, "100.00", "mmk", "myanmar", "myanmar"),
    };
    order.notify_url = notify_url.map(str::to_string);
    let answer = client.post_signed("/octopus/api/order/new", &order.to_fields()).await.map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("HTTP {}: {}", answer.status, answer.parse().body));
    }
    let outcome = match scenario {
        Scenario::Complete | Scenario::Callback => "completed",
        Scenario::Fail => "failed",
        Scenario::Deposit | Scenario::Payout => return Ok(()),
    };
    let paid = pay_or_fail(client, &cashier_path(&answer)?, outcome).await?;
    if paid.status != 303 {
        return Err(format!("simulate HTTP {}: {}", paid.status, String::from_utf8_lossy(&paid.body)));
    }
    Ok(())
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
    let mut client = Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?;
    let mut order = NewOrder::deposit(&args.merchant_uid, &format!("bench-{run_id}-funding"), "100000000000.00", "mmk", "myanmar", "myanmar");
    order.accounting_type = Some("recharge".into());
    let answer = client.post_signed("/octopus/api/order/new", &order.to_fields()).await?;
    anyhow::ensure!(answer.status == 200, "funding deposit refused: {}", answer.parse().body);
    let path = cashier_path(&answer).map_err(anyhow::Error::msg)?;
    let paid = pay_or_fail(&mut client, &path, "completed").await.map_err(anyhow::Error::msg)?;
    anyhow::ensure!(paid.status == 303, "funding deposit not paid");
    Ok(())
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let run_id = format!("{:08x}", rand::thread_rng().gen::<u32>());
    if args.scenario == Scenario::Payout {
        fund(&args, &run_id).await?;
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
        let mut client = Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?;
        let merchant_uid = args.merchant_uid.clone();
        let run_id = run_id.clone();
        let scenario = args.scenario;
        let notify_url = notify_url.clone();
        let (measuring, stop) = (Arc::clone(&measuring), Arc::clone(&stop));
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
                let outcome = iteration(&mut client, scenario, &merchant_uid, &id, notify_url.as_deref()).await;
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
    let callbacks_per_second = (callbacks.load(Ordering::Relaxed) - callbacks_before) as f64 / elapsed;
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
        println!("measured         {elapsed:.1} s (after {:.1} s warm-up)", args.warmup);
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
