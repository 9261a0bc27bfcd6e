//! Finding orders for the consoles: by any id they are known by (the merchant's order id, the
//! payment_uid, a bank or upstream reference) and by filters (merchant, channel, status, type,
//! currency, amount, time, test or live), newest first, a page at a time with a keyset cursor
//! (so the millionth row costs what the first does, and an export can walk the whole set).
//! The filter becomes one SQL statement here, for both backends; each backend only says how
//! it writes a placeholder, compares two decimal texts exactly and which index it reads
//! (docs/benchmarks.md, "Console search", measures the statements on a million orders).

use octopus_domain::{Currency, PaymentStatus, Timestamp, TransactionType};
use rust_decimal::Decimal;

/// Which orders, and which page of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderQuery {
    /// Matches the order's merchant_order_id, payment_uid, bank reference or an upstream
    /// reference, exactly.
    pub any_id: Option<String>,
    /// The merchant (both its books: `test` tells them apart).
    pub merchant_uid: Option<String>,
    pub channel: Option<String>,
    pub status: Option<PaymentStatus>,
    pub transaction_type: Option<TransactionType>,
    pub currency: Option<Currency>,
    /// The amount asked, inclusive.
    pub amount_min: Option<Decimal>,
    pub amount_max: Option<Decimal>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Test orders only (true), live only (false), or both.
    pub test: Option<bool>,
    /// The page after this order (its `created_at` and `id`): the last row of the page before.
    pub after: Option<(Timestamp, i64)>,
    pub limit: u32,
    /// The most orders the page reads for filters its index does not serve; `None`:
    /// [`SEARCH_WINDOW`].
    pub window: Option<u32>,
}

/// A value bound in [`OrderQuery::conditions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchValue {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// How a backend writes what the shared condition needs.
pub trait SearchDialect {
    /// The placeholder of the `n`th value (1-based).
    fn placeholder(&self, n: usize) -> String;
    /// An exact comparison `column <op> value` of a decimal text column with a decimal text
    /// placeholder (`op` is `>=` or `<=`).
    fn decimal_compare(&self, column: &str, op: &str, placeholder: &str) -> String;
    /// The exact sum of a decimal text column, as decimal text (an aggregate).
    fn decimal_sum(&self, column: &str) -> String;
    /// `orders` read by `index`: the table (PostgreSQL's planner, with statistics, chooses
    /// well) or the table with the index it must be read by (SQLite, without them).
    fn read_by(&self, index: &str) -> String;
    /// A condition on `amount` that the index `orders_amount` serves, met by every order whose
    /// amount is `op` (`>=` or `<=`) the decimal text at `placeholder` (it may take a few
    /// more, which the exact comparison then leaves out).
    fn amount_index_bound(&self, op: &str, placeholder: &str) -> String;
}

/// The orders known by the id bound at `p`, one column `order_id`: a handful at most.
fn known_by(p: &str) -> String {
    format!(
        "SELECT id AS order_id FROM orders WHERE payment_uid = {p}
         UNION SELECT id FROM orders WHERE merchant_order_id = {p}
         UNION SELECT id FROM orders WHERE bank_reference = {p} AND bank_reference <> ''
         UNION SELECT order_id FROM upstream_references WHERE reference = {p}"
    )
}

/// The dashboard's numbers: orders created since `since`, counted by hour, channel, status,
/// type and currency, with their volume (the amounts asked, summed exactly) and how many of
/// them the merchant could not be called back about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStat {
    /// The start of the hour (Unix milliseconds).
    pub hour: Timestamp,
    pub channel: String,
    pub status: PaymentStatus,
    pub transaction_type: TransactionType,
    pub currency: Currency,
    pub count: i64,
    pub volume: Decimal,
    pub callbacks_failed: i64,
}

/// The statement of [`OrderStat`]s; its values: `since` (an integer) and `test` (a boolean).
pub fn stats_statement(dialect: &dyn SearchDialect) -> String {
    let (since, test) = (dialect.placeholder(1), dialect.placeholder(2));
    format!(
        "SELECT (created_at / 3600000) * 3600000 AS hour, channel, payment_status,
                    transaction_type, currency, COUNT(*) AS count, {} AS volume,
                    SUM(CASE WHEN notify_status = 'failed' THEN 1 ELSE 0 END) AS callbacks_failed
             FROM orders WHERE created_at >= {since} AND test = {test}
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1",
        dialect.decimal_sum("amount")
    )
}

/// The most orders a page of a filtered list reads beyond those its index selects: a page
/// whose filters no index serves (a currency, a type, `test`, a wide amount range, or a
/// second of merchant/channel/status) reads at most this many orders of its index, newest
/// first, and answers what it found among them. A filter that matches next to nothing then
/// answers a short page (even an empty one) with a `next` after the orders it read, instead
/// of reading every order of the period for one page (seconds on a million orders;
/// docs/benchmarks.md, "Console search").
pub const SEARCH_WINDOW: u32 = 5_000;

/// The most orders an amount range may hold to be read by its index (`orders_amount`) rather
/// than newest first.
pub const AMOUNT_INDEX_UP_TO: i64 = 5_000;

/// One page of a search: the orders, and where the page after starts.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPage {
    pub orders: Vec<octopus_domain::Order>,
    /// The cursor of the page after (`OrderQuery::after`); `None` when no order is left.
    pub next: Option<(Timestamp, i64)>,
    /// Set when the page is short because it read its window of orders, not because the
    /// orders ran out: the creation time of the oldest order it read (older ones may match).
    pub searched_back_to: Option<Timestamp>,
}

/// The index a filtered list reads, newest first, and which equality filters it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadBy {
    index: &'static str,
    merchant: bool,
    channel: bool,
    status: bool,
}

impl OrderQuery {
    /// The index the filtered list reads: the one whose leading columns are the most of the
    /// equality filters (every such index ends in `created_at`, so a period and the cursor
    /// are ranges of it). Chosen here, not by SQLite's planner, which has no statistics.
    fn read_by(&self) -> ReadBy {
        let (m, c, s) = (
            self.merchant_uid.is_some(),
            self.channel.is_some(),
            self.status.is_some(),
        );
        let by = |index, merchant, channel, status| ReadBy {
            index,
            merchant,
            channel,
            status,
        };
        match (m, c, s) {
            (true, _, true) => by("orders_merchant_status_created", true, false, true),
            (true, _, false) => by("orders_merchant_created", true, false, false),
            (false, true, true) => by("orders_channel_status_created", false, true, true),
            (false, true, false) => by("orders_channel_created", false, true, false),
            (false, false, true) => by("orders_status_created", false, false, true),
            (false, false, false) => by("orders_created", false, false, false),
        }
    }

    fn has_amount(&self) -> bool {
        self.amount_min.is_some() || self.amount_max.is_some()
    }

    /// The statement counting, on the amount index alone, whether the amount range holds at
    /// most [`AMOUNT_INDEX_UP_TO`] orders (its value: the count, reading at most one more
    /// entry); `None` when there is no range to count (or the search is by id: fewer still).
    pub fn amount_count(&self, dialect: &dyn SearchDialect) -> Option<(String, Vec<SearchValue>)> {
        if self.any_id.is_some() || !self.has_amount() {
            return None;
        }
        let mut bounds = Vec::new();
        let mut values = Vec::new();
        for (op, bound) in [(">=", self.amount_min), ("<=", self.amount_max)] {
            if let Some(bound) = bound {
                values.push(SearchValue::Text(bound.to_string()));
                bounds.push(dialect.amount_index_bound(op, &dialect.placeholder(values.len())));
            }
        }
        Some((
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT {}) AS within_range",
                dialect.read_by("orders_amount"),
                bounds.join(" AND "),
                AMOUNT_INDEX_UP_TO + 1
            ),
            values,
        ))
    }

    /// The orders a window holds: the server's window, never less than a page.
    fn window_size(&self) -> u32 {
        self.window.unwrap_or(SEARCH_WINDOW).max(self.limit).max(1)
    }

    /// The statement finding where a page's window ends (its rows: the `created_at` and `id`
    /// of the window's last order and of the one after it; the window has an end only when
    /// both are there, so a window holding every order left reads them all and ends the
    /// list: see [`Self::edge_of`]); `None` when the page needs no window: a search by id, an
    /// amount range
    /// read by its index (`by_amount`), or filters the index serves entirely (the page then
    /// reads only its own orders).
    pub fn window_edge(
        &self,
        dialect: &dyn SearchDialect,
        by_amount: bool,
    ) -> Option<(String, Vec<SearchValue>)> {
        if self.any_id.is_some() || by_amount {
            return None;
        }
        let built = self.built(dialect, by_amount, None, true);
        if built.rest.is_empty() {
            return None;
        }
        Some((
            format!(
                "SELECT created_at, id FROM {} WHERE {} ORDER BY created_at DESC, id DESC
                 LIMIT 2 OFFSET {}",
                built.from,
                and(&built.seek),
                self.window_size() - 1
            ),
            built.values,
        ))
    }

    /// The window's end from the rows [`Self::window_edge`] read: the first of two.
    pub fn edge_of(rows: &[(Timestamp, i64)]) -> Option<(Timestamp, i64)> {
        match rows {
            [edge, _after] => Some(*edge),
            _ => None,
        }
    }

    /// The page's statement: its orders, newest first, at most `limit`, among those after
    /// `edge` (what [`Self::window_edge`] found) when there is one.
    pub fn statement(
        &self,
        dialect: &dyn SearchDialect,
        by_amount: bool,
        edge: Option<(Timestamp, i64)>,
    ) -> (String, Vec<SearchValue>) {
        let built = self.built(dialect, by_amount, edge, false);
        let conditions: Vec<String> = built.seek.into_iter().chain(built.rest).collect();
        (
            format!(
                "SELECT {} FROM {} WHERE {} ORDER BY created_at DESC, id DESC LIMIT {}",
                crate::rows::ORDER_COLUMNS,
                built.from,
                and(&conditions),
                self.limit
            ),
            built.values,
        )
    }

    /// The page the statement's orders make: the cursor after its last order when it is
    /// full, after its window when the window ended first, none when the orders ran out.
    pub fn page(
        &self,
        orders: Vec<octopus_domain::Order>,
        edge: Option<(Timestamp, i64)>,
    ) -> OrderPage {
        if orders.len() >= self.limit as usize {
            let next = orders.last().map(|o| (o.created_at, o.id));
            return OrderPage {
                orders,
                next,
                searched_back_to: None,
            };
        }
        OrderPage {
            orders,
            next: edge,
            searched_back_to: edge.map(|(at, _)| at),
        }
    }

    /// The FROM clause, the conditions the index read serves (`seek`) and the others, with
    /// their values in placeholder order.
    ///
    /// A search by id reads the few orders known by it first (`found`, joined in that order:
    /// SQLite keeps the order of a CROSS JOIN) and filters them. As a condition,
    /// `id IN (...)`, SQLite without statistics walked instead a filter's index (a merchant's
    /// half a million orders) testing each order against the ids.
    fn built<'d>(
        &self,
        dialect: &'d dyn SearchDialect,
        by_amount: bool,
        edge: Option<(Timestamp, i64)>,
        seek_only: bool,
    ) -> Built<'d> {
        let mut built = Built {
            dialect,
            seek_only,
            from: String::new(),
            seek: Vec::new(),
            rest: Vec::new(),
            values: Vec::new(),
        };
        let read_by = match (&self.any_id, by_amount) {
            (Some(id), _) => {
                let mut from = String::new();
                built.add(true, vec![SearchValue::Text(id.clone())], |p| {
                    from = format!("({}) AS found CROSS JOIN orders", known_by(&p[0]));
                    "orders.id = found.order_id".to_string()
                });
                built.from = from;
                None
            }
            (None, true) => {
                built.from = dialect.read_by("orders_amount");
                None
            }
            (None, false) => {
                let read_by = self.read_by();
                built.from = dialect.read_by(read_by.index);
                Some(read_by)
            }
        };
        let served = |f: fn(&ReadBy) -> bool| read_by.as_ref().is_some_and(f);
        let text = |t: &str| vec![SearchValue::Text(t.to_string())];
        if let Some(merchant) = &self.merchant_uid {
            built.add(served(|r| r.merchant), text(merchant), |p| {
                format!("merchant_uid = {}", p[0])
            });
        }
        if let Some(channel) = &self.channel {
            built.add(served(|r| r.channel), text(channel), |p| {
                format!("channel = {}", p[0])
            });
        }
        if let Some(status) = self.status {
            built.add(served(|r| r.status), text(status.as_str()), |p| {
                format!("payment_status = {}", p[0])
            });
        }
        if let Some(t) = self.transaction_type {
            built.add(false, text(t.as_str()), |p| {
                format!("transaction_type = {}", p[0])
            });
        }
        if let Some(currency) = &self.currency {
            built.add(false, text(currency.code()), |p| {
                format!("currency = {}", p[0])
            });
        }
        for (op, bound) in [(">=", self.amount_min), ("<=", self.amount_max)] {
            if let Some(bound) = bound {
                built.add(false, text(&bound.to_string()), |p| {
                    let exact = dialect.decimal_compare("amount", op, &p[0]);
                    if by_amount {
                        format!("{} AND {exact}", dialect.amount_index_bound(op, &p[0]))
                    } else {
                        exact
                    }
                });
            }
        }
        let by_time = read_by.is_some();
        if let Some(since) = self.since {
            built.add(by_time, vec![SearchValue::Int(since)], |p| {
                format!("created_at >= {}", p[0])
            });
        }
        if let Some(until) = self.until {
            built.add(by_time, vec![SearchValue::Int(until)], |p| {
                format!("created_at < {}", p[0])
            });
        }
        if let Some(test) = self.test {
            built.add(false, vec![SearchValue::Bool(test)], |p| {
                format!("test = {}", p[0])
            });
        }
        let key = |(at, id): (Timestamp, i64)| vec![SearchValue::Int(at), SearchValue::Int(id)];
        if let Some(after) = self.after {
            built.add(by_time, key(after), |p| {
                format!("(created_at, id) < ({}, {})", p[0], p[1])
            });
        }
        if let Some(edge) = edge {
            built.add(true, key(edge), |p| {
                format!("(created_at, id) >= ({}, {})", p[0], p[1])
            });
        }
        built
    }
}

/// A statement's parts as [`OrderQuery::built`] makes them: the conditions the index read
/// serves (`seek`), the others (`rest`, left out with their values when `seek_only`), and the
/// values in placeholder order.
struct Built<'d> {
    dialect: &'d dyn SearchDialect,
    seek_only: bool,
    from: String,
    seek: Vec<String>,
    rest: Vec<String>,
    values: Vec<SearchValue>,
}

impl Built<'_> {
    /// Binds `values` and adds the condition `make` writes with their placeholders.
    fn add(
        &mut self,
        served: bool,
        values: Vec<SearchValue>,
        make: impl FnOnce(&[String]) -> String,
    ) {
        if self.seek_only && !served {
            // Still known to be there: the window is needed.
            self.rest.push(String::new());
            return;
        }
        let placeholders: Vec<String> = values
            .into_iter()
            .map(|v| {
                self.values.push(v);
                self.dialect.placeholder(self.values.len())
            })
            .collect();
        let condition = make(&placeholders);
        if served {
            self.seek.push(condition);
        } else {
            self.rest.push(condition);
        }
    }
}

fn and(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "TRUE".to_string()
    } else {
        conditions.join(" AND ")
    }
}
