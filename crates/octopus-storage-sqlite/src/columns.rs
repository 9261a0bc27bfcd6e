//! SQLite rows read by column name, for the row mappings both backends share
//! (`octopus_storage::rows`). SQLite keeps decimals as TEXT and booleans as integers; this is
//! the one place that knows it.

use std::str::FromStr;

use octopus_storage::rows::{column_of, ColumnCursor, Columns};
use octopus_storage::{Result, StorageError};
use rusqlite::types::FromSql;
use rusqlite::Row;
use rust_decimal::Decimal;

/// A row of a rusqlite statement, read by name (see [`ColumnCursor`] for the cost).
pub(crate) struct SqliteRow<'a, 'stmt> {
    row: &'a Row<'stmt>,
    cursor: ColumnCursor,
}

impl<'a, 'stmt> SqliteRow<'a, 'stmt> {
    pub(crate) fn new(row: &'a Row<'stmt>) -> Self {
        SqliteRow {
            row,
            cursor: ColumnCursor::default(),
        }
    }

    fn get<T: FromSql>(&self, name: &'static str) -> Result<T> {
        let column = column_of(name);
        let stmt = self.row.as_ref();
        let index = self
            .cursor
            .find(stmt.column_count(), |i| {
                stmt.column_name(i)
                    .is_ok_and(|n| n.eq_ignore_ascii_case(column))
            })
            .ok_or(StorageError::Corrupt(name))?;
        self.row.get(index).map_err(|_| StorageError::Corrupt(name))
    }
}

impl Columns for SqliteRow<'_, '_> {
    fn opt_text(&self, name: &'static str) -> Result<Option<String>> {
        self.get(name)
    }

    fn opt_int(&self, name: &'static str) -> Result<Option<i64>> {
        self.get(name)
    }

    fn opt_decimal(&self, name: &'static str) -> Result<Option<Decimal>> {
        self.get::<Option<String>>(name)?
            .map(|t| Decimal::from_str(&t).map_err(|_| StorageError::Corrupt(name)))
            .transpose()
    }

    /// Non-zero is true. NULL is false: `orders.amount_locked` stores false as NULL, so that
    /// its partial unique index (`WHERE amount_locked = 1`) leaves those orders out.
    fn boolean(&self, name: &'static str) -> Result<bool> {
        Ok(self.get::<Option<i64>>(name)?.is_some_and(|v| v != 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_row<T>(sql: &str, f: impl FnOnce(&SqliteRow<'_, '_>) -> T) -> T {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        let row = rows.next().unwrap().unwrap();
        f(&SqliteRow::new(row))
    }

    #[test]
    fn values_are_read_as_sqlite_stores_them() {
        with_row(
            "SELECT '100.50' AS amount, NULL AS amount_locked, 1 AS enabled, 7 AS ID, NULL AS ttl",
            |r| {
                assert_eq!(r.decimal("orders.amount").unwrap(), Decimal::new(10050, 2));
                assert!(!r.boolean("orders.amount_locked").unwrap());
                assert!(r.boolean("channels.enabled").unwrap());
                assert_eq!(r.int("orders.id").unwrap(), 7);
                assert_eq!(r.opt_int("orders.ttl").unwrap(), None);
            },
        );
    }

    #[test]
    fn values_of_another_type_or_missing_columns_are_corrupt() {
        with_row("SELECT 5 AS name, 'x' AS id, 'ten' AS fee", |r| {
            assert!(matches!(
                r.text("merchants.name"),
                Err(StorageError::Corrupt("merchants.name"))
            ));
            assert!(matches!(
                r.int("merchants.id"),
                Err(StorageError::Corrupt("merchants.id"))
            ));
            assert!(matches!(
                r.decimal("orders.fee"),
                Err(StorageError::Corrupt("orders.fee"))
            ));
            assert!(matches!(
                r.text("merchants.uid"),
                Err(StorageError::Corrupt("merchants.uid"))
            ));
        });
    }
}
