//! Group insert of new orders. Under load, many merchants' `order/new` arrive at once; one
//! multi-row `INSERT ... SELECT FROM UNNEST(...)` per group costs PostgreSQL one statement and
//! one commit (one WAL flush) instead of one each, which is where the database spends most of
//! its time per order. A dispatcher task gathers the orders waiting, runs at most
//! [`MAX_GROUPS_IN_FLIGHT`] groups at once, and answers each caller once its group committed.
//!
//! An order the group statement skipped (`ON CONFLICT DO NOTHING`) is retried alone, which
//! finds the merchant's existing order or reports the conflict.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Pool;
use octopus_domain::Order;
use octopus_storage::{CreateOutcome, Result, StorageError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::orders;

const MAX_GROUP: usize = 256;
const MAX_GROUPS_IN_FLIGHT: usize = 4;

struct Waiting {
    order: Order,
    answer: oneshot::Sender<Result<CreateOutcome>>,
}

#[derive(Clone)]
pub(crate) struct GroupInsert {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl GroupInsert {
    pub(crate) fn start(pool: Pool) -> GroupInsert {
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(pool, receiver));
        GroupInsert { queue }
    }

    pub(crate) async fn create(&self, order: Order) -> Result<CreateOutcome> {
        let (answer, receive) = oneshot::channel();
        self.queue
            .send(Waiting { order, answer })
            .map_err(|_| StorageError::Database("the order inserter has stopped".into()))?;
        receive
            .await
            .map_err(|_| StorageError::Database("the order inserter dropped an order".into()))?
    }
}

async fn dispatch(pool: Pool, mut receiver: mpsc::UnboundedReceiver<Waiting>) {
    let slots = Arc::new(Semaphore::new(MAX_GROUPS_IN_FLIGHT));
    while let Some(first) = receiver.recv().await {
        // While every slot is busy, more orders gather behind `first`.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(w) => group.push(w),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            insert_group(&pool, group).await;
            drop(slot);
        });
    }
}

async fn insert_group(pool: &Pool, group: Vec<Waiting>) {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => {
            for w in group {
                let _ = w.answer.send(Err(StorageError::Database(format!("no database connection: {e}"))));
            }
            return;
        }
    };
    let orders: Vec<&Order> = group.iter().map(|w| &w.order).collect();
    let inserted = match orders::insert_many(&client, &orders).await {
        Ok(ids) => ids,
        Err(e) => {
            // One order must not fail the others of its group: insert each alone.
            tracing::warn!(error = %e, orders = group.len(), "a group insert failed; inserting one by one");
            for Waiting { order, answer } in group {
                let _ = answer.send(orders::create(&client, order, &[]).await);
            }
            return;
        }
    };
    let mut ids: HashMap<String, i64> = inserted.into_iter().collect();
    for Waiting { mut order, answer } in group {
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

