//! Three gateway nodes on one PostgreSQL database behind a balancer that follows their
//! `/readyz` (issue 14): merchants' deposits, payments and reads spread over the nodes while
//! one node is SIGKILLed (nothing acknowledged is lost; the callbacks it was attempting go out
//! from another node when their lease ends) and while all three are restarted in turn with
//! SIGTERM (no request fails: a stopping node drains).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use octopus_client::Client;

use crate::helpers::cluster::{open_ports, Balancer, Load, Tally};
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{merchant_create, Backend, ServerProcess, TestDb};

/// Each node: callbacks to the test's receiver on loopback, attempts of at most 2 s (a lease
/// of 14 s: `workers::callbacks::lease`), retried every second.
const NODE: &[&str] = &[
    "--allow-private-callbacks",
    "--callback-timeout",
    "2",
    "--callback-schedule",
    "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
    // Well longer than the balancer takes to see a stopping node unready (it checks every
    // 100 ms, each check waiting at most 500 ms), on a loaded machine too.
    "--drain-delay",
    "3",
];

struct Cluster {
    db: TestDb,
    nodes: Vec<ServerProcess>,
    balancer: Arc<Balancer>,
    merchant_uid: String,
    key: String,
    secret: String,
}

impl Cluster {
    async fn start(backend: Backend) -> Cluster {
        let db = TestDb::new(&backend).await;
        let creds = merchant_create(&db);
        let (merchant_uid, key, secret) = (
            creds["merchant_uid"].as_str().unwrap().to_string(),
            creds["test_api_key"].as_str().unwrap().to_string(),
            creds["test_api_secret"].as_str().unwrap().to_string(),
        );
        let balancer = Arc::new(Balancer::start(&key, &secret));
        let mut cluster = Cluster {
            db,
            nodes: Vec::new(),
            balancer,
            merchant_uid,
            key,
            secret,
        };
        for _ in 0..3 {
            cluster.start_node().await;
        }
        cluster
    }

    /// A new node, once the balancer sends it requests.
    async fn start_node(&mut self) {
        let node = ServerProcess::start(&self.db, NODE);
        self.balancer.add(&node.url);
        self.balancer.wait_ready(&node.url).await;
        self.nodes.push(node);
    }

    fn client(&self) -> Client {
        Client::new(&self.nodes[0].url, &self.key, &self.secret)
    }

    /// Every acknowledged deposit is served with its payment_uid, and the paid ones are
    /// completed and credited once: the merchant's balance is 12.34 per paid deposit less its
    /// fee, the ledger verifies.
    async fn assert_nothing_lost(&self, tally: &Tally) {
        let client = self.client();
        let paid: HashSet<&String> = tally.paid.iter().collect();
        for (id, payment_uid) in &tally.acknowledged {
            let found = client
                .get_order(id)
                .await
                .unwrap_or_else(|e| panic!("acknowledged deposit {id} lost: {e}"));
            assert_eq!(&found.payment_uid, payment_uid, "{id}");
            if paid.contains(id) {
                assert_eq!(found.payment_status, "completed", "{id}");
            }
        }
        let completed = self
            .db
            .query_count("SELECT COUNT(*) FROM orders WHERE payment_status = 'completed'")
            .await;
        assert!(
            completed as usize >= paid.len(),
            "{completed} completed, {} paid",
            paid.len()
        );
        let credits = self
            .db
            .query_count("SELECT COUNT(*) FROM journal_entries WHERE kind = 'deposit_credit'")
            .await;
        assert_eq!(credits, completed, "every completed deposit credited once");
        crate::helpers::assert_ledger_verifies(&self.db);
    }
}

/// The order a callback reports (its `order_uid`: the payment_uid).
fn payment_uid_of(json: &serde_json::Value) -> Option<String> {
    json["order_uid"].as_str().map(str::to_string)
}

async fn a_node_killed_under_load_loses_nothing_and_its_callbacks_go_out_from_another(
    backend: Backend,
) {
    // The merchant's callback endpoint is stuck: every attempt hangs until the gateway gives
    // up on it (2 s), so each node has attempts in flight.
    let receiver = Receiver::start(vec![], Reply::Hang(Duration::from_secs(120))).await;
    let mut cluster = Cluster::start(backend).await;
    let load = Load::start(
        Arc::clone(&cluster.balancer),
        &cluster.merchant_uid,
        &receiver.url,
        6,
        "kill",
    );
    load.wait_for_paid(30).await;

    // Node 0's callbacks in flight: requests the receiver holds on connections of its process.
    let victim = cluster.nodes[0].pid();
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let ports = open_ports(victim);
        let held: HashSet<String> = receiver
            .received()
            .iter()
            .filter(|r| ports.contains(&r.peer.port()))
            .filter_map(|r| payment_uid_of(&r.json))
            .collect();
        if held.len() >= 2 {
            break held;
        }
        assert!(
            Instant::now() < deadline,
            "node 0 never had callbacks in flight"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut killed = cluster.nodes.remove(0);
    killed.kill();
    cluster.balancer.remove(&killed.url);
    // They are still leased to the dead node: no other may send them before the lease ends.
    let pg = cluster.db.postgres().await.unwrap();
    let held: Vec<String> = held.into_iter().collect();
    let leases: HashMap<String, i64> = pg
        .query(
            "SELECT o.payment_uid, c.claimed_until FROM callbacks c JOIN orders o ON o.id = c.order_id \
             WHERE o.payment_uid = ANY($1) AND c.state = 'pending' \
               AND c.claimed_until > (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint",
            &[&held],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        !leases.is_empty(),
        "none of node 0's callbacks in flight ({held:?}) was still leased when it was killed"
    );
    // The endpoint recovers; the load goes on over the other two nodes for a while.
    receiver.answer_from_now(Reply::Success);
    let paid_at_kill = load.tally.lock().unwrap().paid.len();
    load.wait_for_paid(paid_at_kill + 30).await;
    let tally = load.stop().await;
    assert!(
        tally.acknowledged.len() >= 60,
        "{} acknowledged",
        tally.acknowledged.len()
    );

    // Every paid deposit's callback is acknowledged in the end, those node 0 was attempting
    // included: sent again from another node once their lease ran out.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = cluster
            .db
            .query_count(
                "SELECT COUNT(*) FROM orders WHERE payment_status = 'completed' \
                 AND notify_status <> 'completed'",
            )
            .await;
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} completed deposits still not called back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The dead node's lease was 14 s (`workers::callbacks::lease` of a 2 s timeout): no attempt
    // of those callbacks started within it after the kill (the dead node's own are never
    // recorded), and each was acknowledged after it.
    let lease_ms =
        octopus_server::workers::callbacks::lease(Duration::from_secs(2)).as_millis() as i64;
    for (uid, lease_end) in &leases {
        let within: i64 = pg
            .query_one(
                "SELECT COUNT(*) FROM callback_attempts a \
                 JOIN callbacks c ON c.id = a.callback_id JOIN orders o ON o.id = c.order_id \
                 WHERE o.payment_uid = $1 AND a.started_at >= $2 AND a.started_at < $3",
                &[uid, &(lease_end - lease_ms), lease_end],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            within, 0,
            "{uid} was attempted within the dead node's lease"
        );
        let acknowledged_at: Option<i64> = pg
            .query_one(
                "SELECT MIN(a.started_at) FROM callback_attempts a \
                 JOIN callbacks c ON c.id = a.callback_id JOIN orders o ON o.id = c.order_id \
                 WHERE o.payment_uid = $1 AND a.http_status = 200",
                &[uid],
            )
            .await
            .unwrap()
            .get(0);
        let acknowledged_at = acknowledged_at.unwrap_or_else(|| panic!("{uid} never acknowledged"));
        assert!(
            acknowledged_at >= *lease_end,
            "{uid} was sent again at {acknowledged_at}, before its lease on the dead node ended at {lease_end}"
        );
    }
    cluster.assert_nothing_lost(&tally).await;
}

async fn a_rolling_restart_of_three_nodes_under_load_fails_no_request(backend: Backend) {
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let mut cluster = Cluster::start(backend).await;
    let load = Load::start(
        Arc::clone(&cluster.balancer),
        &cluster.merchant_uid,
        &receiver.url,
        6,
        "roll",
    );
    load.wait_for_paid(20).await;
    // Each node in turn: stopped with SIGTERM while the load goes on (it drains: unready,
    // answers what it gets, then finishes its requests in flight), and replaced by a new one.
    for _ in 0..3 {
        let mut old = cluster.nodes.remove(0);
        let paid_before = load.tally.lock().unwrap().paid.len();
        let url = old.url.clone();
        let stopped = tokio::task::spawn_blocking(move || old.terminate())
            .await
            .unwrap();
        assert!(stopped, "{url} exited with an error after SIGTERM");
        cluster.balancer.remove(&url);
        cluster.start_node().await;
        load.wait_for_paid(paid_before + 10).await;
    }
    let tally = load.stop().await;
    assert!(
        tally.failures.is_empty(),
        "{} requests failed during the rolling restart: {:?}",
        tally.failures.len(),
        &tally.failures[..tally.failures.len().min(10)]
    );
    assert!(tally.paid.len() >= 50, "{} paid", tally.paid.len());
    cluster.assert_nothing_lost(&tally).await;
    // Every callback was acknowledged: none was left with a stopped node.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster
        .db
        .query_count(
            "SELECT COUNT(*) FROM orders WHERE payment_status = 'completed' \
             AND notify_status <> 'completed'",
        )
        .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "callbacks still not acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rule for rolling upgrades (docs/operations.md, "Upgrades"): a release's migrations only
/// add (tables, columns that may be null or have a default, indexes), so the nodes of the
/// release before go on working on the newer schema. Here the database is migrated past
/// this build by a "newer release" that adds a column of each kind to every table (nullable;
/// `NOT NULL` with a default, as this release's migration 15 adds `request_id` to `orders` and
/// `order_events`) and a table of its own; nodes of this build start on it (ready: a newer schema is fine), take,
/// pay, call back and account for deposits, and the ledger verifies.
async fn nodes_of_the_older_release_keep_working_on_a_newer_additive_schema(backend: Backend) {
    let db = TestDb::new(&backend).await;
    // Migrated by this build once, then by the newer release.
    merchant_create(&db);
    let tables: Vec<String> = {
        let url = db.database_url().unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert!(tables.len() > 20, "{tables:?}");
    let known: i64 = db
        .query_count("SELECT MAX(version) FROM schema_migrations")
        .await;
    let mut newer = String::from("CREATE TABLE newer_release_things (id BIGINT PRIMARY KEY);");
    for t in &tables {
        newer.push_str(&format!(
            "ALTER TABLE {t} ADD COLUMN newer_note TEXT; \
             ALTER TABLE {t} ADD COLUMN newer_flag BOOLEAN NOT NULL DEFAULT false; \
             ALTER TABLE {t} ADD COLUMN newer_text TEXT NOT NULL DEFAULT '';"
        ));
    }
    newer.push_str(&format!(
        "INSERT INTO schema_migrations (version) VALUES ({});",
        known + 1
    ));
    db.execute_sql(&newer).await;

    let receiver = Receiver::start(vec![], Reply::Success).await;
    let creds = merchant_create(&db);
    let (uid, key, secret) = (
        creds["merchant_uid"].as_str().unwrap(),
        creds["test_api_key"].as_str().unwrap(),
        creds["test_api_secret"].as_str().unwrap(),
    );
    let balancer = Arc::new(Balancer::start(key, secret));
    let nodes: Vec<ServerProcess> = (0..2).map(|_| ServerProcess::start(&db, NODE)).collect();
    for node in &nodes {
        balancer.add(&node.url);
        balancer.wait_ready(&node.url).await;
        let ready: serde_json::Value = reqwest::get(format!("{}/readyz", node.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["migrations"], known + 1, "{ready}");
    }
    let load = Load::start(Arc::clone(&balancer), uid, &receiver.url, 4, "newer");
    load.wait_for_paid(20).await;
    let tally = load.stop().await;
    assert!(tally.failures.is_empty(), "{:?}", tally.failures);
    let cluster = Cluster {
        db,
        nodes,
        balancer,
        merchant_uid: uid.to_string(),
        key: key.to_string(),
        secret: secret.to_string(),
    };
    cluster.assert_nothing_lost(&tally).await;
    receiver.wait_for(20, Duration::from_secs(30)).await;
}

crate::on_postgres!(
    a_node_killed_under_load_loses_nothing_and_its_callbacks_go_out_from_another,
    a_rolling_restart_of_three_nodes_under_load_fails_no_request,
    nodes_of_the_older_release_keep_working_on_a_newer_additive_schema,
);
