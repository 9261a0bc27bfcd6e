//! Group commit of the PostgreSQL writes that move money: payout creation (with its hold) and
//! status changes (with their postings).
//!
//! Every one of these moves a merchant's balance rows, and a row lock is held until the
//! commit: one transaction per request would let a busy merchant's requests through one
//! commit at a time. Instead, the requests waiting are taken as a group and decided together
//! in one transaction, in three to four round trips whatever the group's size (one more when
//! new payouts are counted against velocity rules) (the statements of each step are
//! pipelined):
//!
//! 0. the new payouts' velocity rules are counted, their subjects locked (`crate::velocity`);
//! 1. the orders to change are locked (`FOR UPDATE`, by id);
//! 2. what the domain says the group's decisions need (`decision::Needs`) is loaded: the
//!    accounts they post to are created if missing and the merchant balances read, as
//!    committed, without a lock ([`Locking::Last`]), and the entry keys posted already; in
//!    the same round trip, the payouts' merchant order ids are looked up;
//! 3. each request is decided in arrival order by the domain (`decision::create`,
//!    `decision::change`) against one running `decision::Book`: refused requests change
//!    nothing, accepted ones update the book the next request sees (nothing is decided here);
//! 4. everything accepted is written with one bulk statement per table, all in one round
//!    trip: the orders, events and callbacks first, then the merchant balance rows locked
//!    (returning the balances as locked) and moved, the entries and the postings written
//!    from the balances as moved; then, if the book's conditions (`decision::Condition`)
//!    hold for every balance as locked, the commit. Otherwise the group is rolled back and
//!    tried again locking first ([`Locking::First`]). docs/ledger.md explains why this is
//!    exact.
//!
//! Lock order is the same in every group (velocity subjects by key, orders by id, new
//! payouts by merchant order id, then accounts by key). One case escapes it: a payout sent to
//! two nodes at once, when one group locks last and the other, retrying, first (each then
//! waits for the other's insert or lock); PostgreSQL reports the deadlock, and the group that
//! loses is retried, as after a concurrent insert race. A group that fails otherwise is
//! retried one request at a time, so one bad request cannot fail the others.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Pool};
use octopus_domain::callback::NewCallback;
use octopus_domain::decision::{self, Book, Condition, Created, Needs, PlannedEntry, Refusal};
use octopus_domain::ledger::{Account, EntryKey, JournalEntry};
use octopus_domain::risk::VelocityRule;
use octopus_domain::{Order, OrderEvent, StatusChange};
use octopus_storage::{CreateOutcome, Result, StorageError};
use rust_decimal::Decimal;
use tokio_postgres::error::SqlState;

use crate::db;
use crate::grouping::{Grouper, Waiting};
use crate::orders::{self, order_from_row, COLUMNS};

const MAX_GROUP: usize = 256;
const MAX_GROUPS_IN_FLIGHT: usize = 4;
const ATTEMPTS: usize = 5;

/// A write that moves money.
#[derive(Debug, Clone)]
enum Op {
    /// Boxed: an order is far larger than a status change.
    /// With its merchant's velocity rules.
    CreatePayout(Box<Order>, Vec<VelocityRule>),
    ChangeStatus {
        payment_uid: String,
        change: StatusChange,
    },
}

/// What a write did.
#[derive(Debug)]
enum Done {
    Created(CreateOutcome),
    Changed(Order),
}

#[derive(Clone)]
pub(crate) struct GroupWrite(Grouper<Op, Done>);

impl GroupWrite {
    pub(crate) fn start(pool: Pool) -> GroupWrite {
        GroupWrite(Grouper::start(
            "group writer",
            MAX_GROUP,
            MAX_GROUPS_IN_FLIGHT,
            move |group| {
                let pool = pool.clone();
                async move { run_group(&pool, group).await }
            },
        ))
    }

    /// Creates a payout with its hold (or finds the merchant's existing order).
    pub(crate) async fn create_payout(
        &self,
        order: Order,
        rules: Vec<VelocityRule>,
    ) -> Result<CreateOutcome> {
        match self
            .0
            .submit(Op::CreatePayout(Box::new(order), rules))
            .await?
        {
            Done::Created(outcome) => Ok(outcome),
            Done::Changed(_) => Err(StorageError::Database(
                "a payout creation answered a change".into(),
            )),
        }
    }

    /// Applies a status change with its posting.
    pub(crate) async fn change_status(
        &self,
        payment_uid: &str,
        change: StatusChange,
    ) -> Result<Order> {
        let op = Op::ChangeStatus {
            payment_uid: payment_uid.to_string(),
            change,
        };
        match self.0.submit(op).await? {
            Done::Changed(order) => Ok(order),
            Done::Created(_) => Err(StorageError::Database(
                "a status change answered a creation".into(),
            )),
        }
    }
}

/// Why a group attempt did not commit.
pub(crate) enum Failure {
    /// A deadlock, a serialization failure, or an insert that raced another node: try again.
    Retry(String),
    Fatal(StorageError),
}

impl Failure {
    /// Outside a group there is nothing to retry: any failure is the caller's error.
    pub(crate) fn into_storage(self) -> StorageError {
        match self {
            Failure::Retry(reason) => StorageError::Database(reason),
            Failure::Fatal(e) => e,
        }
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Failure::Fatal(e)
    }
}

/// A deadlock or a serialization failure: the transaction may simply be tried again.
pub(crate) fn is_transient(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

fn pg(e: tokio_postgres::Error) -> Failure {
    if is_transient(&e) {
        Failure::Retry(e.to_string())
    } else {
        Failure::Fatal(db(e))
    }
}

async fn run_group(pool: &Pool, group: Vec<Waiting<Op, Done>>) {
    let ops: Vec<Op> = group.iter().map(|w| w.request.clone()).collect();
    let started = std::time::Instant::now();
    let attempted = attempt_with_retries(pool, &ops).await;
    octopus_storage::metrics::group_committed("postgres", "changes", ops.len(), started.elapsed());
    match attempted {
        Ok(results) => {
            for (w, result) in group.into_iter().zip(results) {
                let _ = w.answer.send(result);
            }
        }
        Err(e) if group.len() > 1 => {
            tracing::warn!(error = %e, writes = group.len(), "a group write failed; writing one by one");
            for w in group {
                let result = attempt_with_retries(pool, std::slice::from_ref(&w.request))
                    .await
                    .and_then(|mut r| r.pop().expect("one result per write"));
                let _ = w.answer.send(result);
            }
        }
        // A group of one: its caller hears the failure as it is.
        Err(e) => {
            if let Some(w) = group.into_iter().next() {
                let _ = w.answer.send(Err(e));
            }
        }
    }
}

async fn attempt_with_retries(pool: &Pool, ops: &[Op]) -> Result<Vec<Result<Done>>> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        // Locking last first; once a try conflicted, locking first (which a moved balance
        // cannot make try again).
        let locking = if attempt == 0 {
            Locking::Last
        } else {
            Locking::First
        };
        let mut client = pool
            .get()
            .await
            .map_err(|e| StorageError::Database(format!("no database connection: {e}")))?;
        // READ COMMITTED named, not assumed: a velocity count must see what committed while
        // its subjects' locks were awaited (`crate::velocity`).
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(db)?;
        match decide_and_write(&tx, ops, locking).await {
            Ok(results) => {
                tx.commit().await.map_err(db)?;
                return Ok(results);
            }
            Err(Failure::Retry(reason)) => {
                last = reason;
                let _ = tx.rollback().await;
            }
            Err(Failure::Fatal(e)) => return Err(e),
        }
    }
    Err(StorageError::Database(format!(
        "a group write kept conflicting: {last}"
    )))
}

/// Statement parameters, bound before the statements are pipelined.
type Params<'a, const N: usize> = [&'a (dyn tokio_postgres::types::ToSql + Sync); N];

/// Step 1: the orders to change, locked.
async fn lock_orders<C: GenericClient>(
    tx: &C,
    ops: &[Op],
) -> Result<HashMap<String, Order>, Failure> {
    let uids: Vec<&str> = ops
        .iter()
        .filter_map(|op| match op {
            Op::ChangeStatus { payment_uid, .. } => Some(payment_uid.as_str()),
            Op::CreatePayout(..) => None,
        })
        .collect();
    let mut current = HashMap::new();
    if uids.is_empty() {
        return Ok(current);
    }
    let lock_orders = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM orders WHERE payment_uid = ANY($1) ORDER BY id FOR UPDATE"
        ))
        .await
        .map_err(pg)?;
    for row in &tx.query(&lock_orders, &[&uids]).await.map_err(pg)? {
        let order = order_from_row(row)?;
        current.insert(order.payment_uid.clone(), order);
    }
    Ok(current)
}

/// The payouts' merchant order ids already taken. Locking first, asked once the merchant
/// accounts are locked: a payout of the same merchant committing on another node meanwhile
/// is then seen (its commit released the lock we waited for), so a retry of it is answered
/// with it. Locking last, one committed after this look makes the group's insert of it come
/// up short, and the group is tried again.
async fn existing_payouts<C: GenericClient>(
    tx: &C,
    ops: &[Op],
) -> Result<HashMap<(i64, String), Order>, Failure> {
    let (merchants, merchant_order_ids): (Vec<i64>, Vec<&str>) = ops
        .iter()
        .filter_map(|op| match op {
            Op::CreatePayout(o, _) => Some((o.merchant_id, o.merchant_order_id.as_str())),
            Op::ChangeStatus { .. } => None,
        })
        .unzip();
    let mut existing = HashMap::new();
    if merchants.is_empty() {
        return Ok(existing);
    }
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM orders
             WHERE (merchant_id, merchant_order_id) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))"
        ))
        .await
        .map_err(pg)?;
    for row in tx
        .query(&stmt, &[&merchants, &merchant_order_ids])
        .await
        .map_err(pg)?
    {
        let order = order_from_row(&row)?;
        existing.insert((order.merchant_id, order.merchant_order_id.clone()), order);
    }
    Ok(existing)
}

/// The ids of the ledger accounts a group posts to, by account.
pub(crate) type AccountIds = HashMap<Account, i64>;

/// What was loaded for a group's decisions: the accounts' ids, the book, and the ids of the
/// accounts created for it (removed again if no accepted entry posts to them, so a refused
/// payout in a new currency leaves no empty account behind, as on SQLite).
pub(crate) struct Loaded {
    pub(crate) ids: AccountIds,
    pub(crate) book: Book,
    pub(crate) created: Vec<i64>,
}

/// Step 2: what the decisions need (see `decision::Needs`): every account they may post to,
/// created if missing, the merchant ones locked in key order, and which of their entries are
/// posted already. Returns the accounts' ids and the book to decide against.
pub(crate) async fn load_book<C: GenericClient>(
    tx: &C,
    needs: &Needs,
    at: i64,
) -> Result<Loaded, Failure> {
    let (loaded, ()) = load_book_then(tx, needs, at, true, async { Ok(()) }).await?;
    Ok(loaded)
}

/// [`load_book`], with `then` pipelined behind its statements: the server runs what `then`
/// sends after them (once the accounts are locked), in the same round trip. Without `lock`,
/// the merchant balances are read as committed, not locked (see [`Locking::Last`]).
async fn load_book_then<C, T, F>(
    tx: &C,
    needs: &Needs,
    at: i64,
    lock: bool,
    then: F,
) -> Result<(Loaded, T), Failure>
where
    C: GenericClient,
    F: std::future::Future<Output = Result<T, Failure>>,
{
    let mut book = Book::new();
    let mut ids = AccountIds::new();
    if needs.is_empty() {
        let then = then.await?;
        return Ok((
            Loaded {
                ids,
                book,
                created: Vec::new(),
            },
            then,
        ));
    }
    let accounts = &needs.accounts;
    let keys: Vec<String> = accounts.iter().map(Account::key).collect();
    let kinds: Vec<&str> = accounts.iter().map(|a| a.kind.as_str()).collect();
    let merchants: Vec<Option<i64>> = accounts.iter().map(|a| a.merchant_id).collect();
    let channels: Vec<Option<String>> = accounts.iter().map(|a| a.channel.clone()).collect();
    let currencies: Vec<&str> = accounts.iter().map(|a| a.currency.code()).collect();
    let zero: Vec<Option<Decimal>> = accounts
        .iter()
        .map(|a| a.kind.is_merchant().then_some(Decimal::ZERO))
        .collect();
    let merchant_keys: Vec<&String> = accounts
        .iter()
        .zip(&keys)
        .filter(|(a, _)| a.kind.is_merchant())
        .map(|(_, k)| k)
        .collect();
    let house_keys: Vec<&String> = accounts
        .iter()
        .zip(&keys)
        .filter(|(a, _)| !a.kind.is_merchant())
        .map(|(_, k)| k)
        .collect();
    let ensure = tx
        .prepare_cached(
            "INSERT INTO ledger_accounts (account_key, kind, merchant_id, channel, currency, balance, updated_at)
             SELECT k, kind, m, ch, c, b, $7
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::numeric[])
                  AS v(k, kind, m, ch, c, b)
             WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.account_key = v.k)
             ORDER BY k
             ON CONFLICT (account_key) DO NOTHING
             RETURNING id",
        )
        .await
        .map_err(pg)?;
    let lock = tx
        .prepare_cached(if lock {
            "SELECT id, account_key, balance FROM ledger_accounts
             WHERE account_key = ANY($1) ORDER BY account_key FOR UPDATE"
        } else {
            "SELECT id, account_key, balance FROM ledger_accounts WHERE account_key = ANY($1)"
        })
        .await
        .map_err(pg)?;
    let house = tx
        .prepare_cached("SELECT id, account_key FROM ledger_accounts WHERE account_key = ANY($1)")
        .await
        .map_err(pg)?;
    let entry_keys: Vec<String> = needs.entry_keys.iter().map(EntryKey::to_string).collect();
    let find_posted = tx
        .prepare_cached("SELECT entry_key FROM journal_entries WHERE entry_key = ANY($1)")
        .await
        .map_err(pg)?;
    // Pipelined (`biased`: sent in this order, which the server runs them in), so the selects
    // see the accounts created, and what `then` asks runs with the accounts locked.
    let (p1, p2, p3, p4): (Params<'_, 7>, Params<'_, 1>, Params<'_, 1>, Params<'_, 1>) = (
        [
            &keys,
            &kinds,
            &merchants,
            &channels,
            &currencies,
            &zero,
            &at,
        ],
        [&merchant_keys],
        [&house_keys],
        [&entry_keys],
    );
    let (created, locked, house, posted, then) = tokio::try_join!(
        biased;
        async { tx.query(&ensure, &p1).await.map_err(pg) },
        async { tx.query(&lock, &p2).await.map_err(pg) },
        async { tx.query(&house, &p3).await.map_err(pg) },
        async {
            if needs.entry_keys.is_empty() {
                Ok(Vec::new())
            } else {
                tx.query(&find_posted, &p4).await.map_err(pg)
            }
        },
        then,
    )?;
    let by_key: HashMap<&String, &Account> = keys.iter().zip(accounts).collect();
    for row in &locked {
        let key: String = row.get(1);
        let account = *by_key
            .get(&key)
            .ok_or(StorageError::Corrupt("ledger_accounts.account_key"))?;
        ids.insert(account.clone(), row.get(0));
        book.set_balance(
            account.clone(),
            row.get::<_, Option<Decimal>>(2).unwrap_or_default(),
        );
    }
    for row in &house {
        let key: String = row.get(1);
        let account = *by_key
            .get(&key)
            .ok_or(StorageError::Corrupt("ledger_accounts.account_key"))?;
        ids.insert(account.clone(), row.get(0));
    }
    let posted = posted
        .iter()
        .map(|r| r.get::<_, String>(0).parse())
        .collect::<Result<HashSet<EntryKey>, _>>()
        .map_err(|_| StorageError::Corrupt("journal_entries.entry_key"))?;
    book.set_posted(&needs.entry_keys, &posted);
    Ok((
        Loaded {
            ids,
            book,
            created: created.iter().map(|r| r.get(0)).collect(),
        },
        then,
    ))
}

const DISCARD_ACCOUNTS: &str = "DELETE FROM ledger_accounts WHERE id = ANY($1)";

/// Removes the accounts created for a group that none of its accepted entries posts to.
pub(crate) async fn discard_unused_accounts<C: GenericClient>(
    tx: &C,
    loaded: &Loaded,
    entries: &[PlannedEntry],
) -> Result<(), Failure> {
    let used: HashSet<i64> = entries
        .iter()
        .flat_map(|e| &e.entry.postings)
        .filter_map(|p| loaded.ids.get(&p.account).copied())
        .collect();
    let unused: Vec<i64> = loaded
        .created
        .iter()
        .copied()
        .filter(|id| !used.contains(id))
        .collect();
    if unused.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(DISCARD_ACCOUNTS).await.map_err(pg)?;
    tx.execute(&statement, &[&unused]).await.map_err(pg)?;
    Ok(())
}

/// What the group's decisions need loaded: every write's, against the orders as locked.
fn needs_of(ops: &[Op], current: &HashMap<String, Order>) -> Needs {
    let mut needs = Needs::default();
    for op in ops {
        match op {
            Op::CreatePayout(o, _) => needs.extend(decision::needs_to_create(o)),
            Op::ChangeStatus {
                payment_uid,
                change,
            } => {
                if let Some(o) = current.get(payment_uid) {
                    needs.extend(decision::needs_to_change(o, change));
                }
            }
        }
    }
    needs
}

/// One status change decided and written in the caller's transaction (which writes something
/// with it: a transfer that settles the order), in the group's lock order (the order, then its
/// accounts).
pub(crate) async fn change_in<C: GenericClient>(
    tx: &C,
    payment_uid: &str,
    change: &StatusChange,
) -> Result<Order> {
    let ops = [Op::ChangeStatus {
        payment_uid: payment_uid.to_string(),
        change: change.clone(),
    }];
    let mut results = decide_and_write(tx, &ops, Locking::First)
        .await
        .map_err(Failure::into_storage)?;
    match results.pop() {
        Some(Ok(Done::Changed(order))) => Ok(order),
        Some(Err(e)) => Err(e),
        _ => Err(StorageError::Database(
            "a status change came back as something else".into(),
        )),
    }
}

/// When a group locks its merchant accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locking {
    /// Last: decided against the balances as read, everything but the balances and postings
    /// written, and only then, at the end of the same round trip, the accounts locked and
    /// moved where the decisions' conditions hold for them (otherwise the group is tried
    /// again, [`Locking::First`]). The lock is held for the last statements and the commit,
    /// so the groups of one merchant overlap everything else.
    Last,
    /// First: the accounts locked before deciding (after a group's balances moved, and for a
    /// change written in a caller's transaction).
    First,
}

/// What the domain decided for a group, in order.
#[derive(Debug)]
struct Decided {
    results: Vec<Result<Done>>,
    new_payouts: Vec<Order>,
    /// The orders changed, as the group leaves them, in the order first changed.
    changed: Vec<Order>,
    events: Vec<(i64, OrderEvent)>,
    entries: Vec<PlannedEntry>,
    callbacks: Vec<NewCallback>,
}

/// Step 3: the domain decides each write in order, against the state the earlier ones left
/// (the book, the orders as changed, the payouts found or created, the velocity counts).
fn decide(
    ops: &[Op],
    mut current: HashMap<String, Order>,
    mut by_merchant_order: HashMap<(i64, String), Order>,
    mut counted: crate::velocity::Counted,
    book: &mut Book,
) -> Result<Decided, Failure> {
    let mut payouts_seen = 0;
    let mut d = Decided {
        results: Vec::with_capacity(ops.len()),
        new_payouts: Vec::new(),
        changed: Vec::new(),
        events: Vec::new(),
        entries: Vec::new(),
        callbacks: Vec::new(),
    };
    let mut changed: Vec<String> = Vec::new();
    for op in ops {
        match op {
            Op::CreatePayout(order, rules) => {
                let index = payouts_seen;
                payouts_seen += 1;
                let key = (order.merchant_id, order.merchant_order_id.clone());
                let existing = by_merchant_order.get(&key).cloned();
                let mut order = Order::clone(order);
                // A payout over a velocity rule is stored refused, holding nothing.
                if existing.is_none() {
                    if let Some(refusal) = counted.refusal(index, &order, rules) {
                        order.refuse(refusal);
                    }
                }
                match decision::create(order, existing, book) {
                    Ok(Created::Existing(existing)) => {
                        d.results
                            .push(Ok(Done::Created(CreateOutcome::Existing(existing))));
                    }
                    Ok(Created::New { order, hold }) => {
                        if !order.refused_at_creation() {
                            counted.record(&order, rules);
                        }
                        d.entries.extend(hold);
                        by_merchant_order.insert(key, order.clone());
                        d.results
                            .push(Ok(Done::Created(CreateOutcome::Created(order.clone()))));
                        d.new_payouts.push(order);
                    }
                    Err(refusal @ Refusal::NotLoaded(_)) => {
                        return Err(Failure::Fatal(refusal.into()))
                    }
                    Err(refusal) => d.results.push(Err(refusal.into())),
                }
            }
            Op::ChangeStatus {
                payment_uid,
                change,
            } => {
                let Some(before) = current.get(payment_uid) else {
                    d.results.push(Err(StorageError::NotFound));
                    continue;
                };
                let decided = match decision::change(before, change, book) {
                    Ok(decided) => decided,
                    // A later write of the group on an order an earlier one changed may need
                    // what the group did not load: the group is written one by one instead.
                    Err(refusal @ Refusal::NotLoaded(_)) => {
                        return Err(Failure::Fatal(refusal.into()))
                    }
                    Err(refusal) => {
                        d.results.push(Err(refusal.into()));
                        continue;
                    }
                };
                d.events.push((decided.order.id, decided.event));
                d.entries.extend(decided.entry);
                d.callbacks.extend(decided.callback);
                if !changed.contains(payment_uid) {
                    changed.push(payment_uid.clone());
                }
                current.insert(payment_uid.clone(), decided.order.clone());
                d.results.push(Ok(Done::Changed(decided.order)));
            }
        }
    }
    d.changed = changed.iter().map(|uid| current[uid].clone()).collect();
    Ok(d)
}

async fn decide_and_write<C: GenericClient>(
    tx: &C,
    ops: &[Op],
    locking: Locking,
) -> Result<Vec<Result<Done>>, Failure> {
    // Step 0: the new payouts' velocity rules counted, their subjects locked before anything
    // else is (see `crate::velocity`).
    let asked: Vec<(&Order, &[VelocityRule])> = ops
        .iter()
        .filter_map(|op| match op {
            Op::CreatePayout(o, rules) => Some((&**o, rules.as_slice())),
            Op::ChangeStatus { .. } => None,
        })
        .collect();
    let counted = crate::velocity::load(tx, &asked, true).await.map_err(pg)?;
    let current = lock_orders(tx, ops).await?;
    // Only the accounts of writes that may post are locked: a status change that moves no
    // money (a failed deposit, an expiry) waits for no merchant's balance.
    let needs = needs_of(ops, &current);
    let at = ops
        .iter()
        .map(|op| match op {
            Op::CreatePayout(o, _) => o.created_at,
            Op::ChangeStatus { change, .. } => change.at,
        })
        .max()
        .unwrap_or_default();
    // The payouts' merchant order ids are looked up in the same round trip (after the lock,
    // when locking first; locking last, a payout of the merchant that another node commits
    // meanwhile makes this group's insert of it skip, and the group is tried again).
    let (loaded, by_merchant_order) = load_book_then(
        tx,
        &needs,
        at,
        locking == Locking::First,
        existing_payouts(tx, ops),
    )
    .await?;
    let mut book = loaded.book.clone();
    let decided = decide(ops, current, by_merchant_order, counted, &mut book)?;

    // Step 4: write what was accepted, one statement per table, in one round trip, in this
    // order (`biased`: sent in this order, so run in it): the orders (the new payouts sorted,
    // as every group inserts them, so two groups inserting the same two merchant order ids do
    // not deadlock), their events and callbacks; then, locking last, the merchant accounts
    // locked (the balances as locked returned); the balances moved; the entries (numbered in
    // the order the balances move) and their postings, written from the balances as moved;
    // the accounts created for nothing removed.
    let mut payouts: Vec<&Order> = decided.new_payouts.iter().collect();
    payouts.sort_by(|a, b| {
        (a.merchant_id, &a.merchant_order_id).cmp(&(b.merchant_id, &b.merchant_order_id))
    });
    let changed_orders: Vec<&Order> = decided.changed.iter().collect();
    let event_rows: Vec<(i64, &OrderEvent)> =
        decided.events.iter().map(|(id, e)| (*id, e)).collect();
    let conditions = book.conditions();
    // Prepared before: a statement still to prepare would be sent after the others.
    orders::prepare_group_writes(tx).await?;
    crate::callbacks::prepare_enqueue(tx).await?;
    prepare_entries(tx).await?;
    let (inserted, updated, evented, enqueued, locked, moved, entered, posted, discarded) = tokio::join!(
        biased;
        async { orders::insert_many_as_is(tx, &payouts).await.map_err(pg) },
        orders::update_many(tx, &changed_orders),
        orders::insert_events(tx, &event_rows),
        // One callback per status change, reporting the order as that change left it.
        crate::callbacks::enqueue_many(tx, &decided.callbacks),
        async {
            match locking {
                Locking::First => Ok(HashMap::new()),
                Locking::Last => lock_accounts(tx, &conditions, &loaded.ids).await,
            }
        },
        move_balances(tx, &conditions, &loaded.ids, at),
        insert_entries(tx, &decided.entries),
        insert_postings(tx, &decided.entries, &loaded.ids, &book),
        // After the balances: a refusal's condition may be on an account created for it.
        discard_unused_accounts(tx, &loaded, &decided.entries),
    );
    // Looked at in the order sent: once a statement failed, the later ones only report the
    // transaction aborted.
    let inserted = inserted?;
    if inserted.len() != decided.new_payouts.len() {
        // Another node inserted one of these merchant order ids meanwhile (a payout of this
        // merchant's committed after our look, or another merchant's order): decide again.
        // (Their entries, finding no order, were not written: that failure is this one.)
        return Err(Failure::Retry(
            "a payout's merchant_order_id was taken meanwhile".into(),
        ));
    }
    updated?;
    evented?;
    enqueued?;
    // The balances as locked, against the decisions' conditions (the domain's): outside, the
    // balances moved and the postings written from them are not the decisions', and the
    // group is tried again, locking first.
    let locked = locked?;
    for condition in &conditions {
        let id = account_id(&loaded.ids, &condition.account)?;
        if let Some(balance) = locked.get(&id) {
            if !condition.holds_for(*balance) {
                return Err(Failure::Retry(
                    "a balance moved outside what the group's decisions hold for".into(),
                ));
            }
        }
    }
    moved?;
    entered?;
    posted?;
    discarded?;
    let mut results = decided.results;
    let ids: HashMap<String, i64> = inserted.into_iter().collect();
    for result in results.iter_mut() {
        // A payout sent twice in one group is created by the first and found by the second.
        if let Ok(Done::Created(CreateOutcome::Created(order) | CreateOutcome::Existing(order))) =
            result
        {
            if let Some(id) = ids.get(&order.payment_uid) {
                order.id = *id;
            }
        }
    }
    Ok(results)
}

/// The merchant balances entries move, the entries and their postings, pipelined, in a
/// transaction that holds the merchant accounts locked (the conditions of `book` hold then). An entry
/// finds its order, and a posting its entry, by key: the rows written just before in the
/// same pipeline. An entry of no merchant (a transfer's suspense entry, `merchant_id` 0)
/// belongs to no order and is written with both NULL, as on SQLite; an entry of a merchant
/// whose order is not found is not written, which the written count reports.
pub(crate) async fn write_entries<C: GenericClient>(
    tx: &C,
    entries: &[PlannedEntry],
    account_ids: &AccountIds,
    book: &Book,
    at: i64,
) -> Result<(), Failure> {
    if entries.is_empty() {
        return Ok(());
    }
    // Prepared first, then `biased`: sent in this order, so the postings find the balances
    // and the entries written before them.
    prepare_entries(tx).await?;
    let conditions = book.conditions();
    tokio::try_join!(
        biased;
        move_balances(tx, &conditions, account_ids, at),
        insert_entries(tx, entries),
        insert_postings(tx, entries, account_ids, book),
    )?;
    Ok(())
}

const INSERT_ENTRIES: &str =
    "INSERT INTO journal_entries (entry_key, kind, order_id, merchant_id, accounting_type,
        currency, amount, fee, created_at)
     SELECT v.k, v.kind, o.id, v.m, v.at, v.c, v.amount, v.fee, v.created
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
          $7::numeric[], $8::numeric[], $9::bigint[]) WITH ORDINALITY
          AS v(k, kind, uid, m, at, c, amount, fee, created, n)
     LEFT JOIN orders o ON v.m IS NOT NULL AND o.payment_uid = v.uid
     WHERE v.m IS NULL OR o.id IS NOT NULL
     ORDER BY v.n";

/// A merchant posting's balance after it is the account's balance as the group leaves it
/// (moved just before, in the same transaction) less what the later postings of the group
/// moved (`from_end`); a house posting keeps none. Entries and postings are numbered in the
/// order decided (`ORDER BY` the arrays' order, whatever the join's), so an account's
/// postings in id order run through its balances.
const INSERT_POSTINGS: &str = "INSERT INTO postings (entry_id, account_id, amount, balance_after)
     SELECT e.id, v.a, v.amount, a.balance - v.from_end
     FROM UNNEST($1::text[], $2::bigint[], $3::numeric[], $4::numeric[]) WITH ORDINALITY
          AS v(k, a, amount, from_end, n)
     JOIN journal_entries e ON e.entry_key = v.k
     LEFT JOIN ledger_accounts a ON v.from_end IS NOT NULL AND a.id = v.a
     ORDER BY v.n";

/// Locks the accounts in key order, as every group does (a group locking last has read them
/// without a lock), and returns their balances as locked.
const LOCK_ACCOUNTS: &str = "SELECT id, balance FROM ledger_accounts
     WHERE id = ANY($1) ORDER BY account_key FOR UPDATE";

/// Moves each balance by what the group's decisions moved it (the accounts locked).
const MOVE_BALANCES: &str =
    "UPDATE ledger_accounts a SET balance = a.balance + v.moved, updated_at = $3
     FROM UNNEST($1::bigint[], $2::numeric[]) AS v(id, moved) WHERE a.id = v.id";

async fn prepare_entries<C: GenericClient>(tx: &C) -> Result<(), Failure> {
    for sql in [
        INSERT_ENTRIES,
        INSERT_POSTINGS,
        LOCK_ACCOUNTS,
        MOVE_BALANCES,
    ] {
        tx.prepare_cached(sql).await.map_err(pg)?;
    }
    Ok(())
}

/// The entries (without their postings).
async fn insert_entries<C: GenericClient>(tx: &C, entries: &[PlannedEntry]) -> Result<(), Failure> {
    if entries.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(INSERT_ENTRIES).await.map_err(pg)?;
    let e: Vec<&JournalEntry> = entries.iter().map(|p| &p.entry).collect();
    let order_uids: Vec<&str> = e.iter().map(|e| e.key.payment_uid.as_str()).collect();
    let keys: Vec<String> = e.iter().map(|e| e.key.to_string()).collect();
    let kinds: Vec<&str> = e.iter().map(|e| e.kind.as_str()).collect();
    let merchants: Vec<Option<i64>> = e
        .iter()
        .map(|e| (e.merchant_id != 0).then_some(e.merchant_id))
        .collect();
    let accounting_types: Vec<&str> = e.iter().map(|e| e.accounting_type.as_str()).collect();
    let currencies: Vec<&str> = e.iter().map(|e| e.currency.code()).collect();
    let amounts: Vec<Decimal> = e.iter().map(|e| e.amount).collect();
    let fees: Vec<Decimal> = e.iter().map(|e| e.fee).collect();
    let created: Vec<i64> = e.iter().map(|e| e.created_at).collect();
    let params: Params<'_, 9> = [
        &keys,
        &kinds,
        &order_uids,
        &merchants,
        &accounting_types,
        &currencies,
        &amounts,
        &fees,
        &created,
    ];
    let written = tx.execute(&statement, &params).await.map_err(pg)?;
    if written as usize != entries.len() {
        return Err(Failure::Fatal(StorageError::Database(format!(
            "wrote {written} of {} entries",
            entries.len()
        ))));
    }
    Ok(())
}

fn account_id(account_ids: &AccountIds, account: &Account) -> Result<i64, Failure> {
    account_ids.get(account).copied().ok_or_else(|| {
        Failure::Fatal(StorageError::Database(format!(
            "account {account} was not loaded"
        )))
    })
}

/// The merchant accounts of `conditions`, locked in key order: their balances as locked, by id.
async fn lock_accounts<C: GenericClient>(
    tx: &C,
    conditions: &[Condition],
    account_ids: &AccountIds,
) -> Result<HashMap<i64, Decimal>, Failure> {
    if conditions.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = conditions
        .iter()
        .map(|c| account_id(account_ids, &c.account))
        .collect::<Result<Vec<i64>, _>>()?;
    let statement = tx.prepare_cached(LOCK_ACCOUNTS).await.map_err(pg)?;
    let rows = tx.query(&statement, &[&ids]).await.map_err(pg)?;
    if rows.len() != ids.len() {
        return Err(Failure::Fatal(StorageError::Corrupt("ledger_accounts.id")));
    }
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, Option<Decimal>>(1).unwrap_or_default()))
        .collect())
}

/// Moves the merchant balances as the decisions did (those they moved).
async fn move_balances<C: GenericClient>(
    tx: &C,
    conditions: &[Condition],
    account_ids: &AccountIds,
    at: i64,
) -> Result<(), Failure> {
    let mut ids = Vec::new();
    let mut moved = Vec::new();
    for c in conditions.iter().filter(|c| !c.moved.is_zero()) {
        ids.push(account_id(account_ids, &c.account)?);
        moved.push(c.moved);
    }
    if ids.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(MOVE_BALANCES).await.map_err(pg)?;
    let params: Params<'_, 3> = [&ids, &moved, &at];
    let changed = tx.execute(&statement, &params).await.map_err(pg)?;
    if changed as usize != ids.len() {
        return Err(Failure::Fatal(StorageError::Corrupt("ledger_accounts.id")));
    }
    Ok(())
}

/// The entries' postings, each finding its entry by key and, for a merchant account, its
/// balance after it from the balance the group leaves (see [`INSERT_POSTINGS`]).
async fn insert_postings<C: GenericClient>(
    tx: &C,
    entries: &[PlannedEntry],
    account_ids: &AccountIds,
    book: &Book,
) -> Result<(), Failure> {
    if entries.is_empty() {
        return Ok(());
    }
    let insert = tx.prepare_cached(INSERT_POSTINGS).await.map_err(pg)?;
    let keys: Vec<String> = entries.iter().map(|p| p.entry.key.to_string()).collect();
    let (mut p_key, mut p_account, mut p_amount, mut p_from_end) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (planned, key) in entries.iter().zip(&keys) {
        for (posting, after) in planned.entry.postings.iter().zip(&planned.after) {
            p_key.push(key.as_str());
            p_account.push(account_id(account_ids, &posting.account)?);
            p_amount.push(posting.amount);
            let from_end = match after {
                None => None,
                Some(after) => {
                    let end = book.balance(&posting.account).ok_or_else(|| {
                        Failure::Fatal(StorageError::Database(format!(
                            "account {} has no balance",
                            posting.account
                        )))
                    })?;
                    Some(end - after)
                }
            };
            p_from_end.push(from_end);
        }
    }
    let params: Params<'_, 4> = [&p_key, &p_account, &p_amount, &p_from_end];
    let written = tx.execute(&insert, &params).await.map_err(pg)?;
    if written as usize != p_key.len() {
        return Err(Failure::Fatal(StorageError::Database(format!(
            "wrote {written} of {} postings",
            p_key.len()
        ))));
    }
    Ok(())
}
