//! Velocity rules counted where orders are written. Every path that stores a new order (the
//! group insert, the group writer's payouts, the one-by-one path of floating amounts) asks
//! [`load`] inside its transaction, before anything else it locks, and decides each order of
//! its group in arrival order with [`Counted::refusal`] (the domain's `risk::GroupTally`),
//! adding the new orders it stores with [`Counted::record`].
//!
//! [`load`] costs one statement per subject kind for the whole group (a lateral index probe
//! per question), not a round trip per order and rule. It first takes a transaction-scoped
//! advisory lock per subject (book, subject, value), in key order: two groups, of this node or
//! another, that count the same member or payer account run one after the other, so the second
//! sees the first's orders and a rule holds exactly under any concurrency. Groups of other
//! subjects do not wait for each other.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use octopus_domain::risk::{GroupTally, Subject, Tally, VelocityRule, WindowQuery};
use octopus_domain::Order;
use octopus_storage::rows;
use rust_decimal::Decimal;

/// What storage holds for the questions of a group's orders, and what the orders the group
/// stored so far add to it (the domain's `risk::GroupTally`).
#[derive(Default)]
pub(crate) struct Counted {
    stored: HashMap<(usize, WindowQuery), Tally>,
    group: GroupTally,
}

impl Counted {
    /// The refusal of the group's `index`th order, if it breaches one of `rules`.
    pub(crate) fn refusal(
        &self,
        index: usize,
        order: &Order,
        rules: &[VelocityRule],
    ) -> Option<String> {
        let stored = |q: &WindowQuery| {
            Ok::<_, std::convert::Infallible>(
                self.stored
                    .get(&(index, q.clone()))
                    .copied()
                    .unwrap_or_default(),
            )
        };
        match self.group.refusal(rules, order, stored) {
            Ok(refusal) => refusal,
            Err(never) => match never {},
        }
    }

    /// Counts an order the group stores as new (not refused, not found to exist already) for
    /// the group's later orders.
    pub(crate) fn record(&mut self, order: &Order, rules: &[VelocityRule]) {
        self.group.record(order, rules);
    }
}

/// Whether any of `orders` is asked about by its rules (a group with none needs no counting).
pub(crate) fn asks(orders: &[(&Order, &[VelocityRule])]) -> bool {
    orders
        .iter()
        .any(|(order, rules)| rules.iter().any(|r| r.query(order).is_some()))
}

/// The group's questions answered from storage; `lock` takes the subjects' advisory locks
/// first (in the transaction that then stores the orders). `orders` are the group's, each
/// with its merchant's rules. The lock and the counts are pipelined: one round trip (the
/// server runs them in the order sent, so the counts see what the lock waited for).
pub(crate) async fn load<C: GenericClient>(
    tx: &C,
    orders: &[(&Order, &[VelocityRule])],
    lock: bool,
) -> Result<Counted, tokio_postgres::Error> {
    let mut questions: Vec<(usize, WindowQuery)> = Vec::new();
    for (i, (order, rules)) in orders.iter().enumerate() {
        questions.extend(rules.iter().filter_map(|r| r.query(order)).map(|q| (i, q)));
    }
    let mut counted = Counted::default();
    if questions.is_empty() {
        return Ok(counted);
    }
    let mut keys: Vec<String> = Vec::new();
    if lock {
        keys = questions
            .iter()
            .map(|(_, q)| {
                let s = &q.subject;
                format!("velocity:{}:{}:{}", s.book_id, s.subject.as_str(), s.value)
            })
            .collect();
        keys.sort();
        keys.dedup();
    }
    // Taken in the order of the locks' own keys, so groups never wait for each other in a
    // cycle (DISTINCT keeps the sorted subquery from being merged into the outer one).
    let lock_stmt = tx
        .prepare_cached(
            "SELECT pg_advisory_xact_lock(h) FROM (
                 SELECT DISTINCT hashtextextended(k, 0) AS h FROM UNNEST($1::text[]) AS k
                 ORDER BY h) AS keys",
        )
        .await?;
    let count_stmt = tx.prepare_cached(&COUNT_SQL).await?;
    let asked = Asked::of(&questions);
    let (_, rows) = tokio::try_join!(
        async {
            if keys.is_empty() {
                Ok(Vec::new())
            } else {
                tx.query(&lock_stmt, &[&keys]).await
            }
        },
        asked.count(tx, &count_stmt),
    )?;
    for row in rows {
        let n: i64 = row.try_get(0)?;
        let (i, q) = &questions[(n - 1) as usize];
        // A sum beyond what a Decimal holds fails the group (as an error, never a panic).
        let tally = Tally {
            count: row.try_get::<_, i64>(1)? as u64,
            volume: row.try_get::<_, Decimal>(2)?,
        };
        counted.stored.insert((*i, q.clone()), tally);
    }
    Ok(counted)
}

/// One statement answers every question of the group: per question, a probe of its subject's
/// partial index (the branch of the other subject is skipped).
static COUNT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let branch = |subject: Subject| {
        let column = rows::velocity_column(subject);
        format!(
            "(SELECT o.amount, o.currency FROM orders o
              WHERE u.subject = '{subject}' AND o.merchant_id = u.book AND o.{column} = u.value
                AND o.{column} <> '' -- the partial index's condition
                AND o.created_at >= u.since AND o.payment_status <> 'reject'
                AND (u.kind = '' OR o.transaction_type = u.kind)
              LIMIT u.lim)",
            subject = subject.as_str()
        )
    };
    format!(
        "SELECT u.n, t.c, t.v
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                $7::bigint[]) WITH ORDINALITY AS u(subject, book, value, kind, since, cur, lim, n)
         CROSS JOIN LATERAL (
             SELECT count(*) AS c,
                    coalesce(sum(r.amount) FILTER (WHERE r.currency = u.cur), 0) AS v
             FROM ({} UNION ALL {}) AS r) AS t",
        branch(Subject::MemberId),
        branch(Subject::PayerAccount)
    )
});

/// The group's questions as the statement's parameters.
struct Asked<'a> {
    questions: Vec<&'a (usize, WindowQuery)>,
    subject: Vec<&'static str>,
    book: Vec<i64>,
    value: Vec<&'a str>,
    kind: Vec<&'static str>,
    since: Vec<i64>,
    currency: Vec<Option<&'static str>>,
    limit: Vec<Option<i64>>,
}

impl<'a> Asked<'a> {
    fn of(all: &'a [(usize, WindowQuery)]) -> Asked<'a> {
        let questions: Vec<&(usize, WindowQuery)> = all.iter().collect();
        Asked {
            subject: questions
                .iter()
                .map(|(_, q)| q.subject.subject.as_str())
                .collect(),
            book: questions.iter().map(|(_, q)| q.subject.book_id).collect(),
            value: questions
                .iter()
                .map(|(_, q)| q.subject.value.as_str())
                .collect(),
            kind: questions
                .iter()
                .map(|(_, q)| q.subject.transaction_type.map_or("", |t| t.as_str()))
                .collect(),
            since: questions.iter().map(|(_, q)| q.since).collect(),
            currency: questions
                .iter()
                .map(|(_, q)| q.subject.currency.map(|c| c.code()))
                .collect(),
            limit: questions
                .iter()
                .map(|(_, q)| q.limit.map(i64::from))
                .collect(),
            questions,
        }
    }

    async fn count<C: GenericClient>(
        &self,
        tx: &C,
        stmt: &tokio_postgres::Statement,
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        if self.questions.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(
            stmt,
            &[
                &self.subject,
                &self.book,
                &self.value,
                &self.kind,
                &self.since,
                &self.currency,
                &self.limit,
            ],
        )
        .await
    }
}
