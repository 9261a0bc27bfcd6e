//! The contract of the storage backends: one scripted history of a merchant's money — orders
//! created and found again, payouts against a balance, completions, failures, rejects, an
//! expiry, refunds, refusals, an accounting failure and its retry, callbacks claimed, attempted
//! and resent — run through the `Storage` interface on SQLite and on PostgreSQL side by side.
//! After every step both must have answered the same, and must hold the same orders, events,
//! journal, balances and callbacks: whatever one backend decides on its own shows up here as
//! a difference, named by the step and the value that differs.
//!
//! It needs both backends, so without `OCTOPUS_TEST_DATABASE_URL` it is skipped (and fails
//! under `CI=true`, see `Backend::postgres`).

use std::fmt::Debug;
use std::sync::Arc;

use octopus_domain::ledger::{self, FeeRule, LedgerReport};
use octopus_domain::routing::{Failover, RoutingDecision};
use octopus_domain::{
    AccountingStatus, AccountingType, Channel, Currency, Merchant, NotifyStatus, Order, OrderEvent,
    PaymentStatus, RequestFields, StatusChange, Timestamp, TransactionType,
};
use octopus_storage::{
    AttemptRecord, Balance, Callback, CallbackAttempt, CallbackOutcome, ClaimRoom, CreateOutcome,
    FeeSchedule, HostBacklog, MerchantEntry, NewMerchant, Storage, StorageError, UpstreamExchange,
};
use rust_decimal::Decimal;

use crate::helpers::{Backend, TestDb};

/// 2026-01-01T00:00:00Z. Every time in the script is fixed, so both histories are the same to
/// the millisecond.
const T0: Timestamp = 1_767_225_600_000;
const SHOP_A: &str = "http://shop-a.example/notify";
const SHOP_B: &str = "https://shop-b.example:8443/callbacks";
const HOST_B: &str = "shop-b.example:8443";
const LEASE_MS: i64 = 30_000;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

/// Runs `$body` on each backend (`$side`, a [`Side`]) and ends the step with
/// [`Contract::answered`]: the answers must be the same, and so must everything both hold.
macro_rules! on_both {
    ($contract:expr, $what:expr, |$side:ident| $body:expr) => {{
        let mut answers = Vec::new();
        for $side in &$contract.sides {
            answers.push($body);
        }
        $contract.answered($what, answers).await
    }};
}

/// One backend of the pair.
struct Side {
    name: &'static str,
    db: TestDb,
    storage: Arc<dyn Storage>,
}

/// What numbers rows: SQLite and PostgreSQL each number their rows with their own sequence,
/// and a PostgreSQL sequence never gives back a number that a conflicting or rolled-back
/// insert took (a duplicate create takes one there and not in SQLite), so the same history
/// may number its orders, callbacks and journal entries differently. These numbers, and only
/// these, are cleared before comparing; what they link is checked on each side first (see
/// [`Contract::state_of`]). The merchant is the first row of its table on both, so its id
/// (which orders, accounts and entries name) is compared as it is.
trait RowNumbers {
    fn without_row_numbers(self) -> Self;
}

impl RowNumbers for Order {
    fn without_row_numbers(self) -> Self {
        Order { id: 0, ..self }
    }
}

impl RowNumbers for Callback {
    fn without_row_numbers(self) -> Self {
        Callback {
            id: 0,
            order_id: 0,
            ..self
        }
    }
}

impl RowNumbers for CallbackAttempt {
    fn without_row_numbers(self) -> Self {
        CallbackAttempt {
            callback_id: 0,
            ..self
        }
    }
}

impl RowNumbers for MerchantEntry {
    fn without_row_numbers(self) -> Self {
        MerchantEntry { id: 0, ..self }
    }
}

/// An error as compared: its variant and what it carries (a database error's text would
/// differ, but none is expected).
fn refusal(e: StorageError) -> String {
    format!("{e:?}")
}

/// What `create_order` answered, comparable.
#[derive(Debug, PartialEq)]
enum Created {
    New(Order),
    Existing(Order),
}

fn created(outcome: octopus_storage::Result<CreateOutcome>) -> Result<Created, String> {
    match outcome {
        Ok(CreateOutcome::Created(o)) => Ok(Created::New(o.without_row_numbers())),
        Ok(CreateOutcome::Existing(o)) => Ok(Created::Existing(o.without_row_numbers())),
        Err(e) => Err(refusal(e)),
    }
}

fn changed(outcome: octopus_storage::Result<Order>) -> Result<Order, String> {
    outcome
        .map(RowNumbers::without_row_numbers)
        .map_err(refusal)
}

/// A ledger verification, comparable: the recomputed balances by account (the report lists
/// them by the accounts' row numbers).
#[derive(Debug, PartialEq)]
struct Verified {
    sound: bool,
    entries: u64,
    postings: u64,
    accounts: u64,
    orders: u64,
    balances: Vec<(String, Decimal)>,
    violations: Vec<String>,
}

impl From<LedgerReport> for Verified {
    fn from(r: LedgerReport) -> Self {
        let mut balances: Vec<(String, Decimal)> = r
            .balances
            .iter()
            .map(|(account, balance)| (account.key(), *balance))
            .collect();
        balances.sort();
        Verified {
            sound: r.is_sound(),
            entries: r.entries,
            postings: r.postings,
            accounts: r.accounts,
            orders: r.orders,
            balances,
            violations: r.violations,
        }
    }
}

/// Everything one order is, as storage answers for it.
#[derive(Debug, PartialEq)]
struct OrderState {
    order: Option<Order>,
    events: Vec<OrderEvent>,
    callbacks: Vec<(Callback, Vec<CallbackAttempt>)>,
    upstream: (Option<RequestFields>, Vec<UpstreamExchange>),
}

/// Everything else storage holds for the script's merchant.
#[derive(Debug, PartialEq)]
struct Books {
    merchant: Option<Merchant>,
    fee_rules: Vec<FeeSchedule>,
    balances: Vec<Balance>,
    entries: Vec<MerchantEntry>,
    order_count: u64,
    accounting_failures: Vec<String>,
    expired: Vec<String>,
    backlog: Vec<HostBacklog>,
    channels: Vec<Channel>,
    ledger: Verified,
}

/// How one claimed callback's attempt ends (found by the order it reports).
struct Attempt {
    payment_uid: String,
    outcome: CallbackOutcome,
    http_status: Option<u16>,
    error: &'static str,
    /// Recorded under a claim that is no longer the callback's (its lease ran out).
    stale: bool,
}

impl Attempt {
    fn acknowledged(payment_uid: &str) -> Attempt {
        Attempt {
            payment_uid: payment_uid.into(),
            outcome: CallbackOutcome::Acknowledged,
            http_status: Some(200),
            error: "",
            stale: false,
        }
    }

    fn failed(payment_uid: &str, outcome: CallbackOutcome, error: &'static str) -> Attempt {
        Attempt {
            payment_uid: payment_uid.into(),
            outcome,
            http_status: Some(500),
            error,
            stale: false,
        }
    }
}

/// The two backends, and what the script has used so far.
struct Contract {
    sides: Vec<Side>,
    step: usize,
    now: Timestamp,
    merchant_id: i64,
    fee_schedules: Vec<FeeSchedule>,
    /// Every payment_uid the script has used (stored or refused), oldest first.
    uids: Vec<String>,
}

impl Contract {
    async fn open(postgres: Backend) -> Contract {
        let mut sides = Vec::new();
        for (name, backend) in [("SQLite", Backend::Sqlite), ("PostgreSQL", postgres)] {
            let db = TestDb::new(&backend).await;
            let storage = db.open_storage().await;
            sides.push(Side { name, db, storage });
        }
        Contract {
            sides,
            step: 0,
            now: T0,
            merchant_id: 0,
            fee_schedules: Vec::new(),
            uids: Vec::new(),
        }
    }

    /// The next time of the script: one second after the last.
    fn tick(&mut self) -> Timestamp {
        self.now += 1000;
        self.now
    }

    /// A new payment_uid (the server makes one for every request, a retry too).
    fn new_uid(&mut self) -> String {
        let uid = format!("c0a7ac7{:025}", self.uids.len());
        self.uids.push(uid.clone());
        uid
    }

    /// An order of the script's merchant on the sandbox channel, created now, its fee from
    /// the merchant's schedules as the server picks it.
    fn order(
        &mut self,
        merchant_order_id: &str,
        accounting_type: AccountingType,
        amount: &str,
        currency_code: &str,
        payment: &str,
        notify_url: &str,
    ) -> Order {
        let transaction_type = if accounting_type.fits(TransactionType::Income) {
            TransactionType::Income
        } else {
            TransactionType::Expense
        };
        let amount = d(amount);
        let rule: FeeRule = ledger::fee_rule_for(&self.fee_schedules, payment, accounting_type);
        let fee = match transaction_type {
            TransactionType::Income => ledger::deposit_fee(&rule, amount),
            TransactionType::Expense => rule.fee_for(amount),
        };
        let now = self.tick();
        let payee = match transaction_type {
            TransactionType::Income => ("", "", ""),
            TransactionType::Expense => ("1234567890", "Payee", "KBANK"),
        };
        Order {
            id: 0,
            payment_uid: self.new_uid(),
            merchant_id: self.merchant_id,
            merchant_uid: "MCONTRACT".into(),
            merchant_name: "Contract Shop".into(),
            signature_key: "ock_contract".into(),
            merchant_order_id: merchant_order_id.into(),
            transaction_type,
            accounting_type,
            amount,
            floating_amount: Decimal::ZERO,
            final_amount: amount,
            currency: currency(currency_code),
            country: "Thailand".into(),
            country_code: "TH".into(),
            payment: payment.into(),
            channel: "sandbox".into(),
            account: String::new(),
            reference: String::new(),
            from: String::new(),
            from_name: String::new(),
            from_bank_name: String::new(),
            to: payee.0.into(),
            to_name: payee.1.into(),
            to_bank_name: payee.2.into(),
            member_id: "member-7".into(),
            redirect_url: String::new(),
            notify_url: notify_url.into(),
            response_type: "json".into(),
            ip: "203.0.113.7".into(),
            user_agent: "contract".into(),
            ttl: None,
            float_precision: 0,
            additional: String::new(),
            extra: r#"{"note":"contract"}"#.into(),
            distribute_rules: r#"{"rule":"channels","chosen":"sandbox"}"#.into(),
            payment_status: PaymentStatus::Pending,
            payment_fail_reason: String::new(),
            notify_status: NotifyStatus::None,
            notify_fail_reason: String::new(),
            accounting_status: AccountingStatus::None,
            accounting_fail_reason: String::new(),
            fee,
            fee_rule: rule,
            fingerprint: format!("fingerprint-of-{merchant_order_id}"),
            amount_locked: false,
            created_at: now,
            updated_at: now,
            expires_at: None,
            next_check_at: None,
            test: false,
            request_id: String::new(),
        }
    }

    /// A deposit in thb by PromptPay.
    fn deposit(&mut self, merchant_order_id: &str, amount: &str, notify_url: &str) -> Order {
        let receive = AccountingType::Receive;
        self.order(
            merchant_order_id,
            receive,
            amount,
            "thb",
            "promptpay",
            notify_url,
        )
    }

    /// A deposit whose final amount gets a floating offset (within two decimals).
    fn floating(&mut self, merchant_order_id: &str, notify_url: &str) -> Order {
        let mut order = self.deposit(merchant_order_id, "300.00", notify_url);
        order.float_precision = 2;
        order
    }

    /// A payout in thb to a bank account.
    fn payout(&mut self, merchant_order_id: &str, amount: &str, notify_url: &str) -> Order {
        let pay = AccountingType::Pay;
        self.order(merchant_order_id, pay, amount, "thb", "bank", notify_url)
    }

    /// The same order sent again (a retry: a new payment_uid, the same merchant_order_id).
    fn retry_of(&mut self, order: &Order) -> Order {
        let now = self.tick();
        Order {
            payment_uid: self.new_uid(),
            created_at: now,
            updated_at: now,
            ..order.clone()
        }
    }

    /// Ends a step: both answers must be the same, and then everything both hold. Every
    /// difference of the step is reported at once.
    async fn answered<T: PartialEq + Debug>(&mut self, what: &str, answers: Vec<T>) -> T {
        self.step += 1;
        let mut answers = answers.into_iter();
        let (sqlite, postgres) = (answers.next().unwrap(), answers.next().unwrap());
        let mut differences = Vec::new();
        compare("the answer", &sqlite, &postgres, &mut differences);
        let mut states = Vec::new();
        for side in &self.sides {
            states.push(self.state_of(side).await);
        }
        let postgres_state = states.pop().unwrap();
        let sqlite_state = states.pop().unwrap();
        for ((uid, s), (_, p)) in sqlite_state.0.iter().zip(&postgres_state.0) {
            let name = s
                .order
                .as_ref()
                .or(p.order.as_ref())
                .map_or(String::new(), |o| format!(" ({})", o.merchant_order_id));
            compare(&format!("order {uid}{name}"), s, p, &mut differences);
        }
        compare(
            "the merchant's books",
            &sqlite_state.1,
            &postgres_state.1,
            &mut differences,
        );
        assert!(
            differences.is_empty(),
            "step {} ({what}): the backends differ (- SQLite, + PostgreSQL)\n{}",
            self.step,
            differences.join("\n")
        );
        sqlite
    }

    /// What one backend holds now, its row numbers cleared once checked: each callback belongs
    /// to its order, each attempt to its callback, and each order is found by its
    /// merchant_order_id too.
    async fn state_of(&self, side: &Side) -> (Vec<(String, OrderState)>, Books) {
        let s = side.storage.as_ref();
        let read = |what: &str, e: StorageError| -> ! { panic!("{}: {what}: {e}", side.name) };
        let mut orders = Vec::new();
        for uid in &self.uids {
            let order = s
                .order_by_payment_uid(uid)
                .await
                .unwrap_or_else(|e| read("order", e));
            let events = s
                .order_events(uid)
                .await
                .unwrap_or_else(|e| read("events", e));
            let mut callbacks = Vec::new();
            for (callback, attempts) in s
                .callbacks_of(uid)
                .await
                .unwrap_or_else(|e| read("callbacks", e))
            {
                let order = order.as_ref().expect("a callback of a stored order");
                assert_eq!(
                    (callback.order_id, callback.payment_uid.as_str()),
                    (order.id, uid.as_str()),
                    "{}: a callback of another order",
                    side.name
                );
                assert!(
                    attempts.iter().all(|a| a.callback_id == callback.id),
                    "{}: an attempt of another callback",
                    side.name
                );
                callbacks.push((
                    callback.without_row_numbers(),
                    attempts
                        .into_iter()
                        .map(RowNumbers::without_row_numbers)
                        .collect(),
                ));
            }
            if let Some(o) = &order {
                let found = s
                    .order_by_merchant_order_id(o.merchant_id, &o.merchant_order_id)
                    .await
                    .unwrap_or_else(|e| read("by merchant_order_id", e));
                assert_eq!(found.as_ref(), Some(o), "{}: found by its id", side.name);
            }
            let upstream = s
                .upstream_of(uid)
                .await
                .unwrap_or_else(|e| read("upstream", e));
            orders.push((
                uid.clone(),
                OrderState {
                    order: order.map(RowNumbers::without_row_numbers),
                    events,
                    callbacks,
                    upstream,
                },
            ));
        }
        let m = self.merchant_id;
        let books = Books {
            merchant: s
                .merchant_by_uid("MCONTRACT")
                .await
                .unwrap_or_else(|e| read("merchant", e)),
            fee_rules: s
                .fee_rules(m)
                .await
                .unwrap_or_else(|e| read("fee rules", e)),
            balances: s.balances(m).await.unwrap_or_else(|e| read("balances", e)),
            entries: s
                .merchant_entries(m, None, None, 1000)
                .await
                .unwrap_or_else(|e| read("entries", e))
                .into_iter()
                .map(RowNumbers::without_row_numbers)
                .collect(),
            order_count: s
                .order_count(m)
                .await
                .unwrap_or_else(|e| read("order count", e)),
            accounting_failures: s
                .accounting_failures(100)
                .await
                .unwrap_or_else(|e| read("accounting failures", e)),
            expired: s
                .expired_orders(T0 + 86_400_000, 100)
                .await
                .unwrap_or_else(|e| read("expired", e)),
            backlog: s
                .callback_backlog(self.now, &["shop-a.example".into(), HOST_B.into()])
                .await
                .unwrap_or_else(|e| read("backlog", e)),
            channels: s.channels().await.unwrap_or_else(|e| read("channels", e)),
            ledger: s
                .verify_ledger()
                .await
                .unwrap_or_else(|e| read("verify", e))
                .into(),
        };
        (orders, books)
    }

    async fn create(&mut self, what: &str, order: &Order, amounts: &[Decimal]) -> Created {
        let outcome = self.create_or_refused(what, order, amounts).await;
        outcome.unwrap_or_else(|e| panic!("step {} ({what}) refused: {e}", self.step))
    }

    async fn create_or_refused(
        &mut self,
        what: &str,
        order: &Order,
        amounts: &[Decimal],
    ) -> Result<Created, String> {
        on_both!(self, what, |side| created(
            side.storage
                .create_order(order.clone(), amounts.to_vec())
                .await
        ))
    }

    async fn change_or_refused(
        &mut self,
        what: &str,
        payment_uid: &str,
        change: StatusChange,
    ) -> Result<Order, String> {
        on_both!(self, what, |side| changed(
            side.storage
                .change_status(payment_uid, change.clone())
                .await
        ))
    }

    /// Applies `change`, which must be accepted.
    async fn change_as(&mut self, what: &str, payment_uid: &str, change: StatusChange) -> Order {
        let outcome = self.change_or_refused(what, payment_uid, change).await;
        outcome.unwrap_or_else(|e| panic!("step {} ({what}) refused: {e}", self.step))
    }

    /// Moves an order to `to` now, which must be accepted.
    async fn change(
        &mut self,
        what: &str,
        payment_uid: &str,
        to: PaymentStatus,
        reason: &str,
    ) -> Order {
        let change = StatusChange::new(to, reason, self.tick());
        self.change_as(what, payment_uid, change).await
    }

    /// A change refused with `expected` (the error's variant and what it carries).
    async fn refused(
        &mut self,
        what: &str,
        payment_uid: &str,
        change: StatusChange,
        expected: &str,
    ) {
        let outcome = self.change_or_refused(what, payment_uid, change).await;
        let refused = outcome.expect_err(what);
        assert!(refused.contains(expected), "{what}: {refused}");
    }

    /// Claims the callbacks due; returns each backend's own (with its row numbers).
    async fn claim(&mut self, what: &str, now: Timestamp, room: &ClaimRoom) -> Vec<Vec<Callback>> {
        let mut claimed = Vec::new();
        let mut answers = Vec::new();
        for side in &self.sides {
            let taken = side
                .storage
                .claim_callbacks(now, LEASE_MS, room)
                .await
                .expect("claim callbacks");
            answers.push(
                taken
                    .iter()
                    .cloned()
                    .map(RowNumbers::without_row_numbers)
                    .collect::<Vec<_>>(),
            );
            claimed.push(taken);
        }
        self.answered(what, answers).await;
        claimed
    }

    /// Hands back callbacks claimed before (`offset` added to each claim: a claim that is not
    /// the callback's own any more), on each backend with its own rows.
    async fn release(&mut self, claimed: &[Vec<Callback>], offset: i64) {
        for (side, taken) in self.sides.iter().zip(claimed) {
            let claims: Vec<(i64, Timestamp)> = taken
                .iter()
                .map(|c| (c.id, c.claimed_until + offset))
                .collect();
            side.storage
                .release_callbacks(&claims)
                .await
                .expect("release callbacks");
        }
    }

    /// Records attempts of callbacks claimed before, on each backend with its own rows.
    async fn record(
        &mut self,
        what: &str,
        claimed: &[Vec<Callback>],
        attempts: &[Attempt],
        at: Timestamp,
    ) {
        let mut answers = Vec::new();
        for (side, claimed) in self.sides.iter().zip(claimed) {
            let records = attempts
                .iter()
                .map(|a| {
                    let c = claimed
                        .iter()
                        .find(|c| c.payment_uid == a.payment_uid)
                        .unwrap_or_else(|| panic!("{what}: {} was not claimed", a.payment_uid));
                    AttemptRecord {
                        order_id: c.order_id,
                        attempt: CallbackAttempt {
                            callback_id: c.id,
                            attempt: c.attempts + 1,
                            manual: c.manual,
                            started_at: at - 250,
                            http_status: a.http_status,
                            latency_ms: 250,
                            error: a.error.into(),
                            response_head: if a.error.is_empty() {
                                "success".into()
                            } else {
                                "oops".into()
                            },
                        },
                        outcome: a.outcome,
                        claim: if a.stale {
                            c.claimed_until - 1
                        } else {
                            c.claimed_until
                        },
                    }
                })
                .collect();
            let outcome = side.storage.record_callback_attempts(records, at).await;
            answers.push(outcome.map_err(refusal));
        }
        let recorded = self.answered(what, answers).await;
        recorded.unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    /// Records every claimed callback as acknowledged.
    async fn acknowledge(&mut self, what: &str, claimed: &[Vec<Callback>]) {
        let attempts: Vec<Attempt> = claimed[0]
            .iter()
            .map(|cb| Attempt::acknowledged(&cb.payment_uid))
            .collect();
        let at = self.tick();
        self.record(what, claimed, &attempts, at).await;
    }

    /// Runs the same SQL on both databases (to break or repair them on purpose).
    async fn execute_sql(&mut self, what: &str, sql: &str) {
        on_both!(self, what, |side| side.db.execute_sql(sql).await);
    }
}

/// Adds to `differences` the lines of the two values' pretty forms that differ, with the
/// lines around them. Amounts are compared as numbers (`Decimal`'s equality), as every reader
/// of them does: SQLite keeps them as text in the currency's or the ledger's places,
/// PostgreSQL as NUMERIC as written, so one fee reads `4.000000` on one and `4` on the other.
fn compare<T: PartialEq + Debug>(
    what: &str,
    sqlite: &T,
    postgres: &T,
    differences: &mut Vec<String>,
) {
    if sqlite == postgres {
        return;
    }
    let (a, b) = (format!("{sqlite:#?}"), format!("{postgres:#?}"));
    differences.push(format!("{what}:\n{}", line_diff(&a, &b)));
}

/// A line diff of two texts (longest common subsequence), changed lines with three of
/// context on each side. Lines that differ only in how many zeros a decimal ends with
/// (`4.000000` and `4` are equal amounts) count as the same.
fn line_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let (ca, cb): (Vec<String>, Vec<String>) = (
        a.iter().map(|l| without_trailing_zeros(l)).collect(),
        b.iter().map(|l| without_trailing_zeros(l)).collect(),
    );
    let mut common = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if ca[i] == cb[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && ca[i] == cb[j] {
            lines.push((' ', a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        lines[k.saturating_sub(3)..(k + 4).min(lines.len())]
            .iter()
            .any(|(mark, _)| *mark != ' ')
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (k, (mark, line)) in lines.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push("  ...".to_string());
                skipped = false;
            }
            out.push(format!("{mark} {line}"));
        } else {
            skipped = true;
        }
    }
    out.join("\n")
}

/// A line with every decimal number's trailing fractional zeros (and a bare point) removed.
fn without_trailing_zeros(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut number = String::new();
    let flush = |number: &mut String, out: &mut String| {
        if number.contains('.') {
            let trimmed = number.trim_end_matches('0').trim_end_matches('.');
            out.push_str(trimmed);
        } else {
            out.push_str(number);
        }
        number.clear();
    };
    for ch in line.chars() {
        if ch.is_ascii_digit() || (ch == '.' && !number.is_empty() && !number.contains('.')) {
            number.push(ch);
        } else {
            flush(&mut number, &mut out);
            out.push(ch);
        }
    }
    flush(&mut number, &mut out);
    out
}

fn percent(p: &str, fixed: &str, maximum: Option<&str>) -> FeeRule {
    FeeRule::new(d(p), d(fixed), Decimal::ZERO, maximum.map(d)).unwrap()
}

async fn both_backends_keep_the_same_books(postgres: Backend) {
    use PaymentStatus::{Completed, Failed, Overdue, Processing, Refund, Reject};
    let mut c = Contract::open(postgres).await;

    // The merchant, its keys, its fee schedules; a setting.
    let at = c.tick();
    let new_merchant = |name: &str, api_key: &str| NewMerchant {
        uid: "MCONTRACT".into(),
        name: name.into(),
        api_key: api_key.into(),
        sealed_secret: format!("sealed-{api_key}"),
        created_at: at,
    };
    let merchant = on_both!(c, "create the merchant", |side| side
        .storage
        .create_merchant(new_merchant("Contract Shop", "ock_contract"))
        .await
        .map_err(refusal))
    .expect("merchant created");
    c.merchant_id = merchant.id;
    let taken = on_both!(c, "create a merchant with a uid taken", |side| side
        .storage
        .create_merchant(new_merchant("Same uid", "ock_other"))
        .await
        .map_err(refusal));
    assert!(taken.unwrap_err().contains("Conflict"));
    let at = c.tick();
    let keys = on_both!(c, "a second API key, and keys looked up", |side| {
        let s = side.storage.as_ref();
        let added = s
            .add_api_key(octopus_storage::NewApiKey {
                merchant_id: merchant.id,
                api_key: "ock_second".into(),
                sealed_secret: "sealed-2".into(),
                label: "shop two".into(),
                expires_at: Some(at + 1000),
                allowed_ips: octopus_domain::merchant::parse_allowlist("10.0.0.0/8").unwrap(),
                created_at: at,
            })
            .await;
        // A test book: made once, answering with its merchant's uid and name.
        let book = s.test_book(merchant.id, at).await.expect("test book");
        let again = s.test_book(merchant.id, at).await.expect("test book again");
        let test_key = s
            .add_api_key(octopus_storage::NewApiKey {
                merchant_id: book.id,
                api_key: "ock_test_1".into(),
                sealed_secret: "sealed-t".into(),
                label: String::new(),
                expires_at: None,
                allowed_ips: Vec::new(),
                created_at: at,
            })
            .await;
        let revoked = s.revoke_api_key("ock_test_1", at).await.ok();
        let revoked_twice = s.revoke_api_key("ock_test_1", at).await.ok();
        let mut keys = Vec::new();
        for key in ["ock_contract", "ock_second", "ock_test_1", "ock_none"] {
            let stored = s.api_key(key).await.expect("api key");
            keys.push(stored.map(|k| {
                (
                    k.api_key,
                    k.merchant.uid,
                    k.merchant.mode,
                    k.sealed_secret,
                    k.label,
                    k.expires_at,
                    k.revoked_at,
                    octopus_domain::merchant::format_allowlist(&k.allowed_ips),
                )
            }));
        }
        let listed = s.api_keys_of(merchant.id).await.expect("keys").len();
        (
            added.map_err(refusal),
            test_key.map_err(refusal),
            (
                book.uid == merchant.uid,
                book.mode,
                book.owner_id == merchant.id,
                again.id == book.id,
            ),
            (revoked, revoked_twice, listed),
            keys,
            s.merchant_count().await.ok(),
        )
    });
    assert_eq!((&keys.0, &keys.1), (&Ok(()), &Ok(())));
    assert_eq!(keys.2, (true, octopus_domain::Mode::Test, true, true));
    assert_eq!(keys.3, (Some(true), Some(false), 3));
    assert_eq!(keys.4.iter().flatten().count(), 3, "{:?}", keys.4);
    assert_eq!(keys.5, Some(1), "a test book is no merchant of its own");
    let at = c.tick();
    let rules = [
        ("*", "receive", percent("2", "0", None)),
        ("*", "pay", percent("1", "1.00", Some("20"))),
        ("promptpay", "recharge", percent("0", "0", None)),
        ("*", "settle", percent("0.5", "0", None)),
        ("*", "receive", percent("2", "0", None)),
    ]
    .map(|(payment, accounting_type, rule)| {
        FeeSchedule::parse(payment, accounting_type, rule).expect("a schedule")
    });
    on_both!(c, "fee schedules (one set twice)", |side| {
        let mut outcomes = Vec::new();
        for schedule in &rules {
            let set = side.storage.set_fee_rule(merchant.id, schedule, at);
            outcomes.push(set.await.map_err(refusal));
        }
        outcomes
    });
    c.fee_schedules = c.sides[0].storage.fee_rules(merchant.id).await.unwrap();
    assert_eq!(c.fee_schedules.len(), 4);
    let setting = on_both!(c, "a setting, stored once", |side| {
        let s = side.storage.as_ref();
        let first = s.init_setting("contract", "first").await.map_err(refusal);
        let second = s.init_setting("contract", "second").await.map_err(refusal);
        (first, second, s.setting("contract").await.map_err(refusal))
    });
    let first = || Ok("first".to_string());
    assert_eq!(setting, (first(), first(), Ok(Some("first".into()))));

    // A deposit with notify_url, and its retry: the stored order comes back. It moves on: its
    // first callback is queued, and it is on its way.
    let dep = c.deposit("dep-notify", "200.00", SHOP_A);
    let first = c.create("a deposit with notify_url", &dep, &[]).await;
    let retry = c.retry_of(&dep);
    let again = c
        .create("the same merchant_order_id again", &retry, &[])
        .await;
    let (Created::New(stored), Created::Existing(existing)) = (first, again) else {
        panic!("a retry finds the order");
    };
    assert_eq!(existing, stored);
    let uid = &dep.payment_uid;
    let moved = c
        .change(
            "a deposit with notify_url is processing",
            uid,
            Processing,
            "the payer confirmed",
        )
        .await;
    assert_eq!(moved.notify_status, NotifyStatus::Delivered, "on its way");

    // Money in: a recharge (no fee) without notify_url, credited.
    let recharge = AccountingType::Recharge;
    let fund = c.order("fund-thb", recharge, "1000.00", "thb", "promptpay", "");
    c.create("a recharge without notify_url", &fund, &[]).await;
    let uid = &fund.payment_uid;
    c.change(
        "the recharge completes",
        uid,
        Completed,
        "paid in the sandbox",
    )
    .await;

    // Floating amounts: each open deposit of the channel holds its own final amount.
    let float_1 = c.floating("dep-float-1", SHOP_B);
    let amounts = [d("300.37"), d("300.12")];
    let created = c.create("a floating deposit", &float_1, &amounts).await;
    assert!(matches!(created, Created::New(o) if o.final_amount == amounts[0] && o.amount_locked));
    let float_2 = c.floating("dep-float-2", "");
    let amounts = [d("300.37"), d("300.55")];
    let what = "a floating deposit whose first amount is held";
    let created = c.create(what, &float_2, &amounts).await;
    assert!(matches!(created, Created::New(o) if o.final_amount == amounts[1]));
    let retry = c.retry_of(&float_2);
    let what = "the floating deposit again";
    let found = c.create(what, &retry, &[d("300.37"), d("300.91")]).await;
    assert!(matches!(found, Created::Existing(o) if o.final_amount == amounts[1]));
    let float_3 = c.floating("dep-float-3", "");
    let what = "a floating deposit with every amount held";
    let none_left = c.create_or_refused(what, &float_3, &amounts).await;
    assert_eq!(none_left.unwrap_err(), "NoFreeAmount");

    // The deposit with notify_url completes short: its fee is on what was received.
    let short =
        StatusChange::new(Completed, "received less", c.tick()).with_final_amount(d("195.50"));
    let what = "it completes with a different final amount";
    let completed = c.change_as(what, &dep.payment_uid, short).await;
    assert_eq!(
        (completed.final_amount, completed.fee),
        (d("195.50"), d("3.91"))
    );

    // Payouts against the balance: one held, one refused, a retry of the first found again
    // (whatever the balance is now), one in a currency the merchant never held refused.
    let pay_1 = c.payout("pay-1", "500.00", SHOP_A);
    c.create("a payout the balance covers", &pay_1, &[]).await;
    let pay_2 = c.payout("pay-2", "1000.00", SHOP_A);
    let what = "a payout the balance cannot cover";
    let refused = c.create_or_refused(what, &pay_2, &[]).await;
    assert_eq!(refused.unwrap_err(), "InsufficientBalance");
    let retry = c.retry_of(&pay_1);
    let found = c.create("the first payout again", &retry, &[]).await;
    assert!(matches!(found, Created::Existing(o) if o.payment_uid == pay_1.payment_uid));
    let pay_php = c.order("pay-php", AccountingType::Pay, "10.00", "php", "gcash", "");
    let what = "a payout in a currency never held";
    let refused = c.create_or_refused(what, &pay_php, &[]).await;
    assert_eq!(refused.unwrap_err(), "InsufficientBalance");

    // The first payout settles; another fails upstream, a third is rejected: both released.
    let uid = &pay_1.payment_uid;
    c.change("the payout is sent", uid, Processing, "sent upstream")
        .await;
    c.change("the payout settles", uid, Completed, "upstream paid")
        .await;
    let pay_3 = c.payout("pay-3", "100.00", SHOP_B);
    c.create("a payout that will fail", &pay_3, &[]).await;
    let failed = StatusChange::new(Failed, "upstream declined", c.tick())
        .failing("Upstream: account closed");
    let what = "the payout fails: its hold is released";
    c.change_as(what, &pay_3.payment_uid, failed).await;
    let pay_4 = c.order("pay-4", AccountingType::Settle, "50.00", "thb", "bank", "");
    c.create("a settlement payout", &pay_4, &[]).await;
    let rejected = StatusChange::new(Reject, "payout review", c.tick())
        .failing("Rejected: payee_account is blocked");
    let what = "the settlement is rejected: released";
    c.change_as(what, &pay_4.payment_uid, rejected).await;

    // Deposits that end without money: rejected, failed (with a callback).
    let dep_reject = c.deposit("dep-reject", "20.00", "");
    c.create("a deposit to reject", &dep_reject, &[]).await;
    let rejected =
        StatusChange::new(Reject, "blocklist", c.tick()).failing("Rejected: member_id is blocked");
    c.change_as("the deposit is rejected", &dep_reject.payment_uid, rejected)
        .await;
    let dep_fail = c.deposit("dep-fail", "30.00", SHOP_A);
    c.create("a deposit that fails", &dep_fail, &[]).await;
    let failed =
        StatusChange::new(Failed, "the payer gave up", c.tick()).failing("Payer cancelled");
    c.change_as("the deposit fails", &dep_fail.payment_uid, failed)
        .await;

    // An expiry, and the late payment that still completes it.
    let mut late = c.deposit("dep-late", "80.00", SHOP_B);
    late.ttl = Some(60);
    late.expires_at = Some(late.created_at + 60_000);
    c.create("a deposit with a ttl", &late, &[]).await;
    let after_ttl = late.created_at + 61_000;
    let expired = on_both!(c, "the orders past their ttl", |side| side
        .storage
        .expired_orders(after_ttl, 10)
        .await
        .map_err(refusal));
    assert_eq!(expired, Ok(vec![late.payment_uid.clone()]));
    let overdue = StatusChange::new(Overdue, "not completed within its ttl", c.tick())
        .from_status(PaymentStatus::Pending);
    c.change_as("the deposit is overdue", &late.payment_uid, overdue)
        .await;
    let uid = &late.payment_uid;
    c.change(
        "a late payment completes it",
        uid,
        Completed,
        "paid after its ttl",
    )
    .await;

    // A floating deposit completes (its amount is free again) and is refunded.
    let done = StatusChange::new(Completed, "paid", c.tick()).with_final_amount(d("300.37"));
    c.change_as("the floating deposit completes", &float_1.payment_uid, done)
        .await;
    let float_4 = c.floating("dep-float-4", "");
    let what = "a floating deposit takes the freed amount";
    let reused = c.create(what, &float_4, &[d("300.37")]).await;
    assert!(matches!(reused, Created::New(o) if o.final_amount == d("300.37")));
    let uid = &float_1.payment_uid;
    let what = "the completed deposit is refunded";
    c.change(what, uid, Refund, "operator: duplicate charge")
        .await;

    // Changes the state machine refuses.
    let at = c.tick();
    let to = |status: PaymentStatus, reason: &str| StatusChange::new(status, reason, at);
    let cases = [
        (
            "a failed deposit cannot complete",
            &dep_fail.payment_uid,
            to(Completed, "too late"),
            "from: Failed, to: Completed",
        ),
        (
            "a completion applied twice",
            &dep.payment_uid,
            to(Completed, "again").with_final_amount(d("195.50")),
            "from: Completed, to: Completed",
        ),
        (
            "a payout is not refunded",
            &pay_1.payment_uid,
            to(Refund, "operator"),
            "only deposits are refunded",
        ),
        (
            "a completion receiving nothing",
            &float_2.payment_uid,
            to(Completed, "paid").with_final_amount(Decimal::ZERO),
            "greater than zero",
        ),
        (
            "a change from a status the order left",
            &float_2.payment_uid,
            to(Failed, "worker").from_status(Processing),
            "it changed meanwhile",
        ),
    ];
    for (what, uid, change, expected) in cases {
        c.refused(what, uid, change, expected).await;
    }
    let what = "a change of no order";
    c.refused(what, "c0a7ac7-none", to(Failed, "worker"), "NotFound")
        .await;

    // A refund the balance cannot cover is refused (the operator's request may be declined).
    let big = c.deposit("dep-big", "400.00", "");
    c.create("a big deposit", &big, &[]).await;
    c.change(
        "the big deposit completes",
        &big.payment_uid,
        Completed,
        "paid",
    )
    .await;
    let thb = c.sides[0].storage.balances(merchant.id).await.unwrap()[0].clone();
    let most = (thb.available - d("40")).round_dp(0);
    let pay_big = c.payout("pay-big", &format!("{most}.00"), "");
    c.create("a payout of most of the balance", &pay_big, &[])
        .await;
    let refund = StatusChange::new(Refund, "operator", c.tick());
    let what = "a refund the balance cannot cover";
    c.refused(what, &big.payment_uid, refund, "InsufficientBalance")
        .await;

    // An accounting failure: the upstream's news stands, the posting is retried once the
    // ledger is repaired. The held balance is broken behind the gateway's back, written with
    // six places as both backends write balances (so reports quoting it read the same).
    let fund_sgd = c.order("fund-sgd", recharge, "100.00", "sgd", "paynow", "");
    c.create("a recharge in sgd", &fund_sgd, &[]).await;
    c.change(
        "the sgd recharge completes",
        &fund_sgd.payment_uid,
        Completed,
        "paid",
    )
    .await;
    let pay_sgd = c.order(
        "pay-sgd",
        AccountingType::Pay,
        "40.00",
        "sgd",
        "paynow",
        SHOP_A,
    );
    c.create("an sgd payout", &pay_sgd, &[]).await;
    let held = format!("held:{}:sgd", merchant.id);
    let set_held = |balance: &str| {
        format!("UPDATE ledger_accounts SET balance = '{balance}' WHERE account_key = '{held}'")
    };
    c.execute_sql("the held sgd balance is broken", &set_held("0.000000"))
        .await;
    let uid = &pay_sgd.payment_uid;
    let what = "the payout settles but cannot be posted";
    let unaccounted = c.change(what, uid, Completed, "upstream paid").await;
    assert_eq!(
        (
            unaccounted.accounting_status,
            unaccounted.accounting_fail_reason.as_str()
        ),
        (
            AccountingStatus::Failed,
            "the held balance of sgd would become -41.400000"
        )
    );
    let at = c.tick();
    let what = "the accounting retried while still broken";
    let retried = on_both!(c, what, |side| changed(
        side.storage.retry_accounting(uid, at).await
    ));
    assert_eq!(retried.unwrap().accounting_status, AccountingStatus::Failed);
    c.execute_sql("the held sgd balance is repaired", &set_held("41.400000"))
        .await;
    for (uid, after) in [
        (&pay_sgd.payment_uid, AccountingStatus::Accounted),
        (&dep.payment_uid, AccountingStatus::Accounted),
        (&dep_reject.payment_uid, AccountingStatus::None),
    ] {
        let at = c.tick();
        let retried = on_both!(c, "the accounting retried", |side| changed(
            side.storage.retry_accounting(uid, at).await
        ));
        assert_eq!(retried.unwrap().accounting_status, after);
    }

    // The upstream's side of an order: what the payer is shown and the exchanges, references,
    // connector checks, rerouting; and the channels.
    let exchange = UpstreamExchange {
        channel: "sandbox".into(),
        operation: "create".into(),
        request: r#"{"amount":"300.55","secret":"***"}"#.into(),
        http_status: Some(200),
        response: r#"{"status":"ok"}"#.into(),
        latency_ms: 41,
        error: String::new(),
        at: c.tick(),
    };
    let (a, b) = (&float_2.payment_uid, &late.payment_uid);
    let shown: RequestFields = [("account", "0812345678")].into_iter().collect();
    let recorded = on_both!(c, "an upstream exchange recorded", |side| side
        .storage
        .record_upstream(a, "sandbox", Some(shown.clone()), vec![exchange.clone()])
        .await
        .map_err(refusal));
    recorded.expect("recorded");
    let references = on_both!(c, "an upstream reference added, refused, moved", |side| {
        let s = side.storage.as_ref();
        (
            s.add_upstream_reference(a, "sandbox", "REF-1").await.ok(),
            s.add_upstream_reference(b, "sandbox", "REF-1").await.ok(),
            s.order_by_upstream_reference("sandbox", "REF-1").await.ok(),
            s.move_upstream_reference(a, b, "sandbox", "REF-1")
                .await
                .ok(),
            s.move_upstream_reference(a, b, "sandbox", "REF-1")
                .await
                .ok(),
            s.order_by_upstream_reference("sandbox", "REF-1").await.ok(),
            s.order_by_upstream_reference("sandbox", "REF-2").await.ok(),
        )
    });
    let (yes, no) = (Some(true), Some(false));
    assert_eq!(
        references,
        (
            yes,
            no,
            Some(Some(a.clone())),
            yes,
            no,
            Some(Some(b.clone())),
            Some(None)
        )
    );
    let check_at = c.tick();
    let checks = on_both!(c, "a connector check claimed once", |side| {
        let s = side.storage.as_ref();
        let set = s.set_next_check(a, Some(check_at)).await.map_err(refusal);
        let mut claims = Vec::new();
        for _ in 0..2 {
            let due = s
                .claim_due_checks(check_at, 60_000, 10)
                .await
                .expect("claim");
            claims.push(
                due.into_iter()
                    .map(RowNumbers::without_row_numbers)
                    .collect::<Vec<_>>(),
            );
        }
        (set, claims)
    });
    assert_eq!((checks.1[0].len(), checks.1[1].len()), (1, 0));
    let at = c.tick();
    let failover = RoutingDecision {
        rule: "channels",
        requested_channel: String::new(),
        candidates: vec!["sandbox".into(), "sandbox-2".into()],
        chosen: "sandbox-2".into(),
        failovers: vec![Failover {
            channel: "sandbox".into(),
            reason: "refused the order".into(),
        }],
        skipped: Default::default(),
        account: None,
    };
    let channels = on_both!(c, "a channel added, disabled; an order rerouted", |side| {
        let s = side.storage.as_ref();
        let channel = Channel::new("sandbox-2", "sandbox", at);
        (
            s.save_channel(channel).await.map_err(refusal),
            s.set_channel_enabled("sandbox-2", false, at)
                .await
                .map_err(refusal),
            s.set_channel_enabled("nowhere", true, at)
                .await
                .map_err(refusal),
            s.reroute_order(a, "sandbox-2", &failover, at)
                .await
                .map_err(refusal),
            s.reroute_order(&dep_fail.payment_uid, "sandbox-2", &failover, at)
                .await
                .map_err(refusal),
            s.channel_volume("sandbox", T0).await.map_err(refusal),
        )
    });
    let (saved, disabled, missing, rerouted, not_pending, volume) = channels;
    assert!(saved.is_ok() && disabled.is_ok_and(|ch| !ch.enabled) && rerouted.is_ok());
    assert_eq!(
        (missing.unwrap_err(), not_pending.unwrap_err()),
        ("NotFound".into(), "NotFound".into())
    );
    assert!(volume.unwrap() > Decimal::ZERO);

    // Callbacks: claimed (the head of each order, as the room allows per host), attempted
    // (acknowledged, retried, given up, and one under a claim that is no longer its own),
    // claimed again.
    let now = c.tick();
    let room = ClaimRoom {
        total: 50,
        per_host: 50,
        hosts: vec![(HOST_B.into(), 1)],
    };
    let claimed = c
        .claim("callbacks claimed, one of shop-b", now, &room)
        .await;
    let taken: Vec<&String> = claimed[0].iter().map(|cb| &cb.payment_uid).collect();
    assert_eq!(
        taken,
        [
            &dep.payment_uid,
            &pay_1.payment_uid,
            &pay_3.payment_uid,
            &dep_fail.payment_uid,
            &pay_sgd.payment_uid
        ],
        "the heads of shop-a's orders, and the one of shop-b's due first"
    );
    let at = c.tick();
    let gave_up = "gave up after 1 attempts; the last: HTTP 500";
    let attempts = [
        Attempt::acknowledged(&dep.payment_uid),
        Attempt::failed(
            &pay_1.payment_uid,
            CallbackOutcome::RetryAt(at + 5_000),
            "HTTP 500",
        ),
        Attempt::acknowledged(&pay_3.payment_uid),
        Attempt::failed(&dep_fail.payment_uid, CallbackOutcome::GaveUp, gave_up),
        Attempt {
            stale: true,
            ..Attempt::acknowledged(&pay_sgd.payment_uid)
        },
    ];
    let what = "attempts: acknowledged, retried, gave up, and one stale";
    c.record(what, &claimed, &attempts, at).await;
    let now = c.tick();
    let claimed = c
        .claim("callbacks claimed again", now, &ClaimRoom::new(50, 50))
        .await;
    assert_eq!(claimed[0].len(), 3, "the next of dep-notify, and shop-b's");
    // A stopping node hands its queued claims back: claimable again at once (a hand-back
    // under a claim that is no longer the callback's changes nothing).
    c.release(&claimed, -1).await;
    let none = c
        .claim(
            "still leased after a stale hand-back",
            now,
            &ClaimRoom::new(50, 50),
        )
        .await;
    assert!(none[0].is_empty(), "{:?}", none[0]);
    c.release(&claimed, 0).await;
    let again = c
        .claim(
            "claimed again at once after the hand-back",
            now,
            &ClaimRoom::new(50, 50),
        )
        .await;
    let ids = |taken: &[Callback]| {
        let mut ids = taken.iter().map(|c| c.id).collect::<Vec<_>>();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids(&again[0]), ids(&claimed[0]));
    let claimed = again;
    c.acknowledge("the next ones acknowledged", &claimed).await;
    // Later: the retry is due and the stale claim's lease has run out; until none is left.
    for round in 0.. {
        assert!(round < 5, "callbacks are still due");
        c.now += LEASE_MS + 5_000;
        let now = c.now;
        let what = format!("callbacks due later, round {round}");
        let claimed = c.claim(&what, now, &ClaimRoom::new(50, 50)).await;
        if claimed[0].is_empty() {
            break;
        }
        c.acknowledge(&format!("acknowledged, round {round}"), &claimed)
            .await;
    }

    // A change after an order's callbacks were all acknowledged: it is on its way again.
    let released = StatusChange::new(Failed, "upstream declined", c.tick())
        .failing("Upstream: limit exceeded");
    c.change_as("the big payout fails", &pay_big.payment_uid, released)
        .await;
    let before = c.sides[0]
        .storage
        .order_by_payment_uid(&late.payment_uid)
        .await
        .unwrap();
    assert_eq!(
        before.map(|o| o.notify_status),
        Some(NotifyStatus::Completed)
    );
    let what = "a deposit whose callbacks were acknowledged is refunded";
    let refunded = c
        .change(what, &late.payment_uid, Refund, "operator: paid twice")
        .await;
    assert_eq!(
        refunded.notify_status,
        NotifyStatus::Delivered,
        "on its way again"
    );
    let now = c.tick();
    let claimed = c
        .claim(
            "the refund's callback claimed",
            now,
            &ClaimRoom::new(50, 50),
        )
        .await;
    c.acknowledge("the refund's callback acknowledged", &claimed)
        .await;

    // Resent by hand; an order without notify_url, or none at all, cannot be.
    let at = c.tick();
    let uids = [&dep.payment_uid, &fund.payment_uid, "c0a7ac7-none"];
    let resent = on_both!(c, "a callback resent by hand", |side| {
        let mut outcomes = Vec::new();
        for uid in uids {
            let resent = side.storage.resend_callback(uid, at).await;
            outcomes.push(resent.map(RowNumbers::without_row_numbers).map_err(refusal));
        }
        outcomes
    });
    assert!(resent[0].as_ref().is_ok_and(|cb| cb.manual));
    assert_eq!(resent[1].as_ref().unwrap_err(), "NoNotifyUrl");
    assert_eq!(resent[2].as_ref().unwrap_err(), "NotFound");
    let now = c.tick();
    let claimed = c
        .claim("the resent callback claimed", now, &ClaimRoom::new(50, 50))
        .await;
    assert!(claimed[0].iter().all(|cb| cb.manual) && claimed[0].len() == 1);
    c.acknowledge("the resent callback acknowledged", &claimed)
        .await;

    // The journal read in pages, each backend with its own entry numbers as cursors.
    let pages = on_both!(c, "the thb journal in pages of three", |side| {
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let s = side.storage.as_ref();
            let page = s.merchant_entries(merchant.id, Some(currency("thb")), before, 3);
            let page = page.await.expect("entries");
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            pages.push(
                page.into_iter()
                    .map(RowNumbers::without_row_numbers)
                    .collect::<Vec<_>>(),
            );
        }
        pages
    });
    assert!(pages.len() > 3);

    // In the end the ledger is sound on both.
    for side in &c.sides {
        let report = side.storage.verify_ledger().await.expect("verify");
        assert!(report.is_sound(), "{}: {:?}", side.name, report.violations);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_keep_the_same_books() {
    if let Some(postgres) = Backend::postgres("sqlite_and_postgres_keep_the_same_books") {
        both_backends_keep_the_same_books(postgres).await
    }
}
