//! Group insert of new orders. Under load, many merchants' `order/new` arrive at once; one
//! multi-row `INSERT ... SELECT FROM UNNEST(...)` per group costs PostgreSQL one statement and
//! one commit (one WAL flush) instead of one each, which is where the database spends most of
//! its time per order. A dispatcher task gathers the orders waiting, runs at most
//! [`MAX_GROUPS_IN_FLIGHT`] groups at once, and answers each caller once its group committed.
//!
//! An order the group statement skipped (`ON CONFLICT DO NOTHING`) is retried alone, which
//! finds the merchant's existing order or reports the conflict.
//!
//! A group with orders that velocity rules count runs in a transaction that counts them first
//! (`crate::velocity`): orders over a rule are inserted refused.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use octopus_domain::risk::VelocityRule;
use octopus_domain::Order;
use octopus_storage::{CreateOutcome, StorageError};

use crate::grouping::{Grouper, Waiting};
use crate::orders;

const MAX_GROUP: usize = 256;
const MAX_GROUPS_IN_FLIGHT: usize = 4;

#[derive(Clone)]
pub(crate) struct GroupInsert(Grouper<(Order, Vec<VelocityRule>), CreateOutcome>);

impl GroupInsert {
    pub(crate) fn start(pool: Pool) -> GroupInsert {
        GroupInsert(Grouper::start(
            "order inserter",
            MAX_GROUP,
            MAX_GROUPS_IN_FLIGHT,
            move |group| {
                let pool = pool.clone();
                async move { insert_group(&pool, group).await }
            },
        ))
    }

    /// Inserts `order`, counted against its merchant's velocity `rules`.
    pub(crate) async fn create(
        &self,
        order: Order,
        rules: Vec<VelocityRule>,
    ) -> octopus_storage::Result<CreateOutcome> {
        self.0.submit((order, rules)).await
    }
}

async fn insert_group(pool: &Pool, group: Vec<Waiting<(Order, Vec<VelocityRule>), CreateOutcome>>) {
    let mut client = match pool.get().await {
        Ok(c) => c,
        Err(e) => {
            for w in group {
                let _ = w.answer.send(Err(StorageError::Database(format!(
                    "no database connection: {e}"
                ))));
            }
            return;
        }
    };
    let (requests, answers): (Vec<_>, Vec<_>) =
        group.into_iter().map(|w| (w.request, w.answer)).unzip();
    let (mut orders, rules): (Vec<Order>, Vec<Vec<VelocityRule>>) = requests.into_iter().unzip();
    let started = std::time::Instant::now();
    let asked: Vec<(&Order, &[VelocityRule])> = orders
        .iter()
        .zip(&rules)
        .map(|(o, r)| (o, r.as_slice()))
        .collect();
    let inserted = if !crate::velocity::asks(&asked) {
        let all: Vec<&Order> = orders.iter().collect();
        orders::insert_many(&client, &all).await
    } else {
        // Counting refuses orders in place: the group as it came is kept for the fallback.
        let mut counted = orders.clone();
        let open = InTransaction(Some(client));
        let inserted = insert_counted(&open, &mut counted, &rules).await;
        client = open.finish();
        if inserted.is_ok() {
            orders = counted;
        }
        inserted
    };
    octopus_storage::metrics::group_committed(
        "postgres",
        "deposits",
        orders.len(),
        started.elapsed(),
    );
    let inserted = match inserted {
        Ok(ids) => ids,
        Err(e) => {
            // One order must not fail the others of its group: insert each alone.
            tracing::warn!(error = %e, orders = orders.len(), "a group insert failed; inserting one by one");
            for ((order, rules), answer) in orders.into_iter().zip(rules).zip(answers) {
                let _ = answer.send(orders::create_counted(&mut client, order, &[], &rules).await);
            }
            return;
        }
    };
    let mut ids: HashMap<String, i64> = inserted.into_iter().collect();
    for ((mut order, rules), answer) in orders.into_iter().zip(rules).zip(answers) {
        let outcome = match ids.remove(&order.payment_uid) {
            Some(id) => {
                order.id = id;
                Ok(CreateOutcome::Created(order))
            }
            // Skipped by ON CONFLICT: decide alone (usually: the merchant's existing order).
            None => orders::create_counted(&mut client, order, &[], &rules).await,
        };
        let _ = answer.send(outcome);
    }
}

/// A pooled connection inside a transaction begun by hand. Should it be dropped before the
/// transaction ends (a panic), it is taken out of the pool rather than handed to the next
/// caller mid-transaction.
struct InTransaction(Option<deadpool_postgres::Client>);

impl InTransaction {
    /// The connection, its transaction ended (committed or rolled back).
    fn finish(mut self) -> deadpool_postgres::Client {
        self.0.take().expect("finished once")
    }
}

impl std::ops::Deref for InTransaction {
    type Target = deadpool_postgres::Client;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("not finished")
    }
}

impl Drop for InTransaction {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// The group counted against its velocity rules and inserted, in one transaction: each order
/// in arrival order, after the stored orders and the group's earlier new ones. Orders over a
/// rule are refused (`Order::refuse`) in `orders` before the insert; an order whose
/// `merchant_order_id` is taken (a retry, or a second of the same in the group) is neither
/// refused nor counted: the insert skips it and it is answered with the existing order.
/// BEGIN goes out with the subjects' locks, the counts and the lookup of taken ids
/// (pipelined, one round trip), then the insert with COMMIT (another). READ COMMITTED is
/// named, not assumed: the counts must see what committed while the locks were awaited.
async fn insert_counted(
    client: &deadpool_postgres::Client,
    orders: &mut [Order],
    rules: &[Vec<VelocityRule>],
) -> octopus_storage::Result<Vec<(String, i64)>> {
    let written = async {
        let asked: Vec<(&Order, &[VelocityRule])> = orders
            .iter()
            .zip(rules)
            .map(|(o, r)| (o, r.as_slice()))
            .collect();
        let ids: Vec<(i64, &str)> = orders
            .iter()
            .map(|o| (o.merchant_id, o.merchant_order_id.as_str()))
            .collect();
        let (begun, counted, taken) = tokio::join!(
            client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
            crate::velocity::load(client, &asked, true),
            orders::taken_merchant_order_ids(client, &ids)
        );
        begun.map_err(crate::db)?;
        let mut counted = counted.map_err(crate::db)?;
        let mut taken = taken?;
        for (i, (order, rules)) in orders.iter_mut().zip(rules).enumerate() {
            // Taken already (stored, or by an earlier order of this group): not new.
            if !taken.insert((order.merchant_id, order.merchant_order_id.clone())) {
                continue;
            }
            match counted.refusal(i, order, rules) {
                Some(refusal) => order.refuse(refusal),
                None => counted.record(order, rules),
            }
        }
        let all: Vec<&Order> = orders.iter().collect();
        // The insert and COMMIT pipelined (the server commits what the insert did, or rolls
        // back a failed one).
        orders::prepare_insert(client).await?;
        let (ids, committed) = tokio::join!(
            orders::insert_many(client, &all),
            client.batch_execute("COMMIT")
        );
        let ids = ids?;
        committed.map_err(crate::db)?;
        Ok(ids)
    }
    .await;
    if written.is_err() {
        // The connection goes back to the pool outside any transaction.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    written
}
