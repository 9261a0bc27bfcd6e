//! The admin API's CSV answers: one way to send a whole list (the orders, the audit log, a
//! book's entries, merchants, blocklist entries) a page at a time while it is read, so memory
//! stays flat however long the list, and one way to name the file.

use std::future::Future;

use axum::body::Body;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::views::csv_line;
use crate::error::Error;

/// The CSV header of `columns`.
pub fn header(columns: &[&str]) -> String {
    csv_line(columns)
}

/// The CSV line of a JSON object's `columns`, as the admin API shows them: texts as they are,
/// null as nothing, lists joined by spaces, anything else as JSON.
pub fn json_line(v: &Value, columns: &[&str]) -> String {
    let field = |k: &&str| match &v[*k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    csv_line(&columns.iter().map(field).collect::<Vec<_>>())
}

/// A CSV answer with `body`, downloaded as `filename`.
pub fn response(filename: &str, body: Body) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `header`, then the lines `page` returns from the cursor `first` on: each call gives the
/// CSV lines of one page and the cursor of the next (`None` after the last). A page that
/// fails ends the body with an error, so the client sees a broken download rather than a
/// short file that looks whole; the cause is logged, never sent.
pub fn paged<C, F, Fut>(filename: &str, header: &str, first: C, page: F) -> Response
where
    C: Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(String, Option<C>), Error>> + Send + 'static,
{
    let name = filename.to_string();
    let pages = stream::unfold((Some(first), page), move |(cursor, page)| {
        let name = name.clone();
        async move {
            let cursor = cursor?;
            match page(cursor).await {
                Ok((text, next)) => Some((Ok(text), (next, page))),
                Err(e) => {
                    tracing::error!(cause = %e, export = %name, "a CSV export stopped");
                    Some((
                        Err(std::io::Error::other("the export stopped")),
                        (None, page),
                    ))
                }
            }
        }
    });
    let header = header.to_string();
    let body = stream::once(async move { Ok::<_, std::io::Error>(header) }).chain(pages);
    response(filename, Body::from_stream(body))
}
