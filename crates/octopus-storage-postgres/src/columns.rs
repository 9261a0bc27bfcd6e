//! PostgreSQL rows read by column name, for the row mappings both backends share
//! (`octopus_storage::rows`). PostgreSQL has NUMERIC decimals, BOOLEAN, and integers of three
//! widths that tokio-postgres decodes only as their own type; this is the one place that knows
//! which column has which.

use octopus_storage::rows::{ColumnCursor, Columns};
use octopus_storage::{Result, StorageError};
use rust_decimal::Decimal;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

/// A row of a tokio-postgres query, read by name (see [`ColumnCursor`] for the cost).
pub(crate) struct PgRow<'r> {
    row: &'r Row,
    cursor: ColumnCursor<'r>,
}

impl<'r> PgRow<'r> {
    pub(crate) fn new(row: &'r Row) -> Self {
        PgRow {
            row,
            cursor: ColumnCursor::default(),
        }
    }

    fn index(&self, name: &'static str) -> Result<usize> {
        let columns = self.row.columns();
        self.cursor
            .find(
                name,
                || columns.len(),
                |i, column| columns[i].name().eq_ignore_ascii_case(column),
            )
            .ok_or(StorageError::Corrupt(name))
    }

    fn get<'a, T: FromSql<'a>>(&'a self, name: &'static str) -> Result<T> {
        let index = self.index(name)?;
        self.row
            .try_get(index)
            .map_err(|_| StorageError::Corrupt(name))
    }
}

impl Columns for PgRow<'_> {
    fn opt_text(&self, name: &'static str) -> Result<Option<String>> {
        self.get(name)
    }

    fn opt_int(&self, name: &'static str) -> Result<Option<i64>> {
        let index = self.index(name)?;
        let kind = self.row.columns()[index].type_();
        let value = if *kind == Type::INT2 {
            self.row
                .try_get::<_, Option<i16>>(index)
                .map(|v| v.map(i64::from))
        } else if *kind == Type::INT4 {
            self.row
                .try_get::<_, Option<i32>>(index)
                .map(|v| v.map(i64::from))
        } else {
            self.row.try_get::<_, Option<i64>>(index)
        };
        value.map_err(|_| StorageError::Corrupt(name))
    }

    fn opt_decimal(&self, name: &'static str) -> Result<Option<Decimal>> {
        self.get(name)
    }

    fn boolean(&self, name: &'static str) -> Result<bool> {
        self.get(name)
    }
}
