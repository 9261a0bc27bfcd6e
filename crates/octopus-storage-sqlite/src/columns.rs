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
