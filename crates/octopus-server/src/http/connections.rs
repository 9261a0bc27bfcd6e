//! Accepting and serving HTTP connections so that no client can stop the gateway serving the
//! others. A payment gateway faces the open internet (payers' phones, merchants, providers'
//! postbacks), and one client that opens connections and never finishes its requests would,
//! left alone, hold every file descriptor of the process until `accept` fails for everyone.
//!
//! - Every connection is in one of three phases: **idle** (waiting for a request: a new
//!   connection, or a kept-alive one between requests), **head** (the first bytes of a request
//!   arrived, its headers are not complete), **busy** (a request is being handled or answered).
//!   An idle connection is closed after `idle_timeout`, a head that is not complete after
//!   `header_timeout`; a request body must arrive within `body_timeout`.
//! - Open connections are capped below the process's file limit (raised to its hard limit at
//!   start), keeping room for the database, callbacks and upstream calls. At the cap, a new
//!   connection is made room for by closing the connection that has been idle or sending its
//!   head the longest; only when every connection is busy does the gateway stop accepting
//!   until one ends.
//! - An answer given before the request's body was read (a refused Content-Type, a 413) first
//!   drains what the client is still sending, bounded in bytes and time, so the client reads
//!   the answer instead of a reset, and the connection stays usable; past the bound the answer
//!   says `Connection: close`.
//! - A stopping server drains: for its drain delay it goes on accepting and answering, each
//!   answer closing its connection; then it stops accepting, lets requests in flight finish,
//!   and gives a connection that has sent nothing yet a moment to send its first request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header::{CONNECTION, EXPECT};
use axum::http::{HeaderValue, Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use futures::FutureExt;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// How long connections may take, and how many may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From a request's first byte until its headers are complete.
    pub header_timeout: Duration,
    /// From a request's headers until its whole body has arrived.
    pub body_timeout: Duration,
    /// How long a connection may wait for a request (new or kept alive).
    pub idle_timeout: Duration,
    /// Most open connections; `None` derives it from the file limit.
    pub max_connections: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
        }
    }
}

/// The most unread body an early answer drains before it is sent, and for how long.
const DRAIN_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);
/// Connections closed to make room that may still be closing before accepting waits.
const MAX_CLOSING: usize = 16;
/// How long a connection must have been idle (or in its head) before it may be closed to make
/// room: one just accepted or just answered may have its request on the way.
const EVICT_GRACE: Duration = Duration::from_secs(1);
/// How long a connection that has sent nothing when the server stops accepting may take to
/// send its first request (it may be on its way) before it is shut.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(2);
/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The open-file limit before and after [`raise_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    pub before: u64,
    pub now: u64,
}

/// Raises the soft limit of open files to the hard limit (systemd and shells often start
/// services at 1,024 with a far higher hard limit).
pub fn raise_file_limit() -> std::io::Result<FileLimit> {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE.get()?;
    if soft < hard {
        Resource::NOFILE.set(hard, hard)?;
    }
    let (now, _) = Resource::NOFILE.get()?;
    Ok(FileLimit { before: soft, now })
}

/// The connection cap for a file limit: room is kept for the database, callbacks and upstream
/// calls (a quarter of the limit, at least 64 and at most 1,024 descriptors).
pub fn connection_cap(file_limit: u64, configured: Option<usize>) -> usize {
    let reserve = (file_limit / 4).clamp(64, 1024);
    let from_limit = file_limit.saturating_sub(reserve).max(16) as usize;
    configured.map_or(from_limit, |c| c.clamp(1, from_limit))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Head,
    Busy,
    /// Chosen to close to make room; nothing moves it back.
    Leaving,
}

/// What one connection is doing, and since when (shared by its reader, its requests and its
/// watchdog).
struct Activity {
    state: Mutex<(Phase, Instant)>,
    /// Woken when the connection is to close to make room for another.
    evicted: Notify,
    /// Woken when its phase changes (the watchdog's deadline moves).
    changed: Notify,
    /// Whether it was asked to (counted in [`Registry::closing`] until it is gone).
    evicting: std::sync::atomic::AtomicBool,
    /// Whether the client has sent any byte on it.
    received: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new((Phase::Idle, Instant::now())),
            evicted: Notify::new(),
            changed: Notify::new(),
            evicting: std::sync::atomic::AtomicBool::new(false),
            received: AtomicBool::new(false),
        }
    }

    fn received_any(&self) -> bool {
        self.received.load(Ordering::Relaxed)
    }

    fn get(&self) -> (Phase, Instant) {
        *self.state.lock().expect("activity lock")
    }

    /// Moves to `phase` (a leaving connection stays leaving), waking the watchdog.
    fn set(&self, phase: Phase) {
        {
            let mut state = self.state.lock().expect("activity lock");
            if state.0 == Phase::Leaving {
                return;
            }
            *state = (phase, Instant::now());
        }
        self.changed.notify_one();
    }

    /// A read of `n` bytes: an idle connection starts a request head (and its watchdog now
    /// counts the header timeout, not the idle one).
    fn read(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.received.store(true, Ordering::Relaxed);
        let started = {
            let mut state = self.state.lock().expect("activity lock");
            let idle = state.0 == Phase::Idle;
            if idle {
                *state = (Phase::Head, Instant::now());
            }
            idle
        };
        if started {
            self.changed.notify_one();
        }
    }

    /// When the current phase runs out; a busy connection is looked at again after `recheck`.
    fn deadline(&self, limits: &ConnectionLimits) -> (Instant, bool) {
        let (phase, since) = self.get();
        let recheck = limits.header_timeout.min(limits.idle_timeout);
        match phase {
            Phase::Idle => (since + limits.idle_timeout, true),
            Phase::Head => (since + limits.header_timeout, true),
            Phase::Busy | Phase::Leaving => (Instant::now() + recheck, false),
        }
    }
}

/// The open connections, for the cap and for choosing which to close to make room.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
    /// Connections asked to close that have not closed yet.
    closing: AtomicU64,
    /// Woken when a connection closes.
    closed: Notify,
}

impl Registry {
    fn add(&self, activity: Arc<Activity>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open
            .lock()
            .expect("registry lock")
            .insert(id, activity);
        id
    }

    fn remove(&self, id: u64) {
        let gone = self.open.lock().expect("registry lock").remove(&id);
        if gone.is_some_and(|a| a.evicting.load(Ordering::Relaxed)) {
            self.closing.fetch_sub(1, Ordering::Relaxed);
        }
        self.closed.notify_waiters();
    }

    fn len(&self) -> usize {
        self.open.lock().expect("registry lock").len()
    }

    /// Asks the connection idle or in its head the longest to close, among those in that phase
    /// for at least [`EVICT_GRACE`] (a connection just accepted, or just answered, may have its
    /// next request on the way); false when there is none.
    fn evict_one(&self) -> bool {
        let open = self.open.lock().expect("registry lock");
        let now = Instant::now();
        let oldest = open
            .values()
            .filter_map(|a| match a.get() {
                (Phase::Idle | Phase::Head, since) if now.duration_since(since) >= EVICT_GRACE => {
                    Some((since, a))
                }
                _ => None,
            })
            .min_by_key(|(since, _)| *since);
        let Some((_, activity)) = oldest else {
            return false;
        };
        if activity.evicting.swap(true, Ordering::Relaxed) {
            return false;
        }
        *activity.state.lock().expect("activity lock") = (Phase::Leaving, now);
        self.closing.fetch_add(1, Ordering::Relaxed);
        activity.evicted.notify_one();
        true
    }

    /// Open connections, not counting those asked to close.
    fn staying(&self) -> usize {
        self.len()
            .saturating_sub(self.closing.load(Ordering::Relaxed) as usize)
    }
}

/// Removes its connection from the registry when dropped: also when the connection's task
/// ends by a panic.
struct Slot {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains: for `drain_delay` it
/// goes on accepting and answering, each answer with `Connection: close` (so that clients and
/// load balancers, which see the node unready meanwhile, move to other nodes without a request
/// landing on a closing connection); then it stops accepting and lets requests in flight
/// finish (within a grace period).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    cap: usize,
    drain_delay: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let (stop, stopping) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let builder = Arc::new(builder);
    let draining = Arc::new(AtomicBool::new(false));
    let shutdown = {
        let draining = Arc::clone(&draining);
        async move {
            shutdown.await;
            draining.store(true, Ordering::Relaxed);
            if !drain_delay.is_zero() {
                tracing::info!(
                    seconds = drain_delay.as_secs_f64(),
                    "draining: still answering, each answer closing its connection, before requests stop being accepted"
                );
                tokio::time::sleep(drain_delay).await;
            }
        }
    };
    tokio::pin!(shutdown);
    let mut last_accept_error: Option<Instant> = None;
    'accepting: loop {
        // Over the cap with no connection that can make room: accept nothing more until one
        // closes, or one has waited long enough to be closed (looked at again every grace).
        loop {
            let closed = registry.closed.notified();
            if registry.staying() <= cap {
                break;
            }
            if (registry.closing.load(Ordering::Relaxed) as usize) < MAX_CLOSING
                && registry.evict_one()
            {
                continue;
            }
            tokio::select! {
                _ = closed => {}
                _ = tokio::time::sleep(EVICT_GRACE) => {}
                _ = &mut shutdown => break 'accepting,
            }
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (or another transient failure): say so once in a
                    // while, and try again shortly instead of spinning.
                    if last_accept_error.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::error!(error = %e, open = registry.len(), cap, "accepting a connection failed");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break 'accepting,
        };
        // Small answers must leave at once, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let slot = Slot {
            id: registry.add(Arc::clone(&activity)),
            registry: Arc::clone(&registry),
        };
        // A newcomer over the cap: the connection waiting the longest makes room (when none
        // can, the loop above stops accepting until one can).
        if registry.staying() > cap
            && (registry.closing.load(Ordering::Relaxed) as usize) < MAX_CLOSING
        {
            registry.evict_one();
        }
        let connection = Connection {
            router: router.clone(),
            limits,
            peer,
            activity,
            draining: Arc::clone(&draining),
        };
        let builder = Arc::clone(&builder);
        let stopping = stopping.clone();
        tokio::spawn(async move {
            let _slot = slot;
            connection.run(&builder, stream, stopping).await;
        });
    }
    // No new connections while the ones open finish.
    drop(listener);
    finish(stop, registry).await
}

/// Stops accepting, asks every connection to finish, and waits for them (bounded).
async fn finish(stop: watch::Sender<bool>, registry: Arc<Registry>) -> std::io::Result<()> {
    let _ = stop.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        loop {
            let closed = registry.closed.notified();
            if registry.len() == 0 {
                return;
            }
            closed.await;
        }
    })
    .await;
    Ok(())
}

struct Connection {
    router: Router,
    limits: ConnectionLimits,
    peer: SocketAddr,
    activity: Arc<Activity>,
    /// Set when the server drains: every answer closes its connection.
    draining: Arc<AtomicBool>,
}

impl Connection {
    async fn run(
        self,
        builder: &hyper::server::conn::http1::Builder,
        stream: TcpStream,
        mut stopping: watch::Receiver<bool>,
    ) {
        let Connection {
            router,
            limits,
            peer,
            activity,
            draining,
        } = self;
        let io = TokioIo::new(Watched {
            stream,
            activity: Arc::clone(&activity),
        });
        let service_activity = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let router = router.clone();
            let activity = Arc::clone(&service_activity);
            let draining = Arc::clone(&draining);
            async move {
                let mut response = handle(router, limits, peer, activity, request).await;
                if draining.load(Ordering::Relaxed) {
                    response
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(response)
            }
        });
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        // Stopping: a connection that has sent something is shut gracefully (a request being
        // read or served finishes; an idle kept-alive one closes). One that has sent nothing
        // yet may have its first request on the way: it gets FIRST_REQUEST_GRACE to send it
        // (answered with `Connection: close`) before it is shut.
        let mut shutting_down = false;
        let mut shut_at: Option<Instant> =
            (*stopping.borrow()).then(|| Instant::now() + FIRST_REQUEST_GRACE);
        loop {
            if !shutting_down
                && shut_at.is_some_and(|at| activity.received_any() || at <= Instant::now())
            {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            let (deadline, expires) = activity.deadline(&limits);
            let shut_deadline = shut_at.unwrap_or(deadline);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    // Closed by dropping it when its phase ran out (the phase may have moved
                    // on since the deadline was set: look again).
                    let (now_deadline, now_expires) = activity.deadline(&limits);
                    if expires && now_expires && now_deadline <= Instant::now() {
                        tracing::debug!(%peer, "connection timed out");
                        return;
                    }
                }
                _ = activity.changed.notified() => {}
                _ = activity.evicted.notified() => {
                    tracing::debug!(%peer, "connection closed to make room for another");
                    return;
                }
                _ = stopping.changed(), if shut_at.is_none() => {
                    shut_at = Some(Instant::now() + FIRST_REQUEST_GRACE);
                }
                _ = tokio::time::sleep_until(shut_deadline), if !shutting_down && shut_at.is_some() => {}
            }
        }
    }
}

/// One request: the router's answer, after draining what the client still sends of a body
/// the answer did not read.
async fn handle(
    router: Router,
    limits: ConnectionLimits,
    peer: SocketAddr,
    activity: Arc<Activity>,
    request: Request<Incoming>,
) -> Response<Body> {
    activity.set(Phase::Busy);
    let expects_continue = request
        .headers()
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, incoming) = request.into_parts();
    let unread = Arc::new(Mutex::new(None));
    let body = Tracked {
        inner: Some(incoming),
        deadline: Instant::now() + limits.body_timeout,
        sleep: None,
        polled: false,
        timed_out: false,
        unread: Arc::clone(&unread),
    };
    let mut request = Request::from_parts(parts, Body::new(body));
    request.extensions_mut().insert(ConnectInfo(peer));
    // A handler that panics answers the documented 500 (and is logged), like any internal
    // failure; its connection goes on.
    let mut response = match std::panic::AssertUnwindSafe(router.oneshot(request))
        .catch_unwind()
        .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(never)) => match never {},
        Err(_) => {
            metrics::counter!(crate::metrics::HTTP_PANICS).increment(1);
            crate::error::Error::Internal("a request handler panicked".into()).into_response()
        }
    };
    let left = unread.lock().expect("unread lock").take();
    if let Some(left) = left {
        // Waiting for 100-continue, the client has sent nothing yet: ask for nothing.
        let drained = !(left.timed_out || (expects_continue && !left.polled)) && drain(left).await;
        if !drained {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response.map(|body| {
        Body::new(Answer {
            inner: body,
            activity: Some(activity),
        })
    })
}

/// Reads and discards what is left of a body, up to [`DRAIN_BYTES`] and [`DRAIN_TIME`] (and
/// the body's own deadline); true when it reached its end.
async fn drain(left: Unread) -> bool {
    let Unread {
        mut body, deadline, ..
    } = left;
    let until = deadline.min(Instant::now() + DRAIN_TIME);
    let read = async {
        let mut seen = 0usize;
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => return true,
                Some(Ok(frame)) => {
                    seen += frame.data_ref().map_or(0, Bytes::len);
                    if seen > DRAIN_BYTES {
                        return false;
                    }
                }
                Some(Err(_)) => return false,
            }
        }
    };
    tokio::time::timeout_at(until, read).await.unwrap_or(false)
}

/// A request body the handler did not read to its end.
struct Unread {
    body: Incoming,
    deadline: Instant,
    polled: bool,
    timed_out: bool,
}

/// The request body handed to the router: it must arrive within the body deadline, and what
/// the handler leaves unread goes back to [`handle`] to be drained.
struct Tracked {
    inner: Option<Incoming>,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    polled: bool,
    timed_out: bool,
    unread: Arc<Mutex<Option<Unread>>>,
}

/// The error of a body that did not arrive within the body deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

impl BodyTimeout {
    /// Whether a body's read error (anywhere in its chain of causes) is this timeout.
    pub fn caused(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(e) = next {
            if e.is::<BodyTimeout>() {
                return true;
            }
            next = e.source();
        }
        false
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        this.polled = true;
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => {
                this.inner = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                // Only a body that is not already here needs a timer.
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.as_mut().poll(cx).is_ready() {
                    this.timed_out = true;
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take() {
            if !body.is_end_stream() {
                *self.unread.lock().expect("unread lock") = Some(Unread {
                    body,
                    deadline: self.deadline,
                    polled: self.polled,
                    timed_out: self.timed_out,
                });
            }
        }
    }
}

/// The answer's body: when it has been sent (or dropped), the connection is idle again.
struct Answer {
    inner: Body,
    activity: Option<Arc<Activity>>,
}

impl Answer {
    fn done(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.set(Phase::Idle);
        }
    }
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.done();
    }
}

/// The connection's socket, telling its [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_room_for_the_gateways_own_descriptors() {
        assert_eq!(connection_cap(1024, None), 768);
        assert_eq!(connection_cap(256, None), 192);
        assert_eq!(connection_cap(100, None), 36);
        assert_eq!(connection_cap(1_048_576, None), 1_047_552);
        assert_eq!(connection_cap(1024, Some(100)), 100);
        assert_eq!(
            connection_cap(1024, Some(5000)),
            768,
            "never above what the file limit allows"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn phases_run_out_after_their_own_timeouts() {
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(5),
            max_connections: None,
        };
        let a = Activity::new();
        let start = Instant::now();
        assert_eq!(a.deadline(&limits), (start + Duration::from_secs(5), true));
        tokio::time::advance(Duration::from_secs(1)).await;
        a.read(0);
        assert_eq!(a.get().0, Phase::Idle, "no bytes, no request");
        a.read(10);
        assert_eq!(
            a.deadline(&limits),
            (start + Duration::from_secs(3), true),
            "a head has header_timeout"
        );
        a.set(Phase::Busy);
        assert!(!a.deadline(&limits).1, "a busy connection never runs out");
        a.set(Phase::Idle);
        a.read(10);
        a.read(10);
        assert_eq!(
            a.get(),
            (Phase::Head, start + Duration::from_secs(1)),
            "the head's clock starts once"
        );
    }

    #[test]
    fn room_is_made_by_closing_the_longest_waiting_connection_that_is_not_busy() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let registry = Registry::default();
            let busy = Arc::new(Activity::new());
            busy.set(Phase::Busy);
            registry.add(Arc::clone(&busy));
            tokio::time::advance(Duration::from_secs(1)).await;
            let older = Arc::new(Activity::new());
            registry.add(Arc::clone(&older));
            tokio::time::advance(Duration::from_secs(1)).await;
            let newer = Arc::new(Activity::new());
            newer.read(5);
            registry.add(Arc::clone(&newer));
            assert!(registry.evict_one());
            assert_eq!(
                older.get().0,
                Phase::Leaving,
                "the oldest idle one past the grace leaves"
            );
            assert!(
                !registry.evict_one(),
                "one just started is not closed to make room"
            );
            tokio::time::advance(EVICT_GRACE).await;
            older.set(Phase::Idle);
            assert_eq!(
                older.get().0,
                Phase::Leaving,
                "a leaving connection stays leaving"
            );
            assert!(registry.evict_one());
            assert_eq!(newer.get().0, Phase::Leaving);
            assert!(
                !registry.evict_one(),
                "busy connections are never closed to make room"
            );
            assert_eq!(registry.closing.load(Ordering::Relaxed), 2);
        });
    }
}
