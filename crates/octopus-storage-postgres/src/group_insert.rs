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
    let inserted = if rules.iter().all(Vec::is_empty) {
        let all: Vec<&Order> = orders.iter().collect();
        orders::insert_many(&client, &all).await
    } else {
        // Counting refuses orders in place: the group as it came is kept for the fallback.
        let mut counted = orders.clone();
        let inserted = insert_counted(&client, &mut counted, &rules).await;
        if inserted.is_ok() {
            orders = counted;
        }
        inserted
    };
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

/// The group counted against its velocity rules and inserted, in one transaction: each order
/// in arrival order, after the stored orders and the group's earlier ones. Orders over a rule
/// are refused (`Order::refuse`) in `orders` before the insert. BEGIN goes out with the
/// subjects' locks and the counts (pipelined, one round trip), then the insert with COMMIT
/// (another).
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
        let (begun, counted) = tokio::join!(
            client.batch_execute("BEGIN"),
            crate::velocity::load(client, &asked, true)
        );
        begun.map_err(crate::db)?;
        let mut counted = counted.map_err(crate::db)?;
        for (i, (order, rules)) in orders.iter_mut().zip(rules).enumerate() {
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
