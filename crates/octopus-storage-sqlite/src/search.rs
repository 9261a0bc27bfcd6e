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
    )
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
    }
}
