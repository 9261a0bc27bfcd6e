//! Group insert of new orders. Under load, many merchants' `order/new` arrive at once; one
//! multi-row `INSERT ... SELECT FROM UNNEST(...)` per group costs PostgreSQL one statement and
//! one commit (one WAL flush) instead of one each, which is where the database spends most of
//! its time per order. A dispatcher task gathers the orders waiting, runs at most
//! [`MAX_GROUPS_IN_FLIGHT`] groups at once, and answers each caller once its group committed.
//!
//! An order the group statement skipped (`ON CONFLICT DO NOTHING`) is retried alone, which
//! finds the merchant's existing order or reports the conflict.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use octopus_domain::Order;
use octopus_storage::{CreateOutcome, StorageError};

use crate::grouping::{Grouper, Waiting};
use crate::orders;

const MAX_GROUP: usize = 256;
const MAX_GROUPS_IN_FLIGHT: usize = 4;

#[derive(Clone)]
pub(crate) struct GroupInsert(Grouper<Order, CreateOutcome>);

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

    pub(crate) async fn create(&self, order: Order) -> octopus_storage::Result<CreateOutcome> {
        self.0.submit(order).await
    }
}

async fn insert_group(pool: &Pool, group: Vec<Waiting<Order, CreateOutcome>>) {
    let client = match pool.get().await {
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
    let orders: Vec<&Order> = group.iter().map(|w| &w.request).collect();
    let inserted = match orders::insert_many(&client, &orders).await {
        Ok(ids) => ids,
        Err(e) => {
            // One order must not fail the others of its group: insert each alone.
            tracing::warn!(error = %e, orders = group.len(), "a group insert failed; inserting one by one");
            for Waiting { request, answer } in group {
                let _ = answer.send(orders::create(&client, request, &[]).await);
            }
            return;
        }
    };
    let mut ids: HashMap<String, i64> = inserted.into_iter().collect();
    for Waiting {
        request: mut order,
        answer,
    } in group
    {
        let outcome = match ids.remove(&order.payment_uid) {
            Some(id) => {
                order.id = id;
                Ok(CreateOutcome::Created(order))
            }
            // Skipped by ON CONFLICT: decide alone (usually: the merchant's existing order).
            None => orders::create(&client, order, &[]).await,
        };
        let _ = answer.send(outcome);
    }
}
