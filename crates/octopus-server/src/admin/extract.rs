//! The admin API's request bodies and query strings, decoded with axum's extractors but
//! refused in the API's own error shape (`{"result":"error","data":{"error":"Invalid
//! parameters","details":...}}`), never axum's plain text. Text holding a NUL character is
//! refused here for the admin API and the consoles alike (in a path, a query string or a JSON
//! body): no stored text may hold one (PostgreSQL's TEXT cannot), and without this check it
//! reached the database and failed there.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// A JSON body of type `T`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| Error::Invalid(rejection.body_text()))?;
        refuse_nul_in_json(&bytes)?;
        Json::<T>::from_bytes(&bytes)
            .map(|Json(value)| Body(value))
            .map_err(|rejection| Error::Invalid(rejection.body_text()))
    }
}

/// Refuses a JSON text with an escaped NUL (`\u0000`) in it. (A raw NUL byte is not JSON.)
pub fn refuse_nul_in_json(body: &[u8]) -> Result<(), Error> {
    let escaped = body
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000");
    if escaped || body.contains(&0) {
        return Err(Error::Invalid(
            "body: text may not contain a NUL character".into(),
        ));
    }
    Ok(())
}

/// A layer refusing a request whose path or query string, decoded, holds a NUL character.
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let in_path = uri.path().contains("%00") || uri.path().contains('\0');
    let in_query = uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k.contains('\0') || v.contains('\0'))
    });
    if in_path || in_query {
        return Error::Invalid("text may not contain a NUL character".into()).into_response();
    }
    next.run(request).await
}

/// A query string of type `T`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Params(value))
            .map_err(|rejection| Error::Invalid(rejection.body_text()))
    }
}
