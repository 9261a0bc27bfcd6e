//! The consoles' order search in PostgreSQL (the condition is `octopus_storage::search`'s);
//! amounts compare exactly as `numeric`.

use deadpool_postgres::GenericClient;
use octopus_domain::Order;
use octopus_storage::{OrderQuery, Result, SearchDialect, SearchValue};
use tokio_postgres::types::ToSql;

use crate::db;
use crate::orders::order_from_row;

pub(crate) struct Postgres;

impl SearchDialect for Postgres {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn decimal_compare(&self, column: &str, op: &str, placeholder: &str) -> String {
        format!("{column}::numeric {op} ({placeholder}::text)::numeric")
    }

    fn decimal_sum(&self, column: &str) -> String {
        format!("SUM({column}::numeric)")
    }
}

pub(crate) async fn stats<C: GenericClient>(
    client: &C,
    since: i64,
    test: bool,
) -> Result<Vec<octopus_storage::OrderStat>> {
    let sql = octopus_storage::search::stats_statement(&Postgres);
    let rows = client.query(&sql, &[&since, &test]).await.map_err(db)?;
    rows.iter()
        .map(|r| octopus_storage::rows::order_stat(&crate::columns::PgRow::new(r)))
        .collect()
}

pub(crate) async fn search<C: GenericClient>(client: &C, query: &OrderQuery) -> Result<Vec<Order>> {
    let (sql, values) = query.statement(&Postgres);
    let values: Vec<Box<dyn ToSql + Sync + Send>> = values
        .into_iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SearchValue::Text(t) => Box::new(t),
                SearchValue::Int(i) => Box::new(i),
                SearchValue::Bool(b) => Box::new(b),
            }
        })
        .collect();
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = client.query(&sql, &params).await.map_err(db)?;
    rows.iter().map(order_from_row).collect()
}
