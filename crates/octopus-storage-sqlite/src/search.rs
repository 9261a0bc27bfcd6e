//! The consoles' order search in SQLite (the condition is `octopus_storage::search`'s). Amounts
//! are stored as decimal text; `decimal_cmp`, registered on every connection, compares two of
//! them exactly (rust_decimal), so an amount filter never goes through floating point.

use octopus_storage::{OrderQuery, Result, SearchDialect, SearchValue};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::Connection;
use rust_decimal::Decimal;

use crate::accounts::collect;

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

pub(crate) fn search(conn: &Connection, query: &OrderQuery) -> Result<Vec<octopus_domain::Order>> {
    let (sql, values) = query.statement(&Sqlite);
    let values: Vec<Value> = values
        .into_iter()
        .map(|v| match v {
            SearchValue::Text(t) => Value::Text(t),
            SearchValue::Int(i) => Value::Integer(i),
            SearchValue::Bool(b) => Value::Integer(i64::from(b)),
        })
        .collect();
    collect(conn, &sql, rusqlite::params_from_iter(values), |r| {
        octopus_storage::rows::order(r)
    })
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
}
