//! The soak under faults (issue 14): three gateway processes on one PostgreSQL database behind
//! a TCP load balancer that follows their `/readyz`, three merchants' mixed traffic (sandbox
//! deposits paid on the cashier page and sandbox payouts in their test books; Paykassma
//! deposits paid by a transfer and its transaction ID, and Paykassma payouts that the provider
//! pays or rejects, in their live books), while the Paykassma simulator answers 5xx, times out,
//! repeats and delays its postbacks, the merchants' callback endpoint fails and recovers, and
//! nodes are SIGKILLed and replaced at random.
//!
//! At the end, with the faults gone: every acknowledged order is there with its payment_uid;
//! every completion is credited once; every callback is acknowledged or still scheduled (and
//! all are acknowledged once the endpoint answers); `octopus ledger verify` is clean; and each
//! book's balances equal a replay, written here, of the acknowledged orders' outcomes.
//!
//! It runs for `OCTOPUS_SOAK_SECS` seconds (60 in the suite; `scripts/soak.sh` runs it for
//! 10 minutes by default and prints the report, see docs/benchmarks.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_client::{Client, ClientError, NewOrder};
use octopus_paykassma_sim::{Faults, Sim, SimConfig};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::helpers::cluster::{Balancer, Front};
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{db_args, merchant_create_named, Backend, ServerProcess, TestDb};

/// The nodes' settings: callbacks to loopback, retried soon (so that a recovered endpoint is
/// caught up with within the run; only one failing for over a minute waits an hour), sandbox
/// payouts completing after half a second.
const NODE: &[&str] = &[
    "--allow-private-callbacks",
    "--callback-timeout",
    "2",
    "--callback-schedule",
    "2s,2s,2s,2s,2s,5s,5s,10s,10s,30s,1h",
    "--sandbox-payout-delay",
    "0.5",
    "--drain-delay",
    "1",
];

/// The channel of the Paykassma simulator.
const PK: &str = "pk-soak";

/// One book of a merchant, with a client through the load balancer.
struct Book {
    merchant_uid: String,
    live: bool,
    client: Client,
}

/// An order the gateway acknowledged (answered with it), as the test made it.
#[derive(Clone, Debug)]
struct Acknowledged {
    book: usize,
    merchant_order_id: String,
    payment_uid: String,
    payout: bool,
}

/// What the run did, for the end checks and the report.
#[derive(Default)]
struct Record {
    acknowledged: Vec<Acknowledged>,
    /// Requests that failed and were made again (the nodes' kills, the faults).
    retried: u64,
    /// Orders refused at creation (a payout's insufficient balance, the provider failing).
    refused: u64,
    kills: u64,
    fault_rounds: u64,
    endpoint_down_rounds: u64,
    /// Withdrawals the provider paid, rejected.
    withdrawals_paid: u64,
    withdrawals_rejected: u64,
}

/// Makes a request until the gateway answers it: a transport failure (a node killed, the
/// balancer with no node ready) is counted and the same request made again, which creation's
/// idempotency makes safe. The gateway's own refusal is returned.
async fn until_answered<T, F, Fut>(record: &Mutex<Record>, request: F) -> Result<T, ClientError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match request().await {
            Err(ClientError::Http(_)) | Err(ClientError::Unexpected(_))
                if Instant::now() < deadline =>
            {
                record.lock().unwrap().retried += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(ClientError::Api { status, .. }) if status >= 500 && Instant::now() < deadline => {
                record.lock().unwrap().retried += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// A cashier page's form post (the page read first for its token), until a node answers it
/// with `expected` or the order is no longer pending (an earlier post took effect and its
/// answer was lost with a killed node: posted again, it is refused as already paid).
async fn page_post(
    record: &Mutex<Record>,
    http: &reqwest::Client,
    order: (&Client, &str),
    payment_url: &str,
    action: &str,
    form: &[(&str, &str)],
    expected: u16,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answered = async {
            let page = http.get(payment_url).send().await.ok()?.text().await.ok()?;
            let token = page
                .split(r#"<meta name="csrf-token" content=""#)
                .nth(1)?
                .split('"')
                .next()?
                .to_string();
            let mut form: Vec<(&str, &str)> = form.to_vec();
            form.push(("token", &token));
            let answer = http
                .post(format!("{payment_url}/{action}"))
                .form(&form)
                .send()
                .await
                .ok()?;
            Some(answer.status().as_u16())
        }
        .await;
        if answered == Some(expected) {
            return;
        }
        let (client, merchant_order_id) = order;
        if let Ok(now) = client.get_order(merchant_order_id).await {
            if now.payment_status != "pending" {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{action} on {payment_url} never answered {expected} (last: {answered:?})"
        );
        record.lock().unwrap().retried += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cluster: nodes replaced at random while the run goes on.
struct Nodes {
    db: TestDb,
    running: Mutex<Vec<ServerProcess>>,
    balancer: Arc<Balancer>,
    public_url: String,
}

impl Nodes {
    async fn start_one(&self) {
        let mut args: Vec<&str> = NODE.to_vec();
        args.extend(["--public-url", &self.public_url]);
        let node = ServerProcess::start_logged(db_args(&self.db), &args, &[]);
        self.balancer.add(&node.url);
        if !self
            .balancer
            .ready_within(&node.url, Duration::from_secs(30))
            .await
        {
            panic!("{} never became ready: {:?}", node.url, node.output());
        }
        self.running.lock().unwrap().push(node);
    }

    /// SIGKILLs node `i` (of those running) and starts another in its place.
    async fn replace(&self, i: usize) {
        let mut killed = {
            let mut running = self.running.lock().unwrap();
            let i = i % running.len();
            running.remove(i)
        };
        killed.kill();
        self.balancer.remove(&killed.url);
        self.start_one().await;
    }
}

async fn a_soak_under_faults_loses_nothing_and_balances(backend: Backend) {
    let seconds: u64 = std::env::var("OCTOPUS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("OCTOPUS_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let started = Instant::now();
    let db = TestDb::new(&backend).await;
    let merchants: Vec<serde_json::Value> = (0..3)
        .map(|i| merchant_create_named(&db, &format!("Soak Shop {i}")))
        .collect();

    // In front of the nodes: the balancer's view of who is ready, and one address for payers,
    // the provider's postbacks and merchants.
    let first = &merchants[0];
    let balancer = Arc::new(Balancer::start(
        first["test_api_key"].as_str().unwrap(),
        first["test_api_secret"].as_str().unwrap(),
    ));
    let front = Front::start(Arc::clone(&balancer)).await;

    // The provider, posting back through the front.
    let config = SimConfig {
        postback_url: format!("{}/octopus/postback/{PK}", front.url),
        postback_retry: Duration::from_millis(300),
        timeout_sleep: Duration::from_secs(2),
        ..SimConfig::default()
    };
    let sim = crate::helpers::paykassma::start_for_processes(
        &db,
        PK,
        config,
        // A payout whose withdrawal went unanswered is looked at again after 3 s (the
        // default, 120 s, would outlast the run's end).
        &[
            "--payments",
            "wavepay",
            "--setting",
            "timeout_ms=700",
            "--setting",
            "resend_after_ms=3000",
        ],
    )
    .await;

    let receiver = Arc::new(Receiver::start(vec![], Reply::Success).await);
    let nodes = Arc::new(Nodes {
        db,
        running: Mutex::new(Vec::new()),
        balancer: Arc::clone(&balancer),
        public_url: front.url.clone(),
    });
    for _ in 0..3 {
        nodes.start_one().await;
    }

    let books: Arc<Vec<Book>> = Arc::new(
        merchants
            .iter()
            .flat_map(|m| {
                let uid = m["merchant_uid"].as_str().unwrap().to_string();
                [
                    ("api_key", "api_secret", true),
                    ("test_api_key", "test_api_secret", false),
                ]
                .map(|(key, secret, live)| Book {
                    merchant_uid: uid.clone(),
                    live,
                    client: Client::new(
                        &front.url,
                        m[key].as_str().unwrap(),
                        m[secret].as_str().unwrap(),
                    ),
                })
            })
            .collect(),
    );
    let record: Arc<Mutex<Record>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let transfers = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();

    // Merchants: per book, a depositor and a payer.
    for (b, book) in books.iter().enumerate() {
        for payouts in [false, true] {
            let (books, record, stop, sim, notify) = (
                Arc::clone(&books),
                Arc::clone(&record),
                Arc::clone(&stop),
                sim.clone(),
                receiver.url.clone(),
            );
            let transfers = Arc::clone(&transfers);
            let live = book.live;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (b as u64 * 2 + payouts as u64));
            tasks.spawn(async move {
                let book = &books[b];
                let http = crate::helpers::http();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let id = format!("soak-{b}-{}-{i}", if payouts { "out" } else { "in" });
                    let mut order = match (live, payouts) {
                        (false, false) => NewOrder::deposit(
                            &book.merchant_uid,
                            &id,
                            &format!("{}.{:02}", rng.gen_range(5..50), rng.gen_range(0..100)),
                            "usd",
                            "card",
                            "US",
                        ),
                        (false, true) => NewOrder::payout(
                            &book.merchant_uid,
                            &id,
                            &format!("{}.00", rng.gen_range(1..10)),
                            "usd",
                            "bank",
                            "US",
                            "1",
                            "A",
                            "B",
                        ),
                        (true, false) => NewOrder::deposit(
                            &book.merchant_uid,
                            &id,
                            &format!("{}", rng.gen_range(10..90) * 100),
                            "mmk",
                            "wavepay",
                            "myanmar",
                        ),
                        (true, true) => NewOrder::payout(
                            &book.merchant_uid,
                            &id,
                            &format!("{}", rng.gen_range(5..30) * 100),
                            "mmk",
                            "wavepay",
                            "myanmar",
                            "01642234663",
                            "Daw Aye",
                            "wavepay",
                        ),
                    };
                    order.notify_url = Some(notify.clone());
                    let created =
                        until_answered(&record, || book.client.create_order(&order)).await;
                    let created = match created {
                        Ok(c) => c,
                        Err(ClientError::Api { .. }) => {
                            // Refused: not enough balance yet, or the provider failing at
                            // creation (no channel left). Not acknowledged.
                            record.lock().unwrap().refused += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                        Err(e) => panic!("{id}: {e}"),
                    };
                    record.lock().unwrap().acknowledged.push(Acknowledged {
                        book: b,
                        merchant_order_id: id.clone(),
                        payment_uid: created.payment.payment_uid.clone(),
                        payout: payouts,
                    });
                    if payouts || created.payment.payment_status != "pending" {
                        continue; // payouts end on their own (the sandbox, the provider below)
                    }
                    if live {
                        // The payer transfers the amount in the wallet and enters its ID.
                        // A transaction ID has at most 11 characters.
                        let tx = format!("T{:010}", transfers.fetch_add(1, Ordering::Relaxed));
                        let amount: i64 = order.amount.parse().unwrap();
                        sim.transfer(&tx, amount, "MMK");
                        page_post(
                            &record,
                            &http,
                            (&book.client, &id),
                            &created.payment_url,
                            "confirm",
                            &[("transaction_id", &tx)],
                            200,
                        )
                        .await;
                    } else {
                        page_post(
                            &record,
                            &http,
                            (&book.client, &id),
                            &created.payment_url,
                            "simulate",
                            &[("outcome", "completed")],
                            303,
                        )
                        .await;
                    }
                }
            });
        }
    }

    // The provider pays most withdrawals and rejects some, a little later.
    let provider = {
        let (sim, record, stop) = (sim.clone(), Arc::clone(&record), Arc::clone(&stop));
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5e77);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(300)).await;
                pay_withdrawals(&sim, &record, &mut rng, 0.8);
            }
        })
    };

    // Chaos: faults of the provider and of the callback endpoint, and nodes killed.
    let chaos = {
        let (sim, record, stop, receiver, nodes) = (
            sim.clone(),
            Arc::clone(&record),
            Arc::clone(&stop),
            Arc::clone(&receiver),
            Arc::clone(&nodes),
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xc4a05);
        tokio::spawn(async move {
            let mut next_kill = Instant::now() + Duration::from_secs(rng.gen_range(5..10));
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(1500..4000))).await;
                let faults = match rng.gen_range(0..6) {
                    0 => Faults::default(),
                    1 => Faults {
                        create_5xx: rng.gen_range(1..4),
                        withdrawal_5xx: rng.gen_range(0..2),
                        ..Faults::default()
                    },
                    2 => Faults {
                        create_timeout: 1,
                        withdrawal_timeout: rng.gen_range(0..2),
                        ..Faults::default()
                    },
                    3 => Faults {
                        postback_duplicates: rng.gen_range(1..4),
                        ..Faults::default()
                    },
                    4 => Faults {
                        postback_delay_ms: rng.gen_range(200..1500),
                        latency_ms: rng.gen_range(0..200),
                        ..Faults::default()
                    },
                    _ => Faults {
                        postback_duplicates: 1,
                        create_5xx: 1,
                        postback_delay_ms: 300,
                        ..Faults::default()
                    },
                };
                sim.set_faults(faults);
                record.lock().unwrap().fault_rounds += 1;
                let down = rng.gen_bool(0.4);
                receiver.answer_from_now(if down {
                    if rng.gen_bool(0.5) {
                        Reply::Answer(500, "busy")
                    } else {
                        Reply::Hang(Duration::from_secs(5))
                    }
                } else {
                    Reply::Success
                });
                if down {
                    record.lock().unwrap().endpoint_down_rounds += 1;
                }
                if Instant::now() >= next_kill {
                    nodes.replace(rng.gen_range(0..3)).await;
                    record.lock().unwrap().kills += 1;
                    next_kill = Instant::now() + Duration::from_secs(rng.gen_range(5..15));
                }
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    chaos.await.unwrap();
    provider.await.unwrap();
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let ran_for = started.elapsed();

    // The faults end; what is in flight settles.
    sim.set_faults(Faults::default());
    receiver.answer_from_now(Reply::Success);
    let settle = Instant::now();
    let checker = nodes
        .db
        .postgres()
        .await
        .expect("the soak runs on PostgreSQL");
    loop {
        pay_withdrawals(
            &sim,
            &record,
            &mut rand::rngs::StdRng::seed_from_u64(seed),
            1.0,
        );
        let pending_payouts: i64 = checker
            .query_one(
                "SELECT COUNT(*) FROM orders WHERE transaction_type = 'expense' \
                 AND payment_status IN ('pending', 'processing')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        // Deposits never paid (a creation cut off upstream) stay open: only payouts must end.
        if pending_payouts == 0 {
            break;
        }
        if settle.elapsed() > Duration::from_secs(180) {
            let open: Vec<String> = checker
                .query(
                    "SELECT o.payment_uid || ' ' || o.channel || ' ' || o.payment_status || ' ' || \
                     COALESCE((SELECT e.reason FROM order_events e WHERE e.order_id = o.id \
                               ORDER BY e.id DESC LIMIT 1), 'no change') || ' check ' || \
                     COALESCE(o.next_check_at::text, 'none') \
                     FROM orders o WHERE o.transaction_type = 'expense' \
                     AND o.payment_status IN ('pending', 'processing')",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            panic!(
                "{pending_payouts} payouts still open three minutes after the faults ended: {open:?}; \
                 the provider's withdrawals: {}",
                sim.state()["withdrawals"]
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let record = std::mem::take(&mut *record.lock().unwrap());
    let report = check_the_end(&nodes, &books, &record, &checker).await;
    let settled_in = settle.elapsed();
    crate::helpers::report(&format!(
        "soak (seed {seed}): {:.0} s under faults, settled in {:.1} s; {} orders acknowledged \
         ({} payouts), {} refused at creation, {} requests made again, {} nodes \
         SIGKILLed, {} fault rounds ({} with the callback endpoint down), withdrawals {} paid \
         / {} rejected; {report}",
        ran_for.as_secs_f64(),
        settled_in.as_secs_f64(),
        record.acknowledged.len(),
        record.acknowledged.iter().filter(|a| a.payout).count(),
        record.refused,
        record.retried,
        record.kills,
        record.fault_rounds,
        record.endpoint_down_rounds,
        record.withdrawals_paid,
        record.withdrawals_rejected,
    ));
}

/// Finishes the provider's withdrawals still open: paid with probability `pay`, else rejected.
fn pay_withdrawals(sim: &Sim, record: &Mutex<Record>, rng: &mut impl Rng, pay: f64) {
    let state = sim.state();
    for w in state["withdrawals"].as_array().into_iter().flatten() {
        if w["status"] != 0 {
            continue;
        }
        let Some(id) = w["withdrawal_id"].as_str() else {
            continue;
        };
        let paid = rng.gen_bool(pay);
        if sim.finish_withdrawal(id, if paid { 1 } else { 5 }) {
            let mut record = record.lock().unwrap();
            if paid {
                record.withdrawals_paid += 1;
            } else {
                record.withdrawals_rejected += 1;
            }
        }
    }
}

/// The end-of-run checks; a summary of what they found, for the report.
async fn check_the_end(
    nodes: &Nodes,
    books: &[Book],
    record: &Record,
    checker: &tokio_postgres::Client,
) -> String {
    // Every acknowledged order is there, with its payment_uid; each book's balances are
    // replayed from their outcomes: a completed deposit credits its final amount less its fee,
    // a payout holds its amount and fee while open, takes them when completed, and gives them
    // back when failed.
    let mut replayed: HashMap<(usize, String), (Decimal, Decimal)> = HashMap::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for a in &record.acknowledged {
        let book = &books[a.book];
        let order = book
            .client
            .get_order(&a.merchant_order_id)
            .await
            .unwrap_or_else(|e| panic!("acknowledged order {} lost: {e}", a.merchant_order_id));
        assert_eq!(order.payment_uid, a.payment_uid, "{}", a.merchant_order_id);
        *statuses
            .entry(format!(
                "{} {}",
                if a.payout { "payout" } else { "deposit" },
                order.payment_status
            ))
            .or_default() += 1;
        let d = |text: &str| text.parse::<Decimal>().unwrap_or(Decimal::ZERO);
        let (available, held) = replayed
            .entry((a.book, order.currency.to_lowercase()))
            .or_default();
        match (a.payout, order.payment_status.as_str()) {
            (false, "completed") => *available += d(&order.final_amount) - d(&order.fee),
            (true, "completed") => *available -= d(&order.amount) + d(&order.fee),
            (true, "failed") => {}
            (true, _) => {
                *available -= d(&order.amount) + d(&order.fee);
                *held += d(&order.amount) + d(&order.fee);
            }
            (false, _) => {}
        }
    }
    for (b, book) in books.iter().enumerate() {
        let fields = [("merchant_uid", book.merchant_uid.as_str())]
            .into_iter()
            .collect();
        let balance = book
            .client
            .post_signed("/octopus/api/ledger/get_merchant_balance", &fields)
            .await
            .unwrap()
            .into_data()
            .unwrap();
        for currency in ["usd", "mmk"] {
            let (available, held) = replayed
                .get(&(b, currency.to_string()))
                .copied()
                .unwrap_or_default();
            let got = |field: &str| {
                balance["balances"][currency][field]
                    .as_str()
                    .map_or(Decimal::ZERO, |t| t.parse().unwrap())
            };
            assert_eq!(
                (got("available"), got("held")),
                (available, held),
                "book {b} ({}) {currency}: the gateway's balances against the replay",
                if book.live { "live" } else { "test" }
            );
        }
    }

    // Every completion credited once, every payout settled or released once.
    let once = |kind: &'static str, status: &'static str, transaction_type: &'static str| async move {
        let twice: i64 = checker
            .query_one(
                "SELECT COUNT(*) FROM (SELECT order_id FROM journal_entries WHERE kind = $1 \
                 GROUP BY order_id HAVING COUNT(*) > 1) t",
                &[&kind],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(twice, 0, "orders with more than one {kind}");
        let entries: i64 = checker
            .query_one(
                "SELECT COUNT(*) FROM journal_entries WHERE kind = $1",
                &[&kind],
            )
            .await
            .unwrap()
            .get(0);
        let orders: i64 = checker
            .query_one(
                "SELECT COUNT(*) FROM orders WHERE payment_status = $1 AND transaction_type = $2",
                &[&status, &transaction_type],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            entries, orders,
            "{kind} entries against {status} {transaction_type}s"
        );
    };
    once("deposit_credit", "completed", "income").await;
    once("payout_settle", "completed", "expense").await;
    // A payout failed at creation held nothing: a release only follows a hold, once.
    let unheld: i64 = checker
        .query_one(
            "SELECT COUNT(*) FROM journal_entries r WHERE r.kind = 'payout_release' AND NOT EXISTS \
             (SELECT 1 FROM journal_entries h WHERE h.kind = 'payout_hold' AND h.order_id = r.order_id)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unheld, 0, "releases without a hold");
    let released_twice: i64 = checker
        .query_one(
            "SELECT COUNT(*) FROM (SELECT order_id FROM journal_entries WHERE kind = 'payout_release' \
             GROUP BY order_id HAVING COUNT(*) > 1) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(released_twice, 0, "payouts released twice");

    // Every callback acknowledged or still scheduled; once the endpoint answers, all but those
    // whose next attempt is far off (an hour after a minute of failures) are acknowledged.
    let failed: i64 = checker
        .query_one(
            "SELECT COUNT(*) FROM callbacks WHERE state NOT IN ('completed', 'pending')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed, 0, "callbacks given up");
    // Only an order's oldest pending callback (its head) may go: a newer one waits behind one
    // scheduled an hour away, and is still scheduled too.
    let deadline = Instant::now() + Duration::from_secs(90);
    let due_soon = "FROM callbacks c JOIN orders o ON o.id = c.order_id \
                    WHERE c.state = 'pending' AND c.head AND c.next_attempt_at \
                    < (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint + 60000";
    loop {
        let waiting: i64 = checker
            .query_one(&format!("SELECT COUNT(*) {due_soon}"), &[])
            .await
            .unwrap()
            .get(0);
        if waiting == 0 {
            break;
        }
        if Instant::now() >= deadline {
            let stuck: Vec<String> = checker
                .query(
                    &format!(
                        "SELECT o.payment_uid || ' attempts ' || c.attempts || ' next ' || \
                         c.next_attempt_at || ' claimed until ' || c.claimed_until || ' ' || \
                         c.last_error {due_soon}"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            panic!("{waiting} callbacks due within a minute still not acknowledged: {stuck:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let callbacks: i64 = checker
        .query_one(
            "SELECT COUNT(*) FROM callbacks WHERE state = 'completed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let scheduled: i64 = checker
        .query_one(
            "SELECT COUNT(*) FROM callbacks WHERE state = 'pending'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    crate::helpers::assert_ledger_verifies(&nodes.db);
    format!(
        "outcomes {statuses:?}; {callbacks} callbacks acknowledged, {scheduled} still scheduled; \
         balances equal to the replay in {} books; ledger verify clean",
        books.len()
    )
}

crate::on_postgres!(a_soak_under_faults_loses_nothing_and_balances);
