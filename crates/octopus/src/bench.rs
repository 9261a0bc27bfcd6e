//! `octopus bench`: the benchmark harness. Opens N connections to a running gateway, sends
//! signed `order/new` deposits as fast as the gateway answers (one request in flight per
//! connection), and reports throughput and latency percentiles of the measured window (the
//! warm-up is excluded). The method and results are in docs/benchmarks.md.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use octopus_client::{Connection, NewOrder};
use rand::Rng;

use crate::cli::BenchArgs;

struct Worker {
    latencies: Histogram<u64>,
    ok: u64,
    failed: u64,
    first_error: Option<String>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let run_id = format!("{:08x}", rand::thread_rng().gen::<u32>());
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::with_capacity(args.connections);
    for connection in 0..args.connections {
        let mut client = Connection::open(&args.client.url, &args.client.key, &args.client.secret).await?;
        let merchant_uid = args.merchant_uid.clone();
        let run_id = run_id.clone();
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
                let order = NewOrder::deposit(&merchant_uid, &id, "100.00", "mmk", "myanmar", "myanmar");
                let started = Instant::now();
                let answer = client.post_signed("/octopus/api/order/new", &order.to_fields()).await;
                let micros = started.elapsed().as_micros() as u64;
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                match answer {
                    Ok(a) if a.status == 200 => {
                        w.ok += 1;
                        let _ = w.latencies.record(micros.max(1));
                    }
                    Ok(a) => {
                        w.failed += 1;
                        w.first_error.get_or_insert_with(|| format!("HTTP {}: {}", a.status, a.parse().body));
                    }
                    Err(e) => {
                        w.failed += 1;
                        w.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            w
        }));
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
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
                "connections": args.connections,
                "seconds": elapsed,
                "orders": ok,
                "errors": failed,
                "orders_per_second": throughput.round(),
                "p50_ms": ms(0.50),
                "p90_ms": ms(0.90),
                "p99_ms": ms(0.99),
                "p999_ms": ms(0.999),
                "max_ms": all.max() as f64 / 1000.0,
                "first_error": first_error,
            })
        );
    } else {
        println!("connections      {}", args.connections);
        println!("measured         {elapsed:.1} s (after {:.1} s warm-up)", args.warmup);
        println!("orders created   {ok}");
        println!("errors           {failed}");
        println!("throughput       {throughput:.0} orders/s");
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
