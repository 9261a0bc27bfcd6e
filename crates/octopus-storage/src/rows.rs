//! One row mapping per table, shared by both backends. What a stored row means (which text is
//! which enum, which integers must fit which type, how a channel's lists are kept) is written
//! once here, against [`Columns`]: a stored row read by column name, which each backend
//! implements for its own row type. So the backends cannot drift in how they read a table, and
//! a mapping never depends on the position of a column in a SELECT list.
//!
//! The backends differ only in how a column holds a value: SQLite keeps decimals as TEXT and
//! booleans as integers, PostgreSQL has NUMERIC, BOOLEAN and three integer widths (see each
//! backend's migrations). A value that does not decode fails closed with
//! `StorageError::Corrupt("table.column")`; nothing is read as a default.
//!
//! Column lists that both backends select alike live here too (names only, no statements).

use std::cell::{Cell, RefCell};
use std::str::FromStr;
use std::sync::OnceLock;

use octopus_domain::account::{Account as OwnAccount, AccountLoad};
use octopus_domain::channel::split_list;
use octopus_domain::device::Device;
use octopus_domain::ledger::{
    Account, AccountKind, EntryRow, FeeRule, OrderRow, Scope, StoredAccount, Verification,
};
use octopus_domain::risk::{ReviewThreshold, VelocityRule};
use octopus_domain::transfer::Transfer;
use octopus_domain::{
    AccountingStatus, Channel, Currency, Merchant, Mode, Order, OrderEvent, TransactionType,
};
use rust_decimal::Decimal;

use crate::{
    stored_fields, Balance, BlockEntry, Callback, CallbackAttempt, CallbackState, FeeSchedule,
    MerchantEntry, Result, StorageError, StoredApiKey, UpstreamExchange,
};

/// The columns of `orders` every order read selects, in both backends.
pub const ORDER_COLUMNS: &str =
    "id, payment_uid, merchant_id, merchant_uid, merchant_name, signature_key,
    merchant_order_id, transaction_type, accounting_type, amount, floating_amount, final_amount,
    currency, country, country_code, payment, channel, from_account, from_name, from_bank_name,
    to_account, to_name, to_bank_name, member_id, redirect_url, notify_url, response_type, ip,
    user_agent, ttl, float_precision, additional, extra, distribute_rules, payment_status,
    payment_fail_reason, notify_status, notify_fail_reason, accounting_status,
    accounting_fail_reason, fingerprint, amount_locked, created_at, updated_at, expires_at,
    next_check_at, fee, fee_rule, account_id, bank_reference, test, request_id";

/// The columns of `own_accounts` (the operator's receiving accounts), in both backends.
pub const OWN_ACCOUNT_COLUMNS: &str = "id, channel, method, bank_code, number, holder, currency, \
    promptpay_id, vpa, wallet, daily_limit, max_open, enabled, created_at, updated_at";

/// The columns of `devices`, in both backends.
pub const DEVICE_COLUMNS: &str =
    "id, account_id, secret, revoked_at, last_heartbeat_at, created_at";

/// The columns of `transfers`, in both backends.
pub const TRANSFER_COLUMNS: &str = "uid, account_id, channel, device_id, amount, currency, \
    bank_reference, occurred_at, payer_account, payer_name, raw_text, status, payment_uid, late, \
    reason, return_reference, created_at, updated_at";

/// The columns of `channels`, in both backends: what every channel read selects, and the order
/// of a channel write's parameters (see `ChannelRow`).
pub const CHANNEL_COLUMNS: &str = "code, kind, enabled, merchants, transaction_types, countries, \
    currencies, payments, min_amount, max_amount, default_ttl, priority, weight, daily_limit, \
    settings, credentials, created_at, updated_at";

/// The columns of `channels` a save replaces in a channel that exists (all but its code and
/// when it was created).
pub fn channel_columns_replaced() -> impl Iterator<Item = &'static str> {
    CHANNEL_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| !matches!(*c, "code" | "created_at"))
}

/// The columns of `callbacks` every callback read selects, in both backends.
pub const CALLBACK_COLUMNS: &str =
    "id, order_id, payment_uid, notify_url, host, signature_key, payload, state, manual,
    attempts, next_attempt_at, last_error, created_at, updated_at, claimed_until";

/// A row a claim leased (a callback due, an order due for a check), unless it does not read
/// (edited by hand): that one is logged and left leased, so one corrupt row cannot stop every
/// claim after it; it comes back, and is logged again, when its lease ends.
pub fn claimed<T>(table: &'static str, read: Result<T>) -> Option<T> {
    match read {
        Ok(row) => Some(row),
        Err(e) => {
            tracing::error!(table, error = %e, "a claimed row does not read; it is skipped");
            None
        }
    }
}

/// A stored row, read by column name.
///
/// `name` is `table.column`: the column is found by the part after the last dot (as the SELECT
/// names it, ignoring ASCII case), and the whole names the value in the `Corrupt` error when it
/// is missing, NULL where a value must be, of another type, or out of range. A SELECT read
/// through it names each column once.
pub trait Columns {
    /// A text column (NULL: `None`).
    fn opt_text(&self, name: &'static str) -> Result<Option<String>>;
    /// An integer column of any width.
    fn opt_int(&self, name: &'static str) -> Result<Option<i64>>;
    /// An exact decimal column (TEXT on SQLite, NUMERIC on PostgreSQL).
    fn opt_decimal(&self, name: &'static str) -> Result<Option<Decimal>>;
    /// A boolean column.
    fn boolean(&self, name: &'static str) -> Result<bool>;

    fn text(&self, name: &'static str) -> Result<String> {
        self.opt_text(name)?.ok_or(StorageError::Corrupt(name))
    }

    fn int(&self, name: &'static str) -> Result<i64> {
        self.opt_int(name)?.ok_or(StorageError::Corrupt(name))
    }

    fn decimal(&self, name: &'static str) -> Result<Decimal> {
        self.opt_decimal(name)?.ok_or(StorageError::Corrupt(name))
    }

    /// A text column holding one value of `T` (an enum's `as_str`, a currency code).
    fn parsed<T: FromStr>(&self, name: &'static str) -> Result<T>
    where
        Self: Sized,
    {
        self.text(name)?
            .parse()
            .map_err(|_| StorageError::Corrupt(name))
    }

    /// An integer column whose values must fit `T`.
    fn narrow<T: TryFrom<i64>>(&self, name: &'static str) -> Result<T>
    where
        Self: Sized,
    {
        T::try_from(self.int(name)?).map_err(|_| StorageError::Corrupt(name))
    }

    /// A nullable integer column whose values must fit `T`.
    fn opt_narrow<T: TryFrom<i64>>(&self, name: &'static str) -> Result<Option<T>>
    where
        Self: Sized,
    {
        self.opt_int(name)?
            .map(|v| T::try_from(v).map_err(|_| StorageError::Corrupt(name)))
            .transpose()
    }
}

/// The column part of a `table.column` name.
pub fn column_of(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, column)| column)
}

/// Finds a row's columns by name in about one comparison each. A mapping reads the columns in
/// the order its SELECT lists them, so the search starts at the column after the one found
/// last; any other order still finds every column, with a longer scan. (Both drivers' own
/// by-name lookups scan from the first column every time: about 1,100 comparisons for an
/// order's 48 columns, on the path of every order read.)
///
/// A cursor over a statement that is run often may also learn from it ([`LearnedColumns`]):
/// then the rows after the first are read without asking the driver for any column name.
#[derive(Debug, Default)]
pub struct ColumnCursor<'q> {
    next: Cell<usize>,
    reads: Cell<usize>,
    learned: Option<&'q LearnedColumns>,
    learning: RefCell<Vec<(&'static str, usize)>>,
}

/// Where a statement's rows had their columns: each name a mapping read, in the order it read
/// them, and the index it was found at by name on the statement's first row. Every statement
/// of one text has the same result columns, so later rows of it use these indexes without
/// comparing names. One `LearnedColumns` belongs to one statement text.
#[derive(Debug, Default)]
pub struct LearnedColumns(OnceLock<Vec<(&'static str, usize)>>);

impl LearnedColumns {
    pub const fn new() -> LearnedColumns {
        LearnedColumns(OnceLock::new())
    }
}

impl<'q> ColumnCursor<'q> {
    /// A cursor that learns from (or uses what was learned of) its statement's columns.
    pub fn learning(learned: &'q LearnedColumns) -> ColumnCursor<'q> {
        ColumnCursor {
            next: Cell::new(0),
            reads: Cell::new(0),
            learned: Some(learned),
            learning: RefCell::new(Vec::new()),
        }
    }

    /// The index of column `name` (its `table.column` name): what was learned for this read,
    /// if it was this name; otherwise the first of the row's `count()` columns, from the one
    /// after the last found and wrapping around, that `is(index, column)` accepts.
    pub fn find(
        &self,
        name: &'static str,
        count: impl FnOnce() -> usize,
        is: impl Fn(usize, &str) -> bool,
    ) -> Option<usize> {
        let read = self.reads.get();
        self.reads.set(read + 1);
        let known = self.learned.and_then(|l| l.0.get());
        if let Some(&(learned, index)) = known.and_then(|k| k.get(read)) {
            if learned == name {
                return Some(index);
            }
        }
        let column = column_of(name);
        let count = count();
        let start = self.next.get().min(count);
        let found = (start..count).chain(0..start).find(|&i| is(i, column))?;
        self.next.set(found + 1);
        if self.learned.is_some() && known.is_none() {
            self.learning.borrow_mut().push((name, found));
        }
        Some(found)
    }
}

impl Drop for ColumnCursor<'_> {
    fn drop(&mut self) {
        let learning = std::mem::take(self.learning.get_mut());
        if let (Some(learned), false) = (self.learned, learning.is_empty()) {
            // Another row of the statement may have taught it first; either is right.
            let _ = learned.0.set(learning);
        }
    }
}

/// An order (`ORDER_COLUMNS`).
pub fn order(r: &impl Columns) -> Result<Order> {
    Ok(Order {
        id: r.int("orders.id")?,
        payment_uid: r.text("orders.payment_uid")?,
        merchant_id: r.int("orders.merchant_id")?,
        merchant_uid: r.text("orders.merchant_uid")?,
        merchant_name: r.text("orders.merchant_name")?,
        signature_key: r.text("orders.signature_key")?,
        merchant_order_id: r.text("orders.merchant_order_id")?,
        transaction_type: r.parsed("orders.transaction_type")?,
        accounting_type: r.parsed("orders.accounting_type")?,
        amount: r.decimal("orders.amount")?,
        floating_amount: r.decimal("orders.floating_amount")?,
        final_amount: r.decimal("orders.final_amount")?,
        currency: r.parsed("orders.currency")?,
        country: r.text("orders.country")?,
        country_code: r.text("orders.country_code")?,
        payment: r.text("orders.payment")?,
        channel: r.text("orders.channel")?,
        from: r.text("orders.from_account")?,
        from_name: r.text("orders.from_name")?,
        from_bank_name: r.text("orders.from_bank_name")?,
        to: r.text("orders.to_account")?,
        to_name: r.text("orders.to_name")?,
        to_bank_name: r.text("orders.to_bank_name")?,
        member_id: r.text("orders.member_id")?,
        redirect_url: r.text("orders.redirect_url")?,
        notify_url: r.text("orders.notify_url")?,
        response_type: r.text("orders.response_type")?,
        ip: r.text("orders.ip")?,
        user_agent: r.text("orders.user_agent")?,
        ttl: r.opt_int("orders.ttl")?,
        float_precision: r.narrow("orders.float_precision")?,
        additional: r.text("orders.additional")?,
        extra: r.text("orders.extra")?,
        distribute_rules: r.text("orders.distribute_rules")?,
        payment_status: r.parsed("orders.payment_status")?,
        payment_fail_reason: r.text("orders.payment_fail_reason")?,
        notify_status: r.parsed("orders.notify_status")?,
        notify_fail_reason: r.text("orders.notify_fail_reason")?,
        accounting_status: r.parsed("orders.accounting_status")?,
        accounting_fail_reason: r.text("orders.accounting_fail_reason")?,
        fingerprint: r.text("orders.fingerprint")?,
        amount_locked: r.boolean("orders.amount_locked")?,
        created_at: r.int("orders.created_at")?,
        updated_at: r.int("orders.updated_at")?,
        expires_at: r.opt_int("orders.expires_at")?,
        next_check_at: r.opt_int("orders.next_check_at")?,
        fee: r.decimal("orders.fee")?,
        fee_rule: FeeRule::decode(&r.text("orders.fee_rule")?)
            .map_err(|_| StorageError::Corrupt("orders.fee_rule"))?,
        account: r.text("orders.account_id")?,
        reference: r.text("orders.bank_reference")?,
        test: r.boolean("orders.test")?,
        request_id: r.text("orders.request_id")?,
    })
}

/// An own account (`OWN_ACCOUNT_COLUMNS`).
pub fn own_account(r: &impl Columns) -> Result<OwnAccount> {
    let max_open = match r.opt_int("own_accounts.max_open")? {
        Some(n) => {
            Some(u32::try_from(n).map_err(|_| StorageError::Corrupt("own_accounts.max_open"))?)
        }
        None => None,
    };
    Ok(OwnAccount {
        id: r.text("own_accounts.id")?,
        channel: r.text("own_accounts.channel")?,
        method: r.parsed("own_accounts.method")?,
        bank_code: r.text("own_accounts.bank_code")?,
        number: r.text("own_accounts.number")?,
        holder: r.text("own_accounts.holder")?,
        currency: r.parsed("own_accounts.currency")?,
        promptpay_id: r.text("own_accounts.promptpay_id")?,
        vpa: r.text("own_accounts.vpa")?,
        wallet: r.text("own_accounts.wallet")?,
        daily_limit: r.opt_decimal("own_accounts.daily_limit")?,
        max_open,
        enabled: r.boolean("own_accounts.enabled")?,
        created_at: r.int("own_accounts.created_at")?,
        updated_at: r.int("own_accounts.updated_at")?,
    })
}

/// An own account with its load (`OWN_ACCOUNT_COLUMNS` and `open_orders`, `volume_today`,
/// `last_heartbeat`).
pub fn account_load(r: &impl Columns) -> Result<AccountLoad> {
    Ok(AccountLoad {
        account: own_account(r)?,
        open_orders: r.narrow("own_accounts.open_orders")?,
        volume_today: r.decimal("own_accounts.volume_today")?,
        last_heartbeat: r.opt_int("own_accounts.last_heartbeat")?,
    })
}

/// A device (`DEVICE_COLUMNS`).
pub fn device(r: &impl Columns) -> Result<Device> {
    Ok(Device {
        id: r.text("devices.id")?,
        account: r.text("devices.account_id")?,
        sealed_secret: r.text("devices.secret")?,
        revoked_at: r.opt_int("devices.revoked_at")?,
        last_heartbeat_at: r.opt_int("devices.last_heartbeat_at")?,
        created_at: r.int("devices.created_at")?,
    })
}

/// A transfer (`TRANSFER_COLUMNS`).
pub fn transfer(r: &impl Columns) -> Result<Transfer> {
    Ok(Transfer {
        uid: r.text("transfers.uid")?,
        account: r.text("transfers.account_id")?,
        channel: r.text("transfers.channel")?,
        device: r.text("transfers.device_id")?,
        amount: r.decimal("transfers.amount")?,
        currency: r.parsed("transfers.currency")?,
        reference: r.text("transfers.bank_reference")?,
        occurred_at: r.int("transfers.occurred_at")?,
        payer_account: r.text("transfers.payer_account")?,
        payer_name: r.text("transfers.payer_name")?,
        text: r.text("transfers.raw_text")?,
        status: r.parsed("transfers.status")?,
        payment_uid: r.text("transfers.payment_uid")?,
        late: r.boolean("transfers.late")?,
        reason: r.text("transfers.reason")?,
        return_reference: r.text("transfers.return_reference")?,
        created_at: r.int("transfers.created_at")?,
        updated_at: r.int("transfers.updated_at")?,
    })
}

/// Feeds a transfer (`uid, status`) to the verification.
pub fn verify_transfer(v: &mut Verification, r: &impl Columns) -> Result<()> {
    v.transfer(&r.text("transfers.uid")?, r.parsed("transfers.status")?);
    Ok(())
}

/// A status change of an order (`from_status, to_status, reason, created_at, request_id`).
pub fn order_event(r: &impl Columns) -> Result<OrderEvent> {
    Ok(OrderEvent {
        from_status: r.parsed("order_events.from_status")?,
        to_status: r.parsed("order_events.to_status")?,
        reason: r.text("order_events.reason")?,
        created_at: r.int("order_events.created_at")?,
        request_id: r.text("order_events.request_id")?,
    })
}

/// A callback (`CALLBACK_COLUMNS`).
pub fn callback(r: &impl Columns) -> Result<Callback> {
    let state = r.text("callbacks.state")?;
    Ok(Callback {
        id: r.int("callbacks.id")?,
        order_id: r.int("callbacks.order_id")?,
        payment_uid: r.text("callbacks.payment_uid")?,
        notify_url: r.text("callbacks.notify_url")?,
        host: r.text("callbacks.host")?,
        signature_key: r.text("callbacks.signature_key")?,
        payload: stored_fields(&r.text("callbacks.payload")?, "callbacks.payload")?,
        state: CallbackState::parse(&state).ok_or(StorageError::Corrupt("callbacks.state"))?,
        manual: r.boolean("callbacks.manual")?,
        attempts: r.narrow("callbacks.attempts")?,
        next_attempt_at: r.int("callbacks.next_attempt_at")?,
        last_error: r.text("callbacks.last_error")?,
        created_at: r.int("callbacks.created_at")?,
        updated_at: r.int("callbacks.updated_at")?,
        claimed_until: r.int("callbacks.claimed_until")?,
    })
}

/// A delivery attempt of a callback (`callback_id, attempt, manual, started_at, http_status,
/// latency_ms, error, response_head`).
pub fn callback_attempt(r: &impl Columns) -> Result<CallbackAttempt> {
    Ok(CallbackAttempt {
        callback_id: r.int("callback_attempts.callback_id")?,
        attempt: r.narrow("callback_attempts.attempt")?,
        manual: r.boolean("callback_attempts.manual")?,
        started_at: r.int("callback_attempts.started_at")?,
        http_status: r.opt_narrow("callback_attempts.http_status")?,
        latency_ms: r.int("callback_attempts.latency_ms")?,
        error: r.text("callback_attempts.error")?,
        response_head: r.text("callback_attempts.response_head")?,
    })
}

/// An exchange with an upstream provider (`channel, operation, request, http_status, response,
/// latency_ms, error, at`).
pub fn upstream_exchange(r: &impl Columns) -> Result<UpstreamExchange> {
    Ok(UpstreamExchange {
        channel: r.text("upstream_exchanges.channel")?,
        operation: r.text("upstream_exchanges.operation")?,
        request: r.text("upstream_exchanges.request")?,
        http_status: r.opt_narrow("upstream_exchanges.http_status")?,
        response: r.text("upstream_exchanges.response")?,
        latency_ms: r.int("upstream_exchanges.latency_ms")?,
        error: r.text("upstream_exchanges.error")?,
        at: r.int("upstream_exchanges.at")?,
    })
}

/// A channel (`CHANNEL_COLUMNS`). Its lists are comma separated and its amounts decimal TEXT
/// in both backends (see `ChannelRow`, which writes them).
pub fn channel(r: &impl Columns) -> Result<Channel> {
    let amount = |name: &'static str| -> Result<Option<Decimal>> {
        r.opt_text(name)?
            .map(|t| Decimal::from_str(&t).map_err(|_| StorageError::Corrupt(name)))
            .transpose()
    };
    let settings = r.text("channels.settings")?;
    Ok(Channel {
        code: r.text("channels.code")?,
        kind: r.text("channels.kind")?,
        enabled: r.boolean("channels.enabled")?,
        merchants: split_list(&r.text("channels.merchants")?),
        transaction_types: split_list(&r.text("channels.transaction_types")?)
            .iter()
            .map(|t| {
                TransactionType::from_str(t)
                    .map_err(|_| StorageError::Corrupt("channels.transaction_types"))
            })
            .collect::<Result<_>>()?,
        countries: split_list(&r.text("channels.countries")?),
        currencies: split_list(&r.text("channels.currencies")?)
            .iter()
            .map(|c| Currency::parse(c).ok_or(StorageError::Corrupt("channels.currencies")))
            .collect::<Result<_>>()?,
        payments: split_list(&r.text("channels.payments")?),
        min_amount: amount("channels.min_amount")?,
        max_amount: amount("channels.max_amount")?,
        default_ttl: r.opt_int("channels.default_ttl")?,
        priority: r.narrow("channels.priority")?,
        weight: r.narrow::<i32>("channels.weight")?.max(1) as u32,
        daily_limit: amount("channels.daily_limit")?,
        settings: serde_json::from_str(&settings)
            .map_err(|_| StorageError::Corrupt("channels.settings"))?,
        sealed_credentials: r.text("channels.credentials")?,
        created_at: r.int("channels.created_at")?,
        updated_at: r.int("channels.updated_at")?,
    })
}

/// The merchant books as every merchant read selects them: a test book answers with its live
/// merchant's uid and name (`MERCHANT_COLUMNS` from `merchants m LEFT JOIN merchants l`).
pub const MERCHANT_SELECT: &str = "SELECT m.id, COALESCE(l.uid, m.uid) AS uid, \
    COALESCE(l.name, m.name) AS name, m.created_at, m.live_id \
    FROM merchants m LEFT JOIN merchants l ON l.id = m.live_id";

/// The columns of an API key read with its merchant book (`api_keys k` joined to
/// [`MERCHANT_SELECT`]'s tables).
pub const API_KEY_COLUMNS: &str = "k.api_key, k.sealed_secret, k.label, \
    k.created_at AS key_created_at, k.expires_at, k.last_used_at, k.revoked_at, k.allowed_ips, \
    m.id, COALESCE(l.uid, m.uid) AS uid, COALESCE(l.name, m.name) AS name, m.created_at, m.live_id, \
    COALESCE(l.disabled_at, m.disabled_at) AS merchant_disabled_at";

/// The tables of [`API_KEY_COLUMNS`].
pub const API_KEY_FROM: &str = "api_keys k JOIN merchants m ON m.id = k.merchant_id \
    LEFT JOIN merchants l ON l.id = m.live_id";

/// A merchant book (`id, uid, name, created_at, live_id`): a row naming a live merchant is
/// that merchant's test book.
pub fn merchant(r: &impl Columns) -> Result<Merchant> {
    let id = r.int("merchants.id")?;
    let uid = r.text("merchants.uid")?;
    let name = r.text("merchants.name")?;
    let created_at = r.int("merchants.created_at")?;
    let live_id = r.opt_int("merchants.live_id")?;
    Ok(Merchant {
        id,
        uid,
        name,
        created_at,
        mode: if live_id.is_some() {
            Mode::Test
        } else {
            Mode::Live
        },
        owner_id: live_id.unwrap_or(id),
    })
}

/// An API key with its merchant book ([`API_KEY_COLUMNS`]).
pub fn api_key(r: &impl Columns) -> Result<StoredApiKey> {
    Ok(StoredApiKey {
        api_key: r.text("api_keys.api_key")?,
        sealed_secret: r.text("api_keys.sealed_secret")?,
        label: r.text("api_keys.label")?,
        created_at: r.int("api_keys.key_created_at")?,
        expires_at: r.opt_int("api_keys.expires_at")?,
        last_used_at: r.opt_int("api_keys.last_used_at")?,
        revoked_at: r.opt_int("api_keys.revoked_at")?,
        allowed_ips: octopus_domain::merchant::parse_allowlist(&r.text("api_keys.allowed_ips")?)
            .map_err(|_| StorageError::Corrupt("api_keys.allowed_ips"))?,
        merchant_disabled: r.opt_int("merchants.merchant_disabled_at")?.is_some(),
        merchant: merchant(r)?,
    })
}

/// A blocklist entry (`id, merchant_id, kind, value, reason, author, created_at, expires_at`).
pub fn block_entry(r: &impl Columns) -> Result<BlockEntry> {
    Ok(BlockEntry {
        id: r.int("blocklist.id")?,
        merchant_id: r.int("blocklist.merchant_id")?,
        kind: r.parsed("blocklist.kind")?,
        value: r.text("blocklist.value")?,
        reason: r.text("blocklist.reason")?,
        author: r.text("blocklist.author")?,
        created_at: r.int("blocklist.created_at")?,
        expires_at: r.opt_int("blocklist.expires_at")?,
        merchant_uid: r.text("blocklist.merchant_uid")?,
    })
}

/// Blocklist entries with their merchant's uid ('' for operator-wide ones), in both backends;
/// a statement adds its WHERE and ORDER BY.
pub const BLOCK_SELECT: &str = "SELECT b.id, b.merchant_id, b.kind, b.value, b.reason, b.author, \
    b.created_at, b.expires_at, COALESCE(m.uid, '') AS merchant_uid \
    FROM blocklist b LEFT JOIN merchants m ON m.id = b.merchant_id";

/// The columns of `velocity_rules`, in both backends.
pub const VELOCITY_COLUMNS: &str = "id, merchant_id, subject, transaction_type, window_seconds, \
    max_orders, max_volume, currency";

/// A velocity rule ([`VELOCITY_COLUMNS`]); one that breaks `VelocityRule::check` is corrupt.
pub fn velocity_rule(r: &impl Columns) -> Result<VelocityRule> {
    let transaction_type = r.text("velocity_rules.transaction_type")?;
    let currency = r.text("velocity_rules.currency")?;
    let rule = VelocityRule {
        id: r.int("velocity_rules.id")?,
        merchant_id: r.int("velocity_rules.merchant_id")?,
        subject: r.parsed("velocity_rules.subject")?,
        transaction_type: match transaction_type.as_str() {
            "" => None,
            t => Some(
                TransactionType::from_str(t)
                    .map_err(|_| StorageError::Corrupt("velocity_rules.transaction_type"))?,
            ),
        },
        window_seconds: r.int("velocity_rules.window_seconds")?,
        max_orders: r.opt_narrow("velocity_rules.max_orders")?,
        max_volume: r
            .opt_decimal("velocity_rules.max_volume")?
            .map(|v| v.normalize()),
        currency: match currency.as_str() {
            "" => None,
            c => Some(Currency::parse(c).ok_or(StorageError::Corrupt("velocity_rules.currency"))?),
        },
    };
    rule.check()
        .map_err(|_| StorageError::Corrupt("velocity_rules"))?;
    Ok(rule)
}

/// The column of `orders` a velocity rule of `subject` counts by, in both backends.
pub fn velocity_column(subject: octopus_domain::risk::Subject) -> &'static str {
    match subject {
        octopus_domain::risk::Subject::MemberId => "member_id",
        octopus_domain::risk::Subject::PayerAccount => "from_account",
    }
}

/// A payout review threshold (`merchant_id, currency, above`).
pub fn review_threshold(r: &impl Columns) -> Result<ReviewThreshold> {
    Ok(ReviewThreshold {
        merchant_id: r.int("review_thresholds.merchant_id")?,
        currency: r.parsed("review_thresholds.currency")?,
        above: r.decimal("review_thresholds.above")?.normalize(),
    })
}

/// A fee schedule (`payment, accounting_type, percent, fixed, minimum, maximum`), its
/// decimals normalized (NUMERIC keeps the scale it was given); a rule that breaks
/// `FeeRule::new`'s checks is corrupt.
pub fn fee_schedule(r: &impl Columns) -> Result<FeeSchedule> {
    Ok(FeeSchedule {
        payment: Scope::payment(&r.text("fee_rules.payment")?)
            .map_err(|_| StorageError::Corrupt("fee_rules.payment"))?,
        accounting_type: Scope::accounting_type(&r.text("fee_rules.accounting_type")?)
            .map_err(|_| StorageError::Corrupt("fee_rules.accounting_type"))?,
        rule: FeeRule::new(
            r.decimal("fee_rules.percent")?.normalize(),
            r.decimal("fee_rules.fixed")?.normalize(),
            r.decimal("fee_rules.minimum")?.normalize(),
            r.opt_decimal("fee_rules.maximum")?.map(|m| m.normalize()),
        )
        .map_err(|_| StorageError::Corrupt("fee_rules"))?,
    })
}

/// A journal entry as its merchant sees it (`id, kind, accounting_type, currency, amount, fee,
/// created_at` of `journal_entries`, `payment_uid, merchant_order_id` of its order); how its
/// balances changed comes from its postings ([`add_merchant_posting`]).
pub fn merchant_entry(r: &impl Columns) -> Result<MerchantEntry> {
    Ok(MerchantEntry {
        id: r.int("journal_entries.id")?,
        kind: r.parsed("journal_entries.kind")?,
        accounting_type: r.parsed("journal_entries.accounting_type")?,
        currency: r.parsed("journal_entries.currency")?,
        amount: r.decimal("journal_entries.amount")?,
        fee: r.decimal("journal_entries.fee")?,
        created_at: r.int("journal_entries.created_at")?,
        payment_uid: r.text("orders.payment_uid")?,
        merchant_order_id: r.text("orders.merchant_order_id")?,
        available_change: Decimal::ZERO,
        held_change: Decimal::ZERO,
        available_after: None,
        held_after: None,
    })
}

/// Adds to `entry` one of its postings on its merchant's accounts (`kind` of
/// `ledger_accounts`, `amount, balance_after` of `postings`).
pub fn add_merchant_posting(entry: &mut MerchantEntry, r: &impl Columns) -> Result<()> {
    let kind: AccountKind = r.parsed("ledger_accounts.kind")?;
    let amount = r.decimal("postings.amount")?;
    let after = r.opt_decimal("postings.balance_after")?;
    match kind {
        AccountKind::Available => (entry.available_change, entry.available_after) = (amount, after),
        AccountKind::Held => (entry.held_change, entry.held_after) = (amount, after),
        _ => {}
    }
    Ok(())
}

/// Adds a merchant account (`kind, currency, balance` of `ledger_accounts`) to the merchant's
/// balances, one per currency. A merchant account always caches its balance: a NULL is
/// corrupt, not zero.
pub fn add_balance(balances: &mut Vec<Balance>, r: &impl Columns) -> Result<()> {
    let kind: AccountKind = r.parsed("ledger_accounts.kind")?;
    let currency: Currency = r.parsed("ledger_accounts.currency")?;
    let slot = match balances.iter().position(|b| b.currency == currency) {
        Some(i) => &mut balances[i],
        None => {
            balances.push(Balance {
                currency,
                available: Decimal::ZERO,
                held: Decimal::ZERO,
            });
            balances.last_mut().expect("just pushed")
        }
    };
    match kind {
        AccountKind::Available => slot.available = r.decimal("ledger_accounts.balance")?,
        AccountKind::Held => slot.held = r.decimal("ledger_accounts.balance")?,
        _ => {}
    }
    Ok(())
}

/// An account of the ledger (`id, kind, merchant_id, channel, currency, balance`).
pub fn account(r: &impl Columns) -> Result<StoredAccount> {
    Ok(StoredAccount {
        id: r.int("ledger_accounts.id")?,
        account: Account {
            kind: r.parsed("ledger_accounts.kind")?,
            merchant_id: r.opt_int("ledger_accounts.merchant_id")?,
            channel: r.opt_text("ledger_accounts.channel")?,
            currency: r.parsed("ledger_accounts.currency")?,
        },
        cached_balance: r.opt_decimal("ledger_accounts.balance")?,
    })
}

/// Feeds a journal entry (`id, entry_key, currency, merchant_id, kind, amount, fee`) to the
/// verification. Its kind goes as stored: an unknown one is a violation it reports.
pub fn verify_entry(v: &mut Verification, r: &impl Columns) -> Result<()> {
    let key = r.text("journal_entries.entry_key")?;
    let kind = r.text("journal_entries.kind")?;
    v.entry(EntryRow {
        id: r.int("journal_entries.id")?,
        key: &key,
        kind: &kind,
        currency: r.parsed("journal_entries.currency")?,
        merchant_id: r.opt_int("journal_entries.merchant_id")?,
        amount: r.decimal("journal_entries.amount")?,
        fee: r.decimal("journal_entries.fee")?,
    });
    Ok(())
}

/// Feeds a posting (`entry_id, account_id, amount` of `postings`, `currency` of its account)
/// to the verification.
pub fn verify_posting(v: &mut Verification, r: &impl Columns) -> Result<()> {
    v.posting(
        r.int("postings.entry_id")?,
        r.int("postings.account_id")?,
        r.parsed("ledger_accounts.currency")?,
        r.decimal("postings.amount")?,
    );
    Ok(())
}

/// Feeds an order (`payment_uid, transaction_type, payment_status, accounting_status,
/// accounting_fail_reason, currency, amount, final_amount, fee, channel`) to the verification.
pub fn verify_order(v: &mut Verification, r: &impl Columns) -> Result<()> {
    let payment_uid = r.text("orders.payment_uid")?;
    let accounting: AccountingStatus = r.parsed("orders.accounting_status")?;
    let reason = r.text("orders.accounting_fail_reason")?;
    let status = r.parsed("orders.payment_status")?;
    let channel = r.text("orders.channel")?;
    v.order(OrderRow {
        payment_uid: &payment_uid,
        transaction_type: r.parsed("orders.transaction_type")?,
        status,
        refused_at_creation: octopus_domain::order::refused_at_creation(status, &channel),
        accounting_failure: (accounting == AccountingStatus::Failed).then_some(reason.as_str()),
        currency: r.parsed("orders.currency")?,
        amount: r.decimal("orders.amount")?,
        final_amount: r.decimal("orders.final_amount")?,
        fee: r.decimal("orders.fee")?,
    });
    Ok(())
}

/// The columns of `operators`, in the order [`operator`] reads them.
pub const OPERATOR_COLUMNS: &str = "id, email, role, password_hash, totp_secret, \
    must_change_password, disabled, created_at, updated_at, merchant_uid, totp_last_step";

/// An operator ([`OPERATOR_COLUMNS`]).
pub fn operator(r: &impl Columns) -> Result<crate::Operator> {
    Ok(crate::Operator {
        id: r.int("operators.id")?,
        email: r.text("operators.email")?,
        role: r.parsed("operators.role")?,
        password_hash: r.text("operators.password_hash")?,
        totp_secret: r.text("operators.totp_secret")?,
        must_change_password: r.boolean("operators.must_change_password")?,
        disabled: r.boolean("operators.disabled")?,
        created_at: r.int("operators.created_at")?,
        updated_at: r.int("operators.updated_at")?,
        merchant_uid: r.text("operators.merchant_uid")?,
        totp_last_step: r.int("operators.totp_last_step")?,
    })
}

/// A row of the dashboard's statement (`search::stats_statement`).
pub fn order_stat(r: &impl Columns) -> Result<crate::OrderStat> {
    Ok(crate::OrderStat {
        hour: r.int("stats.hour")?,
        channel: r.text("stats.channel")?,
        status: r.parsed("stats.payment_status")?,
        transaction_type: r.parsed("stats.transaction_type")?,
        currency: r.parsed("stats.currency")?,
        count: r.int("stats.count")?,
        volume: r.opt_decimal("stats.volume")?.unwrap_or_default(),
        callbacks_failed: r.int("stats.callbacks_failed")?,
    })
}

/// The columns of `admin_tokens`, in the order [`admin_token`] reads them.
pub const ADMIN_TOKEN_COLUMNS: &str =
    "id, name, role, token_hash, created_by, created_at, revoked_at, last_used_at";

/// An admin token ([`ADMIN_TOKEN_COLUMNS`]).
pub fn admin_token(r: &impl Columns) -> Result<crate::AdminToken> {
    Ok(crate::AdminToken {
        id: r.int("admin_tokens.id")?,
        name: r.text("admin_tokens.name")?,
        role: r.parsed("admin_tokens.role")?,
        token_hash: r.text("admin_tokens.token_hash")?,
        created_by: r.text("admin_tokens.created_by")?,
        created_at: r.int("admin_tokens.created_at")?,
        revoked_at: r.opt_int("admin_tokens.revoked_at")?,
        last_used_at: r.int("admin_tokens.last_used_at")?,
    })
}

/// The columns of `sessions`, in the order [`session`] reads them.
pub const SESSION_COLUMNS: &str =
    "token_hash, operator_id, csrf_token, created_at, last_seen_at, ip";

/// A session ([`SESSION_COLUMNS`]).
pub fn session(r: &impl Columns) -> Result<crate::Session> {
    Ok(crate::Session {
        token_hash: r.text("sessions.token_hash")?,
        operator_id: r.int("sessions.operator_id")?,
        csrf_token: r.text("sessions.csrf_token")?,
        created_at: r.int("sessions.created_at")?,
        last_seen_at: r.int("sessions.last_seen_at")?,
        ip: r.text("sessions.ip")?,
    })
}

/// The columns of `audit_log`, in the order [`audit_entry`] reads them.
pub const AUDIT_COLUMNS: &str = "id, at, actor, role, ip, action, target, before, after";

/// A line of the audit log ([`AUDIT_COLUMNS`]).
pub fn audit_entry(r: &impl Columns) -> Result<crate::AuditEntry> {
    Ok(crate::AuditEntry {
        id: r.int("audit_log.id")?,
        at: r.int("audit_log.at")?,
        actor: r.text("audit_log.actor")?,
        role: r.text("audit_log.role")?,
        ip: r.text("audit_log.ip")?,
        action: r.text("audit_log.action")?,
        target: r.text("audit_log.target")?,
        before: r.text("audit_log.before")?,
        after: r.text("audit_log.after")?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Saving a channel that exists replaces every column but its code and creation time.
    #[test]
    fn a_channel_save_replaces_all_but_code_and_creation() {
        let replaced: Vec<&str> = channel_columns_replaced().collect();
        assert_eq!(replaced.len(), CHANNEL_COLUMNS.split(',').count() - 2);
        assert!(!replaced.contains(&"code") && !replaced.contains(&"created_at"));
        assert!(replaced.contains(&"credentials") && replaced.contains(&"updated_at"));
    }

    /// A row as a list of (column, value); integers and decimals kept as text.
    #[derive(Default)]
    struct Fake {
        columns: Vec<(&'static str, Option<String>)>,
        cursor: ColumnCursor<'static>,
        probes: Cell<usize>,
    }

    impl Fake {
        fn learning(mut self, learned: &'static LearnedColumns) -> Fake {
            self.cursor = ColumnCursor::learning(learned);
            self
        }

        fn with(mut self, column: &'static str, value: Option<&str>) -> Fake {
            match self.columns.iter_mut().find(|(c, _)| *c == column) {
                Some(slot) => slot.1 = value.map(str::to_string),
                None => self.columns.push((column, value.map(str::to_string))),
            }
            self
        }

        fn get(&self, name: &'static str) -> Result<Option<String>> {
            let i = self
                .cursor
                .find(
                    name,
                    || self.columns.len(),
                    |i, column| {
                        self.probes.set(self.probes.get() + 1);
                        self.columns[i].0.eq_ignore_ascii_case(column)
                    },
                )
                .ok_or(StorageError::Corrupt(name))?;
            Ok(self.columns[i].1.clone())
        }
    }

    impl Columns for Fake {
        fn opt_text(&self, name: &'static str) -> Result<Option<String>> {
            self.get(name)
        }
        fn opt_int(&self, name: &'static str) -> Result<Option<i64>> {
            self.get(name)?
                .map(|v| v.parse().map_err(|_| StorageError::Corrupt(name)))
                .transpose()
        }
        fn opt_decimal(&self, name: &'static str) -> Result<Option<Decimal>> {
            self.get(name)?
                .map(|v| v.parse().map_err(|_| StorageError::Corrupt(name)))
                .transpose()
        }
        fn boolean(&self, name: &'static str) -> Result<bool> {
            match self.get(name)?.as_deref() {
                Some("1") => Ok(true),
                Some("0") => Ok(false),
                _ => Err(StorageError::Corrupt(name)),
            }
        }
    }

    fn order_row() -> Fake {
        let mut row = Fake::default();
        for column in ORDER_COLUMNS.split(',').map(str::trim) {
            let value = match column {
                "transaction_type" => "expense",
                "accounting_type" => "pay",
                "amount" | "final_amount" => "100.50",
                "floating_amount" | "fee" => "0",
                "currency" => "thb",
                "payment_status" => "processing",
                "notify_status" => "delivered",
                "accounting_status" => "delivered",
                "ttl" | "expires_at" | "next_check_at" => "",
                "fee_rule" => "1.5|2|0|",
                "amount_locked" | "test" => "0",
                "float_precision" => "-2",
                "id" | "merchant_id" | "created_at" | "updated_at" => "7",
                other => other,
            };
            let column: &'static str = Box::leak(column.to_string().into_boxed_str());
            row = row.with(column, (!value.is_empty()).then_some(value));
        }
        row
    }

    #[test]
    fn an_order_is_read_by_name_in_about_one_probe_per_column() {
        let row = order_row();
        let order = order(&row).unwrap();
        assert_eq!(order.payment_uid, "payment_uid");
        assert_eq!(order.from, "from_account");
        assert_eq!(order.to, "to_account");
        assert_eq!(order.amount, Decimal::new(10050, 2));
        assert_eq!(order.currency, Currency::Thb);
        assert_eq!(order.float_precision, -2);
        assert_eq!(order.ttl, None);
        assert!(!order.amount_locked);
        assert_eq!(
            order.payment_status,
            octopus_domain::PaymentStatus::Processing
        );
        assert_eq!(row.probes.get(), row.columns.len());
    }

    #[test]
    fn columns_are_found_in_any_order() {
        let row = Fake::default()
            .with("live_id", None)
            .with("created_at", Some("5"))
            .with("name", Some("Shop"))
            .with("uid", Some("m-1"))
            .with("id", Some("3"));
        let m = merchant(&row).unwrap();
        assert_eq!(
            (m.id, m.uid.as_str(), m.name.as_str(), m.created_at),
            (3, "m-1", "Shop", 5)
        );
    }

    #[test]
    fn undecodable_values_fail_closed_naming_the_column() {
        let cases: [(&'static str, Option<&str>, &str); 6] = [
            ("payment_status", Some("paid"), "orders.payment_status"),
            ("currency", Some("xyz"), "orders.currency"),
            ("amount", Some("1,5"), "orders.amount"),
            ("fee", None, "orders.fee"),
            ("float_precision", Some("300"), "orders.float_precision"),
            ("payment_uid", None, "orders.payment_uid"),
        ];
        for (column, value, named) in cases {
            let row = order_row().with(column, value);
            match order(&row) {
                Err(StorageError::Corrupt(name)) => assert_eq!(name, named),
                other => panic!("{column} = {value:?}: {other:?}"),
            }
        }
        let missing = Fake::default().with("id", Some("1"));
        assert!(matches!(
            merchant(&missing),
            Err(StorageError::Corrupt("merchants.uid"))
        ));
    }

    #[test]
    fn a_callback_state_and_attempt_count_must_decode() {
        let row = || {
            let mut row = Fake::default();
            for column in CALLBACK_COLUMNS.split(',').map(str::trim) {
                let value = match column {
                    "state" => "pending",
                    "manual" => "1",
                    "payload" => r#"{"amount":"100.00"}"#,
                    "id" | "order_id" | "attempts" | "next_attempt_at" | "created_at"
                    | "updated_at" | "claimed_until" => "2",
                    other => other,
                };
                let column: &'static str = Box::leak(column.to_string().into_boxed_str());
                row = row.with(column, Some(value));
            }
            row
        };
        let c = callback(&row()).unwrap();
        assert_eq!(
            (c.state, c.manual, c.attempts),
            (CallbackState::Pending, true, 2)
        );
        assert!(matches!(
            callback(&row().with("state", Some("sent"))),
            Err(StorageError::Corrupt("callbacks.state"))
        ));
        assert!(matches!(
            callback(&row().with("attempts", Some("-1"))),
            Err(StorageError::Corrupt("callbacks.attempts"))
        ));
    }

    #[test]
    fn a_channel_decodes_its_lists_and_amounts() {
        let row = || {
            Fake::default()
                .with("code", Some("wave"))
                .with("kind", Some("paykassma"))
                .with("enabled", Some("1"))
                .with("merchants", Some(""))
                .with("transaction_types", Some("income,expense"))
                .with("countries", Some("MM"))
                .with("currencies", Some("mmk"))
                .with("payments", Some("wavepay"))
                .with("min_amount", Some("1000"))
                .with("max_amount", None)
                .with("default_ttl", None)
                .with("priority", Some("10"))
                .with("weight", Some("0"))
                .with("daily_limit", None)
                .with("settings", Some(r#"{"base_url":"https://x"}"#))
                .with("credentials", Some(""))
                .with("created_at", Some("1"))
                .with("updated_at", Some("2"))
        };
        let c = channel(&row()).unwrap();
        assert_eq!(
            c.transaction_types,
            vec![TransactionType::Income, TransactionType::Expense]
        );
        assert_eq!(c.currencies, vec![Currency::Mmk]);
        assert_eq!(c.min_amount, Some(Decimal::new(1000, 0)));
        assert_eq!(c.weight, 1);
        assert_eq!(
            c.settings,
            BTreeMap::from([("base_url".to_string(), "https://x".to_string())])
        );
        for (column, value, named) in [
            (
                "transaction_types",
                "income,gift",
                "channels.transaction_types",
            ),
            ("currencies", "mmk,zzz", "channels.currencies"),
            ("min_amount", "ten", "channels.min_amount"),
            ("settings", "{", "channels.settings"),
        ] {
            match channel(&row().with(column, Some(value))) {
                Err(StorageError::Corrupt(name)) => assert_eq!(name, named),
                other => panic!("{column} = {value}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_merchant_balance_is_never_read_as_zero_when_missing() {
        let account = |kind: &str, balance: Option<&str>| {
            Fake::default()
                .with("kind", Some(kind))
                .with("currency", Some("thb"))
                .with("balance", balance)
        };
        let mut balances = Vec::new();
        add_balance(&mut balances, &account("available", Some("12.500000"))).unwrap();
        add_balance(&mut balances, &account("held", Some("2.000000"))).unwrap();
        assert_eq!(
            balances,
            vec![Balance {
                currency: Currency::Thb,
                available: Decimal::new(125, 1),
                held: Decimal::new(2, 0),
            }]
        );
        assert!(matches!(
            add_balance(&mut balances, &account("held", None)),
            Err(StorageError::Corrupt("ledger_accounts.balance"))
        ));
        assert!(matches!(
            add_balance(&mut balances, &account("savings", Some("1"))),
            Err(StorageError::Corrupt("ledger_accounts.kind"))
        ));
    }

    #[test]
    fn a_statement_teaches_its_columns_once_and_only_for_the_names_read() {
        static LEARNED: LearnedColumns = LearnedColumns::new();
        let first = order_row().learning(&LEARNED);
        let expected = order(&first).unwrap();
        assert_eq!(first.probes.get(), first.columns.len());
        drop(first);
        let second = order_row().learning(&LEARNED);
        assert_eq!(order(&second).unwrap(), expected);
        assert_eq!(second.probes.get(), 0, "later rows compare no names");
        // Another mapping reads other names: each is looked up by name, not by position.
        let other = Fake::default()
            .with("uid", Some("m-1"))
            .with("id", Some("3"))
            .with("name", Some("Shop"))
            .with("created_at", Some("5"))
            .with("live_id", None)
            .learning(&LEARNED);
        let m = merchant(&other).unwrap();
        assert_eq!((m.id, m.uid.as_str()), (3, "m-1"));
    }
}
