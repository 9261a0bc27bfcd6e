//! One kept-alive HTTP/1.1 connection to the gateway, with as little work per request as
//! possible: the benchmark drives the gateway through these so that the load generator,
//! which shares the machine, takes as little CPU from the server as it can.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use octopus_domain::signing::SigningKey;
use octopus_domain::RequestFields;
use tokio::net::TcpStream;

use crate::{Answer, ClientError};

/// A raw answer: status and body bytes (parse with [`RawAnswer::parse`]).
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    pub body: Bytes,
}

impl RawAnswer {
    pub fn parse(&self) -> Answer {
        Answer {
            status: self.status,
            body: serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null),
            location: None,
        }
    }
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    api_key: String,
    signing_key: SigningKey,
}

impl Connection {
    /// Connects to `base_url` (`http://host:port`; plain HTTP only).
    pub async fn open(
        base_url: &str,
        api_key: &str,
        api_secret: &str,
    ) -> Result<Connection, ClientError> {
        let host = base_url
            .strip_prefix("http://")
            .ok_or_else(|| ClientError::Unexpected("a connection needs an http:// URL".into()))?
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(&host)
            .await
            .map_err(|e| ClientError::Unexpected(format!("cannot connect to {host}: {e}")))?;
        stream.set_nodelay(true).ok();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Unexpected(format!("HTTP handshake with {host}: {e}")))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host,
            api_key: api_key.to_string(),
            signing_key: SigningKey::new(api_secret.as_bytes()),
        })
    }

    /// Signs `fields` and POSTs them to `path`, waiting for the whole answer.
    pub async fn post_signed(
        &mut self,
        path: &str,
        fields: &RequestFields,
    ) -> Result<RawAnswer, ClientError> {
        let request = Request::post(path)
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, "application/json")
            .header("OC-Key", &self.api_key)
            .header("OC-Signature", self.signing_key.sign(fields))
            .body(Full::new(Bytes::from(fields.to_json())))
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        self.send(request).await
    }

    /// GETs `path`, as a payer's browser opens a cashier page.
    pub async fn get(&mut self, path: &str) -> Result<RawAnswer, ClientError> {
        let request = Request::get(path)
            .header(HOST, &self.host)
            .body(Full::new(Bytes::new()))
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        self.send(request).await
    }

    /// POSTs a form (`application/x-www-form-urlencoded`) to `path`, as a payer's browser
    /// does on the cashier page.
    pub async fn post_form(&mut self, path: &str, form: &str) -> Result<RawAnswer, ClientError> {
        let request = Request::post(path)
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form.to_string())))
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        self.send(request).await
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<RawAnswer, ClientError> {
        let io = |e: hyper::Error| ClientError::Unexpected(format!("HTTP: {e}"));
        self.sender.ready().await.map_err(io)?;
        let response = self.sender.send_request(request).await.map_err(io)?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(io)?.to_bytes();
        Ok(RawAnswer { status, body })
    }
}
