//! The consoles' order search in PostgreSQL (the condition is `octopus_storage::search`'s);
//! amounts compare exactly as `numeric`.

use deadpool_postgres::GenericClient;
use octopus_storage::search::AMOUNT_INDEX_UP_TO;
use octopus_storage::{OrderPage, OrderQuery, Result, SearchDialect, SearchValue};
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

    fn read_by(&self, _index: &str) -> String {
        "orders".to_string()
    }

    fn amount_index_bound(&self, op: &str, placeholder: &str) -> String {
        format!("amount {op} ({placeholder}::text)::numeric")
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

pub(crate) async fn gauges<C: GenericClient>(
    client: &C,
    now: i64,
) -> Result<octopus_storage::gauges::Gauges> {
    use octopus_storage::gauges;
    let [now, online_since] = gauges::values(now);
    let row = client
        .query_one(&gauges::statement(&Postgres), &[&now, &online_since])
        .await
        .map_err(db)?;
    let gauges = gauges::row(&crate::columns::PgRow::new(&row));
    gauges
}

pub(crate) async fn health<C: GenericClient>(
    client: &C,
    since: i64,
) -> Result<octopus_storage::HealthSamples> {
    use octopus_storage::health;
    let [counts, completions, calls] = health::statements(&Postgres);
    let read = |sql: String| async move { client.query(&sql, &[&since]).await.map_err(db) };
    let pg = crate::columns::PgRow::new;
    Ok(octopus_storage::HealthSamples {
        since,
        counts: read(counts)
            .await?
            .iter()
            .map(|r| health::order_count(&pg(r)))
            .collect::<Result<_>>()?,
        completions: read(completions)
            .await?
            .iter()
            .map(|r| health::completion(&pg(r)))
            .collect::<Result<_>>()?,
        calls: read(calls)
            .await?
            .iter()
            .map(|r| health::upstream_call(&pg(r)))
            .collect::<Result<_>>()?,
    })
}

fn params(values: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn boxed(values: Vec<SearchValue>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .into_iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SearchValue::Text(t) => Box::new(t),
                SearchValue::Int(i) => Box::new(i),
                SearchValue::Bool(b) => Box::new(b),
            }
        })
        .collect()
}

/// One page of the search: whether the amount range is read by its index, where the page's
/// window ends, then its orders (the decisions are `octopus_storage::search`'s).
pub(crate) async fn search<C: GenericClient>(client: &C, query: &OrderQuery) -> Result<OrderPage> {
    let by_amount = match query.amount_count(&Postgres) {
        Some((sql, bound)) => {
            let bound = boxed(bound);
            let row = client.query_one(&sql, &params(&bound)).await.map_err(db)?;
            row.try_get::<_, i64>(0).map_err(db)? <= AMOUNT_INDEX_UP_TO
        }
        None => false,
    };
    let edge = match query.window_edge(&Postgres, by_amount) {
        Some((sql, bound)) => {
            let bound = boxed(bound);
            let rows = client.query(&sql, &params(&bound)).await.map_err(db)?;
            let rows = rows
                .iter()
                .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
                .collect::<Result<Vec<_>>>()?;
            OrderQuery::edge_of(&rows)
        }
        None => None,
    };
    let (sql, bound) = query.statement(&Postgres, by_amount, edge);
    let bound = boxed(bound);
    let rows = client.query(&sql, &params(&bound)).await.map_err(db)?;
    let found = rows
        .iter()
        .map(order_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(query.page(found, edge))
}
