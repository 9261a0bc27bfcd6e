//! The consoles' order search in SQLite (the statements are `octopus_storage::search`'s).
//! Amounts are stored as decimal text; `decimal_cmp`, registered on every connection, compares
//! two of them exactly (rust_decimal), so an amount filter never goes through floating point.
//!
//! An amount filter may also be served by `orders_amount`, an index of the amounts as REAL,
//! which only narrows the orders that `decimal_cmp` then decides on. Whether it is used is
//! decided by the shared search, not by SQLite's planner: without statistics (the gateway runs
//! no ANALYZE), and blind to the page's LIMIT even with them, it takes that index for any range
//! with two ends and sorts every order in it (1000-5000 thb: 150,000 orders, half a second),
//! and never for a range with one end. So a search first counts, on the index alone, whether
//! the range holds at most `AMOUNT_INDEX_UP_TO` orders: then it reads them by the index (a few
//! milliseconds); otherwise it reads the newest orders first within its window.

use octopus_storage::search::AMOUNT_INDEX_UP_TO;
use octopus_storage::{OrderPage, OrderQuery, Result, SearchDialect, SearchValue};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::Connection;
use rust_decimal::Decimal;

use crate::accounts::collect;
use crate::db;

pub(crate) struct Sqlite;

impl SearchDialect for Sqlite {
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    fn decimal_compare(&self, column: &str, op: &str, placeholder: &str) -> String {
        format!("decimal_cmp({column}, {placeholder}) {op} 0")
    }

    fn decimal_sum(&self, column: &str) -> String {
        format!("decimal_sum({column})")
    }

    fn read_by(&self, index: &str) -> String {
        format!("orders INDEXED BY {index}")
    }

    /// On `CAST(amount AS REAL)` (what `orders_amount` holds), the bound widened by a
    /// billionth, more than any rounding of a decimal text to a double, so the index never
    /// leaves out an order that `decimal_cmp` would take. (Amounts are never negative.)
    fn amount_index_bound(&self, op: &str, placeholder: &str) -> String {
        let widened = if op == ">=" {
            "0.999999999"
        } else {
            "1.000000001"
        };
        format!("CAST(amount AS REAL) {op} CAST({placeholder} AS REAL) * {widened}")
    }
}

fn values(values: Vec<SearchValue>) -> Vec<Value> {
    values
        .into_iter()
        .map(|v| match v {
            SearchValue::Text(t) => Value::Text(t),
            SearchValue::Int(i) => Value::Integer(i),
            SearchValue::Bool(b) => Value::Integer(i64::from(b)),
        })
        .collect()
}

/// Whether the query's amount range holds at most [`AMOUNT_INDEX_UP_TO`] orders.
fn few_by_amount(conn: &Connection, query: &OrderQuery) -> Result<bool> {
    let Some((sql, bound)) = query.amount_count(&Sqlite) else {
        return Ok(false);
    };
    let found: i64 = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(values(bound)), |r| r.get(0)))
        .map_err(db)?;
    Ok(found <= AMOUNT_INDEX_UP_TO)
}

/// `decimal_sum(x)`: the exact sum of decimal texts, as text (NULL texts and texts that are
/// no decimal are skipped: stored amounts are always decimals).
struct DecimalSum;

impl rusqlite::functions::Aggregate<Decimal, Option<String>> for DecimalSum {
    fn init(&self, _: &mut rusqlite::functions::Context<'_>) -> rusqlite::Result<Decimal> {
        Ok(Decimal::ZERO)
    }

    fn step(
        &self,
        ctx: &mut rusqlite::functions::Context<'_>,
        sum: &mut Decimal,
    ) -> rusqlite::Result<()> {
        if let Some(value) = ctx
            .get::<Option<String>>(0)?
            .and_then(|t| t.parse::<Decimal>().ok())
        {
            *sum = sum
                .checked_add(value)
                .ok_or_else(|| rusqlite::Error::UserFunctionError("decimal_sum overflow".into()))?;
        }
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut rusqlite::functions::Context<'_>,
        sum: Option<Decimal>,
    ) -> rusqlite::Result<Option<String>> {
        Ok(Some(sum.unwrap_or_default().to_string()))
    }
}

/// Registers `decimal_cmp(a, b)`: -1, 0 or 1 as decimal `a` is below, equal to or above `b`;
/// NULL when either is no decimal (so the row does not match).
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "decimal_cmp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let a = ctx.get::<Option<String>>(0)?;
            let b = ctx.get::<Option<String>>(1)?;
            let parsed = a
                .and_then(|a| a.parse::<Decimal>().ok())
                .zip(b.and_then(|b| b.parse::<Decimal>().ok()));
            Ok(parsed.map(|(a, b)| a.cmp(&b) as i64))
        },
    )?;
    conn.create_aggregate_function(
        "decimal_sum",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        DecimalSum,
    )
}

pub(crate) fn stats(
    conn: &Connection,
    since: i64,
    test: bool,
) -> Result<Vec<octopus_storage::OrderStat>> {
    let sql = octopus_storage::search::stats_statement(&Sqlite);
    collect(conn, &sql, rusqlite::params![since, test], |r| {
        octopus_storage::rows::order_stat(r)
    })
}

pub(crate) fn health(conn: &Connection, since: i64) -> Result<octopus_storage::HealthSamples> {
    use octopus_storage::health;
    let [counts, completions, calls] = health::statements(&Sqlite);
    Ok(octopus_storage::HealthSamples {
        since,
        counts: collect(conn, &counts, [since], |r| health::order_count(r))?,
        completions: collect(conn, &completions, [since], |r| health::completion(r))?,
        calls: collect(conn, &calls, [since], |r| health::upstream_call(r))?,
    })
}

pub(crate) fn gauges(conn: &Connection, now: i64) -> Result<octopus_storage::gauges::Gauges> {
    use octopus_storage::gauges;
    let mut read = collect(
        conn,
        &gauges::statement(&Sqlite),
        gauges::values(now),
        |r| gauges::row(r),
    )?;
    read.pop()
        .ok_or(octopus_storage::StorageError::Corrupt("gauges"))
}

pub(crate) fn search(conn: &Connection, query: &OrderQuery) -> Result<OrderPage> {
    let by_amount = few_by_amount(conn, query)?;
    let edge = match query.window_edge(&Sqlite, by_amount) {
        Some((sql, bound)) => {
            let rows = conn
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(rusqlite::params_from_iter(values(bound)), |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db)?;
            OrderQuery::edge_of(&rows)
        }
        None => None,
    };
    let (sql, bound) = query.statement(&Sqlite, by_amount, edge);
    let found = collect(conn, &sql, rusqlite::params_from_iter(values(bound)), |r| {
        octopus_storage::rows::order(r)
    })?;
    Ok(query.page(found, edge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_cmp_is_exact() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        let cmp = |a: &str, b: &str| -> Option<i64> {
            conn.query_row("SELECT decimal_cmp(?1, ?2)", [a, b], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(cmp("100.10", "100.1"), Some(0));
        assert_eq!(cmp("9.99", "10"), Some(-1));
        // Beyond a double's precision: still told apart.
        assert_eq!(cmp("1234567890123456.01", "1234567890123456.02"), Some(-1));
        assert_eq!(cmp("abc", "1"), None);
        let sum: String = conn
            .query_row(
                "SELECT decimal_sum(a) FROM (SELECT '0.10' AS a UNION ALL SELECT '0.20'
                 UNION ALL SELECT '1234567890123456.01')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sum, "1234567890123456.31");
    }

    /// A migrated database in memory with the merchant `M1` (id 1).
    fn store() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        crate::schema::migrate(&conn).unwrap();
        conn.execute(
            "INSERT INTO merchants (id, uid, name, created_at) VALUES (1, 'M1', 'M', 0)",
            [],
        )
        .unwrap();
        conn
    }

    /// `n` orders of amount `amount` (text as stored), every NOT NULL column filled, created
    /// at `at + 1` to `at + n`; payment_uid `<amount>-<1..n>`.
    fn add_orders(conn: &Connection, at: i64, n: i64, amount: &str) {
        conn.execute(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
             INSERT INTO orders (payment_uid, merchant_id, merchant_uid, merchant_name,
                signature_key, merchant_order_id, transaction_type, accounting_type, amount,
                floating_amount, final_amount, currency, country, country_code, payment, channel,
                from_account, from_name, from_bank_name, to_account, to_name, to_bank_name,
                member_id, redirect_url, notify_url, response_type, ip, user_agent,
                float_precision, additional, extra, distribute_rules, payment_status,
                payment_fail_reason, notify_status, notify_fail_reason, accounting_status,
                accounting_fail_reason, fingerprint, created_at, updated_at)
             SELECT ?2 || '-' || i, 1, 'M1', 'M', 'k', ?2 || '-' || i, 'income', 'receive', ?2,
                '0.00', ?2, 'thb', 'thailand', 'TH', 'thailand', 'c', '', '', '', '', '', '', '',
                '', '', 'json', '127.0.0.1', '', 0, '', '{}', '{}', 'pending', '', 'none', '',
                'none', '', '', ?3 + i, ?3 + i
             FROM k",
            rusqlite::params![n, amount, at],
        )
        .unwrap();
    }

    #[test]
    fn amount_ranges_find_the_same_orders_by_index_or_by_scan() {
        let conn = store();
        add_orders(&conn, 0, 6000, "10.00");
        let huge = "1234567890123456.01";
        for (k, amount) in ["99.99", "100.10", "100.11", huge, "0.00"]
            .iter()
            .enumerate()
        {
            add_orders(&conn, 10_000 + 10 * k as i64, 2, amount);
        }
        let range = |min: &str, max: &str| OrderQuery {
            amount_min: (!min.is_empty()).then(|| min.parse().unwrap()),
            amount_max: (!max.is_empty()).then(|| max.parse().unwrap()),
            limit: 200,
            ..OrderQuery::default()
        };
        let found = |query: &OrderQuery, by_amount: bool| -> Vec<String> {
            let (sql, bound) = query.statement(&Sqlite, by_amount, None);
            collect(
                &conn,
                &sql,
                rusqlite::params_from_iter(values(bound)),
                |r| octopus_storage::rows::order(r),
            )
            .unwrap()
            .into_iter()
            .map(|o| o.payment_uid)
            .collect()
        };
        let huge_1 = format!("{huge}-1");
        let huge_2 = format!("{huge}-2");
        for (min, max, expected) in [
            ("100.1", "100.1", vec!["100.10-2", "100.10-1"]),
            (
                "99.99",
                "100.10",
                vec!["100.10-2", "100.10-1", "99.99-2", "99.99-1"],
            ),
            (
                "100.105",
                "",
                vec![huge_2.as_str(), &huge_1, "100.11-2", "100.11-1"],
            ),
            ("0", "0", vec!["0.00-2", "0.00-1"]),
            // Beyond a double's precision the index narrows and decimal_cmp decides.
            (huge, huge, vec![huge_2.as_str(), &huge_1]),
            ("1234567890123456.02", "", vec![]),
            ("1234567890123456", "1234567890123456.00", vec![]),
        ] {
            let query = range(min, max);
            assert!(few_by_amount(&conn, &query).unwrap(), "{min}..{max}");
            assert_eq!(found(&query, true), expected, "{min}..{max}");
            assert_eq!(found(&query, false), expected, "{min}..{max}");
        }
        // 6,000 orders of 10.00: read newest first instead, with the same page.
        let common = range("10", "10.00");
        assert!(!few_by_amount(&conn, &common).unwrap());
        let page = found(&common, false);
        assert_eq!(page.len(), 200);
        assert_eq!(page[0], "10.00-6000");
        assert_eq!(found(&common, true), page);
    }

    #[test]
    fn a_filter_no_index_serves_reads_a_window_and_pages_on_to_every_match() {
        let conn = store();
        let total = 3 * i64::from(octopus_storage::search::SEARCH_WINDOW) + 123;
        add_orders(&conn, 0, total, "10.00");
        // Seven orders in another currency: two among the newest, none in the second window,
        // the others older, the last the very first order.
        let odd = [total, total - 3, 5_000, 4_999, 77, 2, 1];
        for i in odd {
            conn.execute(
                "UPDATE orders SET currency = 'vnd' WHERE payment_uid = ?1",
                [format!("10.00-{i}")],
            )
            .unwrap();
        }
        let mut query = OrderQuery {
            currency: Some(octopus_domain::Currency::parse("vnd").unwrap()),
            limit: 3,
            ..OrderQuery::default()
        };
        let mut pages = Vec::new();
        loop {
            let page = search(&conn, &query).unwrap();
            let uids: Vec<String> = page.orders.iter().map(|o| o.payment_uid.clone()).collect();
            pages.push((uids, page.searched_back_to));
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
            assert!(pages.len() < 20, "the pages never end");
        }
        let uid = |i: i64| format!("10.00-{i}");
        let window = i64::from(octopus_storage::search::SEARCH_WINDOW);
        // The first window (the newest 5,000) holds two: a short page, saying how far back it
        // read; the second holds none: an empty page with a cursor; the third two; then fewer
        // than a window are left: read whole, a full page, then an empty last one.
        let back_to = |k: i64| Some(total - k * window + 1);
        assert_eq!(
            pages,
            vec![
                (vec![uid(total), uid(total - 3)], back_to(1)),
                (vec![], back_to(2)),
                (vec![uid(5_000), uid(4_999)], back_to(3)),
                (vec![uid(77), uid(2), uid(1)], None),
                (vec![], None),
            ]
        );
        let every: Vec<String> = pages.into_iter().flat_map(|(uids, _)| uids).collect();
        assert_eq!(every, odd.iter().map(|&i| uid(i)).collect::<Vec<_>>());

        // Filters the index serves entirely read no window: a page ends only with the orders.
        let served = OrderQuery {
            merchant_uid: Some("M1".into()),
            since: Some(total - 10),
            limit: 50,
            ..OrderQuery::default()
        };
        assert!(served.window_edge(&Sqlite, false).is_none());
        let page = search(&conn, &served).unwrap();
        assert_eq!((page.orders.len(), page.next), (11, None));
    }
}
